//! The access log: one info line per finished request, on its own target so it can be
//! filtered (`TRACEGATE_LOG=info,tracegate::access=off`) or shipped apart from the rest.
//! Written where the trace is completed, so every outcome passes here exactly once.

use tracegate_core::Trace;

/// The `tracing` target of access lines.
pub const TARGET: &str = "tracegate::access";

/// Longest text (model, account, error) copied into a line: these come from clients and
/// upstreams, and a log line stays a line.
const MAX_TEXT: usize = 200;

/// Logs `trace` as one access line. Free text (account, error) is quoted in the text
/// format; names and numbers are not.
pub fn emit(t: &Trace) {
    let model = t.model.as_deref().or(t.model_requested.as_deref());
    tracing::info!(
        target: TARGET,
        trace_id = %t.id,
        account = t.account.as_deref().map(bounded),
        provider = %t.provider,
        upstream = t.upstream.as_deref().map(|u| display(bounded(u))),
        method = %bounded(&t.method),
        endpoint = %bounded(&t.endpoint),
        model = model.map(|m| display(bounded(m))),
        stream = t.stream,
        status = t.status,
        outcome = %t.outcome,
        duration_ms = t.duration_ms,
        ttft_ms = t.ttft_ms,
        input_tokens = t.usage.input_tokens,
        output_tokens = t.usage.output_tokens,
        cache_read_tokens = t.usage.cache_read_tokens,
        cache_write_tokens = t.usage.cache_write_tokens,
        cost_usd = t.cost_usd,
        error = t.error.as_deref().map(bounded),
        "request"
    );
}

/// `s` cut to [`MAX_TEXT`] bytes on a character boundary.
fn bounded(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tracegate_core::{Outcome, Provider, Usage};

    use super::*;

    fn captured_json(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let buf = crate::test_log::LogBuf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = buf.text();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn sample() -> Trace {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        t.account = Some("alice".into());
        t.upstream = Some("anthropic".into());
        t.model_requested = Some("claude-sonnet-4-5".into());
        t.status = Some(200);
        t.duration_ms = 812.5;
        t.ttft_ms = Some(120.25);
        t.usage = Usage {
            input_tokens: Some(10),
            output_tokens: Some(20),
            cache_read_tokens: Some(3),
            cache_write_tokens: None,
        };
        t.cost_usd = Some(0.0012);
        t
    }

    #[test]
    fn one_line_with_every_field() {
        let t = sample();
        let lines = captured_json(|| emit(&t));
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l["target"], TARGET);
        assert_eq!(l["level"], "INFO");
        assert_eq!(l["trace_id"], t.id.to_string());
        assert_eq!(l["account"], "alice");
        assert_eq!(l["provider"], "anthropic");
        assert_eq!(l["model"], "claude-sonnet-4-5");
        assert_eq!(l["status"], 200);
        assert_eq!(l["outcome"], "ok");
        assert_eq!(l["duration_ms"], 812.5);
        assert_eq!(l["ttft_ms"], 120.25);
        assert_eq!(l["input_tokens"], 10);
        assert_eq!(l["output_tokens"], 20);
        assert_eq!(l["cache_read_tokens"], 3);
        assert!(l.get("cache_write_tokens").is_none(), "{l}");
        assert_eq!(l["cost_usd"], 0.0012);
        assert!(l.get("error").is_none());
    }

    #[test]
    fn the_answering_model_wins_and_client_text_is_bounded() {
        let mut t = sample();
        t.model = Some("claude-sonnet-4-5-20250929".into());
        t.account = Some("é".repeat(500));
        t.outcome = Outcome::UpstreamError;
        t.error = Some("x".repeat(10_000));
        let lines = captured_json(|| emit(&t));
        let l = &lines[0];
        assert_eq!(l["model"], "claude-sonnet-4-5-20250929");
        assert_eq!(l["outcome"], "upstream_error");
        assert_eq!(l["account"].as_str().unwrap().len(), MAX_TEXT);
        assert_eq!(l["error"].as_str().unwrap().len(), MAX_TEXT);
    }
}
