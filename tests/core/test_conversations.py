"""Conversations numbered chunk by chunk while decoding, and what a capture still being read shows.

The numbering carries its state from chunk to chunk, so every corpus capture is indexed in
chunks of a few packets and compared with one indexed in a single chunk: every column of the
index must be equal. A snapshot (the rows shown while indexing) must give every UDP packet and,
without port reuse, every TCP packet the stream number the finished index gives it.
"""
from __future__ import annotations

import numpy as np
import pytest

from app.core import conversations, index as index_module, layers
from app.core.index import IndexBuilder, build_index
from app.core.tcp import flags as tcpflags
from tests.reference import CORPUS, capture_names


def _same(a, b) -> None:
    assert a.n == b.n and sorted(a.cols) == sorted(b.cols)
    for name in a.cols:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name
    assert np.array_equal(a.addr4, b.addr4) and np.array_equal(a.addr6, b.addr6)


@pytest.mark.parametrize("name", capture_names())
def test_an_index_read_in_small_chunks_equals_one_read_at_once(name, tmp_path, monkeypatch):
    at_once = build_index(CORPUS / name, tmp_path / "at-once")
    monkeypatch.setattr(index_module, "CHUNK", 7)
    chunked = build_index(CORPUS / name, tmp_path / "chunked")
    _same(chunked, at_once)


@pytest.mark.parametrize("name", capture_names())
def test_a_snapshot_numbers_streams_as_the_finished_index(name, tmp_path, monkeypatch):
    final = build_index(CORPUS / name, tmp_path / "index")
    monkeypatch.setattr(index_module, "CHUNK", 11)
    builder = IndexBuilder(CORPUS / name)
    while builder.step():
        pass
    snap = builder.snapshot()
    # IP fragments are reassembled only by the finished index: the frame completing a
    # datagram has its TCP or UDP header from then on.
    whole = (np.asarray(final["flags"]) & layers.F_REASSEMBLED) == 0
    assert np.array_equal(snap["udp_stream"][whole], final["udp_stream"][whole])
    if not (np.asarray(final["tcp_analysis"]) & tcpflags.REUSED_PORTS).any():
        assert np.array_equal(snap["tcp_stream"][whole], final["tcp_stream"][whole])
        tcp = whole & (np.asarray(final["tcp_stream"]) >= 0)
        assert np.array_equal(snap["tcp_dir"][tcp], final["tcp_dir"][tcp])


@pytest.mark.parametrize("name", capture_names())
def test_directions_numbered_chunk_by_chunk_equal_the_whole_capture_rule(name, monkeypatch):
    # tcp.stream's directions come from the decoding's numbering; IP reassembly renumbers with
    # conversations.directions, which must agree wherever both apply.
    monkeypatch.setattr(index_module, "CHUNK", 13)
    builder = IndexBuilder(CORPUS / name)
    while builder.step(max_records=13):
        pass
    cols = builder.columns()
    whole = conversations.directions(cols["conv_tcp"], cols["net_src"], cols["sport"])
    tcp = cols["conv_tcp"] >= 0
    assert np.array_equal(cols["conv_dir"][tcp], whole[tcp])
    assert not whole[~tcp].any()
