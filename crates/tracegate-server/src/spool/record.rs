//! One spooled trace on disk: `[len: u32 LE][check: 8 bytes][payload: len bytes]`, the
//! check being the first 8 bytes of the payload's BLAKE3 hash.
//!
//! The payload is `[header_len: u32 LE][header: JSON][request_len: u32 LE][request
//! body][response body]`: the scalar fields as JSON (serde), the bodies as raw bytes so
//! a large body costs no escaping.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracegate_core::{Attempt, Outcome, Provider, Trace, TraceId, Usage};

/// Bytes before the payload: its length and its check.
pub const HEADER_LEN: usize = 12;

/// Why a record could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record cut short")]
    Torn,
    #[error("record checksum mismatch")]
    Checksum,
    #[error("record payload malformed: {0}")]
    Malformed(String),
}

/// The scalar fields of a [`Trace`], as spooled.
#[derive(Serialize, Deserialize)]
struct Fields {
    id: TraceId,
    started_at: DateTime<Utc>,
    upstream: Option<String>,
    provider: Provider,
    endpoint: String,
    method: String,
    model_requested: Option<String>,
    model: Option<String>,
    stream: bool,
    status: Option<u16>,
    outcome: Outcome,
    error: Option<String>,
    duration_ms: f64,
    ttft_ms: Option<f64>,
    usage: Usage,
    cost_usd: Option<f64>,
    cache_saved_usd: Option<f64>,
    account: Option<String>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attempts: Vec<Attempt>,
}

fn check(payload: &[u8]) -> [u8; 8] {
    let hash = blake3::hash(payload);
    let mut out = [0u8; 8];
    out.copy_from_slice(&hash.as_bytes()[..8]);
    out
}

fn len32(n: usize) -> Result<[u8; 4], RecordError> {
    u32::try_from(n)
        .map(u32::to_le_bytes)
        .map_err(|_| RecordError::Malformed("over 4 GiB".into()))
}

/// Appends the record of `t` to `out`.
pub fn encode(t: &Trace, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let fields = Fields {
        id: t.id,
        started_at: t.started_at,
        upstream: t.upstream.clone(),
        provider: t.provider,
        endpoint: t.endpoint.clone(),
        method: t.method.clone(),
        model_requested: t.model_requested.clone(),
        model: t.model.clone(),
        stream: t.stream,
        status: t.status,
        outcome: t.outcome,
        error: t.error.clone(),
        duration_ms: t.duration_ms,
        ttft_ms: t.ttft_ms,
        usage: t.usage,
        cost_usd: t.cost_usd,
        cache_saved_usd: t.cache_saved_usd,
        account: t.account.clone(),
        client_ip: t.client_ip.clone(),
        user_agent: t.user_agent.clone(),
        metadata: t.metadata.clone(),
        attempts: t.attempts.clone(),
    };
    let header = serde_json::to_vec(&fields).map_err(|e| RecordError::Malformed(e.to_string()))?;
    let mut payload =
        Vec::with_capacity(8 + header.len() + t.request_body.len() + t.response_body.len());
    payload.extend_from_slice(&len32(header.len())?);
    payload.extend_from_slice(&header);
    payload.extend_from_slice(&len32(t.request_body.len())?);
    payload.extend_from_slice(&t.request_body);
    payload.extend_from_slice(&t.response_body);
    out.extend_from_slice(&len32(payload.len())?);
    out.extend_from_slice(&check(&payload));
    out.extend_from_slice(&payload);
    Ok(())
}

/// Reads the record at the start of `buf`: the trace and the bytes the record took.
pub fn decode(buf: &[u8]) -> Result<(Trace, usize), RecordError> {
    let (len, rest) = split_u32(buf).ok_or(RecordError::Torn)?;
    let (sum, rest) = rest.split_at_checked(8).ok_or(RecordError::Torn)?;
    let payload = rest.get(..len).ok_or(RecordError::Torn)?;
    if check(payload) != sum {
        return Err(RecordError::Checksum);
    }
    let bad = |m: &str| RecordError::Malformed(m.into());
    let (header_len, p) = split_u32(payload).ok_or_else(|| bad("header length"))?;
    let (header, p) = p
        .split_at_checked(header_len)
        .ok_or_else(|| bad("header"))?;
    let (request_len, p) = split_u32(p).ok_or_else(|| bad("request length"))?;
    let (request, response) = p
        .split_at_checked(request_len)
        .ok_or_else(|| bad("request"))?;
    let f: Fields =
        serde_json::from_slice(header).map_err(|e| RecordError::Malformed(e.to_string()))?;
    let trace = Trace {
        id: f.id,
        started_at: f.started_at,
        upstream: f.upstream,
        provider: f.provider,
        endpoint: f.endpoint,
        method: f.method,
        model_requested: f.model_requested,
        model: f.model,
        stream: f.stream,
        status: f.status,
        outcome: f.outcome,
        error: f.error,
        duration_ms: f.duration_ms,
        ttft_ms: f.ttft_ms,
        usage: f.usage,
        cost_usd: f.cost_usd,
        cache_saved_usd: f.cache_saved_usd,
        account: f.account,
        client_ip: f.client_ip,
        user_agent: f.user_agent,
        metadata: f.metadata,
        attempts: f.attempts,
        request_body: Bytes::copy_from_slice(request),
        response_body: Bytes::copy_from_slice(response),
    };
    Ok((trace, HEADER_LEN + len))
}

fn split_u32(buf: &[u8]) -> Option<(usize, &[u8])> {
    let (n, rest) = buf.split_at_checked(4)?;
    let n = u32::from_le_bytes(n.try_into().ok()?);
    Some((usize::try_from(n).ok()?, rest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    pub(crate) fn full_trace() -> Trace {
        let mut t = Trace::begin(Provider::Openai, "POST", "/v1/chat/completions");
        t.upstream = Some("openai".into());
        t.model_requested = Some("gpt-4o".into());
        t.model = Some("gpt-4o-2024".into());
        t.stream = true;
        t.status = Some(200);
        t.outcome = Outcome::UpstreamError;
        t.error = Some("boom \"quoted\"".into());
        t.duration_ms = 12.5;
        t.ttft_ms = Some(3.25);
        t.usage.input_tokens = Some(10);
        t.usage.cache_read_tokens = Some(u64::MAX);
        t.cost_usd = Some(0.001);
        t.account = Some("team-a".into());
        t.client_ip = Some("::1".into());
        t.user_agent = Some("ua/1".into());
        t.metadata = Some(serde_json::json!({"b": 1, "a": [true, null, "x"]}));
        t.request_body = Bytes::from_static(b"{\"model\":\"gpt-4o\"}\x00\xff");
        t.response_body = Bytes::from(vec![0u8, 1, 2, 255, b'\n']);
        t
    }

    #[test]
    fn a_trace_round_trips_with_bodies_times_and_metadata() {
        for t in [
            full_trace(),
            Trace::begin(Provider::Anthropic, "GET", "/v1/models"),
        ] {
            let mut buf = Vec::new();
            encode(&t, &mut buf).unwrap();
            let (back, used) = decode(&buf).unwrap();
            assert_eq!(used, buf.len());
            assert_eq!(back, t);
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_in_the_payload_is_caught() {
        let mut buf = Vec::new();
        encode(&full_trace(), &mut buf).unwrap();
        for i in HEADER_LEN..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x01;
            assert_eq!(decode(&bad).unwrap_err(), RecordError::Checksum, "byte {i}");
        }
    }

    #[test]
    fn a_cut_record_is_torn() {
        let mut buf = Vec::new();
        encode(&full_trace(), &mut buf).unwrap();
        for cut in [0, 3, HEADER_LEN, buf.len() - 1] {
            assert_eq!(decode(&buf[..cut]).unwrap_err(), RecordError::Torn, "{cut}");
        }
    }
}
