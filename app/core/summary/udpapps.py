"""UDP services in the packet list: DHCP, DHCPv6, NTP, RIP, Dropbox LAN sync discovery and
ONC RPC calls (NFS)."""
from __future__ import annotations

import zlib

from .columns import Cols, mac

DHCP_TYPES = {1: "Discover", 2: "Offer", 3: "Request", 4: "Decline", 5: "ACK", 6: "NAK",
              7: "Release", 8: "Inform", 9: "Force Renew", 10: "Lease query",
              11: "Lease Unassigned", 12: "Lease Unknown", 13: "Lease Active",
              14: "Bulk Lease Query", 15: "Lease Query Done", 16: "Active LeaseQuery",
              17: "Lease Query Status", 18: "TLS"}
_DHCP_COOKIE = b"\x63\x82\x53\x63"


def dhcp(c: Cols, data: bytes) -> bool:
    if len(data) < 240:
        return False
    c.add("dhcp")
    c.set_protocol("DHCP")
    op = data[0]
    xid = int.from_bytes(data[4:8], "big")
    msg_type = None
    if data[236:240] == _DHCP_COOKIE:
        off = 240
        while off < len(data):
            code = data[off]
            if code == 255:
                break
            if code == 0:
                off += 1
                continue
            olen = data[off + 1]
            if code == 53 and olen >= 1:
                msg_type = data[off + 2]
            off += 2 + olen
    if msg_type is None:
        c.set_protocol("BOOTP")
        c.set_info(f"Boot Request from {mac(data[28:34])}" if op == 1 else "Boot Reply")
        return True
    name = DHCP_TYPES.get(msg_type, f"Unknown Message Type (0x{msg_type:02x})")
    c.set_info(f"DHCP {name:<8} - Transaction ID 0x{xid:x}")
    return True


DHCPV6_TYPES = {1: "Solicit", 2: "Advertise", 3: "Request", 4: "Confirm", 5: "Renew",
                6: "Rebind", 7: "Reply", 8: "Release", 9: "Decline", 10: "Reconfigure",
                11: "Information-request", 12: "Relay-forw", 13: "Relay-reply"}


def dhcpv6(c: Cols, data: bytes) -> bool:
    if len(data) < 4:
        return False
    c.add("dhcpv6")
    c.set_protocol("DHCPv6")
    mtype = data[0]
    name = DHCPV6_TYPES.get(mtype, f"Unknown ({mtype})")
    if mtype in (12, 13):
        c.set_info(f"{name} ")
        return True
    xid = int.from_bytes(data[1:4], "big")
    text = f"{name} XID: 0x{xid:06x} "
    off = 4
    while off + 4 <= len(data):
        code = int.from_bytes(data[off:off + 2], "big")
        olen = int.from_bytes(data[off + 2:off + 4], "big")
        if code == 1:
            text += f"CID: {data[off + 4:off + 4 + olen].hex()} "
        off += 4 + olen
    c.set_info(text)
    return True


NTP_MODES = {0: "reserved", 1: "symmetric active", 2: "symmetric passive", 3: "client",
             4: "server", 5: "broadcast", 6: "reserved for NTP control message",
             7: "reserved for private use"}


def ntp(c: Cols, data: bytes) -> bool:
    if len(data) < 1:
        return False
    c.add("ntp")
    c.set_protocol("NTP")
    version, mode = (data[0] >> 3) & 7, data[0] & 7
    if mode == 6:
        c.set_info(f"NTP Version {version}, control")
    elif mode == 7:
        c.set_info(f"NTP Version {version}, private")
    else:
        c.set_info(f"NTP Version {version}, {NTP_MODES[mode]}")
    return True


def rip(c: Cols, data: bytes) -> bool:
    if len(data) < 4:
        return False
    c.add("rip")
    c.set_protocol(f"RIPv{data[1]}")
    c.set_info({1: "Request", 2: "Response"}.get(data[0], f"Unknown command ({data[0]})"))
    return True


def db_lsp_disc(c: Cols, data: bytes) -> bool:
    c.add("db-lsp-disc")
    c.set_protocol("DB-LSP-DISC")
    c.set_info("Dropbox LAN sync Discovery Protocol")
    if data[:1] in (b"{", b"["):
        c.add("json")
        c.set_protocol("DB-LSP-DISC/JSON")
        c.append_sep(", ", "JavaScript Object Notation")
    return True


# -- ONC RPC / NFS --------------------------------------------------------------------------
NFS3_PROCS = {0: "NULL", 1: "GETATTR", 2: "SETATTR", 3: "LOOKUP", 4: "ACCESS", 5: "READLINK",
              6: "READ", 7: "WRITE", 8: "CREATE", 9: "MKDIR", 10: "SYMLINK", 11: "MKNOD",
              12: "REMOVE", 13: "RMDIR", 14: "RENAME", 15: "LINK", 16: "READDIR",
              17: "READDIRPLUS", 18: "FSSTAT", 19: "FSINFO", 20: "PATHCONF", 21: "COMMIT"}
_STABLE = {0: "UNSTABLE", 1: "DATA_SYNC", 2: "FILE_SYNC"}


def rpc(c: Cols, data: bytes) -> bool:
    """ONC RPC calls to NFSv3 (replies need the matching call, which a single packet lacks)."""
    if len(data) < 40:
        return False
    msg_type = int.from_bytes(data[4:8], "big")
    rpcvers = int.from_bytes(data[8:12], "big")
    prog = int.from_bytes(data[12:16], "big")
    vers = int.from_bytes(data[16:20], "big")
    proc = int.from_bytes(data[20:24], "big")
    if msg_type != 0 or rpcvers != 2 or prog != 100003 or vers != 3:
        return False
    off = 24
    for _ in range(2):                                   # credentials, verifier
        length = int.from_bytes(data[off + 4:off + 8], "big")
        off += 8 + (length + 3) // 4 * 4
    c.add("rpc")
    c.add("nfs")
    c.set_protocol("NFS")
    name = NFS3_PROCS.get(proc, f"Unknown ({proc})")
    text = f"V3 {name} Call"
    if proc != 0:
        fh_len = int.from_bytes(data[off:off + 4], "big")
        fh = data[off + 4:off + 4 + fh_len]
        text += f", FH: 0x{zlib.crc32(fh):08x}"
        off += 4 + (fh_len + 3) // 4 * 4
        if proc == 7:
            offset = int.from_bytes(data[off:off + 8], "big")
            count = int.from_bytes(data[off + 8:off + 12], "big")
            stable = int.from_bytes(data[off + 12:off + 16], "big")
            text += f" Offset: {offset} Len: {count} {_STABLE.get(stable, str(stable))}"
        elif proc == 6:
            offset = int.from_bytes(data[off:off + 8], "big")
            count = int.from_bytes(data[off + 8:off + 12], "big")
            text += f" Offset: {offset} Len: {count}"
    c.set_info(text)
    return True
