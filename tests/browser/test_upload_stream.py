"""A big upload opens the live page: rows arrive over server-sent events while the capture is
still being indexed (unless indexing during the upload left nothing to wait for), then the
capture page opens by itself."""
from __future__ import annotations

import time

from playwright import sync_api

from tests.reference import CORPUS


def big_capture(path, copies: int) -> None:
    """A valid pcap of a corpus capture's records repeated ``copies`` times (about 25 MB)."""
    data = (CORPUS / "dpkt_http.pcap").read_bytes()
    with open(path, "wb") as f:
        f.write(data[:24])
        for _ in range(copies):
            f.write(data[24:])


def test_big_upload_streams_rows_while_indexing(browser, server, tmp_path):
    capture = tmp_path / "big.pcap"
    big_capture(capture, 1000)
    page = browser.new_page()
    try:
        page.goto(server + "/")
        page.set_input_files("#upload-file", str(capture))
        page.wait_for_url("**/captures/*/live", timeout=60_000)
        # The upload is indexed while it arrives, so the rest may be done before this page has
        # loaded: then it hands over to the capture page at once. Otherwise rows stream in first
        # (attached, not necessarily displayed: the list keeps only the rows near the view).
        streamed = page.locator("#live-rows tr[data-number]")

        def on_live_page() -> bool:  # asked of the page: page.url lags behind a scripted move
            try:
                return page.evaluate("location.pathname").endswith("/live")
            except sync_api.Error:  # asked while the page was being replaced: ask again
                return True

        deadline = time.monotonic() + 60
        while on_live_page() and not streamed.count() and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert not on_live_page() or streamed.count(), "no rows while indexing, no capture page"
        page.wait_for_url(lambda url: "/captures/" in url and "/live" not in url, timeout=120_000)
        page.wait_for_selector("tr[data-number]", timeout=30_000)
        assert "/captures/" in page.url
    finally:
        page.close()
