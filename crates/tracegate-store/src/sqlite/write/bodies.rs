//! Storing a trace's bodies: blobs and message chains insert-if-absent, the
//! per-trace skeletons in `trace_bodies`.

use rusqlite::{params, Transaction};

use crate::body::{encode, ChainNode, Codec, Decomposed, Hash};
use crate::error::StoreError;

/// Stores the bodies of the trace at `rowid`; nothing when both are empty.
pub(super) fn store(
    tx: &Transaction<'_>,
    rowid: i64,
    request: Option<&Decomposed>,
    response: Option<&Decomposed>,
) -> Result<(), StoreError> {
    let request = request.map(|d| store_body(tx, d)).transpose()?;
    let response = response.map(|d| store_body(tx, d)).transpose()?;
    if request.is_none() && response.is_none() {
        return Ok(());
    }
    let (req_codec, req) = split(request);
    let (resp_codec, resp) = split(response);
    tx.prepare_cached(
        "INSERT INTO trace_bodies (trace_rowid, request_codec, request, response_codec, response)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![rowid, req_codec, req, resp_codec, resp])?;
    Ok(())
}

fn split(body: Option<(Codec, Vec<u8>)>) -> (Option<i64>, Option<Vec<u8>>) {
    match body {
        Some((codec, data)) => (Some(codec.id()), Some(data)),
        None => (None, None),
    }
}

/// Stores a body's blobs and chains; returns the encoded skeleton.
fn store_body(tx: &Transaction<'_>, d: &Decomposed) -> Result<(Codec, Vec<u8>), StoreError> {
    for (hash, raw) in &d.blobs {
        put_blob(tx, hash, raw)?;
    }
    for chain in &d.chains {
        put_chain(tx, chain)?;
    }
    encode(&d.skeleton)
}

/// Stores content unless its hash is already there (then it is not even compressed).
fn put_blob(tx: &Transaction<'_>, hash: &Hash, raw: &[u8]) -> Result<(), StoreError> {
    let key = &hash.as_bytes()[..];
    if tx
        .prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?
        .exists([key])?
    {
        return Ok(());
    }
    let (codec, data) = encode(raw)?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO blobs (hash, codec, size, data) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![key, codec.id(), raw.len() as i64, data])?;
    Ok(())
}

/// Stores the nodes of a chain (root first) that are not stored yet.
///
/// A node is only ever written together with its ancestors, so the newest
/// stored node found walking back from the head marks where new ones start.
fn put_chain(tx: &Transaction<'_>, nodes: &[ChainNode]) -> Result<(), StoreError> {
    let mut exists = tx.prepare_cached("SELECT 1 FROM msg_nodes WHERE hash = ?1")?;
    let mut first_new = 0;
    for (i, node) in nodes.iter().enumerate().rev() {
        if exists.exists([&node.hash.as_bytes()[..]])? {
            first_new = i + 1;
            break;
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO msg_nodes (hash, parent, blob) VALUES (?1, ?2, ?3)",
    )?;
    for node in nodes.get(first_new..).unwrap_or_default() {
        put_blob(tx, &node.blob, &node.raw)?;
        insert.execute(params![
            &node.hash.as_bytes()[..],
            node.parent.as_ref().map(|p| &p.as_bytes()[..]),
            &node.blob.as_bytes()[..],
        ])?;
    }
    Ok(())
}
