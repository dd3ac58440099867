//! The `[alerts]` table: how often the built-in rules run, their thresholds and where
//! notifications go.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Thresholds of the built-in alert rules and their webhooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Whether the rules are evaluated at all.
    pub enabled: bool,
    /// Seconds between two evaluations.
    pub interval_secs: u64,
    /// Seconds of traffic the latency and error-rate rules look at.
    pub window_secs: u64,
    /// p95 request duration, per upstream and per model, above which an alert fires.
    pub p95_ms: f64,
    /// p95 time to first token above which an alert fires.
    pub ttft_p95_ms: f64,
    /// Share of failed requests (0..1) above which an alert fires.
    pub error_rate: f64,
    /// Fewest requests in the window before the error rate is judged.
    pub min_requests: u64,
    /// A request in flight longer than this fires an alert.
    pub stuck_after_secs: u64,
    /// Share of an account's 5-hour token allowance above which an alert fires.
    pub account_share: f64,
    /// Tokens per 5 hours for accounts not listed in `allowances`; none means unlimited.
    pub default_allowance: Option<u64>,
    /// Tokens per 5 hours, by account.
    pub allowances: HashMap<String, u64>,
    /// p95 of the store's answers to the evaluator's queries above which an alert fires.
    pub store_p95_ms: f64,
    /// A notification is sent again this often while its alert is still firing.
    pub repeat_interval_secs: u64,
    /// Most alerts firing at once; beyond it new ones are folded into one per rule.
    pub max_active: usize,
    /// Resolved alerts kept for `GET /api/v1/alerts`.
    pub recent_resolved: usize,
    /// Where notifications are posted.
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            interval_secs: 30,
            window_secs: 300,
            p95_ms: 30_000.0,
            ttft_p95_ms: 5_000.0,
            error_rate: 0.01,
            min_requests: 20,
            stuck_after_secs: 600,
            account_share: 0.8,
            default_allowance: None,
            allowances: HashMap::new(),
            store_p95_ms: 1_000.0,
            repeat_interval_secs: 4 * 3600,
            max_active: 1_000,
            recent_resolved: 100,
            webhooks: Vec::new(),
        }
    }
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// The alert as JSON.
    #[default]
    Json,
    /// `{"text": ..., "blocks": [...]}` as Slack's incoming webhooks take it.
    Slack,
}

/// One webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the notification is posted to.
    pub url: String,
    /// `json` (default) or `slack`.
    #[serde(default)]
    pub kind: WebhookKind,
}

impl AlertsConfig {
    /// Checks ranges serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval_secs == 0 || self.repeat_interval_secs == 0 {
            return Err(
                "alerts.interval_secs and alerts.repeat_interval_secs must be at least 1".into(),
            );
        }
        if !(60..=86_400).contains(&self.window_secs) {
            return Err("alerts.window_secs must be from 60 to 86400".into());
        }
        let positive = [
            ("p95_ms", self.p95_ms),
            ("ttft_p95_ms", self.ttft_p95_ms),
            ("store_p95_ms", self.store_p95_ms),
            ("account_share", self.account_share),
        ];
        for (key, v) in positive {
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("alerts.{key} must be a number greater than 0"));
            }
        }
        if !self.error_rate.is_finite() || !(0.0..=1.0).contains(&self.error_rate) {
            return Err("alerts.error_rate must be from 0 to 1".into());
        }
        if self.max_active == 0 {
            return Err("alerts.max_active must be at least 1".into());
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            let ok = w.url.parse::<http::Uri>().ok().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                return Err(format!(
                    "alerts.webhooks[{i}].url: {:?} is not an http:// or https:// URL",
                    w.url
                ));
            }
        }
        Ok(())
    }
}
