"""Decoding the rest of a pcap file in two halves, the second in the index worker process."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from app.core import splitdecode
from app.core.index import IndexBuilder, build_index
from app.core.pcapfile import RecordReader
from tests.reference import CORPUS, capture_names

PCAPS = [name for name in capture_names() if (CORPUS / name).read_bytes()[:4] in (
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")]


def _same(a, b) -> None:
    assert a.n == b.n and sorted(a.cols) == sorted(b.cols)
    for name in a.cols:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name
    assert a.meta.__dict__ == b.meta.__dict__


def _split_build(name, tmp_path, folder):
    builder = IndexBuilder(CORPUS / name, spool=tmp_path / f"{folder}.spool")
    return build_index(CORPUS / name, tmp_path / folder, builder=builder)


def test_corpus_has_pcap_files_to_split():
    assert len(PCAPS) >= 20


@pytest.mark.parametrize("name", PCAPS)
def test_an_index_decoded_in_two_halves_equals_one_decoded_in_one(name, tmp_path, monkeypatch):
    at_once = build_index(CORPUS / name, tmp_path / "one")
    halves = []
    monkeypatch.setattr(splitdecode, "SPLIT_FROM", 0)
    monkeypatch.setattr(splitdecode, "FIRST", 2)
    absorbed = IndexBuilder.absorb

    def absorb(self, rest):
        halves.append(rest.count)
        return absorbed(self, rest)

    monkeypatch.setattr(IndexBuilder, "absorb", absorb)
    split = _split_build(name, tmp_path, "two")
    _same(split, at_once)
    if at_once.n >= 20 and not at_once.meta.truncated:
        assert halves and 0 < halves[0] < at_once.n  # the worker decoded a part of it


def test_a_wrong_boundary_costs_only_time(tmp_path, monkeypatch, caplog):
    name = "many-protocols.pcap"
    at_once = build_index(CORPUS / name, tmp_path / "one")
    monkeypatch.setattr(splitdecode, "SPLIT_FROM", 0)
    monkeypatch.setattr(splitdecode, "FIRST", 2)
    real = splitdecode.boundary_after
    monkeypatch.setattr(splitdecode, "boundary_after", lambda *a: real(*a) + 1)
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = _split_build(name, tmp_path, "two")
    assert "No record starts at byte" in caplog.text
    _same(split, at_once)


@pytest.mark.parametrize("name", ["many-protocols.pcap", "206_example_b.pcap", "dpkt_http.pcap"])
def test_boundaries_found_are_record_starts(name):
    reader = RecordReader(CORPUS / name)
    batch = reader.read()
    starts = set((batch.offset - 16).tolist())
    size = (CORPUS / name).stat().st_size
    seconds = (int(batch.ts_sec.min()), int(batch.ts_sec.max()))
    for at in range(24, size - 4096, max(1, size // 50)):
        found = splitdecode.boundary_after(reader, at, size, seconds)
        if found is not None:
            assert found in starts, at
            assert found == min(s for s in starts if s >= at)


def _split_build_limited(name, tmp_path, folder, max_packets, halves):
    builder = IndexBuilder(CORPUS / name, spool=tmp_path / f"{folder}.spool")
    absorbed = builder.absorb

    def absorb(rest):
        halves.append(rest.count)
        return absorbed(rest)

    builder.absorb = absorb
    return build_index(CORPUS / name, tmp_path / folder, builder=builder, max_packets=max_packets)


@pytest.mark.parametrize("name", ["many-protocols.pcap", "dpkt_http.pcap"])
def test_a_packet_limit_far_above_the_capture_still_splits(name, tmp_path, monkeypatch):
    at_once = build_index(CORPUS / name, tmp_path / "one")
    monkeypatch.setattr(splitdecode, "SPLIT_FROM", 0)
    monkeypatch.setattr(splitdecode, "FIRST", 2)
    halves = []
    # a limit below (bytes left) / 16, the smallest record, but above the packets there are
    split = _split_build_limited(name, tmp_path, "two", at_once.n + 1, halves)
    assert (CORPUS / name).stat().st_size // 16 > at_once.n + 1
    assert halves and 0 < halves[0] < at_once.n
    _same(split, at_once)


@pytest.mark.parametrize("part", [0.1, 0.5, 0.7, 1.0])
def test_a_split_decode_stops_at_the_packet_limit_like_one_walk(part, tmp_path, monkeypatch):
    name = "many-protocols.pcap"
    n = build_index(CORPUS / name, tmp_path / "all").n
    limit = max(3, int(n * part))
    one = build_index(CORPUS / name, tmp_path / "one", max_packets=limit)
    monkeypatch.setattr(splitdecode, "SPLIT_FROM", 0)
    monkeypatch.setattr(splitdecode, "FIRST", 2)
    halves = []
    split = _split_build_limited(name, tmp_path, "two", limit, halves)
    assert split.n == min(n, limit)
    _same(split, one)
    assert bool(halves) == (limit >= n)  # absorbed only when the limit leaves the whole file
