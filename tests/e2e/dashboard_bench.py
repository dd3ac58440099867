"""Time to first view of each dashboard page over a stored corpus (see scripts/dashboard-bench).

For each page, a fresh browser context loads it `--runs` times; the time is from the start of
navigation to the page's `tracegate-ready` mark (set when `body[data-ready="1"]`). The first
load of a page is reported apart (cold: the store's pages and the analytics cache are cold);
the rest as median and max (warm)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
from dashboard_fixtures import Dashboard, launch  # noqa: E402
from harness import Gateway, gateway_config  # noqa: E402


def pages(gw: Gateway) -> list[tuple[str, str]]:
    newest = httpx.get(gw.url + "/api/v1/traces?limit=1&fields=id,model,conversation_id,account", timeout=60).json()["data"][0]
    conv = httpx.get(gw.url + "/api/v1/conversations?limit=500", timeout=60).json()["data"]
    conv.sort(key=lambda c: -c["requests"])  # the longest of the newest
    model_filter = quote(json.dumps({"field": "model", "op": "eq", "value": newest["model"]}))
    slow_filter = quote(json.dumps({"and": [{"field": "duration_ms", "op": "gt", "value": 5000}, {"field": "outcome", "op": "eq", "value": "ok"}]}))
    out = [
        ("overview 1 h", "/?range=1h"), ("overview 24 h", "/?range=24h"), ("overview 7 d", "/?range=7d"), ("overview 30 d", "/?range=30d"),
        ("traces", "/traces"), ("traces, model filter", f"/traces?filter={model_filter}"),
        ("traces, slow ok, by duration", f"/traces?filter={slow_filter}&sort=duration_ms"),
        ("traces, full text", "/traces?q=" + quote("timeout")),
        ("trace", f"/traces/{newest['id']}"), ("conversations", "/conversations"),
        ("usage", "/usage"), ("alerts and diagnostics", "/alerts"), ("keys", "/keys"),
    ]
    if conv:
        out.insert(9, ("conversation", f"/conversations/{conv[0]['id']}"))
    return out


def shot_name(path: str) -> str:
    base = path.split("?")[0].strip("/")
    parts = base.split("/")
    name = (parts[0] or "overview") + ("-detail" if len(parts) > 1 else "")
    query = path.split("?")[1] if "?" in path else ""
    if name == "overview" and "range=" in query:
        name += "-" + query.split("range=")[1].split("&")[0]
    elif query:
        name += "-" + format(zlib.crc32(query.encode()), "x")[:6]
    return name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.environ.get("TRACEGATE_BIN", "target/release/tracegate"))
    ap.add_argument("--screenshots", type=Path, help="save a screenshot of each page (last run) in this folder")
    args = ap.parse_args()
    os.environ["TRACEGATE_BIN"] = str(Path(args.bin).resolve())
    work = Path(tempfile.mkdtemp(prefix="dash-bench-"))
    gw = Gateway(work, gateway_config("http://127.0.0.1:9"), db=args.db.resolve())
    dash = Dashboard(gw)
    rows = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for name, path in pages(gw):
                times = []
                for _ in range(args.runs):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                    pg = ctx.new_page()
                    pg.goto(dash.url + path)
                    pg.wait_for_selector("body[data-ready='1']", timeout=120_000)
                    times.append(pg.evaluate("performance.getEntriesByName('tracegate-ready')[0].startTime"))
                    errors = pg.locator(".error-box").count()
                    if args.screenshots and len(times) == args.runs:
                        args.screenshots.mkdir(parents=True, exist_ok=True)
                        pg.wait_for_timeout(300)  # charts draw on the next frame
                        pg.screenshot(path=str(args.screenshots / (shot_name(path) + ".png")), full_page=True)
                    ctx.close()
                    if errors:
                        name += " (showed an error)"
                warm = times[1:] or times
                rows.append((name, times[0], statistics.median(warm), max(warm)))
                print(f"{name:34} cold {times[0]:7.0f} ms   warm median {statistics.median(warm):7.0f} ms   max {max(warm):7.0f} ms", flush=True)
            browser.close()
    finally:
        dash.close()
        gw.kill()
    print()
    print("| page | cold ms | warm median ms | warm max ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, cold, med, mx in rows:
        print(f"| {name} | {cold:.0f} | {med:.0f} | {mx:.0f} |")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"\n({time.time() - t0:.0f} s)")
