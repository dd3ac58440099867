//! Token usage from model rollups, and per account from account rollups.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::rows::{self, Rollups, KEY_SEPARATOR};
use crate::analytics::window::DAY_MS;
use crate::analytics::{
    rank_accounts, AccountUsage, TimeRange, Tokens, UsageQuery, UsageReport, UsageSum,
};
use crate::error::StoreError;

/// Usage per bucket and model: `account_model` rollups for one account,
/// `model` rollups for all, trace rows for the partial minutes.
pub(super) fn usage(c: &Connection, q: UsageQuery) -> Result<UsageReport, StoreError> {
    let plan = q.range().plan_up_to(q.bucket().widest_rollup_ms());
    let account = q.account().map(str::to_owned);
    let mut sum = UsageSum::new(q);
    let rollups = match account.as_deref() {
        Some(a) => Rollups {
            dim: "account_model",
            account: Some(a),
        },
        None => Rollups {
            dim: "model",
            account: None,
        },
    };
    rollups.tokens(c, &plan, |bucket, key, t| {
        let model = match account {
            Some(_) => key.split_once(KEY_SEPARATOR).map_or("", |(_, m)| m),
            None => key,
        };
        sum.add(bucket, model, t);
    })?;
    rows::traces(c, &plan, account.as_deref(), |t| {
        sum.add(t.ts, &t.key("model"), &t.tokens);
    })?;
    Ok(sum.finish())
}

/// Every account with requests in `range`, most tokens first.
pub(super) fn by_account(
    c: &Connection,
    range: TimeRange,
) -> Result<Vec<AccountUsage>, StoreError> {
    let plan = range.plan_up_to(DAY_MS);
    let mut accounts: BTreeMap<String, Tokens> = BTreeMap::new();
    let rollups = Rollups {
        dim: "account",
        account: None,
    };
    rollups.tokens(c, &plan, |_, key, t| {
        accounts.entry(key.to_owned()).or_default().add(t);
    })?;
    rows::traces(c, &plan, None, |t| {
        accounts.entry(t.key("account")).or_default().add(&t.tokens);
    })?;
    accounts.retain(|_, t| t.requests > 0);
    Ok(rank_accounts(accounts))
}
