//! The durable spool between the recorder's queue and the store: every finished trace is
//! appended to a local segment file (group commit: one write and at most one fsync for
//! all the traces the queue holds) before the writer applies it to the store. Records
//! are applied in order; a batch the store refuses is kept and retried with backoff; a
//! segment fully applied is deleted. After a crash the records past the applied marker
//! are replayed (a trace id already stored is skipped).
//!
//! Two tasks, both on the gateway's tracker: the spooler (queue to disk) and the applier
//! (disk to store).

pub mod acks;
mod apply;
pub mod reader;
pub mod record;
pub mod segment;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_core::Trace;
use tracegate_store::TraceStore;

use crate::recorder::{queued_bytes, RecorderStats, Writer};
use segment::{Appender, Position, SEGMENT_BYTES};

/// Where the spool lives and how much it may hold.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Bytes of segment files at most; past it new traces are counted as lost.
    pub max_bytes: u64,
    /// Appended records are fsynced at least this often.
    pub sync_every: Duration,
    /// `sync` durability: the traces waited for, each batch holding one fsynced at once.
    pub acks: Option<Arc<acks::Acks>>,
}

/// What the spooler and the applier share.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes readable in each segment present (written completely), by sequence number.
    ends: Mutex<BTreeMap<u64, u64>>,
    /// The segment being appended to: every one before it is complete.
    current: Mutex<u64>,
    stats: Arc<RecorderStats>,
    /// Rung when records are appended.
    wake: Notify,
    /// The spooler has ended: nothing more will be appended.
    spooler_done: AtomicBool,
    /// Last time a loud warning about the quota was logged.
    quota_logged: Mutex<Option<Instant>>,
    /// Responses waiting for their trace's fsync (`sync` durability).
    acks: Option<Arc<acks::Acks>>,
}

/// How often a repeated condition (quota reached, store failing) is logged.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

/// Whether `last` is long enough ago to log again (and notes now if so).
pub(crate) fn due(last: &Mutex<Option<Instant>>) -> bool {
    let mut last = last.lock();
    if last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    true
}

/// Opens the spool in `config.dir` (creating it), finds what is left to apply from an
/// earlier run, and starts the spooler and the applier on `tracker`. Returns the queue's
/// sending half.
pub(crate) fn start(
    config: &SpoolConfig,
    store: Arc<dyn TraceStore>,
    rx: mpsc::Receiver<Trace>,
    writer: Writer,
    tracker: &TaskTracker,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let (spool, appender, from) = open(config, writer.stats.clone())?;
    let spool = Arc::new(spool);
    let batch = writer.batch;
    tracker.spawn(spool_loop(
        spool.clone(),
        appender,
        rx,
        batch,
        config.sync_every,
        stop.clone(),
    ));
    tracker.spawn(apply::apply_loop(spool, store, from, writer, stop));
    Ok(())
}

fn open(
    config: &SpoolConfig,
    stats: Arc<RecorderStats>,
) -> std::io::Result<(Spool, Appender, Position)> {
    let dir = config.dir.clone();
    std::fs::create_dir_all(&dir)?;
    let mut ends = segment::list(&dir)?;
    let from = segment::read_marker(&dir).unwrap_or(Position {
        seq: ends.keys().next().copied().unwrap_or(0),
        offset: 0,
    });
    // Segments before the marker's were applied; a crash came before their deletion.
    for seq in ends.range(..from.seq).map(|(s, _)| *s).collect::<Vec<_>>() {
        std::fs::remove_file(segment::segment_path(&dir, seq))?;
        ends.remove(&seq);
    }
    let mut pending = 0;
    for (&seq, &end) in &ends {
        let offset = if seq == from.seq { from.offset } else { 0 };
        pending += segment::count_records(&dir, seq, offset, end)?;
    }
    let next = ends
        .keys()
        .next_back()
        .map_or(from.seq, |s| s.max(&from.seq) + 1);
    let appender = Appender::create(&dir, next)?;
    ends.insert(next, 0);
    let bytes: u64 = ends.values().sum();
    stats.spool_bytes.store(bytes, Ordering::Relaxed);
    stats
        .spool_records_pending
        .store(pending, Ordering::Relaxed);
    if pending > 0 {
        tracing::warn!(records = pending, bytes, dir = %dir.display(),
            "spool holds traces not yet in the store; replaying them");
    }
    let spool = Spool {
        dir,
        max_bytes: config.max_bytes,
        ends: Mutex::new(ends),
        current: Mutex::new(next),
        stats,
        wake: Notify::new(),
        spooler_done: AtomicBool::new(false),
        quota_logged: Mutex::new(None),
        acks: config.acks.clone(),
    };
    Ok((spool, appender, from))
}

/// The spooler: takes traces off the queue and appends them, fsyncing at least every
/// `sync_every`. At stop it appends what is queued, fsyncs and ends.
async fn spool_loop(
    spool: Arc<Spool>,
    appender: Appender,
    mut rx: mpsc::Receiver<Trace>,
    batch: usize,
    sync_every: Duration,
    stop: CancellationToken,
) {
    let mut w = SpoolWriter {
        appender: Some(appender),
        synced: Instant::now(),
        dirty: false,
        sync_every,
    };
    let mut buf = Vec::with_capacity(batch);
    let mut tick = tokio::time::interval(sync_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut buf, batch) => {
                if n == 0 {
                    break;
                }
                w = append(&spool, w, std::mem::take(&mut buf)).await;
            }
            _ = tick.tick(), if w.dirty => {
                w = blocking(move || { w.sync(); w }).await.unwrap_or_else(SpoolWriter::lost);
            }
            () = stop.cancelled() => {
                rx.close();
                while rx.recv_many(&mut buf, batch).await > 0 {
                    w = append(&spool, w, std::mem::take(&mut buf)).await;
                }
                break;
            }
        }
    }
    let _ = blocking(move || w.sync()).await;
    spool.spooler_done.store(true, Ordering::SeqCst);
    spool.wake.notify_one();
    tracing::debug!("trace spooler drained and stopped");
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// The spooler's segment and when it was last fsynced.
#[derive(Debug)]
struct SpoolWriter {
    /// `None` after a failure to begin a new segment: traces cannot be spooled.
    appender: Option<Appender>,
    synced: Instant,
    dirty: bool,
    sync_every: Duration,
}

impl SpoolWriter {
    fn lost() -> SpoolWriter {
        SpoolWriter {
            appender: None,
            synced: Instant::now(),
            dirty: false,
            sync_every: Duration::from_millis(100),
        }
    }

    fn sync(&mut self) {
        if let Some(a) = &self.appender {
            if let Err(error) = a.sync() {
                tracing::error!(%error, "fsync of the trace spool failed");
            }
        }
        self.synced = Instant::now();
        self.dirty = false;
    }
}

async fn append(spool: &Arc<Spool>, w: SpoolWriter, traces: Vec<Trace>) -> SpoolWriter {
    let s = spool.clone();
    blocking(move || {
        let w = append_blocking(&s, w, &traces);
        // Resolved whatever happened: a trace lost to the quota or a write error is counted,
        // and its response is not held for it.
        if let Some(acks) = &s.acks {
            acks.resolve(traces.iter().map(|t| &t.id));
        }
        w
    })
    .await
    .unwrap_or_else(SpoolWriter::lost)
}

/// Encodes `traces` (those the quota allows), writes them in one write, fsyncs if due
/// (at once when a response waits for one of them), and begins a new segment if this one is full.
fn append_blocking(spool: &Spool, mut w: SpoolWriter, traces: &[Trace]) -> SpoolWriter {
    let stats = &spool.stats;
    let held = stats.spool_bytes.load(Ordering::Relaxed);
    let mut buf = Vec::new();
    let (mut kept, mut lost) = (0u64, 0u64);
    for t in traces {
        stats
            .queue_bytes
            .fetch_sub(queued_bytes(t), Ordering::Relaxed);
        let before = buf.len();
        if let Err(error) = record::encode(t, &mut buf) {
            tracing::error!(trace_id = %t.id, %error, "trace cannot be spooled; dropped");
            buf.truncate(before);
            stats.dropped_store_error.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if held + buf.len() as u64 > spool.max_bytes {
            buf.truncate(before);
            lost += 1;
        } else {
            kept += 1;
        }
    }
    if lost > 0 {
        let total = stats.spool_lost_quota.fetch_add(lost, Ordering::Relaxed) + lost;
        if due(&spool.quota_logged) {
            tracing::error!(
                lost_total = total,
                spool_bytes = held,
                max_bytes = spool.max_bytes,
                "trace spool is at its quota (the store is behind or down); new traces are lost"
            );
        }
    }
    let Some(appender) = w.appender.as_mut() else {
        stats.dropped_store_error.fetch_add(kept, Ordering::Relaxed);
        tracing::error!(
            lost = kept,
            "trace spool has no segment to write to; traces dropped"
        );
        return w;
    };
    if kept == 0 {
        return w;
    }
    if let Err(error) = appender.write(&buf) {
        stats.dropped_store_error.fetch_add(kept, Ordering::Relaxed);
        tracing::error!(%error, lost = kept, "writing the trace spool failed; traces dropped");
        // What this write left in the segment is past its readable end; begin anew.
        rotate(spool, &mut w);
        return w;
    }
    let (seq, len) = (appender.seq, appender.len);
    w.dirty = true;
    let waited = spool
        .acks
        .as_ref()
        .is_some_and(|a| a.any_waiting(traces.iter().map(|t| &t.id)));
    if waited || w.synced.elapsed() >= w.sync_every {
        w.sync();
    }
    spool.ends.lock().insert(seq, len);
    stats
        .spool_bytes
        .fetch_add(buf.len() as u64, Ordering::Relaxed);
    stats
        .spool_records_pending
        .fetch_add(kept, Ordering::Relaxed);
    if len >= SEGMENT_BYTES {
        w.sync();
        rotate(spool, &mut w);
    }
    spool.wake.notify_one();
    w
}

/// Begins the next segment.
fn rotate(spool: &Spool, w: &mut SpoolWriter) {
    let seq = w.appender.as_ref().map_or(0, |a| a.seq) + 1;
    match Appender::create(&spool.dir, seq) {
        Ok(a) => {
            spool.ends.lock().insert(seq, 0);
            *spool.current.lock() = seq;
            w.appender = Some(a);
        }
        Err(error) => {
            tracing::error!(%error, "cannot begin a new trace spool segment");
            w.appender = None;
        }
    }
}

#[cfg(test)]
mod tests;
