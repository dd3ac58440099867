//! End-to-end linking scenarios over realistic request and response bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::fixtures::ClaudeCode;
use super::*;

mod agents;
mod compaction;
mod linear;
mod noise;

const SESSION: &str = "7d2e9a41-5c3b-4f0e-9b6a-1e2d3c4b5a69";
const ALICE: Option<&str> = Some("cred:1a2b3c4d5e6f");
const BOB: Option<&str> = Some("cred:99aa88bb77cc");
const TASK_PROMPT: &str = "Search the codebase for every place a coupon discount is applied to a cart total.\nReport file paths and line numbers, and whether the discount can be applied twice.";

/// A linker with a clock that advances 5 s per request.
struct Run {
    linker: Linker,
    now: i64,
    provider: Provider,
}

impl Run {
    fn new() -> Self {
        Run::with(Provider::Anthropic)
    }

    fn with(provider: Provider) -> Self {
        Run {
            linker: Linker::default(),
            now: 1_757_671_200_000,
            provider,
        }
    }

    fn link(
        &mut self,
        id: &str,
        account: Option<&str>,
        request: &Value,
        response: &Value,
    ) -> LinkedTrace {
        self.now += 5_000;
        let keys = link_keys(self.provider, request).expect("request has messages");
        let prompts = task_prompt_hashes(self.provider, response);
        let answer = answer_fingerprint(self.provider, response);
        let summary = continuation_summary(self.provider, request);
        let evidence = Evidence {
            task_prompts: &prompts,
            answer: answer.as_ref(),
            summary: summary.as_ref(),
        };
        self.linker.link(id, self.now, account, &keys, evidence)
    }
}

fn assert_link(
    l: &LinkedTrace,
    conversation: &str,
    parent: Option<&str>,
    branch: u32,
    kind: LinkKind,
) {
    let want = LinkedTrace {
        conversation_id: conversation.to_owned(),
        parent_trace: parent.map(|p| TraceRef {
            trace_id: p.to_owned(),
        }),
        branch,
        kind,
    };
    assert_eq!(l, &want);
}

fn keys(body: &Value) -> LinkKeys {
    link_keys(Provider::Anthropic, body).expect("request has messages")
}

/// Five requests of one task: read, test, edit, answer, follow-up question.
fn five_turns(s: &mut ClaudeCode) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    s.user("The cart total is wrong when a coupon is applied. Find out why.");
    let r = s.request();
    out.push((
        r,
        s.call("Read", json!({ "file_path": "/home/dev/shop/src/cart.rs" })),
    ));
    s.tool_result("     1\tpub fn total(cart: &Cart) -> Money {\n     2\t    cart.items.iter().map(|i| i.price).sum::<Money>() - cart.discount() - cart.discount()\n     3\t}");
    let r = s.request();
    out.push((
        r,
        s.call(
            "Bash",
            json!({ "command": "cargo test cart", "description": "Run cart tests" }),
        ),
    ));
    s.tool_result("running 4 tests\ntest cart::coupon_applies_once ... FAILED\n\ntest result: FAILED. 3 passed; 1 failed");
    let r = s.request();
    out.push((r, s.call("Edit", json!({ "file_path": "/home/dev/shop/src/cart.rs", "old_string": " - cart.discount() - cart.discount()", "new_string": " - cart.discount()" }))));
    s.tool_result("The file /home/dev/shop/src/cart.rs has been updated.");
    let r = s.request();
    out.push((
        r,
        s.reply("Fixed: the coupon discount was subtracted twice in `total`."),
    ));
    s.user("Thanks. Add a regression test for it.");
    let r = s.request();
    out.push((
        r,
        s.reply("Added `coupon_applies_once_regression` to tests/cart.rs."),
    ));
    out
}
