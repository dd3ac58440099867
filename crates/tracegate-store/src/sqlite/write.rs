//! Writing traces: one transaction per batch, bodies split and stored once.

use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use tracegate_core::Trace;

use crate::body::{
    decompose_request, decompose_response, encode, ChainNode, Codec, Decomposed, Hash,
};
use crate::error::StoreError;
use crate::model::total_tokens;

/// A trace with its bodies split, ready to be written.
pub(super) struct Prepared {
    trace: Trace,
    request: Option<Decomposed>,
    response: Option<Decomposed>,
}

/// Splits and hashes the bodies of a batch. Pure CPU work: runs on a blocking
/// thread before the writer connection is taken, so the write lock is held only
/// for lookups, compression of new content and the inserts.
pub(super) fn prepare(traces: Vec<Trace>) -> Result<Vec<Prepared>, StoreError> {
    traces
        .into_iter()
        .map(|trace| {
            let request = decompose_request(&trace.request_body)?;
            let response = decompose_response(&trace.response_body)?;
            Ok(Prepared {
                trace,
                request,
                response,
            })
        })
        .collect()
}

/// Inserts every trace of the batch in one transaction, or none of them.
pub(super) fn insert_batch(c: &mut Connection, prepared: &[Prepared]) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for Prepared {
        trace,
        request,
        response,
    } in prepared
    {
        let rowid = insert_trace(&tx, trace)?;
        let request = request.as_ref().map(|d| store_body(&tx, d)).transpose()?;
        let response = response.as_ref().map(|d| store_body(&tx, d)).transpose()?;
        if request.is_some() || response.is_some() {
            let (req_codec, req) = split(request);
            let (resp_codec, resp) = split(response);
            tx.prepare_cached(
                "INSERT INTO trace_bodies (trace_rowid, request_codec, request, response_codec, response)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![rowid, req_codec, req, resp_codec, resp])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn split(body: Option<(Codec, Vec<u8>)>) -> (Option<i64>, Option<Vec<u8>>) {
    match body {
        Some((codec, data)) => (Some(codec.id()), Some(data)),
        None => (None, None),
    }
}

/// Inserts the scalar fields; returns the new rowid.
fn insert_trace(tx: &Transaction<'_>, t: &Trace) -> Result<i64, StoreError> {
    let metadata = t
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Backend(format!("metadata: {e}")))?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO traces (
                id, ts, upstream, provider, endpoint, method, model_requested, model,
                stream, status, outcome, error, duration_ms, ttft_ms,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens,
                cost_usd, account, client_ip, user_agent, metadata
            ) VALUES (
                ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24
            )",
        )?
        .execute(params![
            &t.id.as_bytes()[..],
            t.started_at.timestamp_millis(),
            t.upstream,
            t.provider.as_str(),
            t.endpoint,
            t.method,
            t.model_requested,
            t.model,
            t.stream,
            t.status,
            t.outcome.as_str(),
            t.error,
            finite(t.duration_ms).unwrap_or(0.0),
            t.ttft_ms.and_then(finite),
            t.usage.input_tokens.map(int),
            t.usage.output_tokens.map(int),
            t.usage.cache_read_tokens.map(int),
            t.usage.cache_write_tokens.map(int),
            int(total_tokens(&t.usage)),
            t.cost_usd.and_then(finite),
            t.account,
            t.client_ip,
            t.user_agent,
            metadata,
        ]);
    match inserted {
        Ok(_) => Ok(tx.last_insert_rowid()),
        Err(e) => match StoreError::from(e) {
            StoreError::Conflict(why) => {
                Err(StoreError::Conflict(format!("trace {}: {why}", t.id)))
            }
            other => Err(other),
        },
    }
}

/// SQLite turns NaN into NULL: a figure that is not a finite number is dropped.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// SQLite integers are signed: counts beyond `i64::MAX` are clamped.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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
