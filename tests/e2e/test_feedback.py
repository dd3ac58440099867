"""Feedback on a trace: POST /api/v1/traces/{id}/feedback, read back with the trace, found with
a `feedback.score` filter; 404 for an unknown trace, 400 with a pointer for a bad body."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from harness import Gateway
from payloads import ANTHROPIC_HEADERS, anthropic_request


def _send(gateway: Gateway) -> str:
    r = httpx.post(f"{gateway.url}/v1/messages", headers=ANTHROPIC_HEADERS, json=anthropic_request(), timeout=30.0)
    assert r.status_code == 200, r.text
    trace_id = r.headers["x-request-id"]
    gateway.trace(trace_id)
    return trace_id


def _feedback(gateway: Gateway, trace_id: str, body: Any) -> httpx.Response:
    return gateway.post(f"/api/v1/traces/{trace_id}/feedback", json=body)


def _search(gateway: Gateway, flt: dict[str, Any]) -> list[str]:
    r = gateway.post("/api/v1/traces/search", json={"filter": flt})
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["data"]]


def test_feedback_is_read_back_and_searchable(gateway: Gateway) -> None:
    rated, other = _send(gateway), _send(gateway)
    high = {"field": "feedback.score", "op": "gte", "value": 4}
    assert _search(gateway, high) == []

    r = _feedback(gateway, rated, {"score": 5, "comment": "exactly right ✓", "source": "user"})
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["trace_id"], first["score"], first["source"]) == (rated, 5, "user")
    uuid.UUID(first["id"])
    r = _feedback(gateway, rated, {"score": 2})
    assert r.status_code == 201, r.text
    second = r.json()

    trace = gateway.trace(rated)
    assert trace["feedback"] == [first, second]
    assert gateway.trace(other)["feedback"] == []

    assert _search(gateway, high) == [rated]
    assert _search(gateway, {"field": "feedback.score", "op": "eq", "value": 2}) == [rated]
    assert _search(gateway, {"field": "feedback.score", "op": "exists", "value": False}) == [other]
    assert _search(gateway, {"not": high}) == [other]


def test_unknown_trace_is_404_and_bad_score_400(gateway: Gateway) -> None:
    r = _feedback(gateway, str(uuid.uuid4()), {"score": 1})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["kind"] == "not_found"

    trace_id = _send(gateway)
    for body, pointer in [
        ({"score": "good"}, "/score"),
        ({"score": 1e6}, "/score"),
        ({"comment": "no score"}, "/score"),
        ({"score": 1, "source": "x" * 65}, "/source"),
    ]:
        r = _feedback(gateway, trace_id, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["pointer"] == pointer, (body, r.text)
    assert gateway.trace(trace_id)["feedback"] == []
