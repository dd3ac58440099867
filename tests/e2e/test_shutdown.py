"""SIGTERM: the in-flight stream finishes, every queued trace is written, the process exits 0,
and a restarted gateway finds all traces in the same database."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx
import openai

from harness import Mock, StartGateway
from payloads import ANTHROPIC_HEADERS, anthropic_request, openai_request

N = 40


def test_sigterm_drains_in_flight_requests_and_keeps_every_trace(
    start_gateway: StartGateway, mock: Mock, api_key: str
) -> None:
    gw = start_gateway()
    a = anthropic.Anthropic(base_url=gw.url, api_key=api_key, max_retries=0, timeout=30)
    o = openai.OpenAI(base_url=gw.url + "/v1", api_key=api_key, max_retries=0, timeout=30)
    fast = {"x-mock-output-tokens": "8"}

    def one(i: int) -> str:
        kind = i % 4
        if kind == 0:
            return a.messages.with_raw_response.create(**anthropic_request(), extra_headers=fast).headers[
                "x-request-id"
            ]
        if kind == 1:
            with a.messages.with_streaming_response.create(**anthropic_request(True), extra_headers=fast) as r:
                r.read()
                return r.headers["x-request-id"]
        if kind == 2:
            return o.chat.completions.with_raw_response.create(**openai_request(), extra_headers=fast).headers[
                "x-request-id"
            ]
        with o.chat.completions.with_streaming_response.create(**openai_request(True), extra_headers=fast) as r:
            r.read()
            return r.headers["x-request-id"]

    with a, o, ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(one, range(N)))
    assert len(set(ids)) == N

    slow: dict[str, Any] = {}
    first_bytes = threading.Event()

    def slow_stream() -> None:
        headers = {**ANTHROPIC_HEADERS, "x-mock-inter-token-ms": "60", "x-mock-output-tokens": "25"}
        try:
            with httpx.stream(
                "POST", gw.url + "/v1/messages", json=anthropic_request(True), headers=headers, timeout=30
            ) as r:
                slow["id"] = r.headers["x-request-id"]
                slow["mock_id"] = r.headers["x-mock-response-id"]
                chunks = []
                for chunk in r.iter_raw():
                    chunks.append(chunk)
                    first_bytes.set()
                slow["body"] = b"".join(chunks)
        except Exception as e:  # reported by the main thread
            slow["error"] = e
        finally:
            first_bytes.set()

    reader = threading.Thread(target=slow_stream)
    reader.start()
    assert first_bytes.wait(10)
    assert "error" not in slow, slow.get("error")
    signalled = time.monotonic()
    gw.signal()
    reader.join(20)
    assert not reader.is_alive()
    assert gw.wait(20) == 0, gw.log_text()
    assert time.monotonic() - signalled < 10
    assert "error" not in slow, f"the in-flight stream was cut: {slow.get('error')!r}"
    assert slow["body"] == mock.response_bytes(slow["mock_id"])

    again = start_gateway(db=gw.db)
    stored = {t["id"]: t for t in again.traces(limit=200)}
    missing = set(ids) | {slow["id"]}
    missing -= set(stored)
    assert not missing, f"{len(missing)} traces lost at shutdown"
    assert len(stored) == N + 1
    assert all(t["outcome"] == "ok" for t in stored.values()), [t["outcome"] for t in stored.values()]
    last = again.trace(slow["id"])
    assert (last["status"], last["stream"], last["output_tokens"]) == (200, True, 25)
