//! Where limit state lives, behind [`LimitCounters`]: two operations shaped so one round
//! trip of an atomic store (a Redis script) can implement each, as [`MemoryCounters`]
//! implements them in process.
//!
//! - [`LimitCounters::try_admit`]: all the checks of one request at once, all or nothing;
//!   requests are reserved as they are admitted, so concurrent requests never together
//!   pass a request limit.
//! - [`LimitCounters::add_usage`]: the tokens and cost a finished request used, counted
//!   into the token and budget windows of its scopes.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::window::Counter;
use super::{LimitKind, Scope};

/// One limit to check for a request: `limit` of `kind` in `scope`, `need` more wanted
/// (1 for a request limit, 0 for a usage limit, which only needs some room left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub scope: Scope,
    pub kind: LimitKind,
    pub limit: u64,
    pub need: u64,
}

/// Where a checked limit stands after the admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub kind: LimitKind,
    pub limit: u64,
    pub remaining: u64,
    /// Unix ms when everything counted now has left the window.
    pub whole_at_ms: i64,
}

/// A refusal: which check failed, and when it would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The index of the failed check (the one that frees last, when several fail).
    pub check: usize,
    /// Unix ms at which the failed check would pass, all else equal.
    pub fits_at_ms: i64,
    /// Where every check stands (nothing was reserved).
    pub standings: Vec<Standing>,
}

/// Tokens and cost one request used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    pub tokens: u64,
    /// Cost in millionths of a USD.
    pub micro_usd: u64,
}

/// Limit state: counters per scope and limit kind.
#[async_trait]
pub trait LimitCounters: Send + Sync + std::fmt::Debug {
    /// Admits a request if every check passes, reserving each check's `need`; else
    /// reserves nothing. Atomic with respect to every other call.
    async fn try_admit(&self, checks: &[Check], now_ms: i64) -> Result<Vec<Standing>, Refused>;

    /// Counts what a finished request used into the token and budget windows of `scopes`.
    /// Never blocks: a networked implementation sends it on in the background.
    fn add_usage(&self, scopes: &[Scope], spent: Spent, now_ms: i64);
}

/// The counters of one scope, one per limit kind.
#[derive(Debug, Default)]
pub struct ScopeCounters {
    counters: [Counter; LimitKind::ALL.len()],
}

impl ScopeCounters {
    fn counter(&mut self, kind: LimitKind) -> &mut Counter {
        &mut self.counters[kind as usize]
    }
}

/// Counters in process: per key and per account, each map bounded (least recently used
/// scopes are dropped past the bound and start from zero if they come back).
pub struct MemoryCounters {
    keys: moka::sync::Cache<uuid::Uuid, Arc<Mutex<ScopeCounters>>>,
    accounts: moka::sync::Cache<Arc<str>, Arc<Mutex<ScopeCounters>>>,
}

impl std::fmt::Debug for MemoryCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCounters")
            .field("keys", &self.keys.entry_count())
            .field("accounts", &self.accounts.entry_count())
            .finish()
    }
}

impl MemoryCounters {
    /// Counters for up to `keys` keys and `accounts` accounts.
    pub fn new(keys: u64, accounts: u64) -> Self {
        // Least recently used out, every new scope in: a scope is never left uncounted
        // because the map is full (TinyLFU, moka's default, may refuse a new entry).
        let lru = || moka::policy::EvictionPolicy::lru();
        MemoryCounters {
            keys: moka::sync::Cache::builder()
                .max_capacity(keys)
                .eviction_policy(lru())
                .build(),
            accounts: moka::sync::Cache::builder()
                .max_capacity(accounts)
                .eviction_policy(lru())
                .build(),
        }
    }

    fn scope(&self, scope: &Scope) -> Arc<Mutex<ScopeCounters>> {
        match scope {
            Scope::Key { id, .. } => self.keys.get_with(*id, Arc::default),
            Scope::Account(name) => self.accounts.get_with(name.clone(), Arc::default),
        }
    }

    /// Accounts counted now (after pending evictions).
    pub fn tracked_accounts(&self) -> u64 {
        self.accounts.run_pending_tasks();
        self.accounts.entry_count()
    }
}

#[async_trait]
impl LimitCounters for MemoryCounters {
    async fn try_admit(&self, checks: &[Check], now_ms: i64) -> Result<Vec<Standing>, Refused> {
        self.admit_now(checks, now_ms)
    }

    fn add_usage(&self, scopes: &[Scope], spent: Spent, now_ms: i64) {
        for scope in scopes {
            let state = self.scope(scope);
            let mut s = state.lock();
            for kind in LimitKind::ALL {
                let n = match kind {
                    LimitKind::Tpm | LimitKind::Tokens5h => spent.tokens,
                    LimitKind::UsdDay | LimitKind::UsdMonth => spent.micro_usd,
                    LimitKind::Rpm => 0,
                };
                s.counter(kind).add(kind.window(), now_ms, n);
            }
        }
    }
}

impl MemoryCounters {
    /// The admission under the locks of the request's scopes, taken in one order (keys
    /// before accounts, as [`Scope`] sorts) so two requests never wait on each other.
    fn admit_now(&self, checks: &[Check], now_ms: i64) -> Result<Vec<Standing>, Refused> {
        let mut scopes: Vec<&Scope> = checks.iter().map(|c| &c.scope).collect();
        scopes.sort();
        scopes.dedup();
        let states: Vec<Arc<Mutex<ScopeCounters>>> = scopes.iter().map(|s| self.scope(s)).collect();
        let mut guards: Vec<_> = states.iter().map(|s| s.lock()).collect();
        let mut standings = Vec::with_capacity(checks.len());
        let mut refused: Option<(usize, i64)> = None;
        for (i, c) in checks.iter().enumerate() {
            let at = scopes.iter().position(|s| **s == c.scope).unwrap_or(0);
            let Some(g) = guards.get_mut(at) else {
                continue;
            };
            let window = c.kind.window();
            let counter = g.counter(c.kind);
            let used = counter.used(window, now_ms);
            let fits_at = counter.fits_at(window, used, c.limit, c.need, now_ms);
            if fits_at > now_ms && refused.is_none_or(|(_, at)| fits_at > at) {
                refused = Some((i, fits_at));
            }
            standings.push(Standing {
                kind: c.kind,
                limit: c.limit,
                remaining: c.limit.saturating_sub(used),
                whole_at_ms: counter.whole_at(window, now_ms),
            });
        }
        if let Some((check, fits_at_ms)) = refused {
            return Err(Refused {
                check,
                fits_at_ms,
                standings,
            });
        }
        for (c, standing) in checks.iter().zip(standings.iter_mut()) {
            if c.need == 0 {
                continue;
            }
            let at = scopes.iter().position(|s| **s == c.scope).unwrap_or(0);
            if let Some(g) = guards.get_mut(at) {
                let window = c.kind.window();
                let counter = g.counter(c.kind);
                counter.add(window, now_ms, c.need);
                standing.remaining = standing.remaining.saturating_sub(c.need);
                standing.whole_at_ms = counter.whole_at(window, now_ms);
            }
        }
        Ok(standings)
    }
}
