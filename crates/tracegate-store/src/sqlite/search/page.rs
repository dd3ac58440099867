//! One page: the plan a query takes and what every plan shares.

use std::cmp::Ordering;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, Row};
use tracegate_core::filter::Filter;

use super::filter::compile;
use super::fts::match_expr;
use super::sql::Sql;
use super::{by_time, merge, segments};
use crate::error::StoreError;
use crate::model::TraceSummary;
use crate::search::{Position, SearchPage, SearchQuery, SortKey, SortOrder, SortValue};
use crate::sqlite::read::{summary, SUMMARY_COLUMNS, SUMMARY_LEN};

/// One trace found, with its place in the order.
pub(super) struct Hit {
    pub rowid: i64,
    pub value: SortValue,
    pub summary: TraceSummary,
}

/// Sizes the plans work in.
pub(super) struct Tuning {
    /// Entries of the sort index read before the filter's index is tried.
    pub slice: i64,
    /// Fewest matching rowids read first by the full-text plan.
    pub min_cap: usize,
    /// Rowids fetched per query by the full-text plan.
    pub chunk: usize,
    /// Most out-of-order traces the full-text plan checks itself.
    pub max_late: usize,
}

impl Tuning {
    /// The sizes in use: small in tests, so that a small corpus reaches every
    /// step of every plan, unless `TRACEGATE_SEARCH_FULL_SIZE` is set.
    pub fn get() -> Tuning {
        if cfg!(test) && std::env::var_os("TRACEGATE_SEARCH_FULL_SIZE").is_none() {
            Tuning {
                slice: 5,
                min_cap: 6,
                chunk: 3,
                max_late: 5,
            }
        } else {
            Tuning {
                slice: 2000,
                min_cap: 1000,
                chunk: 128,
                max_late: 2000,
            }
        }
    }
}

/// What every query of a page shares.
pub(super) struct Plan<'a> {
    pub q: &'a SearchQuery,
    /// The compiled filter, `None` without one.
    pub filter: Option<Sql>,
    /// The FTS5 expression, `None` without text.
    pub text: Option<String>,
    /// `<` for descending, `>` for ascending: "comes after" in the order.
    pub after: &'static str,
    /// `<` for ascending, `>` for descending: "comes before" in the order.
    pub before: &'static str,
    /// `DESC` or `ASC`.
    pub dir: &'static str,
    pub tuning: Tuning,
}

/// Runs `q`: one page and the cursor of the next.
pub(super) fn run(c: &Connection, q: &SearchQuery) -> Result<SearchPage, StoreError> {
    let n = q.page_size() as usize;
    let plan = Plan::new(q);
    let mut hits = match (&plan.text, q.sort) {
        (Some(text), SortKey::Ts) => by_time::run(c, &plan, &by_time::Source::Text(text), n + 1)?,
        _ => match merge::run(c, &plan, n + 1)? {
            Some(hits) => hits,
            None => segments::run(c, &plan, n + 1)?,
        },
    };
    let has_more = hits.len() > n;
    hits.truncate(n);
    let next_cursor = match hits.last() {
        Some(last) if has_more => Some(q.cursor_after(&Position {
            value: last.value,
            tiebreak: last.rowid,
        })),
        _ => None,
    };
    Ok(SearchPage {
        data: hits.into_iter().map(|h| h.summary).collect(),
        next_cursor,
        has_more,
    })
}

/// The SQL column of a sort key.
pub(super) fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::Ts => "t.ts",
        SortKey::DurationMs => "t.duration_ms",
        SortKey::TtftMs => "t.ttft_ms",
        SortKey::CostUsd => "t.cost_usd",
        SortKey::TotalTokens => "t.total_tokens",
    }
}

pub(super) fn sql_value(v: SortValue) -> SqlValue {
    match v {
        SortValue::Null => SqlValue::Null,
        SortValue::Int(i) => SqlValue::Integer(i),
        SortValue::Float(f) => SqlValue::Real(f),
    }
}

impl<'a> Plan<'a> {
    /// The plan of `q`: its filter compiled, its text as FTS5, its order.
    pub fn new(q: &'a SearchQuery) -> Plan<'a> {
        let filter = q.filter.as_ref().map(|f| {
            let mut sql = Sql::default();
            compile(f, &mut sql);
            sql
        });
        let (after, before, dir) = match q.order {
            SortOrder::Desc => ("<", ">", "DESC"),
            SortOrder::Asc => (">", "<", "ASC"),
        };
        Plan {
            q,
            filter,
            text: q.text.as_ref().map(match_expr),
            after,
            before,
            dir,
            tuning: Tuning::get(),
        }
    }

    /// The filter tree, if any.
    pub fn filter_tree(&self) -> Option<&Filter> {
        self.q.filter.as_ref()
    }

    /// `SELECT <summary>, t.rowid, <sort column>`, to which `FROM ...` is added.
    pub fn select(&self) -> Sql {
        let mut sql = Sql::default();
        sql.push("SELECT ")
            .push(SUMMARY_COLUMNS)
            .push(", t.rowid, ")
            .push(sort_column(self.q.sort));
        sql
    }

    /// ` AND (<col>, t.rowid) <after> (?, ?)` when there is a cursor.
    pub fn keyset(&self, sql: &mut Sql) {
        if let Some(pos) = &self.q.after {
            self.after_position(sql, sort_column(self.q.sort), pos);
        }
    }

    /// ` AND (<col>, t.rowid) <after> (?, ?)` for `pos`; `col` may be an expression.
    pub fn after_position(&self, sql: &mut Sql, col: &str, pos: &Position) {
        sql.push(" AND (")
            .push(col)
            .push(", t.rowid) ")
            .push(self.after)
            .push(" (")
            .bind(sql_value(pos.value))
            .push(", ")
            .bind(pos.tiebreak)
            .push(")");
    }

    /// ` AND (<filter>)` when there is one.
    pub fn filter(&self, sql: &mut Sql) {
        if let Some(f) = &self.filter {
            sql.push(" AND ").append(f);
        }
    }

    /// ` ORDER BY <col> <dir>, <rowid> <dir>`.
    pub fn order_by(&self, sql: &mut Sql, col: &str, rowid: &str) {
        sql.push(" ORDER BY ").push(col).push(" ").push(self.dir);
        sql.push(", ").push(rowid).push(" ").push(self.dir);
    }
}

/// Sorts by `(value, rowid)` in `order`, missing values last.
pub(super) fn sort_hits(hits: &mut [Hit], order: SortOrder) {
    hits.sort_by(|a, b| {
        let by_value = match (a.value, b.value) {
            (SortValue::Null, SortValue::Null) => Ordering::Equal,
            (SortValue::Null, _) => return Ordering::Greater,
            (_, SortValue::Null) => return Ordering::Less,
            (x, y) => compare(x, y),
        };
        let ord = by_value.then(a.rowid.cmp(&b.rowid));
        match order {
            SortOrder::Asc => ord,
            SortOrder::Desc => ord.reverse(),
        }
    });
}

fn compare(a: SortValue, b: SortValue) -> Ordering {
    match (a, b) {
        (SortValue::Int(x), SortValue::Int(y)) => x.cmp(&y),
        (x, y) => as_f64(x).total_cmp(&as_f64(y)),
    }
}

fn as_f64(v: SortValue) -> f64 {
    match v {
        SortValue::Int(i) => i as f64,
        SortValue::Float(f) => f,
        SortValue::Null => f64::NAN,
    }
}

/// Runs a query whose columns are those of [`Plan::select`].
pub(super) fn fetch(c: &Connection, sql: &Sql) -> Result<Vec<Hit>, StoreError> {
    let mut stmt = c.prepare_cached(&sql.text)?;
    let rows = stmt.query_map(params_from_iter(sql.params.iter()), hit)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Runs a query of one integer column (rowids).
pub(super) fn fetch_ids(c: &Connection, sql: &Sql) -> Result<Vec<i64>, StoreError> {
    let mut stmt = c.prepare_cached(&sql.text)?;
    let rows = stmt.query_map(params_from_iter(sql.params.iter()), |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn hit(r: &Row<'_>) -> rusqlite::Result<Hit> {
    let value = match r.get::<_, SqlValue>(SUMMARY_LEN + 1)? {
        SqlValue::Integer(i) => SortValue::Int(i),
        SqlValue::Real(f) => SortValue::Float(f),
        _ => SortValue::Null,
    };
    Ok(Hit {
        rowid: r.get(SUMMARY_LEN)?,
        value,
        summary: summary(r)?,
    })
}
