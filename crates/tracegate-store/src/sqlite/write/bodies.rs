//! Storing a trace's bodies: blobs and message chains insert-if-absent, the
//! per-trace skeletons in `trace_bodies`.

use rusqlite::{params, Transaction};

use crate::body::{ChainNode, Codec, Decomposed, Encoder, Hash, COMPRESS_MIN};
use crate::error::StoreError;

/// Stores the bodies of the trace at `rowid`; nothing when both are empty.
pub(super) fn store(
    tx: &Transaction<'_>,
    enc: &mut Encoder,
    rowid: i64,
    request: Option<&Decomposed>,
    response: Option<&Decomposed>,
) -> Result<(), StoreError> {
    let request = request.map(|d| store_body(tx, enc, d)).transpose()?;
    let response = response.map(|d| store_body(tx, enc, d)).transpose()?;
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
fn store_body(
    tx: &Transaction<'_>,
    enc: &mut Encoder,
    d: &Decomposed,
) -> Result<(Codec, Vec<u8>), StoreError> {
    for (hash, raw) in &d.blobs {
        put_blob(tx, enc, hash, raw)?;
    }
    for chain in &d.chains {
        put_chain(tx, enc, chain)?;
    }
    enc.encode(&d.skeleton)
}

/// Stores content unless its hash is already there. Content that would be
/// compressed is looked up first (a stored blob is not even compressed);
/// smaller content is kept raw and inserted-if-absent in one statement.
fn put_blob(
    tx: &Transaction<'_>,
    enc: &mut Encoder,
    hash: &Hash,
    raw: &[u8],
) -> Result<(), StoreError> {
    let key = &hash.as_bytes()[..];
    let encoded;
    let (codec, data) = if raw.len() < COMPRESS_MIN {
        (Codec::Raw, raw)
    } else {
        if tx
            .prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?
            .exists([key])?
        {
            return Ok(());
        }
        encoded = enc.encode(raw)?;
        (encoded.0, encoded.1.as_slice())
    };
    tx.prepare_cached(
        "INSERT OR IGNORE INTO blobs (hash, codec, size, data) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![key, codec.id(), raw.len() as i64, data])?;
    Ok(())
}

/// Stores the nodes of a chain (root first) that are not stored yet.
///
/// A node is only ever written together with its ancestors (in one
/// transaction), so walking back from the head, the first node already
/// stored marks where the new ones end: each step is one insert-if-absent.
fn put_chain(
    tx: &Transaction<'_>,
    enc: &mut Encoder,
    nodes: &[ChainNode],
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO msg_nodes (hash, parent, blob) VALUES (?1, ?2, ?3)",
    )?;
    for node in nodes.iter().rev() {
        let inserted = insert.execute(params![
            &node.hash.as_bytes()[..],
            node.parent.as_ref().map(|p| &p.as_bytes()[..]),
            &node.blob.as_bytes()[..],
        ])?;
        if inserted == 0 {
            break;
        }
        put_blob(tx, enc, &node.blob, &node.raw)?;
    }
    Ok(())
}
