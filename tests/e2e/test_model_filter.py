"""The filter field `model` means the model that answered, else the model asked for: a request
that failed upstream (no answering model) is found, and counted, under the model it asked for."""

from __future__ import annotations

import httpx

from harness import Gateway
from oracle import ANTHROPIC_MODEL
from payloads import ANTHROPIC_HEADERS, anthropic_request


def _send(gateway: Gateway, status: int | None = None) -> str:
    headers = dict(ANTHROPIC_HEADERS)
    if status is not None:
        headers["x-mock-status"] = str(status)
    r = httpx.post(f"{gateway.url}/v1/messages", headers=headers, json=anthropic_request(), timeout=30.0)
    assert r.status_code == (status or 200), r.text
    return r.headers["x-request-id"]


def _ids(gateway: Gateway, **params: str) -> list[str]:
    r = gateway.get("/api/v1/traces", params=params)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["data"]]


def test_failed_request_is_found_by_the_model_it_asked_for(gateway: Gateway) -> None:
    answered = _send(gateway)
    failed = _send(gateway, status=529)
    # Read both back before searching, so that no search answer predates them.
    assert gateway.trace(answered)["outcome"] == "ok"
    trace = gateway.trace(failed)
    assert (trace["outcome"], trace["status"]) == ("upstream_error", 529)
    assert trace["model"] is None, "the trace's own model is the model that answered: none"
    assert trace["model_requested"] == ANTHROPIC_MODEL

    assert _ids(gateway, model=ANTHROPIC_MODEL, outcome="upstream_error") == [failed]
    assert _ids(gateway, model_requested=ANTHROPIC_MODEL, outcome="upstream_error") == [failed]
    assert set(_ids(gateway, model_requested=ANTHROPIC_MODEL)) == {answered, failed}

    r = gateway.post(
        "/api/v1/traces/search",
        json={
            "filter": {
                "and": [
                    {"field": "model", "op": "contains", "value": ANTHROPIC_MODEL.upper()[:13]},
                    {"field": "status", "op": "eq", "value": 529},
                ]
            }
        },
    )
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["data"]] == [failed]

    stats = gateway.get("/api/v1/stats", params={"bucket": "1h", "group_by": "model"})
    assert stats.status_code == 200, stats.text
    groups = {g["key"]: g for g in stats.json()["totals"]}
    # The answered request counts under the model the mock answered with, which may be the
    # same name; the failed one only under the model asked for.
    assert groups[ANTHROPIC_MODEL]["errors"] == 1, groups


def test_bad_model_requested_parameter(gateway: Gateway) -> None:
    r = gateway.get("/api/v1/traces", params={"model_requested": "a,,b"})
    assert r.status_code == 400
    assert r.json()["error"]["pointer"] == "/query/model_requested"
