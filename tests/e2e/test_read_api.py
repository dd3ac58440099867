"""The gateway's own endpoints: health, readiness and the trace read API."""

from __future__ import annotations

import uuid

import anthropic

from harness import Gateway
from payloads import anthropic_request


def test_health_and_ready(gateway: Gateway) -> None:
    r = gateway.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert gateway.get("/ready").status_code == 200


def test_traces_are_listed_newest_first(anthropic_client: anthropic.Anthropic, gateway: Gateway) -> None:
    ids = []
    for _ in range(3):
        raw = anthropic_client.messages.with_raw_response.create(**anthropic_request())
        ids.append(raw.headers["x-request-id"])
    for trace_id in ids:
        gateway.trace(trace_id)
    listed = gateway.traces(limit=2)
    assert [t["id"] for t in listed] == [ids[2], ids[1]]
    assert listed[0]["started_at"] >= listed[1]["started_at"]
    assert "request_body" not in listed[0] and "response_body" not in listed[0]
    assert [t["id"] for t in gateway.traces(limit=10)] == ids[::-1]


def test_bad_queries(gateway: Gateway) -> None:
    assert gateway.get("/api/v1/traces", params={"limit": "0"}).status_code == 400
    assert gateway.get("/api/v1/traces", params={"limit": "lots"}).status_code == 400
    assert gateway.get("/api/v1/traces/not-a-uuid").status_code == 400
    assert gateway.get(f"/api/v1/traces/{uuid.uuid4()}").status_code == 404


def test_cache_hits_and_misses_are_counted(gateway: Gateway) -> None:
    before = gateway.get("/api/v1/cache").json()["analytics"]
    url = "/api/v1/stats?bucket=1h&group_by=model"
    first, second = gateway.get(url), gateway.get(url)
    assert first.status_code == second.status_code == 200
    after = gateway.get("/api/v1/cache").json()["analytics"]
    assert after["misses"] >= before["misses"] + 1
    assert after["hits"] >= before["hits"] + 1
