"""802.2 LLC/SNAP with the protocols seen behind it (CDP, STP), and PPPoE session + PPP."""
from __future__ import annotations

from scapy.layers.ppp import PPPoE

from . import registry as reg
from .node import Ctx, Node, Tvb, add, bitfield, flag
from .scapyfields import walk

SAPS = {0x00: "NULL LSAP", 0x06: "TCP/IP", 0x42: "Spanning Tree BPDU", 0xAA: "SNAP", 0xE0: "NetWare",
        0xF0: "NetBIOS", 0xFE: "ISO Network Layer", 0xFF: "Global LSAP"}
OUIS = {0x000000: "Officially Xerox, but", 0x00000C: "Cisco Systems, Inc", 0x0080C2: "IEEE 802.1"}
CISCO_PIDS = {0x2000: "CDP", 0x2003: "VTP", 0x2004: "DTP", 0x010B: "PVSTP+", 0x0104: "PAgP",
              0x0111: "UDLD"}
PPP_PROTOS = {0x0021: ("Internet Protocol version 4", 0x0800), 0x0057: ("Internet Protocol version 6", 0x86DD),
              0xC021: ("Link Control Protocol", None), 0x8021: ("Internet Protocol Control Protocol", None),
              0xC023: ("Password Authentication Protocol", None),
              0xC223: ("Challenge Handshake Authentication Protocol", None)}


def dissect_llc(ctx: Ctx, tvb: Tvb, parent: Node | None) -> int | None:
    """Logical-Link Control header, SNAP extension, then CDP/STP or data."""
    s = tvb.start
    tvb.check(s, 3, "LLC")
    dsap, ssap, ctrl = ctx.data[s], ctx.data[s + 1], ctx.data[s + 2]
    snap = dsap == 0xAA and ssap == 0xAA
    hl = 8 if snap else 3
    lay = ctx.layer("llc", "Logical-Link Control", s, min(hl, tvb.captured))
    d = add(lay, "llc.dsap", f"DSAP: {SAPS.get(dsap & 0xFE, 'Unknown')} (0x{dsap:02x})", dsap, s, 1)
    bitfield(d, "llc.dsap.sap", "SAP", dsap, 0xFE, 8, s, 1, SAPS.get(dsap & 0xFE, "Unknown"))
    flag(d, "llc.dsap.ig", "IG Bit", dsap, 0x01, 8, s, 1, "Group", "Individual")
    ss = add(lay, "llc.ssap", f"SSAP: {SAPS.get(ssap & 0xFE, 'Unknown')} (0x{ssap:02x})", ssap, s + 1, 1)
    bitfield(ss, "llc.ssap.sap", "SAP", ssap, 0xFE, 8, s + 1, 1, SAPS.get(ssap & 0xFE, "Unknown"))
    flag(ss, "llc.ssap.cr", "CR Bit", ssap, 0x01, 8, s + 1, 1, "Response", "Command")
    if ctrl & 0x03 == 0x03:
        c = add(lay, "llc.control", f"Control field: U, func=UI (0x{ctrl:02x})" if ctrl == 3 else
                f"Control field: U (0x{ctrl:02x})", ctrl, s + 2, 1)
        bitfield(c, "llc.control.u_modifier_cmd", "Command", ctrl, 0xEC, 8, s + 2, 1,
                 f"Unnumbered Information (0x{(ctrl & 0xEC) >> 2:02x})" if ctrl == 3 else None)
        bitfield(c, "llc.control.ftype", "Frame type", ctrl, 0x03, 8, s + 2, 1, "Unnumbered frame (0x3)")
    else:
        add(lay, "llc.control", f"Control field: 0x{ctrl:02x}", ctrl, s + 2, 1)
    if snap:
        tvb.check(s + 3, 5, "LLC")
        oui = int.from_bytes(ctx.data[s + 3:s + 6], "big")
        pid = ctx.u16(s + 6)
        ob = ctx.data[s + 3:s + 6]
        add(lay, "llc.oui", f"Organization Code: {':'.join(f'{x:02x}' for x in ob)} "
            f"({OUIS.get(oui, 'Unknown')})", oui, s + 3, 3)
        payload = tvb.sub(s + 8)
        if oui == 0x00000C:
            add(lay, "llc.cisco_pid", f"PID: {CISCO_PIDS.get(pid, 'Unknown')} (0x{pid:04x})", pid, s + 6, 2)
            if pid == 0x2000:
                _cdp(ctx, payload)
            else:
                reg.data_layer(ctx, payload)
        elif oui == 0:
            add(lay, "llc.type", f"Type: {reg.etype_label(pid)}", pid, s + 6, 2)
            reg.call_ethertype(ctx, pid, payload, None, add_ethertype=False)
        else:
            add(lay, "llc.pid", f"PID: 0x{pid:04x}", pid, s + 6, 2)
            reg.data_layer(ctx, payload)
    elif dsap == 0x42 and ssap == 0x42:
        _stp(ctx, tvb.sub(s + 3))
    else:
        reg.data_layer(ctx, tvb.sub(s + 3))
    return None


CDP_TLVS = {1: "Device ID", 2: "Addresses", 3: "Port ID", 4: "Capabilities", 5: "Software Version",
            6: "Platform", 9: "VTP Management Domain", 10: "Native VLAN", 11: "Duplex",
            0x16: "Management Addresses"}


def _cdp(ctx: Ctx, tvb: Tvb) -> None:
    s = tvb.start
    lay = ctx.layer("cdp", "Cisco Discovery Protocol", s, tvb.captured)
    tvb.check(s, 4, "CDP")
    add(lay, "cdp.version", f"Version: {ctx.data[s]}", ctx.data[s], s, 1)
    add(lay, "cdp.ttl", f"TTL: {ctx.data[s + 1]} seconds", ctx.data[s + 1], s + 1, 1)
    ck = ctx.u16(s + 2)
    add(lay, "cdp.checksum", f"Checksum: 0x{ck:04x} [unverified]", ck, s + 2, 2)
    off = s + 4
    while off + 4 <= tvb.cap_end:
        t, ln = ctx.u16(off), ctx.u16(off + 2)
        if ln < 4:
            break
        name = CDP_TLVS.get(t, "Unknown")
        val = ctx.data[off + 4:min(off + ln, tvb.cap_end)]
        if t in (1, 3, 5, 6, 9):
            txt = val.decode("latin-1").split("\n")[0]
            n = add(lay, "cdp.tlv", f"{name}: {txt}", None, off, min(ln, tvb.cap_end - off))
        else:
            n = add(lay, "cdp.tlv", name, None, off, min(ln, tvb.cap_end - off))
        add(n, "cdp.tlv.type", f"Type: {name} (0x{t:04x})", t, off, 2)
        add(n, "cdp.tlv.len", f"Length: {ln}", ln, off + 2, 2)
        off += ln


def _stp(ctx: Ctx, tvb: Tvb) -> None:
    s = tvb.start
    lay = ctx.layer("stp", "Spanning Tree Protocol", s, tvb.captured)
    tvb.check(s, 4, "STP")
    pid, ver, typ = ctx.u16(s), ctx.data[s + 2], ctx.data[s + 3]
    add(lay, "stp.protocol", f"Protocol Identifier: Spanning Tree Protocol (0x{pid:04x})", pid, s, 2)
    vnames = {0: "Spanning Tree", 2: "Rapid Spanning Tree", 3: "Multiple Spanning Tree"}
    add(lay, "stp.version", f"Protocol Version Identifier: {vnames.get(ver, 'Unknown')} ({ver})", ver, s + 2, 1)
    tnames = {0: "Configuration", 0x80: "Topology Change Notification", 2: "Rapid/Multiple Spanning Tree"}
    add(lay, "stp.type", f"BPDU Type: {tnames.get(typ, 'Unknown')} (0x{typ:02x})", typ, s + 3, 1)
    if tvb.cap_end >= s + 35 and typ in (0, 2):
        fl = ctx.data[s + 4]
        add(lay, "stp.flags", f"BPDU flags: 0x{fl:02x}", fl, s + 4, 1)
        rp, cost = ctx.u16(s + 5), ctx.u32(s + 13)
        add(lay, "stp.root.hw", f"Root Identifier: {rp >> 12 << 12} / {rp & 0xFFF} / "
            f"{':'.join(f'{x:02x}' for x in ctx.data[s + 7:s + 13])}", None, s + 5, 8)
        add(lay, "stp.root.cost", f"Root Path Cost: {cost}", cost, s + 13, 4)


def dissect_pppoes(ctx: Ctx, tvb: Tvb, parent: Node | None) -> int | None:
    """PPPoE session stage header, then PPP."""
    s = tvb.start
    f = walk(PPPoE, ctx.data, s, tvb.cap_end)
    lay = ctx.layer("pppoes", "PPP-over-Ethernet Session", s, 6)
    if not f.complete:
        tvb.check(s, 6, "PPPoES")
    vt = ctx.data[s]
    bitfield(lay, "pppoe.version", "Version", vt, 0xF0, 8, s, 1)
    bitfield(lay, "pppoe.type", "Type", vt, 0x0F, 8, s, 1)
    code = f["code"]
    add(lay, "pppoe.code", f"Code: {'Session Data' if code == 0 else 'Unknown'} (0x{code:02x})", code, s + 1, 1)
    add(lay, "pppoe.session_id", f"Session ID: 0x{f['sessionid']:04x}", f["sessionid"], s + 2, 2)
    plen = f["len"]
    add(lay, "pppoe.payload_length", f"Payload Length: {plen}", plen, s + 4, 2)
    payload = Tvb(s + 6, tvb.cap_end, min(tvb.rep_end, s + 6 + plen))
    _ppp(ctx, payload)
    return 6 + plen


def _ppp(ctx: Ctx, tvb: Tvb) -> None:
    s = tvb.start
    lay = ctx.layer("ppp", "Point-to-Point Protocol", s, 2)
    tvb.check(s, 2, "PPP")
    proto = ctx.u16(s)
    name, etype = PPP_PROTOS.get(proto, ("Unknown", None))
    add(lay, "ppp.protocol", f"Protocol: {name} (0x{proto:04x})", proto, s, 2)
    payload = tvb.sub(s + 2)
    if etype is not None:
        reg.call_ethertype(ctx, etype, payload, None, add_ethertype=False)
    else:
        reg.data_layer(ctx, payload)


reg.ETHERTYPE[0x8864] = dissect_pppoes
