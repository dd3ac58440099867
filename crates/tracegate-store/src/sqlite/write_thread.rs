//! The thread trace batches are written on.
//!
//! Writing a batch is CPU work (splitting, hashing and compressing bodies,
//! full-text indexing, rollups) that nobody waits for: the proxy hands traces
//! to a queue and goes on. On a small machine that work competes with the
//! proxy for the same cores, so it runs on one dedicated thread of the idle
//! scheduling class: the kernel runs a waiting proxy thread first, and the
//! writer takes the CPU time that is left. When the writer falls behind, the
//! recorder's batches grow, and a larger batch costs less per trace; a batch
//! that is late all the same is written at normal priority instead (see
//! `SqliteStore::insert_batch`). What this cannot help: a batch the idle
//! thread has started finishes at idle priority, so while every core is busy
//! with other work it waits, and the recorder's queue fills.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::oneshot;
use tracegate_core::Trace;

use crate::error::StoreError;

type Job = Box<dyn FnOnce() + Send>;

/// How the writer thread is scheduled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriterPriority {
    /// The idle scheduling class: the proxy's threads always run first (the default).
    #[default]
    Idle,
    /// Like every other thread: for a machine whose cores other work keeps busy, where an
    /// idle-class writer would fall behind and the queue would drop traces.
    Normal,
}

/// How long after its request ended a trace may reach the store before its
/// batch counts as late and is written at normal priority.
const LATE_AFTER: TimeDelta = TimeDelta::seconds(1);

/// Whether the oldest trace of the batch ended more than [`LATE_AFTER`]
/// before `now`: the writer has fallen behind.
pub(super) fn is_late(traces: &[Trace], now: DateTime<Utc>) -> bool {
    traces.iter().any(|t| {
        // Figures that are not numbers count as no time at all.
        let took_ms = if t.duration_ms.is_finite() {
            t.duration_ms.clamp(0.0, 86_400_000.0)
        } else {
            0.0
        };
        let took = TimeDelta::microseconds((took_ms * 1000.0) as i64);
        let ended = t
            .started_at
            .checked_add_signed(took)
            .unwrap_or(t.started_at);
        now.signed_duration_since(ended) > LATE_AFTER
    })
}

/// A handle to the writer thread. The thread ends when the last handle is
/// dropped and the jobs already sent have run.
#[derive(Debug)]
pub(super) struct WriteThread {
    jobs: mpsc::Sender<Job>,
}

impl WriteThread {
    pub(super) fn start(priority: WriterPriority) -> Result<WriteThread, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("tracegate-writer".into())
            .spawn(move || {
                if priority == WriterPriority::Idle {
                    lower_priority();
                }
                while let Ok(job) = queue.recv() {
                    // A job that panics drops its reply, which its caller
                    // sees as an error; the thread goes on with the next.
                    let _ = panic::catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(WriteThread { jobs })
    }

    /// Runs `f` on the writer thread and returns its result.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone away; the work is done either way.
            let _ = done.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::Backend("the writer thread dropped a batch".into()))?
    }
}

/// Moves the calling thread to the idle scheduling class (`SCHED_IDLE`): it
/// runs when no normal thread of the machine wants the CPU, and a waking
/// normal thread preempts it at once. A plain nice value is not enough: at
/// nice 19 the writer still holds a core for a whole time slice while the
/// proxy waits (added p99 at 1,000 req/s: 0.98 ms, against 0.36 ms idle).
/// On failure the thread keeps the process's priority, which is correct,
/// only less kind to the proxy.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        ) {
            tracing::debug!(error = ?e, "cannot move the writer thread to the idle class");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_in_order_on_one_named_thread() {
        let thread = WriteThread::start(WriterPriority::Idle).unwrap();
        let mut names = Vec::new();
        for i in 0..3 {
            let got = thread
                .run(move || Ok((i, thread::current().name().map(str::to_owned))))
                .await
                .unwrap();
            assert_eq!(got.0, i);
            names.push(got.1);
        }
        assert!(names
            .iter()
            .all(|n| n.as_deref() == Some("tracegate-writer")));
    }

    #[test]
    fn a_batch_is_late_when_its_oldest_trace_ended_over_a_second_ago() {
        let mut t = Trace::begin(tracegate_core::Provider::Anthropic, "POST", "/v1/messages");
        t.duration_ms = 2_000.0;
        let ended = t.started_at + TimeDelta::seconds(2);
        let fresh = t.clone();
        assert!(!is_late(&[t.clone()], ended + TimeDelta::milliseconds(900)));
        assert!(is_late(&[t.clone()], ended + TimeDelta::milliseconds(1100)));
        let mut old = t.clone();
        old.started_at -= TimeDelta::minutes(5);
        assert!(is_late(&[fresh, old], ended));
        t.duration_ms = f64::NAN;
        assert!(!is_late(&[t.clone()], t.started_at));
        t.duration_ms = f64::INFINITY;
        assert!(!is_late(&[t.clone()], t.started_at));
        assert!(!is_late(&[], ended));
    }

    #[tokio::test]
    async fn a_job_that_panics_fails_alone() {
        let thread = WriteThread::start(WriterPriority::Idle).unwrap();
        let err = thread
            .run(|| -> Result<(), StoreError> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        assert_eq!(thread.run(|| Ok(7)).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn an_error_comes_back_to_the_caller() {
        let thread = WriteThread::start(WriterPriority::Idle).unwrap();
        let err = thread
            .run(|| Err::<(), _>(StoreError::Backend("disk on fire".into())))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Backend(m) if m == "disk on fire"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_writer_runs_in_the_idle_class() {
        use thread_priority::unix::{
            thread_schedule_policy, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
        };
        let thread = WriteThread::start(WriterPriority::Idle).unwrap();
        let policy = thread
            .run(|| thread_schedule_policy().map_err(|e| StoreError::Backend(format!("{e:?}"))))
            .await
            .unwrap();
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        let thread = WriteThread::start(WriterPriority::Normal).unwrap();
        let policy = thread
            .run(|| thread_schedule_policy().map_err(|e| StoreError::Backend(format!("{e:?}"))))
            .await
            .unwrap();
        assert_ne!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
    }
}
