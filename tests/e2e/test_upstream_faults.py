"""Upstream failures: error statuses pass through unchanged, failures inside a stream and
clients that leave are recorded with the right outcome, dead or slow upstreams get the
gateway's own 502/504 in the provider's format."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from harness import Gateway, Mock, StartGateway, free_port, gateway_config
from oracle import sse_events, sse_fields, strip_injected_usage
from payloads import (
    ANTHROPIC_HEADERS,
    OPENAI_HEADERS,
    anthropic_request,
    assert_anthropic_error,
    assert_openai_error,
    openai_request,
)

# --- error statuses from the upstream --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "stream"),
    [
        (429, anthropic.RateLimitError, False),
        (500, anthropic.InternalServerError, False),
        (529, anthropic.OverloadedError, False),
        (429, anthropic.RateLimitError, True),
    ],
)
def test_anthropic_error_status_passes_through(
    anthropic_client: anthropic.Anthropic,
    gateway: Gateway,
    mock: Mock,
    status: int,
    error: type[Exception],
    stream: bool,
) -> None:
    with pytest.raises(error) as caught:
        result = anthropic_client.messages.create(
            **anthropic_request(stream), extra_headers={"x-mock-status": str(status)}
        )
        if stream:
            list(result)
    resp = caught.value.response
    assert resp.status_code == status
    assert resp.content == mock.response_bytes(resp.headers["x-mock-response-id"])
    if status == 429:
        assert resp.headers.get("retry-after") is not None
    trace = gateway.trace(resp.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["stream"]) == (status, "upstream_error", stream)
    assert trace["error"]
    assert trace["response_body"] == resp.json()
    assert trace["cost_usd"] is None


@pytest.mark.parametrize(("status", "error"), [(429, openai.RateLimitError), (500, openai.InternalServerError)])
def test_openai_error_status_passes_through(
    openai_client: openai.OpenAI, gateway: Gateway, mock: Mock, status: int, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        openai_client.chat.completions.create(**openai_request(), extra_headers={"x-mock-status": str(status)})
    resp = caught.value.response
    assert resp.status_code == status
    assert resp.content == mock.response_bytes(resp.headers["x-mock-response-id"])
    trace = gateway.trace(resp.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["provider"]) == (status, "upstream_error", "openai")
    assert trace["error"]
    assert trace["response_body"] == resp.json()


# --- failures inside a stream ----------------------------------------------------------


def test_anthropic_error_event_mid_stream(gateway: Gateway, mock: Mock) -> None:
    headers = {**ANTHROPIC_HEADERS, "x-mock-error-after": "3"}
    with httpx.stream(
        "POST", gateway.url + "/v1/messages", json=anthropic_request(True), headers=headers, timeout=30
    ) as r:
        received = r.read()
    assert r.status_code == 200
    assert received == mock.response_bytes(r.headers["x-mock-response-id"])
    names = [sse_fields(ev)[0] for ev in sse_events(received)]
    assert "error" in names and names.count("content_block_delta") == 3, names
    trace = gateway.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "upstream_error", True)
    assert trace["error"]


def test_anthropic_sdk_raises_on_error_event(anthropic_client: anthropic.Anthropic, gateway: Gateway) -> None:
    stream = anthropic_client.messages.create(**anthropic_request(True), extra_headers={"x-mock-error-after": "2"})
    with pytest.raises(anthropic.APIError):
        list(stream)
    trace = gateway.trace(stream.response.headers["x-request-id"])
    assert trace["outcome"] == "upstream_error"


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_error_mid_stream(gateway: Gateway, mock: Mock, include_usage: bool) -> None:
    headers = {**OPENAI_HEADERS, "x-mock-error-after": "3"}
    body = openai_request(True, include_usage)
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30) as r:
        received = r.read()
    assert r.status_code == 200
    upstream = mock.response_bytes(r.headers["x-mock-response-id"])
    assert b'"error"' in upstream
    assert received == (upstream if include_usage else strip_injected_usage(upstream))
    trace = gateway.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "upstream_error", True)
    assert trace["error"]


# --- clients that leave ----------------------------------------------------------------

SLOW = {"x-mock-inter-token-ms": "100", "x-mock-output-tokens": "100"}  # ~10 s if read to the end


def test_anthropic_client_disconnect_is_cancelled(anthropic_client: anthropic.Anthropic, gateway: Gateway) -> None:
    started = time.monotonic()
    stream = anthropic_client.messages.create(**anthropic_request(True), extra_headers=SLOW)
    deltas = 0
    for event in stream:
        deltas += event.type == "content_block_delta"
        if deltas == 3:
            break
    stream.close()
    trace = gateway.trace(stream.response.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "cancelled", True)
    assert trace["duration_ms"] < (time.monotonic() - started) * 1000 + 1000
    assert trace["duration_ms"] < 8000


def test_openai_client_disconnect_is_cancelled(gateway: Gateway) -> None:
    client = httpx.Client(timeout=30)
    with client.stream(
        "POST", gateway.url + "/v1/chat/completions", json=openai_request(True), headers={**OPENAI_HEADERS, **SLOW}
    ) as r:
        trace_id = r.headers["x-request-id"]
        got = b""
        for chunk in r.iter_raw():
            got += chunk
            if got.count(b"data: ") >= 3:
                break
    client.close()
    trace = gateway.trace(trace_id)
    assert (trace["status"], trace["outcome"], trace["provider"]) == (200, "cancelled", "openai")
    assert trace["duration_ms"] < 8000


def test_client_leaving_before_the_headers_is_cancelled(gateway: Gateway) -> None:
    headers = {**ANTHROPIC_HEADERS, "x-mock-latency-ms": "1500"}
    with pytest.raises(httpx.TimeoutException):
        httpx.post(gateway.url + "/v1/messages", json=anthropic_request(), headers=headers, timeout=0.3)
    deadline = time.monotonic() + 5
    while not (traces := gateway.traces()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(traces) == 1, traces
    trace = traces[0]
    assert (trace["outcome"], trace["status"]) == ("cancelled", None)
    assert trace["duration_ms"] < 1400, "the gateway waited for the upstream after the client left"


# --- dead and slow upstreams -----------------------------------------------------------


def test_unreachable_upstream_is_502(start_gateway: StartGateway) -> None:
    gw = start_gateway(config=gateway_config(f"http://127.0.0.1:{free_port()}"))
    r = gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 502
    assert_anthropic_error(r.json(), "api_error")
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["upstream"]) == (502, "gateway_error", "anthropic")

    r = gw.post("/v1/chat/completions", json=openai_request(), headers=OPENAI_HEADERS)
    assert r.status_code == 502
    assert_openai_error(r.json())
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["upstream"]) == (502, "gateway_error", "openai")


def test_slow_upstream_is_504(start_gateway: StartGateway) -> None:
    gw = start_gateway(timeout_secs=1)
    slow = {"x-mock-latency-ms": "3000"}
    r = gw.post("/v1/messages", json=anthropic_request(), headers={**ANTHROPIC_HEADERS, **slow})
    assert r.status_code == 504
    assert_anthropic_error(r.json(), "timeout_error")
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"]) == (504, "timeout")
    assert 900 <= trace["duration_ms"] < 2900

    r = gw.post("/v1/chat/completions", json=openai_request(), headers={**OPENAI_HEADERS, **slow})
    assert r.status_code == 504
    assert_openai_error(r.json())
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["provider"]) == (504, "timeout", "openai")


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_upstream_dying_mid_stream_is_an_upstream_error(gateway: Gateway, mock: Mock, path: str) -> None:
    anthropic_api = path == "/v1/messages"
    body = anthropic_request(True) if anthropic_api else openai_request(True)
    headers = {**(ANTHROPIC_HEADERS if anthropic_api else OPENAI_HEADERS), **SLOW}
    received = b""
    with httpx.stream("POST", gateway.url + path, json=body, headers=headers, timeout=30) as r:
        trace_id = r.headers["x-request-id"]
        with pytest.raises(httpx.HTTPError):
            for chunk in r.iter_raw():
                received += chunk
                if received.count(b"data:") >= 4 and mock.running():
                    mock.kill()
    trace = gateway.trace(trace_id)
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "upstream_error", True)
    assert trace["error"]
    if anthropic_api:
        text = trace["response_body"]["content"][0]["text"]
    else:
        text = trace["response_body"]["choices"][0]["message"]["content"]
    assert text, "the partial answer was not kept"


def test_stream_longer_than_the_timeout_is_cut(start_gateway: StartGateway) -> None:
    gw = start_gateway(timeout_secs=1)
    headers = {**ANTHROPIC_HEADERS, "x-mock-inter-token-ms": "200", "x-mock-output-tokens": "20"}
    with httpx.stream("POST", gw.url + "/v1/messages", json=anthropic_request(True), headers=headers, timeout=30) as r:
        assert r.status_code == 200
        trace_id = r.headers["x-request-id"]
        raw = r.read()  # the cut stream ends with an error event, then cleanly
    assert sse_fields(sse_events(raw)[-1])[0] == "error", raw[-300:]
    trace = gw.trace(trace_id)
    assert (trace["status"], trace["outcome"], trace["stream"]) == (200, "timeout", True)
    assert 900 <= trace["duration_ms"] < 3500


# --- pacing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", "anthropic"),
        ("/v1/chat/completions", "openai, usage injected"),
        ("/v1/chat/completions", "openai, usage asked for"),
    ],
)
def test_streams_are_forwarded_as_they_arrive(gateway: Gateway, path: str, body: str) -> None:
    """With 100 ms between tokens, the first token must reach the client long before the last."""
    if body == "anthropic":
        request, headers, marker = anthropic_request(True), ANTHROPIC_HEADERS, b"content_block_delta"
    else:
        request, headers = openai_request(True, include_usage=body.endswith("asked for")), OPENAI_HEADERS
        marker = b'"delta":{"content"'
    headers = {**headers, "x-mock-inter-token-ms": "100", "x-mock-output-tokens": "10"}
    received, first_token_at = b"", None
    with httpx.stream("POST", gateway.url + path, json=request, headers=headers, timeout=30) as r:
        for chunk in r.iter_raw():
            received += chunk
            if first_token_at is None and marker in received:
                first_token_at = time.monotonic()
    ended_at = time.monotonic()
    assert first_token_at is not None, received
    assert ended_at - first_token_at > 0.6, "the stream was buffered instead of forwarded"
