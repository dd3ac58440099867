//! The applier: reads spooled records in order and writes them to the store. A batch the
//! store refuses is kept and retried with backoff; the applied marker moves (fsynced)
//! only after the store took a batch.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracegate_core::Trace;
use tracegate_store::{StoreError, TraceStore};

use super::segment::{self, Position};
use super::{blocking, due, reader, Spool};
use crate::recorder::Writer;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) async fn apply_loop(
    spool: Arc<Spool>,
    store: Arc<dyn TraceStore>,
    mut at: Position,
    w: Writer,
    stop: CancellationToken,
) {
    let failing_logged = Mutex::new(None);
    loop {
        let ends = spool.ends.lock().clone();
        let current = *spool.current.lock();
        let dir = spool.dir.clone();
        let batch = w.batch;
        let read = match blocking(move || reader::read(&dir, &ends, at, batch)).await {
            Some(Ok(read)) => read,
            Some(Err(error)) => {
                tracing::error!(%error, "reading the trace spool failed; retrying");
                if sleep_or_stop(FIRST_BACKOFF * 10, &stop).await && done(&spool) {
                    break;
                }
                continue;
            }
            None => break,
        };
        if let Some(next) = read.next {
            let n = read.traces.len() as u64;
            if !read.traces.is_empty()
                && !apply(&*store, read.traces, &w, &stop, &spool, &failing_logged).await
            {
                // Stopped while the store refuses writes: the records stay for next time.
                break;
            }
            at = next;
            let dir = spool.dir.clone();
            if let Some(Err(error)) = blocking(move || segment::write_marker(&dir, next)).await {
                tracing::error!(%error, "writing the spool's applied marker failed");
            }
            let gone = n + read.skipped;
            let _ = w.stats.spool_records_pending.fetch_update(
                Ordering::Relaxed,
                Ordering::Relaxed,
                |p| Some(p.saturating_sub(gone)),
            );
            continue;
        }
        // Nothing to read at `at`: a finished segment is deleted, else wait for more.
        let first = spool
            .ends
            .lock()
            .range(at.seq..)
            .next()
            .map(|(s, e)| (*s, *e));
        if let Some((seq, end)) = first.filter(|(seq, _)| *seq < current) {
            let path = segment::segment_path(&spool.dir, seq);
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(%error, path = %path.display(), "deleting an applied spool segment");
            }
            spool.ends.lock().remove(&seq);
            let _ = w
                .stats
                .spool_bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some(b.saturating_sub(end))
                });
            at = Position {
                seq: seq + 1,
                offset: 0,
            };
            continue;
        }
        if done(&spool) {
            break;
        }
        tokio::select! {
            () = spool.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    tracing::debug!("trace spool applier stopped");
}

/// The spooler has ended (nothing more will come).
fn done(spool: &Spool) -> bool {
    spool.spooler_done.load(Ordering::SeqCst)
}

/// Sleeps `d` unless `stop` is cancelled first; true if stopped.
async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => false,
        () = stop.cancelled() => true,
    }
}

/// Writes `traces` to the store, retrying with backoff until it takes them. A trace id
/// already stored (a replay after a crash between the store's commit and the marker) is
/// skipped. Returns false if `stop` came while the store was refusing.
async fn apply(
    store: &dyn TraceStore,
    mut traces: Vec<Trace>,
    w: &Writer,
    stop: &CancellationToken,
    spool: &Spool,
    logged: &Mutex<Option<std::time::Instant>>,
) -> bool {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let n = traces.len() as u64;
        let written = w.timed(store.insert_batch(traces.clone())).await;
        let error = match written {
            Ok(()) => {
                w.stats.written.fetch_add(n, Ordering::Relaxed);
                w.stats.batches.fetch_add(1, Ordering::Relaxed);
                w.stats.write_ok();
                return true;
            }
            Err(StoreError::Conflict(_)) => match without_stored(store, traces.clone()).await {
                Ok(fresh) => {
                    tracing::info!(
                        skipped = traces.len() - fresh.len(),
                        "spooled traces already in the store skipped"
                    );
                    traces = fresh;
                    if traces.is_empty() {
                        w.stats.write_ok();
                        return true;
                    }
                    continue;
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        let since = w.stats.write_failed();
        if due(logged) {
            tracing::error!(%error, failing_for_secs = since.as_secs(),
                spool_records_pending = w.stats.spool_records_pending.load(Ordering::Relaxed),
                spool_bytes = w.stats.spool_bytes.load(Ordering::Relaxed),
                spool_dir = %spool.dir.display(),
                "the store refuses trace writes; traces are kept in the spool and retried");
        }
        if sleep_or_stop(backoff, stop).await {
            return false;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `traces` without those whose id is already stored, and without repeats.
async fn without_stored(
    store: &dyn TraceStore,
    traces: Vec<Trace>,
) -> Result<Vec<Trace>, StoreError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(traces.len());
    for t in traces {
        if seen.insert(t.id) && store.get(t.id).await?.is_none() {
            out.push(t);
        }
    }
    Ok(out)
}
