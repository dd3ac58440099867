#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracegate_core::filter::Filter;
use tracegate_core::{Provider, Trace};

use super::{Export, ExportQuery, EXPORT_PAGE_SIZE};
use crate::search::{SearchQuery, SortKey, SortOrder, SUMMARY_FIELDS};
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

/// More than two pages.
const N: usize = 2 * EXPORT_PAGE_SIZE as usize + 37;
const BASE_MS: i64 = 1_750_000_000_000;

fn trace(i: usize) -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.started_at = DateTime::<Utc>::from_timestamp_millis(BASE_MS + i as i64 * 1000).unwrap();
    t.model = Some(
        if i.is_multiple_of(3) {
            "model-a"
        } else {
            "model-b"
        }
        .to_owned(),
    );
    t.status = Some(200);
    t.duration_ms = (i % 17) as f64 * 10.0;
    t.request_body = Bytes::from(
        json!({"model": "m", "messages": [{"role": "user", "content": format!("question {i}")}]})
            .to_string(),
    );
    t.response_body =
        Bytes::from(json!({"content": [{"text": format!("answer {i}")}]}).to_string());
    t
}

/// A store holding traces 0..N and their ids by index.
async fn store() -> (Arc<SqliteStore>, Vec<String>) {
    let store = SqliteStore::open_in_memory().unwrap();
    let traces: Vec<Trace> = (0..N).map(trace).collect();
    let ids = traces.iter().map(|t| t.id.to_string()).collect();
    for batch in traces.chunks(300) {
        store.insert_batch(batch.to_vec()).await.unwrap();
    }
    (Arc::new(store), ids)
}

async fn run(store: &Arc<SqliteStore>, query: ExportQuery) -> Vec<Value> {
    let mut export = Export::new(Arc::clone(store), query);
    let mut rows = Vec::new();
    while let Some(row) = export.next_row().await.unwrap() {
        rows.push(row);
    }
    assert_eq!(export.exported(), rows.len() as u64);
    assert!(export.next_row().await.unwrap().is_none(), "stays done");
    rows
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn exports_every_trace_once_in_order_across_pages() {
    let (store, all) = store().await;
    let rows = run(&store, ExportQuery::new(SearchQuery::default())).await;
    assert_eq!(rows.len(), N);
    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    assert_eq!(ids(&rows), newest_first);
    assert_eq!(
        rows.iter().map(|r| &r["id"]).collect::<HashSet<_>>().len(),
        N
    );
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, SUMMARY_FIELDS, "every summary field, no bodies");

    let asc = SearchQuery {
        order: SortOrder::Asc,
        ..SearchQuery::default()
    };
    assert_eq!(ids(&run(&store, ExportQuery::new(asc)).await), all);
}

#[tokio::test]
async fn the_filter_and_the_sort_apply() {
    let (store, all) = store().await;
    let filter = json!({"field": "model", "op": "eq", "value": "model-a"});
    let search = SearchQuery {
        filter: Some(Filter::parse(&filter, "/filter").unwrap()),
        sort: SortKey::DurationMs,
        order: SortOrder::Asc,
        ..SearchQuery::default()
    };
    let rows = run(&store, ExportQuery::new(search)).await;
    let want: HashSet<&String> = all.iter().step_by(3).collect();
    assert_eq!(rows.len(), want.len());
    assert!(rows.iter().all(|r| r["model"] == "model-a"));
    let got: HashSet<String> = ids(&rows).into_iter().collect();
    assert_eq!(got.len(), want.len(), "no trace twice");
    assert!(got.iter().all(|id| want.contains(id)));
    let durations: Vec<f64> = rows
        .iter()
        .map(|r| r["duration_ms"].as_f64().unwrap())
        .collect();
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "sorted");
}

#[tokio::test]
async fn fields_bodies_and_a_row_limit() {
    let (store, all) = store().await;
    let query = ExportQuery {
        fields: Some(vec!["id", "model"]),
        bodies: true,
        max_rows: Some(3),
        ..ExportQuery::new(SearchQuery::default())
    };
    assert_eq!(
        query.columns(),
        ["id", "model", "request_body", "response_body"]
    );
    let rows = run(&store, query).await;
    assert_eq!(rows.len(), 3);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "model", "request_body", "response_body"]);
    assert_eq!(rows[0]["id"], all[N - 1].as_str());
    assert_eq!(
        rows[0]["request_body"]["messages"][0]["content"],
        format!("question {}", N - 1)
    );
    assert_eq!(
        rows[2]["response_body"]["content"][0]["text"],
        format!("answer {}", N - 3)
    );

    let limited = ExportQuery {
        max_rows: Some(EXPORT_PAGE_SIZE as u64 + 1),
        ..ExportQuery::new(SearchQuery::default())
    };
    assert_eq!(
        run(&store, limited).await.len(),
        EXPORT_PAGE_SIZE as usize + 1
    );
}

#[tokio::test]
async fn an_empty_match_exports_nothing() {
    let (store, _) = store().await;
    let filter = json!({"field": "model", "op": "eq", "value": "nobody"});
    let search = SearchQuery {
        filter: Some(Filter::parse(&filter, "/filter").unwrap()),
        ..SearchQuery::default()
    };
    let mut export = Export::new(store, ExportQuery::new(search));
    export.start().await.unwrap();
    assert!(!export.has_pending());
    assert!(export.next_row().await.unwrap().is_none());
}
