//! The analytics queries reach their rows through indexes: none scans the
//! trace table, so their cost does not grow with the number of traces.

use rusqlite::types::Value as Sql;

use super::*;
use crate::analytics::ConversationQuery;
use crate::sqlite::analytics::{conversations, rows};

/// The steps of SQLite's plan for `sql`, parameters unbound.
fn plan(c: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let nulls = vec![Sql::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn assert_uses(c: &Connection, what: &str, sql: &str, wanted: &[&str]) {
    let steps = plan(c, sql);
    for step in &steps {
        assert!(
            !(step.starts_with("SCAN traces") || step.starts_with("SCAN t ") || step == "SCAN t"),
            "{what} scans the traces: {steps:?}"
        );
        assert!(
            !step.starts_with("SCAN rollups"),
            "{what} scans the rollups: {steps:?}"
        );
    }
    for w in wanted {
        assert!(
            steps.iter().any(|s| s.contains(w)),
            "{what} does not use {w}: {steps:?}"
        );
    }
}

#[test]
fn analytics_queries_use_indexes() {
    let (_dir, store) = temp_store();
    let c = peek(&store);
    let list = |account: Option<&str>, from: Option<i64>, cursor: bool| {
        let cursor = cursor.then(|| crate::analytics::ConversationCursor {
            last_ts: 5,
            id: Uuid::now_v7(),
        });
        let q = ConversationQuery::new(account.map(str::to_owned), from, None, 50, cursor).unwrap();
        conversations::list_sql(&q).0
    };
    let latest = "SEARCH t USING INDEX sqlite_autoindex_traces_1 (id=?)";
    assert_uses(
        &c,
        "list",
        &list(None, None, false),
        &["conversations_last_ts", latest],
    );
    assert_uses(
        &c,
        "list page",
        &list(None, Some(1), true),
        &["conversations_last_ts", latest],
    );
    assert_uses(
        &c,
        "list of an account",
        &list(Some("a"), Some(1), true),
        &["conversations_account_last_ts", latest],
    );
    assert_uses(
        &c,
        "tree",
        &conversations::conversation_sql(),
        &["traces_conversation_ts"],
    );
    assert_uses(
        &c,
        "sub-tasks",
        &conversations::sub_task_sql(),
        &["traces_conversation_ts", "traces_ts (ts>? AND ts<?)"],
    );
    for account in [None, Some("a")] {
        let r = rows::Rollups {
            dim: "account_model",
            account,
        };
        assert_uses(
            &c,
            "rollups",
            &r.sql(", errors, duration_sketch, ttft_sketch"),
            &["USING PRIMARY KEY (granularity=? AND dim=? AND bucket>? AND bucket<?)"],
        );
    }
    assert_uses(&c, "edge traces", &rows::traces_sql(false), &["traces_ts"]);
    assert_uses(
        &c,
        "edge traces of an account",
        &rows::traces_sql(true),
        &["traces_account_ts"],
    );
}
