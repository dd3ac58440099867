//! The full-text index holds what is new in each request and its answer.

use serde_json::json;
use tracegate_core::Outcome;

use super::sessions::Session;
use super::*;

fn matches(c: &Connection, query: &str) -> Vec<i64> {
    let mut stmt = c
        .prepare("SELECT rowid FROM traces_fts WHERE traces_fts MATCH ?1 ORDER BY rowid")
        .unwrap();
    let rows = stmt.query_map([query], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn a_trace_is_found_by_its_new_text_and_answer_not_by_old_history() {
    let (_dir, store, peek) = temp_store();
    let mut s = Script::new();
    let mut session = Session::new("ffff6666");
    session.user("Where is the frobnicator configured?");
    let r = session.request();
    s.anthropic(
        None,
        r,
        session.reply("The frobnicator lives in zanzibar.toml."),
    );
    session.user("Rename it to quuxifier, please.");
    let r = session.request();
    s.anthropic(
        None,
        r,
        session.call("Read", json!({ "file_path": "wibblefile.rs" })),
    );
    session.tool_result("snorkelwacker = true");
    let r = session.request();
    s.anthropic(None, r, session.reply("Renamed. Überprüft!"));
    let i = s.push(
        Provider::Openai,
        "/v1/embeddings",
        None,
        json!({ "input": "embedded plinth" }),
        json!({ "data": [] }),
    );
    s.traces[i].outcome = Outcome::UpstreamError;
    s.traces[i].error = Some("upstream said gronkulated".into());
    insert_in_batches(&store, &s.traces, 2).await;

    let ids: Vec<i64> = s.traces.iter().map(|t| rowid(&peek, t).unwrap()).collect();
    // New user text and answers, each only where it is new.
    assert_eq!(matches(&peek, "frobnicator"), [ids[0]]);
    assert_eq!(matches(&peek, "zanzibar"), [ids[0]]);
    assert_eq!(matches(&peek, "quuxifier"), [ids[1]]);
    assert_eq!(
        matches(&peek, "wibblefile"),
        [ids[1]],
        "tool calls are indexed"
    );
    assert_eq!(
        matches(&peek, "snorkelwacker"),
        [ids[2]],
        "tool results are indexed"
    );
    assert_eq!(
        matches(&peek, "uberpruft"),
        [ids[2]],
        "diacritics are folded"
    );
    assert_eq!(matches(&peek, "quux*"), [ids[1]]);
    assert_eq!(
        matches(&peek, "gronkulated"),
        [ids[3]],
        "errors are indexed"
    );
    // Reminders, thinking, the system prompt and other request members are not.
    for word in [
        "TodoWrite",
        "malicious",
        "think",
        "Anthropic",
        "quuxifier AND frobnicator",
        "snorkelwacker AND zanzibar",
        "plinth",
    ] {
        assert_eq!(matches(&peek, word), Vec::<i64>::new(), "{word}");
    }
}

#[tokio::test]
async fn the_index_merges_less_often_and_keeps_its_prefix_indexes() {
    let (_dir, store, peek) = temp_store();
    let config: BTreeMap<String, i64> = {
        let mut stmt = peek.prepare("SELECT k, v FROM traces_fts_config").unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(config.get("automerge"), Some(&16));
    assert_eq!(config.get("crisismerge"), Some(&64));
    assert_eq!(config.get("hashsize"), Some(&(16 << 20)));

    let mut s = Script::new();
    let mut session = Session::new("abcd1234");
    session.user("Is the xylograph ready?");
    let r = session.request();
    s.anthropic(None, r, session.reply("Nearly."));
    insert_in_batches(&store, &s.traces, 1).await;
    let id = rowid(&peek, &s.traces[0]).unwrap();
    // Two and three letters are answered by the prefix indexes, more by a term scan.
    for prefix in ["xy*", "xyl*", "xylo*"] {
        assert_eq!(matches(&peek, prefix), [id], "{prefix}");
    }
    let sql: String = peek
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'traces_fts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(sql.contains("prefix = '2 3'"), "{sql}");
}
