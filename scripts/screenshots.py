"""Take a screenshot of every dashboard page into docs/screenshots/ (``make screenshots``).

    python scripts/screenshots.py [--store DIR] [--out docs/screenshots]

Without ``--store`` it runs the demo (200,000 records) into a temporary directory first. The
server and the browser (Debian's Chromium, headless) are started here and stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pages(store) -> list[tuple[str, str]]:
    """(file name, path) of each page, with values picked from the store."""
    busiest = (
        store.sql(
            "SELECT srcaddr FROM vpc_flow_logs WHERE action = 'REJECT' AND srcaddr NOT LIKE '10.%' "
            "GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT 1"
        )
        .column(0)[0]
        .as_py()
    )
    eni = (
        store.sql(
            "SELECT interface_id FROM vpc_flow_logs GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        .column(0)[0]
        .as_py()
    )
    return [
        ("overview", "/?range=all&unit=bytes"),
        ("rejected", "/rejected?range=all"),
        ("findings", "/findings?range=all"),
        ("flows", "/flows?range=all&f=action%3DREJECT&f=dstport%3D22"),
        (
            "console",
            "/console?language=sql&dialect=athena&q=SELECT+action%2C+count(*)+AS+records"
            "%2C+sum(bytes)+AS+bytes+FROM+vpc_flow_logs+GROUP+BY+1+ORDER+BY+2+DESC",
        ),
        ("ip", f"/ip/{busiest}?range=all"),
        ("interface", f"/interface/{eni}?range=all"),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None)
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "screenshots")
    )
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    import vpcflow
    from vpcflow.web import Server

    tmp = None
    if a.store is None:
        from vpcflow.demo import run_demo

        tmp = tempfile.mkdtemp(prefix="vpcflow-shots-")
        run_demo(records=200_000, keep_dir=tmp)
        a.store = str(Path(tmp) / "store")
    store = vpcflow.open_store(a.store, create=False)
    server = Server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = server.url.rstrip("/")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1300},
        )
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for name, path in pages(store):
            t = time.perf_counter()
            page.goto(base + path)
            page.wait_for_selector("body[data-ready='1']", state="attached", timeout=120_000)
            # A long page (every interface's verdicts) is shown by its first screenful.
            page.screenshot(path=str(out / f"{name}.png"), full_page=name not in ("rejected",))
            print(f"{name}: {path} drawn in {time.perf_counter() - t:.1f} s")
        ctx.close()
        if errors:
            print("console errors:", *errors, sep="\n  ", file=sys.stderr)
            failed = 1
    server.stop()
    thread.join(10)
    store.close()
    return failed


if __name__ == "__main__":
    sys.exit(main())
