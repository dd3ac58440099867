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

fn prompts(task_prompts: &[Hash]) -> Evidence<'_> {
    Evidence {
        task_prompts,
        ..Evidence::default()
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
    l.link("a", 0, Some("alice"), &keys(1, None), Evidence::default());
    l.link("b", 10, Some("bob"), &keys(1, None), Evidence::default());
    let child = l.link(
        "c",
        20,
        Some("alice"),
        &keys(2, Some(1)),
        Evidence::default(),
    );
    assert_eq!(
        child.parent_trace,
        Some(TraceRef {
            trace_id: "a".into()
        })
    );
    // Without a same-account candidate the most recent one is used.
    let child = l.link(
        "d",
        30,
        Some("carol"),
        &keys(3, Some(1)),
        Evidence::default(),
    );
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
    l.link("r", 0, None, &keys(1, None), Evidence::default());
    let kinds: Vec<(u32, LinkKind)> = [2u8, 3, 4, 3]
        .iter()
        .enumerate()
        .map(|(i, me)| {
            let x = l.link(
                &format!("c{i}"),
                10 + i as i64,
                None,
                &keys(*me, Some(1)),
                Evidence::default(),
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
            (1, LinkKind::Retry)
        ]
    );
    // A second conversation numbers its branches from 1 again.
    l.link("r2", 100, None, &keys(50, None), Evidence::default());
    l.link("x", 101, None, &keys(51, Some(50)), Evidence::default());
    assert_eq!(
        l.link("y", 102, None, &keys(52, Some(50)), Evidence::default())
            .branch,
        1
    );
}

#[test]
fn old_and_excess_traces_are_forgotten() {
    let mut l = Linker::new(3, 1_000);
    for i in 0..5u8 {
        l.link(
            &format!("t{i}"),
            i64::from(i),
            None,
            &keys(i, None),
            Evidence::default(),
        );
    }
    assert_eq!(l.len(), 3);
    // t0 was dropped by the size bound: its child starts a new conversation.
    let orphan = l.link("o", 10, None, &keys(20, Some(0)), Evidence::default());
    assert_eq!(orphan.kind, LinkKind::Root);
    let kept = l.link("k", 11, None, &keys(21, Some(4)), Evidence::default());
    assert_eq!(kept.conversation_id, "t4");
    // Everything is older than the age bound a while later.
    let late = l.link("late", 5_000, None, &keys(22, Some(4)), Evidence::default());
    assert_eq!(late.kind, LinkKind::Root);
    assert_eq!(l.len(), 1);
    assert!(!l.is_empty());
}

#[test]
fn sub_task_needs_a_single_message_and_a_recent_call() {
    let mut l = Linker::default();
    l.link("caller", 0, None, &keys(1, None), prompts(&[h(7)]));
    let mut k = keys(9, None);
    k.first_user_text_hash = Some(h(7));
    let sub = l.link("sub", 1_000, None, &k, Evidence::default());
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
    assert_eq!(
        l.link("not", 2_000, None, &k, Evidence::default()).kind,
        LinkKind::Root
    );
}

#[test]
fn sub_task_window_is_a_setting() {
    const HOUR: i64 = 3_600_000;
    let mut k = keys(9, None);
    k.first_user_text_hash = Some(h(7));
    for (window, after, want) in [
        (
            DEFAULT_TASK_WINDOW_MS,
            DEFAULT_TASK_WINDOW_MS,
            LinkKind::SubTask,
        ),
        (
            DEFAULT_TASK_WINDOW_MS,
            DEFAULT_TASK_WINDOW_MS + 1,
            LinkKind::Root,
        ),
        (HOUR, HOUR, LinkKind::SubTask),
        (HOUR, HOUR + 1, LinkKind::Root),
        (48 * HOUR, 30 * HOUR, LinkKind::SubTask),
    ] {
        let mut l = Linker::default().with_task_window_ms(window);
        l.link("caller", 0, None, &keys(1, None), prompts(&[h(7)]));
        let sub = l.link("sub", after, None, &k, Evidence::default());
        assert_eq!(sub.kind, want, "window {window} ms, {after} ms later");
    }
}

#[test]
fn an_identical_resend_is_a_retry_of_the_first_request() {
    let mut l = Linker::default();
    l.link("r", 0, Some("a"), &keys(1, None), Evidence::default());
    l.link("t", 10, Some("a"), &keys(2, Some(1)), Evidence::default());
    let retry = l.link(
        "t-again",
        20,
        Some("a"),
        &keys(2, Some(1)),
        Evidence::default(),
    );
    let again = l.link(
        "t-third",
        30,
        Some("a"),
        &keys(2, Some(1)),
        Evidence::default(),
    );
    for x in [&retry, &again] {
        assert_eq!(x.kind, LinkKind::Retry);
        assert_eq!(x.conversation_id, "r");
        assert_eq!(
            x.parent_trace,
            Some(TraceRef {
                trace_id: "t".into()
            })
        );
    }
    // The next turn follows the request, not a new branch.
    let next = l.link("u", 40, Some("a"), &keys(3, Some(2)), Evidence::default());
    assert_eq!((next.kind, next.branch), (LinkKind::Turn, 0));
    // A one-message request resent long after is a new conversation.
    let late = l.link(
        "late",
        RETRY_WINDOW_MS + 1,
        Some("a"),
        &keys(1, None),
        Evidence::default(),
    );
    assert_eq!(late.kind, LinkKind::Root);
}
