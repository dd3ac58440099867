"""Export: `GET /api/v1/traces/export` (NDJSON) and `tracegate export` (JSON lines and CSV),
reading the database of a running gateway or its export endpoint."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import Gateway, StartGateway, binary, child_env
from payloads import ANTHROPIC_HEADERS, anthropic_request

TOKEN = "e2e-export-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
# Text that CSV must quote: a comma, quotes and a line break.
AWKWARD = 'a,b "quoted"\nnext line'
N = 6


@pytest.fixture
def recorded(start_gateway: StartGateway) -> tuple[Gateway, list[str]]:
    """A gateway with an admin token and N traces, oldest first: even ones from account
    `alpha` with metadata that CSV must quote, odd ones from `beta`."""
    gw = start_gateway(env={"TRACEGATE_ADMIN_TOKEN": TOKEN})
    ids = []
    for i in range(N):
        headers = dict(ANTHROPIC_HEADERS)
        headers["x-tracegate-account"] = "alpha" if i % 2 == 0 else "beta"
        headers["x-tracegate-metadata"] = json.dumps({"i": i, "note": AWKWARD})
        r = gw.post("/v1/messages", json=anthropic_request(), headers=headers)
        assert r.status_code == 200, r.text
        ids.append(r.headers["x-request-id"])
    for trace_id in ids:
        _wait_stored(gw, trace_id)
    return gw, ids


def _wait_stored(gw: Gateway, trace_id: str) -> None:
    for _ in range(200):
        if gw.get(f"/api/v1/traces/{trace_id}", headers=AUTH).status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"trace {trace_id} was not stored")


def _export_api(gw: Gateway, **params: Any) -> httpx.Response:
    return gw.get("/api/v1/traces/export", params=params, headers=AUTH)


def _ndjson(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n") or text == ""
    return [json.loads(line) for line in text.splitlines()]


def _cli(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary()), "export", *args],
        env=child_env(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


ALPHA = json.dumps({"field": "account", "op": "eq", "value": "alpha"})


def test_the_api_streams_ndjson_with_the_search_filters(recorded: tuple[Gateway, list[str]]) -> None:
    gw, ids = recorded
    r = _export_api(gw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ndjson"
    assert "no-store" in r.headers["cache-control"]
    rows = _ndjson(r.text)
    assert [t["id"] for t in rows] == ids[::-1]
    assert "request_body" not in rows[0] and "cost_usd" in rows[0]

    r = _export_api(gw, filter=ALPHA, order="asc", fields="id,account,metadata", bodies="true")
    assert r.status_code == 200, r.text
    rows = _ndjson(r.text)
    assert [t["id"] for t in rows] == ids[0::2]
    assert list(rows[0]) == ["id", "account", "metadata", "request_body", "response_body"]
    assert rows[0]["metadata"] == {"i": 0, "note": AWKWARD}
    assert rows[0]["request_body"]["messages"][0]["role"] == "user"

    # The simple parameters of GET /api/v1/traces and `limit` (most traces in all).
    rows = _ndjson(_export_api(gw, account="beta", limit="2").text)
    assert [t["id"] for t in rows] == [ids[5], ids[3]]


def test_the_api_refuses_bad_requests_before_streaming(recorded: tuple[Gateway, list[str]]) -> None:
    gw, _ = recorded
    r = _export_api(gw, filter='{"field": "account", "op": "like", "value": "a"}')
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["pointer"] == "/query/filter/op"
    assert _export_api(gw, filter="{not json").json()["error"]["pointer"] == "/query/filter"
    assert _export_api(gw, fields="id,nope").status_code == 400
    assert httpx.get(gw.url + "/api/v1/traces/export").status_code == 401


def test_the_cli_reads_the_database_of_a_running_gateway(recorded: tuple[Gateway, list[str]], tmp_path: Path) -> None:
    gw, ids = recorded
    out = tmp_path / "all.jsonl"
    done = _cli(["--db", str(gw.db), "--format", "jsonl", "--output", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"exported {N} traces" in done.stderr
    assert [t["id"] for t in _ndjson(out.read_text())] == ids[::-1]

    # To standard output, filtered, with a time bound that keeps everything.
    done = _cli(["--db", str(gw.db), "--filter", ALPHA, "--since", "1h", "--order", "asc"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert [t["id"] for t in _ndjson(done.stdout)] == ids[0::2]
    # A time bound that keeps nothing.
    done = _cli(["--db", str(gw.db), "--until", "2000-01-01"], tmp_path)
    assert (done.returncode, done.stdout) == (0, "")


def test_the_cli_writes_csv_that_reads_back(recorded: tuple[Gateway, list[str]], tmp_path: Path) -> None:
    gw, ids = recorded
    out = tmp_path / "alpha.csv"
    args = ["--db", str(gw.db), "--format", "csv", "--filter", ALPHA, "--fields", "id,account,status,metadata,cost_usd"]
    done = _cli([*args, "--output", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    with open(out, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    assert header == ["id", "status", "cost_usd", "account", "metadata"]
    assert [r[0] for r in rows] == ids[0::2][::-1]
    for r in rows:
        record = dict(zip(header, r))
        assert record["account"] == "alpha"
        assert record["status"] == "200"
        assert json.loads(record["metadata"])["note"] == AWKWARD

    # Bodies are JSON text in their own columns.
    done = _cli(["--db", str(gw.db), "--format", "csv", "--fields", "id", "--bodies", "--limit", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout, newline="")))
    assert [r["id"] for r in rows] == [ids[-1]]
    assert json.loads(rows[0]["request_body"])["messages"][0]["role"] == "user"
    assert json.loads(rows[0]["response_body"])["type"] == "message"


def test_the_cli_reads_the_export_endpoint_with_the_admin_token(recorded: tuple[Gateway, list[str]], tmp_path: Path) -> None:
    gw, ids = recorded
    done = _cli(["--url", gw.url, "--filter", ALPHA, "--format", "csv", "--fields", "id,metadata"], tmp_path, {"TRACEGATE_ADMIN_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout, newline="")))
    assert [r["id"] for r in rows] == ids[0::2][::-1]
    assert json.loads(rows[0]["metadata"]) == {"i": 4, "note": AWKWARD}

    refused = _cli(["--url", gw.url], tmp_path)
    assert refused.returncode != 0
    assert "401" in refused.stderr and "admin token" in refused.stderr, refused.stderr


def test_the_cli_names_the_bad_option(tmp_path: Path, recorded: tuple[Gateway, list[str]]) -> None:
    gw, _ = recorded
    done = _cli(["--db", str(gw.db), "--filter", '{"and": [{"field": "nope", "op": "eq", "value": 1}]}'], tmp_path)
    assert done.returncode != 0
    assert "--filter (at /and/0/field)" in done.stderr, done.stderr
    done = _cli(["--db", str(tmp_path / "missing.db")], tmp_path)
    assert done.returncode != 0 and "no database" in done.stderr, done.stderr
    assert not (tmp_path / "missing.db").exists()
