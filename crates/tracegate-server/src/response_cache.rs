//! The response cache: an exact-match cache of model answers, opt-in per upstream
//! (`cache_ttl_secs`) or per request (`X-Tracegate-Cache: ttl=N`).
//!
//! A repeated request (same account, upstream, endpoint and normalised body, see
//! [`key`]) is answered with the exact bytes the first client got, streams included,
//! without calling the upstream. What may be cached is decided in [`policy`]. Answers live
//! in a [`ResponseStore`]: in process by default ([`MemoryStore`]); the trait is what a
//! store shared by several replicas (Redis) would implement.

mod key;
mod memory;
pub mod policy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use serde::Serialize;
use tracegate_core::Usage;

pub use key::{canonical_body, CacheKey, KeyInput, KEYED_HEADERS};
pub use memory::MemoryStore;

/// The largest single answer kept; larger ones are passed through and not stored.
pub const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// One cached answer: what the client got, and what its trace needs.
#[derive(Debug, Clone)]
pub struct CachedResponse {
    pub status: u16,
    pub content_type: Option<HeaderValue>,
    /// The body exactly as the first client received it (for a stream, the SSE bytes).
    pub body: Bytes,
    /// The `response_body` of the trace (a stream reassembled into its final message).
    /// For a plain response it shares the bytes of `body`.
    pub trace_body: Bytes,
    pub model: Option<String>,
    pub usage: Usage,
}

impl CachedResponse {
    /// Bytes the entry holds, as the store's bound counts them.
    pub fn weight(&self) -> usize {
        let shared = self.trace_body.as_ptr() == self.body.as_ptr()
            && self.trace_body.len() == self.body.len();
        let trace = if shared { 0 } else { self.trace_body.len() };
        self.body.len() + trace + self.model.as_ref().map_or(0, String::len) + 128
    }
}

/// How full a store is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoreUsage {
    pub entries: u64,
    pub bytes: u64,
    pub capacity_bytes: u64,
}

/// Where cached answers live.
///
/// `get` may wait (a networked store answers over the network). `put` must not: it is
/// called when a response body ends, inside the body's poll; a networked store hands the
/// write to a task of its own (owned by a `TaskTracker`, as every task here is) and may
/// drop it when that task falls behind. A lost write is only a later miss.
#[async_trait::async_trait]
pub trait ResponseStore: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &CacheKey) -> Option<Arc<CachedResponse>>;
    fn put(&self, key: CacheKey, value: Arc<CachedResponse>, ttl: Duration);
    fn usage(&self) -> StoreUsage;
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    not_stored: AtomicU64,
}

/// What `GET /api/v1/cache` reports under `responses`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ResponseCacheStats {
    /// False when `response_cache_bytes` is 0: nothing is cached, not even on request.
    pub enabled: bool,
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests looked up and not found (they went upstream).
    pub misses: u64,
    /// Answers stored after a miss.
    pub stored: u64,
    /// Answers to a miss that were not stored: not a 200, an error mid-stream, or too large.
    pub not_stored: u64,
    #[serde(flatten)]
    pub usage: StoreUsage,
}

/// The cache the proxy uses. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ResponseCache {
    store: Option<Arc<dyn ResponseStore>>,
    max_entry_bytes: usize,
    counters: Arc<Counters>,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self::disabled()
    }
}

impl ResponseCache {
    /// An in-process cache of at most `capacity_bytes`; 0 turns the cache off.
    pub fn in_memory(capacity_bytes: u64) -> Self {
        if capacity_bytes == 0 {
            return Self::disabled();
        }
        Self::with_store(Arc::new(MemoryStore::new(capacity_bytes)), capacity_bytes)
    }

    /// A cache over any store. An answer larger than a quarter of `capacity_bytes` (or
    /// than [`MAX_ENTRY_BYTES`]) is not stored: it would push out everything else.
    pub fn with_store(store: Arc<dyn ResponseStore>, capacity_bytes: u64) -> Self {
        let max = (capacity_bytes / 4).min(MAX_ENTRY_BYTES);
        ResponseCache {
            store: Some(store),
            max_entry_bytes: usize::try_from(max).unwrap_or(usize::MAX),
            counters: Arc::default(),
        }
    }

    /// A cache that never holds anything.
    pub fn disabled() -> Self {
        ResponseCache {
            store: None,
            max_entry_bytes: 0,
            counters: Arc::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.store.is_some()
    }

    /// The largest answer that will be stored.
    pub fn max_entry_bytes(&self) -> usize {
        self.max_entry_bytes
    }

    /// The answer stored under `key`, counted as a hit or a miss.
    pub async fn lookup(&self, key: &CacheKey) -> Option<Arc<CachedResponse>> {
        let store = self.store.as_ref()?;
        let found = store.get(key).await;
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `value` under `key` for `ttl`, unless it is too large.
    pub fn store(&self, key: CacheKey, value: CachedResponse, ttl: Duration) {
        let Some(store) = &self.store else { return };
        if value.body.len() > self.max_entry_bytes {
            self.not_stored();
            return;
        }
        store.put(key, Arc::new(value), ttl);
        self.counters.stored.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer to a miss that could not be stored.
    pub fn not_stored(&self) {
        self.counters.not_stored.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> ResponseCacheStats {
        let c = &self.counters;
        ResponseCacheStats {
            enabled: self.is_enabled(),
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            not_stored: c.not_stored.load(Ordering::Relaxed),
            usage: self
                .store
                .as_ref()
                .map_or_else(StoreUsage::default, |s| s.usage()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;
    use tracegate_core::Provider;

    use super::*;

    fn key(account: &str) -> CacheKey {
        let body = json!({"model": "m", "temperature": 0});
        KeyInput {
            account: Some(account),
            upstream: "u",
            provider: Provider::Anthropic,
            method: "POST",
            path_and_query: "/v1/messages",
            headers: [None, None],
            body: &body,
        }
        .key()
    }

    fn answer(len: usize) -> CachedResponse {
        let body = Bytes::from(vec![b'{'; len]);
        CachedResponse {
            status: 200,
            content_type: Some(HeaderValue::from_static("application/json")),
            trace_body: body.clone(),
            body,
            model: Some("m".into()),
            usage: Usage::default(),
        }
    }

    #[tokio::test]
    async fn a_stored_answer_is_found_by_its_account_only() {
        let c = ResponseCache::in_memory(1 << 20);
        assert!(c.lookup(&key("alice")).await.is_none());
        c.store(key("alice"), answer(10), Duration::from_secs(60));
        let hit = c.lookup(&key("alice")).await.unwrap();
        assert_eq!(hit.body.len(), 10);
        assert!(c.lookup(&key("bob")).await.is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.stored), (1, 2, 1));
        assert!(s.enabled);
    }

    #[tokio::test]
    async fn answers_over_a_quarter_of_the_cache_are_not_stored() {
        let c = ResponseCache::in_memory(4000);
        c.store(key("a"), answer(1001), Duration::from_secs(60));
        assert!(c.lookup(&key("a")).await.is_none());
        assert_eq!(c.stats().not_stored, 1);
    }

    #[tokio::test]
    async fn a_zero_byte_cache_is_off() {
        let c = ResponseCache::in_memory(0);
        assert!(!c.is_enabled());
        c.store(key("a"), answer(1), Duration::from_secs(60));
        assert!(c.lookup(&key("a")).await.is_none());
        assert_eq!(c.stats(), ResponseCacheStats::default());
    }

    #[test]
    fn shared_bytes_are_weighed_once() {
        let a = answer(1000);
        assert!(a.weight() < 1500);
        let mut b = a.clone();
        b.trace_body = Bytes::from(vec![b'x'; 1000]);
        assert!(b.weight() >= 2000);
    }
}
