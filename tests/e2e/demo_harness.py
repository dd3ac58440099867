"""`tracegate demo` as a process under test: started on a free port with its own store, ready
once it has printed its guide (its traffic is recorded by then)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from harness import Process, child_env, free_port

DEMO_TIMEOUT_S = 90.0
READY_LINE = "Ctrl-C to stop."
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Demo(Process):
    """`tracegate demo --listen 127.0.0.1:PORT --db DIR/demo.db`, serving until stopped."""

    def __init__(self, workdir: Path, *flags: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "demo.db"
        args = ["demo", "--listen", f"127.0.0.1:{self.port}", "--db", str(self.db), *flags]
        super().__init__("demo", args, workdir / "demo.log", child_env())

    def wait_ready(self) -> None:
        """Waits for the guide: the demo prints it once every trace it sent is written."""
        deadline = time.monotonic() + DEMO_TIMEOUT_S
        while READY_LINE not in self.log_text():
            if not self.running():
                raise RuntimeError(f"demo exited with {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"demo not ready after {DEMO_TIMEOUT_S}s:\n{self.log_text()}")
            time.sleep(0.1)

    def conversation_id(self) -> str:
        """The main conversation's id, as the guide prints it (also its first trace's id)."""
        for line in self.log_text().splitlines():
            if "/api/v1/conversations/" in line:
                found = UUID.search(line)
                if found:
                    return found.group(0)
        raise AssertionError(f"the demo's guide names no conversation:\n{self.log_text()}")

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10.0, **kw)
