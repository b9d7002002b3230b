"""Conversation numbering (tcp.stream / udp.stream order) on whole columns."""
from __future__ import annotations

import numpy as np

from app.core.streams import conversation_ids


def test_conversations_are_numbered_by_first_packet_either_way_round():
    # A-B, C-D, B-A (same as the first), A-B on other ports, a packet outside the mask
    src = np.array([0, 2, 1, 0, 3])
    dst = np.array([1, 3, 0, 1, 2])
    sport = np.array([1000, 53, 80, 1001, 7])
    dport = np.array([80, 5353, 1000, 80, 7])
    mask = np.array([True, True, True, True, False])
    assert conversation_ids(mask, src, sport, dst, dport).tolist() == [0, 1, 0, 2, -1]


def test_many_addresses_give_the_numbers_few_do():
    """Up to 32767 address ids the endpoints share one sort key; beyond, three keys are
    sorted. Shifting every id past that bound must not change any number."""
    rng = np.random.default_rng(3)
    n = 20_000
    src, dst = rng.integers(0, 50, n), rng.integers(0, 50, n)
    sport, dport = rng.choice([80, 443, 1024, 65535], n), rng.integers(0, 1 << 16, n) % 7
    mask = rng.random(n) < 0.9
    few = conversation_ids(mask, src, sport, dst, dport)
    many = conversation_ids(mask, src + 40_000, sport, dst + 40_000, dport)
    assert np.array_equal(few, many)
    assert few.max() > 100 and (few[~mask] == -1).all()
