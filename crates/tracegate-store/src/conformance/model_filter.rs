//! The filter field `model`, statistics and usage agree on which model a trace
//! counts under: the model that answered, else the model asked for.

use chrono::Duration;
use serde_json::{json, Value};
use tracegate_core::filter::Filter;
use tracegate_core::{Outcome, Provider, Trace, TraceId, Usage};

use super::{epoch, fixtures};
use crate::analytics::{Bucket, GroupBy, StatsQuery, TimeRange, UsageQuery};
use crate::search::SearchQuery;
use crate::Store;

/// Four traces, oldest first: answered by a dated sonnet, failed upstream
/// before any answer (only the model asked for), answered by a dated gpt-4o,
/// refused with no model at all.
fn traces() -> Vec<Trace> {
    let at = |s: i64| epoch() + Duration::seconds(s);
    let mut ok = fixtures::trace(Provider::Anthropic, at(0), json!({}), json!({}));
    ok.model_requested = Some("claude-sonnet-4-5".into());
    ok.model = Some("claude-sonnet-4-5-20250929".into());
    let mut failed = fixtures::trace(Provider::Anthropic, at(10), json!({}), json!({}));
    failed.model_requested = Some("claude-sonnet-4-5".into());
    failed.model = None;
    failed.status = Some(529);
    failed.outcome = Outcome::UpstreamError;
    failed.error = Some("overloaded_error: Overloaded".into());
    failed.ttft_ms = None;
    failed.usage = Usage::default();
    failed.cost_usd = None;
    let mut other = fixtures::trace(Provider::Openai, at(20), json!({}), json!({}));
    other.model_requested = Some("gpt-4o".into());
    other.model = Some("gpt-4o-2024-08-06".into());
    let mut refused = fixtures::trace(Provider::Openai, at(30), json!({}), json!({}));
    refused.model_requested = None;
    refused.model = None;
    refused.status = Some(400);
    refused.outcome = Outcome::ClientError;
    vec![ok, failed, other, refused]
}

/// The ids a filter finds, newest first.
async fn found(store: &dyn Store, filter: Value) -> Vec<TraceId> {
    let q = SearchQuery {
        filter: Some(Filter::parse(&filter, "/filter").unwrap()),
        ..SearchQuery::default()
    };
    let page = store.search(&q).await.unwrap();
    page.data.iter().map(|s| s.id).collect()
}

/// A trace that failed upstream with no answering model is found by `model`
/// (eq, in, contains, starts_with, with an outcome test too) under the model
/// it asked for, and counted there by statistics and usage; `model_requested`
/// stays a field of its own, and the trace still shows no answering model.
pub async fn failed_requests_count_under_the_model_asked_for(store: &dyn Store) {
    let t = traces();
    store.insert_batch(t.clone()).await.unwrap();
    let [ok, failed, other, refused] = [t[0].id, t[1].id, t[2].id, t[3].id];
    let leaf =
        |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let cases = [
        (
            leaf("model", "eq", json!("claude-sonnet-4-5")),
            vec![failed],
        ),
        (
            json!({"and": [leaf("model", "eq", json!("claude-sonnet-4-5")),
                           leaf("outcome", "eq", json!("upstream_error"))]}),
            vec![failed],
        ),
        (
            leaf(
                "model",
                "in",
                json!(["claude-sonnet-4-5", "gpt-4o-2024-08-06"]),
            ),
            vec![other, failed],
        ),
        (leaf("model", "contains", json!("SONNET")), vec![failed, ok]),
        (
            leaf("model", "starts_with", json!("claude-sonnet-4-5")),
            vec![failed, ok],
        ),
        (
            leaf("model", "ne", json!("claude-sonnet-4-5")),
            vec![refused, other, ok],
        ),
        (leaf("model", "exists", json!(false)), vec![refused]),
        (
            leaf("model_requested", "eq", json!("claude-sonnet-4-5")),
            vec![failed, ok],
        ),
        (
            leaf("model_requested", "eq", json!("gpt-4o-2024-08-06")),
            vec![],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(found(store, filter.clone()).await, want, "{filter}");
    }
    let shown = store.get(failed).await.unwrap().unwrap();
    assert_eq!(shown.summary.model, None, "the trace keeps its own model");
    assert_eq!(
        shown.summary.model_requested.as_deref(),
        Some("claude-sonnet-4-5")
    );

    let start = epoch().timestamp_millis();
    let range = TimeRange::new(start - 3_600_000, start + 3_600_000).unwrap();
    let stats = store
        .request_stats(StatsQuery::new(range, Bucket::Hour, Some(GroupBy::Model)).unwrap())
        .await
        .unwrap();
    let group = |key: &str| {
        stats
            .totals
            .iter()
            .find(|g| g.key.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no stats group {key}: {:?}", stats.totals))
    };
    let sonnet = group("claude-sonnet-4-5");
    assert_eq!((sonnet.usage.requests, sonnet.errors), (1, 1));
    assert_eq!(group("claude-sonnet-4-5-20250929").usage.requests, 1);
    assert_eq!(group("gpt-4o-2024-08-06").usage.requests, 1);

    // Whole hours read the rollups; a range starting inside a minute reads
    // that minute's trace rows: both count the failed trace the same way.
    let edge = TimeRange::new(start + 5_000, start + 3_600_000).unwrap();
    for range in [range, edge] {
        let usage = store
            .usage(UsageQuery::new(None, range, Bucket::Hour, false).unwrap())
            .await
            .unwrap();
        let requests = |model: &str| {
            usage
                .by_model
                .iter()
                .find(|m| m.model.as_deref() == Some(model))
                .map(|m| m.usage.requests)
        };
        assert_eq!(requests("claude-sonnet-4-5"), Some(1), "{range:?}");
        assert_eq!(requests("gpt-4o-2024-08-06"), Some(1), "{range:?}");
        let account = Some("acct_3f9a".into());
        let of_account = store
            .usage(UsageQuery::new(account, range, Bucket::Minute, false).unwrap())
            .await
            .unwrap();
        let sonnet = of_account
            .by_model
            .iter()
            .find(|m| m.model.as_deref() == Some("claude-sonnet-4-5"));
        assert_eq!(sonnet.map(|m| m.usage.requests), Some(1), "{range:?}");
    }
}
