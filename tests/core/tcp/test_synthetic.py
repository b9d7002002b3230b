"""TCP analysis rules the corpus never exercises, on hand-made segment sequences.

Expected values follow Wireshark 4.0's tcp_analyze_sequence_number() (packet-tcp.c).
"""
from __future__ import annotations

import numpy as np

from app.core.tcp import analyze, assign_streams, flag_names
from app.core.tcp import flags as F
from tests.core.tcp.synth import build

HANDSHAKE = ("A S 1000 0 ws=0", "B SA 5000 1001 ws=0", "A A 1001 5001")


def names(*lines: str) -> list[list[str]]:
    return [flag_names(int(m)) for m in analyze(build(*lines)).analysis]


def test_zero_window_probe_probe_ack_and_window_update():
    got = names(
        *HANDSHAKE,
        "B PA 5001 1001 len=100",
        "A A 1001 5101 win=0",
        "B A 5101 1001 len=1",
        "A A 1001 5101 win=0",
        "A A 1001 5101 win=2000",
    )
    assert got[4] == ["zero_window"]
    assert got[5] == ["zero_window_probe"]
    assert got[6] == ["zero_window", "zero_window_probe_ack"]
    assert got[7] == ["window_update"]


def test_keep_alive_and_its_ack():
    got = names(*HANDSHAKE, "B PA 5001 1001 len=10", "A A 1001 5011",
                "A A 1000 5011 t=60", "B A 5011 1001 t=60.01")
    assert got[5] == ["keep_alive"]
    assert got[6] == ["keep_alive_ack"]


def test_duplicate_acks_count_and_point_at_the_last_new_ack():
    res = analyze(build(*HANDSHAKE, "B PA 5001 1001 len=10", "A A 1001 5011",
                        "A A 1001 5011", "A A 1001 5011"))
    assert res.dup_ack_num.tolist() == [0, 0, 0, 0, 0, 1, 2]
    assert res.dup_ack_frame.tolist() == [0, 0, 0, 0, 0, 5, 5]


def test_window_full_uses_the_scale_after_the_first_ack():
    # scale 2 known on both sides; B's SYN-ACK window 250 is unscaled (is_first_ack)
    base = ("A S 1000 0 ws=2", "B SA 5000 1001 ws=2 win=250", "A A 1001 5001")
    assert names(*base, "A PA 1001 5001 len=250")[-1] == ["window_full"]
    assert names(*base, "A PA 1001 5001 len=1000")[-1] == []
    # after B's own ACK the window counts scaled: 250 << 2 = 1000
    after = (*base, "B A 5001 1001 win=250")
    assert names(*after, "A PA 1001 5001 len=1000")[-1] == ["window_full"]
    # unknown scale (no handshake): never window full
    assert names("B A 5001 1001 win=250", "A PA 1001 5001 len=250")[-1] == []


def test_window_scaling_states():
    both = analyze(build("A S 1 0 ws=7", "B SA 9 2 ws=3", "A A 2 10 win=10", "B A 10 2 win=10"))
    assert both.window_size.tolist() == [1000, 1000, 1280, 80]
    assert both.win_scale.tolist()[2:] == [7, 3]
    one_sided = analyze(build("A S 1 0 ws=7", "B SA 9 2", "A A 2 10 win=10", "B A 10 2 win=10"))
    assert one_sided.window_size.tolist()[2:] == [10, 10]
    assert one_sided.win_scale.tolist()[2:] == [-2, -2]
    # SYN missed: the SYN-ACK's option scales B only, A stays unknown
    late = analyze(build("B SA 9 2 ws=3", "A A 2 10 win=10", "B A 10 2 win=10"))
    assert late.window_size.tolist()[1:] == [10, 80]
    assert late.win_scale.tolist()[1:] == [-1, 3]


def test_relative_numbers_without_handshake():
    res = analyze(build("A PA 7000 9000 len=100", "B A 9000 7100", "A FA 7100 9000"))
    assert res.seq.tolist() == [1, 1, 101]
    assert res.ack.tolist() == [1, 101, 1]
    assert res.nxtseq.tolist() == [101, 1, 102]


def test_ack_field_without_ack_flag_stays_raw():
    res = analyze(build("A S 1000 777"))
    assert res.seq.tolist() == [0] and res.ack.tolist() == [777]


def test_not_analyzable_segments_keep_raw_numbers():
    seg = build("A S 1000 0", "B SA 5000 1001", "A PA 1001 5001 len=5")
    seg.analyzable[2] = False
    res = analyze(seg)
    assert res.seq.tolist() == [0, 0, 1001]
    assert res.nxtseq.tolist() == [1, 1, -1]


def test_syn_ack_with_other_isn_moves_the_base():
    res = analyze(build("A S 1000 0", "B SA 5000 1001", "B SA 8000 1001", "B PA 8001 1001 len=3"))
    # absolute sequence numbers jumped ahead too, hence the lost segment
    assert flag_names(int(res.analysis[2])) == ["lost_segment", "reused_ports"]
    assert res.seq.tolist() == [0, 0, 0, 1]


def test_retransmitted_syn_is_a_retransmission_not_a_reuse():
    got = names("A S 1000 0", "A S 1000 0 t=1")
    assert got == [[], ["retransmission"]]


def test_fast_retransmission_after_duplicate_acks():
    got = names(
        *HANDSHAKE,
        "A PA 1001 5001 len=100",
        "A PA 1101 5001 len=100 t=0.1",
        "B A 5001 1001 t=0.2", "B A 5001 1001 t=0.201", "B A 5001 1001 t=0.202",
        "A PA 1001 5001 len=100 t=0.205",
    )
    assert got[5:8] == [["duplicate_ack"]] * 3  # the SYN-ACK already carried ack 1001
    assert got[-1] == ["fast_retransmission"]
    res = analyze(build(*HANDSHAKE, "A PA 1001 5001 len=100", "A PA 1001 5001 len=100 t=1"))
    assert F.field_present(res.analysis, "tcp.analysis.retransmission").tolist()[-1]
    assert flag_names(int(res.analysis[-1])) == ["retransmission"]


def _streams(rows):
    cols = np.array(rows, dtype=np.int64).T
    return assign_streams(*cols)


def test_assign_streams_port_reuse():
    # src, dst, sport, dport, flags, seq, ack
    syn, synack, ack, fin, rst = 0x02, 0x12, 0x10, 0x11, 0x04
    stream, direction, reused = _streams([
        (1, 2, 40000, 80, syn, 100, 0),
        (2, 1, 80, 40000, synack, 900, 101),
        (1, 2, 40000, 80, ack, 101, 901),
        (3, 2, 40001, 80, syn, 7, 0),  # another client
        (1, 2, 40000, 80, syn, 100, 0),  # retransmitted SYN: same connection
        (1, 2, 40000, 80, syn, 555, 0),  # other ISN: new connection
        (2, 1, 80, 40000, synack, 77, 556),
        (2, 1, 80, 40000, rst, 78, 0),
        (1, 2, 40000, 80, syn, 555, 0),  # same ISN but the previous one was reset
        (2, 1, 80, 40000, fin, 78, 556),
    ])
    assert stream.tolist() == [0, 0, 0, 1, 0, 2, 2, 2, 3, 3]
    assert direction.tolist() == [0, 1, 0, 0, 0, 0, 1, 1, 0, 1]
    assert reused.tolist() == [False] * 5 + [True, False, False, True, False]


def test_reused_stream_is_flagged_by_the_analysis():
    seg = build("A S 100 0", "B SA 900 101", "A S 555 0 stream=1")
    seg.reused[2] = True
    res = analyze(seg)
    assert flag_names(int(res.analysis[2])) == ["reused_ports"]
    assert res.streams.completeness.tolist() == [3, 1]


def test_handshake_summary_and_initial_rtt():
    res = analyze(build("A S 1000 0 t=1.0", "A S 1000 0 t=2.0", "B SA 5000 1001 t=2.05",
                        "A A 1001 5001 t=2.08", "A PA 1001 5001 len=5 t=3"))
    st = res.streams
    assert (st.syn_frame[0], st.syn_ack_frame[0], st.ack_frame[0]) == (1, 3, 4)
    assert (st.client_isn[0], st.server_isn[0], st.client_direction[0]) == (1000, 5000, 0)
    assert abs(st.initial_rtt[0] - 0.08) < 1e-9  # from the most recent SYN
    assert st.completeness[0] == 1 | 2 | 4 | 8
