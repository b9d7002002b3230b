"""Every frame of every corpus capture, dissected without TCP context, against tshark's fields.

For each reference field the dissector produces, the FIRST occurrence must equal tshark's text
(normalised: hex fields such as ip.id "0x0f41" compare as ints). Header fields must agree on every
frame; the remaining differences are listed in KNOWN with their cause and the number of frames
concerned, and may only shrink.
"""
from __future__ import annotations

import collections

import pytest

from tests.core.dissect.corpus import dissected, same
from tests.reference import capture_names, reference_frames

HEADER_FIELDS = [
    "frame.number", "frame.len", "frame.cap_len", "frame.encap_type", "frame.interface_id", "frame.comment",
    "frame.time_epoch", "frame.time_relative", "frame.time_delta",
    "eth.src", "eth.dst", "eth.type", "vlan.id", "sll.pkttype", "sll.etype", "null.family",
    "arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
    "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.id", "ip.len", "ip.flags.mf", "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.hlim", "ipv6.plen",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.hdr_len", "tcp.flags",
    "tcp.flags.str", "tcp.window_size_value", "tcp.options.mss_val",
    "udp.srcport", "udp.dstport", "udp.length", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
]
APP_FIELDS = [
    "frame.protocols", "dns.id", "dns.flags.response", "dns.qry.name",
    "http.request.method", "http.request.uri", "http.request.version", "http.host", "http.response.code",
    "tls.handshake.type", "tls.record.content_type", "_ws.malformed",
]
FIELDS = HEADER_FIELDS + APP_FIELDS

IP_REASSEMBLY = "tshark reassembles IP fragments and dissects the upper layers in the last fragment"
TCP_REASSEMBLY = ("tshark reassembles TCP (desegmentation): an HTTP/TLS/SMTP message spanning segments "
                  "is shown in the segment completing it, continuation segments show no application "
                  "layer; a single packet shows the message where it starts")
ANALYSIS = ("depends on the capture-wide TCP analysis (retransmitted data is not dissected again, "
            "keep-alive bytes are shown as data, reassembly errors are flagged _ws.malformed)")
CERTS = "X.509 certificate contents (x509sat/x509ce/pkix1*/ocsp ASN.1) are not decoded"
CONVERSATION = ("protocol chosen from earlier packets of the conversation (FTP PORT/PASV data "
                "channels, GQUIC sessions)")
QUIC_TLS = "tshark decrypts QUIC Initial packets and shows their TLS handshake"

# (capture, field) -> (most frames allowed to differ, why)
KNOWN: dict[tuple[str, str], tuple[int, str]] = {
    ("frag_http_req.pcap", f): (1, IP_REASSEMBLY) for f in (
        "frame.protocols", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.hdr_len",
        "tcp.flags", "tcp.flags.str", "tcp.window_size_value", "http.request.method", "http.request.uri",
        "http.request.version", "http.host")
}
KNOWN.update({("ip4_fragments.pcap", f): (6, IP_REASSEMBLY)
              for f in ("frame.protocols", "udp.srcport", "udp.dstport", "udp.length")})
KNOWN.update({("ipv6-fragmented-dns.pcap", f): (1, IP_REASSEMBLY)
              for f in ("frame.protocols", "udp.srcport", "udp.dstport", "udp.length", "dns.id",
                        "dns.flags.response", "dns.qry.name")})
_HTTP = ("http.request.method", "http.request.uri", "http.request.version", "http.host", "http.response.code")
for _cap, _counts in {
    "206_example_b.pcap": {"frame.protocols": 5, "http.response.code": 5},
    "basic-auth-with-colon.pcap": {"frame.protocols": 2, "http.response.code": 2},
    "dpkt_http.pcap": {"frame.protocols": 5, "http.response.code": 5},
    "http-vlan-0.pcap": {"frame.protocols": 2, "http.response.code": 2},
    "http_large_req_8001.pcap": {"frame.protocols": 4, **{f: 2 for f in _HTTP}},
    "many-protocols.pcap": {"frame.protocols": 577, "http.host": 63, "http.request.method": 64,
                            "http.request.uri": 64, "http.request.version": 63, "http.response.code": 173,
                            "tls.handshake.type": 11, "tls.record.content_type": 226},
    "nanosecs_big_endian.pcap": {"frame.protocols": 2, "http.response.code": 2},
    "one_tcp_stream.pcap": {"frame.protocols": 8, **{f: 4 for f in _HTTP}},
    "qi_internet_SYNACK_curl_jsonip.pcap": {"frame.protocols": 1, "http.response.code": 1},
    "raw_ip.pcap": {"frame.protocols": 13, "http.response.code": 13},
    "sll.pcap": {"frame.protocols": 2, "http.response.code": 2},
    "tcp_reassembly.pcap": {"frame.protocols": 1, "http.request.method": 1, "http.request.uri": 1},
    "test_ethernet.pcap": {"frame.protocols": 2, "http.response.code": 2},
    "test_loopback.pcap": {"frame.protocols": 2, "http.response.code": 2},
    "tls_ecdhe.pcap": {"frame.protocols": 3, "tls.handshake.type": 2, "tls.record.content_type": 3},
    "curl-enabled-tls13.pcap": {"frame.protocols": 1, "tls.record.content_type": 9},
    "wireshark-retrans.pcap": {"frame.protocols": 42, "http.host": 20, "http.request.method": 20,
                               "http.request.uri": 20, "http.request.version": 20, "http.response.code": 10},
    "zip_descriptor.pcap": {"frame.protocols": 2, "http.response.code": 2},
}.items():
    for _f, _n in _counts.items():
        KNOWN[(_cap, _f)] = (_n, TCP_REASSEMBLY + "; " + ANALYSIS if _cap == "wireshark-retrans.pcap"
                             else TCP_REASSEMBLY + ("; " + CERTS if _cap == "many-protocols.pcap" else ""))
KNOWN.update({
    ("206_example_b.pcap", "_ws.malformed"): (52, ANALYSIS),
    ("many-protocols.pcap", "_ws.malformed"): (18, ANALYSIS),
    ("one_tcp_stream.pcap", "_ws.malformed"): (1, ANALYSIS),
    ("wireshark-retrans.pcap", "_ws.malformed"): (9, ANALYSIS),
    ("ftp_ipv4.pcap", "frame.protocols"): (2, CONVERSATION),
    ("many_interfaces-1.pcapng", "frame.protocols"): (4, CONVERSATION),
    ("quic_chromium.pcap", "frame.protocols"): (2, QUIC_TLS),
    ("quic_chromium.pcap", "tls.handshake.type"): (2, QUIC_TLS),
})


def compare(name: str) -> tuple[collections.Counter, collections.Counter, dict]:
    """(agreeing frames per field, differing frames per field, first examples) for one capture."""
    ok: collections.Counter = collections.Counter()
    bad: collections.Counter = collections.Counter()
    examples: dict[str, tuple] = {}
    for (layers, fv), ref in zip(dissected(name), reference_frames(name)):
        for f in FIELDS:
            want = ref.get(f)
            if f == "_ws.malformed":
                agree = want == ("_ws.malformed" in fv)
                present = want or "_ws.malformed" in fv
            else:
                mine = fv.get(f)
                present = want is not None or bool(mine)
                agree = (want is None and not mine) or (want is not None and bool(mine) and same(f, want, mine[0]))
            if not present:
                continue
            if agree:
                ok[f] += 1
            else:
                bad[f] += 1
                examples.setdefault(f, (ref["frame.number"], want, (fv.get(f) or [None])[0]))
    return ok, bad, examples


@pytest.mark.parametrize("name", capture_names())
def test_fields_match_tshark(name: str) -> None:
    assert len(dissected(name)) == len(reference_frames(name))
    ok, bad, examples = compare(name)
    problems = []
    for f, n in bad.items():
        allowed, _why = KNOWN.get((name, f), (0, ""))
        if n > allowed:
            problems.append(f"{f}: {n} frames differ (allowed {allowed}), e.g. frame/tshark/mine {examples[f]}")
    assert not problems, "\n".join(problems)


def test_agreement_report(capsys) -> None:
    """Per-field agreement over the whole corpus; header fields must be 100%."""
    ok: collections.Counter = collections.Counter()
    bad: collections.Counter = collections.Counter()
    for name in capture_names():
        o, b, _ = compare(name)
        ok.update(o)
        bad.update(b)
    with capsys.disabled():
        print("\nfield agreement with tshark (frames where either side has the field)")
        for f in FIELDS:
            total = ok[f] + bad[f]
            if total:
                print(f"  {f:28s} {ok[f]:6d}/{total:<6d} {100.0 * ok[f] / total:6.2f}%")
    header_bad = {f: bad[f] for f in HEADER_FIELDS if bad[f]}
    explained = {f: sum(n for (c, ff), (n, _) in KNOWN.items() if ff == f) for f in header_bad}
    assert all(header_bad[f] <= explained[f] for f in header_bad), header_bad
    assert sum(ok[f] for f in HEADER_FIELDS) > 100_000
