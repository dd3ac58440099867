"""Client credentials never reach the store, the read API or the log."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from harness import Mock, StartGateway
from payloads import anthropic_request, openai_request


def assert_not_in_db_files(db: Path, keys: list[bytes]) -> None:
    """Neither a key nor its random part is in the database file, its -wal/-shm files, or the
    spool's segments next to it."""
    files = sorted(
        p for p in db.parent.rglob("*") if p.is_file() and (p.name.startswith(db.name) or p.parent.name.startswith(db.name))
    )
    assert db in files, files
    for path in files:
        data = path.read_bytes()
        for key in keys:
            assert key not in data, f"{path.name} contains a client credential"
            assert key[-24:] not in data, f"{path.name} contains part of a client credential"


def test_credentials_are_not_stored(start_gateway: StartGateway, mock: Mock) -> None:
    gw = start_gateway()
    anthropic_key = f"sk-ant-e2e-SECRET-{secrets.token_hex(12)}"
    openai_key = f"sk-e2e-SECRET-{secrets.token_hex(12)}"
    keys = [anthropic_key.encode(), openai_key.encode()]
    ids: list[str] = []
    a = anthropic.Anthropic(base_url=gw.url, api_key=anthropic_key, max_retries=0, timeout=30)
    o = openai.OpenAI(base_url=gw.url + "/v1", api_key=openai_key, max_retries=0, timeout=30)
    with a, o:
        raw = a.messages.with_raw_response.create(**anthropic_request())
        ids.append(raw.headers["x-request-id"])
        with a.messages.with_streaming_response.create(**anthropic_request(True)) as resp:
            resp.read()
            ids.append(resp.headers["x-request-id"])
        with pytest.raises(anthropic.RateLimitError) as caught:
            a.messages.create(**anthropic_request(), extra_headers={"x-mock-status": "429"})
        ids.append(caught.value.response.headers["x-request-id"])
        ids.append(a.models.with_raw_response.list().headers["x-request-id"])
        raw = o.chat.completions.with_raw_response.create(**openai_request())
        ids.append(raw.headers["x-request-id"])
        with o.chat.completions.with_streaming_response.create(**openai_request(True)) as resp:
            resp.read()
            ids.append(resp.headers["x-request-id"])
    for headers, body in [
        ({"x-api-key": anthropic_key, "anthropic-version": "2023-06-01", "content-type": "application/json"}, b"not json"),
        (
            {"authorization": f"Bearer {openai_key}", "x-tracegate-metadata": "{oops", "content-type": "application/json"},
            json.dumps(openai_request()),
        ),
    ]:
        path = "/v1/messages" if "x-api-key" in headers else "/v1/chat/completions"
        r = httpx.post(gw.url + path, content=body, headers=headers, timeout=30)
        assert r.status_code == 400
        ids.append(r.headers["x-request-id"])

    for trace_id in ids:
        gw.trace(trace_id)
        text = gw.get(f"/api/v1/traces/{trace_id}").content
        assert not [k for k in keys if k in text], f"a credential is in trace {trace_id}"
    assert_not_in_db_files(gw.db, keys)  # while running: the -wal file holds the new pages
    assert gw.stop() == 0
    assert_not_in_db_files(gw.db, keys)
    log = gw.log_path.read_bytes()
    assert not [k for k in keys if k in log], "the gateway log contains a client credential"
