//! The per-trace skeleton of a body and how a body is put back together.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::hash::Hash;
use crate::error::StoreError;

/// The member name a moving cache marker is kept under.
pub(crate) const CACHE_CONTROL: &str = "cache_control";

/// What is kept per trace for one body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Skeleton {
    /// A JSON object; members listed in `refs` are `null` in `body` and stored apart.
    Object {
        body: Map<String, Value>,
        refs: Vec<MemberRef>,
    },
    /// Any other JSON value, whole in one blob.
    Json { blob: Hash },
    /// A body that is not JSON, byte for byte in one blob.
    Text { blob: Hash },
}

/// A member of an object body stored outside the skeleton.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MemberRef {
    /// The member's compact JSON is one blob.
    Blob { key: String, hash: Hash },
    /// The member is an array of messages kept as a chain ending at `head`.
    Chain {
        key: String,
        head: Hash,
        len: u32,
        /// Cache markers taken out of content blocks: `[msg, block, value]`,
        /// with a fourth element (key position) when the marker was not last.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cc: Vec<Value>,
    },
}

/// The stored parts a skeleton refers to, fetched by the backend.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// Raw (decoded) blob contents by hash.
    pub blobs: HashMap<Hash, Vec<u8>>,
    /// Raw message blobs of each chain by head hash, oldest first.
    pub chains: HashMap<Hash, Vec<Vec<u8>>>,
}

impl Skeleton {
    /// Reads a stored (decoded) skeleton.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(format!("skeleton: {e}")))
    }

    /// Blobs to fetch before [`Skeleton::assemble`].
    pub(crate) fn blob_refs(&self) -> Vec<Hash> {
        match self {
            Skeleton::Object { refs, .. } => refs
                .iter()
                .filter_map(|r| match r {
                    MemberRef::Blob { hash, .. } => Some(*hash),
                    MemberRef::Chain { .. } => None,
                })
                .collect(),
            Skeleton::Json { blob } | Skeleton::Text { blob } => vec![*blob],
        }
    }

    /// Chains (head, length) to fetch before [`Skeleton::assemble`].
    pub(crate) fn chain_refs(&self) -> Vec<(Hash, u32)> {
        match self {
            Skeleton::Object { refs, .. } => refs
                .iter()
                .filter_map(|r| match r {
                    MemberRef::Chain { head, len, .. } => Some((*head, *len)),
                    MemberRef::Blob { .. } => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Rebuilds the body from the skeleton and the fetched parts.
    pub(crate) fn assemble(self, parts: &Parts) -> Result<Value, StoreError> {
        match self {
            Skeleton::Json { blob } => parse_json(take_blob(parts, &blob)?),
            Skeleton::Text { blob } => Ok(Value::String(
                String::from_utf8_lossy(take_blob(parts, &blob)?).into_owned(),
            )),
            Skeleton::Object { mut body, refs } => {
                for r in refs {
                    let (key, value) = match r {
                        MemberRef::Blob { key, hash } => {
                            (key, parse_json(take_blob(parts, &hash)?)?)
                        }
                        MemberRef::Chain { key, head, len, cc } => {
                            (key, assemble_chain(parts, &head, len, &cc)?)
                        }
                    };
                    match body.get_mut(&key) {
                        Some(slot @ Value::Null) => *slot = value,
                        _ => return Err(StoreError::corrupt(format!("no slot for `{key}`"))),
                    }
                }
                Ok(Value::Object(body))
            }
        }
    }
}

fn take_blob<'a>(parts: &'a Parts, hash: &Hash) -> Result<&'a [u8], StoreError> {
    parts
        .blobs
        .get(hash)
        .map(Vec::as_slice)
        .ok_or_else(|| StoreError::corrupt(format!("missing blob {hash:?}")))
}

fn parse_json(bytes: &[u8]) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(format!("stored JSON: {e}")))
}

fn assemble_chain(parts: &Parts, head: &Hash, len: u32, cc: &[Value]) -> Result<Value, StoreError> {
    let raw = parts
        .chains
        .get(head)
        .ok_or_else(|| StoreError::corrupt(format!("missing chain {head:?}")))?;
    if raw.len() != len as usize {
        return Err(StoreError::corrupt(format!(
            "chain of {} messages, expected {len}",
            raw.len()
        )));
    }
    let mut messages = raw
        .iter()
        .map(|m| parse_json(m))
        .collect::<Result<Vec<_>, _>>()?;
    for mark in cc {
        restore_mark(&mut messages, mark)?;
    }
    Ok(Value::Array(messages))
}

/// A cache marker as kept in the skeleton.
pub(crate) fn mark(msg: usize, block: usize, value: Value, pos: Option<usize>) -> Value {
    let mut m = vec![Value::from(msg), Value::from(block), value];
    m.extend(pos.map(Value::from));
    Value::Array(m)
}

fn restore_mark(messages: &mut [Value], mark: &Value) -> Result<(), StoreError> {
    let bad = || StoreError::corrupt(format!("cache marker {mark}"));
    let m = mark.as_array().ok_or_else(bad)?;
    let index = |i: usize| -> Result<usize, StoreError> {
        let n = m.get(i).and_then(Value::as_u64).ok_or_else(bad)?;
        usize::try_from(n).map_err(|_| bad())
    };
    if !(3..=4).contains(&m.len()) {
        return Err(bad());
    }
    let (msg, block) = (index(0)?, index(1)?);
    let value = m.get(2).cloned().ok_or_else(bad)?;
    let target = messages
        .get_mut(msg)
        .and_then(|v| v.get_mut("content"))
        .and_then(|c| c.get_mut(block))
        .and_then(Value::as_object_mut)
        .ok_or_else(bad)?;
    if m.len() == 4 {
        let pos = index(3)?;
        if pos > target.len() {
            return Err(bad());
        }
        target.shift_insert(pos, CACHE_CONTROL.to_owned(), value);
    } else {
        target.insert(CACHE_CONTROL.to_owned(), value);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assembles_an_object_in_key_order() {
        let tools = br#"[{"name":"a"}]"#.to_vec();
        let m0 = br#"{"role":"user","content":[{"type":"text","text":"hi"}]}"#.to_vec();
        let tools_h = Hash::of(&tools);
        let head = Hash::of(b"head");
        let mut body = Map::new();
        body.insert("model".into(), json!("m"));
        body.insert("tools".into(), Value::Null);
        body.insert("messages".into(), Value::Null);
        body.insert("stream".into(), json!(true));
        let sk = Skeleton::Object {
            body,
            refs: vec![
                MemberRef::Blob {
                    key: "tools".into(),
                    hash: tools_h,
                },
                MemberRef::Chain {
                    key: "messages".into(),
                    head,
                    len: 1,
                    cc: vec![mark(0, 0, json!({"type": "ephemeral"}), Some(0))],
                },
            ],
        };
        let stored = serde_json::to_vec(&sk).unwrap();
        let sk = Skeleton::parse(&stored).unwrap();
        assert_eq!(sk.blob_refs(), vec![tools_h]);
        assert_eq!(sk.chain_refs(), vec![(head, 1)]);
        let mut parts = Parts::default();
        parts.blobs.insert(tools_h, tools);
        parts.chains.insert(head, vec![m0]);
        let v = sk.assemble(&parts).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"model":"m","tools":[{"name":"a"}],"messages":[{"role":"user","content":[{"cache_control":{"type":"ephemeral"},"type":"text","text":"hi"}]}],"stream":true}"#
        );
    }

    #[test]
    fn missing_parts_and_bad_markers_are_corrupt_not_panics() {
        let head = Hash::of(b"h");
        let mut body = Map::new();
        body.insert("messages".into(), Value::Null);
        let chain = |cc: Vec<Value>, len| Skeleton::Object {
            body: body.clone(),
            refs: vec![MemberRef::Chain {
                key: "messages".into(),
                head,
                len,
                cc,
            }],
        };
        let mut parts = Parts::default();
        assert!(matches!(
            chain(vec![], 1).assemble(&parts),
            Err(StoreError::Corrupt(_))
        ));
        parts
            .chains
            .insert(head, vec![br#"{"content":"s"}"#.to_vec()]);
        assert!(chain(vec![], 2).assemble(&parts).is_err());
        assert!(chain(vec![], 1).assemble(&parts).is_ok());
        for bad in [
            json!([0, 0, 1]),
            json!([5, 0, 1]),
            json!("x"),
            json!([0]),
            json!([-1, 0, 1]),
        ] {
            assert!(chain(vec![bad], 1).assemble(&parts).is_err());
        }
        assert!(Skeleton::parse(b"{\"nope\":1}").is_err());
        assert!(Skeleton::Text { blob: head }.assemble(&parts).is_err());
    }
}
