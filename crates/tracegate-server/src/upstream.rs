//! Resolved upstreams: their HTTP clients, injected keys, model routing and traffic
//! policy (bulkhead, retries, circuit breaker, fallbacks). Requests go out through
//! [`Upstreams::send`] (`upstream/send.rs`).

mod attempts;
pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod policy;
pub mod retry;
mod send;
pub mod timeouts;
mod view;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use globset::{Glob, GlobSet, GlobSetBuilder};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tracegate_core::Provider;

use crate::config::{RetryBudgetConfig, Secret, UpstreamConfig};
pub use attempts::Attempts;
use budget::RetryBudget;
use policy::Policy;
pub use send::{Delivered, Outgoing};
pub use timeouts::Timeouts;
pub use view::{UpstreamView, UpstreamsView};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One upstream, ready to take requests.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    pub provider: Provider,
    /// `base_url` without a trailing slash.
    pub base_url: String,
    /// Key injected in place of the client's credential, if configured.
    pub api_key: Option<Secret>,
    /// Connect, headers, idle and total timeouts (`upstream/timeouts.rs`).
    pub timeouts: Timeouts,
    /// How long the response cache keeps this upstream's answers (see `response_cache::policy`).
    pub cache_ttl: Option<Duration>,
    pub client: HttpClient,
    models: Option<GlobSet>,
    /// Indexes in [`Upstreams`] of the upstreams tried when this one cannot answer.
    fallbacks: Vec<usize>,
    policy: Policy,
}

impl Upstream {
    /// True if this upstream serves `model` (an upstream without globs serves every model).
    pub fn serves(&self, model: Option<&str>) -> bool {
        match (&self.models, model) {
            (None, _) => true,
            (Some(globs), Some(m)) => globs.is_match(m),
            (Some(_), None) => false,
        }
    }

    pub fn has_globs(&self) -> bool {
        self.models.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstreams[{index}].api_key_env: environment variable {var} is not set")]
    MissingKey { index: usize, var: String },
    #[error("upstreams[{index}]: {message}")]
    Invalid { index: usize, message: String },
}

/// All upstreams, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Upstreams {
    all: Arc<Vec<Upstream>>,
    budget: Arc<RetryBudget>,
}

impl Upstreams {
    /// The upstreams with the default retry budget.
    pub fn build(configs: &[UpstreamConfig]) -> Result<Upstreams, UpstreamError> {
        Self::with_budget(configs, RetryBudgetConfig::default())
    }

    /// The upstreams, their retries sharing one budget of `budget`.
    pub fn with_budget(
        configs: &[UpstreamConfig],
        budget: RetryBudgetConfig,
    ) -> Result<Upstreams, UpstreamError> {
        let budget = Arc::new(RetryBudget::new(budget, std::time::Instant::now()));
        let mut all = Vec::with_capacity(configs.len());
        for (index, c) in configs.iter().enumerate() {
            let api_key = match &c.api_key_env {
                Some(var) => match std::env::var(var) {
                    Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
                    _ => {
                        return Err(UpstreamError::MissingKey {
                            index,
                            var: var.clone(),
                        })
                    }
                },
                None => None,
            };
            let models = if c.models.is_empty() {
                None
            } else {
                let mut b = GlobSetBuilder::new();
                for g in &c.models {
                    let glob = Glob::new(g).map_err(|e| UpstreamError::Invalid {
                        index,
                        message: format!("models: {e}"),
                    })?;
                    b.add(glob);
                }
                Some(b.build().map_err(|e| UpstreamError::Invalid {
                    index,
                    message: format!("models: {e}"),
                })?)
            };
            all.push(Upstream {
                name: c.name.clone(),
                provider: c.kind.provider(),
                base_url: c.base_url.trim_end_matches('/').to_string(),
                api_key,
                timeouts: Timeouts::from_config(c),
                cache_ttl: c.cache_ttl_secs.map(Duration::from_secs),
                client: http_client(Duration::from_millis(c.connect_timeout_ms)),
                models,
                fallbacks: fallbacks_of(index, c, configs)?,
                policy: Policy::new(c, budget.clone()),
            });
        }
        Ok(Upstreams {
            all: Arc::new(all),
            budget,
        })
    }

    /// The upstream for a request of `provider` asking for `model`: the first whose globs
    /// match, else the first of that kind without globs.
    pub fn route(&self, provider: Provider, model: Option<&str>) -> Option<&Upstream> {
        let of_kind = || self.all.iter().filter(move |u| u.provider == provider);
        of_kind()
            .find(|u| u.has_globs() && u.serves(model))
            .or_else(|| of_kind().find(|u| !u.has_globs()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Upstream> {
        self.all.iter()
    }
}

/// The indexes of `c`'s fallbacks: other upstreams of its kind, by name.
fn fallbacks_of(
    index: usize,
    c: &UpstreamConfig,
    configs: &[UpstreamConfig],
) -> Result<Vec<usize>, UpstreamError> {
    c.fallbacks
        .iter()
        .map(|name| {
            configs
                .iter()
                .position(|o| &o.name == name && o.kind == c.kind && o.name != c.name)
                .ok_or_else(|| UpstreamError::Invalid {
                    index,
                    message: format!(
                        "fallbacks: {name:?} is not another upstream of the same kind"
                    ),
                })
        })
        .collect()
}

pub(crate) fn http_client(connect_timeout: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(https)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod build_tests {
    use super::*;
    use crate::config::UpstreamKind;

    fn cfg(name: &str, kind: UpstreamKind, models: &[&str]) -> UpstreamConfig {
        let mut c = UpstreamConfig::new(name, kind, "http://127.0.0.1:1/");
        c.models = models.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn routes_by_glob_then_falls_back_to_catch_all() {
        let ups = Upstreams::build(&[
            cfg("anthropic", UpstreamKind::Anthropic, &[]),
            cfg("mini", UpstreamKind::Openai, &["gpt-4o-mini*"]),
            cfg("openai", UpstreamKind::Openai, &["gpt-*", "o*"]),
            cfg("rest", UpstreamKind::Openai, &[]),
        ])
        .unwrap();
        let r = |p, m| ups.route(p, m).map(|u| u.name.as_str());
        assert_eq!(r(Provider::Openai, Some("gpt-4o-mini")), Some("mini"));
        assert_eq!(r(Provider::Openai, Some("gpt-4.1")), Some("openai"));
        assert_eq!(r(Provider::Openai, Some("o3")), Some("openai"));
        assert_eq!(r(Provider::Openai, Some("llama")), Some("rest"));
        assert_eq!(r(Provider::Openai, None), Some("rest"));
        assert_eq!(r(Provider::Anthropic, Some("claude-x")), Some("anthropic"));
        assert_eq!(ups.iter().next().unwrap().base_url, "http://127.0.0.1:1");
    }

    #[test]
    fn no_catch_all_means_no_route() {
        let ups = Upstreams::build(&[cfg("openai", UpstreamKind::Openai, &["gpt-*"])]).unwrap();
        assert!(ups.route(Provider::Openai, Some("claude")).is_none());
        assert!(ups.route(Provider::Anthropic, Some("claude")).is_none());
    }

    #[test]
    fn a_missing_key_variable_is_named() {
        let mut c = cfg("x", UpstreamKind::Openai, &[]);
        c.api_key_env = Some("TRACEGATE_TEST_SURELY_UNSET_VAR".into());
        let err = Upstreams::build(&[c]).unwrap_err().to_string();
        assert!(err.contains("TRACEGATE_TEST_SURELY_UNSET_VAR"), "{err}");
    }
}
