"""`/metrics` of a real gateway: the scrape passes `promtool check metrics`, carries every
family with its labels after traffic of both providers (streamed and not), the deploy/
alert rules and dashboard use only metric names a real scrape has, `metrics_listen` serves
the same text on a second address, and the admin token guards the route."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from harness import REPO, Gateway, StartGateway, free_port, unique_prompt

DEPLOY = REPO / "deploy"
PROMETHEUS = DEPLOY / "prometheus"

# Family -> label keys (histogram parts folded into their family, `le` left out).
FAMILIES = {
    "tracegate_request_duration_seconds": {"provider", "model", "endpoint", "status_class"},
    "tracegate_ttft_seconds": {"provider", "model", "endpoint", "status_class"},
    "tracegate_upstream_latency_seconds": {"upstream"},
    "tracegate_gateway_overhead_seconds": {"provider", "endpoint"},
    "tracegate_requests_total": {"provider", "model", "endpoint", "outcome"},
    "tracegate_requests_in_flight": set(),
    "tracegate_tokens_total": {"provider", "model", "type"},
    "tracegate_request_cost_usd": {"provider", "model"},
    "tracegate_recorder_queue_depth": set(),
    "tracegate_recorder_queue_bytes": set(),
    "tracegate_recorder_batch_duration_seconds": set(),
    "tracegate_recorder_traces_written_total": set(),
    "tracegate_recorder_traces_lost_total": {"cause"},
    "tracegate_store_query_duration_seconds": {"class"},
    "tracegate_cache_hits_total": {"cache"},
    "tracegate_cache_misses_total": {"cache"},
    "tracegate_cache_entries": {"cache"},
    "tracegate_build_info": {"version", "store"},
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: scripts/test installs it (apt-get install -y prometheus)")
    return path


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """(family -> type, samples as (family, labels without `le`, value))."""
    types = dict(
        line[len("# TYPE ") :].split(" ", 1) for line in text.splitlines() if line.startswith("# TYPE ")
    )
    samples = []
    pattern = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = pattern.match(line)
        assert m, f"unparsable sample line: {line!r}"
        name, raw, value = m.groups()
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', raw or ""))
        labels.pop("le", None)
        for suffix in ("_bucket", "_sum", "_count"):
            base = name.removesuffix(suffix)
            if base != name and types.get(base) == "histogram":
                name = base
                break
        samples.append((name, labels, float(value)))
    return types, samples


def traffic(gw: Gateway, api_key: str) -> None:
    """Both providers, streamed and not, one upstream error, one refused request, and
    one read of each store query class."""
    a = anthropic.Anthropic(base_url=gw.url, api_key=api_key, max_retries=0, timeout=30.0)
    o = openai.OpenAI(base_url=gw.url + "/v1", api_key=api_key, max_retries=0, timeout=30.0)
    with a, o:
        msg = [{"role": "user", "content": unique_prompt("metrics")}]
        a.messages.create(model="claude-sonnet-4-5", max_tokens=32, messages=msg)
        with a.messages.stream(model="claude-sonnet-4-5", max_tokens=32, messages=msg) as s:
            s.until_done()
        o.chat.completions.create(model="gpt-4.1", messages=msg)
        for _ in o.chat.completions.create(model="gpt-4.1", messages=msg, stream=True):
            pass
        with pytest.raises(anthropic.InternalServerError):
            a.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=32,
                messages=msg,
                extra_headers={"x-mock-status": "500"},
            )
    assert gw.post("/v1/messages", content=b"not json", headers={"anthropic-version": "2023-06-01", "content-type": "application/json"}).status_code == 400
    deadline = time.monotonic() + 10
    while gw.get("/api/v1/recorder").json()["written"] < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    trace_id = gw.traces(1)[0]["id"]
    for path in ["/api/v1/traces?limit=5", "/api/v1/stats", "/api/v1/usage/window", "/api/v1/conversations", f"/api/v1/traces/{trace_id}"]:
        assert gw.get(path).status_code == 200, path


def test_a_real_scrape_passes_promtool_and_has_every_family(gateway: Gateway, api_key: str) -> None:
    traffic(gateway, api_key)
    r = gateway.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    check = subprocess.run([promtool(), "check", "metrics"], input=r.content, capture_output=True, timeout=60)
    assert check.returncode == 0, (check.stdout.decode(), check.stderr.decode())

    types, samples = parse(r.text)
    seen: dict[str, set[frozenset[str]]] = {}
    for name, labels, _ in samples:
        seen.setdefault(name, set()).add(frozenset(labels))
    for family, keys in FAMILIES.items():
        assert family in seen, f"{family} missing from the scrape"
        assert seen[family] == {frozenset(keys)}, (family, seen[family])
    assert types["tracegate_requests_total"] == "counter"
    assert types["tracegate_request_duration_seconds"] == "histogram"

    def value(family: str, **want: str) -> float:
        return sum(v for n, l, v in samples if n == family and all(l.get(k) == w for k, w in want.items()))

    # Both providers, the streams' TTFT, the error, the refused request, the tokens.
    assert value("tracegate_requests_total", provider="anthropic", model="claude-sonnet-4-5", endpoint="/v1/messages", outcome="ok") == 2
    assert value("tracegate_requests_total", provider="openai", model="gpt-4.1", endpoint="/v1/chat/completions", outcome="ok") == 2
    assert value("tracegate_requests_total", provider="anthropic", outcome="upstream_error") == 1
    assert value("tracegate_requests_total", provider="anthropic", outcome="client_error") == 1
    ttft = [l for n, l, _ in samples if n == "tracegate_ttft_seconds"]
    assert {l["provider"] for l in ttft} == {"anthropic", "openai"}
    assert {l["status_class"] for n, l, _ in samples if n == "tracegate_request_duration_seconds"} >= {"2xx", "4xx", "5xx"}
    assert value("tracegate_tokens_total", provider="openai", type="output") > 0
    assert value("tracegate_tokens_total", provider="anthropic", type="input") > 0
    assert {l["upstream"] for n, l, _ in samples if n == "tracegate_upstream_latency_seconds"} == {"anthropic", "openai"}
    assert {l["class"] for n, l, _ in samples if n == "tracegate_store_query_duration_seconds"} == {
        "search", "stats", "usage", "conversations", "trace",
    }
    assert value("tracegate_recorder_traces_written_total") >= 6
    assert value("tracegate_build_info", store="sqlite") == 1


def referenced_metrics(exprs: list[str]) -> set[str]:
    """Metric names (not recording rules, which have a colon) in PromQL expressions."""
    names = set()
    for e in exprs:
        names.update(re.findall(r"\b(tracegate_[a-z0-9_]+)\b", e))
    return names


def scraped_names(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("tracegate_")}


def test_dashboard_and_alerts_use_only_scraped_metrics(start_gateway: StartGateway, api_key: str) -> None:
    gw = start_gateway(extra="slow_query_ms = 0")  # every query slow: the slow counter appears
    traffic(gw, api_key)
    names = scraped_names(gw.get("/metrics").text)
    dashboard = json.loads((DEPLOY / "grafana" / "tracegate.json").read_text())
    exprs = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    exprs.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dashboard)
    used = referenced_metrics(exprs)
    assert len(used) >= 15, used
    assert used <= names, f"the dashboard names metrics a scrape does not have: {sorted(used - names)}"
    rules = (PROMETHEUS / "alerts.yml").read_text()
    used_by_rules = referenced_metrics([rules])
    assert used_by_rules <= names, f"alerts.yml names unknown metrics: {sorted(used_by_rules - names)}"


def test_alert_rules_check_and_their_tests_pass() -> None:
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"], ["check", "config", "prometheus.yml"]):
        run = subprocess.run([promtool(), *args], cwd=PROMETHEUS, capture_output=True, timeout=120)
        assert run.returncode == 0, (args, run.stdout.decode(), run.stderr.decode())


def test_metrics_listen_and_the_admin_token(start_gateway: StartGateway) -> None:
    port = free_port()
    token = "metrics-e2e-token-0123456789"
    gw = start_gateway(extra=f'metrics_listen = "127.0.0.1:{port}"', env={"TRACEGATE_ADMIN_TOKEN": token})
    auth = {"authorization": f"Bearer {token}"}
    assert gw.get("/metrics").status_code == 401
    main = gw.get("/metrics", headers=auth)
    assert main.status_code == 200 and "tracegate_build_info" in main.text
    deadline = time.monotonic() + 5
    while True:
        try:
            side = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=auth, timeout=5)
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert side.status_code == 200 and "tracegate_build_info" in side.text
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401
    # Only /metrics lives there.
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/recorder", headers=auth, timeout=5).status_code == 404
    assert gw.stop() == 0


def test_metrics_off(start_gateway: StartGateway) -> None:
    gw = start_gateway(env={"TRACEGATE_METRICS": "0"})
    r = gw.get("/metrics")
    assert r.status_code == 404 and "metrics = false" in r.text


def test_debug_sql_logs_every_query(start_gateway: StartGateway) -> None:
    gw = start_gateway(env={"TRACEGATE_DEBUG_SQL": "1"})
    assert gw.get("/api/v1/traces", params={"model": "secret-model-name", "limit": 3}).status_code == 200
    deadline = time.monotonic() + 5
    while "store query" not in gw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = gw.log_text()
    line = next(l for l in log.splitlines() if "store query" in l)
    assert "search" in line and "model eq" in line and "limit=3" in line, line
    assert "secret-model-name" not in log, "parameter values are never logged"
