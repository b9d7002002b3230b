"""A big upload opens the live page: the first rows arrive over server-sent events while the
capture is still being indexed, then the capture page opens by itself."""
from __future__ import annotations

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
        # Rows, not their visibility: the list keeps only the rows near the view displayed, and
        # which those are depends on how far the stream has got.
        page.locator("#live-rows tr[data-number]").first.wait_for(state="attached", timeout=30_000)
        page.wait_for_url(lambda url: "/captures/" in url and "/live" not in url, timeout=120_000)
        page.wait_for_selector("tr[data-number]", timeout=30_000)
        assert "/captures/" in page.url
    finally:
        page.close()
