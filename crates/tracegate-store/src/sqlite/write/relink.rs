//! Recomputing the conversation links of stored traces (`tracegate relink`):
//! the linker is rebuilt from the traces before the first one relinked, then
//! every later trace is linked again, in the order it was written, from its
//! stored bodies. Link keys and answer fingerprints are rewritten too, and the
//! `conversations` rows touched (before or after) are recomputed from their traces.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use tracegate_core::Provider;
use uuid::Uuid;

use super::conversations::Conversations;
use super::links::{LinkInput, StoreLinker};
use crate::error::StoreError;
use crate::model::RelinkReport;
use crate::sqlite::read;

/// Traces relinked per transaction.
const CHUNK: i64 = 256;

/// One stored trace as relinking reads it.
struct Stored {
    rowid: i64,
    id: String,
    at_ms: i64,
    account: Option<String>,
    old: (Option<String>, Option<String>, Option<i64>, Option<String>),
    input: Option<LinkInput>,
}

/// Relinks every trace started at or after `since_ms` (all with `None`),
/// calling `progress(done, total)` as it goes.
pub(in crate::sqlite) fn relink(
    c: &mut Connection,
    capacity: usize,
    task_window_ms: i64,
    since_ms: Option<i64>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RelinkReport, StoreError> {
    let since = since_ms.unwrap_or(i64::MIN);
    let first: Option<i64> = c
        .query_row(
            "SELECT MIN(rowid) FROM traces WHERE ts >= ?1",
            [since],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let mut report = RelinkReport::default();
    let Some(first) = first else {
        return Ok(report);
    };
    let total: i64 = c.query_row(
        "SELECT COUNT(*) FROM traces WHERE rowid >= ?1",
        [first],
        |r| r.get(0),
    )?;
    let total = u64::try_from(total).unwrap_or(0);
    let mut linker = StoreLinker::rebuild_before(c, capacity, task_window_ms, first)?;
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut pending = Conversations::default();
    let mut after = first - 1;
    let mut done = 0u64;
    progress(0, total);
    loop {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let chunk = read_chunk(&tx, after)?;
        let Some(last) = chunk.last() else {
            break;
        };
        after = last.rowid;
        for t in &chunk {
            done += 1;
            report.traces += 1;
            if let Some(old) = &t.old.0 {
                touched.insert(old.clone());
            }
            let Some(input) = &t.input else {
                if t.old.0.is_some() {
                    tx.prepare_cached(
                        "UPDATE traces SET conversation_id = NULL, parent_id = NULL,
                             branch = NULL, link_kind = NULL WHERE rowid = ?1",
                    )?
                    .execute([t.rowid])?;
                    tx.prepare_cached("DELETE FROM trace_links WHERE trace_rowid = ?1")?
                        .execute([t.rowid])?;
                    report.changed += 1;
                }
                continue;
            };
            let at = (t.at_ms, t.account.as_deref());
            let linked = linker.link(&tx, at, &t.id, input, &pending)?;
            pending.note_branch(&linked.conversation_id, linked.branch);
            touched.insert(linked.conversation_id.clone());
            let parent = linked.parent_trace.as_ref().map(|p| p.trace_id.clone());
            let new = (
                Some(linked.conversation_id.clone()),
                parent.clone(),
                Some(i64::from(linked.branch)),
                Some(linked.kind.as_str().to_owned()),
            );
            if new != t.old {
                report.changed += 1;
            }
            tx.prepare_cached(
                "UPDATE traces SET conversation_id = ?2, parent_id = ?3, branch = ?4,
                     link_kind = ?5 WHERE rowid = ?1",
            )?
            .execute(params![
                t.rowid,
                linked.conversation_id,
                parent,
                linked.branch,
                linked.kind.as_str()
            ])?;
            input.insert(&tx, t.rowid)?;
        }
        tx.commit()?;
        progress(done.min(total), total);
    }
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for id in &touched {
        recount(&tx, id)?;
    }
    tx.commit()?;
    report.conversations = touched.len() as u64;
    Ok(report)
}

/// The next traces after row `after`, with their link inputs.
fn read_chunk(c: &Connection, after: i64) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT t.rowid, t.id, t.ts, t.account, t.provider, t.endpoint,
                t.conversation_id, t.parent_id, t.branch, t.link_kind,
                b.request_codec, b.request, b.response_codec, b.response
         FROM traces t LEFT JOIN trace_bodies b ON b.trace_rowid = t.rowid
         WHERE t.rowid > ?1 ORDER BY t.rowid LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![after, CHUNK])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: Vec<u8> = r.get(1)?;
        let id = Uuid::from_slice(&id)
            .map_err(|e| StoreError::corrupt(format!("trace id: {e}")))?
            .to_string();
        let provider: String = r.get(4)?;
        let endpoint: String = r.get(5)?;
        let input = match Provider::parse(&provider) {
            Some(provider) => {
                let request = read::body(c, (r.get(10)?, r.get(11)?))?;
                let response = read::body(c, (r.get(12)?, r.get(13)?))?;
                LinkInput::from_parts(provider, &endpoint, json(&request), json(&response))
            }
            None => None,
        };
        out.push(Stored {
            rowid: r.get(0)?,
            id,
            at_ms: r.get(2)?,
            account: r.get(3)?,
            old: (r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?),
            input,
        });
    }
    Ok(out)
}

/// A stored body as JSON: `None` when there was none.
fn json(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
}

/// Recomputes one `conversations` row from its traces (removes it when none is left).
fn recount(c: &Connection, id: &str) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM conversations WHERE id = ?1")?
        .execute([id])?;
    c.prepare_cached(
        "INSERT INTO conversations (id, account, first_ts, last_ts, latest_trace, requests,
             branches, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
             cost_usd, models)
         SELECT ?1,
             (SELECT a.account FROM traces a WHERE a.conversation_id = ?1
                 AND a.account IS NOT NULL ORDER BY a.ts, a.rowid LIMIT 1),
             MIN(t.ts), MAX(t.ts),
             (SELECT lower(substr(hex(l.id), 1, 8) || '-' || substr(hex(l.id), 9, 4) || '-' ||
                     substr(hex(l.id), 13, 4) || '-' || substr(hex(l.id), 17, 4) || '-' ||
                     substr(hex(l.id), 21))
                 FROM traces l WHERE l.conversation_id = ?1 ORDER BY l.ts DESC, l.id DESC LIMIT 1),
             COUNT(*), MAX(t.branch) + 1,
             SUM(COALESCE(t.input_tokens, 0)), SUM(COALESCE(t.output_tokens, 0)),
             SUM(COALESCE(t.cache_read_tokens, 0)), SUM(COALESCE(t.cache_write_tokens, 0)),
             SUM(t.cost_usd),
             (SELECT json_group_array(m) FROM (SELECT DISTINCT x.model_eff AS m FROM traces x
                 WHERE x.conversation_id = ?1 AND x.model_eff IS NOT NULL ORDER BY m))
         FROM traces t WHERE t.conversation_id = ?1
         HAVING COUNT(*) > 0",
    )?
    .execute([id])?;
    Ok(())
}
