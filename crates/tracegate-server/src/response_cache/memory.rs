//! The in-process store: a moka cache bounded in bytes, each entry with its own TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;

use super::{CacheKey, CachedResponse, ResponseStore, StoreUsage};

#[derive(Clone)]
struct Entry {
    value: Arc<CachedResponse>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<CacheKey, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &CacheKey, e: &Entry, _now: Instant) -> Option<Duration> {
        Some(e.ttl)
    }

    /// A newer answer under the same key starts its own TTL.
    fn expire_after_update(
        &self,
        _key: &CacheKey,
        e: &Entry,
        _now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(e.ttl)
    }
}

/// Answers kept in this process, at most `capacity` bytes of them (least recently used
/// evicted first).
pub struct MemoryStore {
    cache: Cache<CacheKey, Entry>,
    capacity: u64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl MemoryStore {
    pub fn new(capacity: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity)
            .weigher(|_k: &CacheKey, e: &Entry| u32::try_from(e.value.weight()).unwrap_or(u32::MAX))
            .expire_after(PerEntryTtl)
            .build();
        MemoryStore { cache, capacity }
    }
}

#[async_trait::async_trait]
impl ResponseStore for MemoryStore {
    async fn get(&self, key: &CacheKey) -> Option<Arc<CachedResponse>> {
        self.cache.get(key).map(|e| e.value)
    }

    fn put(&self, key: CacheKey, value: Arc<CachedResponse>, ttl: Duration) {
        self.cache.insert(key, Entry { value, ttl });
    }

    fn usage(&self) -> StoreUsage {
        // Counts are kept by moka's housekeeping: bring them up to date for the report.
        self.cache.run_pending_tasks();
        StoreUsage {
            entries: self.cache.entry_count(),
            bytes: self.cache.weighted_size(),
            capacity_bytes: self.capacity,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use tracegate_core::Provider;

    use super::*;
    use crate::response_cache::KeyInput;

    fn key(n: u64) -> CacheKey {
        let body = serde_json::json!({ "n": n });
        KeyInput {
            account: None,
            upstream: "u",
            provider: Provider::Openai,
            method: "POST",
            path_and_query: "/v1/chat/completions",
            headers: [None, None],
            body: &body,
        }
        .key()
    }

    fn answer(bytes: usize) -> Arc<CachedResponse> {
        Arc::new(CachedResponse {
            status: 200,
            content_type: None,
            body: Bytes::from(vec![b'x'; bytes]),
            trace_body: Bytes::new(),
            model: None,
            usage: Default::default(),
        })
    }

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let s = MemoryStore::new(1 << 20);
        s.put(key(1), answer(10), Duration::from_millis(50));
        s.put(key(2), answer(10), Duration::from_secs(60));
        assert!(s.get(&key(1)).await.is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(s.get(&key(1)).await.is_none());
        assert!(s.get(&key(2)).await.is_some());
    }

    #[tokio::test]
    async fn the_store_stays_within_its_bytes() {
        let s = MemoryStore::new(64 * 1024);
        for n in 0..64 {
            s.put(key(n), answer(4096), Duration::from_secs(60));
        }
        let u = s.usage();
        assert!(u.bytes <= 64 * 1024, "{u:?}");
        assert!(u.entries < 64, "{u:?}");
        assert!(u.entries > 0, "{u:?}");
    }
}
