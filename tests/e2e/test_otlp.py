"""The OpenTelemetry export of the real binary: spans reach an OTLP/HTTP receiver started here,
without bodies, and the spans still queued at shutdown are sent before the process exits."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from harness import Gateway, StartGateway
from payloads import ANTHROPIC_HEADERS, anthropic_request


class Receiver:
    """Accepts `POST /v1/traces` and keeps each protobuf body as it came."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if self.path == "/v1/traces":
                    receiver.bodies.append(body)
                    receiver.content_types.append(self.headers.get("content-type", ""))
                    self.send_response(200)
                else:
                    self.send_response(404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def body_with(self, needle: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in list(self.bodies):
                if needle in body:
                    return body
            time.sleep(0.02)
        raise AssertionError(f"no export carried {needle!r}; {len(self.bodies)} received")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def send(gw: Gateway) -> tuple[str, str]:
    body = anthropic_request()
    r = gw.post("/v1/messages", json=body, headers={**ANTHROPIC_HEADERS, "x-tracegate-account": "otel-e2e"})
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"], body["messages"][0]["content"]


def test_each_trace_reaches_the_collector_as_a_span_without_its_body(
    start_gateway: StartGateway, receiver: Receiver
) -> None:
    gw = start_gateway(extra=f'otlp_endpoint = "{receiver.url}"\n[otlp_headers]\nx-otel-key = "k"')
    trace_id, prompt = send(gw)
    trace = gw.trace(trace_id)
    body = receiver.body_with(uuid.UUID(trace_id).bytes)
    assert receiver.content_types[0] == "application/x-protobuf"
    assert f"chat {trace['model']}".encode() in body
    for attribute in (b"gen_ai.provider.name", b"gen_ai.usage.output_tokens", b"tracegate.cost_usd"):
        assert attribute in body
    assert trace_id.encode() in body, "tracegate.trace_id"
    assert b"otel-e2e" in body, "tracegate.account"
    assert prompt.encode() not in body, "the request body is never exported"
    recorder = gw.get("/api/v1/recorder").json()
    assert recorder["otlp_exported"] >= 1
    assert recorder["otlp_dropped_export_error"] == 0


def test_spans_queued_at_shutdown_are_sent_before_exit(start_gateway: StartGateway, receiver: Receiver) -> None:
    gw = start_gateway(extra=f'otlp_endpoint = "{receiver.url}"')
    ids = [send(gw)[0] for _ in range(5)]
    assert gw.stop() == 0
    for trace_id in ids:
        receiver.body_with(uuid.UUID(trace_id).bytes, timeout=1.0)


def test_a_collector_that_is_down_does_not_hold_up_requests_or_the_store(start_gateway: StartGateway) -> None:
    down = Receiver()
    url = down.url
    down.close()
    gw = start_gateway(extra=f'otlp_endpoint = "{url}"')
    trace_id, _ = send(gw)
    assert gw.trace(trace_id)["outcome"] == "ok"
