//! The merge plan, for start-time order: the newest matches read through an
//! index cover (see [`cover`]), one `(column, ts)` range per value, each range
//! already in order, merged by SQLite as they are read (`UNION ALL` with an
//! `ORDER BY` runs its arms side by side and stops at the limit).
//!
//! Whichever cover is used, the page lies in the same stretch of time, so the
//! cover with the fewest entries costs the fewest reads; reading the `ts`
//! index instead reads every trace of that stretch. One cover of one value
//! is used directly. Otherwise a slice of the newest traces is read first
//! (common matches fill the page there), and the entries each cover has in
//! the slice tell how dense it is; a cover with at most half the traces
//! continues after the slice, else the plan gives way to the segment plan.
//!
//! Filters on the trace id are left to SQLite: its unique index wins.

use rusqlite::{params_from_iter, Connection};
use tracegate_core::filter::{Column, Field, Filter, Op};

use super::cover::{covers, Cover};
use super::page::{fetch, sql_value, Hit, Plan};
use super::segments::{slice, slice_end};
use super::sql::Sql;
use crate::error::StoreError;
use crate::search::{Position, SortKey};
use crate::sqlite::read::SUMMARY_LEN;

/// Up to `k` hits after the cursor, or `None` when no cover helps (or the
/// query is not sorted by start time, has text or has an id test).
pub(super) fn run(c: &Connection, p: &Plan<'_>, k: usize) -> Result<Option<Vec<Hit>>, StoreError> {
    let Some(filter) = p.filter_tree() else {
        return Ok(None);
    };
    if p.q.sort != SortKey::Ts || p.text.is_some() || tests_id(filter) {
        return Ok(None);
    }
    let covers = covers(c, filter)?;
    if let Some(empty) = covers.iter().find(|cv| cv.values.is_empty()) {
        tracing::trace!(column = ?empty.column, "filter matches nothing");
        return Ok(Some(Vec::new()));
    }
    match covers.as_slice() {
        [] => return Ok(None),
        [one] if one.values.len() == 1 => {
            return Ok(Some(fetch(c, &union(p, one, p.q.after.as_ref(), k))?));
        }
        _ => {}
    }
    let mut hits = slice(c, p, k)?;
    if hits.len() >= k {
        return Ok(Some(hits));
    }
    let Some(end) = slice_end(c, p)? else {
        return Ok(Some(hits));
    };
    let mut best: Option<(i64, &Cover)> = None;
    for cover in &covers {
        let n = entries(c, p, cover, &end)?;
        if best.is_none_or(|(m, _)| n < m) {
            best = Some((n, cover));
        }
    }
    match best {
        Some((n, cover)) if n <= p.tuning.slice / 2 => {
            hits.extend(fetch(c, &union(p, cover, Some(&end), k - hits.len()))?);
            Ok(Some(hits))
        }
        _ => Ok(None),
    }
}

/// Whether a top-level conjunct tests the id.
fn tests_id(f: &Filter) -> bool {
    match f {
        Filter::And(children) => children.iter().any(tests_id),
        Filter::Leaf(p) => p.field == Field::Column(Column::Id) && matches!(p.op, Op::Eq | Op::In),
        Filter::Or(_) | Filter::Not(_) => false,
    }
}

/// ` AND <cover column> = ?` (or `IS NULL`) for one value of a cover.
fn arm_value(sql: &mut Sql, cover: &Cover, value: &Option<String>) {
    sql.push(cover.sql_column());
    match value {
        Some(v) => sql.push(" = ").bind(v.clone()),
        None => sql.push(" IS NULL"),
    };
}

/// The matches after `from` (exclusive) through `cover`, at most `limit`,
/// in order: one arm per value, merged.
fn union(p: &Plan<'_>, cover: &Cover, from: Option<&Position>, limit: usize) -> Sql {
    let mut sql = Sql::default();
    for (i, value) in cover.values.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.append(&p.select());
        sql.push(" FROM traces t INDEXED BY ")
            .push(cover.index)
            .push(" WHERE ");
        arm_value(&mut sql, cover, value);
        if let Some(pos) = from {
            p.after_position(&mut sql, "t.ts", pos);
        }
        p.filter(&mut sql);
    }
    // Result columns: the summary, then rowid, then ts.
    let (rowid, ts) = (SUMMARY_LEN + 1, SUMMARY_LEN + 2);
    p.order_by(&mut sql, &ts.to_string(), &rowid.to_string());
    sql.push(" LIMIT ").bind(limit as i64);
    sql
}

/// How many entries `cover` has from the start of the page (the cursor) to
/// `end` (inclusive): read from its index alone.
fn entries(c: &Connection, p: &Plan<'_>, cover: &Cover, end: &Position) -> Result<i64, StoreError> {
    let sql = entries_sql(p, cover, end);
    let mut stmt = c.prepare_cached(&sql.text)?;
    let n = stmt.query_row(params_from_iter(sql.params.iter()), |r| r.get::<_, i64>(0))?;
    Ok(n)
}

/// The query of [`entries`]: one count per value, added up.
fn entries_sql(p: &Plan<'_>, cover: &Cover, end: &Position) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT 0");
    for value in &cover.values {
        sql.push(" + (SELECT count(*) FROM traces t INDEXED BY ")
            .push(cover.index)
            .push(" WHERE ");
        arm_value(&mut sql, cover, value);
        sql.push(" AND (t.ts, t.rowid) ")
            .push(p.before)
            .push("= (")
            .bind(sql_value(end.value))
            .push(", ")
            .bind(end.tiebreak)
            .push(")");
        p.keyset(&mut sql);
        sql.push(")");
    }
    sql
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::search::{SearchQuery, SortOrder, SortValue};

    /// SQLite's plan for `sql`, one step a line.
    fn plan_of(c: &Connection, sql: &Sql) -> Vec<String> {
        let mut stmt = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
            .unwrap();
        stmt.query_map(params_from_iter(sql.params.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn arms_read_their_ranges_in_order_and_counts_read_only_the_index() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::sqlite::migrate::apply(&mut c).unwrap();
        let filter = json!({"and": [
            {"field": "model", "op": "in", "value": ["a", "b"]},
            {"field": "metadata.team", "op": "eq", "value": "search"},
        ]});
        for order in [SortOrder::Desc, SortOrder::Asc] {
            let q = SearchQuery {
                filter: Some(Filter::parse(&filter, "/filter").unwrap()),
                order,
                after: Some(Position {
                    value: SortValue::Int(1_750_000_000_000),
                    tiebreak: 7,
                }),
                ..SearchQuery::default()
            };
            let p = Plan::new(&q);
            let one = Cover {
                column: Column::Model,
                index: "traces_model_eff_ts",
                values: vec![Some("a".into())],
            };
            let two = Cover {
                values: vec![None, Some("a".into()), Some("b".into())],
                ..one.clone()
            };
            for cover in [&one, &two] {
                let steps = plan_of(&c, &union(&p, cover, q.after.as_ref(), 51));
                let ranges: Vec<&String> = steps
                    .iter()
                    .filter(|s| {
                        s.starts_with(
                            "SEARCH t USING INDEX traces_model_eff_ts (model_eff=? AND ts",
                        )
                    })
                    .collect();
                assert_eq!(ranges.len(), cover.values.len(), "{order:?} {steps:?}");
                assert!(
                    !steps.iter().any(|s| s.contains("TEMP B-TREE")),
                    "{order:?}: sorts instead of merging: {steps:?}"
                );
            }
            let end = Position {
                value: SortValue::Int(1_740_000_000_000),
                tiebreak: 3,
            };
            assert_eq!(entries(&c, &p, &two, &end).unwrap(), 0);
            for step in plan_of(&c, &entries_sql(&p, &two, &end)) {
                assert!(
                    !step.starts_with("SEARCH t")
                        || step.contains("COVERING INDEX traces_model_eff_ts"),
                    "{step}"
                );
            }
        }
    }
}
