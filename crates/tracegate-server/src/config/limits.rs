//! `[limits]`: rate limits and budgets for each account. The table's own values are the
//! default every account gets; `[limits.accounts.NAME]` replaces any of them for one
//! account. Virtual keys carry limits of their own (`KeyLimits`), checked besides these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Accounts whose counters are kept by default (`limits.tracked_accounts`).
pub const DEFAULT_TRACKED_ACCOUNTS: u64 = 100_000;

/// One set of limits; a missing value is no limit (or, in an account's table, the
/// default's value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSet {
    /// Requests in any rolling minute.
    pub rpm: Option<u64>,
    /// Tokens the providers reported in any rolling minute.
    pub tpm: Option<u64>,
    /// Tokens the providers reported in any rolling 5 hours.
    pub tokens_per_5h: Option<u64>,
    /// Cost in USD in one UTC day.
    pub budget_usd_day: Option<f64>,
    /// Cost in USD in one UTC month.
    pub budget_usd_month: Option<f64>,
}

/// The `[limits]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Default requests per rolling minute for each account.
    pub rpm: Option<u64>,
    /// Default tokens per rolling minute for each account.
    pub tpm: Option<u64>,
    /// Default tokens per rolling 5 hours for each account.
    pub tokens_per_5h: Option<u64>,
    /// Default USD per UTC day for each account.
    pub budget_usd_day: Option<f64>,
    /// Default USD per UTC month for each account.
    pub budget_usd_month: Option<f64>,
    /// Accounts whose counters are kept in process; past it the least recently used
    /// account's counters are dropped (it starts from zero when it comes back).
    pub tracked_accounts: u64,
    /// Overrides by account name: a value set here replaces the default's.
    pub accounts: BTreeMap<String, LimitSet>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            rpm: None,
            tpm: None,
            tokens_per_5h: None,
            budget_usd_day: None,
            budget_usd_month: None,
            tracked_accounts: DEFAULT_TRACKED_ACCOUNTS,
            accounts: BTreeMap::new(),
        }
    }
}

impl LimitsConfig {
    /// The default every account gets.
    pub fn defaults(&self) -> LimitSet {
        LimitSet {
            rpm: self.rpm,
            tpm: self.tpm,
            tokens_per_5h: self.tokens_per_5h,
            budget_usd_day: self.budget_usd_day,
            budget_usd_month: self.budget_usd_month,
        }
    }

    /// Whole numbers at least 1, budgets positive and finite, account names not blank.
    /// The error names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.defaults().validate("limits")?;
        if self.tracked_accounts == 0 {
            return Err("limits.tracked_accounts must be at least 1".into());
        }
        for (name, set) in &self.accounts {
            if name.trim().is_empty() || name.chars().count() > 200 {
                return Err(format!(
                    "limits.accounts.{name:?}: an account name is 1 to 200 characters"
                ));
            }
            set.validate(&format!("limits.accounts.{name:?}"))?;
        }
        Ok(())
    }
}

impl LimitSet {
    /// Each value set is usable: counts at least 1, budgets above 0. `at` is the table's
    /// key, for the message.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        for (key, v) in [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("tokens_per_5h", self.tokens_per_5h),
        ] {
            if v == Some(0) {
                return Err(format!(
                    "{at}.{key} must be at least 1 (leave it out for no limit)"
                ));
            }
        }
        for (key, v) in [
            ("budget_usd_day", self.budget_usd_day),
            ("budget_usd_month", self.budget_usd_month),
        ] {
            if let Some(v) = v {
                if !v.is_finite() || v <= 0.0 || v > 1e9 {
                    return Err(format!(
                        "{at}.{key} must be a positive number of USD up to 1e9, got {v} \
                         (leave it out for no budget)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// This set with `over`'s values where it has them.
    pub fn overridden_by(&self, over: &LimitSet) -> LimitSet {
        LimitSet {
            rpm: over.rpm.or(self.rpm),
            tpm: over.tpm.or(self.tpm),
            tokens_per_5h: over.tokens_per_5h.or(self.tokens_per_5h),
            budget_usd_day: over.budget_usd_day.or(self.budget_usd_day),
            budget_usd_month: over.budget_usd_month.or(self.budget_usd_month),
        }
    }
}
