//! Sorted by start time from matches found in rowid order: full text, the
//! entries of a column's own index that pass a test on it, or the traces
//! with a feedback entry whose score passes a test.
//!
//! FTS5 gives matches in rowid order, cheaply and lazily, and a column index
//! gives its matching rowids without reading a trace; traces are written in
//! nearly start-time order, so the first matches by rowid are nearly the
//! first by start time. The page is built from that and then made exact:
//!
//! 1. Up to `cap + 1` matching rowids (`cap` is `Tuning::min_cap`, or twice the page), in scan order (newest rows first for
//!    `desc`). Fewer: every match is known, fetch them and sort. Done.
//! 2. Otherwise the first `k` hits (matching, filtered, after the cursor) in
//!    rowid order, from those rowids and then, if needed, a scan beyond them.
//!    Every hit between the start of the scan and the `k`-th (the edge) is
//!    then known.
//! 3. A trace beyond the edge can still belong on the page only if it sorts
//!    before the worst of the `k`: one written out of start-time order. The
//!    `ts` index lists those directly (without reading the traces); each is
//!    checked against the matches already read, or against one ranged
//!    query, and the page is the best `k` of all.
//!
//! No step asks FTS5 about one row at a time: a prefix term costs a merge of
//! every word it covers per query, so per-row checks would be slow.

use std::collections::HashSet;

use rusqlite::{params_from_iter, Connection};

use super::page::{fetch, fetch_ids, sort_hits, sql_value, Hit, Plan};
use super::segments;
use super::sql::Sql;
use crate::error::StoreError;
use crate::search::SortOrder;

/// Where the matching rowids come from.
pub(super) enum Source<'a> {
    /// Full-text matches of an FTS5 expression.
    Text(&'a str),
    /// Traces whose entry in `index` passes `test`, a condition on its column only.
    Index { index: &'static str, test: Sql },
    /// Traces with a feedback entry that passes `test`, a condition on `score` only.
    Feedback { test: Sql },
}

impl Source<'_> {
    /// How many traces an index source matches (feedback: entries, at least
    /// as many), counting no further than `most` (read from the index alone);
    /// full text counts as `most`.
    pub fn count(&self, c: &Connection, most: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::default();
        match self {
            Source::Text(_) => return Ok(most),
            Source::Index { index, test } => {
                sql.push("SELECT count(*) FROM (SELECT 1 FROM traces t INDEXED BY ")
                    .push(index)
                    .push(" WHERE ")
                    .append(test);
            }
            Source::Feedback { test } => {
                sql.push("SELECT count(*) FROM (SELECT 1 FROM feedback WHERE ")
                    .append(test);
            }
        }
        sql.push(" LIMIT ").bind(most).push(")");
        let mut stmt = c.prepare_cached(&sql.text)?;
        let n = stmt.query_row(params_from_iter(sql.params.iter()), |r| r.get(0))?;
        Ok(n)
    }
}

/// Up to `k` hits after the cursor, among the matches of `source`.
pub(super) fn run(
    c: &Connection,
    p: &Plan<'_>,
    source: &Source<'_>,
    k: usize,
) -> Result<Vec<Hit>, StoreError> {
    let cap = p.tuning.min_cap.max(2 * k);
    let first = match_ids(c, p, source, None, Some(cap + 1))?;
    if first.len() <= cap {
        return by_ids(c, p, &first, k, true);
    }
    let read = &first[..cap];
    let covered = read[cap - 1];
    let mut hits = Vec::new();
    for chunk in read.chunks(p.tuning.chunk.max(1)) {
        hits.extend(by_ids(c, p, chunk, k - hits.len(), false)?);
        if hits.len() >= k {
            break;
        }
    }
    if hits.len() < k {
        hits.extend(scan_beyond(c, p, source, covered, k - hits.len())?);
    }
    let Some(edge) = hits.last().map(|h| h.rowid).filter(|_| hits.len() >= k) else {
        sort_hits(&mut hits, p.q.order);
        return Ok(hits);
    };
    sort_hits(&mut hits, p.q.order);
    let Some(worst) = hits.last() else {
        return Ok(hits);
    };
    let late = late_ids(c, p, worst, edge)?;
    if late.is_empty() {
        return Ok(hits);
    }
    if late.len() > p.tuning.max_late {
        return match source {
            Source::Text(_) => segments::run(c, p, k),
            // The segment plan would come back here: let SQLite choose.
            Source::Index { .. } | Source::Feedback { .. } => segments::valued(c, p, k),
        };
    }
    let beyond = |id: i64| match p.q.order {
        SortOrder::Desc => id < covered,
        SortOrder::Asc => id > covered,
    };
    let (outside, inside): (Vec<i64>, Vec<i64>) = late.into_iter().partition(|id| beyond(*id));
    let read: HashSet<i64> = read.iter().copied().collect();
    let mut matched: Vec<i64> = inside.into_iter().filter(|id| read.contains(id)).collect();
    if let (Some(lo), Some(hi)) = (outside.iter().min(), outside.iter().max()) {
        let in_range: HashSet<i64> = match_ids(c, p, source, Some((*lo, *hi)), None)?
            .into_iter()
            .collect();
        matched.extend(outside.into_iter().filter(|id| in_range.contains(id)));
    }
    if !matched.is_empty() {
        hits.extend(by_ids(c, p, &matched, k, true)?);
        sort_hits(&mut hits, p.q.order);
        hits.truncate(k);
    }
    Ok(hits)
}

/// Matching rowids in scan order, within `range` (inclusive) and `limit`.
fn match_ids(
    c: &Connection,
    p: &Plan<'_>,
    source: &Source<'_>,
    range: Option<(i64, i64)>,
    limit: Option<usize>,
) -> Result<Vec<i64>, StoreError> {
    let mut sql = Sql::default();
    match source {
        Source::Text(text) => {
            sql.push("SELECT rowid FROM traces_fts WHERE traces_fts MATCH ")
                .bind((*text).to_owned());
        }
        Source::Index { index, test } => {
            sql.push("SELECT t.rowid AS rowid FROM traces t INDEXED BY ")
                .push(index)
                .push(" WHERE ")
                .append(test);
        }
        // `rowid` below is the trace's: the subquery's column of that name.
        Source::Feedback { test } => {
            sql.push(
                "SELECT rowid FROM (SELECT DISTINCT trace_rowid AS rowid FROM feedback WHERE ",
            )
            .append(test)
            .push(") WHERE 1");
        }
    }
    if let Some((lo, hi)) = range {
        sql.push(" AND rowid >= ")
            .bind(lo)
            .push(" AND rowid <= ")
            .bind(hi);
    }
    sql.push(" ORDER BY rowid ").push(p.dir);
    if let Some(limit) = limit {
        sql.push(" LIMIT ").bind(limit as i64);
    }
    fetch_ids(c, &sql)
}

/// The traces of `ids` that pass the filter and come after the cursor, at
/// most `limit`, by start time (`by_time`) or in scan order.
fn by_ids(
    c: &Connection,
    p: &Plan<'_>,
    ids: &[i64],
    limit: usize,
    by_time: bool,
) -> Result<Vec<Hit>, StoreError> {
    if ids.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    let mut sql = p.select();
    sql.push(" FROM json_each(").bind(list);
    sql.push(") j CROSS JOIN traces t ON t.rowid = j.value WHERE 1");
    p.keyset(&mut sql);
    p.filter(&mut sql);
    if by_time {
        p.order_by(&mut sql, "t.ts", "t.rowid");
    } else {
        sql.push(" ORDER BY t.rowid ").push(p.dir);
    }
    sql.push(" LIMIT ").bind(limit as i64);
    fetch(c, &sql)
}

/// Hits beyond `covered` in scan order: full text read through FTS5 and
/// joined; index matches read in growing runs of rowids.
fn scan_beyond(
    c: &Connection,
    p: &Plan<'_>,
    source: &Source<'_>,
    covered: i64,
    limit: usize,
) -> Result<Vec<Hit>, StoreError> {
    let Source::Text(text) = source else {
        return runs_beyond(c, p, source, covered, limit);
    };
    let mut sql = p.select();
    sql.push(" FROM traces_fts f CROSS JOIN traces t ON t.rowid = f.rowid");
    sql.push(" WHERE f.traces_fts MATCH ")
        .bind((*text).to_owned());
    sql.push(" AND f.rowid ")
        .push(p.after)
        .push(" ")
        .bind(covered);
    p.keyset(&mut sql);
    p.filter(&mut sql);
    sql.push(" ORDER BY f.rowid ")
        .push(p.dir)
        .push(" LIMIT ")
        .bind(limit as i64);
    fetch(c, &sql)
}

/// Hits beyond `covered` in scan order, from runs of matching rowids that
/// double in length, each checked against the filter.
fn runs_beyond(
    c: &Connection,
    p: &Plan<'_>,
    source: &Source<'_>,
    covered: i64,
    limit: usize,
) -> Result<Vec<Hit>, StoreError> {
    let mut hits = Vec::new();
    let mut from = covered;
    let mut run = p.tuning.min_cap.max(1);
    while hits.len() < limit {
        let range = match p.q.order {
            SortOrder::Desc => (i64::MIN, from.saturating_sub(1)),
            SortOrder::Asc => (from.saturating_add(1), i64::MAX),
        };
        let ids = match_ids(c, p, source, Some(range), Some(run))?;
        let Some(&last) = ids.last() else {
            break;
        };
        for chunk in ids.chunks(p.tuning.chunk.max(1)) {
            hits.extend(by_ids(c, p, chunk, limit - hits.len(), false)?);
            if hits.len() >= limit {
                break;
            }
        }
        if ids.len() < run {
            break;
        }
        from = last;
        run = run.saturating_mul(2);
    }
    Ok(hits)
}

/// Rowids beyond `edge` in scan order that sort before `worst` (and after
/// the cursor): traces written out of start-time order. At most
/// `Tuning::max_late` + 1, read from the `ts` index alone.
fn late_ids(c: &Connection, p: &Plan<'_>, worst: &Hit, edge: i64) -> Result<Vec<i64>, StoreError> {
    let mut sql = Sql::default();
    sql.push("SELECT t.rowid FROM traces t WHERE (t.ts, t.rowid) ")
        .push(p.before);
    sql.push(" (")
        .bind(sql_value(worst.value))
        .push(", ")
        .bind(worst.rowid)
        .push(")");
    sql.push(" AND t.rowid ").push(p.after).push(" ").bind(edge);
    p.keyset(&mut sql);
    sql.push(" LIMIT ").bind((p.tuning.max_late + 1) as i64);
    fetch_ids(c, &sql)
}
