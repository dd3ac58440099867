#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::TimeZone;

use super::*;
use crate::alerts::Severity;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn finding(rule: Rule, label: &str) -> Finding {
    Finding {
        rule,
        severity: Severity::P2,
        labels: BTreeMap::from([("upstream".to_owned(), label.to_owned())]),
        summary: format!("{label} is slow"),
        value: 2.0,
        threshold: 1.0,
    }
}

fn ev(findings: Vec<Finding>) -> Evaluation {
    Evaluation {
        findings,
        evaluated: BTreeSet::from([Rule::LatencyP95, Rule::StuckRequest]),
    }
}

fn book(repeat_secs: u64, max_active: usize) -> AlertBook {
    AlertBook::new(&AlertsConfig {
        repeat_interval_secs: repeat_secs,
        max_active,
        recent_resolved: 2,
        ..AlertsConfig::default()
    })
}

fn changes(n: &[Notice]) -> Vec<(Change, String)> {
    n.iter().map(|n| (n.change, n.alert.id.clone())).collect()
}

#[test]
fn firing_repeats_then_resolves_with_one_notice_per_change() {
    let mut b = book(60, 10);
    let id = "latency_p95{upstream=\"a\"}".to_owned();
    let n = b.apply(ev(vec![finding(Rule::LatencyP95, "a")]), t(0));
    assert_eq!(changes(&n), vec![(Change::Firing, id.clone())]);
    assert_eq!(n[0].alert.since, t(0));
    assert_eq!(n[0].alert.state, AlertState::Firing);
    // Still firing before the repeat interval: nothing to send.
    for s in [10, 30, 59] {
        assert!(b
            .apply(ev(vec![finding(Rule::LatencyP95, "a")]), t(s))
            .is_empty());
    }
    let n = b.apply(ev(vec![finding(Rule::LatencyP95, "a")]), t(60));
    assert_eq!(changes(&n), vec![(Change::Repeat, id.clone())]);
    assert_eq!(n[0].alert.since, t(0), "a repeat keeps the start");
    assert!(b
        .apply(ev(vec![finding(Rule::LatencyP95, "a")]), t(100))
        .is_empty());
    assert_eq!(b.firing().len(), 1);
    let n = b.apply(ev(vec![]), t(130));
    assert_eq!(changes(&n), vec![(Change::Resolved, id.clone())]);
    assert_eq!(n[0].alert.resolved_at, Some(t(130)));
    assert_eq!(n[0].alert.state, AlertState::Resolved);
    assert!(
        b.apply(ev(vec![]), t(160)).is_empty(),
        "resolved is sent once"
    );
    assert!(b.firing().is_empty());
    assert_eq!(b.resolved()[0].id, id);
    // Firing again is a new alert with a new start.
    let n = b.apply(ev(vec![finding(Rule::LatencyP95, "a")]), t(200));
    assert_eq!(changes(&n), vec![(Change::Firing, id)]);
    assert_eq!(n[0].alert.since, t(200));
}

#[test]
fn rules_not_evaluated_keep_their_alerts() {
    let mut b = book(3600, 10);
    b.apply(ev(vec![finding(Rule::ErrorRate, "a")]), t(0));
    // ErrorRate is not in `evaluated` (its input failed): it stays firing.
    assert!(b.apply(ev(vec![]), t(30)).is_empty());
    assert_eq!(b.firing().len(), 1);
    let all = Evaluation {
        findings: vec![],
        evaluated: BTreeSet::from([Rule::ErrorRate]),
    };
    assert_eq!(b.apply(all, t(60))[0].change, Change::Resolved);
}

#[test]
fn alerts_beyond_the_cap_are_folded_per_rule() {
    let mut b = book(3600, 3);
    let many: Vec<Finding> = (0..10)
        .map(|i| finding(Rule::StuckRequest, &format!("u{i}")))
        .collect();
    let n = b.apply(ev(many.clone()), t(0));
    assert_eq!(n.len(), 4, "{:?}", changes(&n));
    let folded = n
        .iter()
        .find(|n| n.alert.labels.contains_key("folded"))
        .unwrap();
    assert_eq!(folded.alert.value, 7.0);
    assert!(
        folded
            .alert
            .summary
            .starts_with("7 more stuck_request alerts"),
        "{}",
        folded.alert.summary
    );
    assert_eq!(b.firing().len(), 4);
    // The same findings again: no new notices, the fold stays one alert.
    assert!(b.apply(ev(many), t(10)).is_empty());
    assert_eq!(b.resolved().len(), 0);
}

#[test]
fn resolved_history_is_bounded_and_newest_first() {
    let mut b = book(3600, 10);
    for (i, l) in ["a", "b", "c"].iter().enumerate() {
        let s = i64::try_from(i).unwrap() * 10;
        b.apply(ev(vec![finding(Rule::LatencyP95, l)]), t(s));
        b.apply(ev(vec![]), t(s + 5));
    }
    let r = b.resolved();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].labels["upstream"], "c");
    assert_eq!(r[1].labels["upstream"], "b");
}

#[test]
fn firing_is_listed_most_severe_first() {
    let mut b = book(3600, 10);
    let mut p0 = finding(Rule::LatencyP95, "z");
    p0.severity = Severity::P0;
    b.apply(ev(vec![finding(Rule::LatencyP95, "a"), p0]), t(0));
    let f = b.firing();
    assert_eq!(f[0].severity, Severity::P0);
    assert_eq!(f[1].severity, Severity::P2);
}
