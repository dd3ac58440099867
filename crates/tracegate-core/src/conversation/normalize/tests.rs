#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

fn anthropic(messages: Value) -> Vec<Message> {
    super::messages(Provider::Anthropic, &json!({ "messages": messages }))
}

#[test]
fn reminders_are_removed_as_blocks_and_inside_text() {
    let text = "<system-reminder>\nctx\n</system-reminder>\nFix the bug\n\n<system-reminder>todo list empty</system-reminder>";
    assert_eq!(strip_reminders(text), "Fix the bug");
    assert_eq!(
        strip_reminders("a <system-reminder>x</system-reminder> b"),
        "a\n\nb"
    );
    assert_eq!(
        strip_reminders("<system-reminder>only</system-reminder>"),
        ""
    );
    // An unterminated tag is user text, not a reminder.
    assert_eq!(
        strip_reminders("see <system-reminder> tag"),
        "see <system-reminder> tag"
    );
    assert_eq!(strip_reminders("a\r\nb "), "a\nb");
}

#[test]
fn hash_form_collapses_whitespace() {
    assert_eq!(hash_form("  a \n\n b\tc "), "a b c");
    assert_eq!(hash_form("a<system-reminder>x</system-reminder>b"), "a b");
}

#[test]
fn string_and_block_content_are_the_same() {
    let a = anthropic(json!([{ "role": "user", "content": "hello there" }]));
    let b = anthropic(json!([{ "role": "user", "content": [
        { "type": "text", "text": "hello there", "cache_control": { "type": "ephemeral" } }
    ] }]));
    assert_eq!(a, b);
    assert_eq!(a[0].parts, vec![Part::Text("hello there".into())]);
}

#[test]
fn reminder_only_blocks_vanish_and_same_roles_merge() {
    let m = anthropic(json!([
        { "role": "user", "content": [{ "type": "text", "text": "<system-reminder>x</system-reminder>" }] },
        { "role": "user", "content": "first" },
        { "role": "assistant", "content": [{ "type": "thinking", "thinking": "hm", "signature": "s" }, { "type": "text", "text": "ok" }] },
        { "role": "assistant", "content": [{ "type": "thinking", "thinking": "only", "signature": "s" }] },
        { "role": "user", "content": [] },
        { "role": "system", "content": "not an anthropic role" }
    ]));
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].role, Role::User);
    assert_eq!(m[0].parts, vec![Part::Text("first".into())]);
    assert_eq!(m[1].parts, vec![Part::Text("ok".into())]);
}

#[test]
fn tool_blocks_drop_ids_and_cache_control() {
    let a = anthropic(json!([
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": { "command": "ls", "timeout": 1.0 } }] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_1", "content": "out", "cache_control": { "type": "ephemeral" } }] }
    ]));
    let b = anthropic(json!([
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_2", "name": "Bash", "input": { "timeout": 1, "command": "ls" } }] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_2", "is_error": false, "content": [{ "type": "text", "text": "out" }] }] }
    ]));
    assert_eq!(a, b);
    assert_eq!(
        a[0].parts,
        vec![Part::ToolUse {
            name: "Bash".into(),
            input: r#"{"command":"ls","timeout":1}"#.into()
        }]
    );
    let err = anthropic(
        json!([{ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "is_error": true, "content": "out" }] }]),
    );
    assert_ne!(err[0], b[1]);
}

#[test]
fn openai_tool_messages_become_one_user_turn() {
    let m = super::messages(
        Provider::Openai,
        &json!({ "messages": [
        { "role": "system", "content": "be brief" },
        { "role": "user", "content": [{ "type": "text", "text": "weather?" }] },
        { "role": "assistant", "content": null, "tool_calls": [
            { "id": "call_1", "type": "function", "function": { "name": "get", "arguments": "{\"b\": 2, \"a\": 1}" } },
            { "id": "call_2", "type": "function", "function": { "name": "get", "arguments": "not json" } }
        ] },
        { "role": "tool", "tool_call_id": "call_1", "content": "sunny" },
        { "role": "tool", "tool_call_id": "call_2", "content": "rain" },
        { "role": "developer", "content": "ignored" }
    ] }),
    );
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].parts, vec![Part::Text("weather?".into())]);
    assert_eq!(
        m[1].parts,
        vec![
            Part::ToolUse {
                name: "get".into(),
                input: r#"{"a":1,"b":2}"#.into()
            },
            Part::ToolUse {
                name: "get".into(),
                input: "not json".into()
            },
        ]
    );
    assert_eq!(m[2].role, Role::User);
    assert_eq!(m[2].parts.len(), 2);
}

#[test]
fn canonical_json_sorts_keys_and_drops_cache_control_when_asked() {
    let v = json!({ "b": [1, 2.5, { "z": null, "cache_control": 1 }], "a": "x\"" });
    assert_eq!(
        canonical_json(&v, true),
        r#"{"a":"x\"","b":[1,2.5,{"z":null}]}"#
    );
    assert_eq!(
        canonical_json(&v, false),
        r#"{"a":"x\"","b":[1,2.5,{"cache_control":1,"z":null}]}"#
    );
}

#[test]
fn odd_shapes_do_not_panic() {
    for body in [
        json!(null),
        json!({ "messages": 3 }),
        json!({ "messages": [1, "x", null, { "role": 5 }, { "role": "user", "content": 7 }] }),
        json!({ "messages": [{ "role": "user", "content": [1, "raw", { "type": 2 }] }] }),
    ] {
        let _ = super::messages(Provider::Anthropic, &body);
        let _ = super::messages(Provider::Openai, &body);
    }
    let m = anthropic(json!([{ "role": "user", "content": [1, "raw"] }]));
    assert_eq!(
        m[0].parts,
        vec![Part::Other("1".into()), Part::Text("raw".into())]
    );
}

#[test]
fn repeated_tool_calls_and_results_are_dropped_by_id() {
    let call = json!({ "role": "assistant", "content": [
        { "type": "text", "text": "Reading." },
        { "type": "tool_use", "id": "toolu_1", "name": "Read", "input": { "file_path": "a.rs" } }
    ] });
    let result = json!({ "role": "user", "content": [
        { "type": "tool_result", "tool_use_id": "toolu_1", "content": "fn a() {}" }
    ] });
    let once = anthropic(json!([{ "role": "user", "content": "go" }, call, result]));
    let twice = anthropic(json!([{ "role": "user", "content": "go" }, call, result, call, result]));
    // The repeated call keeps its text; its tool_use and the repeated result are gone.
    assert_eq!(twice.len(), 4);
    assert_eq!(twice[..3], once[..]);
    assert_eq!(twice[3].parts, vec![Part::Text("Reading.".into())]);
    // Without ids nothing is taken for a repeat.
    let anonymous = json!({ "role": "assistant", "content": [{ "type": "tool_use", "name": "Read", "input": {} }] });
    assert_eq!(
        anthropic(json!([anonymous, { "role": "user", "content": "x" }, anonymous])).len(),
        3
    );

    let openai =
        |messages: Value| super::messages(Provider::Openai, &json!({ "messages": messages }));
    let call = json!({ "role": "assistant", "content": null, "tool_calls": [
        { "id": "call_1", "type": "function", "function": { "name": "w", "arguments": "{}" } }
    ] });
    let result = json!({ "role": "tool", "tool_call_id": "call_1", "content": "sunny" });
    let user = json!({ "role": "user", "content": "weather?" });
    let once = openai(json!([user, call, result]));
    assert_eq!(openai(json!([user, call, result, call, result])), once);
}
