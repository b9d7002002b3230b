"""Per-packet context that the packet-list columns need but one packet alone cannot give.

Wireshark's Info column depends on state gathered from earlier packets: relative TCP sequence
numbers, the TCP analysis flags, TCP reassembly, IP reassembly, ICMP request/reply matching and
TLS session versions.  Other modules compute that state (the TCP analysis, a per-flow pass of the
packet index); these dataclasses are how they hand it to :func:`app.core.summary.summarize`.
Every field is optional: a missing value means "not known", and the summary then falls back to
what the packet alone shows (raw sequence numbers, no analysis prefix, no reassembly).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TcpContext:
    """What the TCP analysis and the per-flow reassembly know about one TCP segment.

    seq / ack / nxtseq / window: tshark's tcp.seq, tcp.ack, tcp.nxtseq and tcp.window_size
    (relative numbers, scaled window).  analysis: names of the tcp.analysis.* flags that are set,
    without the prefix ("retransmission", "duplicate_ack", ...).  dup_ack_frame / dup_ack_num:
    tcp.analysis.duplicate_ack_frame / _num.

    reassembled_pdu: the segment belongs to a higher-layer PDU that continues in a later segment
    and nothing in it could be dissected yet (tshark: Protocol TCP, Info ends with
    "[TCP segment of a reassembled PDU]").
    app_data: when the segment continues a PDU that started in an earlier segment, the PDU's
    bytes from its first byte through the end of this segment's payload (for TLS the PDU is the
    record containing the segment's first byte).  The segment completing a PDU is dissected on
    these bytes; for a reassembled_pdu segment they tell whether HTTP re-read the message so far
    (headers incomplete, chunked body) and so shows its first line.  None: the payload starts
    a PDU, or nothing is known.
    pdu_dissected: for a reassembled_pdu segment, whether the application dissector read the
    PDU in this segment (its first segment, or a reassembly still too short) and so wrote its
    columns (HTTP's first line, TLS clearing Info); app_data then needs to hold only the
    PDU's head.  None: judged from app_data (see apps.tcp_segment_start).
    pdu_tail: offset in the dissected bytes (app_data when given, else the payload) of a PDU
    that starts there but needs later segments: its dissector shows its first line at most.
    reassembly_error: the segment overlaps earlier reassembled data with different bytes
    (tshark appends "[Reassembly error, protocol TCP: New fragment overlaps old data ...]").
    tls_version: the TLS version negotiated on this connection (from the Server Hello, see
    :func:`app.core.summary.negotiated_version`), used for the TLSv1.x Protocol name.
    http_seen: set when HTTP dissects this connection (by port, or because tshark's HTTP
    heuristic claimed it): whether HTTP dissected a complete request on it before this
    segment; only then does it call other data "Continuation".  None: not known (text on an
    HTTP port is then taken as a Continuation, binary data not).
    """

    seq: int | None = None
    ack: int | None = None
    nxtseq: int | None = None
    window: int | None = None
    analysis: list[str] = field(default_factory=list)
    dup_ack_frame: int | None = None
    dup_ack_num: int | None = None
    reassembled_pdu: bool = False
    app_data: bytes | None = None
    pdu_dissected: bool | None = None
    pdu_tail: int | None = None
    reassembly_error: bool = False
    tls_version: int | None = None
    http_seen: bool | None = None


@dataclass
class FrameContext:
    """Context that is not about TCP.

    ip_payload: when this frame completes an IPv4/IPv6 reassembly, the reassembled payload of
    the fragmented datagram (what follows the IP header of the whole datagram); the summary then
    dissects it like an unfragmented datagram, as tshark does in the last fragment.
    request_in: for an ICMP/ICMPv6 echo reply, the frame number of the matching request
    (see :func:`app.core.summary.icmp.echo_key` for the matching key).
    reply_in: for an echo request, the frame number of the reply (tshark shows it only when
    it makes two passes; leave None to match single-pass tshark output).
    conversation: the Protocol an earlier packet of the same UDP conversation was identified
    as, lower-cased ("quic", "gquic"); tshark keeps dissecting the conversation with it, e.g.
    QUIC short-header packets that nothing in the packet itself identifies.
    quic_dcid_len: length of the connection ID the receiver of this QUIC packet chose (from the
    SCID of its long-header packets, see tls.quic_connection_ids); needed to show "DCID=..."
    for short-header packets.
    """

    ip_payload: bytes | None = None
    request_in: int | None = None
    reply_in: int | None = None
    conversation: str | None = None
    quic_dcid_len: int | None = None
