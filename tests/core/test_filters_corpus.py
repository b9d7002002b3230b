"""Every display filter of filters.tsv against the real index, compared with tshark's matches.

At least 98% of the rows must match exactly; every row that does not is listed, with its reason,
in tests/data/filter_known_differences.tsv (and a listed row that starts matching fails too, so
the list stays true).
"""
from __future__ import annotations

import csv
import ipaddress
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
    _assert_fast_path_agrees(views(name), WHOLE_COLUMN_FILTERS, "column", monkeypatch)


def _assert_fast_path_agrees(view: CaptureView, texts: list[str], method: str, monkeypatch):
    """Every filter gives the same packets with IndexSource's ``method`` and without it."""
    fast = [compile_filter(text).evaluate(view.source) for text in texts]
    used = []
    monkeypatch.setattr(IndexSource, method, lambda self, field: used.append(field))
    slow = [compile_filter(text).evaluate(view.source) for text in texts]
    assert used  # the fast path was asked, and declined here
    for text, a, b in zip(texts, fast, slow):
        assert np.array_equal(a, b), text


def _address_filters(view: CaptureView) -> list[str]:
    """Comparisons of the address fields with addresses of the capture (its first, middle and
    last address of each version), their subnets, orderings and an address it does not have."""
    index = view.index
    texts = ["ip.src == 192.0.2.77", "ipv6.dst != 2001:db8::77", "ip.addr == 0.0.0.0/0"]
    v4 = [str(ipaddress.IPv4Address(int(a))) for a in np.asarray(index.addr4)]
    v6 = [str(ipaddress.IPv6Address(bytes(a))) for a in np.asarray(index.addr6)]
    for a in v4[:1] + v4[len(v4) // 2:len(v4) // 2 + 1] + v4[-1:]:
        texts += [f"ip.src == {a}", f"ip.dst != {a}", f"ip.addr == {a}", f"ip.addr != {a}",
                  f"ip.src === {a}", f"ip.dst !== {a}", f"ip.src > {a}", f"{a} >= ip.dst",
                  f"ip.addr == {a}/16", f"ip.dst != {a}/24", f"!(ip.src == {a}) && tcp"]
    for a in v6[:1] + v6[-1:]:
        texts += [f"ipv6.src == {a}", f"ipv6.addr != {a}", f"ipv6.dst == {a}/64",
                  f"ipv6.src < {a}", f"ipv6.addr === {a}"]
    return texts


@pytest.mark.parametrize("name", capture_names())
def test_address_comparisons_on_coded_columns_equal_the_occurrence_lists(name, views,
                                                                          monkeypatch):
    # IndexSource.coded_column compares an address with the capture's address table once; the
    # occurrence lists must give the same packets.
    view = views(name)
    _assert_fast_path_agrees(view, _address_filters(view), "coded_column", monkeypatch)


def test_coded_columns_answer_without_occurrence_lists(views, monkeypatch):
    view = views("many-protocols.pcap")
    expected = compile_filter("ip.addr == 192.168.1.1 || ipv6.src == ::").evaluate(view.source)
    view.source._cache.clear()
    built = []
    real = IndexSource.values_within
    monkeypatch.setattr(IndexSource, "values_within",
                        lambda self, field, within: built.append(field) or real(self, field, within))
    got = compile_filter("ip.addr == 192.168.1.1 || ipv6.src == ::").evaluate(view.source)
    assert np.array_equal(got, expected) and not built
