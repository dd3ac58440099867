//! Reading traces back: summaries, whole traces with rebuilt bodies, sizes.

use std::path::Path;

use chrono::DateTime;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;
use tracegate_core::{Outcome, Provider, TraceId};
use uuid::Uuid;

use crate::body::{decode, Codec, Hash, Parts, Skeleton};
use crate::error::StoreError;
use crate::model::{StorageStats, TraceDetail, TraceSummary};

/// The summary columns, in the order [`summary`] reads them.
pub(super) const SUMMARY_COLUMNS: &str = "t.id, t.ts, t.upstream, t.provider, t.endpoint, t.method,
    t.model_requested, t.model, t.stream, t.status, t.outcome, t.error, t.duration_ms, t.ttft_ms,
    t.input_tokens, t.output_tokens, t.cache_read_tokens, t.cache_write_tokens, t.total_tokens,
    t.cost_usd, t.account, t.client_ip, t.user_agent, t.metadata,
    t.conversation_id, t.parent_id, t.branch, t.link_kind, t.cache_saved_usd";
/// How many columns [`SUMMARY_COLUMNS`] has.
pub(super) const SUMMARY_LEN: usize = 29;

/// Newest first, at most `limit`.
pub(super) fn recent(c: &Connection, limit: u32) -> Result<Vec<TraceSummary>, StoreError> {
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM traces t ORDER BY t.ts DESC, t.rowid DESC LIMIT ?1");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit], summary)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One trace with its bodies rebuilt.
pub(super) fn get(c: &Connection, id: TraceId) -> Result<Option<TraceDetail>, StoreError> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.request_codec, b.request, b.response_codec, b.response,
                t.rowid, t.attempts
         FROM traces t LEFT JOIN trace_bodies b ON b.trace_rowid = t.rowid
         WHERE t.id = ?1"
    );
    let found = c
        .prepare_cached(&sql)?
        .query_row([&id.as_bytes()[..]], |row| {
            let n = SUMMARY_LEN;
            Ok((
                summary(row)?,
                (
                    row.get::<_, Option<i64>>(n)?,
                    row.get::<_, Option<Vec<u8>>>(n + 1)?,
                ),
                (
                    row.get::<_, Option<i64>>(n + 2)?,
                    row.get::<_, Option<Vec<u8>>>(n + 3)?,
                ),
                row.get::<_, i64>(n + 4)?,
                row.get::<_, Option<String>>(n + 5)?,
            ))
        })
        .optional()?;
    let Some((summary, request, response, rowid, attempts)) = found else {
        return Ok(None);
    };
    let attempts = match attempts {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Backend(format!("attempts of {}: {e}", summary.id)))?,
        None => Vec::new(),
    };
    Ok(Some(TraceDetail {
        attempts,
        feedback: super::feedback::of_trace(c, rowid, summary.id)?,
        summary,
        request_body: body(c, request)?,
        response_body: body(c, response)?,
    }))
}

/// Rebuilds one body from its stored skeleton; null when there was none.
pub(super) fn body(
    c: &Connection,
    (codec, data): (Option<i64>, Option<Vec<u8>>),
) -> Result<Value, StoreError> {
    let (Some(codec), Some(data)) = (codec, data) else {
        return Ok(Value::Null);
    };
    let skeleton = Skeleton::parse(&decode(Codec::from_id(codec)?, data, None)?)?;
    let mut parts = Parts::default();
    for hash in skeleton.blob_refs() {
        let raw = blob(c, &hash)?;
        parts.blobs.insert(hash, raw);
    }
    for (head, len) in skeleton.chain_refs() {
        let messages = chain(c, &head, len)?;
        parts.chains.insert(head, messages);
    }
    skeleton.assemble(&parts)
}

/// One blob's raw content.
fn blob(c: &Connection, hash: &Hash) -> Result<Vec<u8>, StoreError> {
    let (codec, size, data) = c
        .prepare_cached("SELECT codec, size, data FROM blobs WHERE hash = ?1")?
        .query_row([&hash.as_bytes()[..]], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .optional()?
        .ok_or_else(|| StoreError::corrupt(format!("missing blob {hash:?}")))?;
    decode(Codec::from_id(codec)?, data, Some(size))
}

/// The raw messages of the chain ending at `head`, oldest first.
fn chain(c: &Connection, head: &Hash, len: u32) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut stmt = c.prepare_cached(
        "WITH RECURSIVE chain (hash, parent, blob, depth) AS (
             SELECT hash, parent, blob, 0 FROM msg_nodes WHERE hash = ?1
             UNION ALL
             SELECT n.hash, n.parent, n.blob, c.depth + 1
             FROM chain c JOIN msg_nodes n ON n.hash = c.parent
             WHERE c.depth + 1 < ?2
         )
         SELECT c.parent IS NULL, b.codec, b.size, b.data
         FROM chain c LEFT JOIN blobs b ON b.hash = c.blob
         ORDER BY c.depth DESC",
    )?;
    let rows = stmt.query_map(rusqlite::params![&head.as_bytes()[..], len], |r| {
        Ok((
            r.get::<_, bool>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<Vec<u8>>>(3)?,
        ))
    })?;
    let mut out = Vec::with_capacity(len as usize);
    for row in rows {
        let (is_root, codec, size, data) = row?;
        if out.is_empty() && !is_root {
            return Err(StoreError::corrupt(format!(
                "chain {head:?} longer than {len}"
            )));
        }
        let (Some(codec), Some(data)) = (codec, data) else {
            return Err(StoreError::corrupt(format!(
                "chain {head:?} misses a message blob"
            )));
        };
        out.push(decode(Codec::from_id(codec)?, data, size)?);
    }
    if out.len() != len as usize {
        return Err(StoreError::corrupt(format!(
            "chain {head:?} has {} of {len} messages",
            out.len()
        )));
    }
    Ok(out)
}

/// Sizes: the database files, the body tables (via `dbstat`), the trace count.
pub(super) fn stats(c: &Connection, path: Option<&Path>) -> Result<StorageStats, StoreError> {
    let trace_count: i64 = c.query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))?;
    let body_bytes: i64 = c.query_row(
        "SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d
         JOIN sqlite_schema s ON s.name = d.name
         WHERE s.tbl_name IN ('blobs', 'msg_nodes', 'trace_bodies')",
        [],
        |r| r.get(0),
    )?;
    let total_bytes = match path {
        Some(path) => {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            file_len(path)? + file_len(Path::new(&wal))?
        }
        None => {
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page_size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0)
        }
    };
    Ok(StorageStats {
        total_bytes,
        body_bytes: u64::try_from(body_bytes).unwrap_or(0),
        trace_count: u64::try_from(trace_count).unwrap_or(0),
    })
}

/// Size of a file, 0 when it does not exist.
fn file_len(path: &Path) -> Result<u64, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::Unavailable(format!("{}: {e}", path.display()))),
    }
}

/// Reads the [`SUMMARY_COLUMNS`] of a row.
pub(super) fn summary(r: &Row<'_>) -> rusqlite::Result<TraceSummary> {
    let id: Vec<u8> = r.get(0)?;
    let ts: i64 = r.get(1)?;
    let provider: String = r.get(3)?;
    let outcome: String = r.get(10)?;
    let metadata: Option<String> = r.get(23)?;
    Ok(TraceSummary {
        id: Uuid::from_slice(&id).map_err(|e| bad(0, Type::Blob, e))?,
        started_at: DateTime::from_timestamp_millis(ts)
            .ok_or_else(|| bad(1, Type::Integer, format!("timestamp {ts}")))?,
        upstream: r.get(2)?,
        provider: Provider::parse(&provider)
            .ok_or_else(|| bad(3, Type::Text, format!("provider {provider}")))?,
        endpoint: r.get(4)?,
        method: r.get(5)?,
        model_requested: r.get(6)?,
        model: r.get(7)?,
        stream: r.get(8)?,
        status: r.get(9)?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| bad(10, Type::Text, format!("outcome {outcome}")))?,
        error: r.get(11)?,
        duration_ms: r.get(12)?,
        ttft_ms: r.get(13)?,
        input_tokens: count(r, 14)?,
        output_tokens: count(r, 15)?,
        cache_read_tokens: count(r, 16)?,
        cache_write_tokens: count(r, 17)?,
        total_tokens: count(r, 18)?.unwrap_or(0),
        cost_usd: r.get(19)?,
        account: r.get(20)?,
        client_ip: r.get(21)?,
        user_agent: r.get(22)?,
        metadata: metadata
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| bad(23, Type::Text, e))?,
        conversation_id: r.get(24)?,
        parent_id: r.get(25)?,
        branch: r
            .get::<_, Option<i64>>(26)?
            .map(|b| u32::try_from(b).map_err(|e| bad(26, Type::Integer, e)))
            .transpose()?,
        link_kind: r.get(27)?,
        cache_saved_usd: r.get(28)?,
    })
}

/// A token count column: non-negative or NULL.
fn count(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    r.get::<_, Option<i64>>(i)?
        .map(|v| u64::try_from(v).map_err(|e| bad(i, Type::Integer, e)))
        .transpose()
}

fn bad(
    i: usize,
    ty: Type,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, ty, e.into())
}
