//! Sorting with missing values, keyset cursors, paging while traces are
//! written, and cursors that are odd, forged or garbage.

use std::collections::HashSet;

use proptest::prelude::*;
use serde_json::json;

use super::{corpus, page_through, query, trace};
use crate::search::{Position, SearchQuery, SearchStore, SortKey, SortOrder, SortValue};
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

#[tokio::test]
async fn every_sort_and_order_with_missing_values_last() {
    let c = corpus().await;
    for sort in SortKey::ALL {
        for order in [SortOrder::Desc, SortOrder::Asc] {
            let q = SearchQuery {
                sort,
                order,
                ..SearchQuery::default()
            };
            let want = c.expect(|_, _| true, sort, order);
            assert_eq!(want.len(), super::N);
            if sort.nullable() {
                let last = c.index_of(*want.last().unwrap());
                assert!(super::sort_value(&c.traces[last], sort).is_none());
            }
            for limit in [1000, 7, 3, 1] {
                assert_eq!(
                    c.page_through(&q, limit).await,
                    want,
                    "{sort:?} {order:?} {limit}"
                );
            }
        }
    }
}

#[tokio::test]
async fn sorts_with_a_filter() {
    let c = corpus().await;
    let filter = json!({"field": "provider", "op": "eq", "value": "anthropic"});
    for sort in SortKey::ALL {
        for order in [SortOrder::Desc, SortOrder::Asc] {
            let q = SearchQuery {
                sort,
                order,
                ..query(Some(filter.clone()), None)
            };
            c.check(q, |i, _| i % 4 != 2).await;
        }
    }
}

#[tokio::test]
async fn a_page_says_whether_more_follow() {
    let c = corpus().await;
    let q = SearchQuery {
        limit: super::N as u32,
        ..SearchQuery::default()
    };
    let page = c.store.search(&q).await.unwrap();
    assert_eq!(page.data.len(), super::N);
    assert!(
        !page.has_more && page.next_cursor.is_none(),
        "exactly full is the last page"
    );
    let q = SearchQuery { limit: 29, ..q };
    let page = c.store.search(&q).await.unwrap();
    assert!(page.has_more);
    let next = q
        .clone()
        .with_cursor(&page.next_cursor.unwrap(), "/cursor")
        .unwrap();
    let rest = c.store.search(&next).await.unwrap();
    assert_eq!(rest.data.len(), 1);
    assert!(!rest.has_more);
    let none = query(
        Some(json!({"field": "status", "op": "eq", "value": 1})),
        None,
    );
    let empty = c.store.search(&none).await.unwrap();
    assert!(empty.data.is_empty() && !empty.has_more);
}

/// Pages through while another task writes traces newer and older than all
/// of the first ones: each first trace is seen exactly once, nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_is_stable_while_traces_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    let first: Vec<_> = (0..120).map(|i| trace(i + 5)).collect();
    store.insert_batch(first.clone()).await.unwrap();
    let first: HashSet<_> = first.iter().map(|t| t.id).collect();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for round in 0..40 {
                // One newer than everything, one older, one in the middle.
                let mut batch = vec![trace(200 + round), trace(130 - round % 5)];
                batch[1].started_at =
                    super::trace(0).started_at - chrono::Duration::minutes(round as i64 + 1);
                batch.push(trace(60));
                store.insert_batch(batch).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let queries = [
        SearchQuery::default(),
        SearchQuery {
            order: SortOrder::Asc,
            ..SearchQuery::default()
        },
        SearchQuery {
            sort: SortKey::CostUsd,
            ..SearchQuery::default()
        },
        query(None, Some("answer")),
        query(
            Some(json!({"field": "stream", "op": "eq", "value": true})),
            Some("case*"),
        ),
    ];
    for q in &queries {
        let seen = page_through(&store, q, 7).await;
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "no trace twice: {}",
            q.canonical()
        );
        let wanted: HashSet<_> = if q.filter.is_some() {
            let all = page_through(&store, q, 1000).await;
            first.iter().filter(|id| all.contains(id)).collect()
        } else {
            first.iter().collect()
        };
        for id in wanted {
            assert!(seen.contains(id), "{id} missed by {}", q.canonical());
        }
    }
    writer.await.unwrap();
}

#[tokio::test]
async fn forged_positions_never_fail() {
    let c = corpus().await;
    let values = [
        SortValue::Null,
        SortValue::Int(i64::MIN),
        SortValue::Int(i64::MAX),
        SortValue::Float(-0.0),
        SortValue::Float(f64::MAX),
    ];
    for sort in SortKey::ALL {
        for value in values {
            for tiebreak in [i64::MIN, -1, 0, 15, i64::MAX] {
                let q = SearchQuery {
                    sort,
                    after: Some(Position { value, tiebreak }),
                    ..query(None, Some("answer"))
                };
                c.store.search(&q).await.unwrap();
                c.store
                    .search(&SearchQuery { text: None, ..q })
                    .await
                    .unwrap();
            }
        }
    }
}

#[test]
fn bad_cursors_are_refused_before_the_store() {
    let q = SearchQuery::default();
    let other = SearchQuery {
        sort: SortKey::DurationMs,
        ..SearchQuery::default()
    };
    let cursor = other.cursor_after(&Position {
        value: SortValue::Float(1.0),
        tiebreak: 1,
    });
    assert!(q.clone().with_cursor(&cursor, "/cursor").is_err());
    assert!(other.with_cursor(&cursor, "/cursor").is_ok());
    for junk in [
        "",
        "%%%",
        "eyJ0cyI6MX0",
        "AAAA",
        &"_".repeat(60),
        &"A".repeat(1000),
    ] {
        let e = q.clone().with_cursor(junk, "/cursor").unwrap_err();
        assert_eq!(e.pointer, "/cursor");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_cursors_never_panic(junk in ".{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let q = SearchQuery::default();
        let _ = q.clone().with_cursor(&junk, "/cursor");
        let as_text: String = bytes.iter().map(|b| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[usize::from(*b) % 64])).collect();
        prop_assert!(q.with_cursor(&as_text, "/cursor").is_err());
    }

    #[test]
    fn random_positions_give_ordered_pages(ts in any::<i64>(), cost in any::<f64>(), rowid in any::<i64>()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let store = SqliteStore::open_in_memory().unwrap();
            store.insert_batch((0..6).map(trace).collect()).await.unwrap();
            for (sort, value) in [
                (SortKey::Ts, SortValue::Int(ts)),
                (SortKey::CostUsd, if cost.is_finite() { SortValue::Float(cost) } else { SortValue::Null }),
            ] {
                let q = SearchQuery { sort, after: Some(Position { value, tiebreak: rowid }), ..SearchQuery::default() };
                let cursor = q.cursor_after(&Position { value, tiebreak: rowid });
                let q = SearchQuery { after: None, ..q }.with_cursor(&cursor, "/cursor").unwrap();
                let page = store.search(&q).await.unwrap();
                prop_assert!(page.data.len() <= 6);
            }
            Ok(())
        })?;
    }
}
