//! Linear conversations, branches and retries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;
use crate::conversation::fixtures::ClaudeCode;

#[test]
fn linear_five_turn_conversation() {
    let turns = five_turns(&mut ClaudeCode::new(SESSION));
    let ks: Vec<LinkKeys> = turns.iter().map(|(r, _)| keys(r)).collect();
    for (i, k) in ks.iter().enumerate() {
        assert_eq!(k.prefix_len, 2 * i + 1);
        assert!(!k.continuation);
        assert_eq!(k.single_user_message, i == 0);
        assert_eq!(k.first_user_text_hash, ks[0].first_user_text_hash);
        if i > 0 {
            assert_eq!(k.parent_hash, Some(ks[i - 1].self_hash), "turn {i}");
            assert_ne!(k.self_hash, ks[i - 1].self_hash);
        }
    }
    assert_eq!(ks[0].parent_hash, None);

    let mut run = Run::new();
    let ids = ["t1", "t2", "t3", "t4", "t5"];
    for (i, (req, resp)) in turns.iter().enumerate() {
        let l = run.link(ids[i], ALICE, req, resp);
        match i {
            0 => assert_link(&l, "t1", None, 0, LinkKind::Root),
            _ => assert_link(&l, "t1", Some(ids[i - 1]), 0, LinkKind::Turn),
        }
    }
}

#[test]
fn editing_turn_three_makes_branches() {
    let mut s = ClaudeCode::new(SESSION);
    s.user("Add a `--dry-run` flag to the import command.");
    let r1 = s.request();
    let a1 = s.reply("Done: `shop import --dry-run` prints what would change.");
    s.user("Also log how many rows were skipped.");
    let r2 = s.request();
    let a2 = s.reply("Added a skipped-rows counter to the import summary.");
    let at_turn_three = s.clone();
    s.user("Now write the changelog entry.");
    let r3 = s.request();
    let a3 = s.reply("Added an entry under Unreleased.");
    s.user("Commit it.");
    let r4 = s.request();

    // The user goes back and edits turn 3, twice.
    let mut edit = at_turn_three.clone();
    edit.user("Now write the changelog entry, in French.");
    let r3b = edit.request();
    let a3b = edit.reply("Ajouté une entrée sous Unreleased.");
    edit.user("Commit it.");
    let r4b = edit.request();
    let mut edit2 = at_turn_three;
    edit2.user("Skip the changelog; open a pull request instead.");
    let r3c = edit2.request();

    assert_eq!(keys(&r3).parent_hash, keys(&r3b).parent_hash);
    assert_ne!(keys(&r3).self_hash, keys(&r3b).self_hash);

    let mut run = Run::new();
    let none = json!({});
    assert_link(
        &run.link("t1", ALICE, &r1, &a1),
        "t1",
        None,
        0,
        LinkKind::Root,
    );
    assert_link(
        &run.link("t2", ALICE, &r2, &a2),
        "t1",
        Some("t1"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("t3", ALICE, &r3, &a3),
        "t1",
        Some("t2"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("t4", ALICE, &r4, &none),
        "t1",
        Some("t3"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("t3b", ALICE, &r3b, &a3b),
        "t1",
        Some("t2"),
        1,
        LinkKind::Branch,
    );
    assert_link(
        &run.link("t4b", ALICE, &r4b, &none),
        "t1",
        Some("t3b"),
        1,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("t3c", ALICE, &r3c, &none),
        "t1",
        Some("t2"),
        2,
        LinkKind::Branch,
    );
    // The main line goes on as branch 0, and a retried branch start stays on its branch.
    s.reply("Committed as 4f1e2d3.");
    s.user("Push.");
    let r5 = s.request();
    assert_link(
        &run.link("t5", ALICE, &r5, &none),
        "t1",
        Some("t4"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("t3b-again", ALICE, &r3b, &none),
        "t1",
        Some("t3b"),
        1,
        LinkKind::Retry,
    );
}

#[test]
fn retries_join_the_same_node() {
    let turns = five_turns(&mut ClaudeCode::new(SESSION));
    let mut run = Run::new();
    let none = json!({});
    assert_link(
        &run.link("t1", ALICE, &turns[0].0, &none),
        "t1",
        None,
        0,
        LinkKind::Root,
    );
    assert_link(
        &run.link("t1b", ALICE, &turns[0].0, &turns[0].1),
        "t1",
        Some("t1"),
        0,
        LinkKind::Retry,
    );
    assert_link(
        &run.link("t2", ALICE, &turns[1].0, &none),
        "t1",
        Some("t1b"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("t2b", ALICE, &turns[1].0, &turns[1].1),
        "t1",
        Some("t2"),
        0,
        LinkKind::Retry,
    );
    // The next turn follows the latest copy and is not mistaken for a branch.
    assert_link(
        &run.link("t3", ALICE, &turns[2].0, &none),
        "t1",
        Some("t2b"),
        0,
        LinkKind::Turn,
    );
    // A one-message request from another account is not a retry; a long one is.
    assert_link(
        &run.link("bob1", BOB, &turns[0].0, &none),
        "bob1",
        None,
        0,
        LinkKind::Root,
    );
    assert_link(
        &run.link("bob3", BOB, &turns[2].0, &none),
        "t1",
        Some("t3"),
        0,
        LinkKind::Retry,
    );
    // An identical first message long after is a new conversation.
    run.now += RETRY_WINDOW_MS + 1;
    assert_link(
        &run.link("t1c", ALICE, &turns[0].0, &none),
        "t1c",
        None,
        0,
        LinkKind::Root,
    );
}
