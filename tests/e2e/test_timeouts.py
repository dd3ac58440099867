"""Timeouts on both sides of the gateway. Clients that send half a head, half a body or
nothing are cut off in time (raw sockets); past `max_connections` a connection is answered
503 and closed. Upstreams that are slow to answer, stall mid-stream or run too long end in
a 504 or the provider's error event, traced with outcome `timeout` and the timeout named."""

from __future__ import annotations

import json
import socket
import time

import httpx

from harness import Gateway, Mock, StartGateway
from payloads import ANTHROPIC_HEADERS, anthropic_request, assert_anthropic_error

READ_LIMIT_S = 10.0


def config(mock: Mock, top: str = "", upstream: str = "") -> str:
    """Both upstreams at `mock`, with `top` settings and `upstream` keys on each upstream."""
    parts = [top.strip() + "\n"]
    for kind in ("anthropic", "openai"):
        parts.append(f'[[upstreams]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "{mock.url}"\n{upstream}\n')
    return "\n".join(parts)


def connect(gw: Gateway) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=READ_LIMIT_S)
    return s


def closed_after(s: socket.socket) -> float:
    """Seconds until the gateway closes `s` (reading whatever it sends first)."""
    start = time.monotonic()
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a content-length from `s`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed before a whole head: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    want = int(headers.get("content-length", "0"))
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def test_a_client_that_sends_half_a_head_is_cut_off(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=config(mock, "header_read_timeout_secs = 1\nkeep_alive_timeout_secs = 1"))
    s = connect(gw)
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nx-slow: ")
    took = closed_after(s)
    assert 0.5 < took < 5, took
    # The gateway still serves.
    assert gw.get("/health").status_code == 200


def test_a_client_that_sends_nothing_is_closed_after_the_keep_alive_timeout(
    start_gateway: StartGateway, mock: Mock
) -> None:
    gw = start_gateway(config=config(mock, "keep_alive_timeout_secs = 1\nheader_read_timeout_secs = 30"))
    silent = connect(gw)
    took = closed_after(silent)
    assert 0.5 < took < 5, took


def test_an_idle_keep_alive_connection_is_closed(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=config(mock, "keep_alive_timeout_secs = 1\nheader_read_timeout_secs = 30"))
    s = connect(gw)
    for _ in range(2):
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, headers, _ = read_response(s)
        assert status == 200
        assert headers.get("connection", "") != "close"
        time.sleep(0.3)
    took = closed_after(s)
    assert 0.3 < took < 5, took


def test_a_body_that_stalls_is_a_408_traced_and_in_flight_meanwhile(
    start_gateway: StartGateway, mock: Mock
) -> None:
    gw = start_gateway(config=config(mock, "body_read_timeout_secs = 2"))
    body = json.dumps(anthropic_request()).encode()
    head = (
        "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n"
        f"anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-e2e-slow-body\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    s = connect(gw)
    s.sendall(head.encode() + body[:10])
    time.sleep(0.5)
    inflight = gw.get("/api/v1/stats/inflight").json()
    assert [r["endpoint"] for r in inflight["data"]] == ["/v1/messages"], inflight
    started = time.monotonic()
    status, headers, answer = read_response(s)
    assert status == 408, answer
    assert 0.5 < time.monotonic() - started < 5
    error = json.loads(answer)
    assert_anthropic_error(error, "invalid_request_error")
    assert error["error"]["message"].startswith("timeout: "), error
    trace = gw.trace(headers["x-request-id"])
    assert (trace["status"], trace["outcome"]) == (408, "client_error"), trace
    assert "request body" in trace["error"] and trace["error"].startswith("timeout:"), trace
    assert closed_after(s) < 5
    assert gw.get("/api/v1/stats/inflight").json()["count"] == 0


def test_connections_past_the_cap_get_503_and_are_counted(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=config(mock, "max_connections = 3\nkeep_alive_timeout_secs = 30"))
    time.sleep(0.3)  # the readiness probes' connections are closed
    held = [connect(gw) for _ in range(3)]
    # A request on a held connection is served.
    held[0].sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert read_response(held[0])[0] == 200
    extra = connect(gw)
    status, headers, body = read_response(extra)
    assert status == 503, body
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["type"] == "overloaded_error"
    assert closed_after(extra) < 5
    for s in held:
        s.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            metrics = gw.get("/metrics").text
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert "tracegate_connections_rejected_total 1" in metrics, metrics
    assert "tracegate_connections_open" in metrics


def test_no_response_headers_in_time_is_a_504_naming_the_timeout(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=config(mock, upstream="headers_timeout_secs = 1"))
    started = time.monotonic()
    r = gw.post(
        "/v1/messages",
        json=anthropic_request(),
        headers={**ANTHROPIC_HEADERS, "x-mock-latency-ms": "4000"},
    )
    assert r.status_code == 504, r.text
    assert time.monotonic() - started < 3.5
    assert_anthropic_error(r.json(), "timeout_error")
    trace = gw.trace(r.headers["x-request-id"])
    assert trace["outcome"] == "timeout"
    assert trace["error"] == 'timeout: no response headers from upstream "anthropic" within 1s', trace


def test_a_stream_that_stalls_ends_with_the_providers_error_event(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=config(mock, upstream="idle_timeout_secs = 1"))
    with httpx.stream(
        "POST",
        gw.url + "/v1/messages",
        json=anthropic_request(stream=True),
        headers={**ANTHROPIC_HEADERS, "x-mock-inter-token-ms": "3000", "x-mock-output-tokens": "5"},
        timeout=30.0,
    ) as r:
        assert r.status_code == 200
        text = r.read().decode()
        request_id = r.headers["x-request-id"]
    assert text.rstrip().endswith("}"), text
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: error"), text
    assert "idle timeout" in last, last
    trace = gw.trace(request_id)
    assert (trace["status"], trace["outcome"]) == (200, "timeout")
    assert trace["error"] == 'timeout: upstream "anthropic" sent nothing for 1s in the middle of the response', trace


def test_the_total_timeout_is_named_when_it_cuts_a_steady_stream(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=config(mock, upstream="timeout_secs = 1\nidle_timeout_secs = 1"))
    with httpx.stream(
        "POST",
        gw.url + "/v1/messages",
        json=anthropic_request(stream=True),
        headers={**ANTHROPIC_HEADERS, "x-mock-inter-token-ms": "200", "x-mock-output-tokens": "20"},
        timeout=30.0,
    ) as r:
        text = r.read().decode()
        request_id = r.headers["x-request-id"]
    assert text.strip().split("\n\n")[-1].startswith("event: error"), text
    trace = gw.trace(request_id)
    assert trace["outcome"] == "timeout"
    assert trace["error"] == 'timeout: upstream "anthropic" did not finish the response within the total timeout of 1s', trace
