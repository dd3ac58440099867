"""Serves the dashboard's files the way the gateway does (page paths as index.html, the rest of
web/ under /ui/) and passes every other request to a gateway, streams included.

Used by the dashboard tests when the gateway under test does not serve the dashboard itself
(`GET /ui/js/app.js` is not 200), and by `scripts/dashboard-bench`."""

from __future__ import annotations

import http.client
import mimetypes
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

WEB = Path(__file__).resolve().parents[2] / "crates" / "tracegate-server" / "web"
PAGES = re.compile(r"^/(traces|traces/[^/]+|conversations|conversations/[^/]+|usage|alerts|keys|login)?$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "host"}
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"


class DashboardServer:
    def __init__(self, gateway_url: str, web: Path = WEB):
        target = urlsplit(gateway_url)
        self.web = web
        self.host, self.port_up = target.hostname or "127.0.0.1", target.port or 80
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _static(self) -> bool:
                path = urlsplit(self.path).path
                if PAGES.match(path):
                    file = outer.web / "index.html"
                elif path.startswith("/ui/"):
                    file = (outer.web / path[4:]).resolve()
                    if outer.web.resolve() not in file.parents or not file.is_file():
                        self.send_error(404)
                        return True
                else:
                    return False
                data = file.read_bytes()
                ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if file.suffix == ".js":
                    ctype = "text/javascript"
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.send_header("content-security-policy", CSP)
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                self.wfile.write(data)
                return True

            def _proxy(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                # The gateway sees its own origin, as it would without this server in between.
                if "Origin" in headers or "origin" in headers:
                    headers.pop("Origin", None)
                    headers.pop("origin", None)
                    headers["Origin"] = f"http://{outer.host}:{outer.port_up}"
                conn = http.client.HTTPConnection(outer.host, outer.port_up, timeout=600)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    self.send_response(resp.status, resp.reason)
                    bodyless = resp.status in (204, 304) or self.command == "HEAD"
                    chunked = resp.getheader("content-length") is None and not bodyless
                    for k, v in resp.getheaders():
                        if k.lower() in HOP or (chunked and k.lower() == "content-length"):
                            continue
                        self.send_header(k, v)
                    if chunked:
                        self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    while not bodyless:
                        chunk = resp.read1(65536) if chunked else resp.read(65536)
                        if not chunk:
                            break
                        if chunked:
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        else:
                            self.wfile.write(chunk)
                        self.wfile.flush()
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    conn.close()

            def _handle(self) -> None:
                if self.command == "GET" and self._static():
                    return
                self._proxy()

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    import sys
    import time

    s = DashboardServer(sys.argv[1])
    print(s.url, flush=True)
    while True:
        time.sleep(3600)
