"""Retries, circuit breakers, bulkheads and fallbacks through the real binary, with the
mock's faults: 529s, error statuses on the first tries, slow answers, streams cut mid-way.
Every try is on the trace (`attempts`), `/api/v1/upstreams` shows the state."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from harness import Gateway, Mock, StartGateway, free_port
from payloads import ANTHROPIC_HEADERS, anthropic_request, assert_anthropic_error
from test_config import run_serve

FAST_RETRY = "[upstreams.retry]\nmax_attempts = {n}\nbase_backoff_ms = 1\nmax_backoff_ms = 5\n"


def upstream(name: str, url: str, extra: str = "") -> str:
    return f'[[upstreams]]\nname = "{name}"\nkind = "anthropic"\nbase_url = "{url}"\n{extra}'


def send(gw: Gateway, headers: dict[str, str] | None = None, stream: bool = False) -> httpx.Response:
    return gw.post(
        "/v1/messages", json=anthropic_request(stream), headers={**ANTHROPIC_HEADERS, **(headers or {})}, timeout=30
    )


def state(gw: Gateway, name: str) -> dict[str, Any]:
    r = gw.get("/api/v1/upstreams")
    assert r.status_code == 200, r.text
    return next(u for u in r.json()["upstreams"] if u["name"] == name)


def test_a_529_is_retried_and_every_attempt_is_on_the_trace(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=upstream("anthropic", mock.url, FAST_RETRY.format(n=3)))
    key = secrets.token_hex(6)
    r = send(gw, {"x-mock-status": "529", "x-mock-fail-first": "2", "x-mock-fail-key": key})
    assert r.status_code == 200, r.text
    trace = gw.trace(r.headers["x-request-id"])
    assert [a["status"] for a in trace["attempts"]] == [529, 529, 200]
    assert all(a["upstream"] == "anthropic" for a in trace["attempts"])
    assert all(a["duration_ms"] >= 0 for a in trace["attempts"])
    assert trace["outcome"] == "ok"
    plain = send(gw)
    assert gw.trace(plain.headers["x-request-id"])["attempts"] == []
    assert state(gw, "anthropic")["retries"] == 2


def test_retries_used_up_give_the_client_the_providers_own_error(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=upstream("anthropic", mock.url, FAST_RETRY.format(n=2)))
    r = send(gw, {"x-mock-status": "529"})
    assert r.status_code == 529
    assert_anthropic_error(r.json(), "overloaded_error")
    assert r.content == mock.response_bytes(r.headers["x-mock-response-id"])
    trace = gw.trace(r.headers["x-request-id"])
    assert [a["status"] for a in trace["attempts"]] == [529, 529]


def test_a_stream_cut_mid_way_is_never_retried(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=upstream("anthropic", mock.url, FAST_RETRY.format(n=5)))
    got = b""
    headers = {
        **ANTHROPIC_HEADERS,
        "x-mock-abort-after": "5",
        "x-mock-output-tokens": "30",
        "x-mock-ttft-ms": "100",
        "x-mock-inter-token-ms": "50",
    }
    with httpx.stream(
        "POST", gw.url + "/v1/messages", json=anthropic_request(True), headers=headers, timeout=30
    ) as r:
        assert r.status_code == 200
        request_id = r.headers["x-request-id"]
        try:
            for chunk in r.iter_bytes():
                got += chunk
        except httpx.HTTPError:
            pass
    assert b"message_stop" not in got
    assert got.count(b"event: message_start") == 1, "one stream, not a retried one after it"
    trace = gw.trace(request_id)
    assert trace["attempts"] == []
    assert trace["outcome"] != "ok"
    assert state(gw, "anthropic")["retries"] == 0


def test_a_circuit_opens_fails_fast_half_opens_and_closes(start_gateway: StartGateway, mock: Mock) -> None:
    breaker = "[upstreams.breaker]\nconsecutive_failures = 2\nopen_secs = 1\n"
    gw = start_gateway(config=upstream("anthropic", mock.url, breaker))
    for _ in range(2):
        assert send(gw, {"x-mock-status": "500"}).status_code == 500
    assert state(gw, "anthropic")["circuit"] == "open"
    started = time.monotonic()
    r = send(gw)
    assert r.status_code == 503
    assert time.monotonic() - started < 0.5
    assert_anthropic_error(r.json(), "overloaded_error")
    trace = gw.trace(r.headers["x-request-id"])
    assert trace["outcome"] == "overloaded"
    assert "circuit open" in trace["error"]
    time.sleep(1.1)
    assert state(gw, "anthropic")["circuit"] == "half_open"
    # The probe fails: open again.
    assert send(gw, {"x-mock-status": "500"}).status_code == 500
    assert state(gw, "anthropic")["circuit"] == "open"
    time.sleep(1.1)
    assert send(gw).status_code == 200
    assert state(gw, "anthropic")["circuit"] == "closed"


def test_an_error_rate_opens_the_circuit(start_gateway: StartGateway, mock: Mock) -> None:
    breaker = (
        "[upstreams.breaker]\nconsecutive_failures = 1000\nerror_rate = 0.3\nmin_requests = 20\nopen_secs = 60\n"
    )
    gw = start_gateway(config=upstream("anthropic", mock.url, breaker))
    statuses = [send(gw, {"x-mock-error-rate": "0.6", "x-mock-status": "503"}).status_code for _ in range(40)]
    assert 503 in statuses
    assert state(gw, "anthropic")["circuit"] == "open", statuses
    assert state(gw, "anthropic")["shed_circuit_open"] >= 1


def test_a_full_bulkhead_sheds_with_fast_503s(start_gateway: StartGateway, mock: Mock) -> None:
    bulkhead = "[upstreams.bulkhead]\nmax_concurrent = 1\nmax_queue = 1\nmax_queue_wait_ms = 10000\n"
    gw = start_gateway(config=upstream("anthropic", mock.url, bulkhead))
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: send(gw, {"x-mock-latency-ms": "800"}), range(6)))
    ok = [r for r in results if r.status_code == 200]
    shed = [r for r in results if r.status_code == 503]
    assert len(ok) >= 2 and len(ok) + len(shed) == 6, [r.status_code for r in results]
    assert len(shed) >= 3, "one runs, one waits, the rest are shed"
    for r in shed:
        assert_anthropic_error(r.json(), "overloaded_error")
        assert gw.trace(r.headers["x-request-id"])["outcome"] == "overloaded"
    s = state(gw, "anthropic")
    assert s["shed_queue_full"] == len(shed)
    assert (s["in_flight"], s["queued"], s["max_concurrent"]) == (0, 0, 1)
    shed_lines = [
        line
        for line in gw.get("/metrics").text.splitlines()
        if line.startswith("tracegate_upstream_shed_total{") and 'cause="queue_full"' in line
    ]
    assert len(shed_lines) == 1 and 'upstream="anthropic"' in shed_lines[0], shed_lines
    assert shed_lines[0].split()[-1] == str(len(shed))


def test_the_fallback_answers_when_the_primary_is_down(start_gateway: StartGateway, mock: Mock) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = upstream(
        "anthropic", dead, 'fallbacks = ["anthropic-backup"]\n' + FAST_RETRY.format(n=2)
    ) + "\n" + upstream("anthropic-backup", mock.url)
    gw = start_gateway(config=config)
    r = send(gw)
    assert r.status_code == 200, r.text
    trace = gw.trace(r.headers["x-request-id"])
    assert trace["upstream"] == "anthropic-backup"
    assert [(a["upstream"], a["status"]) for a in trace["attempts"]] == [
        ("anthropic", None),
        ("anthropic", None),
        ("anthropic-backup", 200),
    ]
    assert state(gw, "anthropic")["fallbacks"] == ["anthropic-backup"]


def test_bad_traffic_settings_are_refused_with_the_key_named(tmp_path: Path, mock: Mock) -> None:
    cases = [
        (upstream("a", mock.url, 'fallbacks = ["nope"]\n'), "fallbacks"),
        (
            upstream("a", mock.url, 'fallbacks = ["o"]\n')
            + f'\n[[upstreams]]\nname = "o"\nkind = "openai"\nbase_url = "{mock.url}"\n',
            "same api",
        ),
        (upstream("a", mock.url, "[upstreams.retry]\nmax_attempts = 0\n"), "max_attempts"),
        (upstream("a", mock.url, "[upstreams.bulkhead]\nmax_concurrent = 0\n"), "max_concurrent"),
        (upstream("a", mock.url, "[upstreams.breaker]\nerror_rate = 2.0\n"), "error_rate"),
        ("[retry_budget]\nratio = -1\n" + upstream("a", mock.url), "ratio"),
    ]
    for config, key in cases:
        done = run_serve(tmp_path, config)
        assert done.returncode != 0, f"started with a bad {key}"
        assert key in done.stderr.lower(), done.stderr[:2000]
