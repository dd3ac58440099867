//! Virtual keys: created, found by their hash only, listed, revoked once (a second
//! revocation keeps the first time), and an unknown id refused.

use chrono::DateTime;
use tracegate_core::keys::{KeyHash, KeyLimits, KeySpec, VirtualKey};
use uuid::Uuid;

use crate::error::StoreError;
use crate::Store;

pub async fn keys_are_created_found_by_hash_listed_and_revoked(store: &dyn Store) {
    let spec = KeySpec {
        account: "team-a".into(),
        name: Some("ci".into()),
        models: vec!["claude-*".into()],
        limits: KeyLimits {
            rpm: Some(60),
            budget_usd_day: Some(5.5),
            ..KeyLimits::default()
        },
        ..KeySpec::default()
    };
    let (key, secret) = VirtualKey::issue(&spec).unwrap();
    store.create_key(&key).await.unwrap();
    let found = store.key_by_hash(KeyHash::of(&secret)).await.unwrap();
    assert_eq!(found.as_ref(), Some(&key));
    assert!(store
        .key_by_hash(KeyHash::of("tg-other"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.list_keys().await.unwrap(), vec![key.clone()]);
    let at = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
    let revoked = store.revoke_key(key.id, at).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let later = DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    let again = store.revoke_key(key.id, later).await.unwrap();
    assert_eq!(again.revoked_at, Some(at));
    assert!(matches!(
        store.revoke_key(Uuid::now_v7(), at).await,
        Err(StoreError::NotFound)
    ));
}
