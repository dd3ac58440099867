"""Starting the gateway: settings from the environment, refused configurations, the admin token."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from harness import Mock, StartGateway, binary, child_env, free_port, gateway_config
from payloads import ANTHROPIC_HEADERS, anthropic_request


def test_listen_db_and_config_from_the_environment(start_gateway: StartGateway, tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    gw = start_gateway(via_env=True, db=db, env={"TRACEGATE_MAX_BODY_BYTES": "2000"})
    r = gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 200
    gw.trace(r.headers["x-request-id"])
    big = {**anthropic_request(), "padding": "x" * 2000}
    assert gw.post("/v1/messages", json=big, headers=ANTHROPIC_HEADERS).status_code == 413
    assert db.is_file()


def run_serve(tmp_path: Path, config: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "bad.toml"
    path.write_text(config)
    args = ["serve", "--listen", f"127.0.0.1:{free_port()}", "--db", str(tmp_path / "bad.db"), "--config", str(path)]
    return subprocess.run(
        [str(binary()), *args], env=child_env(env), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
    )


def test_bad_configuration_is_refused_with_the_key_named(tmp_path: Path, mock: Mock) -> None:
    cases = [
        (gateway_config(mock.url, extra="listne = 1"), None, "listne"),
        (gateway_config(mock.url).replace("base_url", "base_ulr", 1), None, "base_ulr"),
        (gateway_config("ftp://127.0.0.1:1"), None, "base_url"),
        (gateway_config(mock.url), {"TRACEGATE_MAX_BODY_BYTES": "lots"}, "max_body_bytes"),
    ]
    for config, env, key in cases:
        done = run_serve(tmp_path, config, env)
        assert done.returncode != 0, f"started with a bad {key}"
        assert key in done.stderr.lower(), done.stderr[:2000]


def test_admin_token_guards_the_read_api(start_gateway: StartGateway) -> None:
    token = "e2e-admin-token"
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": token})
    r = gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 200
    url = f"{gw.url}/api/v1/traces/{r.headers['x-request-id']}"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": "Bearer wrong"}).status_code == 401
    auth = {"authorization": f"Bearer {token}"}
    for _ in range(100):  # the trace is written asynchronously
        ok = httpx.get(url, headers=auth)
        if ok.status_code == 200:
            break
        time.sleep(0.05)
    assert ok.status_code == 200 and ok.json()["status"] == 200
    assert httpx.get(gw.url + "/health").status_code == 200


def test_api_is_never_open_to_the_network_without_a_token(tmp_path: Path, mock: Mock) -> None:
    config = tmp_path / "open.toml"
    config.write_text(gateway_config(mock.url))
    port = free_port()
    args = [str(binary()), "serve", "--listen", f"0.0.0.0:{port}", "--db", str(tmp_path / "open.db"), "--config", str(config)]
    refused = subprocess.run(args, env=child_env(), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert refused.returncode != 0
    assert "admin token" in refused.stderr, refused.stderr[-2000:]

    # With a token it starts, and /api asks for it.
    proc = subprocess.Popen(args, env=child_env({"TRACEGATE_ADMIN_TOKEN": "t0ken-t0ken-t0ken"}), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert httpx.get(f"{url}/api/v1/traces").status_code == 401
        assert httpx.get(f"{url}/api/v1/traces", headers={"authorization": "Bearer t0ken-t0ken-t0ken"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_blank_or_short_token_does_not_open_the_network(tmp_path: Path, mock: Mock) -> None:
    config = tmp_path / "blank.toml"
    config.write_text(gateway_config(mock.url))
    args = [str(binary()), "serve", "--listen", f"0.0.0.0:{free_port()}", "--db", str(tmp_path / "blank.db"), "--config", str(config)]
    for token, says in [("", "admin token"), ("   ", "admin token"), ("short-token", "at least 16 bytes")]:
        refused = subprocess.run(
            args, env=child_env({"TRACEGATE_ADMIN_TOKEN": token}), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
        assert refused.returncode != 0, f"started on the network with token {token!r}"
        assert says in refused.stderr, refused.stderr[-2000:]
