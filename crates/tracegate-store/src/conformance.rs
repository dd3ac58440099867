//! The behaviour every [`TraceStore`] backend must show. Each check takes a
//! fresh, migrated store and panics on a failure; a backend's tests call them
//! one by one (see the SQLite backend's tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod feedback;
pub mod fixtures;
mod keys;
mod model_filter;

pub use feedback::feedback_is_kept_shown_and_searched;
pub use keys::keys_are_created_found_by_hash_listed_and_revoked;
pub use model_filter::failed_requests_count_under_the_model_asked_for;

use chrono::{DateTime, Duration, Utc};
use tracegate_core::Trace;

use crate::model::{TraceDetail, TraceSummary};
use crate::store::TraceStore;

/// A fixed start time, with sub-millisecond digits the store drops.
pub fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T10:00:00.000789Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Asserts that the store returns `t` as given: all fields, bodies equal as
/// JSON and in the same key order (compact form). Conversation links are left
/// out: the store computes them, they are not part of what was given.
pub async fn assert_stored(store: &dyn TraceStore, t: &Trace) {
    let got = store
        .get(t.id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("trace {} missing", t.id));
    let want = TraceDetail::from_trace(t);
    let mut summary = got.summary.clone();
    summary.conversation_id = None;
    summary.parent_id = None;
    summary.branch = None;
    summary.link_kind = None;
    assert_eq!(summary, want.summary, "summary of {}", t.endpoint);
    assert_eq!(got.attempts, want.attempts, "attempts of {}", t.endpoint);
    for (name, got, want) in [
        ("request", &got.request_body, &want.request_body),
        ("response", &got.response_body, &want.response_body),
    ] {
        assert_eq!(
            serde_json::to_string(got).unwrap(),
            serde_json::to_string(want).unwrap(),
            "{name} body of trace {}",
            t.id
        );
    }
}

/// Every body shape comes back exactly; unknown ids give `None`.
pub async fn round_trip(store: &dyn TraceStore) {
    let traces = fixtures::shapes(epoch());
    store.insert_batch(traces.clone()).await.unwrap();
    for t in &traces {
        assert_stored(store, t).await;
    }
    assert!(store.get(uuid::Uuid::now_v7()).await.unwrap().is_none());
}

/// A conversation stored turn by turn comes back turn by turn.
pub async fn conversation_round_trip(store: &dyn TraceStore) {
    let traces = fixtures::agent_conversation(12, 3, epoch());
    for t in &traces {
        store.insert_batch(vec![t.clone()]).await.unwrap();
    }
    // A second conversation sharing tools and system prompt, stored in one batch.
    let other = fixtures::agent_conversation(5, 3, epoch() + Duration::hours(1));
    store.insert_batch(other.clone()).await.unwrap();
    for t in traces.iter().chain(&other) {
        assert_stored(store, t).await;
    }
}

/// `recent` is newest first (by start time, not insertion order) and honours the limit.
pub async fn recent_order_and_limit(store: &dyn TraceStore) {
    let mut traces = fixtures::shapes(epoch());
    // Insert out of order, in two batches.
    traces.reverse();
    let later = traces.split_off(4);
    store.insert_batch(later).await.unwrap();
    store.insert_batch(traces).await.unwrap();

    let mut expected: Vec<TraceSummary> = fixtures::shapes(epoch())
        .iter()
        .map(TraceSummary::from_trace)
        .collect();
    expected.sort_by_key(|s| std::cmp::Reverse(s.started_at));
    let all = store.recent(100).await.unwrap();
    let times: Vec<_> = all.iter().map(|s| s.started_at).collect();
    let want: Vec<_> = expected.iter().map(|s| s.started_at).collect();
    assert_eq!(times, want);
    assert_eq!(all[0].endpoint, expected[0].endpoint);

    let three = store.recent(3).await.unwrap();
    assert_eq!(three.len(), 3);
    assert_eq!(three, all[..3].to_vec());
    assert!(store.recent(0).await.unwrap().is_empty());
}

/// A trace id already stored, or repeated in the batch, is skipped: the rest of the batch
/// is stored and nothing is stored twice (a replay after a crash is harmless).
pub async fn duplicate_ids_are_skipped(store: &dyn TraceStore) {
    let traces = fixtures::shapes(epoch());
    let (first, rest) = traces.split_at(2);

    // Repeated inside the batch: stored once.
    let mut batch = first.to_vec();
    batch.push(first[0].clone());
    store.insert_batch(batch).await.unwrap();
    assert_eq!(store.stats().await.unwrap().trace_count, 2);

    // Already stored, with new ones: the new ones are stored, the old one once.
    let mut batch = rest.to_vec();
    batch.push(first[1].clone());
    store.insert_batch(batch).await.unwrap();
    assert_eq!(
        store.stats().await.unwrap().trace_count,
        traces.len() as u64
    );

    // All of it again: nothing changes.
    store.insert_batch(traces.clone()).await.unwrap();
    assert_eq!(
        store.stats().await.unwrap().trace_count,
        traces.len() as u64
    );
    assert_eq!(store.recent(100).await.unwrap().len(), traces.len());
    for t in &traces {
        assert_stored(store, t).await;
    }
    store.insert_batch(Vec::new()).await.unwrap();
}

/// Migrating again keeps data and changes nothing.
pub async fn migrate_is_idempotent(store: &dyn TraceStore) {
    let traces = fixtures::shapes(epoch());
    store.insert_batch(traces.clone()).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    for t in &traces {
        assert_stored(store, t).await;
    }
}

/// `ping` answers and `stats` counts traces and body bytes.
pub async fn ping_and_stats(store: &dyn TraceStore) {
    store.ping().await.unwrap();
    let before = store.stats().await.unwrap();
    assert_eq!(before.trace_count, 0);
    let traces = fixtures::agent_conversation(6, 9, epoch());
    store.insert_batch(traces.clone()).await.unwrap();
    let after = store.stats().await.unwrap();
    assert_eq!(after.trace_count, traces.len() as u64);
    assert!(after.body_bytes > before.body_bytes);
    assert!(after.total_bytes >= after.body_bytes);
    assert!(after.total_bytes > 0);
}
