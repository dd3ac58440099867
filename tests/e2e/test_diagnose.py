"""`tracegate diagnose`: each problem planted is found, named, and decides the exit status
(1 with a P0/P1 finding, 0 without, 2 when no report can be made)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from harness import Gateway, StartGateway, binary, child_env, free_port
from payloads import ANTHROPIC_HEADERS, OPENAI_HEADERS, anthropic_request, openai_request

DIAGNOSE_TIMEOUT_S = 60


def diagnose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary()), "diagnose", *args],
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=DIAGNOSE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def report(gw: Gateway, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Exit status and JSON report of `diagnose --url <gw> --json`."""
    done = diagnose("--url", gw.url, "--json", *args, env=env)
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stderr}"
    return done.returncode, json.loads(done.stdout)


def findings(r: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [f for f in r["findings"] if f["section"] == section]


def blocking(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in r["findings"] if f["severity"] in ("P0", "P1")]


def send(gw: Gateway, headers: dict[str, str] | None = None, openai: bool = False) -> str:
    """One non-streamed request; returns its trace id once the trace is stored."""
    if openai:
        r = gw.post("/v1/chat/completions", json=openai_request(), headers={**OPENAI_HEADERS, **(headers or {})})
    else:
        r = gw.post("/v1/messages", json=anthropic_request(), headers={**ANTHROPIC_HEADERS, **(headers or {})})
    assert r.status_code == 200, r.text
    trace_id = r.headers["x-request-id"]
    gw.trace(trace_id)
    return trace_id


def test_a_slow_upstream_is_a_p1_and_fails_the_run(start_gateway: StartGateway) -> None:
    gw = start_gateway()
    send(gw)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: send(gw, {"x-mock-latency-ms": "5500"}), range(3)))

    code, r = report(gw)
    assert code == 1, r["findings"]
    assert r["worst"] == "P1" and r["source"] == "gateway"
    slow = [f for f in findings(r, "latency") if 'slow upstream "anthropic"' in f["finding"]]
    assert slow and slow[0]["severity"] == "P1", r["findings"]
    assert "timeout_secs" in slow[0]["recommendation"]
    p95 = next(row for row in r["slo"] if row["metric"] == "duration p95")
    assert p95["met"] is False and p95["severity"] == "P1", p95
    assert not [f for f in r["findings"] if f["severity"] == "P0"], r["findings"]

    text = diagnose("--url", gw.url)
    assert text.returncode == 1, text.stderr
    assert '[P1] slow upstream "anthropic"' in text.stdout, text.stdout
    assert "SLO (last 1h)" in text.stdout

    # The same store read directly: the same latency finding, the live sections named as missing.
    db = diagnose("--db", str(gw.db), "--json")
    assert db.returncode == 1, db.stderr
    from_db = json.loads(db.stdout)
    assert from_db["source"] == "store"
    assert any('slow upstream "anthropic"' in f["finding"] for f in findings(from_db, "latency"))
    missing = {u["section"]: u["reason"] for u in from_db["unavailable"]}
    assert {"stuck", "recorder", "queries"} <= set(missing), missing
    assert "running gateway" in missing["stuck"]


def test_a_stuck_request_is_listed_with_its_trace_id(start_gateway: StartGateway) -> None:
    gw = start_gateway(extra="stuck_after_secs = 1")
    outcome: list[int] = []

    def slow_request() -> None:
        try:
            r = gw.post("/v1/messages", json=anthropic_request(), headers={**ANTHROPIC_HEADERS, "x-mock-latency-ms": "10000"})
            outcome.append(r.status_code)
        except httpx.HTTPError:
            outcome.append(-1)

    t = threading.Thread(target=slow_request)
    t.start()
    try:
        deadline = time.monotonic() + 8
        stuck_id = None
        while time.monotonic() < deadline and stuck_id is None:
            data = gw.get("/api/v1/stats/inflight").json()["data"]
            stuck_id = next((d["id"] for d in data if d["stuck"]), None)
            time.sleep(0.1)
        assert stuck_id, "the request never showed as stuck"

        code, r = report(gw)
        stuck = findings(r, "stuck")
        assert len(stuck) == 1, r["findings"]
        assert stuck_id in stuck[0]["trace_ids"]
        assert stuck[0]["severity"] in ("P2", "P1", "P0")
        assert code == (1 if blocking(r) else 0)
        assert r["inflight"]["stuck"][0]["trace_id"] == stuck_id

        text = diagnose("--url", gw.url)
        assert stuck_id in text.stdout, text.stdout
    finally:
        t.join(20)
    assert outcome == [200]


def test_the_hot_account_is_named(start_gateway: StartGateway) -> None:
    gw = start_gateway()
    with ThreadPoolExecutor(4) as pool:
        jobs = [{"x-tracegate-account": "whale", "x-mock-output-tokens": "3000"}] * 2
        jobs += [{"x-tracegate-account": "minnow", "x-mock-output-tokens": "5"}] * 2
        list(pool.map(lambda h: send(gw, h), jobs))

    code, r = report(gw)
    hot = findings(r, "accounts")
    assert hot and '"whale"' in hot[0]["finding"] and "hot account" in hot[0]["finding"], r["findings"]
    assert hot[0]["severity"] == "P3"
    assert r["accounts"]["last_5h"][0]["account"] == "whale"
    assert r["accounts"]["last_24h"][0]["account"] == "whale"
    assert code == 0, blocking(r)


def test_a_slow_store_query_is_reported(start_gateway: StartGateway) -> None:
    # Every query is slower than 0 ms: ordinary queries count as slow.
    gw = start_gateway(extra="[slo]\nslow_query_ms = 0")
    send(gw)
    assert gw.get("/api/v1/stats", params={"group_by": "model"}).status_code == 200
    assert gw.post("/api/v1/traces/search", json={"limit": 5}).status_code == 200

    code, r = report(gw)
    slow = findings(r, "queries")
    assert len(slow) == 1, r["findings"]
    assert slow[0]["severity"] == "P3"
    evidence = "\n".join(slow[0]["evidence"])
    assert "GET /api/v1/stats" in evidence and "POST /api/v1/traces/search" in evidence, evidence
    classes = {q["class"] for q in r["queries"]}
    assert {"GET /api/v1/stats", "POST /api/v1/traces/search"} <= classes, classes
    assert r["slow_query_ms"] == 0
    assert code == (1 if blocking(r) else 0)

    # With the default threshold the same queries are not slow.
    gw2 = start_gateway()
    send(gw2)
    assert gw2.get("/api/v1/stats").status_code == 200
    _, r2 = report(gw2)
    assert not findings(r2, "queries"), r2["findings"]


def test_a_healthy_gateway_exits_0(start_gateway: StartGateway) -> None:
    gw = start_gateway()
    for i in range(4):
        send(gw, {"x-tracegate-account": f"team-{i % 2}"}, openai=i % 2 == 1)

    code, r = report(gw, "--since", "30m")
    assert not blocking(r), blocking(r)
    assert code == 0
    assert r["since"] == "30m"
    assert r["recorder"]["written"] >= 4 and r["recorder"]["dropped_queue_full"] == 0
    assert r["store"]["backend"] == "sqlite" and r["store"]["details"]["journal_mode"] == "wal"
    assert r["host"]["process"]["open_files"] > 0
    assert all(row["met"] is not False for row in r["slo"]), r["slo"]

    text = diagnose("--url", gw.url, "--since", "30m")
    assert text.returncode == 0, text.stdout + text.stderr
    assert "no P0/P1 finding (exit status 0)" in text.stdout

    api = gw.get("/api/v1/diagnostics", params={"since": "30m"})
    assert api.status_code == 200 and api.json()["since"] == "30m"
    bad = gw.get("/api/v1/diagnostics", params={"since": "5y"})
    assert bad.status_code == 400 and bad.json()["error"]["pointer"] == "/query/since"


def test_no_report_exits_2(start_gateway: StartGateway, tmp_path: Path) -> None:
    nobody = diagnose("--url", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 2 and "cannot reach" in nobody.stderr, nobody.stderr
    assert diagnose("--since", "5y").returncode == 2
    assert diagnose("--db", str(tmp_path / "missing.db")).returncode == 2
    assert diagnose("--url", "http://x", "--db", "y").returncode == 2

    token = "diagnose-e2e-token-0123456789"
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": token})
    refused = diagnose("--url", gw.url)
    assert refused.returncode == 2 and "TRACEGATE_ADMIN_TOKEN" in refused.stderr, refused.stderr
    code, _ = report(gw, env={"TRACEGATE_ADMIN_TOKEN": token})
    assert code in (0, 1)
