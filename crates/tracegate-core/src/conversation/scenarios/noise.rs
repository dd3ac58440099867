//! Noise that must not change the keys, and a recorded request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::*;
use crate::conversation::fixtures::ClaudeCode;

#[test]
fn reminders_do_not_change_the_keys() {
    let noisy = five_turns(&mut ClaudeCode::new(SESSION));
    let plain = five_turns(&mut ClaudeCode::new(SESSION).without_reminders());
    assert_ne!(noisy[2].0, plain[2].0);
    for ((a, _), (b, _)) in noisy.iter().zip(&plain) {
        assert_eq!(keys(a), keys(b));
    }
    // Requests alternating between the two shapes still form one line.
    let mut run = Run::new();
    for (i, (n, p)) in noisy.iter().zip(&plain).enumerate() {
        let (req, resp) = if i % 2 == 0 { n } else { p };
        let l = run.link(&format!("t{i}"), ALICE, req, resp);
        assert_eq!(l.conversation_id, "t0");
        assert_eq!(
            l.kind,
            if i == 0 {
                LinkKind::Root
            } else {
                LinkKind::Turn
            }
        );
    }
    // A reminder injected into the last message only for one request.
    let mut transient = noisy[3].0.clone();
    let last = transient["messages"]
        .as_array_mut()
        .unwrap()
        .last_mut()
        .unwrap();
    last["content"].as_array_mut().unwrap().insert(
        0,
        json!({ "type": "text", "text": "<system-reminder>\nYour todo list changed. Current todos: [1. Fix coupon]\n</system-reminder>" }),
    );
    assert_eq!(keys(&transient), keys(&noisy[3].0));
}

#[test]
fn system_prompt_and_tools_are_not_hashed() {
    let turns = five_turns(&mut ClaudeCode::new(SESSION));
    let mut changed = turns[2].0.clone();
    changed["system"] = json!([{ "type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude." }, { "type": "text", "text": "gitStatus: Current branch: feature/coupons\nToday's date: 2025-09-13" }]);
    let mut tools = changed["tools"].as_array().unwrap().clone();
    tools.reverse();
    tools[0]["name"] = json!("Agent");
    changed["tools"] = Value::Array(tools);
    changed["max_tokens"] = json!(64000);
    assert_eq!(keys(&changed), keys(&turns[2].0));
    // The fixture's system prompt changes every turn and the turns still link linearly.
    assert_ne!(turns[0].0["system"], turns[1].0["system"]);
    assert_eq!(
        keys(&turns[1].0).parent_hash,
        Some(keys(&turns[0].0).self_hash)
    );
}

#[test]
fn string_and_block_content_hash_alike() {
    let turns = five_turns(&mut ClaudeCode::new(SESSION).without_reminders());
    let mut as_strings = turns[4].0.clone();
    for m in as_strings["messages"].as_array_mut().unwrap() {
        let single = m["content"]
            .as_array()
            .filter(|b| b.len() == 1 && b[0]["type"] == "text")
            .map(|b| b[0]["text"].clone());
        if let Some(text) = single {
            m["content"] = text;
        }
    }
    assert_ne!(as_strings, turns[4].0);
    assert_eq!(keys(&as_strings), keys(&turns[4].0));
}

#[test]
fn recorded_request_fixture_gives_expected_keys() {
    let request: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/conversations/claude_code_turn3_request.json"
    ))
    .unwrap();
    let response: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/conversations/claude_code_task_response.json"
    ))
    .unwrap();
    let k = keys(&request);
    assert_eq!(k.prefix_len, 5);
    assert!(!k.continuation && !k.single_user_message);
    // The parent is the same conversation cut before the last assistant reply.
    let mut parent = request.clone();
    parent["messages"].as_array_mut().unwrap().truncate(3);
    assert_eq!(k.parent_hash, Some(keys(&parent).self_hash));
    assert_eq!(
        new_user_text(Provider::Anthropic, &request),
        "test cart::coupon_applies_once ... FAILED\nCan you look at checkout.rs too?"
    );
    assert_eq!(task_prompt_hashes(Provider::Anthropic, &response).len(), 1);
    let text = response_text(Provider::Anthropic, &response);
    assert!(text.starts_with("I'll search for every place the coupon is applied.\nTask {"));
    assert!(!text.contains("signature"));
}
