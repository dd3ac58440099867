"""Virtual keys: `tracegate keys`, `/api/v1/keys` and the `auth` modes, with the official
SDKs against the mock upstream."""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import anthropic
import openai
import pytest

from harness import Gateway, Mock, StartGateway, binary, child_env, gateway_config
from oracle import ANTHROPIC_MODEL, OPENAI_MODEL, fingerprint
from payloads import anthropic_request, assert_anthropic_error, assert_openai_error, openai_request

ANTHROPIC_UPSTREAM_KEY = f"sk-ant-upstream-{secrets.token_hex(6)}"
OPENAI_UPSTREAM_KEY = f"sk-openai-upstream-{secrets.token_hex(6)}"
ENV = {"E2E_KEYS_ANTHROPIC": ANTHROPIC_UPSTREAM_KEY, "E2E_KEYS_OPENAI": OPENAI_UPSTREAM_KEY}
# Past the gateway's key cache TTL (5 s), for revocations made in the database directly.
CACHE_TTL_S = 5.5


def keys_config(mock: Mock, mode: str) -> str:
    config = gateway_config(mock.url, extra=f'auth = "{mode}"')
    for kind, var in (("anthropic", "E2E_KEYS_ANTHROPIC"), ("openai", "E2E_KEYS_OPENAI")):
        config = config.replace(f'name = "{kind}"\n', f'name = "{kind}"\napi_key_env = "{var}"\n')
    return config


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary()), "keys", *args], capture_output=True, text=True, timeout=60, env=child_env()
    )


def cli_key(db: Path, *args: str) -> str:
    r = cli("create", "--db", str(db), *args)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert key.startswith("tg-") and len(key) == 67, key
    return key


def upstream_headers(mock: Mock, raw: object) -> dict[str, str]:
    headers = raw.headers  # type: ignore[attr-defined]
    return {k.lower(): v for k, v in mock.request(headers["x-mock-response-id"])["headers"].items()}


@pytest.fixture
def keys_gateway(start_gateway: StartGateway, mock: Mock) -> Gateway:
    return start_gateway(config=keys_config(mock, "keys"), env=ENV)


def test_a_valid_key_works_and_the_provider_gets_the_upstream_key(
    keys_gateway: Gateway, mock: Mock
) -> None:
    gw = keys_gateway
    key = cli_key(gw.db, "--account", "team-keys", "--name", "ci", "--rpm", "60", "--budget-usd-day", "2.5")
    with anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=30) as client:
        raw = client.messages.with_raw_response.create(
            **anthropic_request(), extra_headers={"X-Tracegate-Account": "someone-else"}
        )
    assert raw.status_code == 200
    upstream = upstream_headers(mock, raw)
    assert upstream["x-api-key"] == ANTHROPIC_UPSTREAM_KEY
    assert key not in str(upstream)
    trace = gw.trace(raw.headers["x-request-id"])
    assert (trace["account"], trace["outcome"]) == ("team-keys", "ok"), "X-Tracegate-Account is ignored"

    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30) as client:
        raw = client.chat.completions.with_raw_response.create(**openai_request())
    upstream = upstream_headers(mock, raw)
    assert upstream["authorization"] == f"Bearer {OPENAI_UPSTREAM_KEY}"
    assert key not in str(upstream)
    assert gw.trace(raw.headers["x-request-id"])["account"] == "team-keys"

    listed = cli("list", "--db", str(gw.db))
    assert listed.returncode == 0, listed.stderr
    assert "team-keys" in listed.stdout and key[3:11] in listed.stdout and "2.5" in listed.stdout
    assert key[11:] not in listed.stdout
    api = gw.get("/api/v1/keys").json()
    assert [(k["account"], k["name"], k["limits"]["rpm"]) for k in api] == [("team-keys", "ci", 60)]
    assert key[11:] not in str(api)


def test_invalid_missing_and_expired_keys_get_401_traced_unauthorized(
    keys_gateway: Gateway, mock: Mock
) -> None:
    gw = keys_gateway
    expired = cli_key(gw.db, "--account", "old", "--expires", "2001-01-01")
    for credential in (f"tg-{secrets.token_hex(32)}", f"sk-ant-{secrets.token_hex(8)}", expired):
        with anthropic.Anthropic(base_url=gw.url, api_key=credential, max_retries=0, timeout=30) as client:
            with pytest.raises(anthropic.AuthenticationError) as err:
                client.messages.create(**anthropic_request())
        resp = err.value.response
        assert resp.status_code == 401
        assert_anthropic_error(resp.json(), "authentication_error")
        trace = gw.trace(resp.headers["x-request-id"])
        assert (trace["status"], trace["outcome"]) == (401, "unauthorized")
        assert trace["account"] == fingerprint(credential)
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=expired, max_retries=0, timeout=30) as client:
        with pytest.raises(openai.AuthenticationError) as oerr:
            client.chat.completions.create(**openai_request())
    assert "expired" in oerr.value.response.json()["error"]["message"]
    assert_openai_error(oerr.value.response.json())


def test_keys_revoked_by_api_at_once_and_by_cli_within_the_cache_ttl(keys_gateway: Gateway) -> None:
    gw = keys_gateway
    created = gw.post("/api/v1/keys", json={"account": "team-api", "models": ["claude-*"]})
    assert created.status_code == 201, created.text
    body = created.json()
    key, key_id = body["key"], body["id"]
    assert body["prefix"] == key[3:11] and "hash" not in body

    def call(k: str) -> int:
        r = gw.post("/v1/messages", json=anthropic_request(), headers={"x-api-key": k, "anthropic-version": "2023-06-01"})
        return r.status_code

    assert call(key) == 200
    assert gw.post("/api/v1/keys", json={"account": ""}).status_code == 400
    revoked = httpx_delete(gw, f"/api/v1/keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert call(key) == 401, "revocation through the API is immediate"

    other = cli_key(gw.db, "--account", "team-cli")
    assert call(other) == 200
    r = cli("revoke", "--db", str(gw.db), other)
    assert r.returncode == 0, r.stderr
    time.sleep(CACHE_TTL_S)
    assert call(other) == 401
    assert httpx_delete(gw, "/api/v1/keys/0190a0b0-0000-7000-8000-000000000000").status_code == 404
    assert httpx_delete(gw, "/api/v1/keys/nope").status_code == 400


def httpx_delete(gw: Gateway, path: str):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.delete(gw.url + path, timeout=10.0)


def test_models_outside_the_globs_and_keys_without_proxy_scope_get_403(
    keys_gateway: Gateway,
) -> None:
    gw = keys_gateway
    key = cli_key(gw.db, "--account", "a", "--models", "gpt-*,o1*")
    with anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=30) as client:
        with pytest.raises(anthropic.PermissionDeniedError) as err:
            client.messages.create(**anthropic_request())
    trace = gw.trace(err.value.response.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["model_requested"]) == (403, "client_error", ANTHROPIC_MODEL)
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30) as client:
        assert client.chat.completions.with_raw_response.create(**openai_request()).status_code == 200
    read_only = cli_key(gw.db, "--account", "a", "--scope", "read")
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=read_only, max_retries=0, timeout=30) as client:
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}])


def test_passthrough_is_unchanged_and_keys_or_passthrough_checks_only_tg_keys(
    start_gateway: StartGateway, mock: Mock
) -> None:
    gw = start_gateway()
    client_key = f"sk-ant-e2e-{secrets.token_hex(6)}"
    with anthropic.Anthropic(base_url=gw.url, api_key=client_key, max_retries=0, timeout=30) as client:
        raw = client.messages.with_raw_response.create(
            **anthropic_request(), extra_headers={"X-Tracegate-Account": "chosen"}
        )
    seen = upstream_headers(mock, raw)
    assert client_key in (seen.get("x-api-key"), seen.get("authorization", "").removeprefix("Bearer ")), seen
    assert gw.trace(raw.headers["x-request-id"])["account"] == "chosen"

    mixed = start_gateway(config=keys_config(mock, "keys_or_passthrough"), env=ENV)
    key = cli_key(mixed.db, "--account", "team-mixed")
    with anthropic.Anthropic(base_url=mixed.url, api_key=key, max_retries=0, timeout=30) as client:
        raw = client.messages.with_raw_response.create(**anthropic_request())
    assert upstream_headers(mock, raw)["x-api-key"] == ANTHROPIC_UPSTREAM_KEY
    assert mixed.trace(raw.headers["x-request-id"])["account"] == "team-mixed"
    with anthropic.Anthropic(base_url=mixed.url, api_key=client_key, max_retries=0, timeout=30) as client:
        raw = client.messages.with_raw_response.create(**anthropic_request())
    assert mixed.trace(raw.headers["x-request-id"])["account"] == fingerprint(client_key)
    with anthropic.Anthropic(base_url=mixed.url, api_key=f"tg-{secrets.token_hex(32)}", max_retries=0, timeout=30) as client:
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(**anthropic_request())


def test_keys_mode_needs_an_upstream_key_for_every_upstream(tmp_path: Path, mock: Mock) -> None:
    config = tmp_path / "keys.toml"
    config.write_text(gateway_config(mock.url, extra='auth = "keys"'))
    r = subprocess.run(
        [str(binary()), "serve", "--config", str(config), "--db", str(tmp_path / "t.db"), "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60, env=child_env(),
    )
    assert r.returncode != 0
    assert "api_key_env" in r.stderr, r.stderr
