"""The dashboard's session cookie: log in with the admin token or a read key, the cookie's
flags, log out, a wrong token refused, and a cross-site write with the cookie refused."""

from __future__ import annotations

import secrets

import httpx

from harness import StartGateway


def cookie_of(r: httpx.Response) -> str:
    value = r.headers.get("set-cookie", "")
    assert value.startswith("tracegate_session="), value
    return value


def test_login_sets_a_strict_http_only_cookie_and_logout_clears_it(start_gateway: StartGateway) -> None:
    token = secrets.token_hex(16)
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": token})

    info = gw.get("/api/v1/session").json()
    assert info == {"auth_required": True, "principal": None, "account": None}
    assert gw.get("/api/v1/traces").status_code == 401

    r = gw.post("/api/v1/session", json={"token": token})
    assert r.status_code == 204, r.text
    set_cookie = cookie_of(r)
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert flag in set_cookie, set_cookie
    assert "Secure" not in set_cookie
    assert token not in set_cookie and token not in r.text
    value = set_cookie.split(";")[0].split("=", 1)[1]
    jar = {"tracegate_session": value}

    assert gw.get("/api/v1/traces", cookies=jar).status_code == 200
    assert gw.get("/api/v1/session", cookies=jar).json()["principal"] == "admin"
    # A write with the cookie must come from the same origin.
    host = gw.url.split("://", 1)[1]
    body = {"account": "team-a", "scope": "read"}
    cross = gw.post("/api/v1/keys", json=body, cookies=jar, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403, cross.text
    same = gw.post("/api/v1/keys", json=body, cookies=jar, headers={"origin": f"http://{host}"})
    assert same.status_code == 201, same.text
    read_key = same.json()["key"]

    # Behind HTTPS the cookie is Secure.
    r = gw.post("/api/v1/session", json={"token": token}, headers={"x-forwarded-proto": "https"})
    assert "; Secure" in cookie_of(r)

    out = httpx.delete(gw.url + "/api/v1/session", cookies=jar, timeout=10.0)
    assert out.status_code == 204
    assert "Max-Age=0" in cookie_of(out)

    # A read key logs in as its account; revoking the key ends the session at once.
    r = gw.post("/api/v1/session", json={"token": read_key})
    assert r.status_code == 204, r.text
    key_jar = {"tracegate_session": cookie_of(r).split(";")[0].split("=", 1)[1]}
    info = gw.get("/api/v1/session", cookies=key_jar).json()
    assert info == {"auth_required": True, "principal": "account", "account": "team-a"}
    assert gw.get("/api/v1/keys", cookies=key_jar).status_code == 403
    key_id = same.json()["id"]
    revoked = httpx.delete(
        gw.url + f"/api/v1/keys/{key_id}", headers={"authorization": f"Bearer {token}"}, timeout=10.0
    )
    assert revoked.status_code == 200, revoked.text
    assert gw.get("/api/v1/traces", cookies=key_jar).status_code == 401


def test_a_wrong_token_is_refused_without_a_cookie(start_gateway: StartGateway) -> None:
    token = secrets.token_hex(16)
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": token})
    for wrong in (token + "x", "tg-" + "0" * 64, ""):
        r = gw.post("/api/v1/session", json={"token": wrong})
        assert r.status_code == 401, (wrong, r.text)
        assert "set-cookie" not in r.headers
        assert r.json()["error"]["kind"] == "unauthorized"
    forged = {"tracegate_session": "1.a.99999999999." + "0" * 64}
    assert gw.get("/api/v1/traces", cookies=forged).status_code == 401
    assert gw.post("/api/v1/session", content=b"not json").status_code == 400


def test_without_an_admin_token_loopback_stays_open(gateway) -> None:  # type: ignore[no-untyped-def]
    info = gateway.get("/api/v1/session").json()
    assert info == {"auth_required": False, "principal": "admin", "account": None}
    assert gateway.get("/api/v1/traces").status_code == 200
