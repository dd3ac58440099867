"""The command line: `tracegate prices`, `--listen` with a host name, plain (uncoloured) logs
into files and pipes; and traces of models without a price."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from harness import Gateway, Mock, Process, StartGateway, binary, child_env, free_port, gateway_config
from payloads import ANTHROPIC_HEADERS, anthropic_request

ESC = "\x1b["


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary()), *args], env=child_env(env), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
    )


def test_prices_prints_the_table_with_overrides_marked(tmp_path: Path) -> None:
    config = tmp_path / "prices.toml"
    config.write_text('[prices."my-finetune"]\ninput = 3.0\noutput = 12.0\n\n[prices."gpt-4o"]\ninput = 1.0\noutput = 2.0\n')

    done = run(["prices", "--config", str(config), "--json"])
    assert done.returncode == 0, done.stderr
    rows = {r["model"]: r for r in json.loads(done.stdout)}
    assert rows["my-finetune"] == {
        "model": "my-finetune", "input": 3.0, "output": 12.0, "cache_read": None, "cache_write": None, "source": "override"
    }
    assert (rows["gpt-4o"]["input"], rows["gpt-4o"]["source"]) == (1.0, "override")
    opus = rows["claude-opus-5-5"]
    assert (opus["input"], opus["output"], opus["source"]) == (5.0, 25.0, "builtin")

    done = run(["prices", "--config", str(config)])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model"))
    assert all(col in lines[header] for col in ("input", "output", "cache read", "cache write"))
    mine = next(line for line in lines if line.startswith("my-finetune "))
    assert mine.split()[1:3] == ["3.000", "12.000"] and mine.endswith("config override"), mine
    sonnet = next(line for line in lines if line.startswith("claude-sonnet-4-5 "))
    assert sonnet.split()[1:5] == ["3.000", "15.000", "0.300", "3.750"] and sonnet.endswith("built-in"), sonnet
    # Aligned: each price column ends at the same place on every row.
    end = lines[header].index("output") + len("output")
    assert all(line[end - 1].isdigit() for line in lines[header + 1 :]), done.stdout

    assert run(["prices"]).returncode == 0


def test_unpriced_models_are_counted_and_logged_once(gateway: Gateway) -> None:
    for _ in range(2):
        body = {**anthropic_request(), "model": "llama-e2e-unpriced"}
        r = gateway.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
        assert r.status_code == 200, r.text
        trace = gateway.trace(r.headers["x-request-id"])
        assert trace["input_tokens"] and trace["cost_usd"] is None, trace
    r = gateway.post("/v1/messages", json={**anthropic_request(), "model": "claude-opus-5-5"}, headers=ANTHROPIC_HEADERS)
    assert gateway.trace(r.headers["x-request-id"])["cost_usd"] > 0
    recorder = gateway.get("/api/v1/recorder").json()
    assert recorder["unpriced"] == 2, recorder
    warnings = [line for line in gateway.log_text().splitlines() if "no price for this model" in line]
    assert len(warnings) == 1 and "llama-e2e-unpriced" in warnings[0], warnings


def test_listen_accepts_a_host_name(tmp_path: Path, mock: Mock) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(gateway_config(mock.url))
    port = free_port()
    args = ["serve", "--listen", f"localhost:{port}", "--db", str(tmp_path / "gw.db"), "--config", str(config)]
    gw = Process("gateway", args, tmp_path / "gw.log", child_env())
    try:
        gw.wait_http(f"http://127.0.0.1:{port}/health", lambda r: r.status_code == 200)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
        assert r.status_code == 200
    finally:
        assert gw.stop() == 0


def test_bad_listen_is_refused_naming_listen(tmp_path: Path) -> None:
    done = run(["serve", "--listen", "localhost", "--db", str(tmp_path / "x.db")])
    assert done.returncode != 0
    assert "listen" in done.stderr and "host:port" in done.stderr, done.stderr


def test_logs_into_files_and_pipes_have_no_colour_codes(start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = start_gateway(env={"TRACEGATE_NOT_A_SETTING": "1"})
    gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    time.sleep(0.2)
    log = gw.log_text()
    assert "INFO" in log and "WARN" in log, log[:2000]
    assert ESC not in log, repr(log[:500])

    # Into a pipe: `migrate` logs a warning and its progress, uncoloured.
    done = run(["migrate", "--db", str(tmp_path / "piped.db")], {"TRACEGATE_NOT_A_SETTING": "1"})
    assert done.returncode == 0, done.stderr
    assert "WARN" in done.stderr and "INFO" in done.stderr, done.stderr
    assert ESC not in done.stderr, repr(done.stderr)

    # A configuration error ends the process before logging starts: plain text, the key as written.
    bad = tmp_path / "bad.toml"
    bad.write_text("listne = 1\n")
    done = run(["serve", "--config", str(bad), "--db", str(tmp_path / "bad.db")])
    assert done.returncode != 0
    assert ESC not in done.stderr, repr(done.stderr)
    assert "unknown key `listne`" in done.stderr and "default." not in done.stderr, done.stderr
