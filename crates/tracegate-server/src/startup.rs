//! What `serve` says when it starts: where it listens, where traces go, where each model
//! is sent and with whose credential, and who may read `/api`. Never a key or token.

use std::net::SocketAddr;

use crate::config::{Config, UpstreamConfig};

/// Logs the gateway's set-up at info level, one line per subject (`serve` then says it is
/// serving, with the address).
pub fn log_startup(config: &Config, local: SocketAddr) {
    tracing::info!(store = "sqlite", db = %config.db.display(), "trace store");
    for u in config.effective_upstreams() {
        tracing::info!(
            upstream = %u.name,
            kind = u.kind.provider().as_str(),
            base_url = %redact_url(&u.base_url),
            models = %models(&u),
            credential = %credential(&u),
            "upstream"
        );
        if let Some(policy) = traffic(&u) {
            tracing::info!(upstream = %u.name, policy = %policy, "traffic policy");
        }
    }
    if config.admin_token().is_some() {
        tracing::info!("/api requires a bearer token (admin_token)");
    } else {
        tracing::info!(
            listen = %local,
            "/api is open without a token: allowed because the gateway listens on loopback only"
        );
    }
    if !config.access_log {
        tracing::info!("access log off (access_log = false)");
    }
}

/// The models an upstream serves, as configured.
fn models(u: &UpstreamConfig) -> String {
    if u.models.is_empty() {
        format!("all {} models", u.kind.provider().as_str())
    } else {
        u.models.join(", ")
    }
}

/// The upstream's bulkhead, retries, breaker and fallbacks, when any is configured.
fn traffic(u: &UpstreamConfig) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(b) = &u.bulkhead {
        parts.push(format!(
            "bulkhead {} at once, {} queued up to {} ms",
            b.max_concurrent, b.max_queue, b.max_queue_wait_ms
        ));
    }
    if u.retry.max_attempts > 1 {
        parts.push(format!("up to {} attempts", u.retry.max_attempts));
    }
    if let Some(b) = &u.breaker {
        parts.push(format!(
            "circuit opens after {} failures in a row or {}% of {}+ in {} s, for {} s",
            b.consecutive_failures,
            b.error_rate * 100.0,
            b.min_requests,
            b.window_secs,
            b.open_secs
        ));
    }
    if !u.fallbacks.is_empty() {
        parts.push(format!("fallbacks {}", u.fallbacks.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Where the upstream's credential comes from; names the variable, never its value.
fn credential(u: &UpstreamConfig) -> String {
    match &u.api_key_env {
        Some(var) => format!("injected from env {var}"),
        None => "passthrough of the client's own credential".to_string(),
    }
}

/// `url` without user information or query string, which may carry secrets.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}{authority}{path}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::config::{Secret, UpstreamKind};

    fn logged(config: &Config) -> String {
        let buf = crate::test_log::LogBuf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let local = SocketAddr::from(([127, 0, 0, 1], 8080));
        tracing::subscriber::with_default(subscriber, || log_startup(config, local));
        buf.text()
    }

    #[test]
    fn names_every_upstream_and_how_it_is_credentialed() {
        let mut openai = UpstreamConfig::new("oai", UpstreamKind::Openai, "http://127.0.0.1:9001");
        openai.api_key_env = Some("MY_OPENAI_KEY".into());
        openai.models = vec!["gpt-*".into(), "o*".into()];
        let config = Config {
            upstreams: vec![
                UpstreamConfig::new("ant", UpstreamKind::Anthropic, "https://api.example.com/x"),
                openai,
            ],
            ..Config::default()
        };
        let log = logged(&config);
        assert!(log.contains("127.0.0.1:8080"), "{log}");
        assert!(log.contains("tracegate.db"), "{log}");
        assert!(log.contains("https://api.example.com/x"), "{log}");
        assert!(log.contains("passthrough"), "{log}");
        assert!(log.contains("injected from env MY_OPENAI_KEY"), "{log}");
        assert!(log.contains("gpt-*, o*"), "{log}");
        assert!(log.contains("open without a token"), "{log}");
        assert!(log.contains("loopback only"), "{log}");
    }

    #[test]
    fn the_traffic_policy_is_logged_when_configured() {
        let mut a = UpstreamConfig::new("a", UpstreamKind::Anthropic, "http://127.0.0.1:1");
        a.retry.max_attempts = 3;
        a.fallbacks = vec!["b".into()];
        a.bulkhead = Some(crate::config::BulkheadConfig {
            max_concurrent: 8,
            max_queue: 16,
            max_queue_wait_ms: 500,
        });
        let b = UpstreamConfig::new("b", UpstreamKind::Anthropic, "http://127.0.0.1:1");
        let config = Config {
            upstreams: vec![a, b],
            ..Config::default()
        };
        let log = logged(&config);
        assert!(
            log.contains("bulkhead 8 at once, 16 queued up to 500 ms"),
            "{log}"
        );
        assert!(log.contains("up to 3 attempts"), "{log}");
        assert!(log.contains("fallbacks b"), "{log}");
        assert_eq!(log.matches("traffic policy").count(), 1, "{log}");
    }

    #[test]
    fn never_shows_the_token_or_secrets_in_urls() {
        let config = Config {
            admin_token: Some(Secret::new("tok-0123456789abcdef")),
            upstreams: vec![UpstreamConfig::new(
                "a",
                UpstreamKind::Anthropic,
                "https://user:pa55@host.example/v?key=sk-123",
            )],
            ..Config::default()
        };
        let log = logged(&config);
        assert!(log.contains("requires a bearer token"), "{log}");
        for secret in ["tok-0123456789abcdef", "pa55", "sk-123"] {
            assert!(!log.contains(secret), "{secret} in {log}");
        }
        assert!(log.contains("https://host.example/v"), "{log}");
    }

    #[test]
    fn the_default_upstreams_are_listed() {
        let log = logged(&Config::default());
        assert!(log.contains("https://api.anthropic.com"), "{log}");
        assert!(log.contains("https://api.openai.com"), "{log}");
    }
}
