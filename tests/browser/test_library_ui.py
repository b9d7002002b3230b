"""The library page in a real browser: drag-and-drop upload, a refused file, deleting a capture."""
from __future__ import annotations

import re
import time

import httpx
import pytest

from playwright import sync_api  # noqa: E402 - a missing Playwright must fail, not skip
expect = sync_api.expect

CAPTURE_URL = re.compile(r"/captures/([0-9a-f]{16})(\?.*)?$")


def upload(server: str, path, name: str) -> dict:
    with httpx.Client(base_url=server, timeout=60) as client:
        capture = client.post("/api/captures", files={"file": (name, path.read_bytes())}).json()
        deadline = time.monotonic() + 60
        while capture["status"] == "indexing" and time.monotonic() < deadline:
            time.sleep(0.1)
            capture = client.get(f"/api/captures/{capture['id']}").json()
    assert capture["status"] == "ready", capture
    return capture


def test_dropping_a_file_uploads_and_opens_it(server, page, problems, corpus_dir):
    page.goto(f"{server}/")
    data = list((corpus_dir / "ICMPv6_echos.cap").read_bytes())
    # What the browser does when a file is dragged from the desktop onto the zone.
    page.locator("#upload-form").evaluate("""(form, bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], "dropped.cap", {type: "application/octet-stream"}));
        for (const type of ["dragenter", "dragover", "drop"]) {
            form.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }
    }""", data)
    page.wait_for_url(CAPTURE_URL, timeout=30000)
    expect(page.locator(".topbar .capture-name")).to_have_text("dropped.cap")
    expect(page.locator(".packets tbody tr[data-number]")).to_have_count(10)
    assert problems == []


def test_a_refused_file_shows_the_servers_reason(server, page, problems):
    page.goto(f"{server}/")
    page.set_input_files("#upload-file", files=[
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"these are not packets\n" * 20},
    ])
    expect(page.locator("#upload-progress")).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("[data-upload-text]")).to_contain_text("not a capture file")
    assert page.url == f"{server}/"
    assert [p for p in problems if "status of 400" not in p and not p.startswith("HTTP 400: ")] == []


def test_delete_asks_first_then_removes_the_row(server, page, problems, corpus_dir):
    capture = upload(server, corpus_dir / "cloudshark-arp.pcap", "to-delete.pcap")
    page.goto(f"{server}/")
    row = page.locator(f'tr[data-capture="{capture["id"]}"]')
    expect(row).to_contain_text("to-delete.pcap")
    expect(row.locator(".capture-status")).to_have_text("Ready")

    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    page.on("dialog", answer)
    row.get_by_role("button", name="Delete").click()   # dismissed: nothing happens
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Delete").click()   # accepted
    expect(row).to_have_count(0)
    assert len(questions) == 2 and "to-delete.pcap" in questions[0]
    assert httpx.get(f"{server}/api/captures/{capture['id']}").status_code == 404
    assert problems == []
