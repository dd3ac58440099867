"""Cached input: the mock's prompt cache makes a repeated prefix come back as cache reads
(and, for Anthropic, the first sight as a cache write). The trace keeps the four token
figures apart and prices each at its own rate."""

from __future__ import annotations

import json
import secrets
from typing import Any

import anthropic
import openai
import pytest

from harness import Gateway
from oracle import (
    ANTHROPIC_MODEL,
    OPENAI_MODEL,
    anthropic_stream_usage,
    anthropic_usage,
    expected_cost,
    openai_stream_usage,
    openai_usage,
    token_fields,
)


def long_prefix() -> str:
    return f"Context {secrets.token_hex(8)}. " + "The gateway records every request as a trace. " * 150


def anthropic_call(client: anthropic.Anthropic, system: list[dict[str, Any]], stream: bool) -> tuple[dict, str]:
    """(usage, trace id) of one request with the cached `system` prompt."""
    request = dict(
        model=ANTHROPIC_MODEL,
        max_tokens=64,
        system=system,
        messages=[{"role": "user", "content": f"question {secrets.token_hex(4)}"}],
    )
    if stream:
        with client.messages.with_streaming_response.create(**request, stream=True) as resp:
            return anthropic_stream_usage(resp.read()), resp.headers["x-request-id"]
    raw = client.messages.with_raw_response.create(**request)
    return json.loads(raw.read())["usage"], raw.headers["x-request-id"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_cache_write_then_read(anthropic_client: anthropic.Anthropic, gateway: Gateway, stream: bool) -> None:
    system = [{"type": "text", "text": long_prefix(), "cache_control": {"type": "ephemeral"}}]
    first, first_id = anthropic_call(anthropic_client, system, stream)
    second, second_id = anthropic_call(anthropic_client, system, stream)
    assert first["cache_creation_input_tokens"] > 0
    assert second["cache_read_input_tokens"] > 0

    for usage, trace_id in ((first, first_id), (second, second_id)):
        trace = gateway.trace(trace_id)
        assert token_fields(trace) == anthropic_usage(usage)
        assert trace["cost_usd"] == pytest.approx(expected_cost(ANTHROPIC_MODEL, trace), rel=1e-9)
    read = gateway.trace(second_id)
    # 0.3 USD per million cached tokens read, not the 3 USD of plain input.
    plain_input_price = (read["input_tokens"] + read["cache_read_tokens"]) * 3.0 / 1e6
    assert read["cost_usd"] < plain_input_price + read["output_tokens"] * 15.0 / 1e6


def openai_call(client: openai.OpenAI, prefix: str, stream: bool) -> tuple[dict, str]:
    """(usage, trace id) of one request starting with the long `prefix`."""
    request = dict(
        model=OPENAI_MODEL,
        messages=[
            {"role": "system", "content": prefix},
            {"role": "user", "content": f"question {secrets.token_hex(4)}"},
        ],
    )
    if stream:
        with client.chat.completions.with_streaming_response.create(
            **request, stream=True, stream_options={"include_usage": True}
        ) as resp:
            usage = openai_stream_usage(resp.read())
            assert usage is not None
            return usage, resp.headers["x-request-id"]
    raw = client.chat.completions.with_raw_response.create(**request)
    return json.loads(raw.content)["usage"], raw.headers["x-request-id"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_cached_tokens_are_taken_out_of_the_input(
    openai_client: openai.OpenAI, gateway: Gateway, stream: bool
) -> None:
    prefix = long_prefix()
    openai_call(openai_client, prefix, stream)
    usage, trace_id = openai_call(openai_client, prefix, stream)
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < usage["prompt_tokens"]

    trace = gateway.trace(trace_id)
    assert token_fields(trace) == openai_usage(usage)
    assert trace["input_tokens"] == usage["prompt_tokens"] - cached
    assert trace["cache_read_tokens"] == cached
    assert trace["cost_usd"] == pytest.approx(expected_cost(OPENAI_MODEL, trace), rel=1e-9)
