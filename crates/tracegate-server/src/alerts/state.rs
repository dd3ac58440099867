//! The alert book: turns each evaluation's findings into firing, repeated and resolved
//! alerts, with exactly one notice per state change and a repeat every
//! `repeat_interval_secs` while an alert keeps firing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rules::{Evaluation, Finding};
use super::{identity, Alert, AlertState, Rule};
use crate::config::AlertsConfig;

/// What a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The alert began firing.
    Firing,
    /// Still firing, `repeat_interval_secs` after the last notice.
    Repeat,
    /// It stopped firing.
    Resolved,
}

/// One notification to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub change: Change,
    pub alert: Alert,
}

#[derive(Debug)]
struct Active {
    alert: Alert,
    last_sent: DateTime<Utc>,
}

/// Alerts firing now and the last resolved ones.
#[derive(Debug)]
pub struct AlertBook {
    active: HashMap<String, Active>,
    recent: VecDeque<Alert>,
    repeat: chrono::Duration,
    max_active: usize,
    recent_cap: usize,
}

impl AlertBook {
    pub fn new(cfg: &AlertsConfig) -> AlertBook {
        let repeat_secs = i64::try_from(cfg.repeat_interval_secs).unwrap_or(i64::MAX / 1000);
        AlertBook {
            active: HashMap::new(),
            recent: VecDeque::new(),
            repeat: chrono::Duration::try_seconds(repeat_secs).unwrap_or(chrono::Duration::MAX),
            max_active: cfg.max_active.max(1),
            recent_cap: cfg.recent_resolved,
        }
    }

    /// Applies one evaluation made at `now`; returns the notices to send.
    pub fn apply(&mut self, ev: Evaluation, now: DateTime<Utc>) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut new_ids = 0usize;
        let mut folded: BTreeMap<Rule, (u64, Finding)> = BTreeMap::new();
        let mut accepted: Vec<(String, Finding)> = Vec::new();
        for f in ev.findings {
            let id = identity(f.rule, &f.labels);
            if seen.contains(&id) {
                continue;
            }
            let known = self.active.contains_key(&id);
            if !known && self.active.len() + new_ids >= self.max_active {
                let entry = folded.entry(f.rule).or_insert_with(|| (0, f.clone()));
                entry.0 += 1;
                entry.1.severity = entry.1.severity.min(f.severity);
                continue;
            }
            if !known {
                new_ids += 1;
            }
            seen.insert(id.clone());
            accepted.push((id, f));
        }
        for (rule, (n, mut f)) in folded {
            f.labels = BTreeMap::from([("folded".to_owned(), "true".to_owned())]);
            f.summary = format!(
                "{n} more {} alerts beyond the limit of {} active alerts (alerts.max_active), e.g. {}",
                rule.as_str(),
                self.max_active,
                f.summary
            );
            f.value = n as f64;
            f.threshold = self.max_active as f64;
            let id = identity(rule, &f.labels);
            seen.insert(id.clone());
            accepted.push((id, f));
        }
        for (id, f) in accepted {
            match self.active.get_mut(&id) {
                Some(a) => {
                    a.alert.severity = f.severity;
                    a.alert.summary = f.summary;
                    a.alert.value = f.value;
                    a.alert.threshold = f.threshold;
                    if now - a.last_sent >= self.repeat {
                        a.last_sent = now;
                        notices.push(Notice {
                            change: Change::Repeat,
                            alert: a.alert.clone(),
                        });
                    }
                }
                None => {
                    let alert = Alert {
                        id: id.clone(),
                        rule: f.rule,
                        severity: f.severity,
                        state: AlertState::Firing,
                        since: now,
                        resolved_at: None,
                        labels: f.labels,
                        summary: f.summary,
                        value: f.value,
                        threshold: f.threshold,
                    };
                    notices.push(Notice {
                        change: Change::Firing,
                        alert: alert.clone(),
                    });
                    self.active.insert(
                        id,
                        Active {
                            alert,
                            last_sent: now,
                        },
                    );
                }
            }
        }
        let gone: Vec<String> = self
            .active
            .iter()
            .filter(|(id, a)| !seen.contains(*id) && ev.evaluated.contains(&a.alert.rule))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            let Some(a) = self.active.remove(&id) else {
                continue;
            };
            let mut alert = a.alert;
            alert.state = AlertState::Resolved;
            alert.resolved_at = Some(now);
            notices.push(Notice {
                change: Change::Resolved,
                alert: alert.clone(),
            });
            self.recent.push_front(alert);
            self.recent.truncate(self.recent_cap);
        }
        notices
    }

    /// Firing alerts, most severe first, then oldest first.
    pub fn firing(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.active.values().map(|a| a.alert.clone()).collect();
        v.sort_by(|a, b| (a.severity, a.since, &a.id).cmp(&(b.severity, b.since, &b.id)));
        v
    }

    /// Resolved alerts, newest first.
    pub fn resolved(&self) -> Vec<Alert> {
        self.recent.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests;
