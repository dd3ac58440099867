"""The official OpenAI SDK through the gateway, including the usage the gateway asks for on
a stream whose client did not."""

from __future__ import annotations

import json
import uuid
from typing import Any

import openai
import pytest

from harness import Gateway, Mock, assert_timing, unique_prompt
from oracle import (
    OPENAI_MODEL,
    expected_cost,
    fingerprint,
    openai_stream_text,
    openai_stream_usage,
    openai_usage,
    strip_injected_usage,
    token_fields,
    without_nones,
)

TTFT_MS = 120
SLOW_STREAM = {"x-mock-ttft-ms": str(TTFT_MS), "x-mock-inter-token-ms": "2"}


def check_chat_trace(
    trace: dict[str, Any],
    *,
    sent: dict[str, Any],
    usage: dict[str, Any],
    stream: bool,
    api_key: str,
    min_ttft_ms: float = 0.0,
) -> None:
    """The fields every successful `/v1/chat/completions` trace must have."""
    assert uuid.UUID(trace["id"])
    assert trace["status"] == 200
    assert trace["outcome"] == "ok", trace["error"]
    assert trace["error"] is None
    assert (trace["provider"], trace["upstream"]) == ("openai", "openai")
    assert (trace["method"], trace["endpoint"]) == ("POST", "/v1/chat/completions")
    assert trace["stream"] is stream
    assert trace["model_requested"] == OPENAI_MODEL
    assert trace["request_body"] == sent
    assert token_fields(trace) == openai_usage(usage)
    assert trace["input_tokens"] > 0 and trace["output_tokens"] > 0
    assert trace["total_tokens"] == sum(v or 0 for v in token_fields(trace).values())
    assert trace["cost_usd"] == pytest.approx(expected_cost(OPENAI_MODEL, trace), rel=1e-9)
    assert trace["account"] == fingerprint(api_key)
    assert trace["client_ip"] == "127.0.0.1"
    assert_timing(trace, min_ttft_ms)


def test_create_returns_the_upstream_bytes_and_is_traced(
    openai_client: openai.OpenAI, gateway: Gateway, mock: Mock, api_key: str
) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": unique_prompt("chat")}],
        extra_headers={"x-mock-output-tokens": "20"},
    )
    completion = raw.parse()
    mock_id = raw.headers["x-mock-response-id"]
    assert raw.status_code == 200
    assert raw.content == mock.response_bytes(mock_id)
    assert completion.usage is not None and completion.usage.completion_tokens == 20
    sent = json.loads(raw.http_request.content)
    assert mock.request(mock_id)["body"] == sent

    trace_id = raw.headers["x-request-id"]
    upstream_id = raw.headers.get("x-upstream-request-id")
    assert upstream_id and upstream_id != trace_id
    trace = gateway.trace(trace_id)
    body = json.loads(raw.content)
    check_chat_trace(trace, sent=sent, usage=body["usage"], stream=False, api_key=api_key)
    assert trace["model"] == completion.model
    assert trace["response_body"] == body


@pytest.mark.parametrize("stream_options", [None, {"include_usage": False}])
def test_stream_without_include_usage_hides_the_injected_usage(
    openai_client: openai.OpenAI, gateway: Gateway, mock: Mock, api_key: str, stream_options: Any
) -> None:
    extra = {} if stream_options is None else {"stream_options": stream_options}
    with openai_client.chat.completions.with_streaming_response.create(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": unique_prompt("chat-stream")}],
        stream=True,
        extra_headers=SLOW_STREAM,
        **extra,
    ) as resp:
        assert resp.status_code == 200
        received = b"".join(resp.iter_bytes())
        headers = resp.headers
        sent = json.loads(resp.http_request.content)
    assert sent.get("stream_options") == stream_options

    mock_id = headers["x-mock-response-id"]
    upstream_sent = mock.request(mock_id)["body"]
    assert upstream_sent["stream_options"]["include_usage"] is True
    upstream_bytes = mock.response_bytes(mock_id)
    usage = openai_stream_usage(upstream_bytes)
    assert usage is not None, "the gateway did not ask the upstream for usage"
    assert received == strip_injected_usage(upstream_bytes)
    assert b'"usage"' not in received
    assert received.endswith(b"data: [DONE]\n\n")

    trace = gateway.trace(headers["x-request-id"])
    check_chat_trace(trace, sent=sent, usage=usage, stream=True, api_key=api_key, min_ttft_ms=TTFT_MS)
    assert trace["response_body"]["choices"][0]["message"]["content"] == openai_stream_text(received)
    assert trace["response_body"]["usage"]["completion_tokens"] == usage["completion_tokens"]


def test_long_stream_without_include_usage(openai_client: openai.OpenAI, gateway: Gateway, mock: Mock) -> None:
    with openai_client.chat.completions.with_streaming_response.create(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": unique_prompt("long")}],
        stream=True,
        extra_headers={"x-mock-output-tokens": "3000"},
    ) as resp:
        received = resp.read()
        headers = resp.headers
    upstream = mock.response_bytes(headers["x-mock-response-id"])
    assert received == strip_injected_usage(upstream)
    trace = gateway.trace(headers["x-request-id"])
    assert (trace["outcome"], trace["output_tokens"]) == ("ok", 3000)
    assert trace["response_body"]["choices"][0]["message"]["content"] == openai_stream_text(received)


def test_sdk_stream_without_include_usage_yields_no_usage(
    openai_client: openai.OpenAI, gateway: Gateway, api_key: str
) -> None:
    stream = openai_client.chat.completions.create(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": unique_prompt("chat-sdk-stream")}],
        stream=True,
        extra_headers={"x-mock-output-tokens": "12"},
    )
    chunks = list(stream)
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks), "a usage-only chunk reached the client"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    sent = json.loads(stream.response.request.content)

    trace = gateway.trace(stream.response.headers["x-request-id"])
    assert trace["output_tokens"] == 12
    assert trace["response_body"]["choices"][0]["message"]["content"] == text
    usage = trace["response_body"]["usage"]
    check_chat_trace(trace, sent=sent, usage=usage, stream=True, api_key=api_key)


def test_stream_with_include_usage_is_unchanged(
    openai_client: openai.OpenAI, gateway: Gateway, mock: Mock, api_key: str
) -> None:
    request = dict(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": unique_prompt("chat-usage")}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=SLOW_STREAM,
    )
    with openai_client.chat.completions.with_streaming_response.create(**request) as resp:
        received = b"".join(resp.iter_bytes())
        headers = resp.headers
        sent = json.loads(resp.http_request.content)
    assert received == mock.response_bytes(headers["x-mock-response-id"])
    usage = openai_stream_usage(received)
    assert usage is not None
    trace = gateway.trace(headers["x-request-id"])
    check_chat_trace(trace, sent=sent, usage=usage, stream=True, api_key=api_key, min_ttft_ms=TTFT_MS)

    chunks = list(openai_client.chat.completions.create(**request))
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens > 0


def test_stream_is_stored_as_the_non_streaming_answer(
    openai_client: openai.OpenAI, gateway: Gateway, mock: Mock
) -> None:
    """The mock answers the same messages with the same text, streamed or not, so the stored
    reassembly of the stream must match the non-streaming body (ids and usage aside)."""
    messages = [{"role": "user", "content": unique_prompt("same-answer")}]
    plain = openai_client.chat.completions.with_raw_response.create(model=OPENAI_MODEL, messages=messages)
    with openai_client.chat.completions.with_streaming_response.create(
        model=OPENAI_MODEL, messages=messages, stream=True
    ) as resp:
        resp.read()
        trace_id = resp.headers["x-request-id"]
    stored = gateway.trace(trace_id)["response_body"]
    expected = json.loads(plain.content)
    volatile = ("id", "created", "system_fingerprint", "usage")
    assert set(stored["usage"]) == set(expected["usage"])
    for body in (stored, expected):
        for key in volatile:
            body.pop(key)
        for choice in body["choices"]:
            if choice["message"].get("annotations") == []:
                del choice["message"]["annotations"]  # not carried by a stream
    assert without_nones(stored) == without_nones(expected)


def test_models_list(openai_client: openai.OpenAI, gateway: Gateway, mock: Mock) -> None:
    raw = openai_client.models.with_raw_response.list()
    page = raw.parse()
    assert page.data and all(m.id for m in page.data)
    assert raw.content == mock.response_bytes(raw.headers["x-mock-response-id"])
    assert [m.id for m in openai_client.models.list()]
    trace = gateway.trace(raw.headers["x-request-id"])
    assert (trace["method"], trace["endpoint"], trace["provider"]) == ("GET", "/v1/models", "openai")
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "ok", False)
    assert trace["response_body"] == json.loads(raw.content)
