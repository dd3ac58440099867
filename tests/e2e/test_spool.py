"""The durable spool: a `kill -9` during traffic loses at most the traces answered in the
last fsync interval, a store that refuses writes loses none, and `/ready` says when the
store has been refusing writes too long."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from harness import Gateway, StartGateway
from payloads import ANTHROPIC_HEADERS, anthropic_request

TOTAL = 300
THREADS = 4


def _send(gw: Gateway, answered: list[tuple[float, str]], stop: threading.Event, n: int) -> None:
    for _ in range(n):
        if stop.is_set():
            return
        try:
            r = httpx.post(gw.url + "/v1/messages", json=anthropic_request(False), headers=ANTHROPIC_HEADERS, timeout=10)
        except httpx.HTTPError:
            return
        if r.status_code == 200:
            answered.append((time.monotonic(), r.headers["x-request-id"]))


def _wait_applied(gw: Gateway, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = gw.get("/api/v1/recorder").json()
        if s["spool_records_pending"] == 0:
            return s
        assert time.monotonic() < deadline, s
        time.sleep(0.05)


def _stored(gw: Gateway, ids: list[str]) -> set[str]:
    return {i for i in ids if gw.get(f"/api/v1/traces/{i}").status_code == 200}


def test_kill_9_during_traffic_loses_at_most_the_last_fsync_interval(start_gateway: StartGateway) -> None:
    gw = start_gateway()
    answered: list[tuple[float, str]] = []
    stop = threading.Event()
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(_send, gw, answered, stop, TOTAL // THREADS) for _ in range(THREADS)]
        deadline = time.monotonic() + 60
        while len(answered) < TOTAL // 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        gw.proc.kill()  # SIGKILL: no shutdown, no flush
        killed_at = time.monotonic()
        gw.proc.wait(10)
        stop.set()
        for f in futures:
            f.result()
    assert len(answered) >= TOTAL // 2
    ids = [i for _, i in answered]

    again = start_gateway(db=gw.db)
    s = _wait_applied(again)
    stored = _stored(again, ids)
    missing = [(t, i) for t, i in answered if i not in stored]
    late = [i for t, i in answered if t > killed_at - 0.2]
    assert len(missing) <= len(late), (len(missing), len(late), s)
    assert all(t > killed_at - 0.2 for t, _ in missing), (missing, killed_at)
    listed = [t["id"] for t in again.traces(limit=1000)]
    assert len(listed) == len(set(listed)), "no trace is stored twice"
    assert len(stored) >= len(ids) - len(late) > 0


def test_a_store_locked_by_another_writer_loses_no_trace(start_gateway: StartGateway) -> None:
    gw = start_gateway(extra="ready_write_timeout_secs = 1")
    first = httpx.post(gw.url + "/v1/messages", json=anthropic_request(False), headers=ANTHROPIC_HEADERS, timeout=10)
    gw.trace(first.headers["x-request-id"])

    lock = sqlite3.connect(gw.db, isolation_level=None, timeout=10)
    lock.execute("BEGIN IMMEDIATE")
    answered: list[tuple[float, str]] = []
    not_ready = None
    try:
        _send(gw, answered, threading.Event(), 30)
        deadline = time.monotonic() + 9
        while time.monotonic() < deadline:
            r = gw.get("/ready")
            if r.status_code == 503:
                not_ready = r
                break
            time.sleep(0.2)
        s = gw.get("/api/v1/recorder").json()
        assert s["spool_records_pending"] > 0, s
        assert s["dropped_store_error"] == 0, s
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert not_ready is not None, "/ready stayed 200 while the store refused writes"
    assert "refused trace writes" in not_ready.text, not_ready.text
    assert len(answered) == 30

    s = _wait_applied(gw)
    assert s["dropped_store_error"] == 0 and s["dropped_queue_full"] == 0, s
    ids = [i for _, i in answered]
    assert _stored(gw, ids) == set(ids)
    deadline = time.monotonic() + 10
    while gw.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "/ready did not recover"
        time.sleep(0.1)


def test_with_sync_durability_every_answered_request_survives_kill_9(start_gateway: StartGateway) -> None:
    gw = start_gateway(extra='spool_durability = "sync"')
    answered: list[tuple[float, str]] = []
    stop = threading.Event()
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(_send, gw, answered, stop, TOTAL // THREADS) for _ in range(THREADS)]
        deadline = time.monotonic() + 60
        while len(answered) < TOTAL // 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        gw.proc.kill()  # SIGKILL: no shutdown, no flush
        gw.proc.wait(10)
        stop.set()
        for f in futures:
            f.result()
    assert len(answered) >= TOTAL // 2
    ids = [i for _, i in answered]

    again = start_gateway(db=gw.db, extra='spool_durability = "sync"')
    _wait_applied(again)
    stored = _stored(again, ids)
    assert stored == set(ids), f"{len(set(ids) - stored)} answered requests lost their trace"
    listed = [t["id"] for t in again.traces(limit=1000)]
    assert len(listed) == len(set(listed)), "no trace is stored twice"
