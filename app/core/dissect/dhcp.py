"""DHCP/BOOTP: the fixed BOOTP header (Scapy's BOOTP fields) and the DHCP options."""
from __future__ import annotations

from scapy.layers.dhcp import BOOTP

from . import registry as reg
from .dns import secs_text
from .node import Ctx, Node, Tvb, add, bitfield, flag, hexstr, ipv4, mac

MSG_TYPES = {1: "Discover", 2: "Offer", 3: "Request", 4: "Decline", 5: "ACK", 6: "NAK", 7: "Release",
             8: "Inform", 9: "Force Renew", 10: "Lease query", 11: "Lease Unassigned", 12: "Lease Unknown",
             13: "Lease Active"}
OPTIONS = {0: "Padding", 1: "Subnet Mask", 2: "Time Offset", 3: "Router", 4: "Time Server", 5: "Name Server",
           6: "Domain Name Server", 7: "Log Server", 12: "Host Name", 15: "Domain Name", 26: "Interface MTU",
           28: "Broadcast Address", 31: "Perform Router Discover", 33: "Static Route",
           42: "Network Time Protocol Servers", 43: "Vendor-Specific Information",
           44: "NetBIOS over TCP/IP Name Server", 46: "NetBIOS over TCP/IP Node Type",
           47: "NetBIOS over TCP/IP Scope", 50: "Requested IP Address", 51: "IP Address Lease Time",
           52: "Option Overload", 53: "DHCP Message Type", 54: "DHCP Server Identifier",
           55: "Parameter Request List", 56: "Message", 57: "Maximum DHCP Message Size",
           58: "Renewal Time Value", 59: "Rebinding Time Value", 60: "Vendor class identifier",
           61: "Client identifier", 66: "TFTP Server Name", 67: "Bootfile name", 77: "User Class Information",
           81: "Client Fully Qualified Domain Name", 82: "Agent Information Option", 116: "DHCP Auto-Configuration",
           119: "Domain Search", 121: "Classless Static Route", 249: "Private/Classless Static Route (Microsoft)",
           252: "Private/Proxy autodiscovery", 255: "End"}
IP_OPTS = {1: "subnet_mask", 3: "router", 4: "time_server", 5: "name_server", 6: "domain_name_server",
           28: "broadcast_address", 42: "ntp_server", 44: "netbios_over_tcpip_name_server",
           50: "requested_ip_address", 54: "dhcp_server_id"}
TIME_OPTS = {51: "ip_address_lease_time", 58: "renewal_time_value", 59: "rebinding_time_value"}
STR_OPTS = {12: ("hostname", "Host Name"), 15: ("domain_name", "Domain Name"),
            60: ("vendor_class_id", "Vendor class identifier"), 66: ("tftp_server_name", "TFTP Server Name"),
            67: ("bootfile_name", "Bootfile name"), 56: ("message", "Message")}


def dissect_dhcp(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    """Dynamic Host Configuration Protocol (BOOTP with the DHCP magic cookie)."""
    s = tvb.start
    d = ctx.data
    from .scapyfields import walk
    f = walk(BOOTP, d, s, min(tvb.cap_end, s + 236), stop_after="file")
    lay = ctx.layer("dhcp", "Dynamic Host Configuration Protocol", s, tvb.captured, parent)
    tvb.check(s, 236, "DHCP")
    op = f["op"]
    add(lay, "dhcp.type", f"Message type: {'Boot Request' if op == 1 else 'Boot Reply'} ({op})", op, s, 1)
    ht = f["htype"]
    add(lay, "dhcp.hw.type", f"Hardware type: {'Ethernet' if ht == 1 else 'Unknown'} (0x{ht:02x})", ht, s + 1, 1)
    add(lay, "dhcp.hw.len", f"Hardware address length: {f['hlen']}", f["hlen"], s + 2, 1)
    add(lay, "dhcp.hops", f"Hops: {f['hops']}", f["hops"], s + 3, 1)
    add(lay, "dhcp.id", f"Transaction ID: 0x{f['xid']:08x}", f["xid"], s + 4, 4)
    add(lay, "dhcp.secs", f"Seconds elapsed: {f['secs']}", f["secs"], s + 8, 2)
    fl = ctx.u16(s + 10)
    fn = add(lay, "dhcp.flags", f"Bootp flags: 0x{fl:04x} ({'Broadcast' if fl & 0x8000 else 'Unicast'})", fl, s + 10, 2)
    flag(fn, "dhcp.flags.bc", "Broadcast flag", fl, 0x8000, 16, s + 10, 2, "Broadcast", "Unicast")
    bitfield(fn, "dhcp.flags.reserved", "Reserved flags", fl, 0x7FFF, 16, s + 10, 2, f"0x{fl & 0x7FFF:04x}")
    for i, (name, title) in enumerate((("client", "Client IP address"), ("your", "Your (client) IP address"),
                                       ("server", "Next server IP address"), ("relay", "Relay agent IP address"))):
        a = ipv4(d[s + 12 + 4 * i:s + 16 + 4 * i])
        add(lay, f"dhcp.ip.{name}", f"{title}: {a}", a, s + 12 + 4 * i, 4)
    hl = min(f["hlen"], 16)
    if ht == 1 and hl == 6:
        m = mac(d[s + 28:s + 34])
        add(lay, "dhcp.hw.mac_addr", f"Client MAC address: {m} ({m})", m, s + 28, 6)
        pad = d[s + 34:s + 44]
        add(lay, "dhcp.hw.addr_padding", f"Client hardware address padding: {hexstr(pad)}", pad, s + 34, 10)
    else:
        add(lay, "dhcp.hw.addr", f"Client hardware address: {hexstr(d[s + 28:s + 44])}", d[s + 28:s + 44], s + 28, 16)
    for off, ln, name, title in ((44, 64, "server", "Server host name"), (108, 128, "file", "Boot file name")):
        raw = d[s + off:s + off + ln]
        if raw.strip(b"\x00"):
            v = raw.split(b"\x00")[0].decode("latin-1")
            add(lay, f"dhcp.{name}", f"{title}: {v}", v, s + off, ln)
        else:
            add(lay, f"dhcp.{name}", f"{title} not given", "", s + off, ln)
    if tvb.cap_end < s + 240:
        return
    if d[s + 236:s + 240] != b"\x63\x82\x53\x63":
        add(lay, "dhcp.cookie", f"Magic cookie: {hexstr(d[s + 236:s + 240])}", d[s + 236:s + 240], s + 236, 4)
        return
    add(lay, "dhcp.cookie", "Magic cookie: DHCP", d[s + 236:s + 240], s + 236, 4)
    _options(ctx, tvb, lay, s + 240)


def _options(ctx: Ctx, tvb: Tvb, lay: Node, p: int) -> None:
    d = ctx.data
    end = tvb.cap_end
    while p < end:
        code = d[p]
        if code == 0:
            q = p
            while q < end and d[q] == 0:
                q += 1
            add(lay, "dhcp.option.padding", f"Padding: {hexstr(d[p:q])}", d[p:q], p, q - p)
            p = q
            continue
        name = OPTIONS.get(code, "Unknown")
        if code == 255:
            o = add(lay, "dhcp.option.type", "Option: (255) End", code, p, 1)
            add(o, "dhcp.option.end", "Option End: 255", 255, p, 1)
            p += 1
            continue
        if p + 2 > end:
            break
        ln = d[p + 1]
        v = p + 2
        val = d[v:v + ln]
        o = add(lay, "dhcp.option.type", f"Option: ({code}) {name}", code, p, 2 + ln)
        add(o, "dhcp.option.length", f"Length: {ln}", ln, p + 1, 1)
        if code == 53 and ln == 1:
            mt = val[0]
            o["label"] += f" ({MSG_TYPES.get(mt, 'Unknown')})"
            add(o, "dhcp.option.dhcp", f"DHCP: {MSG_TYPES.get(mt, 'Unknown')} ({mt})", mt, v, 1)
            lay["label"] = f"Dynamic Host Configuration Protocol ({MSG_TYPES.get(mt, 'Unknown')})"
        elif code in IP_OPTS and ln >= 4 and ln % 4 == 0:
            title = name if code != 1 else "Subnet Mask"
            for i in range(0, ln, 4):
                a = ipv4(val[i:i + 4])
                add(o, f"dhcp.option.{IP_OPTS[code]}", f"{title}: {a}", a, v + i, 4)
        elif code in TIME_OPTS and ln == 4:
            secs = int.from_bytes(val, "big")
            add(o, f"dhcp.option.{TIME_OPTS[code]}", f"{name}: ({secs}s) {secs_text(secs)}", secs, v, 4)
        elif code in STR_OPTS:
            fname, title = STR_OPTS[code]
            sv = val.decode("latin-1")
            add(o, f"dhcp.option.{fname}", f"{title}: {sv}", sv, v, ln)
        elif code == 55:
            for i, c in enumerate(val):
                add(o, "dhcp.option.request_list_item",
                    f"Parameter Request List Item: ({c}) {OPTIONS.get(c, 'Unknown')}", c, v + i, 1)
        elif code == 57 and ln == 2:
            mx = int.from_bytes(val, "big")
            add(o, "dhcp.option.dhcp_max_message_size", f"Maximum DHCP Message Size: {mx}", mx, v, 2)
        elif code == 61 and ln == 7 and val[0] == 1:
            add(o, "dhcp.hw.type", "Hardware type: Ethernet (0x01)", 1, v, 1)
            m = mac(val[1:7])
            add(o, "dhcp.hw.mac_addr", f"Client MAC address: {m} ({m})", m, v + 1, 6)
        elif ln:
            add(o, "dhcp.option.value", f"Value: {hexstr(val)}", val, v, ln)
        p = v + ln


def _dhcp_port(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    dissect_dhcp(ctx, tvb, parent)


reg.UDP_PORT[67] = _dhcp_port
reg.UDP_PORT[68] = _dhcp_port
