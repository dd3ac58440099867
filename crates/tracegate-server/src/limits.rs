//! Rate limits and budgets: requests per rolling minute, tokens per rolling minute and per
//! rolling 5 hours, cost in USD per UTC day and per UTC month.
//!
//! Limits come from three places, and each that applies is checked; the tightest refuses:
//! - the `[limits]` table's values, a default for every account;
//! - `[limits.accounts.NAME]`, which replaces the default's values for that account (the
//!   two are one account limit, counted once);
//! - the request's virtual key (`KeyLimits`), counted per key.
//!
//! Request limits are reserved at admission, atomically for all of a request's checks
//! ([`counters::LimitCounters::try_admit`]), so concurrent requests never pass one
//! together. Token and cost limits count what the provider reported, added when the
//! request's trace is finished ([`Charge::spend`], called by `proxy/recording.rs`);
//! admission only asks that some room is left. So a token or cost limit can be overshot
//! by at most what the requests admitted while there was room, and still in flight, go on
//! to use.
//!
//! State lives behind [`counters::LimitCounters`]; [`counters::MemoryCounters`] keeps it
//! in this process, per key (up to [`KEY_SCOPES`]) and per account (up to
//! `limits.tracked_accounts`), least recently used dropped first.

pub mod counters;
pub mod headers;
pub mod window;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tracegate_core::keys::{KeyLimits, VirtualKey};
use tracegate_core::Usage;

use crate::config::{LimitSet, LimitsConfig};
use counters::{Check, LimitCounters, MemoryCounters, Spent, Standing};
use window::Window;

/// Keys whose counters are kept in process (the key cache holds as many).
pub const KEY_SCOPES: u64 = 100_000;

/// Micro-USD per USD: budgets and costs are counted in millionths.
const MICRO: f64 = 1e6;

/// What a limit counts, and over which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitKind {
    Rpm = 0,
    Tpm = 1,
    Tokens5h = 2,
    UsdDay = 3,
    UsdMonth = 4,
}

impl LimitKind {
    pub const ALL: [LimitKind; 5] = [
        LimitKind::Rpm,
        LimitKind::Tpm,
        LimitKind::Tokens5h,
        LimitKind::UsdDay,
        LimitKind::UsdMonth,
    ];

    pub fn window(self) -> Window {
        match self {
            LimitKind::Rpm | LimitKind::Tpm => Window::MINUTE,
            LimitKind::Tokens5h => Window::FIVE_HOURS,
            LimitKind::UsdDay => Window::Day,
            LimitKind::UsdMonth => Window::Month,
        }
    }

    /// The `limit` label of `tracegate_rate_limited_total`.
    pub fn label(self) -> &'static str {
        match self {
            LimitKind::Rpm => "rpm",
            LimitKind::Tpm => "tpm",
            LimitKind::Tokens5h => "tokens_per_5h",
            LimitKind::UsdDay => "budget_usd_day",
            LimitKind::UsdMonth => "budget_usd_month",
        }
    }

    fn words(self) -> &'static str {
        match self {
            LimitKind::Rpm => "requests per minute",
            LimitKind::Tpm => "tokens per minute",
            LimitKind::Tokens5h => "tokens per 5 hours",
            LimitKind::UsdDay => "USD per UTC day",
            LimitKind::UsdMonth => "USD per UTC month",
        }
    }

    fn is_budget(self) -> bool {
        matches!(self, LimitKind::UsdDay | LimitKind::UsdMonth)
    }
}

/// Whose counters: a virtual key's or an account's. Keys sort first: locks are taken in
/// this order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// A key, by id; `label` is `tg-<prefix>` for messages.
    Key { id: uuid::Uuid, label: Arc<str> },
    /// An account by name; the empty name holds the requests that have none.
    Account(Arc<str>),
}

impl Scope {
    /// `key` or `account`, the `scope` metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Scope::Key { .. } => "key",
            Scope::Account(_) => "account",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Key { label, .. } => write!(f, "key {label:?}"),
            Scope::Account(name) if name.is_empty() => write!(f, "requests without an account"),
            Scope::Account(name) => write!(f, "account {name:?}"),
        }
    }
}

/// A limit's amount in its unit: requests, tokens, or micro-USD.
type Amounts = [Option<u64>; LimitKind::ALL.len()];

fn micro_usd(usd: Option<f64>) -> Option<u64> {
    // Saturating: negative or NaN is 0, which refuses everything.
    usd.map(|v| (v * MICRO).round() as u64)
}

fn amounts(s: &LimitSet) -> Amounts {
    [
        s.rpm,
        s.tpm,
        s.tokens_per_5h,
        micro_usd(s.budget_usd_day),
        micro_usd(s.budget_usd_month),
    ]
}

fn key_amounts(k: &KeyLimits) -> Amounts {
    [
        k.rpm,
        k.tpm,
        k.tokens_per_5h,
        micro_usd(k.budget_usd_day),
        micro_usd(k.budget_usd_month),
    ]
}

/// The limits policy and its counters.
#[derive(Debug)]
pub struct Limits {
    defaults: Amounts,
    accounts: HashMap<String, Amounts>,
    counters: Arc<dyn LimitCounters>,
}

/// An admitted request: where its limits stand (for the response headers) and the
/// charge its usage goes to when it ends.
#[derive(Debug)]
pub struct Admitted {
    pub standings: Vec<Standing>,
    pub charge: Charge,
}

/// A refused request: which limit, and when to come back.
#[derive(Debug)]
pub struct Refusal {
    pub scope: Scope,
    pub kind: LimitKind,
    /// The limit in its own unit (micro-USD for budgets).
    pub limit: u64,
    /// Whole seconds until the limit lets a request through again, at least 1.
    pub retry_after_secs: u64,
    pub standings: Vec<Standing>,
}

impl Refusal {
    /// For the client and the trace: `rate limit: key "tg-ab12" requests per minute (60)`.
    pub fn message(&self) -> String {
        if self.kind.is_budget() {
            let usd = self.limit as f64 / MICRO;
            format!("budget: {} {} ({usd})", self.scope, self.kind.words())
        } else {
            format!(
                "rate limit: {} {} ({})",
                self.scope,
                self.kind.words(),
                self.limit
            )
        }
    }

    /// OpenAI's error `type` for a 429: `requests` or `tokens` (budgets count as tokens).
    pub fn openai_type(&self) -> &'static str {
        match self.kind {
            LimitKind::Rpm => "requests",
            _ => "tokens",
        }
    }
}

/// Where a finished request's usage is counted.
#[derive(Debug)]
pub struct Charge {
    counters: Arc<dyn LimitCounters>,
    scopes: Vec<Scope>,
}

impl Charge {
    /// Counts the provider-reported tokens (all of them: input, output, cache read and
    /// write) and the cost into the request's scopes.
    pub fn spend(self, usage: &Usage, cost_usd: Option<f64>) {
        let spent = Spent {
            tokens: usage.total(),
            micro_usd: cost_usd
                .filter(|c| c.is_finite() && *c > 0.0)
                .map_or(0, |c| (c * MICRO).ceil() as u64),
        };
        if spent != Spent::default() {
            self.counters
                .add_usage(&self.scopes, spent, chrono::Utc::now().timestamp_millis());
        }
    }
}

impl Limits {
    /// The policy of `config`, its state kept in process.
    pub fn in_memory(config: &LimitsConfig) -> Self {
        let counters = MemoryCounters::new(KEY_SCOPES, config.tracked_accounts);
        Limits::new(config, Arc::new(counters))
    }

    pub fn new(config: &LimitsConfig, counters: Arc<dyn LimitCounters>) -> Self {
        let defaults = config.defaults();
        Limits {
            defaults: amounts(&defaults),
            accounts: config
                .accounts
                .iter()
                .map(|(name, set)| (name.clone(), amounts(&defaults.overridden_by(set))))
                .collect(),
            counters,
        }
    }

    /// The checks for a request of `account` with `key`: the key's limits, then the
    /// account's (its override, else the default).
    pub fn checks(&self, key: Option<&VirtualKey>, account: Option<&str>) -> Vec<Check> {
        let mut checks = Vec::new();
        if let Some(k) = key {
            let scope = Scope::Key {
                id: k.id,
                label: format!("tg-{}", k.prefix).into(),
            };
            push(&mut checks, &scope, &key_amounts(&k.limits));
        }
        let account = account.unwrap_or("");
        let amounts = self.accounts.get(account).unwrap_or(&self.defaults);
        if amounts.iter().any(Option::is_some) {
            push(&mut checks, &Scope::Account(account.into()), amounts);
        }
        checks
    }

    /// Admits the request or says which limit refuses it. `None` when no limit applies.
    pub async fn admit(
        &self,
        key: Option<&VirtualKey>,
        account: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Admitted>, Refusal> {
        let checks = self.checks(key, account);
        if checks.is_empty() {
            return Ok(None);
        }
        match self.counters.try_admit(&checks, now_ms).await {
            Ok(standings) => {
                let mut scopes: Vec<Scope> = Vec::with_capacity(2);
                for c in &checks {
                    if !scopes.contains(&c.scope) {
                        scopes.push(c.scope.clone());
                    }
                }
                Ok(Some(Admitted {
                    standings,
                    charge: Charge {
                        counters: self.counters.clone(),
                        scopes,
                    },
                }))
            }
            Err(refused) => {
                let check = checks.get(refused.check).cloned().unwrap_or(Check {
                    scope: Scope::Account("".into()),
                    kind: LimitKind::Rpm,
                    limit: 0,
                    need: 1,
                });
                let fits_at = if refused.fits_at_ms == i64::MAX {
                    let w = check.kind.window();
                    match w {
                        Window::Rolling { slots, slot_ms } => now_ms + slots * slot_ms,
                        _ => w.frees_at(w.period(now_ms)),
                    }
                } else {
                    refused.fits_at_ms
                };
                let wait_ms = fits_at.saturating_sub(now_ms).max(0) as u64;
                Err(Refusal {
                    scope: check.scope,
                    kind: check.kind,
                    limit: check.limit,
                    retry_after_secs: wait_ms.div_ceil(1000).max(1),
                    standings: refused.standings,
                })
            }
        }
    }
}

fn push(checks: &mut Vec<Check>, scope: &Scope, amounts: &Amounts) {
    for (kind, limit) in LimitKind::ALL.into_iter().zip(amounts) {
        if let Some(limit) = *limit {
            checks.push(Check {
                scope: scope.clone(),
                kind,
                limit,
                need: u64::from(kind == LimitKind::Rpm),
            });
        }
    }
}
