"""Building blocks of the protocol tree: nodes, bit-field labels, bounds checks and the context.

A node is a plain dict (see the package docstring). ``Tvb`` mirrors Wireshark's tvbuff bounds: a
protocol's bytes start at ``start``, are captured up to ``cap_end`` and were on the wire up to
``rep_end`` (frame offsets). Reading past ``cap_end`` but inside ``rep_end`` means the capture was
cut (snaplen): ``Short``; reading past ``rep_end`` means the packet contradicts itself: ``Malformed``.
"""
from __future__ import annotations

from typing import Any

Node = dict[str, Any]


def mk(name: str, label: str, value: Any = None, offset: int | None = None,
       length: int | None = None, children: list[Node] | None = None) -> Node:
    """One tree node."""
    return {"name": name, "label": label, "value": value, "offset": offset, "length": length,
            "children": children if children is not None else []}


def add(parent: Node, name: str, label: str, value: Any = None, offset: int | None = None,
        length: int | None = None) -> Node:
    """Append a child node to ``parent`` and return it."""
    n = mk(name, label, value, offset, length)
    parent["children"].append(n)
    return n


def text(parent: Node, label: str, offset: int | None = None, length: int | None = None) -> Node:
    """A label-only line (Wireshark's text items and generated brackets) without a field name."""
    return add(parent, "", label, None, offset, length)


def bits(value: int, mask: int, width: int) -> str:
    """Wireshark's bit picture: ``bits(0x45, 0xf0, 8) == '0100 ....'``."""
    out = []
    for i in range(width - 1, -1, -1):
        bit = 1 << i
        out.append(("1" if value & bit else "0") if mask & bit else ".")
        if i and i % 4 == 0:
            out.append(" ")
    return "".join(out)


def shift_of(mask: int) -> int:
    """Number of trailing zero bits of a mask (to right-align a masked value)."""
    return (mask & -mask).bit_length() - 1


def flag(parent: Node, name: str, title: str, value: int, mask: int, width: int, offset: int,
         length: int, true_text: str = "Set", false_text: str = "Not set") -> Node:
    """A single-bit boolean sub-field, value 0/1 like Wireshark's FT_BOOLEAN."""
    on = 1 if value & mask else 0
    return add(parent, name, f"{bits(value, mask, width)} = {title}: {true_text if on else false_text}",
               on, offset, length)


def bitfield(parent: Node, name: str, title: str, value: int, mask: int, width: int, offset: int,
             length: int, shown: str | None = None) -> Node:
    """A multi-bit integer sub-field: ``'0100 .... = Version: 4'``."""
    v = (value & mask) >> shift_of(mask)
    return add(parent, name, f"{bits(value, mask, width)} = {title}: {v if shown is None else shown}",
               v, offset, length)


def hexstr(b: bytes) -> str:
    """Bytes as Wireshark prints FT_BYTES: contiguous lowercase hex."""
    return b.hex()


def mac(b: bytes) -> str:
    """A 6-byte hardware address as ``00:11:22:33:44:55``."""
    return ":".join(f"{x:02x}" for x in b)


def ipv4(b: bytes) -> str:
    """Dotted-quad text of 4 bytes."""
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def plural(n: int, one: str, many: str) -> str:
    """Wireshark's plurality(): the word matching ``n``."""
    return one if n == 1 else many


def expert(parent: Node, message: str, severity: str, group: str,
           offset: int | None = None, length: int | None = None) -> Node:
    """An expert-info item as Wireshark attaches it to the field it concerns (same bytes)."""
    if offset is None:
        offset, length = parent.get("offset"), parent.get("length")
    n = add(parent, "_ws.expert", f"[Expert Info ({severity}/{group}): {message}]", None, offset, length)
    add(n, "_ws.expert.message", f"[{message}]", message, offset, length)
    add(n, "_ws.expert.severity", f"[Severity level: {severity}]", severity, offset, length)
    add(n, "_ws.expert.group", f"[Group: {group}]", group, offset, length)
    return n


class Short(Exception):
    """The capture stops before the bytes a protocol needs (snaplen cut)."""

    def __init__(self, proto: str):
        super().__init__(proto)
        self.proto = proto


class Malformed(Exception):
    """The packet's own length fields contradict its content."""

    def __init__(self, proto: str, reason: str = "Exception occurred"):
        super().__init__(proto)
        self.proto = proto
        self.reason = reason


class Tvb:
    """Bounds of one protocol's bytes inside the frame (see the module docstring)."""

    __slots__ = ("start", "cap_end", "rep_end")

    def __init__(self, start: int, cap_end: int, rep_end: int):
        self.start = start
        self.rep_end = max(rep_end, start)
        self.cap_end = max(min(cap_end, self.rep_end), start)

    def check(self, off: int, n: int, proto: str) -> None:
        """Raise Short or Malformed unless frame bytes [off, off+n) are available."""
        if off + n <= self.cap_end and off >= self.start:
            return
        if off + n <= self.rep_end:
            raise Short(proto)
        raise Malformed(proto)

    def sub(self, off: int, length: int | None = None) -> "Tvb":
        """The bytes from ``off`` (to ``off+length`` when given, clipped like tvb_new_subset)."""
        rep = self.rep_end if length is None else min(self.rep_end, off + length)
        return Tvb(off, self.cap_end, rep)

    @property
    def captured(self) -> int:
        """Captured bytes available from start."""
        return self.cap_end - self.start

    @property
    def reported(self) -> int:
        """Bytes that were on the wire from start."""
        return self.rep_end - self.start


class Ctx:
    """State of one dissection: the frame bytes, top-level layers and frame.protocols."""

    __slots__ = ("data", "meta", "layers", "protocols", "tcp_context", "depth", "in_error", "ports")

    def __init__(self, data: bytes, meta: Any, tcp_context: dict | None):
        self.data = data
        self.meta = meta
        self.layers: list[Node] = []
        self.protocols: list[str] = []
        self.tcp_context = tcp_context
        self.depth = 0
        self.in_error = False
        self.ports = (0, 0)  # (source, destination) of the transport header being dispatched

    def layer(self, name: str, label: str, offset: int, length: int,
              parent: Node | None = None) -> Node:
        """Start a protocol layer (top level, or inside ``parent`` for ICMP-quoted packets)."""
        n = mk(name, label, None, offset, length)
        (parent["children"] if parent is not None else self.layers).append(n)
        self.protocols.append(name)
        return n

    def u8(self, off: int) -> int:
        return self.data[off]

    def u16(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 2], "big")

    def u32(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 4], "big")
