//! Splitting a body into its skeleton, blobs and message chains.

use serde_json::Value;

use super::hash::Hash;
use super::skeleton::{mark, MemberRef, Skeleton, CACHE_CONTROL};
use super::MIN_REF_BYTES;
use crate::error::StoreError;

/// Request members kept as blobs.
const REQUEST_BLOB_KEYS: &[&str] = &["system", "tools", "functions", "instructions"];
/// Request members kept as message chains.
const REQUEST_CHAIN_KEYS: &[&str] = &["messages", "input"];
/// Response members kept as blobs.
const RESPONSE_BLOB_KEYS: &[&str] = &["content", "choices", "output"];
/// JSON nested deeper than this is kept whole, so the skeleton around it
/// stays within the parser's nesting limit.
const MAX_SPLIT_DEPTH: usize = 100;

/// One message of a chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChainNode {
    /// `H(parent || blob)`.
    pub hash: Hash,
    pub parent: Option<Hash>,
    /// Hash of `raw`.
    pub blob: Hash,
    /// The message's compact JSON, cache markers taken out.
    pub raw: Vec<u8>,
}

/// A body split for storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decomposed {
    /// The skeleton's compact JSON, not yet encoded.
    pub skeleton: Vec<u8>,
    /// Blobs the skeleton refers to: hash and raw content.
    pub blobs: Vec<(Hash, Vec<u8>)>,
    /// Message chains the skeleton refers to, each root first.
    pub chains: Vec<Vec<ChainNode>>,
}

/// A body with its JSON parsed once, for whatever reads it before it is split.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBody<'a> {
    raw: &'a [u8],
    json: Option<Value>,
}

impl<'a> ParsedBody<'a> {
    /// Parses `raw`; a body that is empty or not JSON has no value.
    pub(crate) fn parse(raw: &'a [u8]) -> Self {
        let json = if raw.is_empty() {
            None
        } else {
            serde_json::from_slice(raw).ok()
        };
        ParsedBody { raw, json }
    }

    /// The body's JSON, `None` when it is empty or not JSON.
    pub(crate) fn json(&self) -> Option<&Value> {
        self.json.as_ref()
    }
}

/// Splits a request body; `None` when it is empty.
pub(crate) fn decompose_request(body: ParsedBody<'_>) -> Result<Option<Decomposed>, StoreError> {
    decompose(body, REQUEST_BLOB_KEYS, REQUEST_CHAIN_KEYS)
}

/// Splits a response body; `None` when it is empty.
pub(crate) fn decompose_response(body: ParsedBody<'_>) -> Result<Option<Decomposed>, StoreError> {
    decompose(body, RESPONSE_BLOB_KEYS, &[])
}

fn decompose(
    body: ParsedBody<'_>,
    blob_keys: &[&str],
    chain_keys: &[&str],
) -> Result<Option<Decomposed>, StoreError> {
    if body.raw.is_empty() {
        return Ok(None);
    }
    let Some(value) = body.json else {
        return whole(body.raw.to_vec(), |blob| Skeleton::Text { blob }).map(Some);
    };
    let mut map = match value {
        Value::Object(map) if nesting(&map) <= MAX_SPLIT_DEPTH => map,
        other => return whole(to_json(&other)?, |blob| Skeleton::Json { blob }).map(Some),
    };
    let mut refs = Vec::new();
    let mut blobs = Vec::new();
    let mut chains = Vec::new();
    for (key, slot) in map.iter_mut() {
        if chain_keys.contains(&key.as_str()) {
            let Value::Array(items) = slot else { continue };
            let Ok(len) = u32::try_from(items.len()) else {
                continue;
            };
            let (nodes, cc) = build_chain(std::mem::take(items))?;
            let Some(head) = nodes.last().map(|n| n.hash) else {
                continue; // empty array: stays inline
            };
            *slot = Value::Null;
            refs.push(MemberRef::Chain {
                key: key.clone(),
                head,
                len,
                cc,
            });
            chains.push(nodes);
        } else if blob_keys.contains(&key.as_str()) {
            let raw = to_json(slot)?;
            if raw.len() < MIN_REF_BYTES {
                continue;
            }
            let hash = Hash::of(&raw);
            *slot = Value::Null;
            refs.push(MemberRef::Blob {
                key: key.clone(),
                hash,
            });
            blobs.push((hash, raw));
        }
    }
    let skeleton = to_json(&Skeleton::Object { body: map, refs })?;
    Ok(Some(Decomposed {
        skeleton,
        blobs,
        chains,
    }))
}

/// A body kept as one blob.
fn whole(raw: Vec<u8>, kind: impl FnOnce(Hash) -> Skeleton) -> Result<Decomposed, StoreError> {
    let blob = Hash::of(&raw);
    Ok(Decomposed {
        skeleton: to_json(&kind(blob))?,
        blobs: vec![(blob, raw)],
        chains: Vec::new(),
    })
}

/// Turns messages into chain nodes, taking cache markers out of content blocks.
fn build_chain(items: Vec<Value>) -> Result<(Vec<ChainNode>, Vec<Value>), StoreError> {
    let mut nodes: Vec<ChainNode> = Vec::with_capacity(items.len());
    let mut cc = Vec::new();
    for (i, mut msg) in items.into_iter().enumerate() {
        strip_markers(&mut msg, i, &mut cc);
        let raw = to_json(&msg)?;
        let blob = Hash::of(&raw);
        let parent = nodes.last().map(|n| n.hash);
        let hash = Hash::node(parent, blob);
        nodes.push(ChainNode {
            hash,
            parent,
            blob,
            raw,
        });
    }
    Ok((nodes, cc))
}

fn strip_markers(msg: &mut Value, i: usize, cc: &mut Vec<Value>) {
    let Some(Value::Array(blocks)) = msg.get_mut("content") else {
        return;
    };
    for (j, block) in blocks.iter_mut().enumerate() {
        let Some(obj) = block.as_object_mut() else {
            continue;
        };
        let Some(pos) = obj.keys().position(|k| k == CACHE_CONTROL) else {
            continue;
        };
        let last = pos + 1 == obj.len();
        if let Some(value) = obj.shift_remove(CACHE_CONTROL) {
            cc.push(mark(i, j, value, (!last).then_some(pos)));
        }
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("serialising JSON: {e}")))
}

/// Nesting depth of a value (a scalar is 0).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => nesting(o),
        _ => 0,
    }
}

fn nesting(o: &serde_json::Map<String, Value>) -> usize {
    1 + o.values().map(depth).max().unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::body::Parts;
    use serde_json::json;

    /// Splits and puts back together without a database.
    fn round_trip(d: &Decomposed) -> Value {
        let mut parts = Parts::default();
        for (h, raw) in &d.blobs {
            parts.blobs.insert(*h, raw.clone());
        }
        for chain in &d.chains {
            let head = chain.last().unwrap().hash;
            parts
                .chains
                .insert(head, chain.iter().map(|n| n.raw.clone()).collect());
        }
        Skeleton::parse(&d.skeleton)
            .unwrap()
            .assemble(&parts)
            .unwrap()
    }

    fn request(v: &Value) -> Decomposed {
        let bytes = serde_json::to_vec(v).unwrap();
        decompose_request(ParsedBody::parse(&bytes))
            .unwrap()
            .unwrap()
    }

    fn long(s: &str) -> String {
        s.repeat(40)
    }

    #[test]
    fn request_round_trips_byte_for_byte_in_compact_form() {
        let body = json!({
            "model": "claude-sonnet-4",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": long("be brief. "), "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "plain string ✓ ünïcödé"},
                {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                {"role": "user", "content": [
                    {"cache_control": {"type": "ephemeral"}, "type": "text", "text": "first key"},
                    {"type": "text", "text": "last", "cache_control": {"type": "ephemeral"}}
                ]}
            ],
            "tools": [{"name": "read", "description": long("reads a file "), "input_schema": {"type": "object"}}],
            "stream": true
        });
        let d = request(&body);
        assert_eq!(d.blobs.len(), 2, "system and tools are blobs");
        assert_eq!(d.chains.len(), 1);
        assert_eq!(d.chains[0].len(), 3);
        let back = round_trip(&d);
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&body).unwrap()
        );
        let skeleton = String::from_utf8(d.skeleton).unwrap();
        assert!(!skeleton.contains("reads a file"), "{skeleton}");
        assert!(skeleton.contains("claude-sonnet-4"));
    }

    #[test]
    fn a_moving_cache_marker_does_not_change_the_chain() {
        let m0 = json!({"role": "user", "content": [{"type": "text", "text": "one"}]});
        let m1 = json!({"role": "assistant", "content": [{"type": "text", "text": "two"}]});
        let m2 = json!({"role": "user", "content": [{"type": "text", "text": "three"}]});
        let marked = |m: &Value| {
            let mut m = m.clone();
            m["content"][0]["cache_control"] = json!({"type": "ephemeral"});
            m
        };
        let turn1 = request(&json!({"messages": [m0.clone()], "model": "x"}));
        let turn1_marked = request(&json!({"messages": [marked(&m0)], "model": "x"}));
        let turn2 =
            request(&json!({"messages": [m0.clone(), m1.clone(), marked(&m2)], "model": "x"}));
        assert_eq!(turn1.chains[0][0].hash, turn1_marked.chains[0][0].hash);
        assert_eq!(turn2.chains[0][0], turn1.chains[0][0], "shared prefix node");
        assert_eq!(turn2.chains[0][1].parent, Some(turn1.chains[0][0].hash));
        assert_ne!(
            turn1.skeleton, turn1_marked.skeleton,
            "marker kept in the skeleton"
        );
        assert_eq!(
            round_trip(&turn1_marked),
            json!({"messages": [marked(&m0)], "model": "x"})
        );
    }

    #[test]
    fn response_content_and_choices_become_blobs() {
        let anthropic = json!({
            "id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": long("answer ")}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 5}
        });
        let openai = json!({
            "id": "chatcmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": long("hi ")}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1}
        });
        for body in [anthropic, openai] {
            let bytes = serde_json::to_vec(&body).unwrap();
            let d = decompose_response(ParsedBody::parse(&bytes))
                .unwrap()
                .unwrap();
            assert_eq!(d.blobs.len(), 1);
            assert!(d.chains.is_empty());
            assert_eq!(
                serde_json::to_string(&round_trip(&d)).unwrap(),
                body.to_string()
            );
        }
    }

    #[test]
    fn small_members_stay_inline_and_odd_shapes_survive() {
        let body = json!({"system": "short", "messages": [], "tools": null, "input": "text"});
        let d = request(&body);
        assert!(d.blobs.is_empty() && d.chains.is_empty());
        assert_eq!(round_trip(&d), body);

        let array = json!([1, {"a": "b"}]);
        let d = request(&array);
        assert_eq!(round_trip(&d), array);

        let text = b"<html>502 Bad Gateway</html>\n";
        let parsed = ParsedBody::parse(text);
        assert!(parsed.json().is_none());
        let d = decompose_response(parsed).unwrap().unwrap();
        assert_eq!(
            round_trip(&d),
            Value::String(String::from_utf8(text.to_vec()).unwrap())
        );

        assert!(decompose_request(ParsedBody::parse(b"")).unwrap().is_none());
        assert!(decompose_response(ParsedBody::parse(b""))
            .unwrap()
            .is_none());
    }

    #[test]
    fn deep_json_is_kept_whole() {
        let mut deep = json!("leaf");
        for _ in 0..110 {
            deep = json!({ "k": deep });
        }
        let d = request(&deep);
        assert!(matches!(
            Skeleton::parse(&d.skeleton).unwrap(),
            Skeleton::Json { .. }
        ));
        assert_eq!(round_trip(&d), deep);
    }
}
