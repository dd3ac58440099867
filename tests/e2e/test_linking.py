"""Conversation linking through the gateway: an SDK retry after a 529 is recorded as a retry
of the failed attempt, not as a new turn; compacted continuations of two interleaved sessions
of one account each join the conversation whose summary they carry, streamed or not."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from harness import Gateway
from payloads import ANTHROPIC_MODEL

MARKER = "This session is being continued from a previous conversation that ran out of context."
COMPACT = (
    "Your task is to create a detailed summary of the conversation so far, paying close attention "
    "to the user's explicit requests and your previous actions."
)


@pytest.fixture
def retrying_client(gateway: Gateway, api_key: str) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=api_key, max_retries=2, timeout=30.0)
    yield client
    client.close()


def send(
    client: anthropic.Anthropic,
    messages: list[dict[str, Any]],
    stream: bool,
    headers: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Sends one request; returns the answer's text and the trace id."""
    headers = {"x-mock-output-tokens": "12", **(headers or {})}
    if stream:
        events = client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=1024, messages=messages, stream=True, extra_headers=headers
        )
        text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
        return text, events.response.headers["x-request-id"]
    raw = client.messages.with_raw_response.create(
        model=ANTHROPIC_MODEL, max_tokens=1024, messages=messages, extra_headers=headers
    )
    message = raw.parse()
    return "".join(b.text for b in message.content if b.type == "text"), raw.headers["x-request-id"]


def turn(
    client: anthropic.Anthropic,
    history: list[dict[str, Any]],
    text: str,
    stream: bool,
    headers: dict[str, str] | None = None,
) -> str:
    """A user turn: appends it and the answer to `history`; returns the trace id."""
    history.append({"role": "user", "content": text})
    answer, trace_id = send(client, history, stream, headers)
    history.append({"role": "assistant", "content": answer})
    return trace_id


def link(gateway: Gateway, trace_id: str) -> tuple[str, str | None, str]:
    t = gateway.trace(trace_id)
    return t["conversation_id"], t["parent_id"], t["link_kind"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_sdk_retry_after_529_is_a_retry_not_a_turn(
    retrying_client: anthropic.Anthropic, gateway: Gateway, stream: bool
) -> None:
    history: list[dict[str, Any]] = []
    fail_once = {"x-mock-status": "529", "x-mock-fail-first": "1"}
    first_ok = turn(
        retrying_client,
        history,
        f"Why is the cart total wrong? {secrets.token_hex(4)}",
        stream,
        {**fail_once, "x-mock-fail-key": secrets.token_hex(8)},
    )
    second_ok = turn(
        retrying_client, history, "Fix it.", stream, {**fail_once, "x-mock-fail-key": secrets.token_hex(8)}
    )
    # Traces are written asynchronously: wait for the last one before listing them all.
    link(gateway, second_ok)
    conversation = link(gateway, first_ok)[0]
    traces = [t for t in gateway.traces(limit=50) if t["conversation_id"] == conversation]
    failed = sorted((t for t in traces if t["status"] == 529), key=lambda t: t["id"])
    assert len(traces) == 4 and len(failed) == 2, [(t["status"], t["link_kind"]) for t in traces]
    first_failed, second_failed = failed[0]["id"], failed[1]["id"]

    assert link(gateway, first_failed) == (first_failed, None, "root")
    assert link(gateway, first_ok) == (first_failed, first_failed, "retry")
    assert link(gateway, second_failed) == (first_failed, first_ok, "turn")
    assert link(gateway, second_ok) == (first_failed, second_failed, "retry")

    convo = gateway.get(f"/api/v1/conversations/{conversation}")
    assert convo.status_code == 200, convo.text
    assert convo.json()["requests"] == 4, convo.json()


def rewritten(summary: str) -> str:
    """The first user message of a continued session, as the client writes it."""
    return (
        f"{MARKER} The conversation is summarized below:\nSummary:\n  "
        + "\n  ".join(summary.split(". "))
        + "\n\nPlease continue the conversation from where we left it off without asking the user "
        "any further questions. Continue with the last task that you were asked to work on."
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_interleaved_compacted_sessions_keep_their_conversations(
    anthropic_client: anthropic.Anthropic, gateway: Gateway, stream: bool
) -> None:
    a: list[dict[str, Any]] = []
    b: list[dict[str, Any]] = []
    tag = secrets.token_hex(4)
    a_root = turn(anthropic_client, a, f"The coupon is applied twice ({tag}).", stream)
    b_root = turn(anthropic_client, b, f"Invoices print dollars for euros ({tag}).", stream)
    turn(anthropic_client, a, "Go on.", stream)
    turn(anthropic_client, b, "Go on.", stream)

    summaries = {}
    compactions = {}
    for name, history in (("a", a), ("b", b)):
        long = {"x-mock-output-tokens": "300"}
        summary, trace_id = send(
            anthropic_client, [*history, {"role": "user", "content": COMPACT}], stream, long
        )
        assert len(summary.split()) > 100, summary
        summaries[name], compactions[name] = summary, trace_id

    # B compacted last, yet A's continuation finds A by its summary.
    a2: list[dict[str, Any]] = []
    b2: list[dict[str, Any]] = []
    a_cont = turn(anthropic_client, a2, rewritten(summaries["a"]), stream)
    b_cont = turn(anthropic_client, b2, rewritten(summaries["b"]), stream)
    orphan: list[dict[str, Any]] = []
    never_seen = " ".join(f"word{i}{tag}" for i in range(120))
    o_cont = turn(anthropic_client, orphan, rewritten(never_seen), stream)
    assert link(gateway, a_cont) == (a_root, compactions["a"], "continuation")
    assert link(gateway, b_cont) == (b_root, compactions["b"], "continuation")
    assert link(gateway, o_cont) == (o_cont, None, "continuation")

    # Later turns, interleaved, stay where they belong.
    for i in range(3):
        for history, root in ((a2, a_root), (b2, b_root), (orphan, o_cont)):
            trace_id = turn(anthropic_client, history, f"Step {i}.", stream)
            conversation, _, kind = link(gateway, trace_id)
            assert (conversation, kind) == (root, "turn"), (i, root)
