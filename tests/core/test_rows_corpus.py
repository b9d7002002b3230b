"""Packet-list rows through the real pipeline (build_index + CaptureView) against tshark 4.0.17.

Every corpus capture is indexed into a temporary folder and every row is compared with the
reference's No./Time/Source/Destination/Protocol/Length/Info columns.  Unlike
tests/core/summary (which feeds the summary tshark's own TCP context), the context here comes
from the index: the TCP analysis columns and the per-flow PDU pass (app/core/pdus.py).

`pytest tests/core/test_rows_corpus.py -s` prints per-capture agreement and the most common
mismatch kinds; `python benchmarks/columns_agreement.py` prints the overall figures.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.core.capture import CaptureView
from app.core.index import build_index
from app.core.library import CaptureRecord
from tests.reference import CORPUS, capture_names, reference_frames

COLUMNS = {"protocol": "_ws.col.Protocol", "info": "_ws.col.Info", "source": "_ws.col.Source",
           "destination": "_ws.col.Destination"}
EXACT = ("number", "time", "length", "source", "destination")

PROTOCOL_MIN = 0.9995    # measured 0.99978 (2 of 9099 frames differ, see KNOWN)
INFO_MIN = 0.9995        # measured 0.99967 (3 of 9099)

# (capture, frame number, column) -> why this row differs from tshark.  Every other row must
# match in every column.
KNOWN: dict[tuple[str, int, str], str] = {
    ("ftp_ipv4.pcap", 28, "protocol"): "FTP-DATA needs the PASV/LIST state of the FTP control "
                                       "connection (not modelled)",
    ("ftp_ipv4.pcap", 28, "info"): "FTP-DATA, as above",
    ("ftp_ipv4.pcap", 46, "protocol"): "FTP-DATA needs the PASV/RETR state of the FTP control "
                                       "connection (not modelled)",
    ("ftp_ipv4.pcap", 46, "info"): "FTP-DATA, as above",
    ("quic_chromium.pcap", 1, "info"): "the QUIC Initial's packet number and frames need "
                                       "decryption",
}


@dataclass
class Mismatch:
    capture: str
    number: int
    column: str
    expected: str
    got: str


@dataclass
class CaptureResult:
    name: str
    frames: int
    expected_frames: int
    agree: Counter = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)


def open_view(name: str, work: Path) -> CaptureView:
    """Index a corpus capture into ``work`` and open it as the application does."""
    index = build_index(CORPUS / name, work / name)
    record = CaptureRecord(id="0" * 16, name=name, size_bytes=(CORPUS / name).stat().st_size,
                           format=index.meta.format, status="ready", packets=index.n)
    return CaptureView(record, index)


def time_text(view: CaptureView, row: dict) -> str:
    """The Time column as tshark prints it: seconds since the first packet, with as many
    decimals as the interface's timestamp resolution (6 for microseconds, 9 for nanoseconds)."""
    idx = view.index
    i = row["number"] - 1
    iface = int(idx["iface"][i])
    interfaces = idx.meta.interfaces
    divisor = interfaces[iface]["ts_divisor"] if iface < len(interfaces) else 1_000_000
    digits = min(9, max(0, len(str(divisor)) - 1))
    # tshark truncates; work on integer nanoseconds so float rounding cannot change a digit.
    ns = (int(idx["ts_sec"][i]) - int(idx["ts_sec"][0])) * 1_000_000_000 + (
        int(idx["ts_nsec"][i]) - int(idx["ts_nsec"][0]))
    assert abs(ns / 1e9 - row["time"]) < 1e-6
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    text = f"{sign}{ns // 1_000_000_000}"
    if digits:
        text += "." + f"{ns % 1_000_000_000:09d}"[:digits]
    return text


def compare_capture(name: str, work: Path) -> CaptureResult:
    view = open_view(name, work)
    refs = reference_frames(name)
    result = CaptureResult(name, view.total, len(refs))
    try:
        for i, ref in enumerate(refs[:view.total]):
            row = view.row(i)
            got = {
                "number": str(row["number"]), "time": time_text(view, row),
                "length": str(row["length"]), "source": row["source"],
                "destination": row["destination"], "protocol": row["protocol"],
                "info": row["info"],
            }
            expected = {
                "number": ref["frame.number"], "time": ref["_ws.col.Time"],
                "length": ref["frame.len"], **{k: ref[v] or "" for k, v in COLUMNS.items()},
            }
            for column, value in expected.items():
                if got[column] == value:
                    result.agree[column] += 1
                else:
                    result.mismatches.append(
                        Mismatch(name, i + 1, column, value, got[column]))
    finally:
        view.index.close()
    return result


def compare_corpus(work: Path, names: list[str] | None = None) -> list[CaptureResult]:
    return [compare_capture(name, work) for name in (names or capture_names())]


def totals(results: list[CaptureResult]) -> tuple[int, Counter]:
    agree: Counter = Counter()
    for r in results:
        agree.update(r.agree)
    return sum(r.expected_frames for r in results), agree


def mismatch_kind(m: Mismatch) -> str:
    """A short, number-free description of how two texts differ."""
    exp, got = m.expected, m.got
    i = 0
    while i < min(len(exp), len(got)) and exp[i] == got[i]:
        i += 1
    start = max(0, i - 12)

    def norm(text: str) -> str:
        return re.sub(r"[0-9a-f]{4,}|\d+", "N", text[start:i + 24])
    return f"{m.column}: …{norm(exp)!r} vs …{norm(got)!r}"


def report(results: list[CaptureResult], kinds: int = 20) -> str:
    total, agree = totals(results)
    lines = [f"{total} frames in {len(results)} captures"]
    for column in ("protocol", "info", "source", "destination", "time", "length"):
        lines.append(f"  {column:<12} {agree[column] / total:9.4%}  ({total - agree[column]} differ)")
    lines.append("\nper capture (protocol / info agreement):")
    for r in results:
        n = max(1, r.expected_frames)
        lines.append(f"  {r.name:<40} {r.expected_frames:6}  "
                     f"{r.agree['protocol'] / n:8.2%}  {r.agree['info'] / n:8.2%}")
    counted = Counter(mismatch_kind(m) for r in results for m in r.mismatches)
    lines.append("\nmost common mismatch kinds:")
    lines += [f"{count:6}  {kind}" for kind, count in counted.most_common(kinds)]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    found = compare_corpus(tmp_path_factory.mktemp("rows"))
    print("\n" + report(found))
    return found


def test_every_frame_is_a_row(results):
    assert {r.name for r in results} == set(capture_names())
    assert [(r.name, r.frames) for r in results] == [(r.name, r.expected_frames) for r in results]


def _unexplained(results, column: str) -> list:
    return [(m.capture, m.number, m.expected, m.got) for r in results for m in r.mismatches
            if m.column == column and (m.capture, m.number, column) not in KNOWN]


@pytest.mark.parametrize("column", EXACT)
def test_exact_columns(results, column):
    assert _unexplained(results, column) == []


def test_protocol_column(results):
    total, agree = totals(results)
    assert agree["protocol"] / total >= max(0.95, PROTOCOL_MIN)
    assert _unexplained(results, "protocol") == []


def test_info_column(results):
    total, agree = totals(results)
    assert agree["info"] / total >= INFO_MIN
    assert _unexplained(results, "info") == []
