"""Every row of filters.tsv (display filter -> frames matched by tshark 4.0.17) run against a
FieldSource built from the capture's tshark reference.

Rows needing data the reference does not hold (frame bytes, tcp.payload, http.user_agent ...)
are checked here only for "the source lacks the field"; every row runs against the real packet
index in tests/core/test_filters_corpus.py.  INVALID rows must be rejected by the compiler.
"""
from __future__ import annotations

import numpy as np
import pytest

from app.core.dfilter import FieldUnavailable, FilterError, compile_filter
from tests.core.dfilter.refsource import reference_source
from tests.reference import filter_rows

ROWS = filter_rows()


def _outcome(capture: str, text: str, expected: str) -> tuple[str, list[int] | str]:
    """("invalid" | "evaluated" | "unavailable", frames or missing field name)."""
    if expected == "INVALID":
        with pytest.raises(FilterError):
            compile_filter(text)
        return "invalid", []
    compiled = compile_filter(text)
    # The canonical text of every corpus filter is valid and stable.
    assert compile_filter(compiled.canonical).canonical == compiled.canonical
    source = reference_source(capture)
    try:
        mask = compiled.evaluate(source)
    except FieldUnavailable as exc:
        return "unavailable", exc.name
    return "evaluated", source.numbers[np.flatnonzero(mask)].tolist()


@pytest.mark.parametrize("capture,text,expected", ROWS,
                         ids=[f"{c}:{t}" for c, t, _ in ROWS])
def test_filter_row(capture: str, text: str, expected: str) -> None:
    kind, got = _outcome(capture, text, expected)
    if kind == "unavailable":
        # The reference holds only some fields: the missing one must be one it really lacks.
        from tests.reference import load_reference

        assert got not in load_reference(capture)["fields"], got
        return
    if kind == "evaluated":
        want = [int(x) for x in expected.split(",")] if expected else []
        assert got == want


def test_corpus_coverage() -> None:
    """Guards against rows silently becoming unevaluable (e.g. a registry or source change)."""
    counts = {"invalid": 0, "evaluated": 0, "unavailable": 0}
    for capture, text, expected in ROWS:
        counts[_outcome(capture, text, expected)[0]] += 1
    assert counts["invalid"] == sum(1 for *_, e in ROWS if e == "INVALID") >= 13
    assert counts["evaluated"] >= 360, counts
    assert counts["unavailable"] <= 35, counts
