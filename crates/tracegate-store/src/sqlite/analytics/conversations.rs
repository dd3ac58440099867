//! Conversations: the list (one query over `conversations` joined to each
//! one's latest trace) and one conversation's tree.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::types::{Type, Value};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tracegate_core::conversation::{LinkKind, DEFAULT_TASK_WINDOW_MS};
use tracegate_core::{Outcome, TraceId};
use uuid::Uuid;

use super::rows::bad;
use crate::analytics::{
    build_tree, ConversationCursor, ConversationPage, ConversationQuery, ConversationSummary,
    ConversationTrace, ConversationTree, LatestTrace,
};
use crate::error::StoreError;

/// How many levels of sub-tasks (sub-tasks of sub-tasks, ...) a tree includes.
const MAX_SUB_TASK_DEPTH: usize = 3;

/// The summary columns, in the order [`summary`] reads them. The latest trace
/// is found through its id (text in `conversations`, 16 bytes in `traces`).
const SUMMARY_SQL: &str = "SELECT c.id, c.account, c.first_ts, c.last_ts, c.requests, c.branches,
        c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens, c.cost_usd,
        c.models, c.latest_trace, t.ts, t.model, t.outcome, t.status
    FROM conversations c
    LEFT JOIN traces t ON t.id = unhex(replace(c.latest_trace, '-', ''))";

/// One page of conversations, newest activity first, in one query.
pub(super) fn list(c: &Connection, q: &ConversationQuery) -> Result<ConversationPage, StoreError> {
    let (sql, args) = list_sql(q);
    let mut stmt = c.prepare_cached(&sql)?;
    let mut data = stmt
        .query_map(rusqlite::params_from_iter(args), summary)?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if data.len() > q.limit() as usize {
        data.truncate(q.limit() as usize);
        data.last().and_then(|s| {
            Some(
                ConversationCursor {
                    last_ts: s.last_ts.timestamp_millis(),
                    id: Uuid::parse_str(&s.id).ok()?,
                }
                .encode(),
            )
        })
    } else {
        None
    };
    Ok(ConversationPage { data, next_cursor })
}

/// The list query and its arguments: only the filters asked for, so each
/// query can use the index that fits it.
pub(super) fn list_sql(q: &ConversationQuery) -> (String, Vec<Value>) {
    let mut filters: Vec<&str> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(a) = q.account() {
        filters.push("c.account = ?");
        args.push(Value::Text(a.to_owned()));
    }
    if let Some(from) = q.from_ms() {
        filters.push("c.last_ts >= ?");
        args.push(Value::Integer(from));
    }
    if let Some(to) = q.to_ms() {
        filters.push("c.first_ts < ?");
        args.push(Value::Integer(to));
    }
    if let Some(ConversationCursor { last_ts, id }) = q.cursor() {
        filters.push("c.last_ts <= ? AND (c.last_ts < ? OR c.id < ?)");
        args.extend([
            Value::Integer(*last_ts),
            Value::Integer(*last_ts),
            Value::Text(id.to_string()),
        ]);
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    // One more than asked, to know whether another page follows.
    args.push(Value::Integer(i64::from(q.limit()) + 1));
    let sql = format!("{SUMMARY_SQL}{filter} ORDER BY c.last_ts DESC, c.id DESC LIMIT ?");
    (sql, args)
}

/// The trace columns, in the order [`trace`] reads them.
const TRACE_COLUMNS: &str = "id, ts, conversation_id, parent_id, branch, link_kind, endpoint,
    model, outcome, status, duration_ms, ttft_ms, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cost_usd, account";

/// One conversation with its traces and its sub-tasks' traces as a tree:
/// one query for the summary, one for its traces, one per level of sub-tasks.
pub(super) fn tree(c: &Connection, id: TraceId) -> Result<Option<ConversationTree>, StoreError> {
    let id = id.to_string();
    let sql = format!("{SUMMARY_SQL} WHERE c.id = ?1");
    let Some(conversation) = c
        .prepare_cached(&sql)?
        .query_row([&id], summary)
        .optional()?
    else {
        return Ok(None);
    };
    let sql = conversation_sql();
    let mut traces = c
        .prepare_cached(&sql)?
        .query_map([&id], trace)?
        .collect::<Result<Vec<_>, _>>()?;

    let sql = sub_task_sql();
    let mut seen: HashSet<String> = HashSet::from([id]);
    let mut sub_tasks = Vec::new();
    let mut level: Vec<ConversationTrace> = traces.clone();
    for _ in 0..MAX_SUB_TASK_DEPTH {
        let (Some(first), Some(last)) = (
            level.iter().map(|t| t.started_at).min(),
            level.iter().map(|t| t.started_at).max(),
        ) else {
            break;
        };
        let parents: Vec<String> = level.iter().map(|t| t.id.to_string()).collect();
        let parents =
            serde_json::to_string(&parents).map_err(|e| StoreError::Backend(e.to_string()))?;
        let found = c
            .prepare_cached(&sql)?
            .query_map(
                params![
                    parents,
                    first.timestamp_millis(),
                    last.timestamp_millis()
                        .saturating_add(DEFAULT_TASK_WINDOW_MS)
                ],
                trace,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        level = found
            .into_iter()
            .filter(|t| {
                t.conversation_id
                    .as_ref()
                    .is_some_and(|c| !seen.contains(c))
            })
            .collect();
        for t in &level {
            if let Some(conv) = &t.conversation_id {
                if seen.insert(conv.clone()) {
                    sub_tasks.push(conv.clone());
                }
            }
        }
        traces.extend(level.iter().cloned());
    }
    let trace_count = traces.len() as u64;
    Ok(Some(ConversationTree {
        conversation,
        sub_tasks,
        trace_count,
        tree: build_tree(traces),
    }))
}

/// The traces of the sub-task conversations started by some traces: their
/// first trace is a `sub_task` whose parent is one of them (a JSON array of
/// ids, `?1`), started in `[?2, ?3]` (found through the time index).
pub(super) fn sub_task_sql() -> String {
    format!(
        "SELECT {TRACE_COLUMNS} FROM traces WHERE conversation_id IN (
             SELECT conversation_id FROM traces
             WHERE link_kind = 'sub_task' AND ts >= ?2 AND ts <= ?3
               AND parent_id IN (SELECT value FROM json_each(?1)))
         ORDER BY ts, rowid"
    )
}

/// The traces of one conversation (`?1`), in time order.
pub(super) fn conversation_sql() -> String {
    format!("SELECT {TRACE_COLUMNS} FROM traces WHERE conversation_id = ?1 ORDER BY ts, rowid")
}

/// Reads a [`SUMMARY_SQL`] row.
fn summary(r: &Row<'_>) -> rusqlite::Result<ConversationSummary> {
    let models: String = r.get(11)?;
    let latest_ts: Option<i64> = r.get(13)?;
    let outcome: Option<String> = r.get(15)?;
    Ok(ConversationSummary {
        id: r.get(0)?,
        account: r.get(1)?,
        first_ts: time(r, 2)?,
        last_ts: time(r, 3)?,
        requests: count(r, 4)?,
        branches: u32::try_from(r.get::<_, i64>(5)?.max(1)).unwrap_or(u32::MAX),
        input_tokens: count(r, 6)?,
        output_tokens: count(r, 7)?,
        cache_read_tokens: count(r, 8)?,
        cache_write_tokens: count(r, 9)?,
        cost_usd: r.get(10)?,
        models: serde_json::from_str(&models).map_err(|e| bad(11, Type::Text, e.to_string()))?,
        latest_trace: LatestTrace {
            id: r.get(12)?,
            started_at: latest_ts.and_then(DateTime::from_timestamp_millis),
            model: r.get(14)?,
            outcome: outcome.as_deref().and_then(Outcome::parse),
            status: r.get(16)?,
        },
    })
}

/// Reads a [`TRACE_COLUMNS`] row.
fn trace(r: &Row<'_>) -> rusqlite::Result<ConversationTrace> {
    let id: Vec<u8> = r.get(0)?;
    let link_kind: Option<String> = r.get(5)?;
    let outcome: String = r.get(8)?;
    let optional = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?
            .map(|v| u64::try_from(v).unwrap_or(0)))
    };
    Ok(ConversationTrace {
        id: Uuid::from_slice(&id).map_err(|e| bad(0, Type::Blob, e.to_string()))?,
        started_at: time(r, 1)?,
        conversation_id: r.get(2)?,
        parent_id: r.get(3)?,
        branch: u32::try_from(r.get::<_, Option<i64>>(4)?.unwrap_or(0)).unwrap_or(0),
        link_kind: link_kind.as_deref().and_then(LinkKind::parse),
        endpoint: r.get(6)?,
        model: r.get(7)?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| bad(8, Type::Text, format!("outcome {outcome}")))?,
        status: r.get(9)?,
        duration_ms: r.get(10)?,
        ttft_ms: r.get(11)?,
        input_tokens: optional(12)?,
        output_tokens: optional(13)?,
        cache_read_tokens: optional(14)?,
        cache_write_tokens: optional(15)?,
        cost_usd: r.get(16)?,
        account: r.get(17)?,
    })
}

fn time(r: &Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    let ms: i64 = r.get(i)?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| bad(i, Type::Integer, format!("timestamp {ms}")))
}

fn count(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
}
