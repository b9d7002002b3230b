"""Tokenizer of the Wireshark 4.x display filter language.

Follows the lexical rules of Wireshark's ``scanner.l``: a "literal" word is anything made of
letters, digits, ``_ : / -`` and single dots (so ``10.0.0.0/8``, ``fe80::1``, ``ff:ff:ff:ff:ff:ff``,
``sip.Status-Code`` and ``tcp.flags.syn`` are one word each, and ``a-b`` is not a subtraction);
keywords (``and``, ``eq``, ``contains``...) are words that are exactly a keyword.  Field names
and values are told apart later, by the semantic check.  Every token keeps its 0-based position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.core.dfilter.errors import FilterError, FilterWarning

_WORD = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9_:/\-]*(?:\.[A-Za-z0-9_:/\-]+)*")

# kind, canonical value
_KEYWORDS: dict[str, tuple[str, Any]] = {
    "eq": ("CMP", "=="), "any_eq": ("CMP", "=="), "ne": ("CMP", "!="), "all_ne": ("CMP", "!="),
    "all_eq": ("CMP", "==="), "any_ne": ("CMP", "!=="), "gt": ("CMP", ">"), "ge": ("CMP", ">="),
    "lt": ("CMP", "<"), "le": ("CMP", "<="), "contains": ("CONTAINS", None),
    "matches": ("MATCHES", None), "and": ("AND", None), "or": ("OR", None), "xor": ("XOR", None),
    "not": ("NOT", None), "in": ("IN", None), "bitwise_and": ("BITAND", None),
    "bitand": ("BITAND", None),
}

# Longest first so that "!==" wins over "!=" and "!".
_SYMBOLS: list[tuple[str, str, Any]] = [
    ("===", "CMP", "==="), ("!==", "CMP", "!=="), ("==", "CMP", "=="), ("!=", "CMP", "!="),
    ("~=", "CMP", "!=="), (">=", "CMP", ">="), ("<=", "CMP", "<="), ("&&", "AND", None),
    ("||", "OR", None), ("^^", "XOR", None), ("..", "DOTDOT", None), (">", "CMP", ">"),
    ("<", "CMP", "<"), ("~", "MATCHES", None), ("!", "NOT", None), ("&", "BITAND", None),
    ("+", "PLUS", None), ("-", "MINUS", None), ("*", "STAR", None), ("/", "SLASH", None),
    ("%", "PERCENT", None), ("(", "LPAREN", None), (")", "RPAREN", None), ("{", "LBRACE", None),
    ("}", "RBRACE", None), (",", "COMMA", None), ("#", "HASH", None), ("$", "DOLLAR", None),
    ("@", "AT", None),
]

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "'": "'", "?": "?",
}


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` (WORD, STRING, CHARCONST, CMP, AND, LBRACKET, RANGE, EOF...),
    source ``text``, 0-based ``pos`` and a decoded ``value`` (string contents, operator)."""

    kind: str
    text: str
    pos: int
    value: Any = None

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


def tokenize(text: str) -> tuple[list[Token], list[FilterWarning]]:
    """Split ``text`` into tokens (ending with an EOF token) plus lexical warnings (none are
    emitted at present: Wireshark 4.0 rejects what older versions only warned about)."""
    toks: list[Token] = []
    warns: list[FilterWarning] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == '"' or (c in "rR" and text.startswith('"', i + 1)):
            tok = _string(text, i)
        elif c == "'":
            tok = _charconst(text, i)
        elif c == "[":
            i = _slice_ranges(text, i, toks)
            continue
        else:
            m = _WORD.match(text, i)
            if m:
                word = m.group()
                kind, val = _KEYWORDS.get(word, ("WORD", word))
                tok = Token(kind, word, i, val)
            else:
                tok = _symbol(text, i)
        toks.append(tok)
        i = tok.end
    toks.append(Token("EOF", "", n))
    return toks, warns


def _symbol(text: str, i: int) -> Token:
    for sym, kind, val in _SYMBOLS:
        if text.startswith(sym, i):
            return Token(kind, sym, i, val)
    # Anything else ("=", "|", "^", ";" ...) is reported by the parser as unexpected.
    return Token("UNEXPECTED", text[i], i)


def _slice_ranges(text: str, i: int, toks: list[Token]) -> int:
    """``[ranges]`` is scanned as a unit, like Wireshark's RANGE start condition."""
    close = text.find("]", i + 1)
    if close < 0:
        raise FilterError("The right bracket was missing from a slice.", i, len(text) - i)
    toks.append(Token("LBRACKET", "[", i))
    start = i + 1
    for k, part in enumerate(text[start:close].split(",")):
        if k:
            toks.append(Token("COMMA", ",", start - 1))
        stripped = part.strip()
        lead = len(part) - len(part.lstrip())
        toks.append(Token("RANGE", stripped, start + lead, stripped))
        start += len(part) + 1
    toks.append(Token("RBRACKET", "]", close))
    return close + 1


def _string(text: str, i: int) -> Token:
    raw = text[i] in "rR"
    j = i + 2 if raw else i + 1
    out: list[str] = []
    n = len(text)
    while True:
        if j >= n:
            raise FilterError("The final quote was missing from a quoted string.", i, n - i)
        c = text[j]
        if c == '"':
            return Token("STRING", text[i:j + 1], i, "".join(out))
        if c != "\\":
            out.append(c)
            j += 1
            continue
        if j + 1 >= n:
            raise FilterError("The final quote was missing from a quoted string.", i, n - i)
        if raw:
            # Raw strings keep backslashes; only \" and \\ are escapes (as in Wireshark 4.x).
            out.append(text[j:j + 2])
            j += 2
            continue
        value, j = _escape(text, j)
        out.append(value)


def _escape(text: str, j: int) -> tuple[str, int]:
    """Decode the escape sequence starting at the backslash ``text[j]``."""
    e = text[j + 1]
    if e in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[e], j + 2
    if e == "x":
        m = re.compile(r"[0-9A-Fa-f]{1,2}").match(text, j + 2)
        if not m:
            raise FilterError("\\x must be followed by one or two hexadecimal digits.", j, 2)
        return chr(int(m.group(), 16)), m.end()
    if e in "01234567":
        m = re.compile(r"[0-7]{1,3}").match(text, j + 1)
        assert m is not None
        value = int(m.group(), 8)
        if value > 0xFF:
            raise FilterError(f"\\{m.group()} is larger than 255.", j, m.end() - j)
        return chr(value), m.end()
    if e in "uU":
        width = 4 if e == "u" else 8
        m = re.compile(r"[0-9A-Fa-f]{%d}" % width).match(text, j + 2)
        if not m or int(m.group(), 16) > 0x10FFFF:
            raise FilterError(f"\\{e} must be followed by {width} hexadecimal digits.", j, 2)
        return chr(int(m.group(), 16)), m.end()
    # Wireshark 4.0 rejects unknown escapes: a regex "\." is written "\\." in a filter.
    raise FilterError(f"\\{e} is not a valid character escape sequence", j, 2)


def _charconst(text: str, i: int) -> Token:
    n = len(text)
    close = -1
    value = ""
    if text.startswith("\\", i + 1) and i + 2 < n:
        value, end = _escape(text, i + 1)
        if end < n and text[end] == "'":
            close = end
    elif i + 2 < n and text[i + 2] == "'" and text[i + 1] != "'":
        value, close = text[i + 1], i + 2
    if close < 0:
        stop = text.find("'", i + 1)
        if stop < 0:
            raise FilterError("The final quote was missing from a character constant.", i, n - i)
        raise FilterError(f"{text[i:stop + 1]} is not a valid character constant.", i, stop + 1 - i)
    if ord(value) > 0xFF:
        raise FilterError(f"{text[i:close + 1]} is not a valid character constant.", i,
                          close + 1 - i)
    return Token("CHARCONST", text[i:close + 1], i, ord(value))
