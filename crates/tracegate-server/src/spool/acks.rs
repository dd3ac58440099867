//! `spool_durability = "sync"`: a response does not complete before its trace is on disk.
//! The recorder registers each trace it queues here and hands the proxy a [`Durable`]; the
//! spooler fsyncs each batch that holds a registered trace (group commit: every request
//! finishing meanwhile shares the one fsync) and then resolves them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tracegate_core::TraceId;

/// Traces queued and waiting for their fsync. Bounded by the recorder's queue: an entry
/// is added only for a trace the queue took, and removed when the spooler has it.
#[derive(Debug, Default)]
pub struct Acks {
    waiting: Mutex<HashMap<TraceId, oneshot::Sender<()>>>,
}

impl Acks {
    /// Registers `id`; the returned future resolves once its batch is fsynced.
    pub fn register(&self, id: TraceId) -> Durable {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().insert(id, tx);
        Durable(rx)
    }

    /// Forgets `id` (the queue refused it): its waiter resolves at once.
    pub fn forget(&self, id: &TraceId) {
        self.waiting.lock().remove(id);
    }

    /// Whether any of `ids` is waited for.
    pub fn any_waiting<'a>(&self, mut ids: impl Iterator<Item = &'a TraceId>) -> bool {
        let waiting = self.waiting.lock();
        !waiting.is_empty() && ids.any(|id| waiting.contains_key(id))
    }

    /// Resolves the waiters of `ids`: their traces are on disk, or were lost and
    /// counted; either way the response may complete.
    pub fn resolve<'a>(&self, ids: impl Iterator<Item = &'a TraceId>) {
        let mut waiting = self.waiting.lock();
        if waiting.is_empty() {
            return;
        }
        for id in ids {
            if let Some(tx) = waiting.remove(id) {
                let _ = tx.send(());
            }
        }
    }
}

/// Resolves when a trace is durable (or can never be: lost traces are counted, and the
/// response is not held for them).
#[derive(Debug)]
pub struct Durable(oneshot::Receiver<()>);

impl Future for Durable {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn a_waiter_resolves_when_its_trace_is_resolved_or_forgotten() {
        let acks = Acks::default();
        let (a, b, c) = (TraceId::new_v4(), TraceId::new_v4(), TraceId::new_v4());
        let mut da = acks.register(a);
        let mut db = acks.register(b);
        let mut dc = acks.register(c);
        assert!(acks.any_waiting([a].iter()));
        assert!(!acks.any_waiting([TraceId::new_v4()].iter()));
        assert!((&mut da).now_or_never().is_none());
        acks.resolve([a].iter());
        assert!((&mut da).now_or_never().is_some());
        assert!((&mut db).now_or_never().is_none());
        acks.forget(&b);
        assert!((&mut db).now_or_never().is_some());
        drop(acks);
        assert!(
            (&mut dc).now_or_never().is_some(),
            "a dropped registry releases everyone"
        );
    }
}
