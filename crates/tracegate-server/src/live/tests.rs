//! The hub: fan-out, lag, resume by `Last-Event-ID`, scoping by account, the cap.

use std::time::Duration;

use tracegate_core::{Provider, Trace};

use super::*;

fn trace(account: &str) -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.account = Some(account.into());
    t.model_requested = Some("claude-sonnet-4-5".into());
    t.status = Some(200);
    t
}

async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .expect("a delivery in time")
}

async fn event(sub: &mut Subscription) -> Arc<LiveEvent> {
    match next(sub).await {
        Delivery::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Nothing more is waiting.
async fn quiet(sub: &mut Subscription) {
    assert!(
        tokio::time::timeout(Duration::from_millis(50), sub.next())
            .await
            .is_err(),
        "no more deliveries expected"
    );
}

#[tokio::test]
async fn every_subscriber_gets_every_event_in_order() {
    let feed = LiveFeed::new(8);
    let mut subs: Vec<_> = (0..3)
        .map(|_| feed.subscribe(None, None).unwrap())
        .collect();
    let t = trace("a");
    feed.publish(Published::inflight_start(t.id, &t));
    feed.publish(Published::trace(&t));
    for sub in &mut subs {
        let start = event(sub).await;
        let done = event(sub).await;
        assert_eq!(start.kind, LiveKind::InflightStart);
        assert_eq!(done.kind, LiveKind::Trace);
        assert_eq!(done.id, start.id + 1);
        let v: serde_json::Value = serde_json::from_str(done.json()).unwrap();
        assert_eq!(v["id"], t.id.to_string());
        assert_eq!(v["account"], "a");
        assert_eq!(v["model"], "claude-sonnet-4-5");
        assert_eq!(v["provider"], "anthropic");
        assert_eq!(v["status"], 200);
        assert_eq!(v["outcome"], "ok");
        assert!(v.get("request_body").is_none());
        quiet(sub).await;
    }
    assert_eq!(feed.stats().snapshot().sent, 6);
}

#[tokio::test]
async fn a_slow_subscriber_is_told_lagged_and_goes_on_from_the_newest() {
    let feed = LiveFeed::with_sizes(8, 64, 4);
    let mut sub = feed.subscribe(None, None).unwrap();
    for _ in 0..10 {
        feed.publish(Published::trace(&trace("a")));
    }
    match next(&mut sub).await {
        Delivery::Lagged {
            skipped,
            reload,
            at,
        } => {
            assert_eq!(
                skipped,
                Some(10),
                "all ten: six overwritten, four still queued"
            );
            assert!(!reload);
            assert_eq!(at, None);
        }
        other => panic!("expected lagged, got {other:?}"),
    }
    quiet(&mut sub).await;
    feed.publish(Published::trace(&trace("a")));
    let e = event(&mut sub).await;
    assert_eq!(e.id, feed.next_id() - 1, "the newest event");
    assert_eq!(feed.stats().snapshot().lagged_skipped, 10);
}

#[tokio::test]
async fn last_event_id_resumes_after_that_event() {
    let feed = LiveFeed::new(8);
    for _ in 0..5 {
        feed.publish(Published::trace(&trace("a")));
    }
    let first = feed.next_id() - 5;
    let mut sub = feed.subscribe(None, Some(first + 2)).unwrap();
    assert_eq!(event(&mut sub).await.id, first + 3);
    assert_eq!(event(&mut sub).await.id, first + 4);
    feed.publish(Published::trace(&trace("a")));
    assert_eq!(event(&mut sub).await.id, first + 5, "then live, no gap");
    quiet(&mut sub).await;

    // Up to date: nothing replayed.
    let mut current = feed.subscribe(None, Some(feed.next_id() - 1)).unwrap();
    quiet(&mut current).await;
}

#[tokio::test]
async fn a_last_event_id_older_than_the_ring_asks_for_a_reload() {
    let feed = LiveFeed::with_sizes(8, 3, 16);
    for _ in 0..6 {
        feed.publish(Published::trace(&trace("a")));
    }
    let first = feed.next_id() - 6;
    let newest = feed.next_id() - 1;
    for (last, skipped) in [(first, Some(2)), (0, None)] {
        let mut sub = feed.subscribe(None, Some(last)).unwrap();
        match next(&mut sub).await {
            Delivery::Lagged {
                skipped: s,
                reload,
                at,
            } => {
                assert!(reload);
                assert_eq!(at, Some(newest));
                if let Some(n) = skipped {
                    assert_eq!(s, Some(n), "events first+1 and first+2 are gone");
                }
            }
            other => panic!("expected lagged, got {other:?}"),
        }
        quiet(&mut sub).await;
    }
    // An id from the future (another process) is not ours either.
    let mut sub = feed.subscribe(None, Some(newest + 100)).unwrap();
    assert!(matches!(
        next(&mut sub).await,
        Delivery::Lagged { reload: true, .. }
    ));
}

#[tokio::test]
async fn a_scoped_subscriber_sees_only_its_account() {
    let feed = LiveFeed::new(8);
    let mut a = feed.subscribe(Some("a".into()), None).unwrap();
    let mut all = feed.subscribe(None, None).unwrap();
    let tb = trace("b");
    feed.publish(Published::inflight_start(tb.id, &tb));
    feed.publish(Published::trace(&tb));
    feed.publish(Published::trace(&trace("a")));
    let e = event(&mut a).await;
    assert_eq!(e.account(), Some("a"));
    quiet(&mut a).await;
    for _ in 0..3 {
        event(&mut all).await;
    }
    // Resumed, still scoped.
    let mut resumed = feed
        .subscribe(Some("b".into()), Some(feed.next_id() - 4))
        .unwrap();
    assert_eq!(event(&mut resumed).await.kind, LiveKind::InflightStart);
    assert_eq!(event(&mut resumed).await.kind, LiveKind::Trace);
    quiet(&mut resumed).await;
}

#[tokio::test]
async fn a_scoped_subscriber_is_not_told_how_much_others_sent() {
    let feed = LiveFeed::with_sizes(8, 64, 2);
    let mut a = feed.subscribe(Some("a".into()), None).unwrap();
    for _ in 0..5 {
        feed.publish(Published::trace(&trace("b")));
    }
    assert!(matches!(
        next(&mut a).await,
        Delivery::Lagged {
            skipped: None,
            reload: false,
            ..
        }
    ));
}

#[tokio::test]
async fn subscribers_past_the_cap_are_refused_until_one_leaves() {
    let feed = LiveFeed::new(2);
    let one = feed.subscribe(None, None).unwrap();
    let _two = feed.subscribe(None, None).unwrap();
    assert_eq!(
        feed.subscribe(None, None).unwrap_err(),
        SubscribeError::Full(2)
    );
    assert_eq!(feed.stats().snapshot().subscribers, 2);
    drop(one);
    assert!(feed.subscribe(None, None).is_ok());
    assert_eq!(feed.stats().snapshot().refused, 1);
}

#[tokio::test]
async fn closing_ends_every_subscription() {
    let feed = LiveFeed::new(2);
    let mut sub = feed.subscribe(None, None).unwrap();
    feed.close();
    assert!(matches!(next(&mut sub).await, Delivery::Closed));
}

#[test]
fn publishing_without_subscribers_keeps_the_ring_bounded() {
    let feed = LiveFeed::with_sizes(2, 4, 4);
    for _ in 0..100 {
        feed.publish(Published::trace(&trace("a")));
    }
    assert_eq!(feed.inner.state.lock().ring.len(), 4);
    assert_eq!(feed.stats().snapshot().published, 100);
}
