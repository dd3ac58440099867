//! Writing traces: one transaction per batch. Bodies are split and stored
//! once (see the `body` module), and everything the analytics read is kept
//! current in the same transaction: conversation links and totals, the
//! full-text index and the rollups.
//!
//! The CPU work (splitting and hashing bodies, parsing them for link keys and
//! text, summing the rollups) happens in [`prepare`], before the write lock
//! is taken; the lock is held for lookups, linking and the writes.

mod bodies;
pub(super) mod bounded;
mod conversations;
mod fts;
mod links;
mod relink;
mod rollups;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use tracegate_core::conversation::{LinkedTrace, DEFAULT_MAX_TRACES, DEFAULT_TASK_WINDOW_MS};
use tracegate_core::Trace;

use crate::body::{decompose_request, decompose_response, Decomposed, Encoder, ParsedBody};
use crate::error::StoreError;
use crate::model::total_tokens;
use conversations::Conversations;
use links::{LinkInput, StoreLinker};
use rollups::Rollups;

/// Page cache of the writer connection, in KiB (SQLite's default is 2 MiB):
/// the pages a batch goes back to (index edges, the newest full-text
/// segments, rollup rows) stay in memory from one batch to the next. 64 MiB
/// wrote no faster (BENCHMARKS.md) and was most of the gateway's memory.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Pages written to the WAL between automatic checkpoints (SQLite's default
/// is 1000): a page that several batches rewrite is copied back once.
/// 8192 pages (32 MiB at 4 KiB) stay below the WAL size limit.
const AUTOCHECKPOINT_PAGES: i64 = 8192;

/// A trace with its bodies split and its analytics inputs computed.
struct Prepared {
    trace: Trace,
    id: String,
    request: Option<Decomposed>,
    response: Option<Decomposed>,
    link: Option<LinkInput>,
    text: String,
}

/// A batch ready to be written.
pub(super) struct Batch {
    traces: Vec<Prepared>,
    rollups: Rollups,
}

/// Prepares a batch for writing. Pure CPU work: runs on a blocking thread
/// before the writer connection is taken.
pub(super) fn prepare(
    traces: Vec<Trace>,
    bounds: &bounded::DimensionBounds,
) -> Result<Batch, StoreError> {
    let mut rollups = Rollups::default();
    let traces = traces
        .into_iter()
        .map(|trace| {
            // Each body is parsed once: read for links and text, then split.
            let request_body = ParsedBody::parse(&trace.request_body);
            let response_body = ParsedBody::parse(&trace.response_body);
            let (request_json, response_json) = (request_body.json(), response_body.json());
            let link = LinkInput::of(&trace, request_json, response_json);
            let text = fts::document(&trace, request_json, response_json);
            let request = decompose_request(request_body)?;
            let response = decompose_response(response_body)?;
            rollups.add(&trace, bounds);
            Ok(Prepared {
                id: trace.id.to_string(),
                link,
                text,
                trace,
                request,
                response,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Batch { traces, rollups })
}

/// The writer connection and the conversation linker that goes with it.
pub(super) struct Writer {
    pub(super) conn: Connection,
    /// Compresses blobs and skeletons, one zstd context for every batch.
    encoder: Encoder,
    /// `None` when it must be rebuilt from the database before the next batch.
    linker: Option<StoreLinker>,
    /// Traces the linker remembers.
    capacity: usize,
    /// The linker's sub-task window.
    task_window_ms: i64,
}

impl Writer {
    /// Wraps a migrated connection, rebuilding the linker from what is stored.
    pub(super) fn new(conn: Connection) -> Result<Writer, StoreError> {
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        let linker = StoreLinker::rebuild(&conn, DEFAULT_MAX_TRACES, DEFAULT_TASK_WINDOW_MS)?;
        Ok(Writer {
            conn,
            encoder: Encoder::new()?,
            linker: Some(linker),
            capacity: DEFAULT_MAX_TRACES,
            task_window_ms: DEFAULT_TASK_WINDOW_MS,
        })
    }

    /// Makes the linker remember `capacity` traces, rebuilding it.
    #[cfg(test)]
    pub(super) fn set_linker_capacity(&mut self, capacity: usize) -> Result<(), StoreError> {
        self.linker = Some(StoreLinker::rebuild(
            &self.conn,
            capacity,
            self.task_window_ms,
        )?);
        self.capacity = capacity;
        Ok(())
    }

    /// Sets the linker's sub-task window, rebuilding it.
    pub(super) fn set_task_window_ms(&mut self, window_ms: i64) -> Result<(), StoreError> {
        self.linker = Some(StoreLinker::rebuild(&self.conn, self.capacity, window_ms)?);
        self.task_window_ms = window_ms;
        Ok(())
    }

    /// Recomputes the links of the traces started at or after `since_ms` (see
    /// `relink`), then rebuilds the linker from the result.
    pub(super) fn relink(
        &mut self,
        since_ms: Option<i64>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<crate::model::RelinkReport, StoreError> {
        self.linker = None;
        let report = relink::relink(
            &mut self.conn,
            self.capacity,
            self.task_window_ms,
            since_ms,
            progress,
        )?;
        self.linker = Some(StoreLinker::rebuild(
            &self.conn,
            self.capacity,
            self.task_window_ms,
        )?);
        Ok(report)
    }

    /// Writes every trace of the batch in one transaction, or none of them. A trace whose
    /// id is already stored (or repeated in the batch) is skipped, with everything that
    /// depends on it (rollups, links, full text): a replay stores nothing twice.
    pub(super) fn insert_batch(
        &mut self,
        batch: &Batch,
        bounds: &bounded::DimensionBounds,
    ) -> Result<(), StoreError> {
        let mut linker = match self.linker.take() {
            Some(linker) => linker,
            None => StoreLinker::rebuild(&self.conn, self.capacity, self.task_window_ms)?,
        };
        let written = write(
            &mut self.conn,
            &mut linker,
            &mut self.encoder,
            batch,
            bounds,
        );
        self.linker = match written {
            Ok(()) => Some(linker),
            // The linker may remember traces that were rolled back.
            Err(_) => StoreLinker::rebuild(&self.conn, self.capacity, self.task_window_ms)
                .inspect_err(|e| tracing::warn!(error = %e, "rebuilding the conversation linker"))
                .ok(),
        };
        written
    }
}

fn write(
    c: &mut Connection,
    linker: &mut StoreLinker,
    enc: &mut Encoder,
    batch: &Batch,
    bounds: &bounded::DimensionBounds,
) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh = fresh(&tx, &batch.traces)?;
    let recomputed;
    let rollups = if fresh.iter().all(|f| *f) {
        &batch.rollups
    } else {
        let mut r = Rollups::default();
        for (p, _) in batch.traces.iter().zip(&fresh).filter(|(_, f)| **f) {
            r.add(&p.trace, bounds);
        }
        recomputed = r;
        &recomputed
    };
    let mut conversations = Conversations::default();
    for (p, _) in batch.traces.iter().zip(&fresh).filter(|(_, f)| **f) {
        let linked = p
            .link
            .as_ref()
            .map(|input| {
                let at = (
                    p.trace.started_at.timestamp_millis(),
                    p.trace.account.as_deref(),
                );
                linker.link(&tx, at, &p.id, input, &conversations)
            })
            .transpose()?;
        let rowid = insert_trace(&tx, &p.trace, linked.as_ref())?;
        bodies::store(&tx, enc, rowid, p.request.as_ref(), p.response.as_ref())?;
        if let (Some(input), Some(linked)) = (&p.link, &linked) {
            input.insert(&tx, rowid)?;
            conversations.add(&p.trace, &p.id, linked);
        }
        fts::insert(&tx, rowid, &p.text)?;
    }
    conversations.flush(&tx)?;
    rollups.flush(&tx)?;
    tx.commit()?;
    Ok(())
}

/// For each trace, whether it is new: its id neither stored nor earlier in the batch.
fn fresh(tx: &Transaction<'_>, traces: &[Prepared]) -> Result<Vec<bool>, StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut stmt = tx.prepare_cached("SELECT 1 FROM traces WHERE id = ?1")?;
    traces
        .iter()
        .map(|p| {
            let stored = stmt.exists(params![&p.trace.id.as_bytes()[..]])?;
            Ok(!stored && seen.insert(p.trace.id))
        })
        .collect()
}

/// Inserts the scalar fields and the link; returns the new rowid.
fn insert_trace(
    tx: &Transaction<'_>,
    t: &Trace,
    linked: Option<&LinkedTrace>,
) -> Result<i64, StoreError> {
    let metadata = t
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Backend(format!("metadata: {e}")))?;
    let attempts = if t.attempts.is_empty() {
        None
    } else {
        Some(
            serde_json::to_string(&t.attempts)
                .map_err(|e| StoreError::Backend(format!("attempts: {e}")))?,
        )
    };
    let inserted = tx
        .prepare_cached(
            "INSERT INTO traces (
                id, ts, upstream, provider, endpoint, method, model_requested, model,
                stream, status, outcome, error, duration_ms, ttft_ms,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens,
                cost_usd, account, client_ip, user_agent, metadata,
                conversation_id, parent_id, branch, link_kind, model_eff, cache_saved_usd,
                attempts
            ) VALUES (
                ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30,
                ?31
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
            linked.map(|l| &l.conversation_id),
            linked
                .and_then(|l| l.parent_trace.as_ref())
                .map(|p| &p.trace_id),
            linked.map(|l| l.branch),
            linked.map(|l| l.kind.as_str()),
            t.effective_model(),
            t.cache_saved_usd.and_then(finite),
            attempts,
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

#[cfg(test)]
mod tests;
