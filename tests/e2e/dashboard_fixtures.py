"""Browser fixtures for the dashboard tests: headless Chromium (the system's, never a
downloaded one), the dashboard's URL for a gateway, and a page that records console errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboard_server import DashboardServer
from harness import Gateway, unique_prompt
from oracle import ANTHROPIC_MODEL, OPENAI_MODEL

CHROMIUM = os.environ.get("TRACEGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "target" / "e2e-artifacts" / "dashboard"
READY_MS = 15_000


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class Dashboard:
    """The dashboard in front of `gateway`: served by the gateway itself when it embeds the
    dashboard, else by DashboardServer passing the API through."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.proxy: DashboardServer | None = None
        r = httpx.get(gateway.url + "/ui/js/app.js", timeout=5.0)
        if r.status_code == 200:
            self.url = gateway.url
        else:
            self.proxy = DashboardServer(gateway.url)
            self.url = self.proxy.url
        with httpx.stream("GET", gateway.url + "/api/v1/live", timeout=5.0) as r:  # a stream: status only
            self.has_live = r.status_code != 404
        self.has_session = httpx.get(gateway.url + "/api/v1/session", timeout=5.0).status_code != 404

    def close(self) -> None:
        if self.proxy:
            self.proxy.close()


class ConsoleLog:
    """Console errors and uncaught exceptions of a page. A 404 of a route the gateway does not
    have (the live feed, the session) is expected and left out."""

    def __init__(self, page: Any, dash: Dashboard):
        self.errors: list[str] = []
        self.expected_404 = [p for p, has in (("/api/v1/live", dash.has_live), ("/api/v1/session", dash.has_session)) if not has]
        self.allowed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if any(url.endswith(p) or p + "?" in url for p in self.expected_404):
            return
        if any(a in msg.text or a in url for a in self.allowed):
            return
        self.errors.append(f"{msg.text} ({url})")


def send(gateway: Gateway, prompt: str | None = None, account: str = "dash-alice", model: str = ANTHROPIC_MODEL,
         messages: list[dict[str, Any]] | None = None, stream: bool = False, system: str | None = None,
         metadata: dict[str, Any] | None = None) -> str:
    """One Anthropic request through the gateway; returns the trace id."""
    body: dict[str, Any] = {
        "model": model, "max_tokens": 64, "stream": stream,
        "messages": messages or [{"role": "user", "content": prompt or unique_prompt("dash")}],
    }
    if system:
        body["system"] = system
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-e2e-dash", "X-Tracegate-Account": account}
    if metadata:
        headers["X-Tracegate-Metadata"] = json.dumps(metadata)
    r = httpx.post(gateway.url + "/v1/messages", json=body, headers=headers, timeout=30.0)
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


def send_openai(gateway: Gateway, account: str = "dash-bob") -> str:
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": unique_prompt("dash-openai")}]}
    r = httpx.post(gateway.url + "/v1/chat/completions", json=body,
                   headers={"authorization": "Bearer sk-e2e-dash", "X-Tracegate-Account": account}, timeout=30.0)
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


def wait_ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)


def shoot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs it with apt-get (chromium)")
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def dashboard(gateway: Gateway) -> Iterator[Dashboard]:
    d = Dashboard(gateway)
    yield d
    d.close()


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[tuple[Any, ConsoleLog]]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    log = ConsoleLog(pg, dashboard)
    yield pg, log
    ctx.close()
