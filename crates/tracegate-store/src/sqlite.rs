//! The embedded SQLite backend.
//!
//! One writer connection behind a mutex and a small pool of read
//! connections, in WAL mode so reads never wait for writes. No SQLite call
//! runs on an async worker thread: trace batches are written on a dedicated
//! writer thread of lower priority (see `write_thread`), with the splitting,
//! hashing and compressing of bodies (see the `body` module for how bodies
//! are kept); everything else runs on tokio's blocking pool. All SQL of this
//! backend lives under `sqlite/`.

mod analytics;
mod error;
mod feedback;
mod health;
mod keys;
mod migrate;
mod read;
mod read_only;
mod search;
mod write;
mod write_thread;

pub use write_thread::WriterPriority;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tracegate_core::feedback::Feedback;
use tracegate_core::{Trace, TraceId};

use crate::error::StoreError;
use crate::model::{RelinkReport, StorageStats, TraceDetail, TraceSummary};
use crate::store::TraceStore;

/// How long a connection waits for a lock before reporting the store busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Size the write-ahead log is cut back to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Read connections kept open.
const READ_POOL_SIZE: u32 = 4;

type ReadPool = r2d2::Pool<SqliteConnectionManager>;

/// A trace store in one SQLite database file (or in memory).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` for an in-memory database.
    path: Option<PathBuf>,
    /// The writer connection and its conversation linker.
    writer: Mutex<write::Writer>,
    /// `None` for an in-memory database: reads then use the writer.
    readers: Option<ReadPool>,
    /// Where trace batches are written (see `write_thread`).
    write_thread: write_thread::WriteThread,
    /// The bound on the rollups' client-chosen keys (see `write/bounded.rs`).
    bounds: write::bounded::DimensionBounds,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending
    /// migrations. Blocking: call it at startup or from a blocking thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, WriterPriority::default())
    }

    /// [`SqliteStore::open`] with the writer thread scheduled as `priority` says.
    pub fn open_with(path: &Path, priority: WriterPriority) -> Result<SqliteStore, StoreError> {
        let mut writer = Connection::open(path)?;
        // Only takes effect on a new, empty database; lets later retention
        // give space back with `PRAGMA incremental_vacuum`.
        writer.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{} cannot use WAL (journal mode {mode})",
                path.display()
            )));
        }
        configure(&writer)?;
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        migrate::apply(&mut writer)?;

        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                configure(c)?;
                c.pragma_update(None, "query_only", true)
            });
        let readers = r2d2::Pool::builder()
            .max_size(READ_POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(BUSY_TIMEOUT)
            .build(manager)?;
        SqliteStore::from_parts(Some(path.to_path_buf()), writer, Some(readers), priority)
    }

    /// A private in-memory database with migrations applied, for tests and
    /// throwaway use. Reads share the writer connection.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let mut writer = Connection::open_in_memory()?;
        configure(&writer)?;
        migrate::apply(&mut writer)?;
        SqliteStore::from_parts(None, writer, None, WriterPriority::default())
    }

    fn from_parts(
        path: Option<PathBuf>,
        writer: Connection,
        readers: Option<ReadPool>,
        priority: WriterPriority,
    ) -> Result<Self, StoreError> {
        let bounds =
            write::bounded::DimensionBounds::load(&writer, write::bounded::MAX_DIMENSION_VALUES)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                bounds,
                writer: Mutex::new(write::Writer::new(writer)?),
                readers,
                write_thread: write_thread::WriteThread::start(priority)?,
            }),
        })
    }

    /// Model names the rollups always keep under their own name, past the bound on distinct
    /// models (configured prices and metric models).
    pub fn keep_models(&self, models: impl IntoIterator<Item = String>) {
        self.inner.bounds.keep("model", models);
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Sets how long after a Task/Agent call a matching prompt still counts as
    /// its sub-task (rebuilding the conversation linker). Blocking: call it at
    /// startup or from a blocking thread.
    pub fn set_subtask_window_ms(&self, window_ms: i64) -> Result<(), StoreError> {
        self.inner.writer.lock().set_task_window_ms(window_ms)
    }

    /// Recomputes the conversation links of the traces started at or after
    /// `since_ms` (every trace with `None`) under the current linking rules,
    /// and the conversations they belong to. `progress(done, total)` is called
    /// as traces are relinked. Blocking; writes wait for it. A gateway running
    /// on the same database keeps its own linker: restart it afterwards.
    pub fn relink(
        &self,
        since_ms: Option<i64>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RelinkReport, StoreError> {
        self.inner.writer.lock().relink(since_ms, progress)
    }

    /// Moves the write-ahead log into the database file and truncates it.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.with_writer(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    /// Rebuilds the database file without free pages.
    pub async fn vacuum(&self) -> Result<(), StoreError> {
        self.with_writer(|c| Ok(c.execute_batch("VACUUM")?)).await
    }

    /// Runs `f` with the writer connection on a blocking thread.
    async fn with_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&mut inner.writer.lock().conn)).await?
    }

    /// Runs `f` with a read connection on a blocking thread.
    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || match &inner.readers {
            Some(pool) => f(&*pool.get()?),
            None => f(&inner.writer.lock().conn),
        })
        .await?
    }
}

/// Settings every connection gets.
fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "foreign_keys", true)
}

#[async_trait::async_trait]
impl TraceStore for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.with_writer(migrate::apply).await
    }

    async fn insert_batch(&self, traces: Vec<Trace>) -> Result<(), StoreError> {
        if traces.is_empty() {
            return Ok(());
        }
        let late = write_thread::is_late(&traces, chrono::Utc::now());
        let inner = Arc::clone(&self.inner);
        let job = move || {
            let batch = write::prepare(traces, &inner.bounds)?;
            inner.writer.lock().insert_batch(&batch, &inner.bounds)
        };
        if late {
            // Behind on a busy machine: compete for the CPU like any thread.
            tokio::task::spawn_blocking(job).await?
        } else {
            self.inner.write_thread.run(job).await
        }
    }

    async fn recent(&self, limit: u32) -> Result<Vec<TraceSummary>, StoreError> {
        self.with_reader(move |c| read::recent(c, limit)).await
    }

    async fn get(&self, id: TraceId) -> Result<Option<TraceDetail>, StoreError> {
        self.with_reader(move |c| read::get(c, id)).await
    }

    async fn add_feedback(&self, feedback: &Feedback) -> Result<(), StoreError> {
        let feedback = feedback.clone();
        self.with_writer(move |c| feedback::insert(c, &feedback))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn stats(&self) -> Result<StorageStats, StoreError> {
        let path = self.inner.path.clone();
        self.with_reader(move |c| read::stats(c, path.as_deref()))
            .await
    }
}

#[cfg(test)]
mod tests;
