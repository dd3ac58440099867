//! Checks of the request side of a search: sort, order, limit and cursors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use tracegate_core::filter::Filter;

use super::*;

#[test]
fn sort_and_order_names() {
    for key in SortKey::ALL {
        assert_eq!(SortKey::parse(key.name(), "/sort"), Ok(key));
    }
    assert_eq!(SortKey::parse("started_at", "/sort"), Ok(SortKey::Ts));
    let e = SortKey::parse("model", "/sort").unwrap_err();
    assert_eq!(
        (e.kind, e.pointer.as_str()),
        (SearchErrorKind::BadSort, "/sort")
    );
    assert!(e
        .message
        .contains("ts, duration_ms, ttft_ms, cost_usd, total_tokens"));
    assert_eq!(SortOrder::parse("asc", "/order"), Ok(SortOrder::Asc));
    assert_eq!(
        SortOrder::parse("DESC", "/order").unwrap_err().kind,
        SearchErrorKind::BadOrder
    );
}

#[test]
fn limits() {
    assert_eq!(check_limit(1, "/limit"), Ok(1));
    assert_eq!(check_limit(1000, "/limit"), Ok(1000));
    for bad in [0, -1, 1001, i64::MAX] {
        let e = check_limit(bad, "/limit").unwrap_err();
        assert_eq!(
            (e.kind, e.pointer.as_str()),
            (SearchErrorKind::BadLimit, "/limit")
        );
    }
    let q = SearchQuery {
        limit: 0,
        ..SearchQuery::default()
    };
    assert_eq!(q.page_size(), 1);
    let q = SearchQuery {
        limit: 5000,
        ..SearchQuery::default()
    };
    assert_eq!(q.page_size(), MAX_LIMIT);
}

fn query(model: &str, q: Option<&str>, sort: SortKey) -> SearchQuery {
    SearchQuery {
        filter: Some(
            Filter::parse(
                &json!({"field": "model", "op": "eq", "value": model}),
                "/filter",
            )
            .unwrap(),
        ),
        text: q.and_then(|q| TextQuery::parse(q, "/q").unwrap()),
        sort,
        ..SearchQuery::default()
    }
}

#[test]
fn a_cursor_continues_only_its_own_query() {
    let a = query("m1", Some("hello"), SortKey::Ts);
    let pos = Position {
        value: SortValue::Int(1_700_000_000_000),
        tiebreak: 42,
    };
    let cursor = a.cursor_after(&pos);
    let with = a.clone().with_cursor(&cursor, "/cursor").unwrap();
    assert_eq!(with.after, Some(pos));
    let bigger_page = SearchQuery {
        limit: 500,
        ..a.clone()
    };
    assert!(
        bigger_page.with_cursor(&cursor, "/cursor").is_ok(),
        "limit may change"
    );
    for other in [
        query("m2", Some("hello"), SortKey::Ts),
        query("m1", Some("hello*"), SortKey::Ts),
        query("m1", None, SortKey::Ts),
        query("m1", Some("hello"), SortKey::CostUsd),
        SearchQuery {
            order: SortOrder::Asc,
            ..a.clone()
        },
    ] {
        let e = other.with_cursor(&cursor, "/cursor").unwrap_err();
        assert_eq!(e.kind, SearchErrorKind::BadCursor);
        assert_eq!(e.pointer, "/cursor");
    }
}

#[test]
fn errors_carry_kind_names() {
    assert_eq!(SearchErrorKind::BadCursor.as_str(), "bad_cursor");
    let fe =
        Filter::parse(&json!({"field": "nope", "op": "eq", "value": 1}), "/filter").unwrap_err();
    let se = SearchError::from(fe);
    assert_eq!(se.kind.as_str(), "unknown_field");
    assert_eq!(se.pointer, "/filter/field");
}
