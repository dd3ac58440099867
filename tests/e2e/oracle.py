"""What the gateway should have done, computed independently of it: prices, account
fingerprints, and the byte-level view of event streams."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# List prices, USD per million tokens: input, output, cache read, cache write (None: as input).
PRICES: dict[str, tuple[float, float, float, float | None]] = {
    "claude-sonnet-4-5": (3.0, 15.0, 0.3, 3.75),
    "gpt-4o-mini": (0.15, 0.6, 0.075, None),
}

ANTHROPIC_MODEL = "claude-sonnet-4-5"
OPENAI_MODEL = "gpt-4o-mini"


def expected_cost(model: str, trace: dict[str, Any]) -> float:
    """Cost of the trace's (normalised) token figures at `model`'s list prices."""
    inp, out, read, write = PRICES[model]
    tokens = lambda key: trace.get(key) or 0  # noqa: E731
    return (
        tokens("input_tokens") * inp
        + tokens("output_tokens") * out
        + tokens("cache_read_tokens") * read
        + tokens("cache_write_tokens") * (inp if write is None else write)
    ) / 1_000_000


def fingerprint(key: str) -> str:
    """The account of a request without `X-Tracegate-Account`: `cred:` + 12 hex of SHA-256."""
    return "cred:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def anthropic_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Trace token fields expected from an Anthropic `usage` object."""
    return {
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "cache_read_tokens": usage.get("cache_read_input_tokens"),
        "cache_write_tokens": usage.get("cache_creation_input_tokens"),
    }


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Trace token fields expected from an OpenAI `usage` object: cached input is
    taken out of `prompt_tokens`."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    prompt = usage["prompt_tokens"]
    return {
        "input_tokens": prompt - cached if cached is not None else prompt,
        "output_tokens": usage["completion_tokens"],
        "cache_read_tokens": cached,
        "cache_write_tokens": None,
    }


def token_fields(trace: dict[str, Any]) -> dict[str, Any]:
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    return {k: trace.get(k) for k in keys}


# --- server-sent events, byte exact ---------------------------------------------------

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def sse_events(raw: bytes) -> list[bytes]:
    """The raw events of a stream, each with its terminating blank line; a trailing
    partial event is kept as is."""
    out, pos = [], 0
    for m in _EVENT_END.finditer(raw):
        out.append(raw[pos : m.end()])
        pos = m.end()
    if pos < len(raw):
        out.append(raw[pos:])
    return out


def sse_fields(event: bytes) -> tuple[str | None, str | None]:
    """(event name, data) of one raw event; data lines are joined with newlines."""
    name, data = None, []
    for line in re.split(rb"\r\n|\n|\r", event):
        text = line.decode()
        if text.startswith("event:"):
            name = text[6:].removeprefix(" ")
        elif text.startswith("data:"):
            data.append(text[5:].removeprefix(" "))
    return name, ("\n".join(data) if data else None)


def sse_json(raw: bytes) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) of every event whose data is JSON."""
    out = []
    for ev in sse_events(raw):
        name, data = sse_fields(ev)
        if data is None:
            continue
        try:
            out.append((name, json.loads(data)))
        except ValueError:
            continue
    return out


def is_injected_usage_chunk(chunk: Any) -> bool:
    return isinstance(chunk, dict) and chunk.get("choices") == [] and chunk.get("usage") is not None


def strip_injected_usage(raw: bytes) -> bytes:
    """The OpenAI stream a client that did not ask for usage must receive: the mock's
    bytes without the usage-only chunk and without each `,"usage":null` member."""
    out = []
    for ev in sse_events(raw):
        _, data = sse_fields(ev)
        try:
            chunk = json.loads(data) if data is not None else None
        except ValueError:
            chunk = None
        if is_injected_usage_chunk(chunk):
            continue
        out.append(ev.replace(b',"usage":null', b""))
    return b"".join(out)


def openai_stream_usage(raw: bytes) -> dict[str, Any] | None:
    """The `usage` of the usage-only chunk of an OpenAI stream, if there is one."""
    for _, chunk in sse_json(raw):
        if is_injected_usage_chunk(chunk):
            return chunk["usage"]
    return None


def openai_stream_text(raw: bytes) -> str:
    text = []
    for _, chunk in sse_json(raw):
        for choice in chunk.get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text)


def anthropic_stream_usage(raw: bytes) -> dict[str, Any]:
    """Usage of an Anthropic stream: `message_start`'s, updated by each `message_delta`."""
    usage: dict[str, Any] = {}
    for _, ev in sse_json(raw):
        if ev.get("type") == "message_start":
            usage.update(ev["message"].get("usage") or {})
        elif ev.get("type") == "message_delta":
            usage.update({k: v for k, v in (ev.get("usage") or {}).items() if v is not None})
    return usage


def anthropic_stream_text(raw: bytes) -> str:
    return "".join(ev["delta"].get("text", "") for _, ev in sse_json(raw) if ev.get("type") == "content_block_delta")


def without_nones(value: Any) -> Any:
    """`value` with every null-valued object member removed, recursively."""
    if isinstance(value, dict):
        return {k: without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nones(v) for v in value]
    return value
