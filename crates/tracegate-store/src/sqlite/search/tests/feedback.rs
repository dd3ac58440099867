//! `feedback.score` against the model, through every plan and in pages.

use serde_json::{json, Value};
use tracegate_core::feedback::{Feedback, FeedbackInput};

use super::{corpus, query, Corpus};
use crate::search::{SearchQuery, SortKey, SortOrder};
use crate::store::TraceStore;

/// The scores given on trace `i`: one on every third trace (0 to 4), and a
/// second one (-1) on every seventh.
fn scores(i: usize) -> Vec<f64> {
    let mut s = Vec::new();
    if i % 3 == 0 {
        s.push((i % 5) as f64);
    }
    if i % 7 == 0 {
        s.push(-1.0);
    }
    s
}

async fn rated() -> Corpus {
    let c = corpus().await;
    for (i, t) in c.traces.iter().enumerate() {
        for score in scores(i) {
            let input = FeedbackInput {
                score,
                comment: None,
                source: None,
            };
            c.store
                .add_feedback(&Feedback::new(t.id, input))
                .await
                .unwrap();
        }
    }
    c
}

/// A filter and which corpus traces (by index) it should find.
type Case = (Value, Box<dyn Fn(usize) -> bool>);

fn score(op: &str, value: Value) -> Value {
    json!({"field": "feedback.score", "op": op, "value": value})
}

#[tokio::test]
async fn a_trace_matches_when_any_entry_does() {
    let c = rated().await;
    let any = |test: fn(f64) -> bool| move |i: usize| scores(i).into_iter().any(test);
    let cases: Vec<Case> = vec![
        (score("eq", json!(3)), Box::new(any(|s| s == 3.0))),
        (score("ne", json!(0)), Box::new(any(|s| s != 0.0))),
        (score("gt", json!(1)), Box::new(any(|s| s > 1.0))),
        (score("gte", json!(0)), Box::new(any(|s| s >= 0.0))),
        (score("lt", json!(0)), Box::new(any(|s| s < 0.0))),
        (score("lte", json!(2.5)), Box::new(any(|s| s <= 2.5))),
        (
            score("exists", json!(true)),
            Box::new(|i| !scores(i).is_empty()),
        ),
        (
            score("exists", json!(false)),
            Box::new(|i| scores(i).is_empty()),
        ),
        (
            json!({"not": score("gte", json!(2))}),
            Box::new(|i| !scores(i).into_iter().any(|s| s >= 2.0)),
        ),
        (
            json!({"and": [score("gte", json!(0)), {"field": "model", "op": "exists", "value": true}]}),
            Box::new(|i| i % 4 != 3 && scores(i).into_iter().any(|s| s >= 0.0)),
        ),
        (
            json!({"or": [score("lt", json!(0)), {"field": "status", "op": "eq", "value": 429}]}),
            Box::new(|i| i % 5 == 3 || scores(i).into_iter().any(|s| s < 0.0)),
        ),
    ];
    for (filter, pred) in cases {
        c.check_filter(filter.clone(), |i, _| pred(i)).await;
        for (sort, order) in [
            (SortKey::DurationMs, SortOrder::Desc),
            (SortKey::CostUsd, SortOrder::Asc),
        ] {
            let q = SearchQuery {
                sort,
                order,
                ..query(Some(filter.clone()), None)
            };
            c.check(q, |i, _| pred(i)).await;
        }
    }
}
