"""Access to the tshark reference output stored beside each corpus capture.

Each ``<capture>.tshark.json`` was written by tshark 4.0.17 (see tests/data/pcaps/README.md for the
origin of every capture); tests compare Wirelens with it and never regenerate it.
"""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

CORPUS = Path(__file__).parent / "data" / "pcaps"


def capture_names() -> list[str]:
    """Every capture of the corpus that has a reference beside it."""
    return sorted(p.name[: -len(".tshark.json")] for p in CORPUS.glob("*.tshark.json"))


@lru_cache(maxsize=None)
def load_reference(name: str) -> dict:
    """The parsed reference of one capture (``schema``, ``fields``, ``frames``, ...)."""
    return json.loads((CORPUS / f"{name}.tshark.json").read_text())


def reference_column(name: str, field: str) -> list:
    """One field of the reference, frame by frame (first occurrence, or None when absent)."""
    ref = load_reference(name)
    i = ref["fields"].index(field)
    return [frame[i] for frame in ref["frames"]]


def reference_frames(name: str) -> list[dict]:
    """Frames of a reference as dicts keyed by field name."""
    ref = load_reference(name)
    return [dict(zip(ref["fields"], frame)) for frame in ref["frames"]]


def filter_rows() -> list[tuple[str, str, str]]:
    """(capture, display filter, expected frames) for every row of filters.tsv.

    ``expected`` is a comma-separated list of frame numbers, empty for none, or ``INVALID``.
    """
    with open(CORPUS / "filters.tsv", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        return [(row[0], row[1], row[2] if len(row) > 2 else "") for row in reader]
