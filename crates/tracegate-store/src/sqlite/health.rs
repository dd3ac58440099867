//! SQLite's health: file and write-ahead log sizes, free pages, and the
//! error breakdown read from the `(outcome, ts)` index.

use std::path::Path;

use rusqlite::Connection;
use tracegate_core::Outcome;

use super::SqliteStore;
use crate::analytics::{QueryError, TimeRange};
use crate::error::StoreError;
use crate::health::{
    vacuum_due, BackendHealth, ErrorCount, HealthStore, SqliteHealth, StoreHealth,
    CHECKPOINT_DUE_WAL_BYTES, MAX_ERROR_ROWS,
};

/// Why the page cache hit rate is not reported.
const NO_CACHE_HIT_RATE: &str =
    "page cache hit rate: not measured; SQLite reports it only through \
    sqlite3_db_status, which the SQLite binding used here does not expose";

#[async_trait::async_trait]
impl HealthStore for SqliteStore {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        let path = self.inner.path.clone();
        self.with_reader(move |c| health(c, path.as_deref())).await
    }

    async fn errors_by_status(
        &self,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<ErrorCount>, StoreError> {
        if !(1..=MAX_ERROR_ROWS).contains(&limit) {
            return Err(StoreError::Backend(
                QueryError::BadLimit {
                    got: limit,
                    max: MAX_ERROR_ROWS,
                }
                .to_string(),
            ));
        }
        self.with_reader(move |c| errors_by_status(c, range, limit))
            .await
    }
}

fn pragma_u64(c: &Connection, name: &str) -> Result<u64, StoreError> {
    let v: i64 = c.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
    Ok(u64::try_from(v).unwrap_or(0))
}

fn health(c: &Connection, path: Option<&Path>) -> Result<StoreHealth, StoreError> {
    let page_size = pragma_u64(c, "page_size")?;
    let page_count = pragma_u64(c, "page_count")?;
    let freelist_count = pragma_u64(c, "freelist_count")?;
    let journal_mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    let auto_vacuum = match pragma_u64(c, "auto_vacuum")? {
        1 => "full",
        2 => "incremental",
        _ => "none",
    };
    let (location, file_bytes, wal_bytes) = match path {
        Some(p) => {
            let mut wal = p.as_os_str().to_owned();
            wal.push("-wal");
            (
                std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.to_path_buf())
                    .display()
                    .to_string(),
                file_len(p)?,
                file_len(Path::new(&wal))?,
            )
        }
        None => (":memory:".to_owned(), page_count * page_size, 0),
    };
    let free_bytes = freelist_count.saturating_mul(page_size);
    let free_ratio = (page_count > 0).then(|| freelist_count as f64 / page_count as f64);
    Ok(StoreHealth {
        backend: "sqlite".to_owned(),
        location,
        size_bytes: Some(file_bytes.saturating_add(wal_bytes)),
        free_bytes: Some(free_bytes),
        free_ratio,
        cache_hit_rate: None,
        checkpoint_due: wal_bytes > CHECKPOINT_DUE_WAL_BYTES,
        vacuum_due: vacuum_due(freelist_count, page_count),
        notes: vec![NO_CACHE_HIT_RATE.to_owned()],
        details: BackendHealth::Sqlite(SqliteHealth {
            file_bytes,
            wal_bytes,
            page_size,
            page_count,
            freelist_count,
            journal_mode: journal_mode.to_ascii_lowercase(),
            auto_vacuum: auto_vacuum.to_owned(),
        }),
    })
}

/// Size of a file, 0 when it does not exist.
fn file_len(path: &Path) -> Result<u64, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::Unavailable(format!("{}: {e}", path.display()))),
    }
}

fn errors_by_status(
    c: &Connection,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<ErrorCount>, StoreError> {
    // One index range per failed outcome: the cost follows the errors, not the traffic.
    let failed: Vec<String> = Outcome::ALL
        .iter()
        .filter(|o| **o != Outcome::Ok)
        .map(|o| format!("'{}'", o.as_str()))
        .collect();
    let sql = format!(
        "SELECT upstream, status, outcome, COUNT(*) AS n FROM traces
         WHERE outcome IN ({}) AND ts >= ?1 AND ts < ?2
         GROUP BY upstream, status, outcome
         ORDER BY n DESC, upstream, status, outcome LIMIT ?3",
        failed.join(", ")
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        rusqlite::params![range.from_ms(), range.to_ms(), limit],
        |r| {
            let status: Option<i64> = r.get(1)?;
            let count: i64 = r.get(3)?;
            Ok(ErrorCount {
                upstream: r.get(0)?,
                status: status.and_then(|s| u16::try_from(s).ok()),
                outcome: r.get(2)?,
                count: u64::try_from(count).unwrap_or(0),
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tracegate_core::{Provider, Trace};

    use super::*;
    use crate::store::TraceStore;

    fn failed(upstream: &str, status: Option<u16>, outcome: Outcome, at_ms: i64) -> Trace {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        t.started_at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap();
        t.upstream = Some(upstream.to_owned());
        t.status = status;
        t.outcome = outcome;
        t
    }

    #[tokio::test]
    async fn errors_are_counted_by_upstream_status_and_outcome_within_the_range() {
        let store = SqliteStore::open_in_memory().unwrap();
        let at = 1_700_000_000_000;
        let mut batch = vec![
            failed("a", Some(429), Outcome::UpstreamError, at),
            failed("a", Some(429), Outcome::UpstreamError, at + 1),
            failed("b", None, Outcome::Timeout, at + 2),
            failed("a", Some(200), Outcome::Ok, at + 3),
            failed("a", Some(500), Outcome::UpstreamError, at + 10_000),
        ];
        for t in &mut batch {
            t.duration_ms = 5.0;
        }
        store.insert_batch(batch).await.unwrap();
        let range = TimeRange::new(at, at + 1000).unwrap();
        let rows = store.errors_by_status(range, 10).await.unwrap();
        assert_eq!(
            rows,
            vec![
                ErrorCount {
                    upstream: Some("a".into()),
                    status: Some(429),
                    outcome: "upstream_error".into(),
                    count: 2
                },
                ErrorCount {
                    upstream: Some("b".into()),
                    status: None,
                    outcome: "timeout".into(),
                    count: 1
                },
            ]
        );
        assert!(store.errors_by_status(range, 0).await.is_err());
    }

    #[tokio::test]
    async fn health_reports_pages_and_what_it_cannot_measure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).unwrap();
        let h = store.health().await.unwrap();
        assert_eq!(h.backend, "sqlite");
        assert!(h.size_bytes.unwrap() > 0);
        assert!(h.cache_hit_rate.is_none());
        assert!(h.notes.iter().any(|n| n.contains("cache hit rate")));
        assert!(!h.checkpoint_due && !h.vacuum_due);
        let BackendHealth::Sqlite(s) = h.details;
        assert!(s.page_count > 0 && s.page_size > 0);
        assert_eq!(s.journal_mode, "wal");
        assert_eq!(s.auto_vacuum, "incremental");
    }
}
