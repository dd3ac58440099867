"""The official Anthropic SDK through the gateway: what the SDK gets is exactly what the
upstream sent, and the stored trace agrees with it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anthropic
import pytest

from harness import Gateway, Mock, assert_timing, unique_prompt
from oracle import (
    ANTHROPIC_MODEL,
    anthropic_stream_text,
    anthropic_stream_usage,
    anthropic_usage,
    expected_cost,
    fingerprint,
    token_fields,
    without_nones,
)

TTFT_MS = 120
SLOW_STREAM = {"x-mock-ttft-ms": str(TTFT_MS), "x-mock-inter-token-ms": "2"}


def check_message_trace(
    trace: dict[str, Any],
    *,
    trace_id: str,
    sent: dict[str, Any],
    usage: dict[str, Any],
    stream: bool,
    api_key: str,
    min_ttft_ms: float = 0.0,
) -> None:
    """The fields every successful `/v1/messages` trace must have."""
    assert uuid.UUID(trace_id) and trace["id"] == trace_id
    assert trace["status"] == 200
    assert trace["outcome"] == "ok", trace["error"]
    assert trace["error"] is None
    assert (trace["provider"], trace["upstream"]) == ("anthropic", "anthropic")
    assert (trace["method"], trace["endpoint"]) == ("POST", "/v1/messages")
    assert trace["stream"] is stream
    assert trace["model_requested"] == ANTHROPIC_MODEL
    assert trace["request_body"] == sent
    assert token_fields(trace) == anthropic_usage(usage)
    assert trace["input_tokens"] > 0 and trace["output_tokens"] > 0
    assert trace["total_tokens"] == sum(v or 0 for v in token_fields(trace).values())
    assert trace["cost_usd"] == pytest.approx(expected_cost(ANTHROPIC_MODEL, trace), rel=1e-9)
    assert trace["account"] == fingerprint(api_key)
    assert trace["client_ip"] == "127.0.0.1"
    assert "Python" in (trace["user_agent"] or "")
    assert_timing(trace, min_ttft_ms)


def test_create_returns_the_upstream_bytes_and_is_traced(
    anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock, api_key: str
) -> None:
    raw = anthropic_client.messages.with_raw_response.create(
        model=ANTHROPIC_MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": unique_prompt("create")}],
        extra_headers={"x-mock-output-tokens": "24"},
    )
    body = raw.read()
    message = raw.parse()
    mock_id = raw.headers["x-mock-response-id"]
    assert raw.status_code == 200
    assert body == mock.response_bytes(mock_id)
    sent = json.loads(raw.http_request.content)
    assert mock.request(mock_id)["body"] == sent
    assert message.usage.output_tokens == 24

    trace_id = raw.headers["x-request-id"]
    trace = gateway.trace(trace_id)
    check_message_trace(
        trace, trace_id=trace_id, sent=sent, usage=json.loads(body)["usage"], stream=False, api_key=api_key
    )
    assert trace["model"] == message.model
    assert trace["response_body"] == json.loads(body)


def test_create_stream_events_and_trace(
    anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock, api_key: str
) -> None:
    stream = anthropic_client.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": unique_prompt("create-stream")}],
        stream=True,
        extra_headers=SLOW_STREAM,
    )
    events = list(stream)
    headers = stream.response.headers
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop", types
    usage = events[0].message.usage.to_dict()
    for e in events:
        if e.type == "message_delta":
            usage.update({k: v for k, v in e.usage.to_dict().items() if v is not None})
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")

    raw = mock.response_bytes(headers["x-mock-response-id"])
    assert anthropic_stream_text(raw) == text
    sent = json.loads(stream.response.request.content)
    trace = gateway.trace(headers["x-request-id"])
    check_message_trace(
        trace,
        trace_id=headers["x-request-id"],
        sent=sent,
        usage=usage,
        stream=True,
        api_key=api_key,
        min_ttft_ms=TTFT_MS,
    )
    assert trace["response_body"]["content"] == [{"type": "text", "text": text}]


def test_stream_helper_final_message_is_the_stored_response(
    anthropic_client: anthropic.Anthropic, gateway: Gateway, api_key: str
) -> None:
    with anthropic_client.messages.stream(
        model=ANTHROPIC_MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": unique_prompt("stream-helper")}],
        extra_headers=SLOW_STREAM,
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        trace_id = stream.response.headers["x-request-id"]
        sent = json.loads(stream.response.request.content)
    assert text and final.content[0].text == text

    trace = gateway.trace(trace_id)
    check_message_trace(
        trace,
        trace_id=trace_id,
        sent=sent,
        usage=final.usage.to_dict(),
        stream=True,
        api_key=api_key,
        min_ttft_ms=TTFT_MS,
    )
    stored = trace["response_body"]
    assert without_nones(stored) == without_nones(final.to_dict(mode="json"))
    assert trace["model"] == final.model


def test_streaming_response_bytes_are_the_upstream_bytes(
    anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock, api_key: str
) -> None:
    with anthropic_client.messages.with_streaming_response.create(
        model=ANTHROPIC_MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": unique_prompt("raw-stream")}],
        stream=True,
        extra_headers={**SLOW_STREAM, "x-mock-output-tokens": "30"},
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        received = b"".join(resp.iter_bytes())
        headers = resp.headers
        sent = json.loads(resp.http_request.content)
    assert received == mock.response_bytes(headers["x-mock-response-id"])

    usage = anthropic_stream_usage(received)
    assert usage["output_tokens"] == 30
    trace = gateway.trace(headers["x-request-id"])
    check_message_trace(
        trace,
        trace_id=headers["x-request-id"],
        sent=sent,
        usage=usage,
        stream=True,
        api_key=api_key,
        min_ttft_ms=TTFT_MS,
    )
    assert trace["response_body"]["content"][0]["text"] == anthropic_stream_text(received)
    assert trace["response_body"]["usage"]["output_tokens"] == 30


def test_long_stream(anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock) -> None:
    with anthropic_client.messages.with_streaming_response.create(
        model=ANTHROPIC_MODEL,
        max_tokens=4096,
        messages=[{"role": "user", "content": unique_prompt("long")}],
        stream=True,
        extra_headers={"x-mock-output-tokens": "3000"},
    ) as resp:
        received = resp.read()
        headers = resp.headers
    assert received == mock.response_bytes(headers["x-mock-response-id"])
    trace = gateway.trace(headers["x-request-id"])
    assert (trace["outcome"], trace["output_tokens"]) == ("ok", 3000)
    assert trace["response_body"]["content"][0]["text"] == anthropic_stream_text(received)


def test_stream_is_stored_as_the_non_streaming_answer(anthropic_client: anthropic.Anthropic, gateway: Gateway) -> None:
    """The mock answers the same messages with the same text, streamed or not, so the stored
    reassembly of the stream must match the non-streaming body (id and usage aside)."""
    request = dict(
        model=ANTHROPIC_MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": unique_prompt("same-answer")}],
    )
    plain = anthropic_client.messages.with_raw_response.create(**request)
    with anthropic_client.messages.with_streaming_response.create(**request, stream=True) as resp:
        resp.read()
        trace_id = resp.headers["x-request-id"]
    stored = gateway.trace(trace_id)["response_body"]
    expected = json.loads(plain.read())
    assert set(stored["usage"]) == set(expected["usage"])
    for body in (stored, expected):
        body.pop("id")
        body.pop("usage")
    assert stored == expected


def test_count_tokens(anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock) -> None:
    raw = anthropic_client.messages.with_raw_response.count_tokens(
        model=ANTHROPIC_MODEL,
        messages=[{"role": "user", "content": unique_prompt("count")}],
    )
    body = raw.read()
    count = raw.parse()
    assert count.input_tokens > 0
    assert body == mock.response_bytes(raw.headers["x-mock-response-id"])
    trace = gateway.trace(raw.headers["x-request-id"])
    assert (trace["method"], trace["endpoint"]) == ("POST", "/v1/messages/count_tokens")
    assert (trace["status"], trace["outcome"], trace["provider"]) == (200, "ok", "anthropic")
    assert trace["request_body"] == json.loads(raw.http_request.content)
    assert trace["response_body"] == json.loads(body)


def test_models_list(anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock) -> None:
    raw = anthropic_client.models.with_raw_response.list(limit=2)
    body = raw.read()
    page = raw.parse()
    assert page.data and all(m.id for m in page.data)
    mock_id = raw.headers["x-mock-response-id"]
    assert body == mock.response_bytes(mock_id)
    assert mock.request(mock_id)["path"] == "/v1/models?limit=2"
    assert [m.id for m in anthropic_client.models.list()]
    trace = gateway.trace(raw.headers["x-request-id"])
    assert (trace["method"], trace["endpoint"], trace["provider"]) == ("GET", "/v1/models", "anthropic")
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "ok", False)
    assert trace["request_body"] is None
    assert trace["response_body"] == json.loads(body)


def test_unknown_model_has_tokens_but_no_cost(anthropic_client: anthropic.Anthropic, gateway: Gateway) -> None:
    raw = anthropic_client.messages.with_raw_response.create(
        model="e2e-unpriced-model",
        max_tokens=64,
        messages=[{"role": "user", "content": unique_prompt("unpriced")}],
    )
    message = raw.parse()
    trace = gateway.trace(raw.headers["x-request-id"])
    assert trace["outcome"] == "ok"
    assert trace["model_requested"] == "e2e-unpriced-model"
    assert trace["output_tokens"] == message.usage.output_tokens
    assert trace["cost_usd"] is None
