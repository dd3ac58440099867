"""Every `curl` example in README.md, run against the demo's store, answers 2xx with at least
one result: the examples are true, and the demo's traffic shows every one of them."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo_harness import Demo
from harness import REPO

README = REPO / "README.md"
README_BASES = ("http://127.0.0.1:8080", "http://localhost:8080")
STATUS_MARK = "\n__http_status__="
# `{id}`, `<id>`, `$ID`, `${TRACE_ID}`, ...: a trace id (the demo's main conversation's first
# trace, which is also that conversation's id).
ID_PLACEHOLDER = re.compile(
    r"\{(?:trace_|conversation_)?id\}|<(?:trace[-_]|conversation[-_])?id>|\$\{?(?:TRACE_|CONVERSATION_)?ID\b\}?",
    re.IGNORECASE,
)
SHELL_OPERATORS = {"|", ">", ">>", "&&", "||", ";"}


def readme_curl_commands(text: str) -> list[str]:
    """The `curl` commands in the README's fenced code blocks, each as one shell string:
    backslash continuations joined, and lines appended while a quote is still open."""
    commands: list[str] = []
    in_block = False
    pending: str | None = None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            pending = None
            continue
        if not in_block:
            continue
        if pending is None:
            stripped = line.strip().removeprefix("$ ")
            if not stripped.startswith("curl "):
                continue
            pending = stripped
        else:
            pending += "\n" + line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        commands.append(pending)
        pending = None
    return commands


def curl_args(command: str, base_url: str, trace_id: str) -> list[str]:
    """The command's arguments, pointed at the demo, placeholders filled, shell plumbing cut."""
    for base in README_BASES:
        command = command.replace(base, base_url)
    command = ID_PLACEHOLDER.sub(trace_id, command)
    command = command.replace("${TRACEGATE_ADMIN_TOKEN}", "").replace("$TRACEGATE_ADMIN_TOKEN", "")
    args = shlex.split(command, comments=True)
    for i, arg in enumerate(args):
        if arg in SHELL_OPERATORS:
            args = args[:i]
            break
    assert args[0] == "curl", command
    leftover = [a for a in args if "$" in a and not a.lstrip().startswith(("{", "["))]
    assert not leftover, f"unknown placeholder in {command!r}: {leftover}"
    # Status and body are read here: drop flags that would print headers or write files.
    return [a for a in args[1:] if a not in ("-i", "--include", "-v", "--verbose")]


def run_curl(args: list[str]) -> tuple[int, str, str]:
    """Runs curl; returns the status, the content type and the body."""
    done = subprocess.run(
        ["curl", "-sS", *args, "-w", STATUS_MARK + "%{http_code} %{content_type}"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"curl failed ({done.returncode}): {done.stderr}"
    body, _, tail = done.stdout.rpartition(STATUS_MARK)
    status, _, content_type = tail.partition(" ")
    return int(status), content_type, body


def has_result(body: Any) -> bool:
    """At least one thing found, by the shape of the answer:
    - a page (`data`): a non-empty list;
    - statistics (`buckets` of `groups`): a group in some bucket;
    - usage (`totals`): requests > 0;
    - rankings (`endpoints`, `models`, `upstreams`): a ranked row;
    - a conversation (`tree`): a trace in it;
    - a single object with an `id` (a trace): itself;
    - a bare list: an element;
    - anything else: a value that is not empty, zero or false."""
    if isinstance(body, list):
        return len(body) > 0
    if not isinstance(body, dict):
        return body not in (None, "", 0, False)
    if isinstance(body.get("data"), list):
        return len(body["data"]) > 0
    if isinstance(body.get("buckets"), list) and any("groups" in b for b in body["buckets"]):
        return any(b.get("groups") for b in body["buckets"])
    if isinstance(body.get("totals"), dict):
        return (body["totals"].get("requests") or 0) > 0
    rankings = [body[k] for k in ("endpoints", "models", "upstreams") if isinstance(body.get(k), list)]
    if rankings:
        return any(rankings)
    if "tree" in body:
        return (body.get("trace_count") or 0) > 0 and bool(body["tree"])
    if body.get("id"):
        return True
    return any(has_result(v) for v in body.values())


def body_has_result(content_type: str, body: str) -> bool:
    """JSON answers by [`has_result`]; NDJSON a line; CSV a row after the header; other text
    anything at all."""
    if "ndjson" in content_type or "jsonl" in content_type:
        return any(line.strip() for line in body.splitlines())
    if "csv" in content_type:
        return len([line for line in body.splitlines() if line.strip()]) > 1
    try:
        return has_result(json.loads(body))
    except ValueError:
        return bool(body.strip())


EXAMPLES = readme_curl_commands(README.read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(tmp_path_factory.mktemp("readme-demo"))
    try:
        d.wait_ready()
        yield d
    finally:
        d.kill()


def test_the_readme_has_curl_examples() -> None:
    assert shutil.which("curl"), "curl is needed to run the README's examples"
    assert len(EXAMPLES) >= 4, EXAMPLES
    assert all(any(b in c for b in README_BASES) for c in EXAMPLES), EXAMPLES


@pytest.mark.parametrize("command", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_finds_something_in_the_demo(demo: Demo, command: str) -> None:
    args = curl_args(command, demo.url, demo.conversation_id())
    status, content_type, body = run_curl(args)
    shown = f"\n$ {command}\n-> {status} {body[:1500]}"
    assert 200 <= status < 300, shown
    if status in (201, 202, 204) and not body.strip():
        return  # an action (feedback, an export job) that answers without a body
    assert body_has_result(content_type, body), "no result:" + shown


def test_the_extraction_handles_continuations_quotes_and_placeholders() -> None:
    text = "\n".join(
        [
            "```sh",
            "curl -s 'http://127.0.0.1:8080/api/v1/traces?limit=5'  # newest",
            "curl -s http://127.0.0.1:8080/api/v1/traces/search \\",
            "  -H 'content-type: application/json' -d '{",
            '  "q": "\\"connection reset\\" retr*"}\'',
            "curl -s -X POST http://127.0.0.1:8080/api/v1/traces/$ID/feedback -d '{\"score\": 1}' | jq .",
            "echo not curl",
            "```",
            "curl outside a block is prose",
        ]
    )
    found = readme_curl_commands(text)
    assert len(found) == 3, found
    args = curl_args(found[1], "http://gw", "T")
    assert args[:2] == ["-s", "http://gw/api/v1/traces/search"]
    assert json.loads(args[-1]) == {"q": '"connection reset" retr*'}
    args = curl_args(found[2], "http://gw", "T")
    assert "http://gw/api/v1/traces/T/feedback" in args and "jq" not in args
    assert curl_args("curl http://127.0.0.1:8080/api/v1/traces/{id}", "http://gw", "T") == ["http://gw/api/v1/traces/T"]
    assert curl_args("curl 'http://127.0.0.1:8080/x/${TRACE_ID}?a=<id>'", "http://gw", "T") == ["http://gw/x/T?a=T"]
    assert has_result({"data": [{"id": 1}]}) and not has_result({"data": []})
    assert not has_result({"buckets": [{"start": "x", "groups": []}]})
    assert has_result({"buckets": [{"start": "x", "groups": [{"key": "m", "requests": 1}]}]})
    assert not has_result({"account": "nobody", "totals": {"requests": 0}, "buckets": [{"requests": 0}]})
    assert not has_result({"endpoints": [], "models": [], "upstreams": []})
    assert has_result({"id": "x", "status": 200})
