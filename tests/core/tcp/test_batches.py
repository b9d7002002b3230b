"""The index analyses a big capture's streams in batches: the same results as all at once."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core.tcp import analysis
from tests.core.tcp import refdata

MANY_STREAMS = [name for name in refdata.tcp_captures()
                if len(np.unique(refdata.load(name).seg.stream)) >= 5]


@pytest.mark.parametrize("name", MANY_STREAMS)
def test_batched_analysis_equals_one_analysis(name, monkeypatch):
    seg = refdata.load(name).seg
    whole = analysis.analyze(seg)
    monkeypatch.setattr(analysis, "BATCH", max(1, len(seg) // 4))
    assert len(analysis.stream_batches(seg.stream, analysis.BATCH)) > 1
    values, summary = analysis.analyze_for_index(seg)
    for field in analysis.INDEX_FIELDS:
        np.testing.assert_array_equal(values[field], getattr(whole, field), field)
    for f in dataclasses.fields(summary):
        np.testing.assert_array_equal(getattr(summary, f.name), getattr(whole.streams, f.name), f.name)


def test_batches_hold_whole_streams_in_frame_order():
    stream = np.array([3, 0, 3, 1, 2, 2, 0, 9, 3, 1])
    batches = analysis.stream_batches(stream, 3)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(len(stream)))
    assert all((np.diff(b) > 0).all() for b in batches)  # frame order within a batch
    owner = {int(s): k for k, b in enumerate(batches) for s in stream[b]}
    assert all(owner[int(s)] == k for k, b in enumerate(batches) for s in stream[b])
    assert len(batches) > 1
