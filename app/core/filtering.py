"""Display filters applied to a capture: compile once, evaluate over the index, export matches."""
from __future__ import annotations

import numpy as np

from app.core import export as exporter
from app.core.capture import CaptureView
from app.core.dfilter import FieldUnavailable, FilterError, Limits, compile_filter
from app.core.errors import WirelensError


class BadFilter(WirelensError):
    """A display filter that does not parse or check; carries the character position."""


def limits(max_length: int) -> Limits:
    return Limits(max_length=max_length)


def compiled(text: str, max_length: int = 4096):
    try:
        return compile_filter(text, limits(max_length))
    except FilterError as exc:
        raise BadFilter(exc.message, {"position": exc.position, "length": getattr(exc, "length", 1),
                                      "filter": text}) from exc


def mask(view: CaptureView, text: str, max_length: int = 4096) -> np.ndarray:
    """Boolean mask of the packets of ``view`` that match display filter ``text``."""
    flt = compiled(text, max_length)
    try:
        return flt.evaluate(view.source)
    except FilterError as exc:  # e.g. a regex that ran out of time
        raise BadFilter(exc.message, {"position": exc.position, "filter": text}) from exc
    except FieldUnavailable as exc:
        raise BadFilter(f'"{exc.name}" cannot be read from this capture yet.',
                        {"position": max(0, text.find(exc.name)), "filter": text}) from exc


def export(view: CaptureView, selected: np.ndarray) -> bytes:
    return exporter.export(view.index, np.flatnonzero(selected))
