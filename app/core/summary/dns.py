"""DNS, mDNS, LLMNR and NetBIOS Name Service in the packet list.

Info: "<opcode>[ response] 0x<id>[, <rcode>]" then " <TYPE> <name>" per question (mDNS adds
', "QU"/"QM" question') and " <TYPE> <data>" per resource record of every section, e.g.
"Standard query response 0x1234 A example.com A 1.2.3.4".
"""
from __future__ import annotations

import struct

from .columns import Cols, ip4, ip6

TYPES = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
    10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG",
    25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC",
    33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 40: "SINK",
    41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC",
    48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA",
    55: "HIP", 56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS", 60: "CDNSKEY",
    61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 99: "SPF",
    100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC", 104: "NID", 105: "L32", 106: "L64",
    107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR",
    253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA", 258: "AVC", 259: "DOA",
    260: "AMTRELAY", 32768: "TA", 32769: "DLV",
}
OPCODES = {0: "Standard query", 1: "Inverse query", 2: "Server status request",
           4: "Zone change notification", 5: "Dynamic update", 6: "DNS Stateful operations (DSO)"}
RCODES = {1: "Format error", 2: "Server failure", 3: "No such name", 4: "Not implemented",
          5: "Refused", 6: "Name exists", 7: "RRset exists", 8: "RRset does not exist",
          9: "Not authoritative", 10: "Name out of zone", 11: "DSO-Type not implemented",
          16: "Bad OPT Version or TSIG Signature Failure", 17: "Key not recognized",
          18: "Signature out of time window", 19: "Bad TKEY Mode", 20: "Duplicate key name",
          21: "Algorithm not supported", 22: "Bad truncation", 23: "Bad/missing server cookie"}


def type_name(t: int) -> str:
    return TYPES.get(t, f"Unknown ({t})")


def read_name(msg: bytes, off: int) -> tuple[str, int]:
    """A possibly compressed domain name; returns (text, offset after the name)."""
    labels: list[str] = []
    end = -1
    hops = 0
    while True:
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if end < 0:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 64:
                break
            continue
        label = msg[off + 1:off + 1 + n]
        if len(label) < n:
            raise IndexError("label cut short")
        labels.append(label.decode("latin-1"))
        off += 1 + n
    name = ".".join(labels) if labels else "<Root>"
    return name, (end if end >= 0 else off)


def dns(c: Cols, msg: bytes, kind: str = "DNS") -> bool:
    if len(msg) < 12:
        return False
    c.add(kind.lower())
    c.set_protocol(kind)
    ident, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg, 0)
    response = bool(flags & 0x8000)
    opcode = (flags >> 11) & 0xF
    text = f"{OPCODES.get(opcode, f'Unknown operation ({opcode})')}"
    text += f"{' response' if response else ''} 0x{ident:04x}"
    rcode = flags & 0xF
    if response and rcode:
        text += f" {RCODES.get(rcode, f'Unknown error ({rcode})')}"
    c.set_info(text)
    off = 12
    for _ in range(qd):
        name, off = read_name(msg, off)
        qtype, qclass = struct.unpack_from("!HH", msg, off)
        off += 4
        piece = f" {type_name(qtype)} {name}"
        if kind == "MDNS":
            piece += ', "QU" question' if qclass & 0x8000 else ', "QM" question'
        c.append_info(piece)
    for _ in range(an + ns + ar):
        off = _record(c, msg, off, kind == "MDNS")
    return True


def _record(c: Cols, msg: bytes, off: int, mdns: bool) -> int:
    name, off = read_name(msg, off)
    rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, off)
    off += 10
    rd = msg[off:off + rdlen]
    if len(rd) < rdlen:
        raise IndexError("record data cut short")
    piece = f" {type_name(rtype)}"
    if mdns and rclass & 0x8000 and rtype != 41:
        piece += ", cache flush"
    if rtype == 1 and rdlen == 4:
        piece += f" {ip4(rd)}"
    elif rtype == 28 and rdlen == 16:
        piece += f" {ip6(rd)}"
    elif rtype in (2, 5, 12, 39, 47):
        piece += f" {read_name(msg, off)[0]}"
    elif rtype == 6:
        piece += f" {read_name(msg, off)[0]}"
    elif rtype == 15:
        piece += f" {struct.unpack_from('!H', msg, off)[0]} {read_name(msg, off + 2)[0]}"
    elif rtype == 33:
        prio, weight, port = struct.unpack_from("!HHH", msg, off)
        piece += f" {prio} {weight} {port} {read_name(msg, off + 6)[0]}"
    c.append_info(piece)
    return off + rdlen


def dns_tcp(c: Cols, data: bytes, kind: str) -> bool:
    """DNS over TCP: messages prefixed by a 2-byte length."""
    if len(data) < 14:
        return False
    length = int.from_bytes(data[:2], "big")
    return dns(c, data[2:2 + length], kind)


# -- NetBIOS Name Service -------------------------------------------------------------------
NB_OPCODES = {0: "Name query", 5: "Registration", 6: "Release", 7: "Wait for acknowledgment",
              8: "Refresh", 9: "Refresh (alternate opcode)", 15: "Multi-homed registration"}
NB_RCODES = {1: "Format error", 2: "Server failure", 3: "Requested name does not exist",
             4: "Request is not implemented", 5: "Request was refused",
             6: "Active error", 7: "Name in conflict"}
NB_TYPES = {32: "NB", 33: "NBSTAT", 1: "A", 2: "NS", 10: "NULL"}


def _nb_name(msg: bytes, off: int) -> tuple[str, int]:
    raw, off = read_name(msg, off)
    first, _, scope = raw.partition(".")
    if len(first) != 32:
        return raw, off
    decoded = bytes(((ord(first[i]) - 65) << 4) | (ord(first[i + 1]) - 65) for i in range(0, 32, 2))
    name = f"{decoded[:15].decode('latin-1').rstrip(' ')}<{decoded[15]:02x}>"
    return (f"{name}.{scope}" if scope else name), off


def nbns(c: Cols, msg: bytes) -> bool:
    if len(msg) < 12:
        return False
    c.add("nbns")
    c.set_protocol("NBNS")
    ident, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg, 0)
    response = bool(flags & 0x8000)
    opcode = (flags >> 11) & 0xF
    text = NB_OPCODES.get(opcode, f"Unknown operation ({opcode})")
    if response:
        text += " response"
        if flags & 0xF:
            text += f", {NB_RCODES.get(flags & 0xF, 'Unknown error')}"
    c.set_info(text)
    off = 12
    for _ in range(qd):
        name, off = _nb_name(msg, off)
        qtype = struct.unpack_from("!H", msg, off)[0]
        off += 4
        c.append_info(f" {NB_TYPES.get(qtype, f'Unknown ({qtype})')} {name}")
    for _ in range(an + ns + ar):
        name, off = _nb_name(msg, off)
        rtype, _, _, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        rd = msg[off:off + rdlen]
        piece = f" {NB_TYPES.get(rtype, f'Unknown ({rtype})')}"
        if rtype == 32:
            piece += "".join(f" {ip4(rd[i + 2:i + 6])}" for i in range(0, len(rd) - 5, 6))
        elif rtype != 33:
            piece += f" {name}"
        c.append_info(piece)
        off += rdlen
    return True
