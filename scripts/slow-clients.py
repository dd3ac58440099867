#!/usr/bin/env python3
"""Opens N silent or half-a-head client connections to a gateway and prints the gateway's
open file descriptors, then again after its keep-alive and header timeouts.

    scripts/slow-clients.py BINARY [--clients 2000] [--max-connections 100]

Starts `BINARY serve` on a free port with a temporary database and
`max_connections`, `keep_alive_timeout_secs = 5`, `header_read_timeout_secs = 10`.
Raise `ulimit -n` above the client count first."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--max-connections", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        config = Path(tmp) / "c.toml"
        config.write_text(
            f"max_connections = {args.max_connections}\nkeep_alive_timeout_secs = 5\n"
            'header_read_timeout_secs = 10\nspool_durability = "memory"\n'
        )
        url = f"http://127.0.0.1:{port}"
        gw = subprocess.Popen(
            [args.binary, "serve", "--listen", f"127.0.0.1:{port}", "--db", f"{tmp}/t.db", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(url + "/health").read()
                    break
                except OSError:
                    time.sleep(0.1)
            fds = lambda: len(os.listdir(f"/proc/{gw.pid}/fd"))  # noqa: E731
            print(f"gateway fds at rest: {fds()}")
            socks = []
            for i in range(args.clients):
                s = socket.create_connection(("127.0.0.1", port))
                if i % 2 == 0:
                    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            time.sleep(1)
            print(f"with {args.clients} clients (half sent half a head): {fds()}")
            time.sleep(11)
            print(f"11 s later: {fds()}")
            for s in socks:
                s.close()
            metrics = urllib.request.urlopen(url + "/metrics").read().decode()
            for line in metrics.splitlines():
                if line.startswith("tracegate_connections"):
                    print(line)
        finally:
            gw.terminate()
            gw.wait()


if __name__ == "__main__":
    main()
