#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_core::{Provider, Trace, TraceId};
use tracegate_store::{
    SqliteStore, StorageStats, StoreError, TraceDetail, TraceStore, TraceSummary,
};

use super::segment::{self, Position};
use super::{record, SpoolConfig};
use crate::recorder::{QueueLimits, Recorder};

/// A SQLite store that refuses writes while `down` is set.
struct Gate {
    inner: SqliteStore,
    down: AtomicBool,
    /// Ids in the order the store took them.
    order: parking_lot::Mutex<Vec<TraceId>>,
}

impl Gate {
    fn new(path: &std::path::Path) -> Arc<Gate> {
        Arc::new(Gate {
            inner: SqliteStore::open(path).unwrap(),
            down: AtomicBool::new(false),
            order: parking_lot::Mutex::default(),
        })
    }
}

#[async_trait::async_trait]
impl TraceStore for Gate {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn insert_batch(&self, traces: Vec<Trace>) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("database is locked".into()));
        }
        let ids: Vec<_> = traces.iter().map(|t| t.id).collect();
        self.inner.insert_batch(traces).await?;
        self.order.lock().extend(ids);
        Ok(())
    }
    async fn recent(&self, n: u32) -> Result<Vec<TraceSummary>, StoreError> {
        self.inner.recent(n).await
    }
    async fn get(&self, id: TraceId) -> Result<Option<TraceDetail>, StoreError> {
        self.inner.get(id).await
    }
    async fn add_feedback(&self, f: &tracegate_core::feedback::Feedback) -> Result<(), StoreError> {
        self.inner.add_feedback(f).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn stats(&self) -> Result<StorageStats, StoreError> {
        self.inner.stats().await
    }
}

struct Run {
    rec: Recorder,
    tracker: TaskTracker,
    stop: CancellationToken,
}

fn config(dir: &std::path::Path, max_bytes: u64) -> SpoolConfig {
    SpoolConfig {
        acks: None,
        dir: dir.join("spool"),
        max_bytes,
        sync_every: Duration::from_millis(100),
    }
}

fn start(store: Arc<Gate>, cfg: &SpoolConfig) -> Run {
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let limits = QueueLimits {
        traces: 1024,
        bytes: u64::MAX,
        batch: 7,
    };
    let rec = Recorder::start_spooled(
        store,
        limits,
        cfg,
        &tracker,
        stop.clone(),
        metrics::Histogram::noop(),
    )
    .unwrap();
    Run { rec, tracker, stop }
}

impl Run {
    async fn stop(self) {
        drop(self.rec);
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn traces(n: usize) -> Vec<Trace> {
    (0..n)
        .map(|i| {
            let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
            t.request_body = bytes::Bytes::from(format!("{{\"n\":{i}}}"));
            t
        })
        .collect()
}

async fn stored(store: &Gate) -> Vec<TraceId> {
    let mut ids: Vec<_> = store
        .inner
        .recent(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_store_loses_nothing_and_gets_every_trace_in_order_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Gate::new(&dir.path().join("t.db"));
    store.down.store(true, Ordering::SeqCst);
    let run = start(store.clone(), &config(dir.path(), u64::MAX));
    let sent = traces(30);
    for t in &sent {
        run.rec.record(t.clone());
    }
    let stats = run.rec.stats().clone();
    until(|| stats.spool_records_pending.load(Ordering::Relaxed) == 30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = stats.snapshot();
    assert_eq!((s.written, s.dropped_store_error), (0, 0));
    assert_eq!(s.spool_records_pending, 30);
    assert!(s.spool_bytes > 0);
    assert!(s.write_failing_ms > 0, "{s:?}");
    store.down.store(false, Ordering::SeqCst);
    // The written count and the pending count are updated one after the other: wait for both.
    until(|| {
        stats.written.load(Ordering::Relaxed) == 30
            && stats.spool_records_pending.load(Ordering::Relaxed) == 0
    })
    .await;
    let s = stats.snapshot();
    assert_eq!(
        (s.written, s.spool_records_pending, s.write_failing_ms),
        (30, 0, 0)
    );
    let in_order: Vec<_> = sent.iter().map(|t| t.id).collect();
    assert_eq!(
        *store.order.lock(),
        in_order,
        "applied in the order recorded"
    );
    let mut want = in_order;
    want.sort();
    assert_eq!(stored(&store).await, want);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unapplied_records_are_replayed_after_a_restart_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let cfg = config(dir.path(), u64::MAX);
    let store = Gate::new(&db);
    store.down.store(true, Ordering::SeqCst);
    let run = start(store.clone(), &cfg);
    let sent = traces(12);
    for t in &sent {
        run.rec.record(t.clone());
    }
    let stats = run.rec.stats().clone();
    until(|| stats.spool_records_pending.load(Ordering::Relaxed) == 12).await;
    run.stop().await;
    assert!(stored(&store).await.is_empty());
    drop(store);

    // Restart with a working store: everything is replayed.
    let store = Gate::new(&db);
    let run = start(store.clone(), &cfg);
    assert_eq!(run.rec.stats().snapshot().spool_records_pending, 12);
    let stats = run.rec.stats().clone();
    until(|| stats.written.load(Ordering::Relaxed) == 12).await;
    run.stop().await;
    assert_eq!(stored(&store).await.len(), 12);

    // The applied marker survived: a third start replays nothing.
    assert!(segment::read_marker(&cfg.dir).is_some());
    let run = start(store.clone(), &cfg);
    let s = run.rec.stats().snapshot();
    assert_eq!((s.spool_records_pending, s.spool_bytes), (0, 0));
    run.stop().await;
    assert_eq!(stored(&store).await.len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_traces_already_stored_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let cfg = config(dir.path(), u64::MAX);
    let store = Gate::new(&db);
    let sent = traces(5);
    // Three are in the store already (stored, then a crash before the marker moved).
    store.inner.insert_batch(sent[..3].to_vec()).await.unwrap();
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let mut buf = Vec::new();
    for t in &sent {
        record::encode(t, &mut buf).unwrap();
    }
    std::fs::write(segment::segment_path(&cfg.dir, 1), &buf).unwrap();
    let run = start(store.clone(), &cfg);
    let stats = run.rec.stats().clone();
    until(|| stats.spool_records_pending.load(Ordering::Relaxed) == 0).await;
    run.stop().await;
    let mut want: Vec<_> = sent.iter().map(|t| t.id).collect();
    want.sort();
    assert_eq!(stored(&store).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_skipped_and_the_records_before_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), u64::MAX);
    let store = Gate::new(&dir.path().join("t.db"));
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let sent = traces(4);
    let mut buf = Vec::new();
    for t in &sent[..3] {
        record::encode(t, &mut buf).unwrap();
    }
    let mut last = Vec::new();
    record::encode(&sent[3], &mut last).unwrap();
    buf.extend_from_slice(&last[..last.len() / 2]);
    std::fs::write(segment::segment_path(&cfg.dir, 4), &buf).unwrap();
    let run = start(store.clone(), &cfg);
    let stats = run.rec.stats().clone();
    until(|| stats.spool_records_pending.load(Ordering::Relaxed) == 0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    run.stop().await;
    let mut want: Vec<_> = sent[..3].iter().map(|t| t.id).collect();
    want.sort();
    assert_eq!(stored(&store).await, want);
    assert!(
        !segment::segment_path(&cfg.dir, 4).exists(),
        "the finished segment is deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_quota_the_oldest_are_kept_and_new_ones_counted_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = Gate::new(&dir.path().join("t.db"));
    store.down.store(true, Ordering::SeqCst);
    let sent = traces(10);
    let mut one = Vec::new();
    record::encode(&sent[0], &mut one).unwrap();
    // Room for four records (they are all the same size, give or take a digit).
    let cfg = config(dir.path(), 4 * one.len() as u64 + 2);
    let run = start(store.clone(), &cfg);
    for t in &sent {
        run.rec.record(t.clone());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stats = run.rec.stats().clone();
    until(|| stats.spool_lost_quota.load(Ordering::Relaxed) == 6).await;
    let s = stats.snapshot();
    assert_eq!((s.spool_records_pending, s.spool_lost_quota), (4, 6));
    store.down.store(false, Ordering::SeqCst);
    until(|| stats.written.load(Ordering::Relaxed) == 4).await;
    run.stop().await;
    let mut want: Vec<_> = sent[..4].iter().map(|t| t.id).collect();
    want.sort();
    assert_eq!(stored(&store).await, want, "the oldest four are kept");
}

#[test]
fn the_marker_round_trips_and_a_broken_one_reads_as_none() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(segment::read_marker(dir.path()), None);
    let at = Position {
        seq: 7,
        offset: 1234,
    };
    segment::write_marker(dir.path(), at).unwrap();
    assert_eq!(segment::read_marker(dir.path()), Some(at));
    std::fs::write(dir.path().join("applied"), "7").unwrap();
    assert_eq!(segment::read_marker(dir.path()), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sync_durability_a_trace_is_in_the_spool_when_its_response_may_complete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Gate::new(&dir.path().join("t.db"));
    store.down.store(true, Ordering::SeqCst);
    let mut cfg = config(dir.path(), u64::MAX);
    // An interval no test waits for: only the waiting response can cause the write.
    cfg.sync_every = Duration::from_secs(3600);
    cfg.acks = Some(Arc::new(super::acks::Acks::default()));
    let run = start(store.clone(), &cfg);
    for (i, t) in traces(5).into_iter().enumerate() {
        let durable = run
            .rec
            .record(t)
            .expect("sync durability hands out a waiter");
        tokio::time::timeout(Duration::from_secs(10), durable)
            .await
            .expect("resolved once spooled");
        let ends = segment::list(&cfg.dir).unwrap();
        let on_disk: u64 = ends
            .iter()
            .map(|(&seq, &end)| segment::count_records(&cfg.dir, seq, 0, end).unwrap())
            .sum();
        assert_eq!(on_disk, i as u64 + 1, "trace {i} is in a segment file");
    }
    store.down.store(false, Ordering::SeqCst);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sync_durability_nothing_waits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Gate::new(&dir.path().join("t.db"));
    let run = start(store.clone(), &config(dir.path(), u64::MAX));
    assert!(run.rec.record(traces(1).remove(0)).is_none());
    run.stop().await;
}
