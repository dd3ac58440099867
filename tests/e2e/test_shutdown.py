"""SIGTERM and SIGINT: the in-flight stream finishes, every queued trace is written, the process exits 0,
and a restarted gateway finds all traces in the same database."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from signal import SIGINT, SIGTERM
from typing import Any

import anthropic
import httpx
import openai
import pytest

from harness import Gateway, Mock, StartGateway
from payloads import ANTHROPIC_HEADERS, anthropic_request, openai_request

N = 40


class InFlightStream:
    """A slow Anthropic stream read on a thread; `result` gets its ids, body or error."""

    def __init__(self, gw: Gateway, inter_token_ms: int, tokens: int):
        self.result: dict[str, Any] = {}
        self._first_bytes = threading.Event()
        self._headers = {
            **ANTHROPIC_HEADERS,
            "x-mock-inter-token-ms": str(inter_token_ms),
            "x-mock-output-tokens": str(tokens),
        }
        self._thread = threading.Thread(target=self._read, args=(gw.url,))
        self._thread.start()
        assert self._first_bytes.wait(10), "the stream did not start"
        assert "error" not in self.result, self.result["error"]

    def _read(self, url: str) -> None:
        try:
            with httpx.stream(
                "POST", url + "/v1/messages", json=anthropic_request(True), headers=self._headers, timeout=30
            ) as r:
                self.result["id"] = r.headers["x-request-id"]
                self.result["mock_id"] = r.headers["x-mock-response-id"]
                chunks = []
                for chunk in r.iter_raw():
                    chunks.append(chunk)
                    self._first_bytes.set()
                self.result["body"] = b"".join(chunks)
        except Exception as e:  # reported by the test
            self.result["error"] = e
        finally:
            self._first_bytes.set()

    def join(self) -> None:
        self._thread.join(20)
        assert not self._thread.is_alive()


@pytest.mark.parametrize("sig", [SIGTERM, SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_in_flight_requests_and_keeps_every_trace(
    start_gateway: StartGateway, mock: Mock, api_key: str, sig: int
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

    # The slow stream starts first, so the signal arrives right after the burst, while its
    # last traces may still be queued for the writer and the stream is still in flight.
    slow = InFlightStream(gw, inter_token_ms=50, tokens=100)
    with a, o, ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(one, range(N)))
    assert len(set(ids)) == N
    assert not slow.result.get("body"), "the slow stream ended before the signal; make it slower"
    signalled = time.monotonic()
    gw.signal(sig)
    slow.join()
    assert gw.wait(20) == 0, gw.log_text()
    assert time.monotonic() - signalled < 10
    assert "error" not in slow.result, f"the in-flight stream was cut: {slow.result.get('error')!r}"
    assert slow.result["body"] == mock.response_bytes(slow.result["mock_id"])

    again = start_gateway(db=gw.db)
    stored = {t["id"]: t for t in again.traces(limit=200)}
    missing = set(ids) | {slow.result["id"]}
    missing -= set(stored)
    assert not missing, f"{len(missing)} traces lost at shutdown"
    assert len(stored) == N + 1
    assert all(t["outcome"] == "ok" for t in stored.values()), [t["outcome"] for t in stored.values()]
    last = again.trace(slow.result["id"])
    assert (last["status"], last["stream"], last["output_tokens"]) == (200, True, 100)


def shut_down_during_a_long_stream(start_gateway: StartGateway) -> tuple[Gateway, list[str], InFlightStream]:
    """A gateway with a 1 s grace period, two finished requests and a 5 s stream in flight,
    stopped with SIGTERM and restarted on its database."""
    gw = start_gateway(env={"TRACEGATE_SHUTDOWN_GRACE_SECS": "1"})
    done = []
    for _ in range(2):
        r = gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
        done.append(r.headers["x-request-id"])
    slow = InFlightStream(gw, inter_token_ms=100, tokens=50)
    signalled = time.monotonic()
    gw.signal()
    assert gw.wait(20) == 0, gw.log_text()
    assert time.monotonic() - signalled < 5, "the grace period was not applied"
    slow.join()
    assert "error" in slow.result, "the stream was not cut at the end of the grace period"
    return start_gateway(db=gw.db), done, slow


def test_grace_period_ends_a_long_stream_and_keeps_finished_traces(start_gateway: StartGateway) -> None:
    again, done, _ = shut_down_during_a_long_stream(start_gateway)
    stored = {t["id"] for t in again.traces()}
    assert set(done) <= stored


def test_stream_cut_by_the_grace_period_is_recorded(start_gateway: StartGateway) -> None:
    again, _, slow = shut_down_during_a_long_stream(start_gateway)
    stored = {t["id"]: t for t in again.traces()}
    assert slow.result["id"] in stored, "the trace of the cut stream was lost"
    assert stored[slow.result["id"]]["outcome"] == "cancelled"
