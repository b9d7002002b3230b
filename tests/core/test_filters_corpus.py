"""Every display filter of filters.tsv against the real index, compared with tshark's matches.

At least 98% of the rows must match exactly; every row that does not is listed, with its reason,
in tests/data/filter_known_differences.tsv (and a listed row that starts matching fails too, so
the list stays true).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from app.core.capture import CaptureView
from app.core.dfilter import FilterError, compile_filter
from app.core.index import build_index
from app.core.indexsource import IndexSource
from app.core.library import CaptureRecord
from tests.reference import CORPUS, capture_names, filter_rows

KNOWN = Path(__file__).resolve().parent.parent / "data" / "filter_known_differences.tsv"


def known_differences() -> dict[tuple[str, str], str]:
    if not KNOWN.exists():
        return {}
    with open(KNOWN, newline="") as f:
        rows = csv.reader((line for line in f if not line.startswith("#")), delimiter="\t",
                          quoting=csv.QUOTE_NONE)
        return {(r[0], r[1]): r[2] for r in rows if len(r) >= 3}


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    root = tmp_path_factory.mktemp("filters")
    cache: dict[str, CaptureView] = {}

    def get(name: str) -> CaptureView:
        if name not in cache:
            idx = build_index(CORPUS / name, root / name)
            record = CaptureRecord(id="0" * 16, name=name, size_bytes=0, format="pcap", status="ready")
            cache[name] = CaptureView(record, idx)
        return cache[name]

    return get


def run_row(view: CaptureView, text: str) -> str:
    try:
        flt = compile_filter(text)
    except FilterError:
        return "INVALID"
    mask = flt.evaluate(view.source)
    return ",".join(str(i + 1) for i in np.flatnonzero(mask))


def test_filters_match_tshark(views):
    rows = filter_rows()
    known = known_differences()
    exact, mismatched, stale = 0, [], []
    for capture, text, expected in rows:
        got = run_row(views(capture), text)
        if got == expected:
            exact += 1
            if (capture, text) in known:
                stale.append((capture, text))
        else:
            mismatched.append((capture, text, expected, got))
    share = exact / len(rows)
    print(f"\ndisplay filters: {exact}/{len(rows)} rows match tshark exactly ({share:.2%})")
    unexplained = [m for m in mismatched if (m[0], m[1]) not in known]
    for capture, text, expected, got in unexplained:
        print(f"  {capture}\t{text}\n    tshark: {expected[:120]}\n    here:   {got[:120]}")
    assert not unexplained, f"{len(unexplained)} rows differ from tshark without a listed reason"
    assert not stale, f"listed as different but now matching: {stale}"
    assert share >= 0.98


WHOLE_COLUMN_FILTERS = [
    "tcp.srcport == 80", "tcp.dstport != 443", "tcp.port == 80", "tcp.port != 80",
    "tcp.srcport === 80", "tcp.srcport !== 80", "tcp.stream > 3", "tcp.stream <= 0",
    "3 < tcp.stream", "tcp.flags.syn == 1", "tcp.flags.ack != 1", "tcp.flags.reset == 0",
    "tcp.flags.syn == 1 && tcp.flags.ack == 0", "!(tcp.srcport == 80)", "tcp.stream == 4294967295",
    "tcp.srcport >= 65535", "tcp.stream ~= 2", "tcp.flags.fin == 1 || udp.port == 53",
]


@pytest.mark.parametrize("name", capture_names())
def test_comparisons_on_whole_columns_equal_the_occurrence_lists(name, views, monkeypatch):
    # IndexSource.column answers comparisons with a constant from the whole column; the
    # occurrence lists (what every other test uses) must give the same packets.
    view = views(name)
    fast = [compile_filter(text).evaluate(view.source) for text in WHOLE_COLUMN_FILTERS]
    used = []
    monkeypatch.setattr(IndexSource, "column", lambda self, field: used.append(field))
    slow = [compile_filter(text).evaluate(view.source) for text in WHOLE_COLUMN_FILTERS]
    assert used  # the fast path was asked, and declined here
    for text, a, b in zip(WHOLE_COLUMN_FILTERS, fast, slow):
        assert np.array_equal(a, b), text
