"""Who a request belongs to: `X-Tracegate-Account` / `X-Tracegate-Metadata`, the credential
fingerprint, an injected upstream key, and which headers reach the upstream."""

from __future__ import annotations

import json
import secrets

import anthropic
import openai
import pytest

from harness import Gateway, Mock, StartGateway, gateway_config
from oracle import OPENAI_MODEL, fingerprint
from payloads import (
    ANTHROPIC_HEADERS,
    OPENAI_HEADERS,
    anthropic_request,
    assert_anthropic_error,
    assert_openai_error,
    openai_request,
)

METADATA = {"run": "e2e", "step": 3, "tags": ["a", "b"], "nested": {"ok": True}}


def test_account_and_metadata_headers_land_in_the_trace(
    anthropic_client: anthropic.Anthropic, gateway: Gateway, mock: Mock
) -> None:
    raw = anthropic_client.messages.with_raw_response.create(
        **anthropic_request(),
        extra_headers={
            "X-Tracegate-Account": "team-e2e",
            "X-Tracegate-Metadata": json.dumps(METADATA),
            "x-mock-output-tokens": "5",
        },
    )
    assert raw.status_code == 200
    trace = gateway.trace(raw.headers["x-request-id"])
    assert trace["account"] == "team-e2e"
    assert trace["metadata"] == METADATA
    assert trace["output_tokens"] == 5

    upstream = {k.lower(): v for k, v in mock.request(raw.headers["x-mock-response-id"])["headers"].items()}
    assert not [k for k in upstream if k.startswith("x-tracegate-")], upstream
    assert upstream["x-mock-output-tokens"] == "5"
    assert "accept-encoding" not in upstream, "compression requested upstream"
    key = anthropic_client.api_key
    assert upstream.get("x-api-key") == key or upstream.get("authorization") == f"Bearer {key}", upstream
    assert "anthropic-version" in upstream


def test_openai_bearer_key_is_fingerprinted(
    openai_client: openai.OpenAI, gateway: Gateway, mock: Mock, api_key: str
) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(**openai_request())
    trace = gateway.trace(raw.headers["x-request-id"])
    assert trace["account"] == fingerprint(api_key)
    assert trace["metadata"] is None
    upstream = mock.request(raw.headers["x-mock-response-id"])["headers"]
    assert {k.lower(): v for k, v in upstream.items()}["authorization"] == f"Bearer {api_key}"


def test_anthropic_x_api_key_is_fingerprinted(gateway: Gateway) -> None:
    r = gateway.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 200
    trace = gateway.trace(r.headers["x-request-id"])
    assert trace["account"] == fingerprint(ANTHROPIC_HEADERS["x-api-key"])
    assert trace["user_agent"].startswith("python-httpx/")


@pytest.mark.parametrize("metadata", ["{oops", "[1, 2]", '"text"', "42"])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_bad_metadata_is_400(gateway: Gateway, mock: Mock, metadata: str, path: str) -> None:
    anthropic_api = path == "/v1/messages"
    body = anthropic_request() if anthropic_api else openai_request()
    headers = {**(ANTHROPIC_HEADERS if anthropic_api else OPENAI_HEADERS), "X-Tracegate-Metadata": metadata}
    r = gateway.post(path, json=body, headers=headers)
    assert r.status_code == 400, r.text
    if anthropic_api:
        assert_anthropic_error(r.json(), "invalid_request_error")
    else:
        assert_openai_error(r.json())
    assert "x-mock-response-id" not in r.headers, "a request with bad metadata reached the upstream"
    trace = gateway.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"]) == (400, "client_error")
    assert trace["request_body"] == body


def test_injected_upstream_key_replaces_the_clients(start_gateway: StartGateway, mock: Mock) -> None:
    upstream_key = f"sk-upstream-e2e-{secrets.token_hex(6)}"
    config = gateway_config(mock.url).replace(
        'name = "openai"\n', 'name = "openai"\napi_key_env = "E2E_UPSTREAM_OPENAI_KEY"\nmodels = ["gpt-*"]\n'
    )
    gw = start_gateway(config=config, env={"E2E_UPSTREAM_OPENAI_KEY": upstream_key})
    client_key = f"sk-client-e2e-{secrets.token_hex(6)}"
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=client_key, max_retries=0, timeout=30) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    upstream = mock.request(raw.headers["x-mock-response-id"])["headers"]
    assert {k.lower(): v for k, v in upstream.items()}["authorization"] == f"Bearer {upstream_key}"
    trace = gw.trace(raw.headers["x-request-id"])
    assert trace["account"] == fingerprint(client_key)
    assert trace["upstream"] == "openai"

    r = gw.post("/v1/chat/completions", json={**openai_request(), "model": "llama-e2e"}, headers=OPENAI_HEADERS)
    assert r.status_code == 404
    assert_openai_error(r.json())
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["model_requested"]) == (404, "client_error", "llama-e2e")
