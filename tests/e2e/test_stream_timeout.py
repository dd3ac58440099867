"""A stream cut by the gateway's own timeout ends with the provider's error event and a
clean end of body: the official SDKs raise an API error, not a transport error."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest

from harness import StartGateway
from oracle import ANTHROPIC_MODEL, OPENAI_MODEL, sse_events, sse_fields
from payloads import ANTHROPIC_HEADERS, OPENAI_HEADERS, anthropic_request, openai_request

# 20 tokens 200 ms apart outlast a 1 s timeout by far.
SLOW = {"x-mock-inter-token-ms": "200", "x-mock-output-tokens": "20"}


def test_anthropic_sdk_sees_a_timeout_error_event(start_gateway: StartGateway) -> None:
    gw = start_gateway(timeout_secs=1)
    client = anthropic.Anthropic(base_url=gw.url, api_key="sk-ant-e2e-timeout", max_retries=0, timeout=30.0)
    text = ""
    with pytest.raises(anthropic.APIError) as caught:
        with client.messages.stream(
            model=ANTHROPIC_MODEL,
            max_tokens=128,
            messages=[{"role": "user", "content": "count slowly"}],
            extra_headers=SLOW,
        ) as stream:
            for delta in stream.text_stream:
                text += delta
    err = caught.value
    assert not isinstance(err, anthropic.APIConnectionError), repr(err)
    assert isinstance(err, anthropic.APIStatusError), repr(err)
    assert "timeout" in str(err), str(err)
    assert isinstance(err.body, dict) and err.body["error"]["type"] == "timeout_error", err.body
    assert text, "the events before the cut were delivered"
    trace = gw.trace(err.response.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "timeout", True)
    client.close()


@pytest.mark.parametrize("include_usage", [False, True])
def test_openai_sdk_sees_a_timeout_error_chunk(start_gateway: StartGateway, include_usage: bool) -> None:
    """Without `include_usage` the gateway rewrites the stream; with it the bytes pass as
    they are: both end with the error chunk."""
    gw = start_gateway(timeout_secs=1)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-e2e-timeout", max_retries=0, timeout=30.0)
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    text = ""
    with pytest.raises(openai.APIError) as caught:
        stream = client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "count slowly"}],
            stream=True,
            extra_headers=SLOW,
            **extra,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    err = caught.value
    assert not isinstance(err, openai.APIConnectionError), repr(err)
    assert "timeout" in err.message, err.message
    assert isinstance(err.body, dict) and err.body["code"] == "timeout", err.body
    assert text, "the chunks before the cut were delivered"
    client.close()
    # The trace is written asynchronously, after the client saw the end of the stream.
    deadline = time.monotonic() + 10
    traces: list = []
    while not traces and time.monotonic() < deadline:
        traces = [t for t in gw.traces() if t["provider"] == "openai"]
        time.sleep(0.05)
    assert [(t["status"], t["outcome"]) for t in traces] == [(200, "timeout")]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_the_cut_stream_is_whole_events_then_the_error(start_gateway: StartGateway, path: str) -> None:
    gw = start_gateway(timeout_secs=1)
    anthropic_api = path == "/v1/messages"
    body = anthropic_request(True) if anthropic_api else openai_request(True, include_usage=True)
    headers = {**(ANTHROPIC_HEADERS if anthropic_api else OPENAI_HEADERS), **SLOW}
    with httpx.stream("POST", gw.url + path, json=body, headers=headers, timeout=30) as r:
        assert r.status_code == 200
        raw = r.read()  # ends cleanly: no transport error
        trace_id = r.headers["x-request-id"]
    events = sse_events(raw)
    assert len(events) >= 3, raw
    assert events[-1].endswith(b"\n\n"), raw[-300:]
    for ev in events[:-1]:
        name, data = sse_fields(ev)
        if data is not None and data != "[DONE]":
            json.loads(data)  # every event before the error is whole
    name, data = sse_fields(events[-1])
    error = json.loads(data or "")
    if anthropic_api:
        assert name == "error"
        assert error["type"] == "error" and error["error"]["type"] == "timeout_error", error
    else:
        assert name is None
        assert error["error"]["code"] == "timeout" and error["error"]["type"] == "server_error", error
        assert error["error"]["param"] is None
    assert "timeout" in raw.decode().split("\n\n")[-2]
    trace = gw.trace(trace_id)
    assert (trace["status"], trace["outcome"]) == (200, "timeout")
    assert trace["error"]
