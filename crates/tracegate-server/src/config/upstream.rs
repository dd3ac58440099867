//! One upstream provider endpoint and how requests are routed to it.

use serde::{Deserialize, Serialize};
use tracegate_core::Provider;

use super::resilience::{BreakerConfig, BulkheadConfig, RetryConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    Anthropic,
    Openai,
}

impl UpstreamKind {
    pub fn provider(self) -> Provider {
        match self {
            UpstreamKind::Anthropic => Provider::Anthropic,
            UpstreamKind::Openai => Provider::Openai,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub name: String,
    pub kind: UpstreamKind,
    /// The request path is appended to this, e.g. `https://api.anthropic.com`.
    pub base_url: String,
    /// Name of an environment variable holding a key to inject instead of the client's own.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Model globs this upstream serves; empty means every model of its kind.
    #[serde(default)]
    pub models: Vec<String>,
    /// Time to open the TCP connection (per address tried).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time from sending the request to the response head; none leaves it to `timeout_secs`.
    /// A non-streaming answer's head comes only when the whole answer is ready.
    #[serde(default)]
    pub headers_timeout_secs: Option<u64>,
    /// Longest silence between two chunks of the response body (stream events included);
    /// a value of `timeout_secs` or more leaves it to that.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Whole-request deadline, streaming included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Answers are kept in the response cache this long (requests that set a temperature
    /// above 0 excepted); none means the cache is off for this upstream unless a request asks.
    #[serde(default)]
    pub cache_ttl_secs: Option<u64>,
    /// Upstreams of the same kind tried, in order, when this one's circuit is open, its
    /// bulkhead sheds the request, or its retries are used up on a retryable failure.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// Concurrency limit and queue; none means no limit.
    #[serde(default)]
    pub bulkhead: Option<BulkheadConfig>,
    /// Retries before any byte reached the client; by default none.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Circuit breaker; none means the circuit never opens.
    #[serde(default)]
    pub breaker: Option<BreakerConfig>,
}

fn default_connect_timeout_ms() -> u64 {
    10_000
}

fn default_idle_timeout_secs() -> u64 {
    120
}

fn default_timeout_secs() -> u64 {
    600
}

impl UpstreamConfig {
    pub fn new(name: &str, kind: UpstreamKind, base_url: &str) -> Self {
        UpstreamConfig {
            name: name.to_string(),
            kind,
            base_url: base_url.to_string(),
            api_key_env: None,
            models: Vec::new(),
            connect_timeout_ms: default_connect_timeout_ms(),
            headers_timeout_secs: None,
            idle_timeout_secs: default_idle_timeout_secs(),
            timeout_secs: default_timeout_secs(),
            cache_ttl_secs: None,
            fallbacks: Vec::new(),
            bulkhead: None,
            retry: RetryConfig::default(),
            breaker: None,
        }
    }

    /// Returns the offending key and why, relative to this upstream.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        let uri: http::Uri = self
            .base_url
            .parse()
            .map_err(|e| format!("base_url: {:?} is not a URL: {e}", self.base_url))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(format!(
                    "base_url: {:?} must start with http:// or https://",
                    self.base_url
                ))
            }
        }
        if uri.host().is_none() {
            return Err(format!("base_url: {:?} has no host", self.base_url));
        }
        if uri.query().is_some() {
            return Err(format!(
                "base_url: {:?} must not have a query",
                self.base_url
            ));
        }
        for g in &self.models {
            globset::Glob::new(g).map_err(|e| format!("models: bad glob {g:?}: {e}"))?;
        }
        if let Some(env) = &self.api_key_env {
            if env.trim().is_empty() {
                return Err("api_key_env: must name an environment variable".into());
            }
        }
        if self.timeout_secs == 0 || self.connect_timeout_ms == 0 {
            return Err("timeout_secs and connect_timeout_ms must be greater than 0".into());
        }
        if self.headers_timeout_secs == Some(0) {
            return Err(
                "headers_timeout_secs: must be greater than 0; leave it out to rely on timeout_secs alone"
                    .into(),
            );
        }
        if self.idle_timeout_secs == 0 {
            return Err("idle_timeout_secs: must be greater than 0".into());
        }
        let max = crate::response_cache::policy::MAX_TTL_SECS;
        if let Some(ttl) = self.cache_ttl_secs {
            if !(1..=max).contains(&ttl) {
                return Err(format!(
                    "cache_ttl_secs: must be between 1 and {max} (30 days); leave it out to turn the cache off"
                ));
            }
        }
        if let Some(b) = &self.bulkhead {
            b.validate()?;
        }
        self.retry.validate()?;
        if let Some(b) = &self.breaker {
            b.validate()?;
        }
        Ok(())
    }
}

/// Checks every upstream's `fallbacks`: names of other configured upstreams of the same
/// kind, each once. Returns the offending upstream's index and why.
pub fn validate_fallbacks(upstreams: &[UpstreamConfig]) -> Result<(), (usize, String)> {
    for (i, u) in upstreams.iter().enumerate() {
        for (j, name) in u.fallbacks.iter().enumerate() {
            let Some(target) = upstreams.iter().find(|o| &o.name == name) else {
                return Err((i, format!("fallbacks[{j}]: no upstream is named {name:?}")));
            };
            if target.name == u.name {
                return Err((
                    i,
                    format!("fallbacks[{j}]: an upstream cannot fall back to itself"),
                ));
            }
            if target.kind != u.kind {
                return Err((
                    i,
                    format!(
                        "fallbacks[{j}]: {name:?} is of another kind; a fallback must speak the same API"
                    ),
                ));
            }
            if u.fallbacks[..j].contains(name) {
                return Err((i, format!("fallbacks[{j}]: {name:?} is listed twice")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn up(name: &str, kind: UpstreamKind, fallbacks: &[&str]) -> UpstreamConfig {
        let mut c = UpstreamConfig::new(name, kind, "http://127.0.0.1:1");
        c.fallbacks = fallbacks.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn fallbacks_name_other_upstreams_of_the_same_kind() {
        use UpstreamKind::{Anthropic, Openai};
        let ok = [up("a", Anthropic, &["b"]), up("b", Anthropic, &["a"])];
        assert!(validate_fallbacks(&ok).is_ok());
        let cases: [(&[UpstreamConfig], &str); 4] = [
            (&[up("a", Anthropic, &["nope"])], "no upstream is named"),
            (&[up("a", Anthropic, &["a"])], "itself"),
            (
                &[up("a", Anthropic, &["o"]), up("o", Openai, &[])],
                "same API",
            ),
            (
                &[up("a", Anthropic, &["b", "b"]), up("b", Anthropic, &[])],
                "twice",
            ),
        ];
        for (configs, want) in cases {
            let (index, why) = validate_fallbacks(configs).unwrap_err();
            assert_eq!(index, 0);
            assert!(why.starts_with("fallbacks["), "{why}");
            assert!(why.contains(want), "{why}");
        }
    }

    #[test]
    fn traffic_tables_are_read_from_toml() {
        let c: UpstreamConfig = toml_like(
            r#"
            name = "a"
            kind = "anthropic"
            base_url = "http://x"
            fallbacks = ["b"]
            [bulkhead]
            max_concurrent = 4
            [retry]
            max_attempts = 3
            [breaker]
            open_secs = 5
            "#,
        );
        let b = c.bulkhead.clone().unwrap();
        assert_eq!(
            (b.max_concurrent, b.max_queue, b.max_queue_wait_ms),
            (4, 0, 1000)
        );
        assert_eq!((c.retry.max_attempts, c.retry.base_backoff_ms), (3, 100));
        assert_eq!(c.breaker.clone().unwrap().open_secs, 5);
        assert_eq!(c.breaker.clone().unwrap().consecutive_failures, 5);
        c.validate().unwrap();
    }

    fn toml_like(text: &str) -> UpstreamConfig {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(text))
            .extract()
            .unwrap()
    }
}
