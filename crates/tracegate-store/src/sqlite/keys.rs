//! Virtual keys in SQLite: written on the writer connection, read from the pool.

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tracegate_core::keys::{KeyHash, KeyLimits, Scopes, VirtualKey};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::StoreError;
use crate::keys::KeyStore;

const COLUMNS: &str = "id, hash, prefix, account, name, scopes, models, expires_at, created_at,
    revoked_at, rpm, tpm, tokens_per_5h, budget_usd_day, budget_usd_month";

#[async_trait::async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.with_writer(move |c| insert(c, &key)).await
    }

    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM virtual_keys ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn key_by_hash(&self, hash: KeyHash) -> Result<Option<VirtualKey>, StoreError> {
        self.with_reader(move |c| by_hash(c, hash)).await
    }

    async fn revoke_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<VirtualKey, StoreError> {
        self.with_writer(move |c| {
            let n = c.execute(
                "UPDATE virtual_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![&id.as_bytes()[..], at.timestamp_millis()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            let key = c
                .query_row(
                    &format!("SELECT {COLUMNS} FROM virtual_keys WHERE id = ?1"),
                    [&id.as_bytes()[..]],
                    from_row,
                )
                .optional()?;
            key.ok_or(StoreError::NotFound)
        })
        .await
    }
}

fn insert(c: &Connection, k: &VirtualKey) -> Result<(), StoreError> {
    let Some(hash) = k.hash else {
        return Err(StoreError::Backend(format!("key {} has no hash", k.id)));
    };
    let models = serde_json::to_string(&k.models)
        .map_err(|e| StoreError::Backend(format!("key models: {e}")))?;
    let l = &k.limits;
    c.execute(
        &format!(
            "INSERT INTO virtual_keys ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        params![
            &k.id.as_bytes()[..],
            &hash.0[..],
            k.prefix,
            k.account,
            k.name,
            k.scopes.as_list(),
            models,
            k.expires_at.map(|t| t.timestamp_millis()),
            k.created_at.timestamp_millis(),
            k.revoked_at.map(|t| t.timestamp_millis()),
            l.rpm.map(clamp),
            l.tpm.map(clamp),
            l.tokens_per_5h.map(clamp),
            l.budget_usd_day,
            l.budget_usd_month,
        ],
    )?;
    Ok(())
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn by_hash(c: &Connection, hash: KeyHash) -> Result<Option<VirtualKey>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} FROM virtual_keys WHERE hash = ?1"),
        [&hash.0[..]],
        from_row,
    )
    .optional()?)
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<VirtualKey> {
    let id: Vec<u8> = r.get(0)?;
    let hash: Vec<u8> = r.get(1)?;
    let scopes: String = r.get(5)?;
    let models: String = r.get(6)?;
    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        match r.get::<_, Option<i64>>(i)? {
            None => Ok(None),
            Some(ms) => DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| bad(i, Type::Integer, format!("timestamp {ms}"))),
        }
    };
    let count = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?
            .map(|v| u64::try_from(v).unwrap_or(0)))
    };
    Ok(VirtualKey {
        id: Uuid::from_slice(&id).map_err(|e| bad(0, Type::Blob, e))?,
        hash: Some(KeyHash(
            hash.try_into()
                .map_err(|_| bad(1, Type::Blob, "hash is not 32 bytes"))?,
        )),
        prefix: r.get(2)?,
        account: r.get(3)?,
        name: r.get(4)?,
        scopes: Scopes::parse(&scopes).map_err(|e| bad(5, Type::Text, e))?,
        models: serde_json::from_str(&models).map_err(|e| bad(6, Type::Text, e))?,
        expires_at: time(7)?,
        created_at: time(8)?.ok_or_else(|| bad(8, Type::Null, "no creation time"))?,
        revoked_at: time(9)?,
        limits: KeyLimits {
            rpm: count(10)?,
            tpm: count(11)?,
            tokens_per_5h: count(12)?,
            budget_usd_day: r.get(13)?,
            budget_usd_month: r.get(14)?,
        },
    })
}

fn bad(
    i: usize,
    ty: Type,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, ty, e.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tracegate_core::keys::KeySpec;

    use super::*;

    fn spec() -> KeySpec {
        KeySpec {
            account: "team-a".into(),
            name: Some("ci".into()),
            models: vec!["claude-*".into()],
            limits: KeyLimits {
                rpm: Some(60),
                budget_usd_day: Some(5.5),
                ..KeyLimits::default()
            },
            ..KeySpec::default()
        }
    }

    #[tokio::test]
    async fn the_key_itself_is_nowhere_in_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let (key, secret) = VirtualKey::issue(&spec()).unwrap();
        {
            let store = SqliteStore::open(&path).unwrap();
            store.create_key(&key).await.unwrap();
            store.checkpoint().await.unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        for extra in ["keys.db-wal", "keys.db-shm"] {
            if let Ok(b) = std::fs::read(dir.path().join(extra)) {
                bytes.extend(b);
            }
        }
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(contains(key.prefix.as_bytes()), "the prefix is stored");
        assert!(!contains(secret.as_bytes()));
        assert!(!contains(&secret.as_bytes()[3..]));
        // Nor the key's random bytes in binary form.
        assert!(!contains(&hex::decode(&secret[3..]).unwrap()));
    }
}
