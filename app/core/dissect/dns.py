"""DNS over UDP/TCP, and its multicast variants mDNS and LLMNR (same wire format, dns.* fields)."""
from __future__ import annotations

import ipaddress

from scapy.layers.dns import DNS

from . import registry as reg
from .node import Ctx, Malformed, Node, Tvb, add, bitfield, flag, hexstr, ipv4
from .scapyfields import walk

TYPES = {1: ("A", "Host Address"), 2: ("NS", "authoritative Name Server"),
         5: ("CNAME", "Canonical NAME for an alias"), 6: ("SOA", "Start Of a zone of Authority"),
         12: ("PTR", "domain name PoinTeR"), 13: ("HINFO", "host information"), 15: ("MX", "Mail eXchange"),
         16: ("TXT", "Text strings"), 28: ("AAAA", "IPv6 Address"), 33: ("SRV", "Server Selection"),
         35: ("NAPTR", "Naming Authority PoinTeR"), 41: ("OPT", None), 43: ("DS", "Delegation Signer"),
         46: ("RRSIG", "Resource Record Signature"), 47: ("NSEC", "Next Secure"),
         48: ("DNSKEY", "DNS Public Key"), 64: ("SVCB", "General-purpose service binding"),
         65: ("HTTPS", "HTTPS Specific Service Endpoints"), 99: ("SPF", None),
         255: ("ANY", "A request for all records the server/cache has available"),
         252: ("AXFR", "transfer of an entire zone"), 257: ("CAA", "Certification Authority Restriction"),
         32: ("NB", None)}
CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
OPCODES = {0: "Standard query", 1: "Inverse query", 2: "Server status request", 4: "Zone change notification",
           5: "Dynamic update"}
RCODES = {0: "No error", 1: "Format error", 2: "Server failure", 3: "No such name", 4: "Not implemented",
          5: "Refused", 6: "Name exists", 7: "RRset exists", 8: "RRset does not exist", 9: "Not authoritative",
          10: "Name out of zone"}
PROTOS = {"dns": "Domain Name System", "mdns": "Multicast Domain Name System",
          "llmnr": "Link-local Multicast Name Resolution"}


def type_label(t: int) -> str:
    """``A (Host Address) (1)`` as in the Type lines."""
    short, desc = TYPES.get(t, (None, None))
    if short is None:
        return f"Unknown ({t})"
    return f"{short} ({desc}) ({t})" if desc else f"{short} ({t})"


def _short_type(t: int) -> str:
    return TYPES.get(t, (None, None))[0] or f"Unknown ({t})"


def secs_text(v: int) -> str:
    """Wireshark's unsigned_time_secs_to_str: ``1 hour, 2 minutes, 3 seconds``."""
    if v == 0:
        return "0 seconds"
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        q, v = divmod(v, size)
        if q:
            parts.append(f"{q} {unit}{'s' if q != 1 else ''}")
    return ", ".join(parts)


def read_name(d: bytes, off: int, base: int, tvb: Tvb, proto: str) -> tuple[str, int, int]:
    """A possibly compressed domain name: (text, bytes used at ``off``, label count)."""
    labels: list[str] = []
    p, used, jumps = off, None, 0
    while True:
        tvb.check(p, 1, proto)
        ln = d[p]
        if ln & 0xC0 == 0xC0:
            tvb.check(p, 2, proto)
            if used is None:
                used = p + 2 - off
            target = base + (((ln & 0x3F) << 8) | d[p + 1])
            jumps += 1
            if jumps > 64 or target >= tvb.cap_end or target < base:
                raise Malformed(proto, "Bad compression pointer")
            p = target
            continue
        if ln & 0xC0:
            raise Malformed(proto, "Unsupported label type")
        if ln == 0:
            if used is None:
                used = p + 1 - off
            break
        tvb.check(p + 1, ln, proto)
        raw = d[p + 1:p + 1 + ln]
        labels.append("".join(chr(c) if 32 < c < 127 and c != 0x5C else f"\\{c:03d}" if c != 32
                              else " " for c in raw))
        p += 1 + ln
        if len(labels) > 128:
            raise Malformed(proto, "Name too long")
    return (".".join(labels) if labels else "<Root>"), used, len(labels)


def dissect_dns(ctx: Ctx, tvb: Tvb, parent: Node | None, proto: str = "dns", over_tcp: bool = False) -> None:
    """One DNS message (with the 2-byte length prefix when carried by TCP)."""
    s = tvb.start
    d = ctx.data
    title = PROTOS[proto]
    lay = ctx.layer(proto, title, s, tvb.captured, parent)
    if over_tcp:
        tvb.check(s, 2, title)
        ln = ctx.u16(s)
        add(lay, "dns.length", f"Length: {ln}", ln, s, 2)
        s += 2
        tvb = Tvb(s, tvb.cap_end, min(tvb.rep_end, s + ln))
    f = walk(DNS, d, s, min(tvb.cap_end, s + 12), stop_after="arcount")
    if not f.complete:
        if "id" in f.values:
            add(lay, "dns.id", f"Transaction ID: 0x{f['id']:04x}", f["id"], s, 2)
        tvb.check(s, 12, proto.upper())
    ident, fl = f["id"], ctx.u16(s + 2)
    resp = fl >> 15
    lay["label"] = f"{title} ({'response' if resp else 'query'})"
    add(lay, "dns.id", f"Transaction ID: 0x{ident:04x}", ident, s, 2)
    _flags(lay, fl, s + 2)
    counts = (f["qdcount"], f["ancount"], f["nscount"], f["arcount"])
    for (name, title_c), n, i in zip((("dns.count.queries", "Questions"), ("dns.count.answers", "Answer RRs"),
                                      ("dns.count.auth_rr", "Authority RRs"), ("dns.count.add_rr", "Additional RRs")),
                                     counts, range(4)):
        add(lay, name, f"{title_c}: {n}", n, s + 4 + 2 * i, 2)
    p = s + 12
    mdns = proto == "mdns"
    if counts[0]:
        # sections span the rest until their end is known (kept if a record is cut)
        q = add(lay, "", "Queries", None, p, tvb.cap_end - p)
        for _ in range(counts[0]):
            p = _question(ctx, tvb, q, p, s, mdns, proto)
        q["length"] = p - q["offset"]
    for n, title_s in zip(counts[1:], ("Answers", "Authoritative nameservers", "Additional records")):
        if not n:
            continue
        sec = add(lay, "", title_s, None, p, tvb.cap_end - p)
        for _ in range(n):
            p = _rr(ctx, tvb, sec, p, s, mdns, proto)
        sec["length"] = p - sec["offset"]


def _flags(lay: Node, fl: int, off: int) -> None:
    resp = fl >> 15
    op = (fl >> 11) & 0xF
    rc = fl & 0xF
    summary = OPCODES.get(op, "Unknown operation")
    if resp:
        summary += f" response, {RCODES.get(rc, 'Unknown error')}"
    fn = add(lay, "dns.flags", f"Flags: 0x{fl:04x} {summary}", fl, off, 2)
    flag(fn, "dns.flags.response", "Response", fl, 0x8000, 16, off, 2, "Message is a response",
         "Message is a query")
    bitfield(fn, "dns.flags.opcode", "Opcode", fl, 0x7800, 16, off, 2, f"{OPCODES.get(op, 'Unknown')} ({op})")
    if resp:
        flag(fn, "dns.flags.authoritative", "Authoritative", fl, 0x0400, 16, off, 2,
             "Server is an authority for domain", "Server is not an authority for domain")
    flag(fn, "dns.flags.truncated", "Truncated", fl, 0x0200, 16, off, 2, "Message is truncated",
         "Message is not truncated")
    flag(fn, "dns.flags.recdesired", "Recursion desired", fl, 0x0100, 16, off, 2, "Do query recursively",
         "Don't do query recursively")
    if resp:
        flag(fn, "dns.flags.recavail", "Recursion available", fl, 0x0080, 16, off, 2,
             "Server can do recursive queries", "Server can't do recursive queries")
    bitfield(fn, "dns.flags.z", "Z", fl, 0x0040, 16, off, 2, f"reserved ({(fl >> 6) & 1})")
    if resp:
        flag(fn, "dns.flags.authenticated", "Answer authenticated", fl, 0x0020, 16, off, 2,
             "Answer/authority portion was authenticated by the server",
             "Answer/authority portion was not authenticated by the server")
    else:
        flag(fn, "dns.flags.authenticated", "AD bit", fl, 0x0020, 16, off, 2)
    flag(fn, "dns.flags.checkdisable", "Non-authenticated data", fl, 0x0010, 16, off, 2, "Acceptable",
         "Unacceptable")
    if resp:
        bitfield(fn, "dns.flags.rcode", "Reply code", fl, 0x000F, 16, off, 2, f"{RCODES.get(rc, 'Unknown')} ({rc})")


def _question(ctx: Ctx, tvb: Tvb, sec: Node, p: int, base: int, mdns: bool, proto: str) -> int:
    d = ctx.data
    name, used, nlabels = read_name(d, p, base, tvb, proto.upper())
    tvb.check(p + used, 4, proto.upper())
    t, c = ctx.u16(p + used), ctx.u16(p + used + 2)
    cls = c & 0x7FFF if mdns else c
    label = f"{name}: type {_short_type(t)}, class {CLASSES.get(cls, f'Unknown ({cls})')}"
    if mdns:
        label += ', "QU" question' if c & 0x8000 else ', "QM" question'
    q = add(sec, "", label, None, p, used + 4)
    add(q, "dns.qry.name", f"Name: {name}", name, p, used)
    add(q, "dns.qry.name.len", f"[Name Length: {len(name) if name != '<Root>' else 0}]",
        len(name) if name != "<Root>" else 0, p, used)
    add(q, "dns.count.labels", f"[Label Count: {nlabels}]", nlabels, p, used)
    add(q, "dns.qry.type", f"Type: {type_label(t)}", t, p + used, 2)
    add(q, "dns.qry.class", f"Class: {CLASSES.get(cls, 'Unknown')} (0x{cls:04x})", cls, p + used + 2, 2)
    if mdns:
        flag(q, "dns.qry.qu", '"QU" question', c, 0x8000, 16, p + used + 2, 2, "True", "False")
    return p + used + 4


def _rr(ctx: Ctx, tvb: Tvb, sec: Node, p: int, base: int, mdns: bool, proto: str) -> int:
    d = ctx.data
    P = proto.upper()
    name, used, _ = read_name(d, p, base, tvb, P)
    tvb.check(p + used, 10, P)
    q = p + used
    t, c, ttl, rdlen = ctx.u16(q), ctx.u16(q + 2), ctx.u32(q + 4), ctx.u16(q + 8)
    rd = q + 10
    rr = add(sec, "", f"{name}: type {_short_type(t)}", None, p, used + 10 + rdlen)
    add(rr, "dns.resp.name", f"Name: {name}", name, p, used)
    add(rr, "dns.resp.type", f"Type: {type_label(t)}", t, q, 2)
    if t == 41:
        add(rr, "dns.rr.udp_payload_size", f"UDP payload size: {c}", c, q + 2, 2)
        add(rr, "dns.resp.ext_rcode", f"Higher bits in extended RCODE: 0x{ttl >> 24:02x}", ttl >> 24, q + 4, 1)
        add(rr, "dns.resp.edns0_version", f"EDNS0 version: {(ttl >> 16) & 0xFF}", (ttl >> 16) & 0xFF, q + 5, 1)
        z = add(rr, "dns.resp.z", f"Z: 0x{ttl & 0xFFFF:04x}", ttl & 0xFFFF, q + 6, 2)
        flag(z, "dns.resp.z.do", "DO bit", ttl & 0xFFFF, 0x8000, 16, q + 6, 2,
             "Accepts DNSSEC security RRs", "Cannot handle DNSSEC security RRs")
        add(rr, "dns.resp.len", f"Data length: {rdlen}", rdlen, q + 8, 2)
        tvb.check(rd, rdlen, P)
        if rdlen:
            add(rr, "dns.opt", f"Option: ({rdlen} bytes)", d[rd:rd + rdlen], rd, rdlen)
        return rd + rdlen
    cls = c & 0x7FFF if mdns else c
    rr["label"] += f", class {CLASSES.get(cls, f'Unknown ({cls})')}"
    add(rr, "dns.resp.class", f"Class: {CLASSES.get(cls, 'Unknown')} (0x{cls:04x})", cls, q + 2, 2)
    if mdns:
        flag(rr, "dns.resp.cache_flush", "Cache flush", c, 0x8000, 16, q + 2, 2, "True", "False")
        if c & 0x8000:
            rr["label"] += ", cache flush"
    add(rr, "dns.resp.ttl", f"Time to live: {ttl} ({secs_text(ttl)})", ttl, q + 4, 4)
    add(rr, "dns.resp.len", f"Data length: {rdlen}", rdlen, q + 8, 2)
    tvb.check(rd, rdlen, P)
    _rdata(ctx, tvb, rr, t, rd, rdlen, base, P)
    return rd + rdlen


def _rdata(ctx: Ctx, tvb: Tvb, rr: Node, t: int, rd: int, rdlen: int, base: int, P: str) -> None:
    d = ctx.data
    if t == 1 and rdlen == 4:
        a = ipv4(d[rd:rd + 4])
        rr["label"] += f", addr {a}"
        add(rr, "dns.a", f"Address: {a}", a, rd, 4)
    elif t == 28 and rdlen == 16:
        a = str(ipaddress.IPv6Address(d[rd:rd + 16]))
        rr["label"] += f", addr {a}"
        add(rr, "dns.aaaa", f"AAAA Address: {a}", a, rd, 16)
    elif t in (2, 5, 12):
        nm, used, _ = read_name(d, rd, base, tvb, P)
        field, title, short = {2: ("dns.ns", "Name Server", "ns "), 5: ("dns.cname", "CNAME", "cname "),
                               12: ("dns.ptr.domain_name", "Domain Name", "")}[t]
        rr["label"] += f", {short}{nm}"
        add(rr, field, f"{title}: {nm}", nm, rd, used)
    elif t == 15 and rdlen >= 3:
        pref = ctx.u16(rd)
        nm, used, _ = read_name(d, rd + 2, base, tvb, P)
        rr["label"] += f", preference {pref}, mx {nm}"
        add(rr, "dns.mx.preference", f"Preference: {pref}", pref, rd, 2)
        add(rr, "dns.mx.mail_exchange", f"Mail Exchange: {nm}", nm, rd + 2, used)
    elif t == 16:
        p, end = rd, rd + rdlen
        while p < end:
            ln = d[p]
            txt = d[p + 1:p + 1 + ln].decode("utf-8", "replace")
            add(rr, "dns.txt.length", f"TXT Length: {ln}", ln, p, 1)
            add(rr, "dns.txt", f"TXT: {txt}", txt, p + 1, ln)
            p += 1 + ln
    elif t == 33 and rdlen >= 7:
        pr, w, port = ctx.u16(rd), ctx.u16(rd + 2), ctx.u16(rd + 4)
        nm, used, _ = read_name(d, rd + 6, base, tvb, P)
        rr["label"] += f", priority {pr}, weight {w}, port {port}, target {nm}"
        add(rr, "dns.srv.priority", f"Priority: {pr}", pr, rd, 2)
        add(rr, "dns.srv.weight", f"Weight: {w}", w, rd + 2, 2)
        add(rr, "dns.srv.port", f"Port: {port}", port, rd + 4, 2)
        add(rr, "dns.srv.target", f"Target: {nm}", nm, rd + 6, used)
    elif t == 6:
        mn, u1, _ = read_name(d, rd, base, tvb, P)
        rn, u2, _ = read_name(d, rd + u1, base, tvb, P)
        rr["label"] += f", mname {mn}"
        add(rr, "dns.soa.mname", f"Primary name server: {mn}", mn, rd, u1)
        add(rr, "dns.soa.rname", f"Responsible authority's mailbox: {rn}", rn, rd + u1, u2)
        p = rd + u1 + u2
        if p + 20 <= rd + rdlen:
            for i, (fname, title) in enumerate((("serial_number", "Serial Number"),
                                                ("refresh_interval", "Refresh Interval"),
                                                ("retry_interval", "Retry Interval"),
                                                ("expire_limit", "Expire limit"),
                                                ("minimum_ttl", "Minimum TTL"))):
                v = ctx.u32(p + 4 * i)
                shown = f"{v}" if i == 0 else f"{v} ({secs_text(v)})"
                add(rr, f"dns.soa.{fname}", f"{title}: {shown}", v, p + 4 * i, 4)
    elif rdlen:
        add(rr, "dns.data", f"Data: {hexstr(d[rd:rd + rdlen])}", d[rd:rd + rdlen], rd, rdlen)


def _udp(proto: str):
    def run(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
        dissect_dns(ctx, tvb, parent, proto)
    return run


def _tcp(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    dissect_dns(ctx, tvb, parent, "dns", over_tcp=True)


reg.UDP_PORT[53] = _udp("dns")
reg.UDP_PORT[5353] = _udp("mdns")
reg.UDP_PORT[5355] = _udp("llmnr")
reg.TCP_PORT[53] = _tcp
reg.TCP_PORT[5353] = _tcp
