"""Requests the gateway refuses itself: oversize and malformed bodies, answered in the
provider's error format and recorded as traces."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from harness import Gateway, Mock, StartGateway, gateway_config, unique_prompt
from oracle import ANTHROPIC_MODEL, OPENAI_MODEL
from payloads import (
    ANTHROPIC_HEADERS,
    OPENAI_HEADERS,
    anthropic_request,
    assert_anthropic_error,
    assert_openai_error,
    openai_request,
)

MIB = 1024 * 1024


def padded_body(path: str, size: int) -> bytes:
    """A valid request body for `path` of exactly `size` bytes."""
    if path == "/v1/chat/completions":
        shell = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": ""}]}
    else:
        shell = {"model": ANTHROPIC_MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": ""}]}
    base = len(json.dumps(shell).encode())
    shell["messages"][0]["content"] = "x" * (size - base)
    body = json.dumps(shell).encode()
    assert len(body) == size
    return body


def headers_for(path: str) -> dict[str, str]:
    base = OPENAI_HEADERS if path == "/v1/chat/completions" else ANTHROPIC_HEADERS
    return {**base, "content-type": "application/json"}


def assert_format(path: str, body: object, anthropic_kind: str) -> None:
    if path == "/v1/chat/completions":
        assert_openai_error(body)
        assert body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    else:
        assert_anthropic_error(body, anthropic_kind)


def assert_client_error_trace(gw: Gateway, r: httpx.Response, path: str, status: int) -> dict:
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"]) == (status, "client_error")
    assert (trace["method"], trace["endpoint"]) == ("POST", path)
    assert trace["provider"] == ("openai" if path == "/v1/chat/completions" else "anthropic")
    assert trace["error"]
    return trace


PATHS = ["/v1/messages", "/v1/chat/completions"]


@pytest.mark.parametrize("path", PATHS)
def test_body_over_a_small_limit_is_413(start_gateway: StartGateway, path: str) -> None:
    gw = start_gateway(env={"TRACEGATE_MAX_BODY_BYTES": "4096"})
    ok = gw.post(path, content=padded_body(path, 4096), headers=headers_for(path))
    assert ok.status_code == 200, ok.text

    r = gw.post(path, content=padded_body(path, 4097), headers=headers_for(path))
    assert r.status_code == 413
    assert_format(path, r.json(), "request_too_large")
    assert_client_error_trace(gw, r, path, 413)


def test_chunked_body_over_the_limit_is_413(start_gateway: StartGateway) -> None:
    gw = start_gateway(env={"TRACEGATE_MAX_BODY_BYTES": "4096"})
    body = padded_body("/v1/messages", 8192)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    r = gw.post("/v1/messages", content=chunks(), headers=headers_for("/v1/messages"))
    assert r.status_code == 413
    assert_anthropic_error(r.json(), "request_too_large")
    assert_client_error_trace(gw, r, "/v1/messages", 413)


def test_33_mib_body_over_the_default_limit_is_413(gateway: Gateway) -> None:
    path = "/v1/messages"
    r = gateway.post(path, content=padded_body(path, 33 * MIB), headers=headers_for(path), timeout=60)
    assert r.status_code == 413
    assert_anthropic_error(r.json(), "request_too_large")
    assert_client_error_trace(gateway, r, path, 413)


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"])
@pytest.mark.parametrize("body", [b"this is not json", b'{"model": "m", "messages": [', b"[1, 2]", b""])
def test_non_json_body_is_400(gateway: Gateway, path: str, body: bytes) -> None:
    r = gateway.post(path, content=body, headers=headers_for(path))
    assert r.status_code == 400, r.text
    assert_format(path, r.json(), "invalid_request_error")
    trace = assert_client_error_trace(gateway, r, path, 400)
    expected = json.loads(body) if body.startswith(b"[1") else (body.decode() or None)
    assert trace["request_body"] == expected


def test_provider_without_an_upstream_is_404(start_gateway: StartGateway, mock: Mock) -> None:
    only_openai = gateway_config(mock.url).split("[[upstreams]]")[2]
    gw = start_gateway(config="[[upstreams]]" + only_openai)
    r = gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 404
    assert_anthropic_error(r.json(), "not_found_error")
    trace = assert_client_error_trace(gw, r, "/v1/messages", 404)
    assert trace["upstream"] is None
    assert gw.post("/v1/chat/completions", json=openai_request(), headers=OPENAI_HEADERS).status_code == 200


def test_unknown_route_outside_the_proxy_is_404(gateway: Gateway) -> None:
    r = gateway.get("/nope")
    assert r.status_code == 404


def test_any_other_v1_path_is_forwarded(gateway: Gateway) -> None:
    r = gateway.post(
        "/v1/embeddings",
        json={"model": "text-embedding-3-small", "input": unique_prompt("embed")},
        headers=OPENAI_HEADERS,
    )
    trace = gateway.trace(r.headers["x-request-id"])
    assert (trace["endpoint"], trace["provider"], trace["upstream"]) == ("/v1/embeddings", "openai", "openai")
    assert trace["status"] == r.status_code
    assert "x-mock-response-id" in r.headers
