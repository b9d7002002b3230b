"""Display filters applied to a capture: compile once, evaluate over the index, export matches."""
from __future__ import annotations

import numpy as np

from app.core import export as exporter
from app.core.capture import CaptureView
from app.core.errors import WirelensError


def mask(view: CaptureView, text: str, max_length: int = 4096) -> np.ndarray:
    """Boolean mask of the packets of ``view`` that match display filter ``text``."""
    raise WirelensError("Display filters are not supported yet.", {"position": 0, "filter": text})


def export(view: CaptureView, selected: np.ndarray) -> bytes:
    return exporter.export(view.index, np.flatnonzero(selected))
