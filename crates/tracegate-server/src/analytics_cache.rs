//! An in-process cache for analytics answers (search first pages, statistics, usage).
//! Answers about ranges wholly in the past live longer than answers that include "now".
//! Hits and misses are counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;
use serde::Serialize;

/// How long an answer that may still change (its range reaches into the recent past) is kept.
pub const RECENT_TTL: Duration = Duration::from_secs(5);
/// How long an answer about a range wholly in the past is kept.
pub const PAST_TTL: Duration = Duration::from_secs(300);
/// A range ending longer ago than this is "wholly in the past": no late trace can change it.
pub const SETTLED_AFTER_MS: i64 = 10 * 60 * 1000;

#[derive(Clone)]
struct Entry {
    value: Arc<serde_json::Value>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct AnalyticsCacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
}

/// The cache. Cheap to clone.
#[derive(Clone)]
pub struct AnalyticsCache {
    /// `None` when caching is off: every answer is computed.
    inner: Option<Cache<String, Entry>>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl std::fmt::Debug for AnalyticsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsCache")
            .field("entries", &self.stats().entries)
            .finish()
    }
}

impl Default for AnalyticsCache {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl AnalyticsCache {
    /// A cache of at most `max_entries` answers; 0 turns caching off.
    pub fn new(max_entries: u64) -> Self {
        AnalyticsCache {
            inner: (max_entries > 0).then(|| {
                Cache::builder()
                    .max_capacity(max_entries)
                    .expire_after(PerEntryTtl)
                    .build()
            }),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// The TTL for an answer about a range ending at `to_ms` (epoch ms), as of `now_ms`.
    pub fn ttl_for(to_ms: i64, now_ms: i64) -> Duration {
        if to_ms < now_ms - SETTLED_AFTER_MS {
            PAST_TTL
        } else {
            RECENT_TTL
        }
    }

    pub async fn get(&self, key: &str) -> Option<Arc<serde_json::Value>> {
        let found = match &self.inner {
            Some(c) => c.get(key).await,
            None => None,
        };
        match found {
            Some(e) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(e.value)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub async fn put(&self, key: String, value: Arc<serde_json::Value>, ttl: Duration) {
        if let Some(c) = &self.inner {
            c.insert(key, Entry { value, ttl }).await;
        }
    }

    /// Returns the cached answer for `key` as seen by `scope` (the one account the
    /// reader is limited to, `None` for the admin), or computes, caches and returns it.
    /// The scope is part of the cache key, so one account never gets an answer computed
    /// for another or for the admin. Errors are never cached.
    pub async fn get_or_compute<E, F, Fut>(
        &self,
        scope: Option<&str>,
        key: String,
        ttl: Duration,
        compute: F,
    ) -> Result<(Arc<serde_json::Value>, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<serde_json::Value, E>>,
    {
        // A JSON string (or null) cannot end early: no account name can fake another's.
        let scope = serde_json::to_string(&scope).unwrap_or_default();
        let key = format!("{scope}|{key}");
        if let Some(v) = self.get(&key).await {
            return Ok((v, true));
        }
        let v = Arc::new(compute().await?);
        self.put(key, v.clone(), ttl).await;
        Ok((v, false))
    }

    pub fn stats(&self) -> AnalyticsCacheStats {
        AnalyticsCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.inner.as_ref().map_or(0, Cache::entry_count),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hits_and_misses_are_counted_and_errors_not_cached() {
        let c = AnalyticsCache::new(10);
        let (v, hit) = c
            .get_or_compute::<(), _, _>(None, "k".into(), RECENT_TTL, || async {
                Ok(serde_json::json!(1))
            })
            .await
            .unwrap();
        assert_eq!((*v).clone(), serde_json::json!(1));
        assert!(!hit);
        let (_, hit) = c
            .get_or_compute::<(), _, _>(None, "k".into(), RECENT_TTL, || async {
                Ok(serde_json::json!(2))
            })
            .await
            .unwrap();
        assert!(hit);
        let r = c
            .get_or_compute::<&str, _, _>(None, "e".into(), RECENT_TTL, || async { Err("boom") })
            .await;
        assert!(r.is_err());
        assert!(c.get("e").await.is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.misses), (1, 3));
    }

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let c = AnalyticsCache::new(10);
        c.put(
            "short".into(),
            Arc::new(serde_json::json!(1)),
            Duration::from_millis(50),
        )
        .await;
        c.put(
            "long".into(),
            Arc::new(serde_json::json!(2)),
            Duration::from_secs(60),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(c.get("short").await.is_none());
        assert!(c.get("long").await.is_some());
    }

    #[tokio::test]
    async fn a_zero_sized_cache_computes_every_time() {
        let c = AnalyticsCache::new(0);
        c.put("k".into(), Arc::new(serde_json::json!(1)), PAST_TTL)
            .await;
        assert!(c.get("k").await.is_none());
        assert_eq!(c.stats().entries, 0);
    }

    #[test]
    fn past_ranges_live_longer() {
        let now = 1_000_000_000;
        assert_eq!(AnalyticsCache::ttl_for(now, now), RECENT_TTL);
        assert_eq!(
            AnalyticsCache::ttl_for(now - SETTLED_AFTER_MS - 1, now),
            PAST_TTL
        );
    }
}
