"""Typed intermediate representation produced by the semantic check and run by the evaluator.

Tests (``T*``) yield one boolean per packet; values (``V*``) yield occurrences (rows, values)
of a known kind.  Constants are already converted to the kind of what they are compared with:
int, float, ``(ipv4 int, prefix)``, ``(16 bytes, prefix)``, ether int, str or bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.fields import FieldType


@dataclass(frozen=True)
class VType:
    """Type of a value expression: representation ``kind`` (see source.py), the Wireshark
    field type used to read literals, and a label for messages."""

    kind: str
    ftype: FieldType
    label: str


# -- values ---------------------------------------------------------------------------------
@dataclass(eq=False)
class Value:
    vt: VType


@dataclass(eq=False)
class VField(Value):
    name: str = ""


@dataclass(eq=False)
class VConst(Value):
    value: Any = None


@dataclass(eq=False)
class VSlice(Value):
    operand: Value | None = None
    # (kind, start, value) triples, see ast.Range
    ranges: list[tuple[str, int, int | None]] = field(default_factory=list)


@dataclass(eq=False)
class VCall(Value):
    name: str = ""
    args: list[Value] = field(default_factory=list)


@dataclass(eq=False)
class VArith(Value):
    op: str = "+"
    left: Value | None = None
    right: Value | None = None


@dataclass(eq=False)
class VNeg(Value):
    operand: Value | None = None


# -- tests ----------------------------------------------------------------------------------
@dataclass(eq=False)
class Test:
    pass


@dataclass(eq=False)
class TAll(Test):
    """Empty filter: every packet."""


@dataclass(eq=False)
class TLogic(Test):
    op: str
    operands: list[Test]


@dataclass(eq=False)
class TNot(Test):
    operand: Test


@dataclass(eq=False)
class TPresent(Test):
    """A bare protocol or field name."""

    name: str
    value_kind: str


@dataclass(eq=False)
class TTruthy(Test):
    """A bare value expression: some occurrence is non-zero / non-empty (``tcp.flags & 0x04``)."""

    value: Value


@dataclass(eq=False)
class TCompare(Test):
    """``op`` in == != === !== > >= < <= contains."""

    op: str
    left: Value
    right: Value


@dataclass(eq=False)
class TMatches(Test):
    value: Value
    regex: Any  # regexguard.RegexPlan
    pos: int = 0


@dataclass(eq=False)
class TIn(Test):
    value: Value
    items: list[tuple[Any, Any]]  # (constant, None) or (low, high) inclusive range
    negated: bool = False
