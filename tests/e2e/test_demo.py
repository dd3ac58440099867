"""`tracegate demo`: its traffic shows every feature, and it can run without a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo_harness import Demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(tmp_path_factory.mktemp("demo"))
    try:
        d.wait_ready()
        yield d
    finally:
        d.kill()


@pytest.fixture(scope="module")
def traces(demo: Demo) -> list[dict[str, Any]]:
    r = demo.get("/api/v1/traces", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def kinds(line: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in line:
        yield node
        for fork in node.get("forks", []):
            yield from kinds(fork)


def test_the_conversation_has_turns_a_branch_and_a_sub_task(demo: Demo) -> None:
    r = demo.get(f"/api/v1/conversations/{demo.conversation_id()}")
    assert r.status_code == 200, r.text
    tree = r.json()
    assert tree["account"] == "alice"
    assert len(tree["sub_tasks"]) == 1, tree
    nodes = [n for line in tree["tree"] for n in kinds(line)]
    by_kind = {}
    for n in nodes:
        by_kind.setdefault(n["link_kind"], []).append(n)
    assert len(by_kind["root"]) == 1
    assert len(by_kind["turn"]) >= 3
    assert [n["branch"] for n in by_kind["branch"]] == [1]
    (sub,) = by_kind["sub_task"]
    assert sub["conversation_id"] == tree["sub_tasks"][0]
    assert tree["cache_read_tokens"] > 0 and tree["cache_write_tokens"] > 0


def test_the_traffic_covers_accounts_providers_streams_and_failures(traces: list[dict[str, Any]]) -> None:
    assert {t["account"] for t in traces} == {"alice", "bob", "ci-bot"}
    assert {t["provider"] for t in traces} == {"anthropic", "openai"}
    assert {t["stream"] for t in traces} == {True, False}
    assert {(t["metadata"] or {}).get("team") for t in traces} >= {"search", "platform", "ci"}
    statuses = {t["status"] for t in traces}
    assert {200, 429, 500} <= statuses, statuses
    broken = [t for t in traces if t["status"] == 200 and t["outcome"] == "upstream_error"]
    assert broken and all(t["model"] for t in broken), "a stream the provider broke off"
    assert {"/v1/messages", "/v1/chat/completions", "/v1/messages/count_tokens", "/v1/models"} <= {
        t["endpoint"] for t in traces
    }


def test_a_few_requests_are_slow_but_none_takes_long(traces: list[dict[str, Any]]) -> None:
    slow = [t for t in traces if t["duration_ms"] > 1000]
    slow_ttft = [t for t in traces if (t["ttft_ms"] or 0) > 1000]
    assert len(slow) >= 3, [t["duration_ms"] for t in traces]
    assert slow_ttft, "a stream with a slow first token"
    assert max(t["duration_ms"] for t in traces) < 5000


def test_the_guide_points_at_the_api(demo: Demo) -> None:
    out = demo.log_text()
    assert f"curl -s '{demo.url}/api/v1/traces?" in out
    assert f"{demo.url}/api/v1/conversations/{demo.conversation_id()}" in out
    assert f"ANTHROPIC_BASE_URL={demo.url}" in out


def test_demo_exits_once_its_traffic_is_recorded_when_asked(tmp_path: Path) -> None:
    d = Demo(tmp_path, "--exit", "--requests", "0")
    try:
        assert d.wait(timeout=90) == 0, d.log_text()
    finally:
        d.kill()
    out = d.log_text()
    assert "Where to look" in out and "Ctrl-C" not in out
    assert (tmp_path / "demo.db").is_file()
