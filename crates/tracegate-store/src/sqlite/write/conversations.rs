//! The `conversations` rows: a batch's linked traces are summed per
//! conversation in memory, then each conversation's row is read once and
//! written once.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, OptionalExtension, Transaction};
use tracegate_core::conversation::LinkedTrace;
use tracegate_core::Trace;

use super::{finite, int};
use crate::error::StoreError;

/// What a batch adds to one conversation (also the shape of a stored row).
#[derive(Debug, Clone, PartialEq)]
struct Totals {
    account: Option<String>,
    first_ts: i64,
    last_ts: i64,
    /// Newest trace by (ts, id).
    latest_trace: String,
    requests: i64,
    /// Highest branch number + 1.
    branches: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost_usd: Option<f64>,
    models: BTreeSet<String>,
}

impl Totals {
    /// Adds `other` (which holds later traces when the two are a stored row and a batch).
    fn absorb(&mut self, other: Totals) {
        if self.account.is_none() {
            self.account = other.account;
        }
        self.first_ts = self.first_ts.min(other.first_ts);
        if (other.last_ts, &other.latest_trace) > (self.last_ts, &self.latest_trace) {
            self.last_ts = other.last_ts;
            self.latest_trace = other.latest_trace;
        }
        self.requests = self.requests.saturating_add(other.requests);
        self.branches = self.branches.max(other.branches);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        self.models.extend(other.models);
    }
}

/// A batch's contribution to the conversations, by conversation id.
#[derive(Debug, Default)]
pub(super) struct Conversations {
    pending: BTreeMap<String, Totals>,
}

impl Conversations {
    /// Counts a linked trace in its conversation.
    pub(super) fn add(&mut self, t: &Trace, trace_id: &str, linked: &LinkedTrace) {
        let ts = t.started_at.timestamp_millis();
        let tokens = |v: Option<u64>| v.map_or(0, int);
        let model = t.effective_model();
        let totals = Totals {
            account: t.account.clone(),
            first_ts: ts,
            last_ts: ts,
            latest_trace: trace_id.to_owned(),
            requests: 1,
            branches: i64::from(linked.branch) + 1,
            input_tokens: tokens(t.usage.input_tokens),
            output_tokens: tokens(t.usage.output_tokens),
            cache_read_tokens: tokens(t.usage.cache_read_tokens),
            cache_write_tokens: tokens(t.usage.cache_write_tokens),
            cost_usd: t.cost_usd.and_then(finite),
            models: model.map(str::to_owned).into_iter().collect(),
        };
        match self.pending.get_mut(&linked.conversation_id) {
            Some(sum) => sum.absorb(totals),
            None => {
                self.pending.insert(linked.conversation_id.clone(), totals);
            }
        }
    }

    /// Notes that a conversation has `branch` (for [`Conversations::next_branch`]
    /// only: such a batch is not flushed).
    pub(super) fn note_branch(&mut self, id: &str, branch: u32) {
        let branches = i64::from(branch) + 1;
        match self.pending.get_mut(id) {
            Some(t) => t.branches = t.branches.max(branches),
            None => {
                let t = Totals {
                    account: None,
                    first_ts: 0,
                    last_ts: 0,
                    latest_trace: String::new(),
                    requests: 0,
                    branches,
                    input_tokens: 0,
                    output_tokens: 0,
                    cache_read_tokens: 0,
                    cache_write_tokens: 0,
                    cost_usd: None,
                    models: BTreeSet::new(),
                };
                self.pending.insert(id.to_owned(), t);
            }
        }
    }

    /// The next free branch number of a conversation: after those stored and
    /// those of this batch.
    pub(super) fn next_branch(&self, tx: &Transaction<'_>, id: &str) -> Result<u32, StoreError> {
        let stored: Option<i64> = tx
            .prepare_cached("SELECT branches FROM conversations WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let pending = self.pending.get(id).map_or(0, |t| t.branches);
        let next = stored.unwrap_or(0).max(pending).max(1);
        Ok(u32::try_from(next).unwrap_or(u32::MAX))
    }

    /// Writes every conversation touched by the batch.
    pub(super) fn flush(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut read = tx.prepare_cached(
            "SELECT account, first_ts, last_ts, latest_trace, requests, branches, input_tokens,
                    output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, models
             FROM conversations WHERE id = ?1",
        )?;
        let mut write = tx.prepare_cached(
            "INSERT INTO conversations (id, account, first_ts, last_ts, latest_trace, requests,
                 branches, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                 cost_usd, models)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (id) DO UPDATE SET
                 account = excluded.account, first_ts = excluded.first_ts,
                 last_ts = excluded.last_ts, latest_trace = excluded.latest_trace,
                 requests = excluded.requests, branches = excluded.branches,
                 input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                 cache_read_tokens = excluded.cache_read_tokens,
                 cache_write_tokens = excluded.cache_write_tokens,
                 cost_usd = excluded.cost_usd, models = excluded.models",
        )?;
        for (id, batch) in self.pending {
            let stored = read
                .query_row([&id], |r| {
                    let models: String = r.get(11)?;
                    Ok(Totals {
                        account: r.get(0)?,
                        first_ts: r.get(1)?,
                        last_ts: r.get(2)?,
                        latest_trace: r.get(3)?,
                        requests: r.get(4)?,
                        branches: r.get(5)?,
                        input_tokens: r.get(6)?,
                        output_tokens: r.get(7)?,
                        cache_read_tokens: r.get(8)?,
                        cache_write_tokens: r.get(9)?,
                        cost_usd: r.get(10)?,
                        models: serde_json::from_str(&models).unwrap_or_default(),
                    })
                })
                .optional()?;
            let t = match stored {
                Some(mut t) => {
                    t.absorb(batch);
                    t
                }
                None => batch,
            };
            let models = serde_json::to_string(&t.models)
                .map_err(|e| StoreError::Backend(format!("conversation models: {e}")))?;
            write.execute(params![
                id,
                t.account,
                t.first_ts,
                t.last_ts,
                t.latest_trace,
                t.requests,
                t.branches,
                t.input_tokens,
                t.output_tokens,
                t.cache_read_tokens,
                t.cache_write_tokens,
                t.cost_usd,
                models,
            ])?;
        }
        Ok(())
    }
}
