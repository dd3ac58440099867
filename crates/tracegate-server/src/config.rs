//! Configuration: defaults, then a TOML file, then `TRACEGATE_*` environment variables,
//! then command-line flags. Unknown keys are errors that name the key.

mod alerts;
mod auth_mode;
mod error;
mod log_format;
mod otlp;
mod secret;
mod slo;
mod switch;
mod upstream;
mod web;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use tracegate_core::pricing::ModelPrice;
use tracegate_store::WriterPriority;

pub use alerts::{AlertsConfig, WebhookConfig, WebhookKind};
pub use auth_mode::AuthMode;
pub use error::ConfigError;
pub use log_format::LogFormat;
pub use otlp::OtlpProtocol;
pub use secret::Secret;
pub use slo::SloConfig;
pub use upstream::{UpstreamConfig, UpstreamKind};

/// The most `live_max_subscribers` accepted.
pub const MAX_LIVE_SUBSCRIBERS: usize = 10_000;

/// Everything `tracegate serve` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the gateway listens on: `host:port`, the host an IP address or a name
    /// resolved when binding (`localhost` is 127.0.0.1).
    pub listen: String,
    /// Path of the embedded SQLite store.
    pub db: PathBuf,
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// How long in-flight requests may run after SIGINT/SIGTERM before they are cut.
    pub shutdown_grace_secs: u64,
    /// Finished traces waiting for the writer; when full, new traces are dropped and counted.
    pub record_queue: usize,
    /// Bytes of bodies the waiting traces may hold together; beyond it, as when full.
    pub record_queue_bytes: u64,
    /// Most traces written in one transaction.
    pub record_batch: usize,
    /// How the trace writer's thread is scheduled: `idle` (after the proxy) or `normal`.
    pub writer_priority: WriterPriority,
    /// How proxy clients authenticate: `passthrough`, `keys` or `keys_or_passthrough`.
    pub auth: AuthMode,
    /// Token for the `/api` routes. Without one, `/api` is open only on a loopback listener.
    pub admin_token: Option<Secret>,
    /// Requests in flight longer than this are flagged as stuck.
    pub stuck_after_secs: u64,
    /// Analytics answers kept in the in-process cache; 0 turns the cache off.
    pub api_cache_entries: u64,
    /// Bytes of model answers the response cache keeps in process; 0 turns it off.
    pub response_cache_bytes: u64,
    /// How long after a Task/Agent tool call a request whose only message is that
    /// call's prompt still counts as its sub-task.
    pub subtask_window_secs: u64,
    /// Where requests go. Empty means the two public providers.
    pub upstreams: Vec<UpstreamConfig>,
    /// Price overrides in USD per million tokens, by model name.
    pub prices: HashMap<String, ModelPrice>,
    /// Targets `tracegate diagnose` holds the gateway to.
    pub slo: SloConfig,
    /// One info line per finished request on the `tracegate::access` target.
    pub access_log: bool,
    /// `text` or `json`: the format of everything the process logs.
    pub log_format: LogFormat,
    /// Host names, besides loopback ones, that an open `/api` (no admin token) answers to.
    #[serde(deserialize_with = "web::string_list")]
    pub allowed_hosts: Vec<String>,
    /// Web origins whose browser pages may call the proxy and the API.
    #[serde(deserialize_with = "web::string_list")]
    pub allowed_origins: Vec<String>,
    /// Record Prometheus metrics and serve them on `/metrics`.
    #[serde(deserialize_with = "switch::deserialize")]
    pub metrics: bool,
    /// A second address serving only `/metrics`, besides the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Model names that get a `model` label of their own besides the price table's.
    pub metric_models: Vec<String>,
    /// Store queries slower than this are logged at warn and counted.
    pub slow_query_ms: u64,
    /// Log every store query with its duration at info.
    #[serde(deserialize_with = "switch::deserialize")]
    pub debug_sql: bool,
    /// OpenTelemetry collector (OTLP/HTTP base URL, e.g. `http://localhost:4318`) every
    /// finished trace is exported to as a span; none exports nothing.
    pub otlp_endpoint: Option<String>,
    /// Headers sent with every export request (e.g. an API key of a hosted collector).
    pub otlp_headers: HashMap<String, Secret>,
    /// `http/protobuf`, the only OTLP transport implemented.
    pub otlp_protocol: OtlpProtocol,
    /// The built-in alert rules: thresholds and webhooks (the `[alerts]` table).
    pub alerts: AlertsConfig,
    /// Directory of the durable trace spool; none means `<db>.spool` next to the db.
    pub spool_dir: Option<PathBuf>,
    /// `interval` (spool, fsync at least every 100 ms) or `memory` (no spool).
    pub spool_durability: SpoolDurability,
    /// Bytes the spool's segment files may hold; past it new traces are lost (counted).
    pub spool_max_bytes: u64,
    /// `/ready` answers 503 once the store has refused trace writes this long.
    pub ready_write_timeout_secs: u64,
    /// Serve the web dashboard at `/` (its files at `/ui/...`).
    #[serde(deserialize_with = "switch::deserialize")]
    pub dashboard: bool,
    /// Clients reading `GET /api/v1/live` at once; past it the feed answers 503.
    pub live_max_subscribers: usize,
}

/// How finished traces are kept before the store has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpoolDurability {
    /// Appended to the spool on disk, fsynced at least every 100 ms.
    Interval,
    /// In memory only: a crash or a store error loses them.
    Memory,
}

impl Config {
    /// Where the spool lives: `spool_dir`, else `<db>.spool` next to the database.
    pub fn spool_path(&self) -> PathBuf {
        self.spool_dir.clone().unwrap_or_else(|| {
            let mut name = self.db.clone().into_os_string();
            name.push(".spool");
            PathBuf::from(name)
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            db: PathBuf::from("tracegate.db"),
            max_body_bytes: 32 * 1024 * 1024,
            shutdown_grace_secs: 30,
            record_queue: 16_384,
            record_queue_bytes: 256 * 1024 * 1024,
            record_batch: 512,
            writer_priority: WriterPriority::Idle,
            auth: AuthMode::Passthrough,
            admin_token: None,
            stuck_after_secs: 300,
            api_cache_entries: 10_000,
            response_cache_bytes: 256 * 1024 * 1024,
            subtask_window_secs: 24 * 3600,
            upstreams: Vec::new(),
            prices: HashMap::new(),
            slo: SloConfig::default(),
            access_log: true,
            log_format: LogFormat::Text,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            metrics: true,
            metrics_listen: None,
            metric_models: Vec::new(),
            slow_query_ms: 200,
            debug_sql: false,
            otlp_endpoint: None,
            otlp_headers: HashMap::new(),
            otlp_protocol: OtlpProtocol::HttpProtobuf,
            alerts: AlertsConfig::default(),
            spool_dir: None,
            spool_durability: SpoolDurability::Interval,
            spool_max_bytes: 1024 * 1024 * 1024,
            ready_write_timeout_secs: 30,
            dashboard: true,
            live_max_subscribers: 64,
        }
    }
}

/// Command-line values that win over the file and the environment.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<PathBuf>,
    /// `--no-metrics`: `Some(false)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<bool>,
    /// `--debug-sql`: `Some(true)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug_sql: Option<bool>,
}

impl Config {
    /// The settings that `TRACEGATE_<KEY>` environment variables can set. Tables
    /// (`upstreams`, `prices`) come from the config file only; the two lists of names
    /// (`allowed_hosts`, `allowed_origins`) are comma-separated there.
    pub const ENV_KEYS: &'static [&'static str] = &[
        "listen",
        "db",
        "max_body_bytes",
        "shutdown_grace_secs",
        "record_queue",
        "record_queue_bytes",
        "record_batch",
        "writer_priority",
        "admin_token",
        "auth",
        "stuck_after_secs",
        "api_cache_entries",
        "access_log",
        "log_format",
        "allowed_hosts",
        "allowed_origins",
        "response_cache_bytes",
        "subtask_window_secs",
        "metrics",
        "metrics_listen",
        "slow_query_ms",
        "debug_sql",
        "otlp_endpoint",
        "otlp_protocol",
        "spool_dir",
        "spool_durability",
        "spool_max_bytes",
        "ready_write_timeout_secs",
        "dashboard",
        "live_max_subscribers",
    ];

    /// `TRACEGATE_*` variables in the environment that are not settings (nor `TRACEGATE_CONFIG`
    /// or `TRACEGATE_LOG`): probably typos, worth a warning.
    pub fn unknown_env_vars() -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| {
                k.strip_prefix("TRACEGATE_").is_some_and(|rest| {
                    let key = rest.to_ascii_lowercase();
                    !Self::ENV_KEYS.contains(&key.as_str()) && key != "config" && key != "log"
                })
            })
            .collect()
    }

    /// Loads defaults < `file` < `TRACEGATE_*` env < `overrides`, then validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment
            .merge(Env::prefixed("TRACEGATE_").only(Config::ENV_KEYS))
            .merge(Serialized::defaults(overrides));
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::from_figment(e, file))?;
        if config.admin_token().is_none() {
            config.admin_token = None;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, URLs, globs, limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Err(m) = crate::listen::validate(&self.listen) {
            return bad(format!("listen: {m}"));
        }
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes must be greater than 0".into());
        }
        if self.record_queue == 0 || self.record_queue_bytes == 0 || self.record_batch == 0 {
            return bad(
                "record_queue, record_queue_bytes and record_batch must be greater than 0".into(),
            );
        }
        if self.live_max_subscribers > MAX_LIVE_SUBSCRIBERS {
            return bad(format!(
                "live_max_subscribers must be at most {MAX_LIVE_SUBSCRIBERS} (each holds a connection open)"
            ));
        }
        if self.spool_max_bytes == 0 {
            return bad("spool_max_bytes must be greater than 0".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, u) in self.upstreams.iter().enumerate() {
            if !names.insert(u.name.as_str()) {
                return bad(format!("upstreams[{i}].name: duplicate name {:?}", u.name));
            }
            u.validate()
                .map_err(|m| ConfigError::Invalid(format!("upstreams[{i}].{m}")))?;
        }
        web::validate_hosts(&self.allowed_hosts).map_err(ConfigError::Invalid)?;
        web::validate_origins(&self.allowed_origins).map_err(ConfigError::Invalid)?;
        crate::otlp::OtlpTarget::from_config(self).map_err(ConfigError::Invalid)?;
        self.alerts.validate().map_err(ConfigError::Invalid)?;
        for (model, p) in &self.prices {
            let all = [Some(p.input), Some(p.output), p.cache_read, p.cache_write];
            if all.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
                return bad(format!(
                    "prices.{model:?}: prices must be non-negative numbers"
                ));
            }
        }
        self.slo.validate().map_err(ConfigError::Invalid)?;
        if self.auth.uses_keys() {
            if let Some(u) = self
                .effective_upstreams()
                .iter()
                .find(|u| u.api_key_env.is_none())
            {
                return bad(format!(
                    "auth = {}: upstream {:?} has no api_key_env; with virtual keys the \
                     gateway sends each upstream its own key, so every upstream needs one \
                     (configure [[upstreams]] with api_key_env)",
                    self.auth.as_str(),
                    u.name
                ));
            }
        }
        Ok(())
    }

    /// The admin token when one is really set: an empty or blank value is no token.
    pub fn admin_token(&self) -> Option<&Secret> {
        self.admin_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
    }

    /// The configured upstreams, or the two public providers when none are configured.
    pub fn effective_upstreams(&self) -> Vec<UpstreamConfig> {
        if self.upstreams.is_empty() {
            vec![
                UpstreamConfig::new(
                    "anthropic",
                    UpstreamKind::Anthropic,
                    "https://api.anthropic.com",
                ),
                UpstreamConfig::new("openai", UpstreamKind::Openai, "https://api.openai.com"),
            ]
        } else {
            self.upstreams.clone()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn from_toml(s: &str) -> Result<Config, ConfigError> {
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(s))
            .extract()
            .map_err(|e| ConfigError::from_figment(e, None))?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn the_documented_example_parses() {
        let c = from_toml(
            r#"
[[upstreams]]
name = "anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:9001"

[[upstreams]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:9001"
api_key_env = "OPENAI_API_KEY"   # optional
models = ["gpt-*", "o*"]
"#,
        )
        .unwrap();
        assert_eq!(c.upstreams.len(), 2);
        assert_eq!(c.upstreams[1].models, vec!["gpt-*", "o*"]);
        assert_eq!(c.upstreams[1].timeout_secs, 600);
        assert_eq!(c.listen, "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = from_toml("listne = \"127.0.0.1:1\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listne"), "{err}");
        let err = from_toml(
            "[[upstreams]]\nname=\"a\"\nkind=\"anthropic\"\nbase_url=\"http://x\"\nmodles=[]",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("modles"), "{err}");
    }

    #[test]
    fn listen_takes_host_names() {
        let c = from_toml("listen = \"localhost:9000\"").unwrap();
        assert_eq!(c.listen, "localhost:9000");
        assert!(from_toml("listen = \"[::1]:9000\"").is_ok());
        for bad in ["localhost", "localhost:port", "no such host:1"] {
            let err = from_toml(&format!("listen = {bad:?}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("configuration: listen: "), "{err}");
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn bad_values_are_rejected_with_their_key() {
        let err = from_toml("[[upstreams]]\nname=\"a\"\nkind=\"anthropic\"\nbase_url=\"ftp://x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_url"), "{err}");
        let err = from_toml(
            "[[upstreams]]\nname=\"a\"\nkind=\"anthropic\"\nbase_url=\"http://x\"\nmodels=[\"[\"]",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("models"), "{err}");
        let err = from_toml("[[upstreams]]\nname=\"a\"\nkind=\"anthropic\"\nbase_url=\"http://x\"\n[[upstreams]]\nname=\"a\"\nkind=\"openai\"\nbase_url=\"http://x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate"), "{err}");
        let err = from_toml("[[upstreams]]\nname=\"a\"\nkind=\"gemini\"\nbase_url=\"http://x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gemini"), "{err}");
    }

    #[test]
    fn subtask_window_is_a_setting() {
        assert_eq!(Config::default().subtask_window_secs, 86_400);
        let c = from_toml("subtask_window_secs = 3600\n").unwrap();
        assert_eq!(c.subtask_window_secs, 3600);
        let err = from_toml("subtask_window_secs = -1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("subtask_window_secs"), "{err}");
    }

    #[test]
    fn queue_limits_and_writer_priority() {
        let c = from_toml("record_queue_bytes = 1048576\nwriter_priority = \"normal\"\n").unwrap();
        assert_eq!(c.record_queue_bytes, 1 << 20);
        assert_eq!(c.writer_priority, WriterPriority::Normal);
        assert_eq!(Config::default().writer_priority, WriterPriority::Idle);
        let err = from_toml("writer_priority = \"realtime\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("writer_priority") && err.contains("realtime"),
            "{err}"
        );
        let err = from_toml("record_queue_bytes = 0").unwrap_err().to_string();
        assert!(err.contains("record_queue_bytes"), "{err}");
    }

    #[test]
    fn allowed_hosts_and_origins_are_lists_or_comma_separated() {
        let c = from_toml(
            "allowed_hosts = [\"gw.internal\"]\nallowed_origins = [\"https://app.example.com\"]\n",
        )
        .unwrap();
        assert_eq!(c.allowed_hosts, vec!["gw.internal"]);
        assert_eq!(c.allowed_origins, vec!["https://app.example.com"]);
        let c =
            from_toml("allowed_origins = \"https://a.example, http://localhost:3000,\"\n").unwrap();
        assert_eq!(
            c.allowed_origins,
            vec!["https://a.example", "http://localhost:3000"]
        );
        assert!(Config::default().allowed_origins.is_empty());
        // As the environment gives them: figment reads `TRACEGATE_*` values like this.
        let env = |key: &str, raw: &str| -> Config {
            let value: figment::value::Value = raw.parse().unwrap();
            Figment::from(Serialized::defaults(Config::default()))
                .merge((key, value))
                .extract()
                .unwrap()
        };
        assert_eq!(
            env(
                "allowed_origins",
                "https://a.example,https://b.example:8443"
            )
            .allowed_origins,
            vec!["https://a.example", "https://b.example:8443"]
        );
        assert_eq!(
            env("allowed_hosts", "10.0.0.5").allowed_hosts,
            vec!["10.0.0.5"]
        );
        assert_eq!(
            env("allowed_hosts", "[a.internal, b.internal]").allowed_hosts,
            vec!["a.internal", "b.internal"]
        );
        let err = from_toml("allowed_origins = [\"app.example.com\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allowed_origins[0]"), "{err}");
        let err = from_toml("allowed_hosts = \"ok.example,bad:1\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allowed_hosts[1]"), "{err}");
    }

    #[test]
    fn response_cache_settings() {
        assert_eq!(Config::default().response_cache_bytes, 256 << 20);
        let c = from_toml(
            "response_cache_bytes = 1048576\n[[upstreams]]\nname=\"a\"\nkind=\"openai\"\nbase_url=\"http://x\"\ncache_ttl_secs = 600\n",
        )
        .unwrap();
        assert_eq!(c.response_cache_bytes, 1 << 20);
        assert_eq!(c.upstreams[0].cache_ttl_secs, Some(600));
        for bad in ["0", "2592001"] {
            let err = from_toml(&format!(
                "[[upstreams]]\nname=\"a\"\nkind=\"openai\"\nbase_url=\"http://x\"\ncache_ttl_secs = {bad}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains("upstreams[0].cache_ttl_secs"), "{err}");
        }
    }

    #[test]
    fn metrics_settings() {
        let c = Config::default();
        assert!(c.metrics && !c.debug_sql && c.metrics_listen.is_none());
        assert_eq!(c.slow_query_ms, 200);
        let c = from_toml(
            "metrics = false\ndebug_sql = 1\nslow_query_ms = 50\nmetrics_listen = \"127.0.0.1:9464\"\nmetric_models = [\"my-model\"]\n",
        )
        .unwrap();
        assert!(!c.metrics && c.debug_sql);
        assert_eq!(c.slow_query_ms, 50);
        assert_eq!(c.metrics_listen.unwrap().port(), 9464);
        assert_eq!(c.metric_models, vec!["my-model"]);
        assert!(from_toml("debug_sql = \"on\"").unwrap().debug_sql);
        let err = from_toml("debug_sql = 2").unwrap_err().to_string();
        assert!(err.contains("debug_sql"), "{err}");
    }

    #[test]
    fn no_upstreams_means_the_public_providers() {
        let c = Config::default();
        let ups = c.effective_upstreams();
        assert_eq!(ups[0].base_url, "https://api.anthropic.com");
        assert_eq!(ups[1].base_url, "https://api.openai.com");
    }

    #[test]
    fn slo_targets_are_read_and_checked() {
        let c = from_toml("[slo]\nduration_p95_ms = 3000\nslow_query_ms = 1\n").unwrap();
        assert_eq!(c.slo.duration_p95_ms, 3000.0);
        assert_eq!(c.slo.slow_query_ms, 1.0);
        assert_eq!(c.slo.ttft_p95_ms, SloConfig::default().ttft_p95_ms);
        let err = from_toml("[slo]\nerror_rate = 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("slo.error_rate"), "{err}");
        let err = from_toml("[slo]\np95 = 5\n").unwrap_err().to_string();
        assert!(err.contains("p95"), "{err}");
    }

    #[test]
    fn access_log_and_log_format() {
        let d = Config::default();
        assert!(d.access_log);
        assert_eq!(d.log_format, LogFormat::Text);
        let c = from_toml("access_log = false\nlog_format = \"json\"\n").unwrap();
        assert!(!c.access_log);
        assert_eq!(c.log_format, LogFormat::Json);
        let err = from_toml("log_format = \"yaml\"").unwrap_err().to_string();
        assert!(err.contains("log_format") && err.contains("yaml"), "{err}");
    }

    #[test]
    fn alerts_table() {
        let d = Config::default().alerts;
        assert_eq!((d.interval_secs, d.stuck_after_secs), (30, 600));
        assert_eq!(d.repeat_interval_secs, 4 * 3600);
        assert_eq!(d.error_rate, 0.01);
        let c = from_toml(
            "[alerts]\ninterval_secs = 1\np95_ms = 200\ndefault_allowance = 5000\n[alerts.allowances]\nalice = 1000000\n[[alerts.webhooks]]\nurl = \"http://127.0.0.1:9/hook\"\nkind = \"slack\"\n",
        )
        .unwrap();
        assert_eq!(c.alerts.interval_secs, 1);
        assert_eq!(c.alerts.p95_ms, 200.0);
        assert_eq!(c.alerts.allowances["alice"], 1_000_000);
        assert_eq!(c.alerts.webhooks[0].kind, WebhookKind::Slack);
        for (bad, key) in [
            ("interval_secs = 0", "interval_secs"),
            ("error_rate = 2.0", "error_rate"),
            ("webhook = []", "webhook"),
            ("[[alerts.webhooks]]\nurl = \"ftp://x\"", "webhooks[0].url"),
        ] {
            let text = if bad.starts_with("[[") {
                bad.to_string()
            } else {
                format!("[alerts]\n{bad}")
            };
            let err = from_toml(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn prices_can_be_overridden() {
        let c = from_toml("[prices.\"my-model\"]\ninput = 1.0\noutput = 2.0\n").unwrap();
        assert_eq!(c.prices["my-model"].output, 2.0);
        assert!(from_toml("[prices.\"m\"]\ninput = -1.0\noutput = 2.0\n").is_err());
    }

    #[test]
    fn keys_modes_need_an_upstream_key_on_every_upstream() {
        assert_eq!(from_toml("").unwrap().auth, AuthMode::Passthrough);
        let err = from_toml("auth = \"keys\"\n").unwrap_err().to_string();
        assert!(err.contains("api_key_env"), "{err}");
        let one = "[[upstreams]]\nname = \"a\"\nkind = \"anthropic\"\nbase_url = \"http://127.0.0.1:1\"\n";
        let keyed = format!("{one}api_key_env = \"TG_KEY\"\n");
        for mode in ["keys", "keys_or_passthrough"] {
            assert!(from_toml(&format!("auth = \"{mode}\"\n{one}")).is_err());
            let c = from_toml(&format!("auth = \"{mode}\"\n{keyed}")).unwrap();
            assert!(c.auth.uses_keys());
        }
        assert!(from_toml("auth = \"maybe\"\n").is_err());
    }
}
