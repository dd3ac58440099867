//! Every operator on every kind of field, and nested trees, against the model.

use serde_json::json;
use tracegate_core::Trace;

use super::{corpus, ts_ms};

/// A filter and which corpus traces (by index) it should find.
type Case = (serde_json::Value, Box<dyn Fn(usize, &Trace) -> bool>);

fn model(t: &Trace) -> Option<&str> {
    t.model.as_deref()
}

#[tokio::test]
async fn text_fields() {
    let c = corpus().await;
    let gpt = |t: &Trace| model(t) == Some("gpt-4o");
    let cases: Vec<Case> = vec![
        (
            json!({"field": "model", "op": "eq", "value": "gpt-4o"}),
            Box::new(move |_, t| gpt(t)),
        ),
        (
            json!({"field": "model", "op": "ne", "value": "gpt-4o"}),
            Box::new(move |_, t| !gpt(t)),
        ),
        (
            json!({"field": "model", "op": "in", "value": ["gpt-4o", "claude-haiku-4-5"]}),
            Box::new(|i, _| i % 4 == 1 || i % 4 == 2),
        ),
        (
            json!({"field": "model", "op": "not_in", "value": ["gpt-4o", "claude-haiku-4-5"]}),
            Box::new(|i, _| i % 4 == 0 || i % 4 == 3),
        ),
        (
            json!({"field": "model", "op": "contains", "value": "CLAUDE"}),
            Box::new(|i, _| i % 4 < 2),
        ),
        (
            json!({"field": "model", "op": "starts_with", "value": "claude-s"}),
            Box::new(|i, _| i % 4 == 0),
        ),
        (
            json!({"field": "model", "op": "contains", "value": "_"}),
            Box::new(|_, _| false),
        ),
        (
            json!({"field": "error", "op": "contains", "value": "50%_q"}),
            Box::new(|i, _| i % 5 == 3),
        ),
        (
            json!({"field": "model", "op": "exists", "value": false}),
            Box::new(|i, _| i % 4 == 3),
        ),
        (
            json!({"field": "account", "op": "exists", "value": true}),
            Box::new(|i, _| i % 3 != 2),
        ),
        (
            json!({"field": "provider", "op": "eq", "value": "openai"}),
            Box::new(|i, _| i % 4 == 2),
        ),
        (
            json!({"field": "outcome", "op": "in", "value": ["cancelled", "upstream_error"]}),
            Box::new(|i, _| i % 5 >= 3),
        ),
        (
            json!({"field": "user_agent", "op": "starts_with", "value": "openai/"}),
            Box::new(|i, _| i % 2 == 1),
        ),
    ];
    for (filter, pred) in cases {
        c.check_filter(filter, pred).await;
    }
}

#[tokio::test]
async fn integer_fields() {
    let c = corpus().await;
    let status = |t: &Trace| t.status;
    let cases: Vec<Case> = vec![
        (
            json!({"field": "status", "op": "eq", "value": 200}),
            Box::new(move |_, t| status(t) == Some(200)),
        ),
        (
            json!({"field": "status", "op": "ne", "value": 200}),
            Box::new(move |_, t| status(t) != Some(200)),
        ),
        (
            json!({"field": "status", "op": "gt", "value": 200}),
            Box::new(move |_, t| status(t) == Some(429)),
        ),
        (
            json!({"field": "status", "op": "gte", "value": 429}),
            Box::new(move |_, t| status(t) == Some(429)),
        ),
        (
            json!({"field": "status", "op": "lt", "value": 429}),
            Box::new(move |_, t| status(t) == Some(200)),
        ),
        (
            json!({"field": "status", "op": "lte", "value": 429}),
            Box::new(move |_, t| status(t).is_some()),
        ),
        (
            json!({"field": "status", "op": "in", "value": [429, 503]}),
            Box::new(move |_, t| status(t) == Some(429)),
        ),
        (
            json!({"field": "status", "op": "not_in", "value": [200]}),
            Box::new(move |_, t| status(t) != Some(200)),
        ),
        (
            json!({"field": "status", "op": "exists", "value": false}),
            Box::new(move |_, t| status(t).is_none()),
        ),
        (
            json!({"field": "total_tokens", "op": "gte", "value": 150}),
            Box::new(|_, t| t.usage.total() >= 150),
        ),
        (
            json!({"field": "input_tokens", "op": "lt", "value": 50}),
            Box::new(|i, _| i < 5),
        ),
        (
            json!({"field": "cache_read_tokens", "op": "exists", "value": true}),
            Box::new(|i, _| i % 5 == 0),
        ),
    ];
    for (filter, pred) in cases {
        c.check_filter(filter, pred).await;
    }
}

#[tokio::test]
async fn float_bool_and_time_fields() {
    let c = corpus().await;
    let cases: Vec<Case> = vec![
        (
            json!({"field": "duration_ms", "op": "gt", "value": 200.5}),
            Box::new(|_, t| t.duration_ms > 200.5),
        ),
        (
            json!({"field": "duration_ms", "op": "eq", "value": 100}),
            Box::new(|_, t| t.duration_ms == 100.0),
        ),
        (
            json!({"field": "duration_ms", "op": "lte", "value": 150}),
            Box::new(|_, t| t.duration_ms <= 150.0),
        ),
        (
            json!({"field": "cost_usd", "op": "lt", "value": 0.005}),
            Box::new(|_, t| t.cost_usd.is_some_and(|c| c < 0.005)),
        ),
        (
            json!({"field": "cost_usd", "op": "ne", "value": 0}),
            Box::new(|_, t| t.cost_usd != Some(0.0)),
        ),
        (
            json!({"field": "ttft_ms", "op": "exists", "value": false}),
            Box::new(|_, t| t.ttft_ms.is_none()),
        ),
        (
            json!({"field": "ttft_ms", "op": "in", "value": [50, 60.0, 1e9]}),
            Box::new(|_, t| matches!(t.ttft_ms, Some(v) if v == 50.0 || v == 60.0)),
        ),
        (
            json!({"field": "stream", "op": "eq", "value": true}),
            Box::new(|_, t| t.stream),
        ),
        (
            json!({"field": "stream", "op": "ne", "value": true}),
            Box::new(|_, t| !t.stream),
        ),
        (
            json!({"field": "stream", "op": "in", "value": [false]}),
            Box::new(|_, t| !t.stream),
        ),
        (
            json!({"and": [
                {"field": "started_at", "op": "gte", "value": ts_ms(10)},
                {"field": "ts", "op": "lt", "value": ts_ms(20)},
            ]}),
            Box::new(|i, _| (10..20).contains(&i)),
        ),
        (
            json!({"field": "ts", "op": "eq", "value": ts_ms(3)}),
            Box::new(|i, _| i == 3 || i == 4),
        ),
        (
            json!({"field": "started_at", "op": "lte", "value": "2025-06-15T15:08:20Z"}),
            Box::new(|_, t| t.started_at.timestamp_millis() <= 1_750_000_100_000),
        ),
        (
            json!({"field": "ts", "op": "ne", "value": ts_ms(0)}),
            Box::new(|i, _| i != 0),
        ),
    ];
    for (filter, pred) in cases {
        c.check_filter(filter, pred).await;
    }
}

#[tokio::test]
async fn metadata_fields() {
    let c = corpus().await;
    let has = |i: usize| i % 6 != 5;
    let cases: Vec<Case> = vec![
        (
            json!({"field": "metadata.team", "op": "eq", "value": "ads"}),
            Box::new(move |i, _| has(i) && i % 3 == 1),
        ),
        (
            json!({"field": "metadata.team", "op": "ne", "value": "ads"}),
            Box::new(move |i, _| !(has(i) && i % 3 == 1)),
        ),
        (
            json!({"field": "metadata.run", "op": "eq", "value": 7}),
            Box::new(|i, _| i == 7),
        ),
        (
            json!({"field": "metadata.run", "op": "eq", "value": "7"}),
            Box::new(|_, _| false),
        ),
        (
            json!({"field": "metadata.run", "op": "gt", "value": 20}),
            Box::new(move |i, _| has(i) && i > 20),
        ),
        (
            json!({"field": "metadata.run", "op": "lte", "value": 3.5}),
            Box::new(move |i, _| has(i) && i <= 3),
        ),
        (
            json!({"field": "metadata.score", "op": "eq", "value": 2}),
            Box::new(|i, _| i == 4),
        ),
        (
            json!({"field": "metadata.score", "op": "gte", "value": 12.5}),
            Box::new(move |i, _| has(i) && i >= 25),
        ),
        (
            json!({"field": "metadata.team", "op": "gt", "value": 0}),
            Box::new(|_, _| false),
        ),
        (
            json!({"field": "metadata.flag", "op": "eq", "value": true}),
            Box::new(move |i, _| has(i) && i % 2 == 0),
        ),
        (
            json!({"field": "metadata.flag", "op": "eq", "value": false}),
            Box::new(move |i, _| has(i) && i % 2 == 1),
        ),
        (
            json!({"field": "metadata.flag", "op": "eq", "value": 1}),
            Box::new(|_, _| false),
        ),
        (
            json!({"field": "metadata.team", "op": "in", "value": ["ads", "infra"]}),
            Box::new(move |i, _| has(i) && i % 3 != 0),
        ),
        (
            json!({"field": "metadata.run", "op": "in", "value": [1, 2.0, "3", true]}),
            Box::new(|i, _| i == 1 || i == 2),
        ),
        (
            json!({"field": "metadata.flag", "op": "in", "value": [true, "x"]}),
            Box::new(move |i, _| has(i) && i % 2 == 0),
        ),
        (
            json!({"field": "metadata.team", "op": "not_in", "value": ["ads"]}),
            Box::new(move |i, _| !(has(i) && i % 3 == 1)),
        ),
        (
            json!({"field": "metadata.team", "op": "contains", "value": "EA"}),
            Box::new(move |i, _| has(i) && i % 3 == 0),
        ),
        (
            json!({"field": "metadata.team", "op": "starts_with", "value": "in"}),
            Box::new(move |i, _| has(i) && i % 3 == 2),
        ),
        (
            json!({"field": "metadata.a.b", "op": "exists", "value": true}),
            Box::new(move |i, _| has(i) && i % 4 == 0),
        ),
        (
            json!({"field": "metadata.a.b", "op": "exists", "value": false}),
            Box::new(move |i, _| !(has(i) && i % 4 == 0)),
        ),
        (
            json!({"field": "metadata.a.b", "op": "eq", "value": "dotted"}),
            Box::new(move |i, _| has(i) && i % 4 == 0),
        ),
        (
            json!({"field": "metadata.missing", "op": "ne", "value": 1}),
            Box::new(|_, _| true),
        ),
    ];
    for (filter, pred) in cases {
        c.check_filter(filter, pred).await;
    }
}

#[tokio::test]
async fn id_field() {
    let c = corpus().await;
    let id = |i: usize| c.traces[i].id;
    let hex = |i: usize| id(i).simple().to_string();
    let cases: Vec<Case> = vec![
        (
            json!({"field": "id", "op": "eq", "value": id(5).to_string()}),
            Box::new(|i, _| i == 5),
        ),
        (
            json!({"field": "id", "op": "eq", "value": id(6).to_string().to_uppercase()}),
            Box::new(|i, _| i == 6),
        ),
        (
            json!({"field": "id", "op": "in", "value": [id(1).to_string(), id(2).to_string()]}),
            Box::new(|i, _| i == 1 || i == 2),
        ),
        (
            json!({"field": "id", "op": "ne", "value": id(5).to_string()}),
            Box::new(|i, _| i != 5),
        ),
        (
            json!({"field": "id", "op": "not_in", "value": [id(1).to_string()]}),
            Box::new(|i, _| i != 1),
        ),
    ];
    for (filter, pred) in cases {
        c.check_filter(filter, pred).await;
    }
    let tail = hex(7)[20..].to_owned();
    c.check_filter(
        json!({"field": "id", "op": "contains", "value": tail.to_uppercase()}),
        |_, t| t.id.simple().to_string().contains(&tail),
    )
    .await;
    let head = id(8).to_string()[..28].to_owned();
    let bare = head.replace('-', "");
    c.check_filter(
        json!({"field": "id", "op": "starts_with", "value": head}),
        |_, t| t.id.simple().to_string().starts_with(&bare),
    )
    .await;
}

#[tokio::test]
async fn nested_trees() {
    let c = corpus().await;
    let filter = json!({"and": [
        {"or": [
            {"field": "model", "op": "eq", "value": "gpt-4o"},
            {"and": [
                {"field": "account", "op": "eq", "value": "acct-1"},
                {"not": {"field": "stream", "op": "eq", "value": true}},
            ]},
        ]},
        {"not": {"or": [
            {"field": "status", "op": "eq", "value": 429},
            {"field": "metadata.team", "op": "eq", "value": "infra"},
        ]}},
    ]});
    c.check_filter(filter, |i, t| {
        let left = model(t) == Some("gpt-4o") || (i % 3 == 0 && !t.stream);
        let infra = i % 6 != 5 && i % 3 == 2;
        left && !(t.status == Some(429) || infra)
    })
    .await;
    // `not` of a predicate that is unknown for a missing value holds for it.
    c.check_filter(
        json!({"not": {"field": "status", "op": "gte", "value": 300}}),
        |_, t| t.status != Some(429),
    )
    .await;
    c.check_filter(
        json!({"not": {"not": {"field": "model", "op": "ne", "value": "gpt-4o"}}}),
        |_, t| model(t) != Some("gpt-4o"),
    )
    .await;
    c.check_filter(
        json!({"not": {"field": "model", "op": "ne", "value": "gpt-4o"}}),
        |_, t| model(t) == Some("gpt-4o"),
    )
    .await;
    c.check_filter(
        json!({"or": [
            {"not": {"and": [
                {"field": "metadata.run", "op": "gte", "value": 3},
                {"not": {"field": "metadata.run", "op": "gte", "value": 27}},
            ]}},
            {"field": "cost_usd", "op": "exists", "value": false},
        ]}),
        |i, _| i % 6 == 5 || !(3..27).contains(&i) || i % 4 == 3,
    )
    .await;
}
