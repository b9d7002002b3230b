"""Syntax tree of a display filter, as produced by the parser (before any type checking).

``str(node)`` gives a canonical filter text that parses back to the same tree: C-like operators
(``&&`` ``||`` ``^^`` ``!`` ``==`` ...), minimal parentheses according to Wireshark's
precedence (``||`` < ``^^`` < ``&&`` < ``!`` < relations < ``&`` < ``+ -`` < ``* / %``), braces
for arithmetic grouping, and re-escaped strings.  Every node keeps the 0-based ``pos`` of the
token that defines it, for error messages.
"""
from __future__ import annotations

from dataclasses import dataclass

# Precedence levels used to decide where the canonical text needs parentheses.
P_OR, P_XOR, P_AND, P_NOT, P_REL, P_BITAND, P_ADD, P_MUL, P_UNARY, P_ATOM = range(1, 11)
_LOGICAL = {"or": ("||", P_OR), "xor": ("^^", P_XOR), "and": ("&&", P_AND)}
_ARITH = {"&": P_BITAND, "+": P_ADD, "-": P_ADD, "*": P_MUL, "/": P_MUL, "%": P_MUL}


@dataclass(eq=False)
class Node:
    pos: int

    @property
    def prec(self) -> int:
        return P_ATOM


@dataclass(eq=False)
class Word(Node):
    """An unquoted word: a field/protocol name or a literal value (decided by the checker)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False)
class String(Node):
    value: str
    raw: bool = False

    def __str__(self) -> str:
        return quote(self.value)


@dataclass(eq=False)
class CharConst(Node):
    value: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False)
class Layer(Node):
    """``field#2`` or ``field#[1-2]`` (parsed, rejected by the checker for now)."""

    operand: Node
    spec: str

    def __str__(self) -> str:
        return f"{self.operand}#{self.spec}"


@dataclass(frozen=True)
class Range:
    """One slice range; ``kind``: "len" ``[i:j]`` (start, length), "span" ``[i-j]`` (inclusive),
    "one" ``[i]``, "end" ``[i:]``."""

    kind: str
    start: int
    value: int | None = None

    def __str__(self) -> str:
        if self.kind == "len":
            return f"{self.start}:{self.value}"
        if self.kind == "span":
            return f"{self.start}-{self.value}"
        if self.kind == "end":
            return f"{self.start}:"
        return str(self.start)


@dataclass(eq=False)
class Slice(Node):
    operand: Node
    ranges: list[Range]

    def __str__(self) -> str:
        return f"{self.operand}[{','.join(str(r) for r in self.ranges)}]"


@dataclass(eq=False)
class Call(Node):
    name: str
    args: list[Node]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(str(a) for a in self.args)})"


@dataclass(eq=False)
class Negate(Node):
    operand: Node

    @property
    def prec(self) -> int:
        return P_UNARY

    def __str__(self) -> str:
        return f"-{_wrap(self.operand, P_ATOM, '{}')}"


@dataclass(eq=False)
class Arith(Node):
    op: str  # one of & + - * / %
    left: Node
    right: Node

    @property
    def prec(self) -> int:
        return _ARITH[self.op]

    def __str__(self) -> str:
        left = _wrap(self.left, self.prec, "{}")
        right = _wrap(self.right, self.prec + 1, "{}")
        return f"{left} {self.op} {right}"


@dataclass(eq=False)
class Compare(Node):
    """A relation. ``op``: == (any equal), != (all not equal), === (all equal),
    !== (any not equal, also written ~=), > >= < <=, contains, matches."""

    op: str
    left: Node
    right: Node
    op_text: str = ""  # operator as written, for deprecation warnings

    @property
    def prec(self) -> int:
        return P_REL

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(eq=False)
class SetItem:
    low: Node
    high: Node | None = None

    def __str__(self) -> str:
        return f"{self.low}..{self.high}" if self.high is not None else str(self.low)


@dataclass(eq=False)
class InSet(Node):
    operand: Node
    items: list[SetItem]
    negated: bool = False

    @property
    def prec(self) -> int:
        return P_REL

    def __str__(self) -> str:
        op = "not in" if self.negated else "in"
        return f"{self.operand} {op} {{{', '.join(str(i) for i in self.items)}}}"


@dataclass(eq=False)
class Not(Node):
    operand: Node

    @property
    def prec(self) -> int:
        return P_NOT

    def __str__(self) -> str:
        # Parenthesised unless trivially atomic: "!(tcp.port == 80)" reads better than the
        # equivalent "!tcp.port == 80".
        inner = self.operand
        if inner.prec == P_ATOM or isinstance(inner, Not):
            return f"!{inner}"
        return f"!({inner})"


@dataclass(eq=False)
class Logical(Node):
    """``a && b && c``: one n-ary node per chain of the same operator (keeps long generated
    chains such as ``ip.addr == 1.1.1.1 || ip.addr == 2.2.2.2 || ...`` shallow)."""

    op: str  # "and", "or", "xor"
    operands: list[Node]

    @property
    def prec(self) -> int:
        return _LOGICAL[self.op][1]

    def __str__(self) -> str:
        sym, prec = _LOGICAL[self.op]
        # Nested chains of the same operator only come from explicit parentheses: keep them.
        return f" {sym} ".join(_wrap(o, prec + 1, "()") for o in self.operands)


@dataclass(eq=False)
class Empty(Node):
    """The empty filter: matches every frame."""

    def __str__(self) -> str:
        return ""


def _wrap(node: Node, min_prec: int, brackets: str) -> str:
    text = str(node)
    return f"{brackets[0]}{text}{brackets[1]}" if node.prec < min_prec else text


def quote(value: str) -> str:
    """A double-quoted filter string literal for ``value`` (inverse of the tokenizer)."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
