"""TCP analysis and stream numbering compared with tshark 4.0.17 on every corpus capture.

Every TCP segment of every reference is compared field by field: tcp.stream (assign_streams),
tcp.seq, tcp.ack, tcp.nxtseq, tcp.window_size, each tcp.analysis.* presence field (with tshark's
field semantics: retransmission also for fast/spurious ones, flags for any bit) and
duplicate_ack_num / duplicate_ack_frame.  ``test_agreement_table`` prints the per-field totals.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import pytest

from app.core.tcp import analyze, assign_streams, field_present, info_tags
from tests.core.tcp.refdata import ANALYSIS, load, tcp_captures

# (capture, frame number, field) -> reason.  Differences that are understood and accepted.
# Empty: every compared value of the corpus agrees with tshark 4.0.17.
KNOWN_DIFFERENCES: dict[tuple[str, int, str], str] = {}

CAPTURES = tcp_captures()
FIELDS = ["tcp.stream", "tcp.seq", "tcp.ack", "tcp.nxtseq", "tcp.window_size",
          "tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame"] + [
    f"tcp.analysis.{a}" for a in ANALYSIS]


def _same(mine, ref) -> bool:
    if isinstance(ref, bool):
        return bool(mine) == ref
    if ref is None:  # absent in tshark: our "none" values
        return mine in (-1, 0)
    return int(mine) == int(ref)


@lru_cache(maxsize=None)
def compare(name: str) -> tuple[Counter, Counter, list[tuple[int, str, object, object]]]:
    """(segments compared per field, agreements per field, disagreements)."""
    rc = load(name)
    res = analyze(rc.seg)
    seg = rc.seg
    stream, _direction, _reused = assign_streams(rc.src, rc.dst, rc.sport, rc.dport, seg.flags,
                                                 seg.seq_raw, seg.ack_raw, seg.analyzable)
    mine = {
        "tcp.stream": stream, "tcp.seq": res.seq, "tcp.ack": res.ack,
        "tcp.nxtseq": res.nxtseq, "tcp.window_size": res.window_size,
        "tcp.analysis.duplicate_ack_num": res.dup_ack_num,
        "tcp.analysis.duplicate_ack_frame": res.dup_ack_frame,
    }
    for a in ANALYSIS:
        mine[f"tcp.analysis.{a}"] = field_present(res.analysis, f"tcp.analysis.{a}")
    total, agree, diffs = Counter(), Counter(), []
    for field in FIELDS:
        for frame, m, r in zip(rc.ref["frame.number"], mine[field].tolist(), rc.ref[field]):
            total[field] += 1
            if _same(m, r):
                agree[field] += 1
            else:
                diffs.append((int(frame), field, m, r))
    return total, agree, diffs


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_matches_tshark(name):
    _total, _agree, diffs = compare(name)
    unexpected = [d for d in diffs if (name, d[0], d[1]) not in KNOWN_DIFFERENCES]
    assert not unexpected, f"{len(unexpected)} differences, first: {unexpected[:10]}"


@pytest.mark.parametrize("name", CAPTURES)
def test_info_column_tags(name):
    """The bracketed "[TCP ...]" prefixes of tshark's Info column, in tshark's order."""
    rc = load(name)
    res = analyze(rc.seg)
    for i, info in enumerate(rc.ref["_ws.col.Info"]):
        expected = re.match(r"((?:\[TCP [^\]]*\] )*)", info).group(1)
        tags = info_tags(int(res.analysis[i]), int(res.dup_ack_frame[i]), int(res.dup_ack_num[i]))
        assert "".join(f"[{t}] " for t in tags) == expected, (rc.ref["frame.number"][i], info)


def test_known_differences_still_differ():
    for (name, frame, field), _reason in KNOWN_DIFFERENCES.items():
        diffs = compare(name)[2]
        assert any(d[0] == frame and d[1] == field for d in diffs), (name, frame, field)


def test_agreement_table(capsys):
    total, agree = Counter(), Counter()
    for name in CAPTURES:
        t, a, _ = compare(name)
        total.update(t)
        agree.update(a)
    positives = Counter()
    for name in CAPTURES:
        rc = load(name)
        for a in ANALYSIS:
            positives[f"tcp.analysis.{a}"] += sum(rc.ref[f"tcp.analysis.{a}"])
    lines = [f"TCP analysis vs tshark 4.0.17 ({len(CAPTURES)} captures, "
             f"{total['tcp.seq']} segments)",
             f"{'field':38s} {'agree':>7s} {'total':>7s} {'tshark present':>15s}"]
    for field in FIELDS:
        shown = str(positives[field]) if field in positives else ""
        lines.append(f"{field:38s} {agree[field]:7d} {total[field]:7d} {shown:>15s}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert total["tcp.seq"] > 7000  # the corpus really was read
    assert sum(total[f] - agree[f] for f in FIELDS) == len(KNOWN_DIFFERENCES)
