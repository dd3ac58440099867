#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use tracegate_core::Provider;
use tracegate_store::analytics::{AccountUsage, GroupStats, Percentiles, SlowRow, Slowest, Tokens};
use tracegate_store::health::{BackendHealth, ErrorCount, SqliteHealth, StoreHealth};

use super::host::{DiskFacts, HostSection, ProcessFacts};
use super::severity::{error_rate, latency, missed_error_rate, missed_latency};
use super::*;
use crate::config::SloConfig;
use crate::inflight::InflightRequest;
use crate::query_timings::QueryClass;
use crate::recorder::{QueueLimits, RecorderSnapshot};

const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn pcts(p50: f64, p95: f64, p99: f64) -> Percentiles {
    Percentiles {
        p50: Some(p50),
        p90: Some(p95),
        p95: Some(p95),
        p99: Some(p99),
    }
}

fn totals(requests: u64, errors: u64, duration: Percentiles, ttft: Percentiles) -> GroupStats {
    GroupStats {
        key: None,
        usage: Tokens {
            requests,
            ..Tokens::default()
        },
        errors,
        error_rate: errors as f64 / requests as f64,
        duration_ms: duration,
        ttft_ms: ttft,
        cache_hits: 0,
        cache_hit_rate: 0.0,
        cache_saved_usd: 0.0,
    }
}

fn row(key: &str, requests: u64, p95: f64) -> SlowRow {
    SlowRow {
        key: Some(key.to_owned()),
        requests,
        errors: 0,
        error_rate: 0.0,
        duration_ms: pcts(p95 / 2.0, p95, p95),
    }
}

fn slowest(upstreams: Vec<SlowRow>) -> Slowest {
    Slowest {
        from: at(NOW - HOUR),
        to: at(NOW),
        endpoints: Vec::new(),
        models: Vec::new(),
        upstreams,
    }
}

fn account(name: &str, tokens: u64) -> AccountUsage {
    AccountUsage {
        account: Some(name.to_owned()),
        usage: Tokens {
            requests: 1,
            total_tokens: tokens,
            ..Tokens::default()
        },
    }
}

fn store_health(wal_bytes: u64, freelist_count: u64) -> StoreHealth {
    StoreHealth {
        backend: "sqlite".into(),
        location: "/tmp/t.db".into(),
        size_bytes: Some(4096 * 100 + wal_bytes),
        free_bytes: Some(4096 * freelist_count),
        free_ratio: Some(freelist_count as f64 / 100.0),
        cache_hit_rate: None,
        checkpoint_due: wal_bytes > tracegate_store::health::CHECKPOINT_DUE_WAL_BYTES,
        vacuum_due: tracegate_store::health::vacuum_due(freelist_count, 100),
        notes: vec![],
        details: BackendHealth::Sqlite(SqliteHealth {
            file_bytes: 4096 * 100,
            wal_bytes,
            page_size: 4096,
            page_count: 100,
            freelist_count,
            journal_mode: "wal".into(),
            auto_vacuum: "incremental".into(),
        }),
    }
}

fn host() -> HostSection {
    HostSection {
        cores: 4,
        load_1m: 0.5,
        load_5m: 0.5,
        load_15m: 0.5,
        memory_total_bytes: 8 << 30,
        memory_available_bytes: 4 << 30,
        process: None,
        disk: Some(DiskFacts {
            path: "/tmp/t.db".into(),
            mount_point: "/".into(),
            total_bytes: 100 << 30,
            available_bytes: 50 << 30,
        }),
    }
}

/// A quiet, healthy hour read from a store file.
fn inputs() -> Inputs {
    let fast = pcts(200.0, 400.0, 600.0);
    Inputs {
        now_ms: NOW,
        since_ms: HOUR,
        since: "1h".into(),
        source: Source::Store,
        slo: SloConfig::default(),
        totals: Ok(Some(totals(100, 0, fast, pcts(50.0, 90.0, 120.0)))),
        slowest: Ok(slowest(vec![row("anthropic", 100, 400.0)])),
        previous: Ok(slowest(vec![row("anthropic", 80, 380.0)])),
        accounts_24h: Ok(vec![account("a", 100), account("b", 90)]),
        accounts_5h: Ok(vec![account("a", 50), account("b", 45)]),
        errors: Ok(vec![]),
        store: Ok(store_health(1 << 20, 2)),
        live: None,
        host: host(),
    }
}

fn live() -> Live {
    Live {
        inflight: Vec::new(),
        stuck_after_ms: 1_000.0,
        recorder: RecorderSnapshot {
            queued: 10,
            queue_bytes: 0,
            written: 10,
            dropped_queue_full: 0,
            dropped_store_error: 0,
            batches: 2,
            last_batch_us: 900,
            max_batch_us: 1_500,
            avg_batch_us: 1_000,
            unpriced: 0,
            otlp: Default::default(),
            spool_bytes: 0,
            spool_records_pending: 0,
            spool_lost_quota: 0,
            write_failing_ms: 0,
        },
        queue_limits: QueueLimits {
            traces: 1000,
            bytes: 1 << 20,
            batch: 64,
        },
        queries: Vec::new(),
    }
}

fn in_flight(id: &str, elapsed_ms: f64, stuck: bool) -> InflightRequest {
    InflightRequest {
        id: id.to_owned(),
        started_at: "2023-11-14T22:13:20.000Z".into(),
        elapsed_ms,
        provider: Provider::Anthropic,
        endpoint: "/v1/messages".into(),
        model: Some("claude-sonnet-4-5".into()),
        account: Some("alice".into()),
        upstream: Some("anthropic".into()),
        stream: true,
        stuck,
    }
}

fn find(report: &Report, section: Section) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.section == section)
        .collect()
}

#[test]
fn the_latency_scale_classifies_above_each_bound() {
    assert_eq!(latency(10_001.0), Some(Severity::P0));
    assert_eq!(latency(10_000.0), Some(Severity::P1));
    assert_eq!(latency(5_500.0), Some(Severity::P1));
    assert_eq!(latency(2_001.0), Some(Severity::P2));
    assert_eq!(latency(1_500.0), Some(Severity::P3));
    assert_eq!(latency(1_000.0), None);
    // A met target is no finding; a missed one is at least P3.
    assert_eq!(missed_latency(5_500.0, 6_000.0), None);
    assert_eq!(missed_latency(5_500.0, 5_000.0), Some(Severity::P1));
    assert_eq!(missed_latency(300.0, 200.0), Some(Severity::P3));
}

#[test]
fn the_error_rate_scale_classifies_above_each_bound() {
    assert_eq!(error_rate(0.30), Some(Severity::P0));
    assert_eq!(error_rate(0.10), Some(Severity::P1));
    assert_eq!(error_rate(0.02), Some(Severity::P2));
    assert_eq!(error_rate(0.01), None);
    assert_eq!(missed_error_rate(0.005, 0.001), Some(Severity::P3));
    assert_eq!(missed_error_rate(0.005, 0.01), None);
    assert!(Severity::P0 < Severity::P3 && Severity::P3 < Severity::Info);
    assert!(Severity::P1.is_blocking() && !Severity::P2.is_blocking());
}

#[test]
fn a_healthy_window_has_no_blocking_finding_and_names_what_needs_a_gateway() {
    let r = build(inputs());
    assert!(!r.is_failing(), "{:#?}", r.findings);
    assert!(r.findings.iter().all(|f| f.severity >= Severity::P3));
    assert_eq!(r.slo.len(), 8);
    assert!(r.slo.iter().take(7).all(|row| row.met == Some(true)));
    let missing: Vec<Section> = r.unavailable.iter().map(|u| u.section).collect();
    assert_eq!(
        missing,
        vec![
            Section::Stuck,
            Section::Recorder,
            Section::Queries,
            Section::Host
        ]
    );
    assert!(r.unavailable[0].reason.contains("running gateway"));
    assert_eq!(r.slowest.unwrap().upstreams[0].previous_requests, 80);
}

#[test]
fn a_slow_window_misses_its_targets_as_p1() {
    let mut i = inputs();
    i.totals = Ok(Some(totals(
        4,
        0,
        pcts(5_500.0, 5_600.0, 5_700.0),
        pcts(5_400.0, 5_500.0, 5_600.0),
    )));
    i.slowest = Ok(slowest(vec![row("slow-upstream", 4, 5_600.0)]));
    let r = build(i);
    assert_eq!(r.worst, Severity::P1);
    assert!(r.is_failing());
    let slo = find(&r, Section::Slo);
    assert_eq!(slo.len(), 2, "{slo:#?}");
    assert!(
        slo[0].finding.contains("request duration"),
        "{}",
        slo[0].finding
    );
    assert!(slo[0].recommendation.contains("slow-upstream"));
    let lat = find(&r, Section::Latency);
    assert_eq!(lat[0].severity, Severity::P1);
    assert!(lat[0].finding.contains("slow upstream \"slow-upstream\""));
    assert!(
        lat[0].evidence[1].contains("no requests to compare"),
        "{:?}",
        lat[0].evidence
    );
    // The p99 of 5.7 s is under its 10 s target: not on the table as missed.
    let p99 = r
        .slo
        .iter()
        .find(|row| row.metric == "duration p99")
        .unwrap();
    assert_eq!((p99.met, p99.severity), (Some(true), None));
}

#[test]
fn a_regression_against_the_previous_window_is_reported() {
    let mut i = inputs();
    i.slowest = Ok(slowest(vec![row("anthropic", 50, 3_000.0)]));
    i.previous = Ok(slowest(vec![row("anthropic", 50, 1_000.0)]));
    i.slo.duration_p95_ms = 4_000.0;
    let r = build(i);
    let lat = find(&r, Section::Latency);
    assert_eq!(lat.len(), 1);
    assert_eq!(lat[0].severity, Severity::P3);
    assert!(lat[0].finding.contains("got slower"));
    assert!(
        lat[0].evidence[1].contains("+200.0%"),
        "{:?}",
        lat[0].evidence
    );
}

#[test]
fn stuck_requests_are_listed_by_trace_id() {
    let mut i = inputs();
    let mut l = live();
    l.inflight = vec![
        in_flight("0192-stuck", 3_000.0, true),
        in_flight("0192-fresh", 200.0, false),
    ];
    i.live = Some(l);
    let r = build(i);
    let stuck = find(&r, Section::Stuck);
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].severity, Severity::P2);
    assert_eq!(stuck[0].trace_ids, vec!["0192-stuck".to_owned()]);
    assert!(stuck[0].evidence[0].contains("0192-stuck"));
    let section = r.inflight.unwrap();
    assert_eq!((section.in_flight, section.stuck_count), (2, 1));

    let mut i = inputs();
    let mut l = live();
    l.inflight = vec![in_flight("0192-hung", 400_000.0, true)];
    i.live = Some(l);
    assert_eq!(find(&build(i), Section::Stuck)[0].severity, Severity::P0);
}

#[test]
fn the_hot_account_is_named() {
    let mut i = inputs();
    i.accounts_5h = Ok(vec![account("whale", 9_000), account("minnow", 1_000)]);
    let r = build(i);
    let hot = find(&r, Section::Accounts);
    assert_eq!(hot[0].severity, Severity::P3);
    assert!(
        hot[0].finding.contains("\"whale\"") && hot[0].finding.contains("90.0%"),
        "{}",
        hot[0].finding
    );
    assert!(hot[0].recommendation.contains("account=whale"));
}

#[test]
fn errors_are_explained_by_their_status() {
    let mut i = inputs();
    i.slowest = Ok(slowest(vec![row("anthropic", 20, 400.0)]));
    i.errors = Ok(vec![
        ErrorCount {
            upstream: Some("anthropic".into()),
            status: Some(429),
            outcome: "upstream_error".into(),
            count: 9,
        },
        ErrorCount {
            upstream: Some("anthropic".into()),
            status: None,
            outcome: "timeout".into(),
            count: 1,
        },
    ]);
    let r = build(i);
    let e = find(&r, Section::Errors);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].severity, Severity::P0, "10 of 20 failed");
    assert!(e[0].finding.contains("429"), "{}", e[0].finding);
    assert!(e[0].recommendation.contains("rate-limits"));
    assert_eq!(e[0].evidence.len(), 3);
}

#[test]
fn lost_traces_and_slow_writes_are_recorder_findings() {
    let mut i = inputs();
    let mut l = live();
    l.recorder.dropped_queue_full = 3;
    l.recorder.avg_batch_us = 2_500_000;
    i.live = Some(l);
    let r = build(i);
    let rec = find(&r, Section::Recorder);
    assert_eq!(rec.len(), 2, "{rec:#?}");
    assert_eq!(rec[0].severity, Severity::P1);
    assert!(rec[0].recommendation.contains("record_queue"));
    assert_eq!(rec[1].severity, Severity::P2);
    assert_eq!(r.recorder.unwrap().avg_batch_ms, 2_500.0);
}

#[test]
fn query_classes_over_the_threshold_are_slow() {
    let class = |name: &str, p95: f64| QueryClass {
        class: name.to_owned(),
        count: 10,
        recent: 10,
        p50_ms: p95 / 2.0,
        p95_ms: p95,
        max_ms: p95,
        last_ms: p95,
    };
    let mut i = inputs();
    let mut l = live();
    l.queries = vec![
        class("POST /api/v1/traces/search", 300.0),
        class("GET /api/v1/stats", 20.0),
    ];
    let mut again = live();
    again.queries = l.queries.clone();
    i.live = Some(again);
    let r = build(i);
    let q = find(&r, Section::Queries);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].severity, Severity::P3);
    assert!(q[0].finding.contains("POST /api/v1/traces/search"));
    assert_eq!(q[0].evidence.len(), 1);

    let mut i = inputs();
    i.slo.slow_query_ms = 1_000.0;
    i.live = Some(l);
    assert!(find(&build(i), Section::Queries).is_empty());
}

#[test]
fn store_maintenance_due_is_reported() {
    let mut i = inputs();
    i.store = Ok(store_health(100 << 20, 30));
    let r = build(i);
    let s = find(&r, Section::Store);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].severity, Severity::P2);
    assert!(s[0].recommendation.contains("wal_checkpoint(TRUNCATE)"));
    assert!(s[1].recommendation.contains("incremental_vacuum"));
}

#[test]
fn a_full_disk_and_a_busy_cpu_are_host_findings() {
    let mut i = inputs();
    i.host.load_1m = 9.0;
    i.host.disk.as_mut().unwrap().available_bytes = 500 << 20;
    i.host.process = Some(ProcessFacts {
        rss_bytes: Some(50 << 20),
        open_files: Some(990),
        open_files_limit: Some(1024),
    });
    let r = build(i);
    let h = find(&r, Section::Host);
    let sev: Vec<Severity> = h.iter().map(|f| f.severity).collect();
    assert_eq!(
        sev,
        vec![Severity::P1, Severity::P1, Severity::P2],
        "{h:#?}"
    );
    assert!(r.is_failing());
    assert!(r.unavailable.iter().all(|u| u.section != Section::Host));
}

#[test]
fn failed_reads_leave_their_section_empty_and_say_why() {
    let mut i = inputs();
    i.errors = Err("errors_by_status: store unavailable: locked".into());
    i.store = Err("health: store unavailable: locked".into());
    let r = build(i);
    assert!(r.errors.is_none() && r.store.is_none());
    let reasons: Vec<&str> = r.unavailable.iter().map(|u| u.reason.as_str()).collect();
    assert!(reasons.iter().any(|m| m.contains("errors_by_status")));
    assert!(reasons.iter().any(|m| m.contains("health")));
}

#[test]
fn no_traffic_is_information_not_a_problem() {
    let mut i = inputs();
    i.totals = Ok(None);
    i.slowest = Ok(slowest(vec![]));
    i.accounts_5h = Ok(vec![]);
    i.accounts_24h = Ok(vec![]);
    let r = build(i);
    assert_eq!(r.worst, Severity::Info);
    assert!(r.findings[0].finding.contains("no requests"));
    assert!(r
        .slo
        .iter()
        .take(7)
        .all(|row| row.value.is_none() && row.met.is_none()));
}

#[test]
fn the_report_round_trips_through_json() {
    let mut i = inputs();
    let mut l = live();
    l.inflight = vec![in_flight("0192-stuck", 3_000.0, true)];
    i.live = Some(l);
    let r = build(i);
    let json = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["worst"], "P2");
    assert_eq!(v["findings"][0]["trace_ids"][0], "0192-stuck");
    assert_eq!(v["store"]["details"]["backend"], "sqlite");
}

#[test]
fn an_error_inside_a_2xx_answer_is_told_apart_from_a_refusal() {
    let mut i = inputs();
    i.slowest = Ok(slowest(vec![row("anthropic", 10, 400.0)]));
    i.errors = Ok(vec![ErrorCount {
        upstream: Some("anthropic".into()),
        status: Some(200),
        outcome: "upstream_error".into(),
        count: 1,
    }]);
    let r = build(i);
    let e = find(&r, Section::Errors);
    assert_eq!(e[0].severity, Severity::P1, "1 of 10 failed");
    assert!(
        e[0].recommendation.contains("error event"),
        "{}",
        e[0].recommendation
    );
}
