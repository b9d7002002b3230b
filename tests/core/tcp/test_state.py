"""Endpoint state machine (RFC 9293 states) over hand-made segment sequences."""
from __future__ import annotations

import random

from app.core.tcp import analyze, state_name
from tests.core.tcp.synth import build, random_connection


def states(*lines: str) -> list[tuple[str, str]]:
    res = analyze(build(*lines))
    return [(state_name(a), state_name(b)) for a, b in zip(res.state_a, res.state_b)]


def test_normal_open_and_four_way_close():
    got = states(
        "A S 1000 0",
        "B SA 5000 1001",
        "A A 1001 5001",
        "A PA 1001 5001 len=10",
        "B A 5001 1011",
        "A FA 1011 5001",
        "B A 5001 1012",
        "B FA 5001 1012",
        "A A 1012 5002",
    )
    assert got == [
        ("SYN-SENT", "LISTEN"),
        ("ESTABLISHED", "SYN-RECEIVED"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("FIN-WAIT-1", "CLOSE-WAIT"),
        ("FIN-WAIT-2", "CLOSE-WAIT"),
        ("TIME-WAIT", "LAST-ACK"),
        ("TIME-WAIT", "CLOSED"),
    ]


def test_three_way_close_fin_carries_ack():
    got = states(
        "A S 1000 0", "B SA 5000 1001", "A A 1001 5001",
        "B FA 5001 1001",
        "A FA 1001 5002",
        "B A 5002 1002",
    )
    assert got[3:] == [("CLOSE-WAIT", "FIN-WAIT-1"), ("LAST-ACK", "TIME-WAIT"),
                       ("CLOSED", "TIME-WAIT")]


def test_rst_aborts_both_and_refused_connection():
    got = states("A S 1000 0", "B SA 5000 1001", "A A 1001 5001", "B RA 5001 1001")
    assert got[-1] == ("CLOSED", "CLOSED")
    refused = states("A S 1000 0", "B RA 0 1001")
    assert refused == [("SYN-SENT", "LISTEN"), ("CLOSED", "CLOSED")]


def test_rst_to_passive_opener_returns_it_to_listen():
    got = states("A S 1000 0", "B SA 5000 1001", "A R 1001 0")
    assert got[-1] == ("CLOSED", "LISTEN")


def test_simultaneous_open():
    got = states("A S 1000 0", "B S 5000 0", "A SA 1000 5001", "B SA 5000 1001")
    assert got == [
        ("SYN-SENT", "LISTEN"),
        ("SYN-RECEIVED", "SYN-RECEIVED"),
        ("SYN-RECEIVED", "ESTABLISHED"),
        ("ESTABLISHED", "ESTABLISHED"),
    ]


def test_simultaneous_close():
    got = states(
        "A S 1000 0", "B SA 5000 1001", "A A 1001 5001",
        "A FA 1001 5001",
        "B FA 5001 1001",  # does not acknowledge A's FIN: both were closing at once
        "A A 1002 5002",
        "B A 5002 1002",
    )
    assert got[3:] == [("FIN-WAIT-1", "CLOSE-WAIT"), ("CLOSING", "CLOSING"),
                       ("CLOSING", "TIME-WAIT"), ("TIME-WAIT", "TIME-WAIT")]


def test_half_close_keeps_receiving():
    got = states(
        "A S 1000 0", "B SA 5000 1001", "A A 1001 5001",
        "A FA 1001 5001",
        "B A 5001 1002",
        "B PA 5001 1002 len=100",
        "A A 1002 5101",
        "B FA 5101 1002",
        "A A 1002 5102",
    )
    assert got[3:] == [
        ("FIN-WAIT-1", "CLOSE-WAIT"),
        ("FIN-WAIT-2", "CLOSE-WAIT"),
        ("FIN-WAIT-2", "CLOSE-WAIT"),
        ("FIN-WAIT-2", "CLOSE-WAIT"),
        ("TIME-WAIT", "LAST-ACK"),
        ("TIME-WAIT", "CLOSED"),
    ]


def test_mid_stream_start_needs_evidence_per_endpoint():
    got = states(
        "A PA 7000 9000 len=100",
        "A PA 7100 9000 len=100",
        "B A 9000 7200",
        "B FA 9000 7200",
        "A A 7200 9001",
    )
    assert got == [
        ("ESTABLISHED", "UNKNOWN"),
        ("ESTABLISHED", "UNKNOWN"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("CLOSE-WAIT", "FIN-WAIT-1"),
        ("CLOSE-WAIT", "FIN-WAIT-2"),
    ]


def test_receiver_seen_only_after_peer_fin_is_close_wait():
    got = states("A FA 100 200", "B A 200 101")
    assert got == [("FIN-WAIT-1", "UNKNOWN"), ("FIN-WAIT-2", "CLOSE-WAIT")]


def test_syn_retransmission_and_new_connection_after_time_wait():
    got = states(
        "A S 1000 0", "A S 1000 0", "B SA 5000 1001", "A A 1001 5001",
        "A FA 1001 5001", "B FA 5001 1002", "A A 1002 5002",
        "A S 90000 0",
    )
    assert got[1] == ("SYN-SENT", "LISTEN")
    assert got[6] == ("TIME-WAIT", "CLOSED")
    assert got[7] == ("SYN-SENT", "LISTEN")


def test_streams_are_independent():
    got = states("A S 1000 0 stream=0", "A S 3000 0 stream=1", "B SA 5000 1001 stream=0")
    assert got == [("SYN-SENT", "LISTEN"), ("SYN-SENT", "LISTEN"),
                   ("ESTABLISHED", "SYN-RECEIVED")]


def test_interleaved_streams_get_the_states_each_gets_alone():
    """The replay goes stream by stream and skips rows between events: whatever the
    interleaving, each stream's states equal the ones it gets analysed on its own."""
    rng = random.Random(7)
    streams = [[f"{'AB'[who]} {fl} {seq} {ack} len={size} win={win} stream={sid}"
                for sid, who, fl, seq, ack, size, win in random_connection(rng, sid)]
               for sid in range(40)]
    alone = {sid: states(*(line.replace(f"stream={sid}", "stream=0") for line in lines))
             for sid, lines in enumerate(streams) if lines}
    mixed, owner = [], []
    queues = [list(lines) for lines in streams]
    while any(queues):
        sid = rng.choice([i for i, q in enumerate(queues) if q])
        mixed.append(queues[sid].pop(0))
        owner.append(sid)
    got = states(*mixed)
    for sid, expected in alone.items():
        assert [g for g, o in zip(got, owner) if o == sid] == expected, sid
    assert {s for pair in got for s in pair} >= {"ESTABLISHED", "TIME-WAIT", "CLOSED", "UNKNOWN"}

