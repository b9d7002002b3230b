"""Leaving plain streams out of the sequential loop changes no result of the analysis.

Every comparison analyses the same segments twice: once with the loop over every row (what
app/core/tcp/plain.py would be without its test), once as shipped; every field of the
analysis must be equal.  Inputs: every corpus capture's TCP segments, and generated streams
with each kind of irregularity the loop flags, mixed at random with plain ones.
"""
from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from app.core.tcp import TcpSegments, analyze, field_present, plain
from app.core.tcp.analysis import seqloop
from tests.core.tcp import refdata
from tests.core.tcp.synth import build, random_connection



def _every_row(monkeypatch) -> None:
    monkeypatch.setattr(plain, "loop_rows", lambda lay, *a, **k: np.arange(len(lay.flow)))


def _assert_same(seg: TcpSegments, monkeypatch) -> None:
    shipped = analyze(seg)
    with monkeypatch.context() as m:
        _every_row(m)
        full = analyze(seg)
    for f in dataclasses.fields(full):
        a, b = getattr(shipped, f.name), getattr(full, f.name)
        if f.name == "streams":
            for g in dataclasses.fields(b):
                np.testing.assert_array_equal(getattr(a, g.name), getattr(b, g.name), g.name)
        else:
            np.testing.assert_array_equal(a, b, f.name)


def _looped(seg: TcpSegments, monkeypatch) -> int:
    """How many rows the shipped analysis gives the loop."""
    seen = []
    real = seqloop.run

    def run(*args, **kw):
        rows = args[6] if len(args) > 6 else kw.get("rows")
        seen.append(len(seg) if rows is None else len(rows))
        return real(*args, **kw)

    with monkeypatch.context() as m:
        m.setattr(seqloop, "run", run)
        analyze(seg)
    return seen[0]


@pytest.mark.parametrize("name", refdata.tcp_captures())
def test_corpus_capture_analysis_is_unchanged(name, monkeypatch):
    _assert_same(refdata.load(name).seg, monkeypatch)


def test_a_plain_exchange_skips_the_loop_and_a_retransmission_does_not(monkeypatch):
    exchange = ["A S 100 0", "B SA 900 101", "A A 101 901", "A PA 101 901 len=50",
                "B A 901 151", "B PA 901 151 len=20", "A A 151 921", "A FA 151 921",
                "B FA 921 152", "A A 152 922"]
    clean = build(*exchange)
    assert _looped(clean, monkeypatch) == 0
    again = build(*exchange[:4], "A PA 101 901 len=50", *exchange[4:])
    assert _looped(again, monkeypatch) == len(again)
    _assert_same(again, monkeypatch)
    assert field_present(int(analyze(again).analysis[4]), "tcp.analysis.retransmission")


@pytest.mark.parametrize("seed", range(40))
def test_generated_streams_analysis_is_unchanged(seed, monkeypatch):
    rng = random.Random(seed)
    streams = [random_connection(rng, sid) for sid in range(30)]
    lines = []
    while any(streams):  # interleave the connections in random order
        s = rng.choice([s for s in streams if s])
        sid, who, fl, seq, ack, size, win = s.pop(0)
        lines.append(f"{'AB'[who]} {fl} {seq} {ack} len={size} win={win} stream={sid}")
    seg = build(*lines)
    _assert_same(seg, monkeypatch)
    looped = _looped(seg, monkeypatch)
    assert 0 < looped < len(seg)  # the mix has both kinds of stream
