"""Registry of the protocols and fields Wirelens knows, with Wireshark names and types.

The display filter engine resolves names here (unknown name -> error), converts filter literals
with the field's type, and the web UI uses :func:`complete` for autocompletion.  Types follow
Wireshark's ``FT_*`` field types so that filters accepted and rejected by tshark 4.0 behave the
same here.  The table itself lives in :mod:`app.core.dfilter.fieldtable` (one line per field).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class FieldType(str, Enum):
    """Wireshark field types (``FT_*``) used by the registry."""

    NONE = "FT_NONE"
    PROTOCOL = "FT_PROTOCOL"
    BOOLEAN = "FT_BOOLEAN"
    CHAR = "FT_CHAR"
    UINT8 = "FT_UINT8"
    UINT16 = "FT_UINT16"
    UINT24 = "FT_UINT24"
    UINT32 = "FT_UINT32"
    UINT64 = "FT_UINT64"
    INT8 = "FT_INT8"
    INT16 = "FT_INT16"
    INT32 = "FT_INT32"
    INT64 = "FT_INT64"
    FRAMENUM = "FT_FRAMENUM"
    FLOAT = "FT_FLOAT"
    DOUBLE = "FT_DOUBLE"
    ABSOLUTE_TIME = "FT_ABSOLUTE_TIME"
    RELATIVE_TIME = "FT_RELATIVE_TIME"
    STRING = "FT_STRING"
    STRINGZ = "FT_STRINGZ"
    ETHER = "FT_ETHER"
    BYTES = "FT_BYTES"
    IPv4 = "FT_IPv4"
    IPv6 = "FT_IPv6"

    @property
    def is_integer(self) -> bool:
        return self in _INT_BITS

    @property
    def bits(self) -> int:
        """Width of an integer type (0 for non-integers)."""
        return _INT_BITS.get(self, 0)

    @property
    def signed(self) -> bool:
        return self in (FieldType.INT8, FieldType.INT16, FieldType.INT32, FieldType.INT64)

    @property
    def int_range(self) -> tuple[int, int]:
        """Smallest and largest value an integer type can hold."""
        bits = self.bits
        if self.signed:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1

    @property
    def display(self) -> str:
        """Human name as Wireshark prints it in error messages."""
        return _DISPLAY[self]


_INT_BITS = {
    FieldType.BOOLEAN: 64, FieldType.CHAR: 8, FieldType.UINT8: 8, FieldType.UINT16: 16,
    FieldType.UINT24: 24, FieldType.UINT32: 32, FieldType.UINT64: 64, FieldType.INT8: 8,
    FieldType.INT16: 16, FieldType.INT32: 32, FieldType.INT64: 64, FieldType.FRAMENUM: 32,
}

_DISPLAY = {
    FieldType.NONE: "Label", FieldType.PROTOCOL: "Protocol", FieldType.BOOLEAN: "Boolean",
    FieldType.CHAR: "Character (8 bits)", FieldType.UINT8: "Unsigned integer (8 bits)",
    FieldType.UINT16: "Unsigned integer (16 bits)", FieldType.UINT24: "Unsigned integer (24 bits)",
    FieldType.UINT32: "Unsigned integer (32 bits)", FieldType.UINT64: "Unsigned integer (64 bits)",
    FieldType.INT8: "Signed integer (8 bits)", FieldType.INT16: "Signed integer (16 bits)",
    FieldType.INT32: "Signed integer (32 bits)", FieldType.INT64: "Signed integer (64 bits)",
    FieldType.FRAMENUM: "Frame number", FieldType.FLOAT: "Floating point (single-precision)",
    FieldType.DOUBLE: "Floating point (double-precision)", FieldType.ABSOLUTE_TIME: "Date and time",
    FieldType.RELATIVE_TIME: "Time offset", FieldType.STRING: "Character string",
    FieldType.STRINGZ: "Character string", FieldType.ETHER: "Ethernet or other MAC address",
    FieldType.BYTES: "Byte sequence", FieldType.IPv4: "IPv4 address",
    FieldType.IPv6: "IPv6 address",
}

# Short type names used by the compact table in fieldtable.py.
_SHORT = {
    "PROTO": FieldType.PROTOCOL, "NONE": FieldType.NONE, "BOOL": FieldType.BOOLEAN,
    "CHAR": FieldType.CHAR, "U8": FieldType.UINT8, "U16": FieldType.UINT16, "U24": FieldType.UINT24,
    "U32": FieldType.UINT32, "U64": FieldType.UINT64, "I8": FieldType.INT8, "I16": FieldType.INT16,
    "I32": FieldType.INT32, "I64": FieldType.INT64, "FNUM": FieldType.FRAMENUM,
    "FLOAT": FieldType.FLOAT, "DBL": FieldType.DOUBLE, "ABS": FieldType.ABSOLUTE_TIME,
    "REL": FieldType.RELATIVE_TIME, "STR": FieldType.STRING, "STRZ": FieldType.STRINGZ,
    "ETHER": FieldType.ETHER, "BYTES": FieldType.BYTES, "IPV4": FieldType.IPv4,
    "IPV6": FieldType.IPv6,
}


@dataclass(frozen=True)
class Field:
    """One protocol or field: Wireshark filter name, type, description and owning protocol."""

    name: str
    type: FieldType
    description: str
    protocol: str
    # Aggregate fields (ip.addr = ip.src and ip.dst, tcp.port ...) always occur several times
    # per header; "!=" on them is the classic display filter trap, so the checker warns.
    multi: bool = False

    @property
    def is_protocol(self) -> bool:
        return self.type is FieldType.PROTOCOL


# Deprecated names tshark 4.0 still accepts, mapped to their replacement (prefix match).
ALIASES = {"ssl": "tls"}


@lru_cache(maxsize=1)
def _registry() -> dict[str, Field]:
    # Imported lazily: the table is data only and nothing here needs it before the first lookup.
    from app.core.dfilter.fieldtable import MULTI, TABLE

    rows: list[tuple[str, FieldType, str]] = []
    for line in TABLE.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, short, desc = line.split(None, 2)
        rows.append((name, _SHORT[short], desc))
    protocols = {name for name, ftype, _ in rows if ftype is FieldType.PROTOCOL}
    reg: dict[str, Field] = {}
    for name, ftype, desc in rows:
        reg[name] = Field(name, ftype, desc, _protocol_of(name, protocols), name in MULTI)
    return reg


def _protocol_of(name: str, protocols: set[str]) -> str:
    """Longest registered protocol that prefixes ``name`` ("_ws.expert.message" -> "_ws.expert")."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        cand = ".".join(parts[:i])
        if cand in protocols:
            return cand
    return parts[0]


def lookup(name: str) -> Field | None:
    """The field or protocol called ``name`` (exact, case-sensitive like Wireshark), or None."""
    return _registry().get(name)


def resolve(name: str) -> tuple[Field | None, str | None]:
    """Like :func:`lookup`, also accepting deprecated aliases: (field, replacement or None)."""
    field = lookup(name)
    if field is not None:
        return field, None
    head, dot, rest = name.partition(".")
    if head in ALIASES:
        new = ALIASES[head] + dot + rest
        field = lookup(new)
        if field is not None:
            return field, new
    return None, None


def all_fields() -> list[Field]:
    """Every registered protocol and field, sorted by name."""
    return sorted(_registry().values(), key=lambda f: f.name)


def protocols() -> list[Field]:
    """Every registered protocol (``FT_PROTOCOL``), sorted by name."""
    return [f for f in all_fields() if f.is_protocol]


def complete(prefix: str, limit: int | None = None) -> list[Field]:
    """Fields whose name starts with ``prefix`` (case-insensitive), for autocompletion.

    Ordered so that the nearest names come first: fewer extra dot levels, then alphabetical
    ("tcp.fl" -> tcp.flags before tcp.flags.ack).
    """
    p = prefix.lower()
    hits = [f for f in _registry().values() if f.name.lower().startswith(p)]
    hits.sort(key=lambda f: (f.name.count(".") - p.count("."), f.name.lower()))
    return hits if limit is None else hits[:limit]
