#!/usr/bin/env python
"""First meaningful paint of the web frontend's matrix, and the bytes the page downloads.

    python bench/frontend_paint.py              # demo corpus in a temporary SQLite, 7 cold loads
    python bench/frontend_paint.py --runs 15 --write

Serves the demo corpus (`claims demo`) with a real `uvicorn api.web.app:create_app` on
127.0.0.1 and loads `/?asOf=DATE` in Debian's headless Chromium (Playwright,
`executable_path`), each time in a fresh browser context (empty cache) and a date the server
has not been asked (after a warm-up load), alternating with a load of a question it has
answered (its response cache answers: `/?asOf=2025-12-31`, the warm-up's). "Meaningful
paint" is the first animation frame after the matrix table is in the document
(a MutationObserver installed before the page's scripts records it), measured from
navigation start; first-contentful-paint is reported beside it. Bytes are the
transfer sizes of every response of the load (Resource Timing), and the GraphQL
requests are counted. Baseline of the same run: the GraphiQL page (`/graphql`) to
its first rendered editor, the browser page the server had before.
Prints Markdown; ``--write`` replaces this benchmark's block of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from api_support import live_server  # noqa: E402
from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from results_file import write_section  # noqa: E402
from web_support import chromium_path, load_demo  # noqa: E402

# Records when `selector` first appears, then the next frame (the paint that shows it).
OBSERVER = """(selector) => {
  window.__painted = new Promise((resolve) => {
    const seen = () => requestAnimationFrame(() => resolve(performance.now()));
    const check = () => document.querySelector(selector) && (observer.disconnect(), seen(), true);
    const observer = new MutationObserver(check);
    document.addEventListener('DOMContentLoaded', check);
    observer.observe(document, {childList: true, subtree: true});
  });
}"""

MEASURE = """async () => {
  const painted = await window.__painted;
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  return {
    painted,
    fcp: fcp ? fcp.startTime : null,
    bytes: nav.transferSize + resources.reduce((n, r) => n + r.transferSize, 0),
    files: 1 + resources.length,
    graphql: resources.filter((r) => r.name.endsWith('/graphql')).length,
  };
}"""


def load(browser: Browser, url: str, selector: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(f"({OBSERVER})({selector!r})")
    page.goto(url)
    page.wait_for_selector(selector)
    result: dict[str, Any] = page.evaluate(MEASURE)
    context.close()
    return result


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB; Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block of bench/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/demo.db"
        load_demo(url)
        with live_server(url) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path())
            version = browser.version
            load(browser, f"{base}/?asOf=2025-12-31", "table.matrix")  # warm the server, not the browser
            # Each measured load asks the matrix as of a date of its own (all after the corpus's last statement,
            # so the same table): the same question as the warm-up's was answered from the server's response
            # cache (api/web/http_cache.py), not computed. That case, a question the server has answered, is
            # measured alternately beside it ("cached").
            matrix, cached = [], []
            for run in range(args.runs):
                day = (date(2026, 1, 1) + timedelta(days=run)).isoformat()
                matrix.append(load(browser, f"{base}/?asOf={day}", "table.matrix"))
                cached.append(load(browser, f"{base}/?asOf=2025-12-31", "table.matrix"))
            graphiql = [load(browser, f"{base}/graphql", ".graphiql-container") for _ in range(args.runs)]
            browser.close()
    paint = statistics.median(r["painted"] for r in matrix)
    cached_paint = statistics.median(r["painted"] for r in cached)
    base_paint = statistics.median(r["painted"] for r in graphiql)
    fcp = statistics.median(r["fcp"] for r in matrix if r["fcp"] is not None)
    report = (
        "## Web frontend: first meaningful paint of the matrix (bench/frontend_paint.py)\n\n"
        f"Machine: {machine()}; headless Chromium {version} (Debian package) via Playwright. "
        f"Load average at the end: {os.getloadavg()[0]:.2f} (2 cores shared with other work).\n\n"
        f"Command: `python bench/frontend_paint.py --runs {args.runs} --write` ({date.today()}). Demo corpus in SQLite, "
        "one uvicorn process on 127.0.0.1; each load in a fresh browser context (empty cache); medians.\n\n"
        "| page | meaningful paint ms (median) | min–max ms | first contentful paint ms | bytes transferred | files | GraphQL requests |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        f"| matrix `/?asOf=<a new date each load>` (table rendered) | {paint:.0f} | {min(r['painted'] for r in matrix):.0f}–"
        f"{max(r['painted'] for r in matrix):.0f} | {fcp:.0f} | {matrix[0]['bytes']:,} | {matrix[0]['files']} | "
        f"{matrix[0]['graphql']} |\n"
        f"| matrix `/?asOf=2025-12-31`, the server's answer cached (table rendered) | {cached_paint:.0f} | "
        f"{min(r['painted'] for r in cached):.0f}–{max(r['painted'] for r in cached):.0f} | – | {cached[0]['bytes']:,} | "
        f"{cached[0]['files']} | {cached[0]['graphql']} |\n"
        f"| baseline: GraphiQL `/graphql` (editor rendered) | {base_paint:.0f} | "
        f"{min(r['painted'] for r in graphiql):.0f}–{max(r['painted'] for r in graphiql):.0f} | – | "
        f"{graphiql[0]['bytes']:,} | {graphiql[0]['files']} | – |\n\n"
        f"Matrix paint = {paint / base_paint:.2f}x GraphiQL's in the same run. Target: matrix under 1,000 ms — "
        f"**{'met' if paint < 1000 else 'not met'}** ({paint:.0f} ms).\n"
    )
    print(report)
    if args.write:
        write_section("frontend_paint", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
