#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;

use tracegate_store::SqliteStore;

use super::*;

fn sources() -> Sources {
    Sources {
        store: Arc::new(SqliteStore::open_in_memory().unwrap()),
        inflight: Inflight::default(),
        recorder: Arc::new(RecorderStats::default()),
    }
}

#[tokio::test]
async fn inputs_come_from_the_store_the_recorder_and_the_inflight_list() {
    let s = sources();
    let cfg = AlertsConfig {
        default_allowance: Some(1_000),
        ..AlertsConfig::default()
    };
    let mut g = Gatherer::new(s.clone());
    let i = g.gather(&cfg).await;
    assert_eq!(i.store_error, None);
    assert_eq!(i.by_upstream, Some(vec![]));
    assert_eq!(i.by_model, Some(vec![]));
    assert_eq!(i.account_tokens, Some(vec![]));
    assert_eq!(i.store_ms.len(), 4, "ping, two statistics queries, usage");
    assert_eq!(i.dropped_in_window, 0);
    assert!(evaluate(&i, &cfg).findings.is_empty());

    s.recorder
        .dropped_queue_full
        .fetch_add(3, Ordering::Relaxed);
    s.recorder
        .dropped_store_error
        .fetch_add(1, Ordering::Relaxed);
    let i = g.gather(&cfg).await;
    assert_eq!(i.dropped_in_window, 4);
    assert_eq!(i.store_ms.len(), 8);
    // Without allowances the usage query is not made.
    let i = g.gather(&AlertsConfig::default()).await;
    assert_eq!(i.account_tokens, None);
    assert_eq!(i.dropped_in_window, 4, "still inside the window");
}

#[tokio::test]
async fn drops_leave_the_window() {
    let mut g = Gatherer::new(sources());
    g.sources
        .recorder
        .dropped_queue_full
        .fetch_add(2, Ordering::Relaxed);
    assert_eq!(g.dropped_in_window(Duration::from_secs(300)), 2);
    assert_eq!(
        g.dropped_in_window(Duration::ZERO),
        0,
        "every sample older than the window"
    );
}

#[tokio::test]
async fn the_store_ring_is_bounded() {
    let mut g = Gatherer::new(sources());
    for _ in 0..STORE_SAMPLES + 10 {
        g.timed(async {}).await;
    }
    assert_eq!(g.store_ms.len(), STORE_SAMPLES);
}

#[tokio::test]
async fn disabled_alerts_start_nothing() {
    let tracker = TaskTracker::new();
    let cfg = AlertsConfig {
        enabled: false,
        webhooks: vec![crate::config::WebhookConfig {
            url: "http://127.0.0.1:9/".into(),
            kind: crate::config::WebhookKind::Json,
        }],
        ..AlertsConfig::default()
    };
    let alerts = start(&cfg, sources(), &tracker, CancellationToken::new());
    assert!(tracker.is_empty());
    let r = alerts.report();
    assert!(!r.enabled && r.firing.is_empty());
    let on = start(
        &AlertsConfig::default(),
        sources(),
        &tracker,
        CancellationToken::new(),
    );
    assert_eq!(tracker.len(), 1, "the evaluator; no webhook, no sender");
    assert!(on.report().enabled);
}
