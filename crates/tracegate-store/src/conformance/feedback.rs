//! Feedback entries: kept several per trace, shown with the trace, refused
//! for an unknown trace, and searched with `feedback.score` (a trace matches
//! when any of its entries does).

use chrono::Duration;
use serde_json::{json, Value};
use tracegate_core::feedback::{Feedback, FeedbackInput};
use tracegate_core::filter::Filter;
use tracegate_core::{Provider, TraceId};

use super::{epoch, fixtures};
use crate::error::StoreError;
use crate::search::{SearchQuery, SortKey};
use crate::Store;

fn entry(trace: TraceId, score: f64, comment: Option<&str>, source: Option<&str>) -> Feedback {
    let input = FeedbackInput {
        score,
        comment: comment.map(str::to_owned),
        source: source.map(str::to_owned),
    };
    Feedback::new(trace, input)
}

/// The ids a filter finds, newest first (or by `sort`, descending).
async fn found(store: &dyn Store, filter: Value, sort: SortKey) -> Vec<TraceId> {
    let q = SearchQuery {
        filter: Some(Filter::parse(&filter, "/filter").unwrap()),
        sort,
        ..SearchQuery::default()
    };
    let page = store.search(&q).await.unwrap();
    page.data.iter().map(|s| s.id).collect()
}

/// Entries come back with their trace, oldest first and exactly as given;
/// an unknown trace is `NotFound`; `feedback.score` finds the traces with
/// some entry that passes.
pub async fn feedback_is_kept_shown_and_searched(store: &dyn Store) {
    let at = |s: i64| epoch() + Duration::seconds(s);
    let traces: Vec<_> = (0..4)
        .map(|i| {
            let mut t = fixtures::trace(Provider::Anthropic, at(i * 10), json!({}), json!({}));
            t.duration_ms = [400.0, 300.0, 200.0, 100.0][i as usize];
            t
        })
        .collect();
    store.insert_batch(traces.clone()).await.unwrap();
    let [a, b, c, d] = [traces[0].id, traces[1].id, traces[2].id, traces[3].id];

    let given = [
        entry(a, 1.0, None, None),
        entry(a, -1.0, Some("wrong file — «ü» 🚀"), Some("user")),
        entry(b, 5.0, Some("great"), Some("app")),
        entry(d, 0.0, Some(""), None),
    ];
    for f in &given {
        store.add_feedback(f).await.unwrap();
    }
    let shown = store.get(a).await.unwrap().unwrap();
    assert_eq!(shown.feedback, given[..2].to_vec());
    assert_eq!(store.get(b).await.unwrap().unwrap().feedback, given[2..3]);
    assert!(store.get(c).await.unwrap().unwrap().feedback.is_empty());
    super::assert_stored(store, &traces[0]).await;

    let unknown = entry(uuid::Uuid::now_v7(), 1.0, None, None);
    let err = store.add_feedback(&unknown).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let again = store.add_feedback(&given[0]).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    assert_eq!(store.get(a).await.unwrap().unwrap().feedback.len(), 2);

    let score =
        |op: &str, value: Value| json!({"field": "feedback.score", "op": op, "value": value});
    let cases = [
        (score("eq", json!(5)), vec![b]),
        (score("gt", json!(0)), vec![b, a]),
        (score("gte", json!(0)), vec![d, b, a]),
        (score("lt", json!(0)), vec![a]),
        (score("lte", json!(-1.0)), vec![a]),
        (score("ne", json!(1)), vec![d, b, a]),
        (score("exists", json!(true)), vec![d, b, a]),
        (score("exists", json!(false)), vec![c]),
        (json!({"not": score("gte", json!(1))}), vec![d, c]),
        (
            json!({"and": [score("gte", json!(1)),
                           {"field": "model", "op": "eq", "value": traces[1].model}]}),
            vec![b, a],
        ),
        (
            json!({"or": [score("eq", json!(5)), {"field": "duration_ms", "op": "lt", "value": 150}]}),
            vec![d, b],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(
            found(store, filter.clone(), SortKey::Ts).await,
            want,
            "{filter}"
        );
    }
    // Sorted by another key, through that key's index.
    assert_eq!(
        found(store, score("exists", json!(true)), SortKey::DurationMs).await,
        vec![a, b, d]
    );
}
