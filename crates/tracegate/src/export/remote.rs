//! `tracegate export --url`: reads a running gateway's `GET /api/v1/traces/export`.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::BodyExt;
use indicatif::ProgressBar;
use serde_json::Value;

use super::sink::Sink;
use crate::client::http_client;

/// Streams the gateway's NDJSON answer into `sink`, line by line.
pub async fn export(
    base: &str,
    params: &[(String, String)],
    sink: &mut Sink,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let url = format!(
        "{}/api/v1/traces/export?{query}",
        base.trim_end_matches('/')
    );
    let token = std::env::var("TRACEGATE_ADMIN_TOKEN").ok();
    let mut req = http::Request::builder().uri(&url);
    if let Some(t) = token.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let client = http_client();
    let resp = client
        .request(req.body(http_body_util::Full::new(Bytes::new()))?)
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::bail!("{url} answered {status}: {}", api_message(&body));
    }
    let mut body = resp.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the gateway's answer broke off")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        let mut start = 0;
        while let Some(at) = pending[start..].iter().position(|b| *b == b'\n') {
            line(&pending[start..start + at], sink)?;
            bar.inc(1);
            start += at + 1;
        }
        pending.drain(..start);
    }
    anyhow::ensure!(
        pending.iter().all(u8::is_ascii_whitespace),
        "the gateway's answer ended in the middle of a line"
    );
    bar.finish_and_clear();
    Ok(())
}

/// One line of the answer: a trace, or the error that ended the export.
fn line(raw: &[u8], sink: &mut Sink) -> anyhow::Result<()> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let row: Value =
        serde_json::from_slice(raw).context("the gateway sent a line that is not JSON")?;
    if let Some(err) = stream_error(&row) {
        anyhow::bail!("the gateway stopped the export: {err}");
    }
    sink.row(&row)
}

/// The message of an error line, `{"error": {"kind", "message"}}` and nothing else
/// (a trace's own `error` field is a string).
fn stream_error(row: &Value) -> Option<String> {
    let obj = row.as_object().filter(|o| o.len() == 1)?;
    let err = obj.get("error")?.as_object()?;
    Some(
        err.get("message")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned(),
    )
}

/// The message of an API error body, or the body itself.
fn api_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = &v["error"];
            let msg = e["message"].as_str()?;
            Some(match e["pointer"].as_str() {
                Some(p) => format!("{msg} (at {p})"),
                None => msg.to_owned(),
            })
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect())
}
