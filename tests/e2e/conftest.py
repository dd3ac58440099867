"""Fixtures: a mock upstream and a gateway per test, each a subprocess of the built binary
with its own temporary directory, and SDK clients pointed at the gateway."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from harness import Gateway, Mock, StartGateway, binary, gateway_config


def pytest_sessionstart(session: pytest.Session) -> None:
    if not binary().is_file():
        pytest.exit(
            f"tracegate binary not found at {binary()}: run `cargo build -p tracegate` or set TRACEGATE_BIN",
            returncode=2,
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


def _dump_logs(request: pytest.FixtureRequest, procs: list) -> None:
    """Prints the logs of `procs` when the test failed, so the report shows them."""
    if request.node.stash.get(_FAILED, False):
        for p in procs:
            print(f"----- {p.name} log ({p.log_path.name}) -----\n{p.log_text()[-20000:]}")


@pytest.fixture
def mock(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Mock]:
    """A mock upstream without delays (per-request `x-mock-*` headers add them)."""
    m = Mock(tmp_path)
    yield m
    _dump_logs(request, [m])
    m.kill()


@pytest.fixture
def start_gateway(tmp_path: Path, mock: Mock, request: pytest.FixtureRequest) -> Iterator[StartGateway]:
    """Starts a gateway: `start_gateway(timeout_secs=.., extra=.., env=.., db=.., via_env=.., config=..)`.
    By default both upstreams point at `mock`. Every gateway started is stopped at teardown."""
    started: list[Gateway] = []

    def start(
        config: str | None = None,
        env: dict[str, str] | None = None,
        db: Path | None = None,
        via_env: bool = False,
        timeout_secs: int | None = None,
        extra: str = "",
    ) -> Gateway:
        text = config if config is not None else gateway_config(mock.url, timeout_secs, extra)
        gw = Gateway(tmp_path, text, env=env, db=db, via_env=via_env)
        started.append(gw)
        return gw

    yield start
    _dump_logs(request, started)
    for gw in started:
        gw.kill()


@pytest.fixture
def gateway(start_gateway: StartGateway) -> Gateway:
    """A gateway with the default configuration in front of `mock`."""
    return start_gateway()


@pytest.fixture
def api_key() -> str:
    return f"sk-ant-e2e-{secrets.token_hex(8)}"


@pytest.fixture
def anthropic_client(gateway: Gateway, api_key: str) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=api_key, max_retries=0, timeout=30.0)
    yield client
    client.close()


@pytest.fixture
def openai_client(gateway: Gateway, api_key: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=api_key, max_retries=0, timeout=30.0)
    yield client
    client.close()
