"""Request bodies and headers for raw HTTP calls, and the two providers' error formats."""

from __future__ import annotations

from typing import Any

from harness import unique_prompt
from oracle import ANTHROPIC_MODEL, OPENAI_MODEL

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-e2e-faults"}
OPENAI_HEADERS = {"authorization": "Bearer sk-e2e-faults"}


def anthropic_request(stream: bool = False) -> dict[str, Any]:
    return {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 128,
        "messages": [{"role": "user", "content": unique_prompt("faults")}],
        "stream": stream,
    }


def openai_request(stream: bool = False, include_usage: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": OPENAI_MODEL,
        "messages": [{"role": "user", "content": unique_prompt("faults")}],
        "stream": stream,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def assert_anthropic_error(body: Any, kind: str) -> None:
    assert set(body) == {"type", "error"}, body
    assert body["type"] == "error"
    assert body["error"]["type"] == kind, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_openai_error(body: Any) -> None:
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and err["type"]
    assert err["param"] is None and err["code"] is None
