"""Tree shape and labels (Wireshark's wording) and field_values with every occurrence."""
from __future__ import annotations

import pytest

from app.core.dissect import FrameMeta, dissect, field_values
from tests.core.dissect.corpus import dissected, frames, same
from tests.reference import capture_names, load_reference

MULTI_FIELDS = {"ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.id", "ip.len", "ip.flags.mf", "ip.frag_offset",
                "vlan.id", "dns.qry.name", "frame.comment"}


def _labels(nodes, out=None):
    out = [] if out is None else out
    for n in nodes:
        out.append(n["label"])
        _labels(n["children"], out)
    return out


@pytest.mark.parametrize("name", capture_names())
def test_all_occurrences_in_order(name: str) -> None:
    """Tunnels, ICMP-quoted packets and stacked VLAN tags: every value, outer first (as tshark)."""
    multi = load_reference(name)["multi_occurrence"]
    res = dissected(name)
    for number, fields in multi.items():
        fv = res[int(number) - 1][1]
        for f, values in fields.items():
            if f not in MULTI_FIELDS:
                continue
            mine = fv.get(f, [])
            assert len(mine) == len(values) and all(same(f, v, m) for v, m in zip(values, mine)), \
                (number, f, values, mine)


def test_tcp_http_labels() -> None:
    layers, fv = dissected("testmyids.pcap")[3]
    labels = _labels(layers)
    assert [lay["name"] for lay in layers] == ["frame", "eth", "ip", "tcp", "http"]
    for want in (
        "Frame 4: 142 bytes on wire (1136 bits), 142 bytes captured (1136 bits)",
        "Ethernet II, Src: 4e:95:19:72:6e:14 (4e:95:19:72:6e:14), Dst: 46:e5:83:e6:b6:a1 (46:e5:83:e6:b6:a1)",
        "Type: IPv4 (0x0800)",
        "Internet Protocol Version 4, Src: 172.17.0.2, Dst: 217.160.0.187",
        "0100 .... = Version: 4", ".... 0101 = Header Length: 20 bytes (5)",
        "Differentiated Services Field: 0x00 (DSCP: CS0, ECN: Not-ECT)",
        "010. .... = Flags: 0x2, Don't fragment", ".1.. .... = Don't fragment: Set",
        "...0 0000 0000 0000 = Fragment Offset: 0", "Time to Live: 64", "Protocol: TCP (6)",
        "Identification: 0xb2f6 (45814)", "Source Address: 172.17.0.2",
        "Transmission Control Protocol, Src Port: 54162, Dst Port: 80, Seq: 4239578155, Ack: 2416822465, Len: 76",
        "Source Port: 54162", "Destination Port: 80", "[TCP Segment Len: 76]",
        "Sequence Number (raw): 4239578155", "1000 .... = Header Length: 32 bytes (8)",
        "Flags: 0x018 (PSH, ACK)", ".... .... 1... = Push: Set", "[TCP Flags: ·······AP···]",
        "Window: 502", "Urgent Pointer: 0",
        "Options: (12 bytes), No-Operation (NOP), No-Operation (NOP), Timestamps",
        "TCP Option - Timestamps: TSval 1720316960, TSecr 1199316720", "TCP payload (76 bytes)",
        "Hypertext Transfer Protocol", "GET / HTTP/1.1\\r\\n", "Request Method: GET", "Request URI: /",
        "Host: testmyids.com\\r\\n", "\\r\\n", "[Full request URI: http://testmyids.com/]",
        "[Protocols in frame: eth:ethertype:ip:tcp:http]",
    ):
        assert want in labels, want
    assert fv["tcp.flags"] == [0x018] and fv["tcp.flags.push"] == [1] and fv["tcp.flags.syn"] == [0]
    assert fv["http.host"] == ["testmyids.com"] and fv["http.request.uri"] == ["/"]
    assert isinstance(fv["tcp.payload"][0], bytes) and fv["tcp.payload"][0].startswith(b"GET / ")


def test_syn_options_and_expert() -> None:
    layers, fv = dissected("epb.pcapng")[0]
    labels = _labels(layers)
    assert labels[0] == ("Frame 1: 74 bytes on wire (592 bits), 74 bytes captured (592 bits) "
                         "on interface ens33, id 1")
    for want in ("Flags: 0x002 (SYN)", "TCP Option - Maximum segment size: 1460 bytes", "MSS Value: 1460",
                 "TCP Option - SACK permitted", "TCP Option - Window scale: 7 (multiply by 128)",
                 "[Expert Info (Chat/Sequence): Connection establish request (SYN): server port 80]",
                 "Interface id: 1 (ens33)", "Packet comments", "this is a comment", "foobar"):
        assert want in labels, want
    assert fv["tcp.options.mss_val"] == [1460] and fv["tcp.options.wscale.shift"] == [7]
    assert fv["tcp.options.sack_perm"] == [None] and fv["frame.comment"] == ["this is a comment", "foobar"]
    assert fv["frame.interface_id"] == [1]


def test_link_layers() -> None:
    vlan = dissected("VlanPackets.pcap")[0][1]
    assert vlan["vlan.id"] == [118, 10] and vlan["eth.type"] == [0x8100]
    layers, _ = dissected("VlanPackets.pcap")[0]
    assert "802.1Q Virtual LAN, PRI: 0, DEI: 0, ID: 118" in _labels(layers)
    assert ".... 0000 0111 0110 = ID: 118" in _labels(layers)
    sll = dissected("sll.pcap")[0]
    assert "Linux cooked capture v1" in _labels(sll[0])
    sll2 = dissected("linux_dlt_sll2.pcap")[4]
    assert sll2[1]["sll.pkttype"] == [4] and "Linux cooked capture v2" in _labels(sll2[0])
    null = dissected("test_loopback.pcap")[0]
    assert "Family: IPv6 (30)" in _labels(null[0]) and null[1]["null.family"] == [30]
    raw = dissected("raw_ip.pcap")[0]
    assert raw[0][1]["label"] == "Raw packet data" and raw[1]["frame.protocols"][0].startswith("raw:ip")
    ip4 = dissected("basic-auth-with-colon.pcap")[0]
    assert [lay["name"] for lay in ip4[0]][:3] == ["frame", "ip", "tcp"]


def test_udp_protocol_labels() -> None:
    dns = _labels(dissected("dns_icmp.pcap")[1][0])
    assert "Domain Name System (response)" in dns
    assert any(lbl.startswith("Flags: 0x8180 Standard query response, No error") for lbl in dns)
    assert "Type: PTR (domain name PoinTeR) (12)" in dns
    assert "Time to live: 44215 (12 hours, 16 minutes, 55 seconds)" in dns
    assert "Class: IN (0x0001)" in dns
    dhcp_layers, dhcp = dissected("wireshark-dhcp.pcap")[0]
    assert dhcp["dhcp.option.dhcp"] == [1]
    assert "Dynamic Host Configuration Protocol (Discover)" in _labels(dhcp_layers)
    assert "Option: (53) DHCP Message Type (Discover)" in _labels(dhcp_layers)
    sip = [fv for _, fv in dissected("sip_wireshark.pcap")]
    assert any(fv.get("sip.Method") == ["INVITE"] for fv in sip)
    assert any(fv.get("sip.Status-Code") == [401] for fv in sip)
    ntp = _labels(dissected("gre-sample.pcap")[36][0])
    assert "Network Time Protocol (NTP Version 4, client)" in ntp
    icmp = _labels(dissected("icmp-destunreach-udp.pcap")[0][0])
    assert "Type: 3 (Destination unreachable)" in icmp and "Code: 3 (Port unreachable)" in icmp


def test_ftp_tls_arp_icmpv6() -> None:
    ftp = dissected("ftp_ipv4.pcap")[5][1]
    assert ftp["ftp.request.command"] == ["USER"] and ftp["ftp.request.arg"] == ["anonymous"]
    tls = [fv for _, fv in dissected("many_interfaces-1.pcapng")]
    assert tls[26]["tls.handshake.type"] == [1] and "google" in tls[26]["tls.handshake.extensions_server_name"][0]
    arp_layers, arp = dissected("cloudshark-arp.pcap")[0]
    assert "Address Resolution Protocol (request)" in _labels(arp_layers)
    assert arp["arp.dst.proto_ipv4"] == ["10.10.10.1"] and arp["eth.padding"] == [bytes(18)]
    v6 = _labels(dissected("ICMPv6_echos.cap")[0][0])
    assert "Type: Echo (ping) request (128)" in v6 and "[Checksum Status: Good]" in v6
    frag = _labels(dissected("ipv6-fragmented-dns.pcap")[3][0])
    assert "Fragment Header for IPv6" in frag


def test_field_values_flattens_in_tree_order() -> None:
    tree = [{"name": "a", "label": "", "value": 1, "offset": None, "length": None, "children": [
        {"name": "b", "label": "", "value": 2, "offset": None, "length": None, "children": []},
        {"name": "", "label": "text", "value": None, "offset": None, "length": None, "children": [
            {"name": "b", "label": "", "value": 3, "offset": None, "length": None, "children": []}]}]},
        {"name": "b", "label": "", "value": 4, "offset": None, "length": None, "children": []}]
    assert field_values(tree) == {"a": [1], "b": [2, 3, 4]}


def test_speed() -> None:
    """One packet in a few milliseconds (the whole 4709-frame capture well under 10 s)."""
    import time
    fr = frames("many-protocols.pcap")
    t = time.perf_counter()
    for data, lt, meta in fr:
        dissect(data, lt, meta)
    per = (time.perf_counter() - t) / len(fr)
    assert per < 0.004, per


def test_meta_defaults_for_pcap_records() -> None:
    data, lt, _ = frames("testmyids.pcap")[0]
    meta = FrameMeta(number=1, epoch_sec=0, epoch_nsec=0, time_relative=0.0, wire_len=len(data),
                     cap_len=len(data), interface_id=0, comments=[], linktype=1, has_interface_id=False)
    layers = dissect(data, lt, meta)
    assert "frame.interface_id" not in field_values(layers)
    n = len(data)
    assert layers[0]["label"] == f"Frame 1: {n} bytes on wire ({8 * n} bits), {n} bytes captured ({8 * n} bits)"
