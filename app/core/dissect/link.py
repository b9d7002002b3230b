"""Link layers: Ethernet II / 802.3, 802.1Q VLAN, Linux SLL v1/v2, BSD NULL/LOOP, raw IP."""
from __future__ import annotations

from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1Q, Ether

from . import registry as reg
from .llc import dissect_llc
from .node import Ctx, Malformed, Node, Tvb, add, bitfield, flag, hexstr, mac, text
from .scapyfields import walk

PRIORITIES = {
    0: "Best Effort (default)", 1: "Background", 2: "Excellent Effort", 3: "Critical Applications",
    4: "Video, < 100ms latency and jitter", 5: "Voice, < 10ms latency and jitter",
    6: "Internetwork Control", 7: "Network Control",
}
SLL_PKTTYPES = {0: "Unicast to us", 1: "Broadcast", 2: "Multicast", 3: "Unicast to another host",
                4: "Sent by us"}
ARPHRD = {1: "Ethernet", 24: "IEEE 1394", 512: "PPP", 768: "IPIP tunnel", 772: "Loopback",
          776: "IPv6-in-IPv4", 778: "IP over GRE", 65534: "None", 65535: "Void"}
NULL_FAMILIES = {2: "IP", 7: "OSI", 16: "Appletalk", 23: "Netware IPX/SPX", 24: "IPv6", 28: "IPv6",
                 30: "IPv6"}


def _addr(b: bytes) -> str:
    m = mac(b)
    return f"{m} ({m})"


def add_trailer(ctx: Ctx, owner: Node, start: int, tvb: Tvb, prefix: str, padding: bool) -> None:
    """Bytes after the payload: Ethernet padding to 60 bytes, then a trailer (Wireshark's layout)."""
    rep_len = tvb.rep_end - start
    if rep_len <= 0:
        return
    cap = ctx.data[start:tvb.cap_end]
    pad = 0
    wire = ctx.meta.wire_len
    if padding and wire >= 60 and wire - rep_len < 60:
        pad = min(60 - (wire - rep_len), rep_len)
    if pad:
        pb = cap[:pad]
        add(owner, "eth.padding", f"Padding: {hexstr(pb)}", pb, start, len(pb))
    rest = cap[pad:]
    if rest:
        add(owner, f"{prefix}.trailer", f"Trailer: {hexstr(rest)}", rest, start + pad, len(rest))


def _ethertype_payload(ctx: Ctx, etype: int, tvb: Tvb, owner: Node, prefix: str,
                       padding: bool) -> None:
    used = reg.call_ethertype(ctx, etype, tvb, None)
    if used is not None:
        add_trailer(ctx, owner, tvb.start + used, tvb, prefix, padding)


def _mac_node(parent: Node, name: str, title: str, b: bytes, off: int) -> None:
    n = add(parent, name, f"{title}: {_addr(b)}", mac(b), off, 6)
    v = int.from_bytes(b[:3], "big")
    flag(n, f"{name}.lg", "LG bit", v, 0x020000, 24, off, 3,
         "Locally administered address (this is NOT the factory default)",
         "Globally unique address (factory default)")
    flag(n, f"{name}.ig", "IG bit", v, 0x010000, 24, off, 3,
         "Group address (multicast/broadcast)", "Individual address (unicast)")


def dissect_eth(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Ethernet II (type >= 0x0600) or IEEE 802.3 with a length field."""
    s = tvb.start
    f = walk(Ether, ctx.data, s, tvb.cap_end)
    if not f.complete or tvb.captured < 14:
        tvb.check(s, 14, "Ethernet")
    dst, src, etype = ctx.data[s:s + 6], ctx.data[s + 6:s + 12], f["type"]
    if etype <= 1500:
        return _dissect_8023(ctx, tvb, dst, src, etype)
    lay = ctx.layer("eth", f"Ethernet II, Src: {_addr(src)}, Dst: {_addr(dst)}", s, 14)
    _mac_node(lay, "eth.dst", "Destination", dst, f.off("dst"))
    _mac_node(lay, "eth.src", "Source", src, f.off("src"))
    add(lay, "eth.type", f"Type: {reg.etype_label(etype)}", etype, f.off("type"), 2)
    _ethertype_payload(ctx, etype, tvb.sub(s + 14), lay, "eth", True)
    return None


def _dissect_8023(ctx: Ctx, tvb: Tvb, dst: bytes, src: bytes, length: int) -> None:
    s = tvb.start
    lay = ctx.layer("eth", "IEEE 802.3 Ethernet ", s, 14)
    _mac_node(lay, "eth.dst", "Destination", dst, s)
    _mac_node(lay, "eth.src", "Source", src, s + 6)
    add(lay, "eth.len", f"Length: {length}", length, s + 12, 2)
    payload = Tvb(s + 14, tvb.cap_end, min(tvb.rep_end, s + 14 + length))
    if length > tvb.rep_end - s - 14:
        # a length field beyond the frame: Wireshark flags it and dissects what is there
        payload = tvb.sub(s + 14)
    dissect_llc(ctx, payload, None)
    add_trailer(ctx, lay, payload.rep_end, tvb, "eth", True)
    return None


def dissect_vlan(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """IEEE 802.1Q tag (also used for 802.1ad outer tags)."""
    s = tvb.start
    f = walk(Dot1Q, ctx.data, s, tvb.cap_end)
    if not f.complete:
        tvb.check(s, 4, "802.1Q Virtual LAN")
    tci = ctx.u16(s)
    pri, dei, vid, etype = f["prio"], f["dei"], f["vlan"], f["type"]
    lay = ctx.layer("vlan", f"802.1Q Virtual LAN, PRI: {pri}, DEI: {dei}, ID: {vid}", s, 4)
    bitfield(lay, "vlan.priority", "Priority", tci, 0xE000, 16, s, 2, f"{PRIORITIES[pri]} ({pri})")
    flag(lay, "vlan.dei", "DEI", tci, 0x1000, 16, s, 2, "Eligible", "Ineligible")
    bitfield(lay, "vlan.id", "ID", tci, 0x0FFF, 16, s, 2)
    if etype <= 1500:
        add(lay, "vlan.len", f"Length: {etype}", etype, s + 2, 2)
        dissect_llc(ctx, Tvb(s + 4, tvb.cap_end, min(tvb.rep_end, s + 4 + etype)), None)
        add_trailer(ctx, lay, min(tvb.rep_end, s + 4 + etype), tvb, "vlan", True)
        return None
    add(lay, "vlan.etype", f"Type: {reg.etype_label(etype)}", etype, s + 2, 2)
    _ethertype_payload(ctx, etype, tvb.sub(s + 4), lay, "vlan", True)
    return None


def _sll_source(ctx: Ctx, lay: Node, hatype: int, halen: int, off: int) -> None:
    n = min(halen, 8)
    b = ctx.data[off:off + n]
    if hatype in (1, 772) and n == 6:
        add(lay, "sll.src.eth", f"Source: {_addr(b)}", mac(b), off, 6)
    elif n:
        add(lay, "sll.src.other", f"Source: {hexstr(b)}", b, off, n)
    if n < 8:
        u = ctx.data[off + n:off + 8]
        add(lay, "sll.unused", f"Unused: {hexstr(u)}", u, off + n, 8 - n)


def _sll_payload(ctx: Ctx, tvb: Tvb, lay: Node, proto: int, hatype: int) -> None:
    if proto > 1500:
        add(lay, "sll.etype", f"Protocol: {reg.etype_label(proto)}", proto, tvb.start - 2, 2)
        _ethertype_payload(ctx, proto, tvb, lay, "sll", False)
        return
    names = {1: "Novell 802.3", 2: "AX.25", 3: "All", 4: "802.2 LLC", 5: "SNAP"}
    add(lay, "sll.ltype", f"Protocol: {names.get(proto, 'Unknown')} (0x{proto:04x})", proto,
        tvb.start - 2, 2)
    if proto == 4:
        dissect_llc(ctx, tvb, None)
    else:
        reg.data_layer(ctx, tvb)


def dissect_sll(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Linux cooked capture v1 (16-byte header)."""
    s = tvb.start
    f = walk(CookedLinux, ctx.data, s, tvb.cap_end)
    lay = ctx.layer("sll", "Linux cooked capture v1", s, 16)
    if "pkttype" in f.values:
        pt = f["pkttype"]
        add(lay, "sll.pkttype", f"Packet type: {SLL_PKTTYPES.get(pt, 'Unknown')} ({pt})", pt, s, 2)
    if not f.complete:
        tvb.check(s, 16, "SLL")
    hatype, halen = f["lladdrtype"], f["lladdrlen"]
    add(lay, "sll.hatype", f"Link-layer address type: {ARPHRD.get(hatype, 'Unknown')} ({hatype})",
        hatype, s + 2, 2)
    add(lay, "sll.halen", f"Link-layer address length: {halen}", halen, s + 4, 2)
    _sll_source(ctx, lay, hatype, halen, s + 6)
    _sll_payload(ctx, tvb.sub(s + 16), lay, f["proto"], hatype)
    return None


def dissect_sll2(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Linux cooked capture v2 (20-byte header)."""
    s = tvb.start
    f = walk(CookedLinuxV2, ctx.data, s, tvb.cap_end)
    lay = ctx.layer("sll", "Linux cooked capture v2", s, 20)
    if not f.complete:
        tvb.check(s, 20, "SLL")
    proto, hatype, halen, pt = f["proto"], f["lladdrtype"], f["lladdrlen"], f["pkttype"]
    # SLL2 starts with the protocol (SLL v1 ends with it)
    if proto > 1500:
        add(lay, "sll.etype", f"Protocol: {reg.etype_label(proto)}", proto, s, 2)
    else:
        add(lay, "sll.ltype", f"Protocol: 0x{proto:04x}", proto, s, 2)
    add(lay, "sll.reserved", f"Reserved (MBZ): {f['reserved']}", f["reserved"], s + 2, 2)
    add(lay, "sll.ifindex", f"Interface index: {f['ifindex']}", f["ifindex"], s + 4, 4)
    add(lay, "sll.hatype", f"Link-layer address type: {ARPHRD.get(hatype, 'Unknown')} ({hatype})",
        hatype, s + 8, 2)
    add(lay, "sll.pkttype", f"Packet type: {SLL_PKTTYPES.get(pt, 'Unknown')} ({pt})", pt, s + 10, 1)
    add(lay, "sll.halen", f"Link-layer address length: {halen}", halen, s + 11, 1)
    _sll_source(ctx, lay, hatype, halen, s + 12)
    payload = tvb.sub(s + 20)
    if proto > 1500:
        _ethertype_payload(ctx, proto, payload, lay, "sll", False)
    elif proto == 4:
        dissect_llc(ctx, payload, None)
    else:
        reg.data_layer(ctx, payload)
    return None


def dissect_null(ctx: Ctx, tvb: Tvb, network_order: bool) -> None:
    """BSD loopback: a 4-byte address family (host order for NULL, network order for LOOP)."""
    s = tvb.start
    lay = ctx.layer("null", "Null/Loopback", s, 4)
    tvb.check(s, 4, "Null/Loopback")
    raw = ctx.data[s:s + 4]
    if network_order:
        fam = int.from_bytes(raw, "big")
    else:
        # host order of the capturing machine; read it the way Wireshark does on a little-endian
        # host: a family never uses the high 16 bits, so such a value is byte-swapped (or, for
        # IRIX-style 16-bit families, sits in the upper half)
        fam = int.from_bytes(raw, "little")
        if fam & 0xFFFF0000:
            if not fam & 0xFF000000 and (fam & 0x00FF0000) < 0x00060000:
                fam >>= 16
            else:
                fam = int.from_bytes(raw, "big")
    add(lay, "null.family", f"Family: {NULL_FAMILIES.get(fam, 'Unknown')} ({fam})", fam, s, 4)
    payload = tvb.sub(s + 4)
    if fam == 2:
        reg.ETHERTYPE[0x0800](ctx, payload, None)
    elif fam in (24, 28, 30, 10):
        reg.ETHERTYPE[0x86DD](ctx, payload, None)
    else:
        reg.data_layer(ctx, payload)


def dissect_raw(ctx: Ctx, tvb: Tvb) -> None:
    """LINKTYPE_RAW: an IPv4 or IPv6 packet chosen by its version nibble."""
    s = tvb.start
    lay = ctx.layer("raw", "Raw packet data", s, 0)
    text(lay, "No link information available")
    if tvb.captured < 1:
        raise Malformed("Raw")
    v = ctx.data[s] >> 4
    if v == 4:
        reg.ETHERTYPE[0x0800](ctx, tvb, None)
    elif v == 6:
        reg.ETHERTYPE[0x86DD](ctx, tvb, None)
    else:
        reg.data_layer(ctx, tvb)


reg.ETHERTYPE[0x8100] = dissect_vlan
reg.ETHERTYPE[0x88A8] = dissect_vlan
reg.ETHERTYPE[0x9100] = dissect_vlan
