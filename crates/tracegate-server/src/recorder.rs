//! The recorder: a bounded queue between the proxy and a background writer that inserts
//! traces in batches, one transaction per batch. The proxy never waits on the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_core::Trace;
use tracegate_store::TraceStore;

use crate::otlp::{OtlpSink, OtlpSnapshot, OtlpStats};

/// Counters of what happened to traces. Every trace lost is counted here and logged.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub queued: AtomicU64,
    /// Bytes the traces waiting in the queue and being written hold now (see
    /// [`queued_bytes`]).
    pub queue_bytes: AtomicU64,
    pub written: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_store_error: AtomicU64,
    pub batches: AtomicU64,
    /// How long the last batch took to write, in microseconds.
    pub last_batch_us: AtomicU64,
    /// The longest batch write so far, in microseconds.
    pub max_batch_us: AtomicU64,
    /// Every batch write (failed ones too) added up, in microseconds.
    pub total_batch_us: AtomicU64,
    /// Batch writes timed (written and failed).
    pub timed_batches: AtomicU64,
    /// Traces recorded with usage but without a cost: no price for their model.
    pub unpriced: AtomicU64,
    /// The OpenTelemetry export's own counters (all zero when it is off).
    pub otlp: Arc<OtlpStats>,
    /// Bytes of the spool's segment files (0 without a spool).
    pub spool_bytes: AtomicU64,
    /// Spooled traces not yet applied to the store.
    pub spool_records_pending: AtomicU64,
    /// Traces lost because the spool was at its quota.
    pub spool_lost_quota: AtomicU64,
    /// When the store began refusing writes, in ms since the Unix epoch; 0 while it
    /// takes them.
    pub write_failing_since_ms: AtomicU64,
    /// `/ready` answers 503 once writes have failed for longer than this (ms).
    pub ready_write_timeout_ms: AtomicU64,
}

#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RecorderSnapshot {
    pub queued: u64,
    pub queue_bytes: u64,
    pub written: u64,
    pub dropped_queue_full: u64,
    pub dropped_store_error: u64,
    pub batches: u64,
    /// Write latency of the last batch, in microseconds.
    pub last_batch_us: u64,
    /// The longest batch write, in microseconds.
    pub max_batch_us: u64,
    /// The mean batch write, in microseconds (0 before the first).
    pub avg_batch_us: u64,
    /// Traces recorded with usage but `cost_usd` null: no price for their model.
    pub unpriced: u64,
    #[serde(flatten)]
    pub otlp: OtlpSnapshot,
    /// Bytes of the durable spool's segment files (0 in `memory` mode).
    pub spool_bytes: u64,
    /// Spooled traces not yet in the store.
    pub spool_records_pending: u64,
    /// Traces lost because the spool was at `spool_max_bytes`.
    pub spool_lost_quota: u64,
    /// How long the store has been refusing trace writes, in ms (0 while it takes them).
    pub write_failing_ms: u64,
}

impl RecorderStats {
    pub fn snapshot(&self) -> RecorderSnapshot {
        RecorderSnapshot {
            queued: self.queued.load(Ordering::Relaxed),
            queue_bytes: self.queue_bytes.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_store_error: self.dropped_store_error.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            last_batch_us: self.last_batch_us.load(Ordering::Relaxed),
            max_batch_us: self.max_batch_us.load(Ordering::Relaxed),
            avg_batch_us: self
                .total_batch_us
                .load(Ordering::Relaxed)
                .checked_div(self.timed_batches.load(Ordering::Relaxed))
                .unwrap_or(0),
            unpriced: self.unpriced.load(Ordering::Relaxed),
            otlp: self.otlp.snapshot(),
            spool_bytes: self.spool_bytes.load(Ordering::Relaxed),
            spool_records_pending: self.spool_records_pending.load(Ordering::Relaxed),
            spool_lost_quota: self.spool_lost_quota.load(Ordering::Relaxed),
            write_failing_ms: self.write_failing_for().map_or(0, |d| {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
            }),
        }
    }

    /// Notes that the store took a batch.
    pub fn write_ok(&self) {
        self.write_failing_since_ms.store(0, Ordering::Relaxed);
    }

    /// Notes that the store refused a batch; returns how long it has been refusing.
    pub fn write_failed(&self) -> std::time::Duration {
        let now = now_ms();
        let _ = self.write_failing_since_ms.compare_exchange(
            0,
            now,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.write_failing_for().unwrap_or_default()
    }

    /// How long the store has been refusing writes, if it is.
    pub fn write_failing_for(&self) -> Option<std::time::Duration> {
        match self.write_failing_since_ms.load(Ordering::Relaxed) {
            0 => None,
            since => Some(std::time::Duration::from_millis(
                now_ms().saturating_sub(since),
            )),
        }
    }

    /// Notes how long one batch write took.
    pub fn time_batch(&self, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_batch_us.store(us, Ordering::Relaxed);
        self.max_batch_us.fetch_max(us, Ordering::Relaxed);
        self.total_batch_us.fetch_add(us, Ordering::Relaxed);
        self.timed_batches.fetch_add(1, Ordering::Relaxed);
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis())
        .unwrap_or(0)
        .max(1)
}

/// How much the queue between the proxy and the writer may hold.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Traces waiting.
    pub traces: usize,
    /// Bytes the waiting traces and the batch being written hold together (bodies and a
    /// fixed allowance each): agent requests carry whole conversations, so a count alone
    /// does not bound memory.
    pub bytes: u64,
    /// Most traces per write transaction.
    pub batch: usize,
}

/// What a queued trace is counted as against [`QueueLimits::bytes`]: every byte it holds
/// that a client or an upstream chose (bodies, metadata as serialized, user agent, error
/// text, account, models, path, ...) plus an allowance for the fixed-size fields.
pub fn queued_bytes(t: &Trace) -> u64 {
    const FIELDS: u64 = 1024;
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let strings = [
        &t.upstream,
        &t.model_requested,
        &t.model,
        &t.error,
        &t.account,
        &t.client_ip,
        &t.user_agent,
    ]
    .into_iter()
    .map(text)
    .sum::<usize>()
        + t.endpoint.len()
        + t.method.len();
    let metadata = t.metadata.as_ref().map_or(0, serialized_len);
    (t.request_body.len() + t.response_body.len() + strings + metadata) as u64 + FIELDS
}

/// The length of `v` as JSON, counted without building the text.
fn serialized_len(v: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    match serde_json::to_writer(&mut n, v) {
        Ok(()) => n.0,
        Err(_) => 0,
    }
}

/// The proxy's handle: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Trace>,
    max_bytes: u64,
    stats: Arc<RecorderStats>,
    /// Where finished traces also go as OpenTelemetry spans, if configured.
    otlp: Option<OtlpSink>,
    /// Where a summary of each queued trace is published (the live feed), if any.
    live: Option<Arc<dyn crate::live::LivePublisher>>,
}

impl Recorder {
    /// Starts the writer on `tracker`. It runs until every `Recorder` clone is dropped or
    /// `stop` is cancelled, then writes everything still queued and ends.
    pub fn start(
        store: Arc<dyn TraceStore>,
        limits: QueueLimits,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> Recorder {
        Self::start_timed(store, limits, tracker, stop, metrics::Histogram::noop())
    }

    /// [`Recorder::start`], with each batch write's duration in seconds recorded in
    /// `batch_seconds`.
    pub fn start_timed(
        store: Arc<dyn TraceStore>,
        limits: QueueLimits,
        tracker: &TaskTracker,
        stop: CancellationToken,
        batch_seconds: metrics::Histogram,
    ) -> Recorder {
        let (tx, rx) = mpsc::channel(limits.traces);
        let stats = Arc::new(RecorderStats::default());
        let writer = Writer {
            batch: limits.batch,
            stats: stats.clone(),
            batch_seconds,
        };
        tracker.spawn(write_loop(store, rx, writer, stop));
        Recorder {
            tx,
            max_bytes: limits.bytes,
            stats,
            otlp: None,
            live: None,
        }
    }

    /// [`Recorder::start_timed`] with the durable spool between the queue and the store
    /// (see [`crate::spool`]): opens it (replaying what an earlier run left) and starts
    /// the spooler and the applier on `tracker`.
    pub fn start_spooled(
        store: Arc<dyn TraceStore>,
        limits: QueueLimits,
        spool: &crate::spool::SpoolConfig,
        tracker: &TaskTracker,
        stop: CancellationToken,
        batch_seconds: metrics::Histogram,
    ) -> std::io::Result<Recorder> {
        let (tx, rx) = mpsc::channel(limits.traces);
        let stats = Arc::new(RecorderStats::default());
        let writer = Writer {
            batch: limits.batch,
            stats: stats.clone(),
            batch_seconds,
        };
        crate::spool::start(spool, store, rx, writer, tracker, stop)?;
        Ok(Recorder {
            tx,
            max_bytes: limits.bytes,
            stats,
            otlp: None,
            live: None,
        })
    }

    /// Also publishes a summary of every trace the queue takes (the live feed).
    pub fn with_live(mut self, live: Arc<dyn crate::live::LivePublisher>) -> Recorder {
        self.live = Some(live);
        self
    }

    /// Also hands every recorded trace to `sink` (the OpenTelemetry export).
    pub fn with_otlp(mut self, sink: OtlpSink) -> Recorder {
        self.otlp = Some(sink);
        self
    }

    /// Hands a finished trace to the writer. If the queue is full (in traces or bytes) the
    /// trace is dropped, counted and logged: the proxy keeps serving.
    pub fn record(&self, trace: Trace) {
        if let Some(otlp) = &self.otlp {
            otlp.send(&trace);
        }
        let size = queued_bytes(&trace);
        let max = self.max_bytes;
        let reserved =
            self.stats
                .queue_bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                    held.checked_add(size).filter(|&after| after <= max)
                });
        if let Err(held) = reserved {
            let n = self.dropped();
            tracing::warn!(trace_id = %trace.id, bytes = size, queue_bytes = held, dropped_total = n, "trace queue over its byte limit; trace dropped");
            return;
        }
        let published = self
            .live
            .as_ref()
            .map(|live| (live, crate::live::Published::trace(&trace)));
        match self.tx.try_send(trace) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                if let Some((live, event)) = published {
                    live.publish(event);
                }
            }
            Err(mpsc::error::TrySendError::Full(t)) => {
                self.stats.queue_bytes.fetch_sub(size, Ordering::Relaxed);
                let n = self.dropped();
                tracing::warn!(trace_id = %t.id, dropped_total = n, "trace queue full; trace dropped");
            }
            Err(mpsc::error::TrySendError::Closed(t)) => {
                self.stats.queue_bytes.fetch_sub(size, Ordering::Relaxed);
                let n = self.dropped();
                tracing::error!(trace_id = %t.id, dropped_total = n, "trace writer stopped; trace dropped");
            }
        }
    }

    /// Counts one trace recorded with usage but no price for its model.
    pub fn count_unpriced(&self) {
        self.stats.unpriced.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one trace dropped at the queue; returns the total.
    fn dropped(&self) -> u64 {
        self.stats
            .dropped_queue_full
            .fetch_add(1, Ordering::Relaxed)
            + 1
    }

    pub fn stats(&self) -> &Arc<RecorderStats> {
        &self.stats
    }
}

/// What the writer task keeps.
pub(crate) struct Writer {
    pub(crate) batch: usize,
    pub(crate) stats: Arc<RecorderStats>,
    batch_seconds: metrics::Histogram,
}

impl Writer {
    /// Runs one batch write, timing it.
    pub(crate) async fn timed<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = write.await;
        let elapsed = started.elapsed();
        self.batch_seconds.record(elapsed.as_secs_f64());
        self.stats.time_batch(elapsed);
        out
    }
}

async fn write_loop(
    store: Arc<dyn TraceStore>,
    mut rx: mpsc::Receiver<Trace>,
    w: Writer,
    stop: CancellationToken,
) {
    let batch = w.batch;
    let mut buf = Vec::with_capacity(batch);
    loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut buf, batch) => {
                if n == 0 {
                    break;
                }
                write(&*store, &mut buf, &w).await;
            }
            () = stop.cancelled() => {
                // No new traces from here on; write what is queued.
                rx.close();
                while rx.recv_many(&mut buf, batch).await > 0 {
                    write(&*store, &mut buf, &w).await;
                }
                break;
            }
        }
    }
    tracing::debug!("trace writer drained and stopped");
}

async fn write(store: &dyn TraceStore, buf: &mut Vec<Trace>, w: &Writer) {
    let stats = &w.stats;
    let traces = std::mem::replace(buf, Vec::with_capacity(w.batch));
    let n = traces.len() as u64;
    // The batch's bytes count until it is written: the limit bounds the traces waiting
    // and the batch being written together.
    let taken: u64 = traces.iter().map(queued_bytes).sum();
    let written = w.timed(store.insert_batch(traces)).await;
    stats.queue_bytes.fetch_sub(taken, Ordering::Relaxed);
    match written {
        Ok(()) => {
            stats.written.fetch_add(n, Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.write_ok();
        }
        Err(error) => {
            stats.write_failed();
            let total = stats.dropped_store_error.fetch_add(n, Ordering::Relaxed) + n;
            tracing::error!(%error, lost = n, lost_total = total, "trace batch could not be written; traces dropped");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use tracegate_core::{Provider, TraceId};
    use tracegate_store::{StorageStats, StoreError, TraceDetail, TraceSummary};

    /// A store that fails while `down` is set, and counts what it wrote.
    #[derive(Default)]
    struct FlakyStore {
        down: AtomicBool,
        written: AtomicU64,
    }

    #[async_trait::async_trait]
    impl TraceStore for FlakyStore {
        async fn migrate(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn insert_batch(&self, traces: Vec<Trace>) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("database is down".into()));
            }
            self.written
                .fetch_add(traces.len() as u64, Ordering::SeqCst);
            Ok(())
        }
        async fn recent(&self, _: u32) -> Result<Vec<TraceSummary>, StoreError> {
            Ok(Vec::new())
        }
        async fn get(&self, _: TraceId) -> Result<Option<TraceDetail>, StoreError> {
            Ok(None)
        }
        async fn add_feedback(
            &self,
            _: &tracegate_core::feedback::Feedback,
        ) -> Result<(), StoreError> {
            Err(StoreError::NotFound)
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn stats(&self) -> Result<StorageStats, StoreError> {
            Err(StoreError::Unavailable("n/a".into()))
        }
    }

    fn trace() -> Trace {
        Trace::begin(Provider::Anthropic, "POST", "/v1/messages")
    }

    fn limits(traces: usize, bytes: u64, batch: usize) -> QueueLimits {
        QueueLimits {
            traces,
            bytes,
            batch,
        }
    }

    #[tokio::test]
    async fn the_byte_limit_drops_what_does_not_fit_and_frees_as_it_writes() {
        let store = Arc::new(FlakyStore::default());
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let big = || {
            let mut t = trace();
            t.request_body = bytes::Bytes::from(vec![b'x'; 10_000]);
            t
        };
        let each = queued_bytes(&big());
        // Room for two big traces; the writer cannot run before the loop ends (one thread).
        let rec = Recorder::start(
            store.clone(),
            limits(64, 2 * each + 10, 8),
            &tracker,
            stop.clone(),
        );
        for _ in 0..3 {
            rec.record(big());
        }
        let s = rec.stats().snapshot();
        assert_eq!(
            (s.queued, s.dropped_queue_full, s.queue_bytes),
            (2, 1, 2 * each)
        );
        settle(rec.stats(), 3).await;
        assert_eq!(
            rec.stats().snapshot().queue_bytes,
            0,
            "written traces free their bytes"
        );
        rec.record(big());
        settle(rec.stats(), 4).await;
        let s = rec.stats().snapshot();
        assert_eq!((s.written, s.dropped_queue_full, s.queue_bytes), (3, 1, 0));
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }

    #[test]
    fn every_client_chosen_byte_of_a_trace_is_counted() {
        let empty = queued_bytes(&trace());
        let mut t = trace();
        let metadata = serde_json::json!({"team": "x".repeat(10_000), "n": [1, 2, 3]});
        let metadata_len = serde_json::to_string(&metadata).unwrap().len();
        t.metadata = Some(metadata);
        t.user_agent = Some("u".repeat(1000));
        t.error = Some("e".repeat(300));
        t.account = Some("a".repeat(200));
        t.model = Some("m".repeat(50));
        t.model_requested = Some("r".repeat(60));
        t.upstream = Some("up".into());
        t.client_ip = Some("127.0.0.1".into());
        t.request_body = bytes::Bytes::from(vec![b'x'; 700]);
        t.response_body = bytes::Bytes::from(vec![b'y'; 800]);
        let expected = metadata_len + 1000 + 300 + 200 + 50 + 60 + 2 + 9 + 700 + 800;
        assert_eq!(queued_bytes(&t), empty + expected as u64);
        assert!(queued_bytes(&t) > empty + 10_000);
    }

    async fn settle(stats: &RecorderStats, total: u64) {
        for _ in 0..200 {
            let s = stats.snapshot();
            if s.written + s.dropped_store_error + s.dropped_queue_full >= total {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_dead_store_loses_traces_counted_and_recovers() {
        let store = Arc::new(FlakyStore::default());
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let rec = Recorder::start(
            store.clone(),
            limits(64, u64::MAX, 8),
            &tracker,
            stop.clone(),
        );
        store.down.store(true, Ordering::SeqCst);
        for _ in 0..5 {
            rec.record(trace());
        }
        settle(rec.stats(), 5).await;
        assert_eq!(rec.stats().snapshot().dropped_store_error, 5);
        store.down.store(false, Ordering::SeqCst);
        for _ in 0..3 {
            rec.record(trace());
        }
        settle(rec.stats(), 8).await;
        let s = rec.stats().snapshot();
        assert_eq!((s.written, s.dropped_store_error), (3, 5));
        assert!(s.max_batch_us >= s.avg_batch_us && s.max_batch_us >= s.last_batch_us);
        assert!(rec.stats().timed_batches.load(Ordering::Relaxed) >= 2);
        assert_eq!(store.written.load(Ordering::SeqCst), 3);
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_blocking() {
        let store = Arc::new(FlakyStore::default());
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        // The writer cannot run before the loop below finishes: the test runtime has one thread.
        let rec = Recorder::start(
            store.clone(),
            limits(4, u64::MAX, 4),
            &tracker,
            stop.clone(),
        );
        for _ in 0..10 {
            rec.record(trace());
        }
        let s = rec.stats().snapshot();
        assert_eq!((s.queued, s.dropped_queue_full), (4, 6));
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        assert_eq!(
            store.written.load(Ordering::SeqCst),
            4,
            "queued traces are written at stop"
        );
    }
}
