//! Reading rollup rows and the trace rows of partial minutes, shared by usage
//! and statistics.

use rusqlite::types::Type;
use rusqlite::{params, Connection, Row};
use tracegate_core::sketch::LatencySketch;
use tracegate_core::Outcome;

use crate::analytics::{Agg, ReadPlan, Tokens};
use crate::error::StoreError;

/// The separator between account and model in `account_model` keys.
pub(super) const KEY_SEPARATOR: char = '\u{1f}';

/// Which rollup rows to read: a dimension, and for `account_model` optionally
/// only the keys of one account.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rollups<'a> {
    pub dim: &'a str,
    pub account: Option<&'a str>,
}

impl Rollups<'_> {
    /// The SQL and key bounds for reading `columns` of this selection.
    pub fn sql(&self, columns: &str) -> String {
        let keys = if self.account.is_some() {
            " AND key >= ?5 AND key < ?6"
        } else {
            ""
        };
        format!(
            "SELECT bucket, key, requests, input_tokens, output_tokens, cache_read_tokens,
                    cache_write_tokens, cost_usd{columns}
             FROM rollups
             WHERE granularity = ?1 AND dim = ?2 AND bucket >= ?3 AND bucket < ?4{keys}"
        )
    }

    /// Runs the query over every rollup part of `plan`, calling `f` per row.
    fn each<F>(
        &self,
        c: &Connection,
        plan: &ReadPlan,
        columns: &str,
        mut f: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(&Row<'_>) -> Result<(), StoreError>,
    {
        let sql = self.sql(columns);
        let mut stmt = c.prepare_cached(&sql)?;
        // The keys `account + U+001F + model` are exactly those in
        // [account + U+001F, account + U+0020).
        let bounds = self
            .account
            .map(|a| (format!("{a}{KEY_SEPARATOR}"), format!("{a}\u{20}")));
        for (granularity, range) in plan.rollups() {
            let mut rows = match &bounds {
                Some((low, high)) => stmt.query(params![
                    granularity,
                    self.dim,
                    range.from_ms(),
                    range.to_ms(),
                    low,
                    high
                ])?,
                _ => stmt.query(params![
                    granularity,
                    self.dim,
                    range.from_ms(),
                    range.to_ms()
                ])?,
            };
            while let Some(row) = rows.next()? {
                f(row)?;
            }
        }
        Ok(())
    }

    /// Calls `f(bucket, key, figures)` for every row, without reading sketches.
    pub fn tokens<F>(&self, c: &Connection, plan: &ReadPlan, mut f: F) -> Result<(), StoreError>
    where
        F: FnMut(i64, &str, &Tokens),
    {
        self.each(c, plan, "", |row| {
            let key: String = row.get(1)?;
            f(row.get(0)?, &key, &tokens(row, 2)?);
            Ok(())
        })
    }

    /// Calls `f(bucket, key, figures with sketches)` for every row.
    pub fn aggs<F>(&self, c: &Connection, plan: &ReadPlan, mut f: F) -> Result<(), StoreError>
    where
        F: FnMut(i64, &str, &Agg),
    {
        let columns = ", errors, duration_sketch, ttft_sketch, cache_hits, cache_saved_usd";
        self.each(c, plan, columns, |row| {
            let key: String = row.get(1)?;
            let duration: Vec<u8> = row.get(9)?;
            let ttft: Option<Vec<u8>> = row.get(10)?;
            let saved: f64 = row.get(12)?;
            let agg = Agg {
                tokens: tokens(row, 2)?,
                errors: u64::try_from(row.get::<_, i64>(8)?).unwrap_or(0),
                duration: sketch(&duration)?,
                ttft: ttft.as_deref().map(sketch).transpose()?.unwrap_or_default(),
                cache_hits: u64::try_from(row.get::<_, i64>(11)?).unwrap_or(0),
                cache_saved_usd: if saved.is_finite() { saved } else { 0.0 },
            };
            f(row.get(0)?, &key, &agg);
            Ok(())
        })
    }
}

/// Reads `requests` and the four token columns and `cost_usd` starting at column `at`.
fn tokens(row: &Row<'_>, at: usize) -> rusqlite::Result<Tokens> {
    Ok(Tokens::from_columns(
        row.get(at)?,
        [
            row.get(at + 1)?,
            row.get(at + 2)?,
            row.get(at + 3)?,
            row.get(at + 4)?,
        ],
        row.get(at + 5)?,
    ))
}

fn sketch(bytes: &[u8]) -> Result<LatencySketch, StoreError> {
    LatencySketch::decode(bytes).map_err(StoreError::corrupt)
}

/// The scalar fields of one trace that usage and statistics look at.
#[derive(Debug, Clone)]
pub(super) struct TraceRow {
    pub ts: i64,
    pub account: Option<String>,
    /// The model that answered, else the one asked for (as the rollups key it).
    pub model: Option<String>,
    pub provider: String,
    pub upstream: Option<String>,
    pub endpoint: String,
    pub outcome: String,
    pub duration_ms: f64,
    pub ttft_ms: Option<f64>,
    pub tokens: Tokens,
    pub cache_saved_usd: Option<f64>,
}

impl TraceRow {
    /// The trace's value in a rollup dimension, as the rollups key it.
    pub fn key(&self, dim: &str) -> String {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        match dim {
            "model" => text(&self.model),
            "provider" => self.provider.clone(),
            "upstream" => text(&self.upstream),
            "endpoint" => self.endpoint.clone(),
            "account" => text(&self.account),
            "outcome" => self.outcome.clone(),
            "account_model" => format!(
                "{}{KEY_SEPARATOR}{}",
                text(&self.account),
                text(&self.model)
            ),
            _ => String::new(),
        }
    }

    /// Whether the request failed (outcome other than `ok` and `cache_hit`).
    pub fn is_error(&self) -> bool {
        Outcome::parse(&self.outcome).is_none_or(Outcome::is_error)
    }

    /// Whether the request was answered from the response cache.
    pub fn is_cache_hit(&self) -> bool {
        self.outcome == Outcome::CacheHit.as_str()
    }

    /// The trace as a one-request [`Agg`].
    pub fn agg(&self) -> Agg {
        let mut a = Agg::default();
        a.add_request(
            &self.tokens,
            self.is_error(),
            self.duration_ms,
            self.ttft_ms,
        );
        if self.is_cache_hit() {
            a.add_cache_hit(self.cache_saved_usd.unwrap_or(0.0));
        }
        a
    }
}

/// Calls `f` for every trace in the exact parts of `plan` (of `account` when given).
pub(super) fn traces<F>(
    c: &Connection,
    plan: &ReadPlan,
    account: Option<&str>,
    mut f: F,
) -> Result<(), StoreError>
where
    F: FnMut(&TraceRow),
{
    let sql = traces_sql(account.is_some());
    let mut stmt = c.prepare_cached(&sql)?;
    for range in &plan.exact {
        let mut rows = match account {
            Some(a) => stmt.query(params![range.from_ms(), range.to_ms(), a])?,
            None => stmt.query(params![range.from_ms(), range.to_ms()])?,
        };
        while let Some(row) = rows.next()? {
            let n = |i: usize| -> rusqlite::Result<i64> {
                Ok(row.get::<_, Option<i64>>(i)?.unwrap_or(0))
            };
            let t = TraceRow {
                ts: row.get(0)?,
                account: row.get(1)?,
                model: row.get(2)?,
                provider: row.get(3)?,
                upstream: row.get(4)?,
                endpoint: row.get(5)?,
                outcome: row.get(6)?,
                duration_ms: row.get(7)?,
                ttft_ms: row.get(8)?,
                tokens: Tokens::from_columns(1, [n(9)?, n(10)?, n(11)?, n(12)?], row.get(13)?),
                cache_saved_usd: row.get(14)?,
            };
            f(&t);
        }
    }
    Ok(())
}

/// The trace rows of `[?1, ?2)`, of account `?3` when `by_account`.
pub(super) fn traces_sql(by_account: bool) -> String {
    let filter = if by_account { " AND account = ?3" } else { "" };
    format!(
        "SELECT ts, account, model_eff, provider, upstream, endpoint,
                outcome, duration_ms, ttft_ms, input_tokens, output_tokens, cache_read_tokens,
                cache_write_tokens, cost_usd, cache_saved_usd
         FROM traces WHERE ts >= ?1 AND ts < ?2{filter}"
    )
}

/// A conversion error for a column holding something this store never writes.
pub(super) fn bad(column: usize, ty: Type, what: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, ty, what.into().into())
}
