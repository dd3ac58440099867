//! Feedback entries: written one at a time on the writer connection, read
//! back with their trace.

use chrono::DateTime;
use rusqlite::types::Type;
use rusqlite::{params, Connection};
use tracegate_core::feedback::Feedback;
use tracegate_core::TraceId;
use uuid::Uuid;

use crate::error::StoreError;

/// Stores `f` on its trace; [`StoreError::NotFound`] when the trace is not stored.
pub(super) fn insert(c: &Connection, f: &Feedback) -> Result<(), StoreError> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO feedback (id, trace_rowid, ts, score, comment, source)
             SELECT ?1, t.rowid, ?2, ?3, ?4, ?5 FROM traces t WHERE t.id = ?6",
        )?
        .execute(params![
            &f.id.as_bytes()[..],
            f.created_at.timestamp_millis(),
            f.score,
            f.comment,
            f.source,
            &f.trace_id.as_bytes()[..],
        ])
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(why) => StoreError::Conflict(format!("feedback {}: {why}", f.id)),
            other => other,
        })?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The entries of the trace at `trace_rowid`, oldest first.
pub(super) fn of_trace(
    c: &Connection,
    trace_rowid: i64,
    trace_id: TraceId,
) -> Result<Vec<Feedback>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, ts, score, comment, source FROM feedback
         WHERE trace_rowid = ?1 ORDER BY ts, rowid",
    )?;
    let rows = stmt.query_map([trace_rowid], |r| {
        let id: Vec<u8> = r.get(0)?;
        let ts: i64 = r.get(1)?;
        Ok(Feedback {
            id: Uuid::from_slice(&id).map_err(|e| bad(0, Type::Blob, e))?,
            trace_id,
            created_at: DateTime::from_timestamp_millis(ts)
                .ok_or_else(|| bad(1, Type::Integer, format!("timestamp {ts}")))?,
            score: r.get(2)?,
            comment: r.get(3)?,
            source: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn bad(
    i: usize,
    ty: Type,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, ty, e.into())
}
