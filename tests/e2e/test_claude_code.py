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


def run_claude(gateway: Gateway, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
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
        cwd=home,
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
