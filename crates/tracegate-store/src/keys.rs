//! Virtual keys: the store keeps what [`tracegate_core::keys::VirtualKey::issue`] made,
//! never the key itself, and finds a key by its hash.

use chrono::{DateTime, Utc};
use tracegate_core::keys::{KeyHash, VirtualKey};
use uuid::Uuid;

use crate::error::StoreError;

/// Virtual keys every backend keeps.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key (its id, hash and times already made).
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError>;

    /// Every key, revoked ones included, oldest first.
    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError>;

    /// The key whose hash is `hash`, revoked or expired ones included.
    async fn key_by_hash(&self, hash: KeyHash) -> Result<Option<VirtualKey>, StoreError>;

    /// The key with id `id`, revoked or expired ones included (a session cookie names its
    /// key by id). Read from [`KeyStore::list_keys`] unless a backend has better.
    async fn key_by_id(&self, id: Uuid) -> Result<Option<VirtualKey>, StoreError> {
        Ok(self.list_keys().await?.into_iter().find(|k| k.id == id))
    }

    /// Marks the key revoked at `at` (a key already revoked keeps its first time) and
    /// answers it; [`StoreError::NotFound`] when there is no such key.
    async fn revoke_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<VirtualKey, StoreError>;
}
