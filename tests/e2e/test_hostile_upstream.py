"""An upstream that breaks the SSE framing: one event far larger than any provider sends
(no blank line for 17 MiB). The client still gets every byte, the events around it are
still recorded, and the trace says what it could not record. (That the parser's buffer stays
bounded is asserted by the SSE parser's own tests.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from harness import StartGateway, gateway_config
from payloads import ANTHROPIC_HEADERS, anthropic_request

GIANT = 17 * 1024 * 1024

HEAD = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    b'"model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":11,"output_tokens":1}}}\n\n'
    b"event: ping\n"
    b"data: "
)
TAIL = (
    b"\n\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"after"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":5}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)


class _Giant(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(HEAD) + GIANT + len(TAIL)))
        self.end_headers()
        self.wfile.write(HEAD)
        chunk = b"x" * (1024 * 1024)
        for _ in range(GIANT // len(chunk)):
            self.wfile.write(chunk)
        self.wfile.write(TAIL)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def giant_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Giant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endless_event_is_forwarded_whole_and_noted_in_the_trace(
    start_gateway: StartGateway, giant_upstream: str
) -> None:
    gw = start_gateway(config=gateway_config(giant_upstream))
    received = bytearray()
    with httpx.stream(
        "POST", gw.url + "/v1/messages", json=anthropic_request(True), headers=ANTHROPIC_HEADERS, timeout=60
    ) as r:
        assert r.status_code == 200
        trace_id = r.headers["x-request-id"]
        for part in r.iter_raw():
            received += part
    assert len(received) == len(HEAD) + GIANT + len(TAIL)
    assert bytes(received[: len(HEAD)]) == HEAD and bytes(received[-len(TAIL) :]) == TAIL
    assert received[len(HEAD) : len(HEAD) + GIANT] == b"x" * GIANT

    trace = gw.trace(trace_id)
    assert trace["outcome"] == "ok"
    assert "stream event(s) over 16 MiB forwarded but not recorded" in trace["error"]
    # The events around the giant one are still reassembled and counted.
    assert trace["response_body"]["content"] == [{"type": "text", "text": "after"}]
    assert (trace["input_tokens"], trace["output_tokens"]) == (11, 5)
