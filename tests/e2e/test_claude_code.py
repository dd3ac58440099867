"""Claude Code itself as a client: two turns of a real session through the gateway to the
mock upstream. It sends real traffic: `/v1/messages?beta=true`, streaming, a large body with
its tool definitions repeated every turn."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness import Gateway, StartGateway
from oracle import fingerprint

CLAUDE = Path(__file__).resolve().parents[1] / "claude-code" / "node_modules" / ".bin" / "claude"
DUMMY_KEY = "sk-ant-claude-code-e2e-dummy"


def run_claude(
    gateway: Gateway, home: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE", "TRACEGATE_"))
    }
    env.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=gateway.url,
        ANTHROPIC_API_KEY=DUMMY_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    return subprocess.run(
        [str(CLAUDE), "-p", *args],
        cwd=cwd or home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_two_turns_of_claude_code_are_traced_and_linked(start_gateway: StartGateway, tmp_path: Path) -> None:
    assert CLAUDE.exists(), f"{CLAUDE} missing: scripts/test installs it with npm"
    gateway = start_gateway()
    home = tmp_path / "home"
    home.mkdir()

    first = run_claude(gateway, home, "What does this project do? Answer briefly.")
    assert first.returncode == 0, first.stderr + first.stdout
    assert first.stdout.strip(), "Claude Code printed no answer"
    second = run_claude(gateway, home, "--continue", "And how would I test it?")
    assert second.returncode == 0, second.stderr + second.stdout

    traces = [t for t in gateway.traces(limit=50) if t["endpoint"] == "/v1/messages"]
    assert len(traces) >= 2, json.dumps(traces, indent=1)[:2000]
    for t in traces:
        assert t["status"] == 200 and t["outcome"] == "ok", t
        assert t["stream"] is True
        assert t["account"] == fingerprint(DUMMY_KEY)
        assert t["ttft_ms"] is not None and 0 < t["ttft_ms"] <= t["duration_ms"]
        assert t["input_tokens"] and t["output_tokens"], t

    # The newest trace is the second turn: its body resends the first turn and the tools.
    newest = gateway.trace(traces[0]["id"])
    body = newest["request_body"]
    assert len(body.get("tools", [])) >= 5, sorted(body)
    assert len(json.dumps(body)) > 20_000
    # Newer clients also put `system` role messages among the turns.
    roles = [m["role"] for m in body["messages"] if m["role"] != "system"]
    assert roles[:3] == ["user", "assistant", "user"], roles
    assert newest["response_body"]["content"][0]["type"] == "text"

    # Both turns belong to one conversation, the second as a turn of the first.
    main_line = [t for t in traces if t["conversation_id"] == newest["conversation_id"]]
    assert len(main_line) >= 2, [(t["id"], t["conversation_id"], t["link_kind"]) for t in traces]
    assert newest["link_kind"] == "turn", newest["link_kind"]
    convo = gateway.get(f"/api/v1/conversations/{newest['conversation_id']}")
    assert convo.status_code == 200, convo.text
    tree = convo.json()
    assert tree["requests"] >= 2 and tree["trace_count"] >= 2, tree
    assert newest["id"] in json.dumps(tree["tree"]), tree


def test_two_concurrent_claude_code_sessions_form_two_conversations(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    """Two sessions of one account in separate working directories, their turns interleaved
    (`-p`, then `-p --continue`): each second turn joins its own session's conversation."""
    assert CLAUDE.exists(), f"{CLAUDE} missing: scripts/test installs it with npm"
    gateway = start_gateway()
    home = tmp_path / "home"
    home.mkdir()
    dirs = {name: home / f"project-{name}" for name in ("a", "b")}
    for d in dirs.values():
        d.mkdir()
    prompts = {
        ("a", 1): "Session A: what is a coupon? Answer briefly.",
        ("b", 1): "Session B: what is an invoice? Answer briefly.",
        ("a", 2): "Session A again: and a discount?",
        ("b", 2): "Session B again: and a receipt?",
    }
    for (name, n), prompt in prompts.items():
        args = (prompt,) if n == 1 else ("--continue", prompt)
        done = run_claude(gateway, home, *args, cwd=dirs[name])
        assert done.returncode == 0, done.stderr + done.stdout

    def main_request(name: str, n: int) -> dict:
        """The main-loop request of turn `n` of session `name`: the one with the most messages."""
        found = []
        for t in gateway.traces(limit=100):
            if t["endpoint"] != "/v1/messages":
                continue
            detail = gateway.trace(t["id"])
            text = json.dumps(detail["request_body"].get("messages", []))
            if prompts[(name, n)] in text and (n == 2 or prompts[(name, 2)] not in text):
                found.append(detail)
        assert found, f"no request of session {name} turn {n}"
        return max(found, key=lambda d: len(d["request_body"]["messages"]))

    turns = {key: main_request(*key) for key in prompts}
    for name in ("a", "b"):
        first, second = turns[(name, 1)], turns[(name, 2)]
        assert second["link_kind"] == "turn", (name, second["link_kind"])
        assert second["conversation_id"] == first["conversation_id"], name
    assert turns[("a", 2)]["conversation_id"] != turns[("b", 2)]["conversation_id"]
    for name, other in (("a", "b"), ("b", "a")):
        convo = json.dumps(gateway.get(f"/api/v1/conversations/{turns[(name, 2)]['conversation_id']}").json())
        assert turns[(name, 1)]["id"] in convo and turns[(name, 2)]["id"] in convo, name
        for n in (1, 2):
            assert turns[(other, n)]["id"] not in convo, f"session {other} inside {name}'s conversation"
