"""A real Wirelens server (a subprocess on a free port) and Debian's Chromium driven by Playwright.

The server runs exactly as a user starts it (`python -m app.cli serve`), with a fresh data dir.
Without Chromium or Playwright the browser tests fail with the reason; tests/run.sh installs both.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("WIRELENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> str:
    """Base URL of a running server; its output is shown if it fails to start."""
    data_dir = tmp_path_factory.mktemp("wirelens-data")
    port = free_port()
    log = open(data_dir.parent / "server.log", "w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"the server did not start:\n{log.read().decode(errors='replace')}")
        time.sleep(0.1)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


# Module scope, not session: the sync Playwright API keeps an event loop running in this thread
# while it is open, which would break async tests run after the browser tests.
@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    from playwright import sync_api  # noqa: PLC0415
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def problems() -> list[str]:
    """Console errors and uncaught exceptions of the page, as they happen."""
    return []


@pytest.fixture
def page(browser, problems):
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.set_default_timeout(15000)
    yield page
    context.close()
