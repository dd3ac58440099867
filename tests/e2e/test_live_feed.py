"""GET /api/v1/live: a client reading the feed with a streaming HTTP client sees a request
sent through the gateway as `inflight_start`, `inflight_end` and `trace` events; a
reconnect with Last-Event-ID gets what it missed. The dashboard page is served at /."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import httpx

from harness import Gateway
from payloads import ANTHROPIC_HEADERS, anthropic_request


def _read_events(gateway: Gateway, out: queue.Queue, opened: threading.Event, headers: dict[str, str] | None = None) -> None:
    """Reads SSE events (name, id, data) into `out` until the stream ends (or the gateway
    stops at teardown)."""
    try:
        _stream_events(gateway, out, opened, headers)
    except httpx.HTTPError:
        pass


def _stream_events(gateway: Gateway, out: queue.Queue, opened: threading.Event, headers: dict[str, str] | None) -> None:
    timeout = httpx.Timeout(30.0, read=60.0)
    with httpx.stream("GET", f"{gateway.url}/api/v1/live", headers=headers or {}, timeout=timeout) as r:
        out.put(("status", r.status_code, r.headers.get("content-type", "")))
        opened.set()
        event: dict[str, str] = {}
        for line in r.iter_lines():
            if line == "":
                if "event" in event:
                    out.put((event["event"], event.get("id", ""), event.get("data", "")))
                event = {}
            elif not line.startswith(":") and ": " in line:
                key, value = line.split(": ", 1)
                event[key] = value


def _subscribe(gateway: Gateway, headers: dict[str, str] | None = None) -> queue.Queue:
    out: queue.Queue = queue.Queue()
    opened = threading.Event()
    threading.Thread(target=_read_events, args=(gateway, out, opened, headers), daemon=True).start()
    assert opened.wait(10), "the feed did not answer"
    status = out.get(timeout=1)
    assert status[1] == 200 and status[2].startswith("text/event-stream"), status
    return out


def _until(out: queue.Queue, name: str) -> tuple[list[tuple[str, str, str]], tuple[str, str, str]]:
    seen = []
    while True:
        e = out.get(timeout=15)
        if e[0] == name:
            return seen, e
        seen.append(e)


def test_a_request_through_the_mock_shows_up_on_the_live_feed(gateway: Gateway) -> None:
    out = _subscribe(gateway)
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        headers={**ANTHROPIC_HEADERS, "x-tracegate-account": "live-e2e"},
        json=anthropic_request(),
        timeout=30.0,
    )
    assert r.status_code == 200, r.text
    trace_id = r.headers["x-request-id"]

    before, (_, event_id, data) = _until(out, "trace")
    trace: dict[str, Any] = json.loads(data)
    assert trace["id"] == trace_id
    assert trace["account"] == "live-e2e"
    assert trace["outcome"] == "ok" and trace["status"] == 200
    assert trace["endpoint"] == "/v1/messages"
    assert trace["tokens"]["output_tokens"] > 0
    assert "request_body" not in trace
    # Listed in flight as its body is read, and again once model and upstream are known.
    kinds = [e[0] for e in before]
    assert kinds[0] == "inflight_start" and kinds[-1] == "inflight_end", kinds
    assert json.loads(before[0][2])["id"] == trace_id
    ids = [int(e[1]) for e in before] + [int(event_id)]
    assert ids == sorted(set(ids)), ids

    # A client that reconnects after the in-flight start gets the rest again.
    again = _subscribe(gateway, {"Last-Event-ID": before[0][1]})
    replayed, (_, replay_id, _) = _until(again, "trace")
    assert [e[0] for e in replayed] == kinds[1:]
    assert replay_id == event_id


def test_the_dashboard_page_is_served_with_its_policy(gateway: Gateway) -> None:
    for path in ["/", "/traces", "/traces/abc"]:
        r = gateway.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        etag = r.headers["etag"]
        assert gateway.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert gateway.get("/ui/no-such-file.js").status_code == 404
