"""Built-in alerts through the real binary: a latency alert and a stuck request fire, show in
`GET /api/v1/alerts` and reach JSON and Slack webhooks once per state change plus repeats; a
webhook that fails is retried while the gateway keeps serving."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness import Gateway, StartGateway
from payloads import ANTHROPIC_HEADERS, anthropic_request

WAIT_S = 20.0


class Receiver:
    """An HTTP server on port 0 keeping every POST body by path; `/flaky` answers 500 to
    its first `flaky_failures` posts."""

    def __init__(self, flaky_failures: int = 3):
        self.posts: list[tuple[str, Any]] = []
        self.flaky_calls = 0
        self.flaky_failures = flaky_failures
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status = 200
                with receiver.lock:
                    if self.path == "/flaky":
                        receiver.flaky_calls += 1
                        if receiver.flaky_calls <= receiver.flaky_failures:
                            status = 500
                    if status == 200:
                        receiver.posts.append((self.path, body))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [b for p, b in self.posts if p == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def alerts_config(receiver: Receiver, rules: str) -> str:
    hooks = ", ".join(
        f'{{ url = "{receiver.url}/{path}", kind = "{kind}" }}'
        for path, kind in [("json", "json"), ("slack", "slack"), ("flaky", "json")]
    )
    return f"[alerts]\ninterval_secs = 1\nrepeat_interval_secs = 2\n{rules}\nwebhooks = [{hooks}]\n"


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def firing(gw: Gateway, alert_id: str) -> dict[str, Any] | None:
    r = gw.get("/api/v1/alerts")
    assert r.status_code == 200, r.text
    return next((a for a in r.json()["firing"] if a["id"] == alert_id), None)


def json_changes(receiver: Receiver, path: str, alert_id: str) -> list[str]:
    return [b["change"] for b in receiver.bodies(path) if b["alert"]["id"] == alert_id]


def test_latency_alert_fires_lists_and_notifies(start_gateway: StartGateway, receiver: Receiver) -> None:
    gw = start_gateway(extra=alerts_config(receiver, "p95_ms = 200"))
    assert gw.get("/api/v1/alerts").json() == {"enabled": True, "firing": [], "resolved": []}
    slow = {**ANTHROPIC_HEADERS, "x-mock-latency-ms": "400"}
    for _ in range(3):
        r = gw.post("/v1/messages", json=anthropic_request(), headers=slow)
        assert r.status_code == 200, r.text
        gw.trace(r.headers["x-request-id"])
    alert_id = 'latency_p95{upstream="anthropic"}'
    alert = wait_until("the latency alert", lambda: firing(gw, alert_id))
    assert alert["rule"] == "latency_p95"
    assert alert["state"] == "firing"
    assert alert["severity"] == "P3"
    assert alert["labels"] == {"upstream": "anthropic"}
    assert alert["threshold"] == 200
    assert alert["value"] >= 390
    assert alert["since"] and alert["resolved_at"] is None
    assert "anthropic" in alert["summary"]
    model_alerts = [a for a in gw.get("/api/v1/alerts").json()["firing"] if "model" in a["labels"]]
    assert [a["rule"] for a in model_alerts] == ["latency_p95"], model_alerts

    # The gateway keeps serving while the flaky webhook is retried.
    r = gw.post("/v1/messages", json=anthropic_request(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 200

    wait_until("the first repeat", lambda: "repeat" in json_changes(receiver, "/json", alert_id))
    time.sleep(2.5)
    changes = json_changes(receiver, "/json", alert_id)
    assert changes.count("firing") == 1, changes
    assert 1 <= changes.count("repeat") <= 4, changes
    assert "resolved" not in changes
    first = next(b for b in receiver.bodies("/json") if b["alert"]["id"] == alert_id)
    assert first["alert"]["severity"] == "P3" and first["alert"]["labels"] == {"upstream": "anthropic"}

    slack = [b["text"] for b in receiver.bodies("/slack") if "upstream anthropic" in b["text"]]
    assert sum(t.startswith("[FIRING P3] latency_p95: ") for t in slack) == 1, slack
    assert any(t.startswith("[STILL FIRING P3] latency_p95: ") for t in slack), slack
    assert all(b["blocks"][0]["type"] == "section" for b in receiver.bodies("/slack"))

    # The flaky webhook failed three times, then got the same notices.
    flaky = wait_until("the flaky webhook", lambda: json_changes(receiver, "/flaky", alert_id))
    assert receiver.flaky_calls > receiver.flaky_failures
    assert flaky[0] == "firing" and flaky.count("firing") == 1, flaky


def test_stuck_request_fires_and_resolves(start_gateway: StartGateway, receiver: Receiver) -> None:
    gw = start_gateway(extra=alerts_config(receiver, "stuck_after_secs = 1"))
    done: dict[str, Any] = {}

    def slow_request() -> None:
        headers = {**ANTHROPIC_HEADERS, "x-mock-latency-ms": "6000"}
        done["response"] = gw.post("/v1/messages", json=anthropic_request(), headers=headers)

    t = threading.Thread(target=slow_request)
    t.start()

    def stuck() -> dict[str, Any] | None:
        alerts = gw.get("/api/v1/alerts").json()["firing"]
        return next((a for a in alerts if a["rule"] == "stuck_request"), None)

    alert = wait_until("the stuck alert", stuck)
    assert alert["severity"] == "P2"
    assert alert["labels"]["upstream"] == "anthropic"
    assert alert["threshold"] == 1000
    t.join(30)
    response = done["response"]
    assert response.status_code == 200
    trace_id = response.headers["x-request-id"]
    assert alert["labels"]["trace_id"] == trace_id

    def resolved() -> dict[str, Any] | None:
        body = gw.get("/api/v1/alerts").json()
        return next((a for a in body["resolved"] if a["id"] == alert["id"]), None)

    gone = wait_until("the stuck alert to resolve", resolved)
    assert gone["state"] == "resolved" and gone["resolved_at"] >= gone["since"]
    assert all(a["id"] != alert["id"] for a in gw.get("/api/v1/alerts").json()["firing"])

    changes = wait_until(
        "the resolution notice", lambda: (c := json_changes(receiver, "/json", alert["id"])) and "resolved" in c and c
    )
    time.sleep(1.5)
    changes = json_changes(receiver, "/json", alert["id"])
    assert changes[0] == "firing" and changes[-1] == "resolved", changes
    assert changes.count("firing") == 1 and changes.count("resolved") == 1, changes
    assert changes.count("repeat") >= 1, changes
    slack = [b["text"] for b in receiver.bodies("/slack") if trace_id in b["text"]]
    assert sum(t.startswith("[FIRING P2] stuck_request") for t in slack) == 1, slack
    assert sum(t.startswith("[RESOLVED P2] stuck_request") for t in slack) == 1, slack
