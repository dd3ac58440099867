#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn h(n: u8) -> Hash {
    [n; 16]
}

/// Keys of a request whose full list hashes to `me` and whose parent list to `parent`.
fn keys(me: u8, parent: Option<u8>) -> LinkKeys {
    LinkKeys {
        self_hash: h(me),
        parent_hash: parent.map(h),
        prefix_len: if parent.is_some() { 3 } else { 1 },
        continuation: false,
        first_user_text_hash: Some(h(100 + me)),
        single_user_message: parent.is_none(),
    }
}

#[test]
fn kind_names_round_trip() {
    for k in LinkKind::ALL {
        assert_eq!(LinkKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(LinkKind::parse("leaf"), None);
    assert_eq!(LinkKind::SubTask.as_str(), "sub_task");
}

#[test]
fn parent_of_the_same_account_is_preferred() {
    let mut l = Linker::default();
    l.link("a", 0, Some("alice"), &keys(1, None), &[]);
    l.link("b", 10, Some("bob"), &keys(1, None), &[]);
    let child = l.link("c", 20, Some("alice"), &keys(2, Some(1)), &[]);
    assert_eq!(
        child.parent_trace,
        Some(TraceRef {
            trace_id: "a".into()
        })
    );
    // Without a same-account candidate the most recent one is used.
    let child = l.link("d", 30, Some("carol"), &keys(3, Some(1)), &[]);
    assert_eq!(
        child.parent_trace,
        Some(TraceRef {
            trace_id: "b".into()
        })
    );
    assert_eq!(child.conversation_id, "b");
}

#[test]
fn branch_numbers_count_per_conversation() {
    let mut l = Linker::default();
    l.link("r", 0, None, &keys(1, None), &[]);
    let kinds: Vec<(u32, LinkKind)> = [2u8, 3, 4, 3]
        .iter()
        .enumerate()
        .map(|(i, me)| {
            let x = l.link(
                &format!("c{i}"),
                10 + i as i64,
                None,
                &keys(*me, Some(1)),
                &[],
            );
            (x.branch, x.kind)
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (0, LinkKind::Turn),
            (1, LinkKind::Branch),
            (2, LinkKind::Branch),
            (1, LinkKind::Turn)
        ]
    );
    // A second conversation numbers its branches from 1 again.
    l.link("r2", 100, None, &keys(50, None), &[]);
    l.link("x", 101, None, &keys(51, Some(50)), &[]);
    assert_eq!(l.link("y", 102, None, &keys(52, Some(50)), &[]).branch, 1);
}

#[test]
fn old_and_excess_traces_are_forgotten() {
    let mut l = Linker::new(3, 1_000);
    for i in 0..5u8 {
        l.link(&format!("t{i}"), i64::from(i), None, &keys(i, None), &[]);
    }
    assert_eq!(l.len(), 3);
    // t0 was dropped by the size bound: its child starts a new conversation.
    let orphan = l.link("o", 10, None, &keys(20, Some(0)), &[]);
    assert_eq!(orphan.kind, LinkKind::Root);
    let kept = l.link("k", 11, None, &keys(21, Some(4)), &[]);
    assert_eq!(kept.conversation_id, "t4");
    // Everything is older than the age bound a while later.
    let late = l.link("late", 5_000, None, &keys(22, Some(4)), &[]);
    assert_eq!(late.kind, LinkKind::Root);
    assert_eq!(l.len(), 1);
    assert!(!l.is_empty());
}

#[test]
fn sub_task_needs_a_single_message_and_a_recent_call() {
    let mut l = Linker::default();
    l.link("caller", 0, None, &keys(1, None), &[h(7)]);
    let mut k = keys(9, None);
    k.first_user_text_hash = Some(h(7));
    let sub = l.link("sub", 1_000, None, &k, &[]);
    assert_eq!(sub.kind, LinkKind::SubTask);
    assert_eq!(sub.conversation_id, "sub");
    assert_eq!(
        sub.parent_trace,
        Some(TraceRef {
            trace_id: "caller".into()
        })
    );
    k.self_hash = h(10);
    k.single_user_message = false;
    assert_eq!(l.link("not", 2_000, None, &k, &[]).kind, LinkKind::Root);
}
