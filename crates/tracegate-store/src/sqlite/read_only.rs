//! Opening an existing store for reading only: for reports computed beside a
//! running gateway (`tracegate diagnose --db`), which must not migrate, vacuum
//! or otherwise write.

use std::path::Path;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use super::{configure, migrate, SqliteStore, WriterPriority, BUSY_TIMEOUT};
use crate::error::StoreError;

/// Read connections of a read-only store.
const READ_ONLY_POOL_SIZE: u32 = 2;

impl SqliteStore {
    /// Opens the existing database at `path` read-only: no migration is applied
    /// (a store whose schema is behind this build is refused) and every write
    /// fails. Blocking: call it at startup or from a blocking thread.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Unavailable(format!(
                "{} does not exist or is not a file",
                path.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        configure(&conn)?;
        migrate::check_current(&conn)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(flags)
            .with_init(|c| configure(c));
        let readers = r2d2::Pool::builder()
            .max_size(READ_ONLY_POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(BUSY_TIMEOUT)
            .build(manager)?;
        SqliteStore::from_parts(
            Some(path.to_path_buf()),
            conn,
            Some(readers),
            WriterPriority::Normal,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tracegate_core::{Provider, Trace};

    use crate::store::TraceStore;
    use crate::SqliteStore;

    #[tokio::test]
    async fn reads_what_the_gateway_wrote_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let rw = SqliteStore::open(&path).unwrap();
        let t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        rw.insert_batch(vec![t.clone()]).await.unwrap();
        let ro = SqliteStore::open_read_only(&path).unwrap();
        assert_eq!(ro.recent(10).await.unwrap().len(), 1);
        let mut other = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        other.duration_ms = 1.0;
        assert!(ro.insert_batch(vec![other]).await.is_err());
        drop(rw);
    }

    #[test]
    fn a_missing_file_or_a_foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteStore::open_read_only(&dir.path().join("none.db")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let foreign = dir.path().join("foreign.db");
        rusqlite::Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE x (y INTEGER)")
            .unwrap();
        let err = SqliteStore::open_read_only(&foreign).unwrap_err();
        assert!(err.to_string().contains("not a tracegate store"), "{err}");
    }
}
