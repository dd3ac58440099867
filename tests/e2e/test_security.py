"""What the gateway refuses to protect its operator: API requests to foreign host names while
the API is open (DNS rebinding), foreign browser origins on the API and the proxy, non-JSON
content types, dot-segment paths, oversized metadata; and upstream usage figures no request
can have."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
from pathlib import Path

import httpx
import pytest

from harness import Gateway, Mock, Process, StartGateway, child_env, free_port, gateway_config
from payloads import (
    ANTHROPIC_HEADERS,
    OPENAI_HEADERS,
    anthropic_request,
    assert_anthropic_error,
    assert_openai_error,
    openai_request,
)

U64_MAX = 2**64 - 1
JSON = {"content-type": "application/json"}
EVIL = "https://evil.example"


def mock_paths(mock: Mock) -> list[str]:
    """The paths of every request the mock received, in order (its log ids count from 1)."""
    paths = []
    for i in range(1, 1000):
        r = httpx.get(f"{mock.url}/_mock/requests/{i}", timeout=5)
        if r.status_code == 404:
            return paths
        paths.append(r.json()["path"])
    raise AssertionError("more requests than expected")


def assert_refused_trace(gw: Gateway, r: httpx.Response | http.client.HTTPResponse, status: int) -> dict:
    """The refusal was recorded: status, outcome and an error text, and no upstream."""
    trace = gw.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"]) == (status, "client_error"), trace
    assert trace["error"], trace
    assert trace["upstream"] is None, trace
    return trace


# --- /api: Host check while the API is open, and CORS ---------------------------------------


def test_open_api_answers_only_loopback_host_names(gateway: Gateway, mock: Mock) -> None:
    port = gateway.port
    for host in [f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"app.localhost:{port}", f"[::1]:{port}"]:
        r = gateway.get("/api/v1/recorder", headers={"host": host})
        assert r.status_code == 200, (host, r.text)
    for host in [f"rebound.evil.example:{port}", "evil.example", f"localhost.evil.example:{port}", "10.1.2.3"]:
        r = gateway.get("/api/v1/recorder", headers={"host": host})
        assert r.status_code == 403, (host, r.text)
        err = r.json()["error"]
        assert err["kind"] == "forbidden" and "allowed_hosts" in err["message"], err
        assert r.headers["content-type"].startswith("application/json")
    # The search route is guarded too; health and readiness stay open.
    r = gateway.post("/api/v1/traces/search", json={}, headers={"host": "evil.example"})
    assert r.status_code == 403
    assert gateway.get("/health", headers={"host": "evil.example"}).status_code == 200
    assert gateway.get("/ready", headers={"host": "evil.example"}).status_code == 200


def test_allowed_hosts_from_the_file_and_the_environment(start_gateway: StartGateway) -> None:
    gw = start_gateway(extra='allowed_hosts = ["gw.internal"]')
    assert gw.get("/api/v1/recorder", headers={"host": f"GW.internal:{gw.port}"}).status_code == 200
    assert gw.get("/api/v1/recorder", headers={"host": "other.internal"}).status_code == 403
    gw = start_gateway(env={"TRACEGATE_ALLOWED_HOSTS": "a.internal, b.internal"})
    assert gw.get("/api/v1/recorder", headers={"host": "b.internal"}).status_code == 200
    assert gw.get("/api/v1/recorder", headers={"host": "c.internal"}).status_code == 403


def test_with_an_admin_token_the_host_is_not_checked(start_gateway: StartGateway) -> None:
    token = secrets.token_hex(16)
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": token})
    auth = {"authorization": f"Bearer {token}"}
    assert gw.get("/api/v1/recorder", headers={**auth, "host": "gateway.example.com"}).status_code == 200
    assert gw.get("/api/v1/recorder", headers={"host": "gateway.example.com"}).status_code == 401


def preflight(gw: Gateway, path: str, origin: str) -> httpx.Response:
    return httpx.request(
        "OPTIONS",
        gw.url + path,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
        timeout=10,
    )


def test_api_cors_allows_listed_origins_only(start_gateway: StartGateway) -> None:
    gw = start_gateway(extra='allowed_origins = ["https://app.example.com"]')
    r = preflight(gw, "/api/v1/traces/search", EVIL)
    assert r.status_code == 403, r.text
    assert "access-control-allow-origin" not in r.headers
    assert r.json()["error"]["kind"] == "forbidden"

    r = preflight(gw, "/api/v1/traces/search", "https://app.example.com")
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"]

    r = gw.post("/api/v1/traces/search", json={}, headers={"origin": "https://app.example.com"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    r = gw.post("/api/v1/traces/search", json={}, headers={"origin": EVIL})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    # A page of the gateway's own host and port is same-origin.
    r = gw.get("/api/v1/recorder", headers={"origin": gw.url})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_api_preflight_without_allowed_origins_is_refused(gateway: Gateway) -> None:
    r = preflight(gateway, "/api/v1/traces/search", "http://localhost:3000")
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


# --- The proxy: browser origins ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/v1/models"])
def test_foreign_origins_cannot_use_the_proxy(gateway: Gateway, mock: Mock, path: str) -> None:
    anthropic_path = path == "/v1/messages"
    headers = {**(ANTHROPIC_HEADERS if anthropic_path else OPENAI_HEADERS), "origin": EVIL}
    if path == "/v1/models":
        r = httpx.get(gateway.url + path, headers=headers, timeout=10)
    else:
        body = anthropic_request() if anthropic_path else openai_request()
        r = gateway.post(path, json=body, headers=headers)
    assert r.status_code == 403, r.text
    if anthropic_path:
        assert_anthropic_error(r.json(), "permission_error")
    else:
        assert_openai_error(r.json())
    assert "allowed_origins" in r.text
    trace = assert_refused_trace(gateway, r, 403)
    assert trace["endpoint"] == path
    # A preflight from the same page is refused and recorded too.
    r = preflight(gateway, path, EVIL)
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    assert_refused_trace(gateway, r, 403)
    assert mock_paths(mock) == []


def test_listed_and_same_machine_origins_can_use_the_proxy(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway(extra='allowed_origins = ["https://app.example.com"]')
    for origin in ["https://app.example.com", "http://localhost:5173", "http://127.0.0.1:3000"]:
        r = gw.post("/v1/messages", json=anthropic_request(), headers={**ANTHROPIC_HEADERS, "origin": origin})
        assert r.status_code == 200, (origin, r.text)
    r = gw.post("/v1/messages", json=anthropic_request(), headers={**ANTHROPIC_HEADERS, "origin": "null"})
    assert r.status_code == 403
    assert mock_paths(mock) == ["/v1/messages"] * 3


def test_localhost_origins_are_foreign_to_a_network_listener(tmp_path: Path, mock: Mock) -> None:
    port = free_port()
    config = tmp_path / "network.toml"
    config.write_text(gateway_config(mock.url))
    token = secrets.token_hex(16)
    args = ["serve", "--listen", f"0.0.0.0:{port}", "--db", str(tmp_path / "network.db"), "--config", str(config)]
    gw = Process("gateway", args, tmp_path / "gateway-network.log", child_env({"TRACEGATE_ADMIN_TOKEN": token}))
    try:
        url = f"http://127.0.0.1:{port}"
        gw.wait_http(url + "/health", lambda r: r.status_code == 200)
        r = httpx.post(
            url + "/v1/messages",
            json=anthropic_request(),
            headers={**ANTHROPIC_HEADERS, "origin": "http://localhost:3000"},
            timeout=30,
        )
        assert r.status_code == 403, r.text
        assert "network address" in r.json()["error"]["message"]
        r = httpx.post(url + "/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS, timeout=30)
        assert r.status_code == 200, r.text
        assert mock_paths(mock) == ["/v1/messages"]
    finally:
        gw.kill()


def test_allowed_origins_from_the_environment(start_gateway: StartGateway) -> None:
    gw = start_gateway(env={"TRACEGATE_ALLOWED_ORIGINS": "https://a.example,https://b.example:8443"})
    for origin, status in [("https://b.example:8443", 200), ("https://b.example", 403), (EVIL, 403)]:
        r = gw.post("/v1/chat/completions", json=openai_request(), headers={**OPENAI_HEADERS, "origin": origin})
        assert r.status_code == status, (origin, r.text)


# --- The proxy: content type -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_endpoints_need_a_json_content_type(
    gateway: Gateway, mock: Mock, path: str, content_type: str | None
) -> None:
    openai_path = path == "/v1/chat/completions"
    body = json.dumps(openai_request() if openai_path else anthropic_request()).encode()
    headers = dict(OPENAI_HEADERS if openai_path else ANTHROPIC_HEADERS)
    if content_type:
        headers["content-type"] = content_type
    r = gateway.post(path, content=body, headers=headers)
    assert r.status_code == 415, r.text
    if openai_path:
        assert_openai_error(r.json())
    else:
        assert_anthropic_error(r.json(), "invalid_request_error")
    assert "application/json" in r.text
    trace = assert_refused_trace(gateway, r, 415)
    assert trace["endpoint"] == path
    assert mock_paths(mock) == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.x+json"])
def test_json_content_types_with_parameters_and_suffixes_pass(gateway: Gateway, content_type: str) -> None:
    body = json.dumps(anthropic_request()).encode()
    r = gateway.post("/v1/messages", content=body, headers={**ANTHROPIC_HEADERS, "content-type": content_type})
    assert r.status_code == 200, r.text


def test_other_endpoints_take_any_content_type(gateway: Gateway) -> None:
    r = httpx.get(gateway.url + "/v1/models", headers=OPENAI_HEADERS, timeout=10)
    assert r.status_code == 200, r.text


# --- Client headers the recorder keeps ---------------------------------------------------------


def test_metadata_over_16_kib_is_refused(gateway: Gateway, mock: Mock) -> None:
    def metadata(size: int) -> str:
        text = json.dumps({"k": ""})
        return json.dumps({"k": "x" * (size - len(text))})

    assert len(metadata(16 * 1024)) == 16 * 1024
    r = gateway.post(
        "/v1/messages",
        json=anthropic_request(),
        headers={**ANTHROPIC_HEADERS, "x-tracegate-metadata": metadata(16 * 1024 + 1)},
    )
    assert r.status_code == 400, r.text
    assert_anthropic_error(r.json(), "invalid_request_error")
    trace = assert_refused_trace(gateway, r, 400)
    assert trace["metadata"] is None
    assert "16384" in trace["error"]
    assert mock_paths(mock) == []

    r = gateway.post(
        "/v1/messages",
        json=anthropic_request(),
        headers={**ANTHROPIC_HEADERS, "x-tracegate-metadata": metadata(16 * 1024)},
    )
    assert r.status_code == 200, r.text
    assert len(gateway.trace(r.headers["x-request-id"])["metadata"]["k"]) > 16_000


def test_user_agent_is_cut_at_1_kib(gateway: Gateway) -> None:
    ua = "agent/1.0 " + "z" * 5000
    r = gateway.post("/v1/messages", json=anthropic_request(), headers={**ANTHROPIC_HEADERS, "user-agent": ua})
    assert r.status_code == 200
    kept = gateway.trace(r.headers["x-request-id"])["user_agent"]
    assert kept == ua[:1024]


# --- Dot segments, sent as raw bytes (HTTP clients normalise them away) ------------------------


def raw_post(gw: Gateway, target: str, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
    """Sends `POST target` exactly as written and reads the answer."""
    lines = [f"POST {target} HTTP/1.1", f"Host: 127.0.0.1:{gw.port}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        sock.sendall(request)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        resp.read()
        return resp
    finally:
        sock.close()


@pytest.mark.parametrize(
    "target",
    [
        "/v1/../../x",
        "/v1/./messages",
        "/v1/messages/../../admin",
        "/v1/%2e%2e/%2e%2e/x",
        "/v1/%2E%2E/x",
        "/v1/%2e/messages",
        "/v1/.%2e/x",
        "/v1/..%2fadmin",
    ],
)
def test_dot_segments_are_refused_not_forwarded(gateway: Gateway, mock: Mock, target: str) -> None:
    body = json.dumps(anthropic_request()).encode()
    resp = raw_post(gateway, target, body, {**ANTHROPIC_HEADERS, **JSON})
    assert resp.status == 400
    trace = gateway.trace(resp.headers["x-request-id"])
    assert (trace["status"], trace["outcome"], trace["upstream"]) == (400, "client_error", None)
    assert trace["endpoint"] == target
    assert "segment" in trace["error"]
    assert mock_paths(mock) == []


def test_plain_paths_still_pass_raw(gateway: Gateway, mock: Mock) -> None:
    resp = raw_post(gateway, "/v1/messages", json.dumps(anthropic_request()).encode(), {**ANTHROPIC_HEADERS, **JSON})
    assert resp.status == 200
    assert mock_paths(mock) == ["/v1/messages"]


# --- Usage no request can have -----------------------------------------------------------------


CASES = [
    ("/v1/messages", False, {"input_tokens": U64_MAX}, "input_tokens"),
    ("/v1/messages", True, {"output_tokens": U64_MAX}, "output_tokens"),
    ("/v1/chat/completions", False, {"prompt_tokens": U64_MAX}, "input_tokens"),
    ("/v1/chat/completions", True, {"completion_tokens": 10**9 + 1}, "output_tokens"),
]


@pytest.mark.parametrize("path,stream,override,field", CASES)
def test_implausible_usage_is_not_recorded(
    gateway: Gateway, path: str, stream: bool, override: dict, field: str
) -> None:
    account = f"absurd-{secrets.token_hex(4)}"
    openai_path = path == "/v1/chat/completions"
    # An OpenAI stream asks for usage itself, so the client sees the figure too.
    body = openai_request(stream, include_usage=True) if openai_path else anthropic_request(stream)
    headers = {
        **(OPENAI_HEADERS if openai_path else ANTHROPIC_HEADERS),
        "x-tracegate-account": account,
        "x-mock-usage-override": json.dumps(override),
    }
    r = gateway.post(path, json=body, headers=headers)
    assert r.status_code == 200, r.text
    # The client gets what the upstream sent.
    assert str(next(iter(override.values()))) in r.text
    trace = gateway.trace(r.headers["x-request-id"])
    assert (trace["status"], trace["outcome"]) == (200, "ok"), trace
    assert trace[field] is None, trace
    assert "implausible usage" in trace["error"], trace
    assert trace["cost_usd"] is None, trace
    assert trace["total_tokens"] < 10**9, trace
    other = "output_tokens" if field == "input_tokens" else "input_tokens"
    assert trace[other] is not None and trace[other] > 0, trace

    # A normal request of the same account next to it: totals count only plausible figures.
    r = gateway.post(path, json=body, headers={k: v for k, v in headers.items() if k != "x-mock-usage-override"})
    assert r.status_code == 200
    normal = gateway.trace(r.headers["x-request-id"])
    assert normal["error"] is None and normal["cost_usd"] is not None
    for route in ["/api/v1/usage/window?window=30m", "/api/v1/usage/daily?days=1"]:
        totals = gateway.get(f"{route}&account={account}").json()["totals"]
        assert totals["requests"] == 2, (route, totals)
        assert totals[field] == normal[field], (route, totals)
        assert totals["total_tokens"] == trace["total_tokens"] + normal["total_tokens"], (route, totals)
