"""Log-in and log-out in the dashboard when an admin token is set: the session cookie's flags,
a wrong token refused, and the pages behind the log-in. These need the session API
(`/api/v1/session`); against a gateway without it they are skipped, saying so."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from dashboard_fixtures import Dashboard, ConsoleLog, browser, send, shoot, wait_ready  # noqa: F401 (fixtures)
from harness import Gateway, StartGateway

TOKEN = "dash-admin-token-0123456789"


@pytest.fixture
def secured(start_gateway: StartGateway) -> Iterator[tuple[Gateway, Dashboard]]:
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": TOKEN})
    if httpx.get(gw.url + "/api/v1/session", timeout=5.0).status_code == 404:
        pytest.skip("this gateway has no session API (GET/POST/DELETE /api/v1/session): dashboard log-in cannot be tested")
    dash = Dashboard(gw)
    yield gw, dash
    dash.close()


def _page(browser: Any, dash: Dashboard) -> tuple[Any, Any, ConsoleLog]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    log = ConsoleLog(pg, dash)
    log.allowed.append("401")  # the first call before the log-in is refused by design
    return ctx, pg, log


def _stored(gw: Gateway, trace_id: str) -> None:
    """Waits until the trace is stored (read with the admin token)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(f"{gw.url}/api/v1/traces/{trace_id}", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"trace {trace_id} not stored")


def _login(pg: Any, token: str) -> None:
    pg.get_by_label("Admin token or read key").fill(token)
    pg.get_by_role("button", name="Log in").click()


def test_wrong_token_is_refused_and_sets_no_cookie(browser: Any, secured: tuple[Gateway, Dashboard]) -> None:
    gw, dash = secured
    ctx, pg, _ = _page(browser, dash)
    pg.goto(dash.url + "/traces")
    pg.wait_for_url(re.compile(r"/login"))
    wait_ready(pg)
    shoot(pg, "login")
    _login(pg, "not-the-token")
    expect(pg.locator("#login-error")).to_contain_text("not accepted")
    assert ctx.cookies() == []
    assert pg.get_by_label("Admin token or read key").input_value() == ""
    ctx.close()


def test_log_in_and_out_with_a_strict_http_only_cookie(browser: Any, secured: tuple[Gateway, Dashboard]) -> None:
    gw, dash = secured
    _stored(gw, send(gw, account="dash-auth"))
    ctx, pg, log = _page(browser, dash)
    pg.goto(dash.url + "/traces")
    pg.wait_for_url(re.compile(r"/login\?next="))
    wait_ready(pg)
    _login(pg, TOKEN)
    pg.wait_for_url(re.compile(r"/traces$"))
    wait_ready(pg)
    expect(pg.locator("#traces tbody tr").first).to_be_visible()
    cookies = ctx.cookies()
    assert len(cookies) == 1, cookies
    assert cookies[0]["httpOnly"] is True
    assert cookies[0]["sameSite"] == "Strict"
    assert TOKEN not in cookies[0]["value"]
    # Nothing of the token is kept by the page.
    stored = pg.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href])")
    assert TOKEN not in stored
    assert pg.evaluate("document.cookie") == ""  # HttpOnly: not readable from scripts

    expect(pg.get_by_role("button", name="Log out")).to_be_visible()
    pg.get_by_role("button", name="Log out").click()
    pg.wait_for_url(re.compile(r"/login"))
    wait_ready(pg)
    assert ctx.cookies() == [] or all(not c["value"] for c in ctx.cookies())
    pg.goto(dash.url + "/usage")
    pg.wait_for_url(re.compile(r"/login"))
    assert log.errors == []
    ctx.close()


def test_a_read_key_sees_its_account_without_the_admin_pages(browser: Any, secured: tuple[Gateway, Dashboard]) -> None:
    gw, dash = secured
    mine = send(gw, account="dash-reader")
    theirs = send(gw, account="dash-other")
    admin = {"authorization": f"Bearer {TOKEN}"}
    _stored(gw, mine)
    _stored(gw, theirs)
    r = httpx.post(gw.url + "/api/v1/keys", json={"account": "dash-reader", "scope": "read"}, headers=admin, timeout=10)
    assert r.status_code == 201, r.text
    ctx, pg, log = _page(browser, dash)
    pg.goto(dash.url + "/login")
    wait_ready(pg)
    _login(pg, r.json()["key"])
    pg.wait_for_url(re.compile(r"/$"))
    wait_ready(pg)
    assert pg.locator("#nav-keys").is_hidden() and pg.locator("#nav-alerts").is_hidden()
    pg.goto(dash.url + "/traces")
    wait_ready(pg)
    ids = {row.get_attribute("data-id") for row in pg.locator("#traces tbody tr").all()}
    assert mine in ids and theirs not in ids
    pg.goto(dash.url + "/keys")
    wait_ready(pg)
    assert "Only an admin" in pg.locator("main").inner_text()
    assert log.errors == []
    ctx.close()
