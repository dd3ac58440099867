//! The store's health as findings: checkpoint and VACUUM due.

use tracegate_store::health::{
    BackendHealth, StoreHealth, CHECKPOINT_DUE_WAL_BYTES, VACUUM_DUE_FREE_RATIO,
};

use super::format::{bytes, pct};
use super::severity::Severity;
use super::{Finding, Section};

/// Findings for the maintenance the store says is due.
pub fn findings(h: &StoreHealth, findings: &mut Vec<Finding>) {
    let BackendHealth::Sqlite(s) = &h.details;
    let db = &h.location;
    if h.checkpoint_due {
        findings.push(Finding::new(
            Severity::P2,
            Section::Store,
            format!(
                "the write-ahead log is {}: a checkpoint is due",
                bytes(s.wal_bytes)
            ),
            vec![
                format!(
                    "WAL {} (checkpoints normally keep it under {})",
                    bytes(s.wal_bytes),
                    bytes(CHECKPOINT_DUE_WAL_BYTES)
                ),
                format!("database file {}", bytes(s.file_bytes)),
            ],
            format!("A WAL this large means checkpoints cannot finish, usually because a long read holds it (an open `sqlite3` shell, a backup, a slow export). End that reader; then `sqlite3 {db} 'PRAGMA wal_checkpoint(TRUNCATE);'` moves the log into the database and truncates it, safe while the gateway runs."),
        ));
    }
    if h.vacuum_due {
        let free = h.free_ratio.unwrap_or(0.0);
        let how = if s.auto_vacuum == "incremental" {
            format!("`sqlite3 {db} 'PRAGMA incremental_vacuum;'` gives the free pages back while the gateway runs")
        } else {
            format!("stop the gateway and run `sqlite3 {db} 'VACUUM;'` (it rewrites the file: it needs as much free disk as the file's size)")
        };
        findings.push(Finding::new(
            Severity::P3,
            Section::Store,
            format!(
                "{} of the database file is free pages: a VACUUM is due",
                pct(free)
            ),
            vec![
                format!(
                    "{} free pages of {} ({}, pages of {} bytes); due above {}",
                    s.freelist_count,
                    s.page_count,
                    bytes(h.free_bytes.unwrap_or(0)),
                    s.page_size,
                    pct(VACUUM_DUE_FREE_RATIO)
                ),
                format!("auto_vacuum = {}", s.auto_vacuum),
            ],
            format!("The file holds space it no longer uses: {how}."),
        ));
    }
}
