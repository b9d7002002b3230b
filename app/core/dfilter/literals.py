"""Conversion of filter constants (words, strings, character constants) to typed values.

The type comes from what the constant is compared with, as in Wireshark: ``80`` next to
``tcp.port`` is an unsigned 16-bit integer, ``10.0.0.0/8`` next to ``ip.addr`` an IPv4 network,
``ff:ff:ff:ff:ff:ff`` next to ``eth.dst`` a MAC address.  Error messages follow tshark's wording
and point at the constant.
"""
from __future__ import annotations

import calendar
import ipaddress
import re
import time
from datetime import datetime
from typing import Any

from app.core.dfilter import ast
from app.core.dfilter.errors import FilterError
from app.core.dfilter.ir import VType
from app.core.dfilter.source import BYTES, ETHER, FLOAT, INT, IPV4, IPV6, STR
from app.core.fields import FieldType

_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_BYTES = re.compile(r"[0-9a-fA-F]{2}(?:([:.\-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2})*)?\Z")
_MAC = re.compile(r"[0-9a-fA-F]{1,2}([:.\-])(?:[0-9a-fA-F]{1,2}\1){4}[0-9a-fA-F]{1,2}\Z")
_MAC_DOTQUAD = re.compile(r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\Z")
_MAC_PLAIN = re.compile(r"[0-9a-fA-F]{12}\Z")
_TIME_FORMATS = ("%b %d, %Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                 "%b %d, %Y", "%Y-%m-%d")


def convert(node: ast.Node, vt: VType) -> Any:
    """Typed value of the constant ``node`` for a value of type ``vt``."""
    if isinstance(node, ast.Negate):
        return _negative(node, vt)
    if isinstance(node, ast.Arith):
        return _fold(node, vt)
    if isinstance(node, ast.CharConst):
        return _from_char(node, vt)
    if isinstance(node, ast.String):
        return _from_string(node, vt)
    if isinstance(node, ast.Word):
        return _from_word(node.text, node, vt)
    raise FilterError(f'"{node}" is not a constant.', node.pos)


def _fail(node: ast.Node, message: str) -> FilterError:
    return FilterError(message, node.pos, len(str(node)))


def _from_word(text: str, node: ast.Node, vt: VType) -> Any:
    kind, ftype = vt.kind, vt.ftype
    if kind == INT:
        return parse_int(text, node, ftype)
    if kind == FLOAT:
        return _parse_float(text, node, ftype)
    if kind == IPV4:
        return _parse_ipv4(text, node)
    if kind == IPV6:
        return _parse_ipv6(text, node)
    if kind == ETHER:
        return _parse_mac(text, node)
    if kind == BYTES:
        if _BYTES.match(text):
            return bytes.fromhex(re.sub(r"[:.\-]", "", text))
        if ftype is FieldType.PROTOCOL:
            # A protocol compared with a word that is not a byte string: its text bytes.
            return text.encode()
        raise _fail(node, f'"{text}" is not a valid byte string.')
    if kind == STR:
        return text
    raise _fail(node, f'"{vt.label}" has no value to compare with.')


def _from_string(node: ast.String, vt: VType) -> Any:
    kind = vt.kind
    if kind == STR:
        return node.value
    if kind == BYTES:
        return node.value.encode("utf-8", "surrogateescape")
    if kind in (IPV4, IPV6, ETHER) or vt.ftype is FieldType.ABSOLUTE_TIME:
        if vt.ftype is FieldType.ABSOLUTE_TIME:
            return _parse_abs_time(node.value, node)
        return _from_word(node.value, node, vt)
    raise _fail(node, f'"{node.value}" cannot be converted to {vt.ftype.display}.')


def _from_char(node: ast.CharConst, vt: VType) -> Any:
    if vt.kind == INT:
        return _check_range(node.value, node.text, node, vt.ftype)
    if vt.kind == STR:
        return chr(node.value)
    if vt.kind == BYTES:
        return bytes([node.value])
    if vt.kind == FLOAT:
        return float(node.value)
    raise _fail(node, f"{node.text} cannot be converted to {vt.ftype.display}.")


def _negative(node: ast.Negate, vt: VType) -> Any:
    if vt.kind not in (INT, FLOAT):
        raise _fail(node, f'"{node}" is not a valid {vt.ftype.display}.')
    value = convert(node.operand, VType(vt.kind, _signed(vt.ftype), vt.label))
    result = -value
    if vt.kind == INT:
        _check_range(result, str(node), node, vt.ftype)
    return result


def _signed(ftype: FieldType) -> FieldType:
    # The operand of a unary minus is read without the sign restriction; the range of the
    # negated result is checked against the real type afterwards.
    return FieldType.INT64 if ftype.is_integer else ftype


def _fold(node: ast.Arith, vt: VType) -> Any:
    """Constant arithmetic such as ``{1 + 2}`` next to a field, folded at compile time."""
    if vt.kind not in (INT, FLOAT):
        raise _fail(node, f'Arithmetic is not supported for {vt.ftype.display}.')
    a, b = convert(node.left, vt), convert(node.right, vt)
    if node.op in "/%" and b == 0:
        raise _fail(node, "Division by zero.")
    if node.op == "&":
        if vt.kind != INT:
            raise _fail(node, "Bitwise AND requires integers.")
        return a & b
    if node.op == "/":
        return int(a / b) if vt.kind == INT else a / b
    if node.op == "%":
        return int(a - b * int(a / b)) if vt.kind == INT else a % b
    return {"+": a + b, "-": a - b, "*": a * b}[node.op]


def parse_int(text: str, node: ast.Node, ftype: FieldType) -> int:
    if ftype is FieldType.BOOLEAN and text.lower() in ("true", "false"):
        return int(text.lower() == "true")
    m = _INT.match(text)
    if not m:
        raise _fail(node, f'"{text}" is not a valid number.')
    digits = m.group(2)
    if digits.startswith(("0x", "0X")):
        value = int(digits[2:], 16)
    elif digits.startswith(("0b", "0B")):
        value = int(digits[2:], 2)
    elif len(digits) > 1 and digits.startswith("0"):
        value = int(digits, 8)  # leading zero: octal, as in C and Wireshark
    else:
        value = int(digits)
    if m.group(1) == "-":
        value = -value
    if ftype is FieldType.BOOLEAN:
        return int(value != 0)
    return _check_range(value, text, node, ftype)


def _check_range(value: int, text: str, node: ast.Node, ftype: FieldType) -> int:
    if not ftype.is_integer or ftype is FieldType.BOOLEAN:
        return value
    low, high = ftype.int_range
    if value < low:
        if low == 0:
            raise _fail(node, "Unsigned numbers cannot be negative.")
        raise _fail(node, f'"{text}" too small for this field, minimum {low}.')
    if value > high:
        raise _fail(node, f'"{text}" too big for this field, maximum {high}.')
    return value


def _parse_float(text: str, node: ast.Node, ftype: FieldType) -> float:
    if ftype is FieldType.ABSOLUTE_TIME:
        try:
            return float(text)
        except ValueError:
            return _parse_abs_time(text, node)
    try:
        if _INT.match(text):
            return float(parse_int(text, node, FieldType.INT64))
        return float(text)
    except (ValueError, FilterError):
        what = "time offset" if ftype is FieldType.RELATIVE_TIME else "floating point number"
        raise _fail(node, f'"{text}" is not a valid {what}.') from None


def _parse_abs_time(text: str, node: ast.Node) -> float:
    """Seconds since the epoch; like Wireshark, local time unless suffixed with Z or UTC."""
    s = text.strip()
    utc = s.endswith("Z") or s.upper().endswith(" UTC")
    s = s[:-1] if s.endswith("Z") else (s[:-4] if s.upper().endswith(" UTC") else s)
    frac = 0.0
    if m := re.search(r"(\.\d+)$", s):
        frac, s = float("0" + m.group(1)), s[: m.start()]
    for fmt in _TIME_FORMATS:
        try:
            tm = datetime.strptime(" ".join(s.split()), fmt).timetuple()
        except ValueError:
            continue
        base = calendar.timegm(tm) if utc else time.mktime(tm)
        return base + frac
    raise _fail(node, f'"{text}" is not a valid absolute time. Example: "Nov 12, 1999 08:55:44.123"'
                      ' or "2011-07-04 12:34:56"')


def _parse_ipv4(text: str, node: ast.Node) -> tuple[int, int]:
    addr, slash, bits = text.partition("/")
    try:
        value = int(ipaddress.IPv4Address(addr))
    except ValueError:
        raise _fail(node, f'"{text}" is not a valid hostname or IPv4 address.') from None
    prefix = 32
    if slash:
        if not bits.isdigit():
            raise _fail(node, f'"{text}" is not a valid hostname or IPv4 address.')
        prefix = int(bits)
        if prefix > 32:
            raise _fail(node, f"Netmask bits in a CIDR IPv4 address should be <= 32, not {prefix}")
    return value, prefix


def _parse_ipv6(text: str, node: ast.Node) -> tuple[bytes, int]:
    addr, slash, bits = text.partition("/")
    try:
        packed = ipaddress.IPv6Address(addr).packed
    except ValueError:
        raise _fail(node, f'"{text}" is not a valid IPv6 address.') from None
    prefix = 128
    if slash:
        if not bits.isdigit():
            raise _fail(node, f'"{text}" is not a valid IPv6 address.')
        prefix = int(bits)
        if prefix > 128:
            raise _fail(node, f"Prefix in a IPv6 address should be <= 128, not {prefix}")
    return packed, prefix


def _parse_mac(text: str, node: ast.Node) -> int:
    if _MAC.match(text):
        return int("".join(f"{int(g, 16):02x}" for g in re.split(r"[:.\-]", text)), 16)
    if _MAC_DOTQUAD.match(text) or _MAC_PLAIN.match(text):
        return int(text.replace(".", ""), 16)
    raise _fail(node, f'"{text}" is not a valid hostname or Ethernet address.')
