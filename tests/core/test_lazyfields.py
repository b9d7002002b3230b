"""Fields the index lacks: read from the packets the rest of the filter leaves, and kept.

A filter such as ``udp.stream == 3 && dns.qry.name`` must dissect only stream 3's DNS packets,
whatever order the user wrote it in; a later filter needing more packets dissects only the
rest; and every answer equals what a full pass over the capture gives.
"""
from __future__ import annotations

import numpy as np
import pytest

from app.core import filtering
from app.core.capture import CaptureView
from app.core.index import build_index
from app.core.library import CaptureRecord
from tests.reference import CORPUS, capture_names

CAPTURE = "many-protocols.pcap"  # 4,709 packets: DNS, HTTP and more over many streams


class Counting(CaptureView):
    """A capture view that counts the packets it dissects for filter fields."""

    def __init__(self, record, index) -> None:
        super().__init__(record, index)
        self.dissected: list[int] = []

    def fields_of(self, i: int) -> dict[str, list]:
        self.dissected.append(i)
        return super().fields_of(i)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return build_index(CORPUS / CAPTURE, tmp_path_factory.mktemp("lazy") / "index")


def view_of(index) -> Counting:
    record = CaptureRecord(id="0" * 16, name=CAPTURE, size_bytes=0, format="pcap", status="ready")
    return Counting(record, index)


def matches(view: CaptureView, text: str) -> np.ndarray:
    return np.flatnonzero(filtering.mask(view, text))


def full_answer(index, text: str) -> np.ndarray:
    """The filter evaluated with every packet's fields read first (no scope to narrow it)."""
    view = view_of(index)
    for name in ("dns.qry.name", "http.host", "http.request.method"):
        view.source.lazy.values(name)
    return matches(view, text)


def dns_packets(index) -> np.ndarray:
    return matches(view_of(index), "dns")


@pytest.mark.parametrize("text", ["udp.stream == 3 && dns.qry.name",
                                  "dns.qry.name && udp.stream == 3",
                                  "dns.qry.name contains \"a\" and udp.stream in {3, 5}"])
def test_only_the_packets_the_rest_of_the_filter_leaves_are_dissected(index, text):
    view = view_of(index)
    streams = np.asarray(index["udp_stream"])
    wanted = {3, 5} if "{3, 5}" in text else {3}
    got = matches(view, text)
    assert np.array_equal(got, full_answer(index, text))
    in_streams = set(np.flatnonzero(np.isin(streams, list(wanted))).tolist())
    dns = set(dns_packets(index).tolist())
    assert view.dissected, "no packet was dissected for a field the index lacks"
    assert set(view.dissected) <= in_streams & dns
    assert len(view.dissected) == len(set(view.dissected)), "a packet was dissected twice"


def test_a_later_filter_dissects_only_the_packets_not_yet_read(index):
    view = view_of(index)
    matches(view, "udp.stream == 3 && dns.qry.name")
    first = len(view.dissected)
    everything = matches(view, "dns.qry.name")
    assert np.array_equal(everything, full_answer(index, "dns.qry.name"))
    assert len(view.dissected) == len(dns_packets(index)) > first
    assert len(set(view.dissected)) == len(view.dissected)
    view.dissected.clear()
    assert np.array_equal(matches(view, "dns.qry.name"), everything)
    assert view.dissected == []


@pytest.mark.parametrize("text", ["!(udp.stream == 3) || dns.qry.name == \"www.google.com\"",
                                  "tcp || http.request.method == \"GET\"",
                                  "!(tcp.port == 80 && http.host)",
                                  "http.host ^^ tcp.stream == 2",
                                  "udp && !dns.qry.name"])
def test_scoped_answers_equal_full_answers(index, text):
    assert np.array_equal(matches(view_of(index), text), full_answer(index, text))


def test_an_or_reads_fields_only_where_the_cheap_side_is_false(index):
    view = view_of(index)
    matches(view, "dns.qry.name || !(udp.stream == 3)")
    streams = np.asarray(index["udp_stream"])
    assert view.dissected
    assert all(streams[i] == 3 for i in view.dissected)


def test_the_extraction_reports_its_progress(tmp_path):
    view = view_of(build_index(CORPUS / CAPTURE, tmp_path / "index"))  # no protocol table yet
    seen: list[dict] = []
    original = view._extracting

    def spy(what: str, done: int, total: int) -> None:
        original(what, done, total)
        seen.append(dict(view.extraction))

    view._extracting = spy  # type: ignore[method-assign]
    view.source.lazy.progress = spy
    matches(view, "dns.qry.name")
    fields = {s["field"] for s in seen}
    assert {"frame.protocols", "dns.qry.name"} <= fields
    last = seen[-1]
    assert last == {"field": "dns.qry.name", "done": len(view.dissected),
                    "total": len(view.dissected), "running": False}
    assert any(s["running"] for s in seen)


@pytest.mark.parametrize("name", capture_names())
def test_the_protocol_table_equals_every_packets_own_summary(name, tmp_path):
    """Payload-less TCP segments share one summary per header layout; that must change nothing."""
    view = view_of(build_index(CORPUS / name, tmp_path / "index"))
    ids, chains = view.source.lazy.protocol_table()
    assert (ids >= 0).all()
    own = [view.summary(i).protocols for i in range(view.index.n)]
    assert [chains[k] for k in ids.tolist()] == own
