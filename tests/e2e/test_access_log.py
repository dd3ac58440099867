"""What the gateway says on its own stderr: one access line per request, text or JSON, and at
start where it sends what, with whose credential."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from harness import Gateway, Mock, StartGateway, binary, child_env, free_port, gateway_config
from payloads import ANTHROPIC_HEADERS, OPENAI_HEADERS, anthropic_request, openai_request

ACCESS_TARGET = "tracegate::access"
ACCESS_FIELDS = {
    "trace_id",
    "account",
    "provider",
    "model",
    "status",
    "outcome",
    "duration_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
}


def send(gw: Gateway, extra_headers: dict[str, str] | None = None, stream: bool = False) -> str:
    """One Anthropic request; returns its trace id once the trace is stored (and so logged)."""
    headers = {**ANTHROPIC_HEADERS, "x-tracegate-account": "log-e2e", **(extra_headers or {})}
    r = gw.post("/v1/messages", json=anthropic_request(stream=stream), headers=headers)
    trace_id = r.headers["x-request-id"]
    gw.trace(trace_id)
    return trace_id


def access_lines(gw: Gateway, trace_id: str) -> list[str]:
    return [line for line in gw.log_text().splitlines() if ACCESS_TARGET in line and trace_id in line]


def test_each_request_logs_one_access_line(gateway: Gateway) -> None:
    ok = send(gateway)
    failed = send(gateway, {"x-mock-status": "429"})
    streamed = send(gateway, stream=True)
    for trace_id, outcome in [(ok, "ok"), (failed, "upstream_error"), (streamed, "ok")]:
        lines = access_lines(gateway, trace_id)
        assert len(lines) == 1, (trace_id, lines, gateway.log_text()[-3000:])
        assert outcome in lines[0] and "log-e2e" in lines[0], lines[0]
    r = gateway.post("/v1/chat/completions", json=openai_request(), headers=OPENAI_HEADERS)
    gateway.trace(r.headers["x-request-id"])
    assert len(access_lines(gateway, r.headers["x-request-id"])) == 1


def test_json_log_format_makes_every_line_json(start_gateway: StartGateway) -> None:
    gw = start_gateway(extra='log_format = "json"')
    trace_id = send(gw)
    lines = [line for line in gw.log_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, not only access lines
    access = [r for r in records if r.get("target") == ACCESS_TARGET]
    assert [r["trace_id"] for r in access] == [trace_id], access
    line = access[0]
    assert ACCESS_FIELDS <= set(line), sorted(line)
    assert line["account"] == "log-e2e" and line["provider"] == "anthropic"
    assert line["status"] == 200 and line["outcome"] == "ok"
    assert line["duration_ms"] > 0 and line["input_tokens"] > 0 and line["cost_usd"] > 0
    assert any(r.get("message") == "tracegate is serving" for r in records)


def test_log_format_from_the_environment(start_gateway: StartGateway) -> None:
    gw = start_gateway(env={"TRACEGATE_LOG_FORMAT": "json"})
    trace_id = send(gw)
    records = [json.loads(line) for line in gw.log_text().splitlines() if line.strip()]
    assert any(r.get("trace_id") == trace_id for r in records)


def test_an_unknown_log_format_is_refused_with_its_key(tmp_path: Path, mock: Mock) -> None:
    config = tmp_path / "log.toml"
    config.write_text(gateway_config(mock.url))
    args = ["serve", "--listen", f"127.0.0.1:{free_port()}", "--db", str(tmp_path / "log.db"), "--config", str(config)]
    done = subprocess.run(
        [str(binary()), *args],
        env=child_env({"TRACEGATE_LOG_FORMAT": "yaml"}),
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0
    assert "log_format" in done.stderr.lower() and "yaml" in done.stderr, done.stderr[-2000:]


def test_access_log_can_be_turned_off(start_gateway: StartGateway) -> None:
    gw = start_gateway(env={"TRACEGATE_ACCESS_LOG": "false"})
    trace_id = send(gw)
    time.sleep(0.2)
    assert ACCESS_TARGET not in gw.log_text()
    assert access_lines(gw, trace_id) == []
    gw2 = start_gateway(extra="access_log = false")
    send(gw2)
    assert ACCESS_TARGET not in gw2.log_text()


def test_start_up_names_upstreams_and_credentials_never_keys(start_gateway: StartGateway, mock: Mock) -> None:
    key = "sk-e2e-injected-0f3c9a7d"
    config = gateway_config(mock.url).replace(
        'name = "openai"\n', 'name = "openai"\napi_key_env = "E2E_INJECTED_KEY"\nmodels = ["gpt-*"]\n'
    )
    gw = start_gateway(config=config, env={"E2E_INJECTED_KEY": key})
    # The injected key reaches the upstream, so it was really configured...
    r = gw.post("/v1/chat/completions", json=openai_request(), headers=OPENAI_HEADERS)
    assert r.status_code == 200
    gw.trace(r.headers["x-request-id"])
    log = gw.log_text()
    # ...and the log says where requests go and with whose credential, never the key.
    assert mock.url in log
    assert "passthrough" in log
    assert "E2E_INJECTED_KEY" in log
    assert "gpt-*" in log
    assert "loopback" in log
    assert key not in log
    assert httpx.get(gw.url + "/health").status_code == 200
