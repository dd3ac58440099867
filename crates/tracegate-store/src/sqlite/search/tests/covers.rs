//! Filters a few `(column, ts)` index ranges cover (see `merge`), in both
//! orders and in pages, against the model: the direct plan (one value), the
//! slice alone, the slice then the merged ranges, the way back to the segment plan, and covers
//! that leave nothing.

use serde_json::{json, Value};
use tracegate_core::Trace;

use super::{corpus, query, Corpus};
use crate::search::{SearchQuery, SortOrder};

/// Checks `filter` newest first and oldest first.
async fn both_orders(c: &Corpus, filter: Value, pred: impl Fn(usize, &Trace) -> bool + Copy) {
    for order in [SortOrder::Desc, SortOrder::Asc] {
        let q = SearchQuery {
            order,
            ..query(Some(filter.clone()), None)
        };
        c.check(q, pred).await;
    }
}

fn model(t: &Trace) -> Option<&str> {
    t.model.as_deref()
}

#[tokio::test]
async fn one_value_is_read_straight_from_its_range() {
    let c = corpus().await;
    both_orders(
        &c,
        json!({"and": [
            {"field": "outcome", "op": "eq", "value": "upstream_error"},
            {"field": "duration_ms", "op": "gt", "value": 150},
        ]}),
        |i, t| i % 5 == 3 && t.duration_ms > 150.0,
    )
    .await;
    both_orders(
        &c,
        json!({"field": "model", "op": "exists", "value": false}),
        |i, _| i % 4 == 3,
    )
    .await;
}

#[tokio::test]
async fn several_values_and_negations_are_merged() {
    let c = corpus().await;
    // Every outcome but `ok`: the values left are read from the outcome index.
    both_orders(
        &c,
        json!({"not": {"field": "outcome", "op": "eq", "value": "ok"}}),
        |i, _| i % 5 >= 3,
    )
    .await;
    // Every model but one, NULL included.
    both_orders(
        &c,
        json!({"field": "model", "op": "ne", "value": "claude-haiku-4-5"}),
        |_, t| model(t) != Some("claude-haiku-4-5"),
    )
    .await;
    both_orders(
        &c,
        json!({"field": "account", "op": "not_in", "value": ["acct-1"]}),
        |i, _| i % 3 != 0,
    )
    .await;
}

#[tokio::test]
async fn the_shape_of_the_nested_benchmark_query() {
    let c = corpus().await;
    for (a, b) in [
        ("gpt-4o", "claude-sonnet-4-5"),
        ("claude-haiku-4-5", "nope"),
    ] {
        let filter = json!({"and": [
            {"or": [{"field": "model", "op": "eq", "value": a},
                    {"field": "model", "op": "eq", "value": b}]},
            {"not": {"field": "outcome", "op": "eq", "value": "ok"}},
            {"or": [
                {"and": [{"field": "duration_ms", "op": "gt", "value": 150},
                         {"field": "account", "op": "in", "value": ["acct-1", "acct-2"]}]},
                {"field": "metadata.team", "op": "eq", "value": "search"},
            ]},
        ]});
        both_orders(&c, filter, move |i, t| {
            let m = model(t).is_some_and(|m| m == a || m == b);
            let third = (t.duration_ms > 150.0 && i % 3 != 2) || (i % 6 != 5 && i % 3 == 0);
            m && i % 5 >= 3 && third
        })
        .await;
    }
}

#[tokio::test]
async fn dense_covers_give_way_and_empty_covers_find_nothing() {
    let c = corpus().await;
    // Both covers hold most traces: the segment plan reads on.
    both_orders(
        &c,
        json!({"and": [
            {"field": "provider", "op": "in", "value": ["anthropic", "openai"]},
            {"field": "outcome", "op": "ne", "value": "timeout"},
            {"field": "metadata.run", "op": "gte", "value": 20},
        ]}),
        |i, _| i % 6 != 5 && i >= 20,
    )
    .await;
    // Matches common enough that the slice fills pages of four.
    both_orders(
        &c,
        json!({"field": "provider", "op": "in", "value": ["anthropic", "openai"]}),
        |_, _| true,
    )
    .await;
    for filter in [
        json!({"and": [
            {"field": "model", "op": "eq", "value": "gpt-4o"},
            {"field": "model", "op": "eq", "value": "claude-haiku-4-5"},
        ]}),
        json!({"and": [
            {"field": "outcome", "op": "in", "value": ["ok"]},
            {"field": "outcome", "op": "ne", "value": "ok"},
        ]}),
    ] {
        both_orders(&c, filter, |_, _| false).await;
    }
}
