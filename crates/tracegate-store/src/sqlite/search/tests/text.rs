//! Full-text search: words, phrases, prefixes, special characters, with
//! filters and sorts, paged in sizes that make the start-time plan look for
//! traces written out of order.

use serde_json::json;

use super::{corpus, query, ANSWERS};
use crate::search::{SearchQuery, SearchStore, SortKey, SortOrder, TextQuery};

/// A text query and which corpus traces (by index) it should find.
type Case<'a> = (&'a str, Box<dyn Fn(usize) -> bool>);

#[tokio::test]
async fn words_phrases_and_prefixes() {
    let c = corpus().await;
    let backoff = |i: usize| i % 6 == 4 || ANSWERS[i % 5].contains("backoff");
    let cases: Vec<Case> = vec![
        ("deadlock", Box::new(|i| i % 6 == 1)),
        ("TOKIO Deadlock", Box::new(|i| i % 6 == 1)),
        ("\"borrow checker\"", Box::new(|i| i % 6 == 0)),
        ("\"checker borrow\"", Box::new(|_| false)),
        ("\"borrow checker", Box::new(|i| i % 6 == 0)),
        ("dead*", Box::new(|i| i % 6 == 1)),
        ("back*", Box::new(backoff)),
        ("case7", Box::new(|i| i == 7)),
        ("case1*", Box::new(|i| i == 1 || (10..20).contains(&i))),
        (
            "\"case2\"* answer",
            Box::new(|i| i == 2 || (20..30).contains(&i)),
        ),
        ("cafe naive", Box::new(|i| i % 6 == 3)),
        ("zebra", Box::new(|_| false)),
        ("deadlock zebra", Box::new(|_| false)),
        ("limited", Box::new(|i| i % 5 == 3)),
    ];
    for (q, pred) in cases {
        c.check(query(None, Some(q)), |i, _| pred(i)).await;
    }
}

#[tokio::test]
async fn special_characters_are_plain_text() {
    let c = corpus().await;
    let cases: Vec<Case> = vec![
        ("DROP TABLE traces; --", Box::new(|i| i % 6 == 2)),
        ("injection'; --", Box::new(|i| i % 6 == 2)),
        (r#"{"key": (value)}"#, Box::new(|i| i % 6 == 5)),
        ("a-b^c", Box::new(|i| i % 6 == 5)),
        ("-deadlock", Box::new(|i| i % 6 == 1)),
        ("NOT deadlock", Box::new(|_| false)),
        ("deadlock OR zebra", Box::new(|_| false)),
        // As FTS5 syntax this would match trace 1; as text it needs the word "near".
        ("NEAR(deadlock tokio)", Box::new(|_| false)),
        ("body:deadlock", Box::new(|_| false)),
        ("deadlock * ^ : ( ) \"", Box::new(|i| i % 6 == 1)),
        ("tokio\u{0}deadlock", Box::new(|i| i % 6 == 1)),
    ];
    for (q, pred) in cases {
        c.check(query(None, Some(q)), |i, _| pred(i)).await;
    }
}

#[tokio::test]
async fn text_with_filters_and_sorts() {
    let c = corpus().await;
    let gpt = json!({"field": "model", "op": "eq", "value": "gpt-4o"});
    c.check(query(Some(gpt), Some("case*")), |i, _| i % 4 == 2)
        .await;
    let not_ok = json!({"field": "outcome", "op": "ne", "value": "ok"});
    c.check(query(Some(not_ok.clone()), Some("answer")), |i, _| {
        i % 5 >= 3
    })
    .await;
    for sort in SortKey::ALL {
        for order in [SortOrder::Desc, SortOrder::Asc] {
            for (filter, text) in [
                (None, "case*"),
                (Some(not_ok.clone()), "answer"),
                (None, "back*"),
            ] {
                let q = SearchQuery {
                    sort,
                    order,
                    ..query(filter.clone(), Some(text))
                };
                let want = c.expect(
                    |i, t| {
                        let f = filter.is_none() || t.outcome.as_str() != "ok";
                        let m = match text {
                            "back*" => i % 6 == 4 || ANSWERS[i % 5].contains("backoff"),
                            _ => true,
                        };
                        f && m
                    },
                    sort,
                    order,
                );
                for limit in [1000, 5, 2, 1] {
                    assert_eq!(
                        c.page_through(&q, limit).await,
                        want,
                        "{} limit {limit}",
                        q.canonical()
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn text_search_finds_late_writes_by_start_time() {
    // Written newest first: rowid order is the reverse of start-time order,
    // the worst case for reading matches in rowid order.
    let store = crate::sqlite::SqliteStore::open_in_memory().unwrap();
    let written: Vec<_> = (0..40).rev().map(super::trace).collect();
    for chunk in written.chunks(7) {
        crate::store::TraceStore::insert_batch(&store, chunk.to_vec())
            .await
            .unwrap();
    }
    // Newest first; equal start times by rowid (write position), highest first.
    let expect = |pred: &dyn Fn(usize) -> bool, order: SortOrder| {
        let mut hits: Vec<(i64, usize, usize)> = (0..40)
            .filter(|&i| pred(i))
            .map(|i| (super::ts_ms(i), 39 - i, i))
            .collect();
        hits.sort();
        if order == SortOrder::Desc {
            hits.reverse();
        }
        hits.iter()
            .map(|h| written[39 - h.2].id)
            .collect::<Vec<_>>()
    };
    for order in [SortOrder::Desc, SortOrder::Asc] {
        for (text, pred) in [
            ("answer", &(|_| true) as &dyn Fn(usize) -> bool),
            ("case3*", &|i| i == 3 || i >= 30),
            ("deadlock", &|i| i % 6 == 1),
        ] {
            let q = SearchQuery {
                order,
                ..query(None, Some(text))
            };
            for limit in [1, 3, 10, 1000] {
                let got = super::page_through(&store, &q, limit).await;
                assert_eq!(got, expect(pred, order), "{text} {order:?} limit {limit}");
            }
        }
    }
}

#[tokio::test]
async fn odd_but_valid_text_never_fails() {
    let c = corpus().await;
    for q in [
        "\u{301}",
        "\u{e000}x",
        "ab*\"",
        "\"\"\"\"ab",
        "x\"\"y",
        "ü*",
        "日本語",
        "💥 boom",
        "''''",
        "a\\b",
        "%_%",
    ] {
        let Ok(Some(text)) = TextQuery::parse(q, "/q") else {
            continue;
        };
        let req = SearchQuery {
            text: Some(text),
            ..SearchQuery::default()
        };
        c.store
            .search(&req)
            .await
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
}
