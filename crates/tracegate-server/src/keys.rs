//! Virtual keys as the proxy checks them: looked up by hash in the store, cached in
//! process (up to [`CACHE_ENTRIES`] keys, each for [`CACHE_TTL`], unknown keys included so a
//! flood of bad keys does not reach the store).
//!
//! A key revoked through the API is dropped from this cache at once. `tracegate keys
//! revoke` writes the database directly, so a running gateway sees it within
//! [`CACHE_TTL`]; the short TTL is that bound.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tracegate_core::keys::{KeyHash, VirtualKey};
use tracegate_store::{Store, StoreError};
use uuid::Uuid;

/// Keys kept in the cache.
pub const CACHE_ENTRIES: u64 = 10_000;
/// How long a looked-up key (or its absence) is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// The proxy's view of the key store.
#[derive(Clone)]
pub struct KeyCache {
    store: Arc<dyn Store>,
    cache: Cache<[u8; 32], Option<Arc<VirtualKey>>>,
    /// Keys looked up by id (the dashboard's key sessions), with the same bounds.
    by_id: Cache<Uuid, Option<Arc<VirtualKey>>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl KeyCache {
    pub fn new(store: Arc<dyn Store>) -> Self {
        KeyCache {
            store,
            cache: Cache::builder()
                .max_capacity(CACHE_ENTRIES)
                .time_to_live(CACHE_TTL)
                .build(),
            by_id: Cache::builder()
                .max_capacity(CACHE_ENTRIES)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }

    /// The stored key with this id, revoked and expired ones included.
    pub async fn lookup_id(&self, id: Uuid) -> Result<Option<Arc<VirtualKey>>, StoreError> {
        let store = self.store.clone();
        self.by_id
            .try_get_with(id, async move {
                Ok::<_, StoreError>(store.key_by_id(id).await?.map(Arc::new))
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// The stored key whose text is `secret`, revoked and expired ones included.
    pub async fn lookup(&self, secret: &str) -> Result<Option<Arc<VirtualKey>>, StoreError> {
        let hash = KeyHash::of(secret);
        let store = self.store.clone();
        let found = self
            .cache
            .try_get_with(hash.0, async move {
                Ok::<_, StoreError>(store.key_by_hash(hash).await?.map(Arc::new))
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // The store found it by its hash; compare again without an early exit.
        Ok(found.filter(|k| k.hash.is_some_and(|h| h.matches(&hash))))
    }

    /// Drops a key from the cache (after a revocation).
    pub async fn forget(&self, key: &VirtualKey) {
        if let Some(h) = key.hash {
            self.cache.invalidate(&h.0).await;
        }
        self.by_id.invalidate(&key.id).await;
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
