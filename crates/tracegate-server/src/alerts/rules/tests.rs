#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn cfg() -> AlertsConfig {
    AlertsConfig {
        p95_ms: 1_000.0,
        ttft_p95_ms: 500.0,
        default_allowance: Some(1_000),
        allowances: [("alice".to_owned(), 10_000)].into(),
        ..AlertsConfig::default()
    }
}

fn quiet() -> Inputs {
    Inputs {
        by_upstream: Some(vec![group("openai", 100, 0, 300.0, 100.0)]),
        by_model: Some(vec![group("gpt-4o", 100, 0, 300.0, 100.0)]),
        account_tokens: Some(vec![("alice".into(), 10), ("bob".into(), 10)]),
        store_ms: vec![3.0; 10],
        ..Inputs::default()
    }
}

fn group(key: &str, requests: u64, errors: u64, p95: f64, ttft: f64) -> GroupFigures {
    GroupFigures {
        key: Some(key.into()),
        requests,
        errors,
        p95_ms: Some(p95),
        ttft_p95_ms: Some(ttft),
    }
}

fn only(ev: &Evaluation, rule: Rule) -> Vec<&Finding> {
    ev.findings.iter().filter(|f| f.rule == rule).collect()
}

#[test]
fn quiet_inputs_fire_nothing_and_evaluate_every_rule() {
    let ev = evaluate(&quiet(), &cfg());
    assert!(ev.findings.is_empty(), "{:?}", ev.findings);
    assert_eq!(ev.evaluated.len(), 8);
}

#[test]
fn latency_p95_per_upstream_and_model_with_the_runbook_scale() {
    let mut i = quiet();
    i.by_upstream = Some(vec![
        group("openai", 10, 0, 12_000.0, 100.0),
        group("ok", 10, 0, 900.0, 1.0),
    ]);
    i.by_model = Some(vec![group("gpt-4o", 10, 0, 1_500.0, 100.0)]);
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::LatencyP95);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[0].labels["upstream"], "openai");
    assert_eq!(f[0].severity, Severity::P0);
    assert_eq!((f[0].value, f[0].threshold), (12_000.0, 1_000.0));
    assert_eq!(f[1].labels["model"], "gpt-4o");
    assert_eq!(f[1].severity, Severity::P3);
    for (ms, sev) in [
        (10_001.0, Severity::P0),
        (5_001.0, Severity::P1),
        (2_001.0, Severity::P2),
        (1_001.0, Severity::P3),
        (300.0, Severity::P3),
    ] {
        assert_eq!(Severity::of_latency_ms(ms), sev, "{ms}");
    }
}

#[test]
fn ttft_p95() {
    let mut i = quiet();
    i.by_model = Some(vec![group("claude", 10, 0, 300.0, 6_000.0)]);
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::TtftP95);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::P1);
    assert!(f[0].summary.contains("claude"), "{}", f[0].summary);
}

#[test]
fn error_rate_needs_enough_requests() {
    let mut i = quiet();
    i.by_upstream = Some(vec![
        group("few", 19, 19, 1.0, 1.0),
        group("many", 200, 3, 1.0, 1.0),
        group("bad", 100, 60, 1.0, 1.0),
    ]);
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::ErrorRate);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[0].labels["upstream"], "many");
    assert_eq!(f[0].severity, Severity::P2);
    assert_eq!(f[1].labels["upstream"], "bad");
    assert_eq!(f[1].severity, Severity::P0);
    // Exactly at the threshold does not fire.
    i.by_upstream = Some(vec![group("edge", 100, 1, 1.0, 1.0)]);
    assert!(only(&evaluate(&i, &cfg()), Rule::ErrorRate).is_empty());
}

#[test]
fn stuck_requests_are_named_by_trace_id() {
    let mut i = quiet();
    let run = |id: &str, secs: f64| Running {
        trace_id: id.into(),
        elapsed_ms: secs * 1000.0,
        upstream: Some("openai".into()),
        model: None,
    };
    i.inflight = vec![run("t1", 601.0), run("t2", 10.0)];
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::StuckRequest);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].labels["trace_id"], "t1");
    assert_eq!(f[0].labels["model"], "unknown");
    assert_eq!(f[0].severity, Severity::P2);
}

#[test]
fn account_allowance_share() {
    let mut i = quiet();
    i.account_tokens = Some(vec![
        ("alice".into(), 8_500), // 85% of 10,000
        ("bob".into(), 1_200),   // 120% of the default 1,000
        ("carol".into(), 700),   // 70%
    ]);
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::AccountAllowance);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(
        (f[0].labels["account"].as_str(), f[0].severity),
        ("alice", Severity::P2)
    );
    assert!((f[0].value - 0.85).abs() < 1e-9);
    assert_eq!(
        (f[1].labels["account"].as_str(), f[1].severity),
        ("bob", Severity::P1)
    );
    // Without any allowance configured nobody is limited.
    let mut unlimited = cfg();
    unlimited.default_allowance = None;
    unlimited.allowances.clear();
    assert!(only(&evaluate(&i, &unlimited), Rule::AccountAllowance).is_empty());
}

#[test]
fn traces_lost() {
    let mut i = quiet();
    i.dropped_in_window = 3;
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::TracesLost);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].value, f[0].severity), (3.0, Severity::P1));
}

#[test]
fn slow_and_unreachable_store() {
    let mut i = quiet();
    i.store_ms = vec![5.0; 18];
    i.store_ms.extend([2_500.0, 2_600.0]);
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::StoreSlow);
    assert_eq!(f.len(), 1, "{:?}", ev.findings);
    assert_eq!(f[0].severity, Severity::P2);
    i.store_ms = vec![5.0; 20];
    i.store_error = Some("database is locked".into());
    let ev = evaluate(&i, &cfg());
    assert!(only(&ev, Rule::StoreSlow).is_empty());
    let f = only(&ev, Rule::StoreUnreachable);
    assert_eq!(f[0].severity, Severity::P0);
    assert!(f[0].summary.contains("database is locked"));
}

#[test]
fn missing_inputs_skip_their_rules() {
    let mut i = quiet();
    i.by_model = None;
    i.account_tokens = None;
    let ev = evaluate(&i, &cfg());
    for r in [
        Rule::LatencyP95,
        Rule::TtftP95,
        Rule::ErrorRate,
        Rule::AccountAllowance,
    ] {
        assert!(!ev.evaluated.contains(&r), "{r:?}");
    }
    assert!(ev.evaluated.contains(&Rule::StuckRequest));
}

#[test]
fn p95_is_the_nearest_rank() {
    assert_eq!(p95(&[]), None);
    assert_eq!(p95(&[7.0]), Some(7.0));
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(p95(&v), Some(95.0));
}

#[test]
fn long_label_values_are_cut() {
    let mut i = quiet();
    let long = "m".repeat(5_000);
    i.by_model = Some(vec![group(&long, 10, 0, 9_000.0, 1.0)]);
    let ev = evaluate(&i, &cfg());
    let f = only(&ev, Rule::LatencyP95);
    assert_eq!(f[0].labels["model"].len(), MAX_LABEL_CHARS);
}

#[test]
fn every_rule_fires_then_resolves_through_the_book() {
    use crate::alerts::state::{AlertBook, Change};
    use chrono::TimeZone;
    let at = |s: i64| chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
    type Spoil = Box<dyn Fn(&mut Inputs)>;
    let bad: Vec<(Rule, Spoil)> = vec![
        (
            Rule::LatencyP95,
            Box::new(|i| i.by_upstream = Some(vec![group("u", 10, 0, 3_000.0, 1.0)])),
        ),
        (
            Rule::TtftP95,
            Box::new(|i| i.by_model = Some(vec![group("m", 10, 0, 1.0, 900.0)])),
        ),
        (
            Rule::ErrorRate,
            Box::new(|i| i.by_model = Some(vec![group("m", 50, 5, 1.0, 1.0)])),
        ),
        (
            Rule::StuckRequest,
            Box::new(|i| {
                i.inflight = vec![Running {
                    trace_id: "t".into(),
                    elapsed_ms: 700_000.0,
                    upstream: None,
                    model: None,
                }]
            }),
        ),
        (
            Rule::AccountAllowance,
            Box::new(|i| i.account_tokens = Some(vec![("alice".into(), 9_000)])),
        ),
        (Rule::TracesLost, Box::new(|i| i.dropped_in_window = 1)),
        (Rule::StoreSlow, Box::new(|i| i.store_ms = vec![1_500.0; 5])),
        (
            Rule::StoreUnreachable,
            Box::new(|i| i.store_error = Some("gone".into())),
        ),
    ];
    for (rule, spoil) in bad {
        let mut book = AlertBook::new(&cfg());
        let mut i = quiet();
        spoil(&mut i);
        let n = book.apply(evaluate(&i, &cfg()), at(0));
        assert_eq!(n.len(), 1, "{rule:?}: {n:?}");
        assert_eq!((n[0].change, n[0].alert.rule), (Change::Firing, rule));
        assert!(
            book.apply(evaluate(&i, &cfg()), at(30)).is_empty(),
            "{rule:?}"
        );
        let n = book.apply(evaluate(&quiet(), &cfg()), at(60));
        assert_eq!(n.len(), 1, "{rule:?}: {n:?}");
        assert_eq!((n[0].change, n[0].alert.rule), (Change::Resolved, rule));
        assert_eq!(n[0].alert.since, at(0));
        assert_eq!(n[0].alert.resolved_at, Some(at(60)));
    }
}
