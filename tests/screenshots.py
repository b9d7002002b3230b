"""Takes the README's screenshots from the real page, so they show what Wirelens shows today.

    sudo .venv/bin/python -m tests.screenshots            # writes static/docs/*.png

It replays the walkthrough in a network namespace laid out like the compose setup (eth0 inside,
reached from the root namespace through a veth pair): the demo ping server on port 8080 and
Wirelens on 8000 inside; a live capture on eth0 with ``tcp port 8080``; one ``GET /ping`` from
outside; stop. Then Chromium (Debian's, through Playwright) opens the capture filtered with
``tcp.port==8080`` and takes the packet list, the SYN-ACK's details with its raw sequence
numbers, and the flow's ladder page when this version of Wirelens has one. Needs root (namespaces
and capture) and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

try:
    from tests.netns.namespaces import ROOT, namespace, wait_http
    from tests.netns.test_handshake import curl_like
except ModuleNotFoundError as exc:  # pytest, Playwright ...: the test extras are not installed
    sys.exit(f"{exc}: the screenshots need the test dependencies; run `bash tests/run.sh` once "
             "(or `.venv/bin/pip install -e '.[test]'`)")

CHROMIUM = os.environ.get("WIRELENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}


def api(base: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def exists(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except urllib.error.URLError:
        return False


def capture_handshake(ns, work: Path) -> tuple[str, str, dict]:
    """Run the walkthrough's capture; returns the page's base URL, the capture id and the flow."""
    env = dict(os.environ, WIRELENS_AUTH="off")
    python = sys.executable
    ping = ns.exec(python, "-m", "app.cli", "demo-server", "--host", "0.0.0.0", "--port", "8080",
                   "--quiet", log=work / "ping.log", env=env)
    server = ns.exec(python, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "8000",
                     "--data-dir", str(work / "data"), log=work / "server.log", env=env)
    base = f"http://{ns.address}:8000"
    wait_http(f"http://{ns.address}:8080/ping", ping, work / "ping.log")
    wait_http(f"{base}/api/health", server, work / "server.log")
    capture = api(base, "/api/captures/live",
                  {"interface": "eth0", "capture_filter": "tcp port 8080", "name": "curl-ping"})
    curl_like(ns.address, 8080)
    time.sleep(0.5)
    capture = api(base, f"/api/captures/{capture['id']}/stop", {})
    flows = api(base, f"/api/flows?capture={capture['id']}&protocol=tcp")["flows"]
    return base, capture["id"], flows[0]


def shoot(base: str, capture_id: str, flow: dict, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    written = []
    page_url = f"{base}/captures/{capture_id}?filter={quote('tcp.port==8080')}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.goto(page_url)
        expect(page.locator('.packets tr[data-number="1"]')).to_be_visible()
        page.mouse.move(0, 0)
        written.append(out / "walkthrough-list.png")
        page.screenshot(path=str(written[-1]))

        # The SYN-ACK: the server's ISN and ACK = client ISN + 1, with the raw numbers.
        page.locator('.packets tr[data-number="2"]').click()
        expect(page.locator("#tree-pane [data-tree]")).to_have_attribute("data-number", "2")
        tcp = page.locator('#tree-pane details[data-name="tcp"]')
        tcp.locator(":scope > summary").click()
        raw = tcp.locator('.node[data-name="tcp.seq_raw"]').first
        raw.locator(":scope > .label").click()
        raw.scroll_into_view_if_needed()
        page.mouse.move(0, 0)
        written.append(out / "walkthrough-details.png")
        page.screenshot(path=str(written[-1]))

        ladder = f"{base}/flows/{flow['id']}/ladder?raw=1&explain=1"
        if exists(ladder):
            page.goto(ladder)
            page.wait_for_load_state("networkidle")
            # Tall enough for the whole diagram, down to the last ACK and the final states: the
            # diagram scrolls inside a box of the window's height less 200 px.
            height = int(float(page.locator("svg.ladder").first.get_attribute("height") or 0))
            page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height + 240)})
            page.mouse.move(0, 0)
            written.append(out / "walkthrough-ladder.png")
            page.screenshot(path=str(written[-1]))
        else:
            print(f"No ladder page in this version ({ladder} is not there): ladder screenshot not taken.")
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "static" / "docs",
                        help="folder for the PNG files (default static/docs)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root: it makes a network namespace and captures in it", file=sys.stderr)
        return 1
    if shutil.which("ip") is None:
        print("no `ip` command (apt-get install iproute2)", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wirelens-shots-") as tmp, namespace("wls") as ns:
        base, capture_id, flow = capture_handshake(ns, Path(tmp))
        for path in shoot(base, capture_id, flow, args.out):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
