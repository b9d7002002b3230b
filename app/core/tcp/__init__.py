"""TCP sequence analysis, stream numbering and endpoint states, computed like tshark 4.0.

Pure numpy in, numpy out.  Verified against the tshark 4.0.17 references of the corpus
(tests/core/tcp/test_reference.py: every field below agrees on every TCP segment).

Stream numbering
----------------
``assign_streams(src, dst, sport, dport, flags, seq, ack, analyzable=None)``
    -> ``(stream int64, direction int8, reused bool)`` in frame order.  ``src``/``dst`` are
    integer address ids (same id = same address), the rest raw header values.  ``stream`` is
    tshark's tcp.stream, ``direction`` 0 for segments sent by the stream's first sender ("A"),
    ``reused`` marks the SYNs that opened a new stream on a 4-tuple in use (different ISN, or
    the previous connection saw FIN+ACK/RST).  Feed all three to ``TcpSegments``.

Analysis: ``analyze(TcpSegments(...), states=True) -> TcpAnalysis``
---------------------------------------------------------------------
Input ``TcpSegments``: equal-length arrays, one row per TCP segment, in frame order.

=============== ======= ===================================================================
number          int64   frame number (tcp.analysis.duplicate_ack_frame refers to it)
time            float64 seconds, any origin (relative time keeps nanosecond precision)
stream          int     tcp.stream (dense 0..N-1 keeps per-stream arrays small)
direction       int8    0 = sent by A, 1 = sent by B
seq_raw         uint32  tcp.seq_raw
ack_raw         uint32  tcp.ack_raw (also when the ACK flag is clear)
flags           uint16  tcp.flags (0x001 FIN, 0x002 SYN, 0x004 RST, 0x008 PSH, 0x010 ACK ...)
payload_len     int     tcp.len
window_value    uint16  tcp.window_size_value (raw header field)
ws_option       int16   optional: window-scale option shift byte as sent (capped at 14 like
                        Wireshark); -1 when the segment has no complete WS option
analyzable      bool    optional (default True): False when tshark shows no tcp.len (TCP
                        header longer than the segment, unreassembled IP fragment); such
                        rows keep raw seq/ack, get no nxtseq and no sequence analysis
reused          bool    optional: ``reused`` from assign_streams()
=============== ======= ===================================================================

Output ``TcpAnalysis``, per segment (input order):

* ``seq``/``ack`` uint32 -- tcp.seq / tcp.ack, relative to the base of their direction.  The
  base is set by the direction's first analysed segment (its seq for a SYN, else seq - 1) unless
  the reverse direction's first ACK-carrying segment came earlier (its ack - 1); a SYN-ACK with
  another ISN moves it (and is flagged reused_ports).  tcp.ack is raw when ACK is clear.
* ``nxtseq`` int64 -- tcp.nxtseq = seq + len, +1 for SYN or FIN; -1 when not analysable.
* ``window_size`` int64 -- tcp.window_size.  Scaled by the sender's shift when known: a
  direction's shift comes from its WS option; a SYN (or SYN-ACK) without WS makes both
  directions "no scaling" (-2), as does a SYN-ACK with WS answering a SYN without.  SYNs are
  never scaled; an unknown shift (-1, e.g. handshake not captured) leaves the raw value, as
  tshark does with its default preference.  ``win_scale`` int8 is the state used.
* ``analysis`` uint32 -- app/core/tcp/flags.py bits (Wireshark's TCP_A_* values).  For display
  filter semantics use ``field_present(mask, "tcp.analysis.<name>")``: tshark shows
  tcp.analysis.retransmission for fast and spurious retransmissions too, and tcp.analysis.flags
  for any bit, window updates included.  ``info_tags()`` gives the Info column prefixes.
* ``dup_ack_num`` uint32 / ``dup_ack_frame`` int64 -- tcp.analysis.duplicate_ack_num / _frame
  (0 = absent).
* ``state_a``/``state_b`` uint8 -- TcpState (app/core/tcp/state.py, RFC 9293 names plus
  UNKNOWN) of A and B after the segment; zeros when ``states=False``.

Per stream, ``TcpAnalysis.streams`` (StreamSummary, arrays indexed by tcp.stream):
``completeness`` (final tcp.completeness: 1 SYN, 2 SYN-ACK, 4 ACK, 8 DATA, 16 FIN+ACK, 32 RST;
the first segment of a stream counts only if it is a pure SYN), ``syn_frame`` / ``syn_ack_frame``
/ ``ack_frame`` (handshake frames, 0 = none), ``client_isn`` / ``server_isn`` (raw, -1 = none),
``client_direction`` (-1 = unknown) and ``initial_rtt`` (tcp.analysis.initial_rtt in seconds:
first segment with ACK and without SYN minus the most recent pure SYN; NaN = unknown).

Known gaps: MPTCP, TCP Fast Open and SCPS specifics of packet-tcp.c are not modelled; segments
whose options are cut short are analysed as if the options ended there; the per-packet
tcp.completeness that single-pass tshark prints (value before the packet) is not produced.
"""
from app.core.tcp.analysis import analyze
from app.core.tcp.flags import FIELD_MASKS, FLAG_BITS, field_present, flag_names, info_tags
from app.core.tcp.model import StreamSummary, TcpAnalysis, TcpSegments
from app.core.tcp.state import STATE_NAMES, TcpState, state_name, track_states
from app.core.tcp.streams import assign_streams

__all__ = [
    "analyze", "assign_streams", "TcpSegments", "TcpAnalysis", "StreamSummary", "TcpState",
    "STATE_NAMES", "state_name", "track_states", "FLAG_BITS", "FIELD_MASKS", "field_present",
    "flag_names", "info_tags",
]
