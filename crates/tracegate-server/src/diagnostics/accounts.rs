//! Hot accounts: who used the most tokens in the last 24 hours and in the
//! 5-hour window providers meter usage by.

use serde::{Deserialize, Serialize};
use tracegate_store::analytics::AccountUsage;

use super::format::{key, pct};
use super::severity::Severity;
use super::{Finding, Section};

/// Accounts listed per window.
pub const ROWS: usize = 5;
/// An account with more than this share of the tokens is hot.
pub const HOT_SHARE: f64 = 0.5;

/// Top token consumers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountsSection {
    /// The last 24 hours, most tokens first.
    pub last_24h: Vec<AccountUsage>,
    /// The last 5 hours, most tokens first.
    pub last_5h: Vec<AccountUsage>,
}

fn share(top: &AccountUsage, all: &[AccountUsage]) -> f64 {
    let total: u64 = all
        .iter()
        .map(|a| a.usage.total_tokens)
        .fold(0, u64::saturating_add);
    if total == 0 {
        0.0
    } else {
        top.usage.total_tokens as f64 / total as f64
    }
}

/// The top accounts of each window, and a finding naming the top one of the
/// 5-hour window (or of the 24 hours when the 5 hours were quiet).
pub fn section(
    mut last_24h: Vec<AccountUsage>,
    mut last_5h: Vec<AccountUsage>,
    findings: &mut Vec<Finding>,
) -> AccountsSection {
    let (window, all) = if last_5h.iter().any(|a| a.usage.total_tokens > 0) {
        ("5 h", &last_5h)
    } else {
        ("24 h", &last_24h)
    };
    if let Some(top) = all.iter().max_by_key(|a| a.usage.total_tokens) {
        if top.usage.total_tokens > 0 {
            let top_share = share(top, all);
            let name = key(&top.account);
            let hot = top_share > HOT_SHARE && all.len() > 1;
            let evidence = all
                .iter()
                .take(ROWS)
                .map(|a| {
                    format!(
                        "{}: {} tokens ({}), {} requests, ${:.4}",
                        key(&a.account),
                        a.usage.total_tokens,
                        pct(share(a, all)),
                        a.usage.requests,
                        a.usage.cost_usd
                    )
                })
                .collect();
            findings.push(Finding::new(
                if hot { Severity::P3 } else { Severity::Info },
                Section::Accounts,
                format!(
                    "{} {name:?}: {} of the tokens in the last {window} ({} tokens, ${:.4})",
                    if hot { "hot account" } else { "top account" },
                    pct(top_share),
                    top.usage.total_tokens,
                    top.usage.cost_usd
                ),
                evidence,
                format!("See what {name:?} ran: GET /api/v1/usage/window?account={name}&window=5h (by model) and GET /api/v1/conversations?account={name}. If it is a runaway agent or loop, stop it; if it is expected, move its bulk work to a cheaper model or off-peak."),
            ));
        }
    }
    last_24h.truncate(ROWS);
    last_5h.truncate(ROWS);
    AccountsSection { last_24h, last_5h }
}
