//! The cache key: a BLAKE3 hash of the normalised request, scoped by account.
//!
//! What goes in: the account, the upstream, the provider, method, path and query, the
//! `anthropic-version` and `anthropic-beta` headers (they change what the provider answers),
//! and the whole JSON body written canonically: object keys sorted, numbers with an integral
//! value written as integers (`0.0` is `0`), no whitespace. So `model`, `messages`, `system`,
//! `tools`, `tool_choice`, `stream`, `stream_options` and every generation parameter
//! (`temperature`, `max_tokens`, `stop`, `top_p`, ...) are in the key, including ones this
//! gateway has never heard of: a parameter that is not in the key could give a wrong hit.
//!
//! What is left out, because it says who asked or steers billing, not what is answered:
//! the top-level `metadata` (Anthropic's end-user id) and `user` (OpenAI's), `stream: false`
//! (the same as no `stream`), and for Anthropic every `cache_control` marker (they steer
//! the provider's prompt cache; the answer is the same with or without them).

use std::fmt;

use serde_json::Value;
use tracegate_core::Provider;

/// Bumped whenever the normalisation changes, so old entries of a shared store never match.
const KEY_VERSION: &[u8] = b"tracegate-response-cache-v1";

/// Request headers that are part of the key.
pub const KEYED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// Top-level body members left out of the key.
const IGNORED_MEMBERS: [&str; 2] = ["metadata", "user"];

/// A 32-byte BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

/// Everything a key is made of.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// The trace's account; `None` (no credential, no header) is its own scope.
    pub account: Option<&'a str>,
    pub upstream: &'a str,
    pub provider: Provider,
    pub method: &'a str,
    /// Path and query as the client sent them.
    pub path_and_query: &'a str,
    /// Values of [`KEYED_HEADERS`], in that order (`None` when absent).
    pub headers: [Option<&'a str>; 2],
    /// The request body, parsed.
    pub body: &'a Value,
}

impl KeyInput<'_> {
    /// The key of this request.
    pub fn key(&self) -> CacheKey {
        let mut h = blake3::Hasher::new();
        field(&mut h, KEY_VERSION);
        match self.account {
            Some(a) => {
                field(&mut h, b"a");
                field(&mut h, a.as_bytes());
            }
            None => field(&mut h, b"-"),
        }
        for part in [
            self.upstream,
            self.provider.as_str(),
            self.method,
            self.path_and_query,
        ] {
            field(&mut h, part.as_bytes());
        }
        for v in self.headers {
            match v {
                Some(v) => {
                    field(&mut h, b"h");
                    field(&mut h, v.trim().as_bytes());
                }
                None => field(&mut h, b"-"),
            }
        }
        let mut body = Vec::with_capacity(256);
        canonical_body(self.body, self.provider, &mut body);
        field(&mut h, &body);
        CacheKey(*h.finalize().as_bytes())
    }
}

/// Writes one length-prefixed field, so that no two inputs hash the same bytes.
fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The body in canonical form, with the members that are not part of the key left out.
pub fn canonical_body(body: &Value, provider: Provider, out: &mut Vec<u8>) {
    let skip_markers = provider == Provider::Anthropic;
    match body {
        Value::Object(map) => object(
            map,
            |k, v| keyed_member(k, v, skip_markers),
            skip_markers,
            out,
        ),
        other => canonical(other, skip_markers, out),
    }
}

/// Whether a top-level body member is part of the key.
fn keyed_member(name: &str, value: &Value, skip_markers: bool) -> bool {
    let ignored = IGNORED_MEMBERS.contains(&name)
        || (name == "stream" && *value == Value::Bool(false))
        || (skip_markers && name == "cache_control");
    !ignored
}

/// JSON with sorted object keys and no whitespace. Recursion is bounded by the JSON
/// parser's own depth limit (128).
fn canonical(v: &Value, skip_markers: bool, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => number(n, out),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, skip_markers, out);
            }
            out.push(b']');
        }
        Value::Object(map) => object(
            map,
            |k, _| !(skip_markers && k == "cache_control"),
            skip_markers,
            out,
        ),
    }
}

/// The members of `map` that `keep` keeps, sorted by name, values canonical.
fn object(
    map: &serde_json::Map<String, Value>,
    keep: impl Fn(&str, &Value) -> bool,
    skip_markers: bool,
    out: &mut Vec<u8>,
) {
    let mut keys: Vec<&String> = map
        .iter()
        .filter(|(k, v)| keep(k, v))
        .map(|(k, _)| k)
        .collect();
    keys.sort_unstable();
    out.push(b'{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(k, out);
        out.push(b':');
        canonical(&map[k], skip_markers, out);
    }
    out.push(b'}');
}

/// Integral values as integers (`1.0` and `1` are the same parameter), others as serde
/// writes them.
fn number(n: &serde_json::Number, out: &mut Vec<u8>) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.is_f64() {
        if let Some(f) = n.as_f64() {
            if f.fract() == 0.0 && f.abs() < EXACT {
                out.extend_from_slice((f as i64).to_string().as_bytes());
                return;
            }
        }
    }
    out.extend_from_slice(n.to_string().as_bytes());
}

fn string(s: &str, out: &mut Vec<u8>) {
    // Writing a str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input<'a>(body: &'a Value, account: Option<&'a str>) -> KeyInput<'a> {
        KeyInput {
            account,
            upstream: "anthropic",
            provider: Provider::Anthropic,
            method: "POST",
            path_and_query: "/v1/messages",
            headers: [Some("2023-06-01"), None],
            body,
        }
    }

    fn key(body: &Value) -> CacheKey {
        input(body, Some("alice")).key()
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a = parsed(
            r#"{"model":"m","max_tokens":5,"temperature":0,"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let b = parsed(
            r#"{ "messages": [ {"content": "hi", "role": "user"} ],
                "temperature": 0.0, "max_tokens": 5, "model": "m" }"#,
        );
        assert_eq!(key(&a), key(&b));
    }

    #[test]
    fn every_parameter_and_every_message_is_in_the_key() {
        let base = json!({"model": "m", "max_tokens": 5, "temperature": 0,
            "messages": [{"role": "user", "content": "hi"}]});
        let k = key(&base);
        let changed = [
            json!({"model": "n"}),
            json!({"max_tokens": 6}),
            json!({"temperature": 0.5}),
            json!({"top_p": 0.9}),
            json!({"stop_sequences": ["x"]}),
            json!({"system": "be brief"}),
            json!({"tools": [{"name": "t", "input_schema": {}}]}),
            json!({"tool_choice": {"type": "any"}}),
            json!({"stream": true}),
            json!({"some_future_parameter": 1}),
            json!({"messages": [{"role": "user", "content": "hi!"}]}),
        ];
        for change in changed {
            let mut body = base.clone();
            for (k2, v) in change.as_object().unwrap() {
                body[k2] = v.clone();
            }
            assert_ne!(key(&body), k, "{change}");
        }
    }

    #[test]
    fn who_asked_and_cache_markers_are_not_in_the_key() {
        let base = json!({"model": "m", "max_tokens": 5,
            "system": [{"type": "text", "text": "ctx"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]});
        let mut marked = base.clone();
        marked["system"][0]["cache_control"] = json!({"type": "ephemeral"});
        marked["messages"][0]["content"][0]["cache_control"] = json!({"type": "ephemeral"});
        marked["metadata"] = json!({"user_id": "u-1"});
        marked["stream"] = json!(false);
        assert_eq!(key(&base), key(&marked));
        // For OpenAI `user` is left out, but `cache_control` means nothing special.
        let openai = |body: &Value| {
            KeyInput {
                provider: Provider::Openai,
                ..input(body, Some("alice"))
            }
            .key()
        };
        let with_user = json!({"model": "m", "user": "u-1"});
        assert_eq!(openai(&with_user), openai(&json!({"model": "m"})));
        assert_ne!(
            openai(&json!({"model": "m", "cache_control": 1})),
            openai(&json!({"model": "m"}))
        );
    }

    #[test]
    fn keys_are_scoped_by_account_upstream_path_and_version_headers() {
        let body = json!({"model": "m"});
        let k = input(&body, Some("alice")).key();
        assert_ne!(input(&body, Some("bob")).key(), k);
        assert_ne!(input(&body, None).key(), k);
        assert_ne!(input(&body, Some("")).key(), input(&body, None).key());
        let other = |f: &dyn Fn(&mut KeyInput<'_>)| {
            let mut i = input(&body, Some("alice"));
            f(&mut i);
            i.key()
        };
        assert_ne!(other(&|i| i.upstream = "backup"), k);
        assert_ne!(other(&|i| i.provider = Provider::Openai), k);
        assert_ne!(other(&|i| i.path_and_query = "/v1/messages?beta=true"), k);
        assert_ne!(other(&|i| i.headers = [Some("2024-01-01"), None]), k);
        assert_ne!(other(&|i| i.headers = [Some("2023-06-01"), Some("x")]), k);
        assert_eq!(other(&|_| ()), k);
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let body = json!({});
        let a = KeyInput {
            upstream: "ab",
            method: "c",
            ..input(&body, None)
        };
        let b = KeyInput {
            upstream: "a",
            method: "bc",
            ..input(&body, None)
        };
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn canonical_form_is_sorted_compact_json() {
        let mut out = Vec::new();
        canonical_body(
            &parsed(r#"{"b": [1.0, 2.5, "é\n"], "a": {"y": null, "x": true}, "user": "u"}"#),
            Provider::Openai,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":{"x":true,"y":null},"b":[1,2.5,"é\n"]}"#
        );
        assert_eq!(key(&json!({})).to_string().len(), 64);
    }
}
