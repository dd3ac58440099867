//! The segment plan, for any sort key: traces with a value for it in
//! `(value, rowid)` order, then (nullable keys only) those without, in rowid
//! order. Each segment is one query on the sort key's index.
//!
//! Reading the sort index and filtering each trace is fast while matches are
//! common, and slow when they are rare; reading the filter's own index and
//! sorting is the reverse. Without statistics the query planner cannot tell
//! which holds, so when the filter could drive the query, the sort index is
//! tried on a slice first (`Tuning::slice` entries) and, if that slice does not
//! fill the page, the rest is read through the filter's index (by start time,
//! as rowids from a numeric column's index, see `by_time`).

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use tracegate_core::filter::{Column, Field, Filter, Op, Predicate};

use super::by_time::{self, Source};
use super::filter::{compile, score_test};
use super::page::{fetch, sort_column, Hit, Plan};
use super::sql::Sql;
use crate::error::StoreError;
use crate::search::{Position, SortKey, SortValue};

/// Up to `k` hits after the cursor.
pub(super) fn run(c: &Connection, p: &Plan<'_>, k: usize) -> Result<Vec<Hit>, StoreError> {
    let in_nulls = matches!(
        p.q.after,
        Some(Position {
            value: SortValue::Null,
            ..
        })
    );
    let mut hits = Vec::new();
    if !in_nulls {
        hits = if probe_first(p) {
            valued_by_slice(c, p, k)?
        } else {
            valued(c, p, k)?
        };
    }
    if p.q.sort.nullable() && hits.len() < k {
        hits.extend(nulls(c, p, k - hits.len(), in_nulls)?);
    }
    Ok(hits)
}

/// ` AND t.rowid IN (<full-text matches>)` when there is text.
fn text(p: &Plan<'_>, sql: &mut Sql) {
    if let Some(m) = &p.text {
        sql.push(" AND t.rowid IN (SELECT rowid FROM traces_fts WHERE traces_fts MATCH ")
            .bind(m.clone())
            .push(")");
    }
}

/// Traces with a sort value, in one query the planner is free to drive.
pub(super) fn valued(c: &Connection, p: &Plan<'_>, k: usize) -> Result<Vec<Hit>, StoreError> {
    let col = sort_column(p.q.sort);
    let mut sql = p.select();
    sql.push(" FROM traces t WHERE ")
        .push(col)
        .push(" IS NOT NULL");
    p.keyset(&mut sql);
    text(p, &mut sql);
    p.filter(&mut sql);
    p.order_by(&mut sql, col, "t.rowid");
    sql.push(" LIMIT ").bind(k as i64);
    fetch(c, &sql)
}

/// Traces with a sort value: a slice of the sort index, then the filter's index.
fn valued_by_slice(c: &Connection, p: &Plan<'_>, k: usize) -> Result<Vec<Hit>, StoreError> {
    let mut hits = slice(c, p, k)?;
    if hits.len() >= k {
        return Ok(hits);
    }
    let Some(end) = slice_end(c, p)? else {
        return Ok(hits);
    };
    // The slice tells how common matches are: read on in sort order while
    // that costs fewer rows than reading every match through the filter's
    // index and sorting them (`+col` keeps the sort index out). By start
    // time, rowids from a column's index need no trace read to be sorted
    // (see `by_time`): an index entry costs a fraction of a trace, so that
    // index is used while it holds fewer than twice the rows left to read.
    let rate = (hits.len() as f64).max(0.5) / p.tuning.slice.max(1) as f64;
    let by_sort = (k - hits.len()) as f64 / rate;
    if let Some(source) = index_source(p) {
        let most = (2.0 * by_sort).min(i64::MAX as f64) as i64;
        if source.count(c, most)? < most {
            return by_time::run(c, p, &source, k);
        }
    }
    let by_filter = rate * table_size(c)? as f64 * 4.0;
    let col = sort_column(p.q.sort);
    let plus = format!("+{col}");
    let col = if by_sort <= by_filter {
        col
    } else {
        plus.as_str()
    };
    let mut sql = p.select();
    sql.push(" FROM traces t WHERE ")
        .push(col)
        .push(" IS NOT NULL");
    p.after_position(&mut sql, col, &end);
    p.filter(&mut sql);
    p.order_by(&mut sql, col, "t.rowid");
    sql.push(" LIMIT ").bind((k - hits.len()) as i64);
    hits.extend(fetch(c, &sql)?);
    Ok(hits)
}

/// The matches (at most `k`) among the first `Tuning::slice` entries of the
/// sort index after the cursor, in order.
pub(super) fn slice(c: &Connection, p: &Plan<'_>, k: usize) -> Result<Vec<Hit>, StoreError> {
    let col = sort_column(p.q.sort);
    let mut sql = p.select();
    sql.push(" FROM (SELECT t.rowid AS r, ").push(col);
    sql.push(" AS v FROM traces t WHERE ")
        .push(col)
        .push(" IS NOT NULL");
    p.keyset(&mut sql);
    p.order_by(&mut sql, col, "t.rowid");
    sql.push(" LIMIT ").bind(p.tuning.slice);
    sql.push(") s CROSS JOIN traces t ON t.rowid = s.r WHERE 1");
    p.filter(&mut sql);
    p.order_by(&mut sql, "s.v", "s.r");
    sql.push(" LIMIT ").bind(k as i64);
    fetch(c, &sql)
}

/// About how many traces there are (the highest rowid), read from the table's b-tree.
fn table_size(c: &Connection) -> Result<i64, StoreError> {
    let max: Option<i64> = c
        .prepare_cached("SELECT max(rowid) FROM traces")?
        .query_row([], |r| r.get(0))?;
    Ok(max.unwrap_or(0).max(1))
}

/// The position of the last entry of the slice; `None` when the slice
/// reached the end of the segment.
pub(super) fn slice_end(c: &Connection, p: &Plan<'_>) -> Result<Option<Position>, StoreError> {
    let col = sort_column(p.q.sort);
    let mut sql = Sql::default();
    sql.push("SELECT ")
        .push(col)
        .push(", t.rowid FROM traces t WHERE ");
    sql.push(col).push(" IS NOT NULL");
    p.keyset(&mut sql);
    p.order_by(&mut sql, col, "t.rowid");
    sql.push(" LIMIT 1 OFFSET ").bind(p.tuning.slice - 1);
    let mut stmt = c.prepare_cached(&sql.text)?;
    let end = stmt
        .query_row(params_from_iter(sql.params.iter()), |r| {
            let value = match r.get::<_, SqlValue>(0)? {
                SqlValue::Integer(i) => SortValue::Int(i),
                SqlValue::Real(f) => SortValue::Float(f),
                _ => SortValue::Null,
            };
            Ok(Position {
                value,
                tiebreak: r.get(1)?,
            })
        })
        .optional()?;
    Ok(end)
}

/// Traces without a sort value, in rowid order.
fn nulls(c: &Connection, p: &Plan<'_>, k: usize, in_nulls: bool) -> Result<Vec<Hit>, StoreError> {
    let col = sort_column(p.q.sort);
    let mut sql = p.select();
    sql.push(" FROM traces t WHERE ").push(col).push(" IS NULL");
    if let Some(pos) = p.q.after.as_ref().filter(|_| in_nulls) {
        sql.push(" AND t.rowid ")
            .push(p.after)
            .push(" ")
            .bind(pos.tiebreak);
    }
    text(p, &mut sql);
    p.filter(&mut sql);
    sql.push(" ORDER BY t.rowid ").push(p.dir).push(" LIMIT ");
    sql.bind(k as i64);
    fetch(c, &sql)
}

/// Whether to try a slice of the sort index before the filter's index: only
/// when some index could drive the filter and none also gives the order.
fn probe_first(p: &Plan<'_>) -> bool {
    let Some(filter) = p.filter_tree() else {
        return false;
    };
    if p.text.is_some() {
        return false;
    }
    let sort = p.q.sort;
    let conjuncts = conjuncts(filter);
    let ordered_by_index = sort == SortKey::Ts
        && conjuncts.iter().any(|pr| {
            matches!(pr.op, Op::Eq | Op::In)
                && matches!(
                    pr.field,
                    Field::Column(
                        Column::Id
                            | Column::Model
                            | Column::Account
                            | Column::Provider
                            | Column::Outcome
                            | Column::ConversationId
                    )
                )
        });
    let drivable = conjuncts.iter().any(|pr| match &pr.field {
        Field::Column(col) => {
            indexed(*col)
                && sort_column(sort) != super::sql::column(*col)
                && matches!(pr.op, Op::Eq | Op::In | Op::Gt | Op::Gte | Op::Lt | Op::Lte)
        }
        // Feedback drives only by start time (see `index_source`); sorted by
        // another key, SQLite reads the few traces with feedback and sorts them.
        Field::FeedbackScore => sort == SortKey::Ts && score_test(pr).is_some(),
        Field::Metadata(_) => false,
    });
    drivable && !ordered_by_index
}

/// For start-time order, a test every match passes on a column with an index
/// of its own (other than `ts`): its matching rowids, read from that index;
/// or a test of feedback scores: the traces of the entries that pass it.
fn index_source<'a>(p: &Plan<'a>) -> Option<Source<'a>> {
    if p.q.sort != SortKey::Ts || p.text.is_some() {
        return None;
    }
    conjuncts(p.filter_tree()?).into_iter().find_map(|pr| {
        let col = match pr.field {
            Field::Column(col) => col,
            Field::FeedbackScore => return score_test(pr).map(|test| Source::Feedback { test }),
            Field::Metadata(_) => return None,
        };
        let index = match col {
            Column::DurationMs => "traces_duration",
            Column::TtftMs => "traces_ttft",
            Column::CostUsd => "traces_cost",
            Column::TotalTokens => "traces_total_tokens",
            _ => return None,
        };
        if !matches!(pr.op, Op::Eq | Op::In | Op::Gt | Op::Gte | Op::Lt | Op::Lte) {
            return None;
        }
        let mut test = Sql::default();
        compile(&Filter::Leaf(pr.clone()), &mut test);
        Some(Source::Index { index, test })
    })
}

/// The predicates every match must satisfy (the top-level `and`).
fn conjuncts(f: &Filter) -> Vec<&Predicate> {
    match f {
        Filter::Leaf(p) => vec![p],
        Filter::And(children) => children.iter().flat_map(conjuncts).collect(),
        Filter::Or(_) | Filter::Not(_) => Vec::new(),
    }
}

/// Columns with an index of their own (see the migrations).
fn indexed(c: Column) -> bool {
    matches!(
        c,
        Column::Id
            | Column::StartedAt
            | Column::Model
            | Column::Account
            | Column::Provider
            | Column::Outcome
            | Column::ConversationId
            | Column::DurationMs
            | Column::TtftMs
            | Column::CostUsd
            | Column::TotalTokens
    )
}
