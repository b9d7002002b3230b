"""Looking up a comparison made on a table of values by the codes of the packets."""
from __future__ import annotations

import numpy as np
import pytest

from app.core.dfilter.evaluate import FEW_HITS, _lookup


@pytest.mark.parametrize("hit", [[], [3], [0, 7], [1, 2, 3, 4], [0, 1, 2, 4, 5, 6, 7]])
def test_lookup_gives_the_hits_of_every_code_in_range(hit):
    hits = np.zeros(8, dtype=bool)
    hits[hit] = True
    code = np.array([7, 0, 3, 3, 5, 1, 2, 4, 6, 0], dtype=np.int32)
    assert _lookup(hits, code).tolist() == hits[code].tolist()


def test_few_hits_never_match_a_code_out_of_range():
    hits = np.zeros(8, dtype=bool)
    hits[7] = True
    assert len(hits.nonzero()[0]) <= FEW_HITS
    assert not _lookup(hits, np.array([-1, 8, 100], dtype=np.int32)).any()
