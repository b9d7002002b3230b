"""Recursive-descent parser of the display filter language (grammar of Wireshark 4.x).

Precedence, lowest first (as Wireshark's ``grammar.lemon``)::

    ||  or        left
    ^^  xor       left
    &&  and       left
    !   not       right
    == != === !== ~= > >= < <= contains matches in     (non-associative)
    &   bitwise_and
    + -
    * / %
    unary - +

Parentheses group logical expressions, braces group arithmetic (``{a + b} * 2``) and also
delimit sets after ``in``.  Slices ``f[i:j]`` and layers ``f#2`` bind to the entity before them.
Errors use tshark's wording: ``"x" was unexpected in this context.`` /
``Unexpected end of filter expression.``
"""
from __future__ import annotations

import re

from app.core.dfilter import ast
from app.core.dfilter.errors import DEFAULT_LIMITS, FilterError, FilterWarning, Limits
from app.core.dfilter.tokenizer import Token, tokenize

_FUNC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RANGE_COLON = re.compile(r"(-?\d+)?:(\d+)?\Z")
_RANGE_SPAN = re.compile(r"(-?\d+)-(-?\d+)\Z")
_RANGE_ONE = re.compile(r"-?\d+\Z")


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[ast.Node, list[FilterWarning]]:
    """Parse ``text`` into a syntax tree; raises :class:`FilterError` on syntax errors."""
    if len(text) > limits.max_length:
        raise FilterError(
            f"The filter is too long ({len(text)} characters; the limit is {limits.max_length}).",
            limits.max_length, len(text) - limits.max_length)
    return _Parser(text, limits).parse()


class _Parser:
    def __init__(self, text: str, limits: Limits) -> None:
        self.toks, self.warnings = tokenize(text)
        self.limits = limits
        self.i = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def accept(self, *kinds: str) -> Token | None:
        return self.next() if self.peek().kind in kinds else None

    def expect(self, kind: str) -> Token:
        if self.peek().kind != kind:
            self.unexpected(self.peek())
        return self.next()

    @staticmethod
    def unexpected(tok: Token) -> None:
        if tok.kind == "EOF":
            raise FilterError("Unexpected end of filter expression.", tok.pos)
        raise FilterError(f'"{tok.text}" was unexpected in this context.', tok.pos, len(tok.text))

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise FilterError(
                f"The filter is nested too deeply (more than {self.limits.max_depth} levels).",
                tok.pos, len(tok.text))

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> tuple[ast.Node, list[FilterWarning]]:
        if self.peek().kind == "EOF":
            return ast.Empty(0), self.warnings
        node = self.logical(0)
        if self.peek().kind != "EOF":
            self.unexpected(self.peek())
        return node, self.warnings

    _LEVELS = (("OR", "or"), ("XOR", "xor"), ("AND", "and"))

    def logical(self, level: int) -> ast.Node:
        if level == len(self._LEVELS):
            return self.negation()
        kind, name = self._LEVELS[level]
        first = self.logical(level + 1)
        operands = [first]
        while self.accept(kind):
            operands.append(self.logical(level + 1))
        if len(operands) == 1:
            return first
        return ast.Logical(first.pos, name, operands)

    def negation(self) -> ast.Node:
        tok = self.accept("NOT")
        if tok is None:
            return self.relation()
        self.enter(tok)
        operand = self.negation()
        self.depth -= 1
        return ast.Not(tok.pos, operand)

    def relation(self) -> ast.Node:
        tok = self.peek()
        if tok.kind == "LPAREN":
            self.next()
            self.enter(tok)
            inner = self.logical(0)
            self.expect("RPAREN")
            self.depth -= 1
            return inner
        left = self.arith()
        op = self.peek()
        if op.kind == "CMP":
            self.next()
            node: ast.Node = ast.Compare(op.pos, op.value, left, self.arith(), op.text)
        elif op.kind in ("CONTAINS", "MATCHES"):
            self.next()
            node = ast.Compare(op.pos, op.kind.lower(), left, self.entity(), op.text)
        elif op.kind == "IN" or (op.kind == "NOT" and self.peek(1).kind == "IN"):
            negated = self.next().kind == "NOT"
            if negated:
                self.next()
            node = ast.InSet(op.pos, left, self.set_items(), negated)
        else:
            return left
        if self.peek().kind in ("CMP", "CONTAINS", "MATCHES", "IN"):
            # Relations do not chain ("a == b == c" is a syntax error in Wireshark 4.0).
            self.unexpected(self.peek())
        return node

    _ARITH_LEVELS = (("BITAND",), ("PLUS", "MINUS"), ("STAR", "SLASH", "PERCENT"))
    _OPS = {"BITAND": "&", "PLUS": "+", "MINUS": "-", "STAR": "*", "SLASH": "/", "PERCENT": "%"}

    def arith(self, level: int = 0) -> ast.Node:
        if level == len(self._ARITH_LEVELS):
            return self.unary()
        left = self.arith(level + 1)
        entered = 0
        while (tok := self.accept(*self._ARITH_LEVELS[level])) is not None:
            # Each operator deepens the (left-leaning) tree: count it against the depth limit.
            self.enter(tok)
            entered += 1
            left = ast.Arith(tok.pos, self._OPS[tok.kind], left, self.arith(level + 1))
        self.depth -= entered
        return left

    def unary(self) -> ast.Node:
        tok = self.accept("MINUS", "PLUS")
        if tok is None:
            return self.entity()
        operand = self.entity()
        return ast.Negate(tok.pos, operand) if tok.kind == "MINUS" else operand

    def entity(self) -> ast.Node:
        tok = self.next()
        node: ast.Node
        if tok.kind == "WORD":
            if self.peek().kind == "LPAREN" and _FUNC_NAME.match(tok.text):
                node = self.call(tok)
            else:
                node = ast.Word(tok.pos, tok.text)
        elif tok.kind == "STRING":
            node = ast.String(tok.pos, tok.value, tok.text[0] in "rR")
        elif tok.kind == "CHARCONST":
            node = ast.CharConst(tok.pos, tok.value, tok.text)
        elif tok.kind == "LBRACE":
            self.enter(tok)
            node = self.arith()
            self.expect("RBRACE")
            self.depth -= 1
        else:
            self.unexpected(tok)
            raise AssertionError  # unreachable: unexpected() raises
        postfix = 0
        while self.peek().kind in ("LBRACKET", "HASH"):
            # Each slice or layer wraps the node once more: count it against the depth limit.
            self.enter(self.peek())
            postfix += 1
            if self.peek().kind == "LBRACKET":
                node = ast.Slice(self.peek().pos, node, self.ranges())
            else:
                node = self.layer(node)
        self.depth -= postfix
        return node

    def call(self, name: Token) -> ast.Node:
        open_tok = self.expect("LPAREN")
        self.enter(open_tok)
        args: list[ast.Node] = []
        if not self.accept("RPAREN"):
            args.append(self.arith())
            while self.accept("COMMA"):
                args.append(self.arith())
            self.expect("RPAREN")
        self.depth -= 1
        return ast.Call(name.pos, name.text, args)

    def ranges(self) -> list[ast.Range]:
        self.expect("LBRACKET")
        out = [self.range_node(self.expect("RANGE"))]
        while self.accept("COMMA"):
            out.append(self.range_node(self.expect("RANGE")))
        self.expect("RBRACKET")
        return out

    @staticmethod
    def range_node(tok: Token) -> ast.Range:
        text = tok.text
        if m := _RANGE_COLON.match(text):
            start = int(m.group(1)) if m.group(1) else 0
            if m.group(2) is None:
                if m.group(1) is None:
                    raise FilterError(f'"{text}" is not a valid range.', tok.pos, len(text) or 1)
                return ast.Range("end", start)
            if int(m.group(2)) == 0:
                raise FilterError(f'Range "{text}" has a length of 0.', tok.pos, len(text))
            return ast.Range("len", start, int(m.group(2)))
        if m := _RANGE_SPAN.match(text):
            return ast.Range("span", int(m.group(1)), int(m.group(2)))
        if _RANGE_ONE.match(text):
            return ast.Range("one", int(text))
        raise FilterError(f'"{text}" is not a valid range.', tok.pos, max(1, len(text)))

    def layer(self, node: ast.Node) -> ast.Node:
        hash_tok = self.expect("HASH")
        if self.peek().kind == "LBRACKET":
            spec = "[" + ",".join(str(r) for r in self.ranges()) + "]"
        else:
            tok = self.next()
            if tok.kind != "WORD" or not tok.text.isdigit():
                raise FilterError(f'Expected digit or "[", not "{tok.text}"', tok.pos,
                                  len(tok.text))
            spec = tok.text
        return ast.Layer(hash_tok.pos, node, spec)

    def set_items(self) -> list[ast.SetItem]:
        self.expect("LBRACE")
        items: list[ast.SetItem] = []
        while True:
            low = self.set_entity()
            high = self.set_entity() if self.accept("DOTDOT") else None
            items.append(ast.SetItem(low, high))
            if len(items) > self.limits.max_set_items:
                raise FilterError(
                    f"Too many set elements (the limit is {self.limits.max_set_items}).", low.pos)
            if not self.accept("COMMA"):
                self.expect("RBRACE")
                return items

    def set_entity(self) -> ast.Node:
        tok = self.accept("MINUS", "PLUS")
        if tok is None:
            return self.entity()
        operand = self.entity()
        return ast.Negate(tok.pos, operand) if tok.kind == "MINUS" else operand
