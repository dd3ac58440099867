"""The response cache: a repeated request is answered by the gateway with the exact bytes the
first client got, without an upstream call, and traced as `cache_hit` with the cost it saved."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from harness import Gateway, Mock, StartGateway
from oracle import ANTHROPIC_MODEL, OPENAI_MODEL, expected_cost, token_fields

CACHE = "x-tracegate-cache"


def cached_config(upstream_url: str, ttl: int | None = 600, extra: str = "") -> str:
    """Both upstreams at `upstream_url`, with `cache_ttl_secs = ttl` (none: cache off)."""
    setting = f"cache_ttl_secs = {ttl}\n" if ttl is not None else ""
    parts = [extra.strip() + "\n"] if extra.strip() else []
    for kind in ("anthropic", "openai"):
        parts.append(f'[[upstreams]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "{upstream_url}"\n{setting}')
    return "\n".join(parts)


def upstream_calls(mock: Mock) -> int:
    """How many requests the mock has received (its log numbers them from 1)."""
    n = 0
    while httpx.get(f"{mock.url}/_mock/requests/{n + 1}", timeout=5.0).status_code == 200:
        n += 1
    return n


def anthropic_client(gw: Gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=gw.url, api_key=key or f"sk-ant-{secrets.token_hex(8)}", max_retries=0, timeout=30.0
    )


def openai_client(gw: Gateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gw.url + "/v1", api_key=key or f"sk-{secrets.token_hex(8)}", max_retries=0, timeout=30.0
    )


def ask(label: str, **extra: Any) -> dict[str, Any]:
    """An Anthropic request nobody sent before."""
    request: dict[str, Any] = dict(
        model=ANTHROPIC_MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": f"{label} {secrets.token_hex(6)}: say something short"}],
    )
    request.update(extra)
    return request


# Anthropic's current SDK has no `temperature` parameter; the API still takes it.
SAMPLING = {"extra_body": {"temperature": 0.8}}


def send(client: anthropic.Anthropic, request: dict[str, Any], headers: dict[str, str] | None = None):
    """(raw bytes, response headers) of a plain Anthropic request."""
    raw = client.messages.with_raw_response.create(**request, extra_headers=headers or {})
    return raw.http_response.content, raw.headers


def test_a_repeated_request_is_answered_from_the_cache(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=cached_config(mock.url))
    client = anthropic_client(gw, "sk-ant-repeat")
    request = ask("repeat")

    first, first_headers = send(client, request)
    assert first_headers[CACHE] == "miss"
    assert "x-mock-response-id" in first_headers
    calls = upstream_calls(mock)

    # The same request again, written by hand with its keys in another order and other
    # spacing: one upstream call in all.
    version = mock.request(first_headers["x-mock-response-id"])["headers"]["anthropic-version"]
    text = json.dumps(dict(reversed(list(request.items()))), indent=2)
    again = gw.post(
        "/v1/messages",
        content=text.encode(),
        headers={"x-api-key": "sk-ant-repeat", "anthropic-version": version, "content-type": "application/json"},
    )
    second, second_headers = again.content, again.headers
    assert second_headers[CACHE] == "hit"
    assert "x-mock-response-id" not in second_headers
    assert second == first
    assert second_headers["content-type"].startswith("application/json")
    assert upstream_calls(mock) == calls == 1

    miss = gw.trace(first_headers["x-request-id"])
    hit = gw.trace(second_headers["x-request-id"])
    assert miss["outcome"] == "ok" and miss["cost_usd"] > 0
    assert miss["cache_saved_usd"] is None
    assert hit["outcome"] == "cache_hit", hit
    assert hit["error"] is None and hit["status"] == 200
    assert hit["upstream"] == "anthropic" and hit["model"] == miss["model"]
    assert token_fields(hit) == token_fields(miss)
    assert hit["cost_usd"] == 0
    assert hit["cache_saved_usd"] == pytest.approx(expected_cost(ANTHROPIC_MODEL, miss), rel=1e-9)
    assert hit["cache_saved_usd"] > 0
    assert hit["response_body"] == miss["response_body"]
    assert hit["duration_ms"] < miss["duration_ms"] + 1000

    caches = gw.get("/api/v1/cache").json()
    assert set(caches) == {"analytics", "responses"}
    responses = caches["responses"]
    assert (responses["hits"], responses["misses"], responses["stored"]) == (1, 1, 1)
    assert responses["entries"] >= 1 and responses["bytes"] > len(first)
    assert responses["capacity_bytes"] == 256 * 1024 * 1024


def test_requests_asking_for_sampling_are_not_cached_by_the_upstream_setting(
    start_gateway: StartGateway, mock: Mock
) -> None:
    gw = start_gateway(config=cached_config(mock.url))
    client = anthropic_client(gw)
    request = ask("sampled", **SAMPLING)
    for _ in range(2):
        _, headers = send(client, request)
        assert CACHE not in headers
        assert "x-mock-response-id" in headers
    assert upstream_calls(mock) == 2


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_stream_is_replayed_byte_for_byte(start_gateway: StartGateway, mock: Mock, provider: str) -> None:
    gw = start_gateway(config=cached_config(mock.url))

    def stream() -> tuple[bytes, httpx.Headers]:
        if provider == "anthropic":
            with anthropic_client(gw, "sk-ant-stream").messages.with_streaming_response.create(
                **request, stream=True
            ) as resp:
                return resp.read(), resp.headers
        # No include_usage: the gateway asks for usage and hides it, so the replay must be
        # the rewritten stream the client got, not the upstream's.
        with openai_client(gw, "sk-stream").chat.completions.with_streaming_response.create(
            **request, stream=True
        ) as resp:
            return resp.read(), resp.headers

    if provider == "anthropic":
        request = ask("stream")
    else:
        request = dict(
            model=OPENAI_MODEL,
            temperature=0,
            messages=[{"role": "user", "content": f"stream {secrets.token_hex(6)}"}],
        )
    first, first_headers = stream()
    second, second_headers = stream()
    assert (first_headers[CACHE], second_headers[CACHE]) == ("miss", "hit")
    assert second == first
    assert b"data:" in first
    assert second_headers["content-type"].startswith("text/event-stream")
    assert upstream_calls(mock) == 1

    hit = gw.trace(second_headers["x-request-id"])
    miss = gw.trace(first_headers["x-request-id"])
    assert hit["outcome"] == "cache_hit" and hit["stream"] is True
    assert token_fields(hit) == token_fields(miss)
    assert miss["output_tokens"] > 0
    assert hit["cache_saved_usd"] == pytest.approx(miss["cost_usd"], rel=1e-9)

    # The SDK reads the replay as a stream like any other.
    if provider == "anthropic":
        with anthropic_client(gw, "sk-ant-stream").messages.stream(**request) as s:
            text = s.get_final_text()
        assert text == miss["response_body"]["content"][0]["text"]
    else:
        chunks = openai_client(gw, "sk-stream").chat.completions.create(**request, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == miss["response_body"]["choices"][0]["message"]["content"]
    assert upstream_calls(mock) == 1


def test_accounts_do_not_share_answers(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=cached_config(mock.url))
    client = anthropic_client(gw)
    request = ask("accounts")
    as_alice = {"X-Tracegate-Account": "alice"}
    _, a1 = send(client, request, as_alice)
    _, b1 = send(client, request, {"X-Tracegate-Account": "bob"})
    _, a2 = send(client, request, as_alice)
    assert (a1[CACHE], b1[CACHE], a2[CACHE]) == ("miss", "miss", "hit")
    assert upstream_calls(mock) == 2
    # Without the header the account is the credential's fingerprint: another key, another scope.
    _, other_key = send(anthropic_client(gw), request)
    assert other_key[CACHE] == "miss"
    assert upstream_calls(mock) == 3


def test_an_upstream_error_is_not_cached(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=cached_config(mock.url))
    client = anthropic_client(gw)
    request = ask("error")
    with pytest.raises(anthropic.InternalServerError) as failed:
        client.messages.create(**request, extra_headers={"x-mock-status": "500"})
    assert failed.value.response.headers[CACHE] == "miss"
    _, retried = send(client, request)
    assert retried[CACHE] == "miss", "the error was served from the cache"
    _, again = send(client, request)
    assert again[CACHE] == "hit"
    assert upstream_calls(mock) == 2
    responses = gw.get("/api/v1/cache").json()["responses"]
    assert (responses["stored"], responses["not_stored"]) == (1, 1)


def test_the_request_header_turns_the_cache_on_and_off(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=cached_config(mock.url, ttl=None))
    client = anthropic_client(gw)

    # Off in the config: not cached.
    plain = ask("plain", extra_body={"temperature": 0})
    for _ in range(2):
        _, headers = send(client, plain)
        assert CACHE not in headers
    assert upstream_calls(mock) == 2

    # The header asks for it: cached, even though the request samples.
    sampled = ask("asked", **SAMPLING)
    on = {"X-Tracegate-Cache": "ttl=600"}
    first, h1 = send(client, sampled, on)
    second, h2 = send(client, sampled, on)
    assert (h1[CACHE], h2[CACHE]) == ("miss", "hit")
    assert second == first
    assert upstream_calls(mock) == 3
    # The header is the gateway's: the upstream never sees it.
    seen = mock.request(h1["x-mock-response-id"])["headers"]
    assert not any(k.lower().startswith("x-tracegate-") for k in seen)

    # no-store goes upstream even with an answer in the cache.
    _, bypassed = send(client, sampled, {"X-Tracegate-Cache": "no-store"})
    assert CACHE not in bypassed
    assert upstream_calls(mock) == 4

    # A malformed header is the client's error, in the provider's format.
    r = gw.post(
        "/v1/messages",
        json={k: v for k, v in sampled.items() if k != "extra_body"},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01", "X-Tracegate-Cache": "forever"},
    )
    assert r.status_code == 400
    assert r.json()["type"] == "error" and "x-tracegate-cache" in r.json()["error"]["message"]
    assert upstream_calls(mock) == 4


def test_stats_show_hits_hit_rate_and_saved_cost(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(config=cached_config(mock.url, extra="api_cache_entries = 0"))
    client = anthropic_client(gw)
    request = ask("stats")
    ids = [send(client, request)[1]["x-request-id"] for _ in range(4)]
    traces = [gw.trace(i) for i in ids]
    assert [t["outcome"] for t in traces] == ["ok", "cache_hit", "cache_hit", "cache_hit"]
    saved = sum(t["cache_saved_usd"] for t in traces[1:])
    assert saved > 0

    now = int(time.time() * 1000)
    window = {"from": str(now - 3_600_000), "to": str(now + 60_000), "bucket": "1h"}
    totals = gw.get("/api/v1/stats", params=window).json()["totals"]
    assert len(totals) == 1
    total = totals[0]
    assert (total["requests"], total["errors"], total["cache_hits"]) == (4, 0, 3)
    assert total["cache_hit_rate"] == pytest.approx(0.75)
    assert total["cache_saved_usd"] == pytest.approx(saved, rel=1e-9)
    assert total["cost_usd"] == pytest.approx(traces[0]["cost_usd"], rel=1e-9)

    by_outcome = gw.get("/api/v1/stats", params={**window, "group_by": "outcome"}).json()["totals"]
    hits = next(g for g in by_outcome if g["key"] == "cache_hit")
    assert (hits["requests"], hits["errors"], hits["cache_hits"]) == (3, 0, 3)

    found = gw.get("/api/v1/traces", params={"outcome": "cache_hit"}).json()["data"]
    assert sorted(t["id"] for t in found) == sorted(ids[1:])
