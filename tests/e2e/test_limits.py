"""Rate limits and budgets (phase 3) through the real binary and the mock upstream: a key's
and an account's requests per minute, refused with 429, `retry-after`, the provider's error
JSON and the rate-limit headers, and the refusal traced as `rate_limited`."""

from __future__ import annotations

import httpx

from harness import Gateway, Mock, StartGateway, gateway_config
from payloads import ANTHROPIC_HEADERS, anthropic_request, openai_request
from test_keys import ENV, cli_key

LIMITS = """auth = "keys"
[limits]
tpm = 1000000
[limits.accounts."team-lim"]
rpm = 3
"""


def limits_config(mock: Mock) -> str:
    config = gateway_config(mock.url, extra=LIMITS)
    for kind, var in (("anthropic", "E2E_KEYS_ANTHROPIC"), ("openai", "E2E_KEYS_OPENAI")):
        config = config.replace(f'name = "{kind}"\n', f'name = "{kind}"\napi_key_env = "{var}"\n')
    return config


def _messages(gw: Gateway, key: str) -> httpx.Response:
    headers = {**ANTHROPIC_HEADERS, "x-api-key": key}
    return gw.post("/v1/messages", headers=headers, json=anthropic_request())


def test_a_key_over_its_rpm_gets_429_retry_after_headers_and_a_rate_limited_trace(
    start_gateway: StartGateway, mock: Mock
) -> None:
    gw = start_gateway(config=limits_config(mock), env=ENV)
    key = cli_key(gw.db, "--account", "team-lim", "--rpm", "2")
    prefix = key[3:11]
    first = _messages(gw, key)
    assert first.status_code == 200, first.text
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["anthropic-ratelimit-requests-limit"] == "2"
    assert first.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert first.headers["x-ratelimit-limit-tokens"] == "1000000"
    assert _messages(gw, key).status_code == 200

    refused = _messages(gw, key)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    body = refused.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error", body
    message = body["error"]["message"]
    assert message.startswith(f'rate limit: key "tg-{prefix}') and "requests per minute (2)" in message, message

    trace = gw.trace(refused.headers["x-request-id"])
    assert (trace["outcome"], trace["status"], trace["account"]) == ("rate_limited", 429, "team-lim")
    assert trace["error"] == message
    found = gw.get("/api/v1/traces", params={"outcome": "rate_limited"})
    assert found.status_code == 200, found.text
    assert [t["id"] for t in found.json()["data"]] == [trace["id"]]

    # A second key of the account: the account's own limit (3 a minute) refuses it next.
    other = cli_key(gw.db, "--account", "team-lim")
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        ok = client.post("/v1/chat/completions", headers={"authorization": f"Bearer {other}"}, json=openai_request())
        assert ok.status_code == 200, ok.text
        over = client.post("/v1/chat/completions", headers={"authorization": f"Bearer {other}"}, json=openai_request())
    assert over.status_code == 429, over.text
    err = over.json()["error"]
    assert (err["type"], err["code"]) == ("requests", "rate_limit_exceeded")
    assert err["message"] == 'rate limit: account "team-lim" requests per minute (3)'
    assert "anthropic-ratelimit-requests-limit" not in over.headers

    metrics = gw.get("/metrics").text
    assert 'tracegate_rate_limited_total{limit="rpm",scope="key"} 1' in metrics
    assert 'tracegate_rate_limited_total{limit="rpm",scope="account"} 1' in metrics
