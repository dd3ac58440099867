//! A bounded in-memory set of prompt prefix hashes, simulating provider prompt caches.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Default number of remembered prefixes.
pub(crate) const PREFIX_CACHE_CAPACITY: usize = 16_384;

/// A point in a prompt where a prefix may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Breakpoint {
    /// Hash of the prompt up to and including this point.
    pub hash: u64,
    /// Bytes of prompt JSON up to this point.
    pub bytes: usize,
}

/// Remembers prefix hashes, forgetting the oldest beyond its capacity.
#[derive(Debug)]
pub(crate) struct PrefixCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    known: HashSet<u64>,
    order: VecDeque<u64>,
}

impl PrefixCache {
    /// An empty cache remembering at most `capacity` prefixes.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Returns the longest already known breakpoint (by position in `points`)
    /// and remembers all of `points` for later requests.
    pub fn observe(&self, points: &[Breakpoint]) -> Option<Breakpoint> {
        if points.is_empty() {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let hit = points
            .iter()
            .rev()
            .find(|p| inner.known.contains(&p.hash))
            .copied();
        for p in points {
            if inner.known.insert(p.hash) {
                inner.order.push_back(p.hash);
            }
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.known.remove(&old);
            }
        }
        hit
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn bp(hash: u64, bytes: usize) -> Breakpoint {
        Breakpoint { hash, bytes }
    }

    #[test]
    fn first_sight_misses_then_longest_prefix_hits() {
        let cache = PrefixCache::new(16);
        assert_eq!(cache.observe(&[bp(1, 10), bp(2, 20)]), None);
        assert_eq!(cache.observe(&[bp(1, 10), bp(2, 20)]), Some(bp(2, 20)));
        assert_eq!(
            cache.observe(&[bp(1, 10), bp(3, 30), bp(4, 40)]),
            Some(bp(1, 10))
        );
        assert_eq!(cache.observe(&[]), None);
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = PrefixCache::new(3);
        for h in 0..10 {
            cache.observe(&[bp(h, 1)]);
        }
        let inner = cache.inner.lock().unwrap();
        assert_eq!(inner.known.len(), 3);
        assert_eq!(inner.order.len(), 3);
        drop(inner);
        assert_eq!(cache.observe(&[bp(0, 1)]), None);
        assert_eq!(cache.observe(&[bp(9, 1)]), Some(bp(9, 1)));
    }
}
