"""Processes under test: the mock upstream and the gateway, run from the built binary."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from signal import SIGTERM
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
TRACE_TIMEOUT_S = 5.0


def binary() -> Path:
    """The `tracegate` binary: `$TRACEGATE_BIN`, else the dev build."""
    raw = os.environ.get("TRACEGATE_BIN") or "target/debug/tracegate"
    path = Path(raw)
    return path if path.is_absolute() else REPO / path


def free_port() -> int:
    """A TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: no stray `TRACEGATE_*` setting leaks in
    (the gateway reads every `TRACEGATE_<KEY>` as a configuration key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEGATE_")}
    env["TRACEGATE_LOG"] = os.environ.get("E2E_LOG", "info")
    env.update(extra or {})
    return env


class Process:
    """A child process with its stderr in a file, stopped at teardown."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str]):
        self.name = name
        self.log_path = log
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            [str(binary()), *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=env,
            cwd=log.parent,
        )

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_http(self, url: str, ok: Any) -> None:
        """Polls `url` until `ok(response)` holds; fails if the process exits first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        last: object = None
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready:\n{self.log_text()}"
                )
            try:
                r = httpx.get(url, timeout=2.0)
                if ok(r):
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready at {url} (last: {last}):\n{self.log_text()}")

    def signal(self, sig: int = SIGTERM) -> None:
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Waits for the exit code; kills the process if it does not exit in time."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise RuntimeError(f"{self.name} did not exit within {timeout}s:\n{self.log_text()}") from None
        finally:
            self._log.close()

    def stop(self, sig: int = SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Sends `sig` once and waits for the exit code."""
        self.signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait(5)
        if not self._log.closed:
            self._log.close()


class Mock(Process):
    """`tracegate mock-upstream` on a free port."""

    def __init__(self, workdir: Path, *flags: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            "mock-upstream",
            ["mock-upstream", "--listen", f"127.0.0.1:{self.port}", *flags],
            workdir / "mock.log",
            child_env(),
        )
        # Any HTTP answer means the listener is up; unknown ids are a 404.
        self.wait_http(f"{self.url}/_mock/requests/0", lambda r: r.status_code in (200, 404))

    def response_bytes(self, mock_id: str) -> bytes:
        """The exact bytes the mock sent for exchange `mock_id` (polled: logged at body end)."""
        r = _poll(f"{self.url}/_mock/responses/{mock_id}")
        return r.content

    def request(self, mock_id: str) -> dict[str, Any]:
        """`{"headers":..., "body":...}` of what the mock received."""
        return _poll(f"{self.url}/_mock/requests/{mock_id}").json()


def _poll(url: str, timeout: float = TRACE_TIMEOUT_S) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url, timeout=5.0)
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, f"GET {url}: {r.status_code} {r.text}"
            return r
        time.sleep(0.05)


def gateway_config(upstream_url: str, timeout_secs: int | None = None, extra: str = "") -> str:
    """A config TOML with an Anthropic and an OpenAI upstream at `upstream_url`."""
    timeout = f"timeout_secs = {timeout_secs}\n" if timeout_secs is not None else ""
    parts = [extra.strip() + "\n"] if extra.strip() else []
    for kind in ("anthropic", "openai"):
        parts.append(f'[[upstreams]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "{upstream_url}"\n{timeout}')
    return "\n".join(parts)


class Gateway(Process):
    """`tracegate serve` on a free port with its own db and config file."""

    def __init__(
        self,
        workdir: Path,
        config: str,
        env: dict[str, str] | None = None,
        db: Path | None = None,
        via_env: bool = False,
    ):
        """`via_env` passes listen address, db and config file as `TRACEGATE_*` variables
        instead of flags."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db or workdir / "traces.db"
        self.config_path = workdir / f"tracegate-{self.port}.toml"
        self.config_path.write_text(config)
        settings = {
            "listen": f"127.0.0.1:{self.port}",
            "db": str(self.db),
            "config": str(self.config_path),
        }
        env = dict(env or {})
        args = ["serve"]
        for key, value in settings.items():
            if via_env:
                env[f"TRACEGATE_{key.upper()}"] = value
            else:
                args += [f"--{key}", value]
        super().__init__("gateway", args, workdir / f"gateway-{self.port}.log", child_env(env))
        self.wait_http(f"{self.url}/health", lambda r: r.status_code == 200)
        self.wait_http(f"{self.url}/ready", lambda r: r.status_code == 200)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10.0, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        kw.setdefault("timeout", 30.0)
        return httpx.post(self.url + path, **kw)

    def trace(self, trace_id: str, timeout: float = TRACE_TIMEOUT_S) -> dict[str, Any]:
        """The stored trace `trace_id`, polled for while the writer catches up."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(f"/api/v1/traces/{trace_id}")
            if r.status_code == 200:
                return r.json()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"trace {trace_id} not stored after {timeout}s: {r.status_code} {r.text}\n{self.log_text()}"
                )
            time.sleep(0.05)

    def traces(self, limit: int = 100) -> list[dict[str, Any]]:
        r = self.get("/api/v1/traces", params={"limit": limit})
        assert r.status_code == 200, r.text
        return r.json()["data"]


StartGateway = Callable[..., Gateway]
"""The `start_gateway` fixture: `start_gateway(config=, env=, db=, via_env=, timeout_secs=, extra=)`."""


def unique_prompt(label: str) -> str:
    """A prompt no other request used, so the mock's prompt cache cannot blur token counts."""
    return f"{label} {secrets.token_hex(6)}: say something short, naïve café ✓ 日本語."


def assert_timing(trace: dict[str, Any], min_ttft_ms: float = 0.0) -> None:
    """ttft is measured, at least `min_ttft_ms`, and within the request's duration."""
    ttft, duration = trace["ttft_ms"], trace["duration_ms"]
    assert ttft is not None and ttft > 0, trace
    assert ttft >= min_ttft_ms, (ttft, min_ttft_ms)
    assert ttft <= duration, (ttft, duration)
