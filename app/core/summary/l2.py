"""Layer-2 control protocols seen in packet lists: 802.2 LLC/SNAP, CDP, STP and LLDP."""
from __future__ import annotations

from .columns import Cols, mac

_CISCO_OUI = 0x00000C


def llc(c: Cols, buf: bytes, ctx) -> None:
    c.add("llc")
    c.set_protocol("LLC")
    dsap, ssap, control = buf[0], buf[1], buf[2]
    if dsap == 0x42 and ssap == 0x42:
        stp(c, buf[3:])
        return
    if dsap == 0xAA and ssap == 0xAA:
        oui = int.from_bytes(buf[3:6], "big")
        pid = int.from_bytes(buf[6:8], "big")
        if oui == _CISCO_OUI and pid == 0x2000:
            cdp(c, buf[8:])
            return
        if oui == 0 and pid in (0x0800, 0x86DD, 0x0806):
            from .link import ethertype
            ethertype(c, pid, buf[8:], ctx)
            return
        c.set_info(f"U, func=UI; SNAP, OUI 0x{oui:06X}, PID 0x{pid:04X}")
        c.add("data")
        return
    if control & 0x03 == 0x03:
        c.set_info(f"U, func={_U_FUNCS.get(control & 0xEF, 'Unknown')}")
    c.add("data")


_U_FUNCS = {0x03: "UI", 0x2F: "SABME", 0x43: "DISC", 0x63: "UA", 0x87: "FRMR", 0xAF: "XID", 0xE3: "TEST"}


def cdp(c: Cols, buf: bytes) -> None:
    c.add("cdp")
    c.set_protocol("CDP")
    c.clear_info()
    off = 4  # version, ttl, checksum
    while off + 4 <= len(buf):
        tlv_type = int.from_bytes(buf[off:off + 2], "big")
        tlv_len = int.from_bytes(buf[off + 2:off + 4], "big")
        if tlv_len < 4:
            break
        value = buf[off + 4:off + tlv_len]
        if tlv_type == 0x0001:
            c.append_info(f"Device ID: {value.decode('latin-1')}  ")
        elif tlv_type == 0x0003:
            c.append_info(f"Port ID: {value.decode('latin-1')}  ")
        off += tlv_len


def stp(c: Cols, buf: bytes) -> None:
    c.add("stp")
    c.set_protocol("STP")
    version, bpdu_type = buf[2], buf[3]
    if bpdu_type == 0x80:
        c.set_info("Topology Change Notification")
        return
    flags = buf[4]
    root = int.from_bytes(buf[5:7], "big")
    root_mac = mac(buf[7:13])
    cost = int.from_bytes(buf[13:17], "big")
    port = int.from_bytes(buf[25:27], "big")
    kind = {0: "Conf. ", 2: "RST. ", 3: "MST. "}.get(version if bpdu_type == 0x02 else 0, "Conf. ")
    text = kind
    if flags & 0x80:
        text += "TC ACK + "
    if flags & 0x01:
        text += "TC + "
    text += f"Root = {root & 0xF000}/{root & 0x0FFF}/{root_mac}  Cost = {cost}  Port = 0x{port:04x}"
    c.set_info(text)


_CHASSIS_IDS = {1: "CC", 2: "IA", 3: "PC", 4: "MA", 5: "NA", 6: "IN", 7: "LA"}
_PORT_IDS = {1: "IA", 2: "PC", 3: "MA", 4: "NA", 5: "IN", 6: "AC", 7: "LA"}


def lldp(c: Cols, buf: bytes) -> None:
    """Info: "<type>/<chassis id> <type>/<port id> <ttl> SysN=<name> SysD=<description> "."""
    c.add("lldp")
    c.set_protocol("LLDP")
    c.clear_info()
    off = 0
    while off + 2 <= len(buf):
        head = int.from_bytes(buf[off:off + 2], "big")
        tlv_type, tlv_len = head >> 9, head & 0x1FF
        value = buf[off + 2:off + 2 + tlv_len]
        if tlv_type == 0:
            break
        if tlv_type in (1, 2) and value:
            kinds = _CHASSIS_IDS if tlv_type == 1 else _PORT_IDS
            kind, data = kinds.get(value[0], "Rs"), value[1:]
            if kind == "MA" and len(data) == 6:
                text = mac(data)
            elif kind == "NA" and data[:1] == b"\x01" and len(data) == 5:
                text = ".".join(str(b) for b in data[1:])
            elif kind == "PC" and tlv_type == 1:
                text = data.hex(":")
            elif kind == "Rs":
                text = "Reserved"
            else:
                text = data.rstrip(b"\x00").decode("latin-1")
            c.append_info(f"{kind}/{text} ")
        elif tlv_type == 3 and len(value) >= 2:
            c.append_info(f"{int.from_bytes(value[:2], 'big')} ")
        elif tlv_type in (5, 6):
            label = "SysN" if tlv_type == 5 else "SysD"
            c.append_info(f"{label}={value.decode('latin-1')} ")
        off += 2 + tlv_len
