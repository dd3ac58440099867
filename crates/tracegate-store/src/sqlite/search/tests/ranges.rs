//! Tests on a numeric column with an index of its own, newest or oldest
//! first: rowids read from that index and made exact by start time (see
//! `by_time`), on a corpus written out of start-time order.

use serde_json::json;

use super::{corpus, query};
use crate::search::{SearchQuery, SortOrder};

#[tokio::test]
async fn ranges_on_indexed_columns_by_start_time() {
    let c = corpus().await;
    for order in [SortOrder::Desc, SortOrder::Asc] {
        let check = |filter: serde_json::Value| SearchQuery {
            order,
            ..query(Some(filter), None)
        };
        for limit in [250.0, 200.0, 120.0] {
            c.check(
                check(json!({"field": "duration_ms", "op": "gt", "value": limit})),
                |_, t| t.duration_ms > limit,
            )
            .await;
        }
        c.check(
            check(json!({"and": [
                {"field": "total_tokens", "op": "lte", "value": 150},
                {"field": "stream", "op": "eq", "value": true},
            ]})),
            |_, t| t.usage.total() <= 150 && t.stream,
        )
        .await;
        c.check(
            check(json!({"field": "cost_usd", "op": "in", "value": [0.0, 0.004, 0.01]})),
            |_, t| t.cost_usd.is_some_and(|v| [0.0, 0.004, 0.01].contains(&v)),
        )
        .await;
        c.check(
            check(json!({"and": [
                {"field": "ttft_ms", "op": "gte", "value": 60},
                {"field": "ttft_ms", "op": "lt", "value": 100},
            ]})),
            |_, t| t.ttft_ms.is_some_and(|v| (60.0..100.0).contains(&v)),
        )
        .await;
    }
}
