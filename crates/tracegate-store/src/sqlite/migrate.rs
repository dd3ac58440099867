//! Schema migrations: numbered SQL files embedded in the binary, applied in
//! order, each in its own transaction, recorded in `schema_migrations`. A
//! migration may add a Rust step, run after its SQL in the same transaction,
//! for data SQL cannot compute (such as merged latency sketches).

mod day_rollups;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use crate::error::StoreError;

/// A migration's Rust step.
type Step = fn(&Transaction<'_>) -> Result<(), StoreError>;

/// One embedded migration file, `migrations/sqlite/NNNN_name.sql`.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    /// Run after `sql`, in the same transaction.
    step: Option<Step>,
}

/// Every migration, in version order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "traces_and_bodies",
        sql: include_str!("../../migrations/sqlite/0001_traces_and_bodies.sql"),
        step: None,
    },
    Migration {
        version: 2,
        name: "analytics",
        sql: include_str!("../../migrations/sqlite/0002_analytics.sql"),
        step: None,
    },
    Migration {
        version: 3,
        name: "search_indexes",
        sql: include_str!("../../migrations/sqlite/0003_search_indexes.sql"),
        step: None,
    },
    Migration {
        version: 4,
        name: "day_rollups",
        sql: include_str!("../../migrations/sqlite/0004_day_rollups.sql"),
        step: Some(fill_day_rollups),
    },
    Migration {
        version: 5,
        name: "fts_write_tuning",
        sql: include_str!("../../migrations/sqlite/0005_fts_write_tuning.sql"),
        step: None,
    },
    Migration {
        version: 6,
        name: "effective_model",
        sql: include_str!("../../migrations/sqlite/0006_effective_model.sql"),
        step: None,
    },
    Migration {
        version: 7,
        name: "feedback",
        sql: include_str!("../../migrations/sqlite/0007_feedback.sql"),
        step: None,
    },
    Migration {
        version: 8,
        name: "response_cache",
        sql: include_str!("../../migrations/sqlite/0008_response_cache.sql"),
        step: None,
    },
    Migration {
        version: 9,
        name: "answer_fingerprints",
        sql: include_str!("../../migrations/sqlite/0009_answer_fingerprints.sql"),
        step: None,
    },
    Migration {
        version: 10,
        name: "virtual_keys",
        sql: include_str!("../../migrations/sqlite/0010_virtual_keys.sql"),
        step: None,
    },
    Migration {
        version: 11,
        name: "attempts",
        sql: include_str!("../../migrations/sqlite/0011_attempts.sql"),
        step: None,
    },
];

/// Migration 4: day rollups for the days already stored.
fn fill_day_rollups(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let rows = day_rollups::fill(tx)?;
    tracing::info!(
        rows,
        ms = started.elapsed().as_millis() as u64,
        "filled day rollups from hour rollups"
    );
    Ok(())
}

/// Applies the migrations not yet recorded. Idempotent; safe when another
/// process migrates at the same time (each step re-checks under the write lock).
pub(super) fn apply(c: &mut Connection) -> Result<(), StoreError> {
    apply_through(c, i64::MAX)
}

/// [`apply`], stopping after migration `last`.
fn apply_through(c: &mut Connection, last: i64) -> Result<(), StoreError> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let newest: Option<i64> =
        c.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if newest.is_some_and(|v| v > known) {
        tracing::warn!(
            database = newest,
            known,
            "database schema is newer than this build"
        );
    }
    // Every migration not yet recorded, not only those above the newest: numbers are taken
    // by parallel branches, so a database may have met a higher one before a lower one.
    let applied: std::collections::HashSet<i64> = c
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for m in MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.version) && m.version <= last)
    {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [m.version],
            |r| r.get(0),
        )?;
        if !done {
            let failed =
                |e| StoreError::Backend(format!("migration {:04}_{}: {e}", m.version, m.name));
            tx.execute_batch(m.sql).map_err(|e| failed(e.to_string()))?;
            if let Some(step) = m.step {
                step(&tx).map_err(|e| failed(e.to_string()))?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![m.version, m.name, chrono::Utc::now().timestamp_millis()],
            )?;
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
        tx.commit()?;
    }
    Ok(())
}

/// Checks, without writing, that the database is a tracegate store with every
/// migration of this build applied (for read-only use).
pub(super) fn check_current(c: &Connection) -> Result<(), StoreError> {
    let newest: Option<i64> = c
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .map_err(|e| StoreError::Unavailable(format!("not a tracegate store ({e})")))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    match newest {
        Some(v) if v >= known => Ok(()),
        v => Err(StoreError::Unavailable(format!(
            "the store's schema is at version {}, this build needs {known}: run `tracegate migrate` first",
            v.unwrap_or(0)
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, embedded);
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn traces_stored_before_the_effective_model_get_it() {
        let mut c = Connection::open_in_memory().unwrap();
        apply_through(&mut c, 5).unwrap();
        for (i, (requested, answered)) in [
            (Some("claude-sonnet-4-5"), None),
            (Some("gpt-4o"), Some("gpt-4o-2024-08-06")),
            (None, None),
        ]
        .into_iter()
        .enumerate()
        {
            c.execute(
                "INSERT INTO traces (id, ts, provider, endpoint, method, model_requested, model,
                     stream, outcome, duration_ms, total_tokens)
                 VALUES (?1, ?2, 'openai', '/v1/x', 'POST', ?3, ?4, 0, 'ok', 1.0, 0)",
                params![vec![i as u8; 16], i as i64, requested, answered],
            )
            .unwrap();
        }
        apply(&mut c).unwrap();
        let effective: Vec<Option<String>> = c
            .prepare("SELECT model_eff FROM traces ORDER BY ts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            effective,
            vec![
                Some("claude-sonnet-4-5".into()),
                Some("gpt-4o-2024-08-06".into()),
                None
            ]
        );
        let plan: String = c
            .query_row(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM traces WHERE model_eff = 'x' AND ts > 0",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(
            plan.contains("COVERING INDEX traces_model_eff_ts"),
            "{plan}"
        );
    }

    #[test]
    fn applying_twice_changes_nothing() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c).unwrap();
        apply(&mut c).unwrap();
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, MIGRATIONS.len() as i64);
        let tables: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN
                 ('traces', 'blobs', 'msg_nodes', 'trace_bodies')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 4);
    }

    #[test]
    fn a_missing_lower_migration_is_applied_after_a_higher_one() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c).unwrap();
        // As if version 5 had come from a branch merged after the database met version 8.
        c.execute("DELETE FROM schema_migrations WHERE version = 5", [])
            .unwrap();
        apply(&mut c).unwrap();
        let five: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = 5",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(five, 1);
    }

    #[test]
    fn response_cache_columns_default_to_nothing_saved() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c).unwrap();
        c.execute(
            "INSERT INTO rollups (granularity, dim, bucket, key, requests, errors, input_tokens,
                 output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, duration_sketch)
             VALUES (60000, '', 0, '', 1, 0, 0, 0, 0, 0, 0.5, x'00')",
            [],
        )
        .unwrap();
        let (hits, saved): (i64, f64) = c
            .query_row("SELECT cache_hits, cache_saved_usd FROM rollups", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((hits, saved), (0, 0.0));
    }
}
