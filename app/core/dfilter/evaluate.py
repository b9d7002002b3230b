"""Vectorised evaluation of a checked filter (IR) over a whole capture.

``Evaluator(test, limits)(source)`` returns a numpy bool array with one entry per packet.
Semantics (Wireshark 4.x): a comparison is true when ANY occurrence (or, between two fields,
any pair of occurrences in the packet) satisfies it; ``!=`` is "all not equal" and needs the
field to be present; ``!==``/``~=`` is "any not equal"; a packet without the field never
matches a comparison, so ``!(tcp.port == 80)`` matches non-TCP packets and
``tcp.port != 80`` does not.  Fields are fetched once per evaluation and reused.

Operands of ``and``/``or`` run cheapest first (``plan``), and each later operand only needs
to be right for the packets the earlier ones left undecided: that set is the *scope*. A source
that reads fields from protocol trees (``values_within``) is asked for the scope's packets only.
Outside the scope a sub-result is meaningless, and the ``and``/``or`` that set it ignores it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from app.core.dfilter import functions, ir, plan
from app.core.dfilter.errors import FieldUnavailable, Limits
from app.core.dfilter.fieldtable import AGGREGATES
from app.core.dfilter.regexguard import search
from app.core.dfilter.source import BYTES, FLOAT, INT, IPV4, IPV6, NONE, STR, FieldSource, normalize
from app.core.dfilter.vectors import (Vec, any_rows, coerce_pair, compare, contains, pair,
                                      present_rows, reduce_eq, slice_values, to_bytes)

_EQ_FAMILY = ("==", "!=", "===", "!==")
_MIRROR = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


FEW_HITS = 4  # table hits up to which _lookup compares codes instead of looking them up


class Evaluator:
    """A compiled filter body; call it with a :class:`FieldSource`."""

    def __init__(self, test: ir.Test, limits: Limits) -> None:
        self.test = test
        self.limits = limits

    def __call__(self, source: FieldSource) -> np.ndarray:
        return _Run(source, self.limits).test(self.test)


class _Run:
    def __init__(self, source: FieldSource, limits: Limits) -> None:
        self.src = source
        self.n = int(source.n)
        self.limits = limits
        # name -> (values, rows they are complete for; None = every row)
        self.fields: dict[str, tuple[Vec, np.ndarray | None]] = {}
        self.flags: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self.scope: np.ndarray | None = None  # rows whose result still matters; None = all
        self.scoped = hasattr(source, "values_within")
        cost = getattr(source, "cost", None)
        self.cost = cost if callable(cost) else (lambda name: 0)
        self.wholes: dict[str, tuple | None] = {}  # name -> whole_column(name)

    # -- data access -----------------------------------------------------------------------
    def _need(self, covered: np.ndarray | None, first: bool) -> np.ndarray | None | bool:
        """The rows to ask the source for, or False when what is held covers the scope."""
        if not first:
            if covered is None:
                return False
            if self.scope is not None and not (self.scope & ~covered).any():
                return False
        if not self.scoped or self.scope is None:
            return None
        return self.scope if first else self.scope | covered

    def field(self, name: str, kind: str) -> Vec:
        cached = self.fields.get(name)
        need = self._need(cached[1] if cached else None, cached is None)
        if need is False:
            return cached[0]  # type: ignore[index]
        fetched = self.fetch(name, BYTES if kind == NONE else kind, need)
        if fetched is None:
            raise FieldUnavailable(name)
        rows, vals, covered = fetched
        if len(rows) > 1 and not np.all(rows[1:] >= rows[:-1]):
            order = np.argsort(rows, kind="stable")
            rows, vals = rows[order], vals[order]
        vec = Vec(rows, vals, kind)
        self.fields[name] = (vec, covered)
        return vec

    def fetch(self, name: str, kind: str, within: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """(rows, canonical values, rows covered) from the source; aggregate fields the source
        does not answer (ip.addr, tcp.port ...) are the union of their parts (ip.src and ip.dst
        ...).  ``within`` limits a scoped source's work to those rows (None: every row)."""
        if within is not None:
            occ = self.src.values_within(name, within)  # type: ignore[attr-defined]
            covered = None if occ is None or getattr(occ, "complete", True) else within
        else:
            occ, covered = self.src.values(name), None
        if occ is None:
            parts = [self.fetch(p, kind, within) for p in AGGREGATES.get(name, ())]
            if not parts or any(p is None for p in parts):
                return None
            cover = None if all(p[2] is None for p in parts) else within  # type: ignore[index]
            return (np.concatenate([p[0] for p in parts]),  # type: ignore[index]
                    np.concatenate([p[1] for p in parts]), cover)  # type: ignore[index]
        rows = np.asarray(occ.rows, dtype=np.int64).reshape(-1)
        vals = normalize(occ.values, kind)
        if len(vals) != len(rows):
            raise ValueError(f"{name}: {len(rows)} rows but {len(vals)} values")
        return rows, vals, covered

    def presence(self, name: str, kind: str) -> np.ndarray:
        cached = self.flags.get(name)
        need = self._need(cached[1] if cached else None, cached is None)
        if need is False:
            return cached[0]  # type: ignore[index]
        if need is not None:
            got = self.src.present_within(name, need)  # type: ignore[attr-defined]
        else:
            got = self.src.present(name)
        covered = None
        if got is not None:
            flags = np.asarray(got, dtype=bool).reshape(-1)
            if flags.shape != (self.n,):
                raise ValueError(f"present({name!r}) has shape {flags.shape}, not ({self.n},)")
            covered = need if need is not None and not getattr(got, "complete", False) else None
        else:
            fetched = self.fetch(name, BYTES if kind == NONE else kind, need)
            if fetched is None:
                raise FieldUnavailable(name)
            flags, covered = present_rows(self.n, fetched[0]), fetched[2]
        self.flags[name] = (flags, covered)
        return flags

    # -- tests -----------------------------------------------------------------------------
    def test(self, t: ir.Test) -> np.ndarray:
        if isinstance(t, ir.TLogic):
            return self.logic(t)
        if isinstance(t, ir.TNot):
            return ~self.test(t.operand)
        if isinstance(t, ir.TPresent):
            return self.presence(t.name, t.value_kind).copy()
        if isinstance(t, ir.TCompare):
            return self.compare(t)
        if isinstance(t, ir.TIn):
            return self.in_set(t)
        if isinstance(t, ir.TMatches):
            vec = self.value(t.value)
            return any_rows(self.n, vec.rows, search(t.regex, vec.vals, self.limits))
        if isinstance(t, ir.TTruthy):
            vec = self.value(t.value)
            if vec.kind in (INT, FLOAT):
                mask = vec.vals != 0
            elif vec.kind in (STR, BYTES):
                mask = np.fromiter(map(len, vec.vals), dtype=np.int64, count=len(vec.vals)) > 0
            else:
                mask = np.ones(len(vec.rows), dtype=bool)
            return any_rows(self.n, vec.rows, mask)
        if isinstance(t, ir.TAll):
            return np.ones(self.n, dtype=bool)
        raise TypeError(f"unknown test {t!r}")

    def logic(self, t: ir.TLogic) -> np.ndarray:
        operands = t.operands if t.op == "xor" else plan.cheap_first(t.operands, self.cost)
        outer = self.scope
        result = self.test(operands[0])
        try:
            for operand in operands[1:]:
                if t.op == "xor":
                    self.scope = outer
                    result ^= self.test(operand)
                    continue
                # Only the packets the operands so far leave undecided still matter; when none
                # is left the rest is skipped, fields and all.
                undecided = result if t.op == "and" else ~result
                if outer is not None:
                    undecided = undecided & outer
                if not undecided.any():
                    break
                self.scope = undecided
                if t.op == "and":
                    result &= self.test(operand)
                else:
                    result |= self.test(operand)
        finally:
            self.scope = outer
        return result

    def compare(self, t: ir.TCompare) -> np.ndarray:
        whole = self.compare_column(t)
        if whole is not None:
            return whole
        by_parts = self.compare_parts(t)
        if by_parts is not None:
            return by_parts
        a, b, op = self.value(t.left), self.value(t.right), t.op
        if not isinstance(a, Vec):
            a, b = b, a
            op = _MIRROR.get(op, op)
        if op == "contains":
            return self.contains(a, b)
        if isinstance(b, Vec):
            a, b = coerce_pair(a, b)
            rows, ia, ib = pair(a, b, self.n)
            mask = compare(a.kind, a.vals[ia], op, b.vals[ib])
        else:
            if a.kind == BYTES and isinstance(b, str):
                b = b.encode()
            rows, mask = a.rows, compare(a.kind, a.vals, op, b)
        if op in _EQ_FAMILY:
            return reduce_eq(self.n, rows, mask, op)
        return any_rows(self.n, rows, mask)

    def compare_column(self, t: ir.TCompare) -> np.ndarray | None:
        """An integer field held at most once per packet against a constant, on the source's
        whole column (``column``, see app.core.dfilter.source): with one value per packet,
        "any" and "all" agree, so every operator is the comparison where the field is present.
        None when the test or the source does not allow it."""
        field, const, op = t.left, t.right, t.op
        if isinstance(field, ir.VConst):
            field, const, op = const, field, _MIRROR.get(op, op)
        if not (isinstance(field, ir.VField) and isinstance(const, ir.VConst) and op != "contains"):
            return None
        whole = self.whole_column(field.name, field.vt.kind)
        if whole is None:
            return None
        if len(whole) == 2:
            if not isinstance(const.value, int):
                return None
            present, values = whole
            matches = compare(INT, values, op, const.value)  # equality for the == family
        else:
            present, code, table = whole
            if not len(table):
                return np.zeros(self.n, dtype=bool)
            # the table's values compared once, then looked up by code
            matches = _lookup(compare(field.vt.kind, table, op, const.value), code)
        return present & (~matches if op in ("!=", "!==") else matches)

    def whole_column(self, name: str, kind: str) -> tuple | None:
        """The source's whole column of a field held at most once per packet: (present, values)
        of an integer field (``column``), (present, code, table) of an address (``coded_column``),
        or None (see app.core.dfilter.source)."""
        if name not in self.wholes:
            method = {INT: "column", IPV4: "coded_column", IPV6: "coded_column"}.get(kind)
            answer = getattr(self.src, method, None) if method else None
            self.wholes[name] = answer(name) if callable(answer) else None
        return self.wholes[name]

    def compare_parts(self, t: ir.TCompare) -> np.ndarray | None:
        """``tcp.port == 80`` as ``tcp.srcport == 80 || tcp.dstport == 80``, without joining
        the parts' occurrences (a sort of every port of the capture). Every operator splits:
        "any" ones unite the parts; ``!=`` (all differ) and ``===`` (all equal) are "present
        and not any (un)equal". None when the test is not an aggregate field against a value."""
        field, const, op = t.left, t.right, t.op
        if isinstance(field, ir.VConst):
            field, const, op = const, field, _MIRROR.get(op, op)
        if not (isinstance(field, ir.VField) and isinstance(const, ir.VConst)
                and field.name in AGGREGATES):
            return None
        parts = AGGREGATES[field.name]
        # Only for parts the source holds outright (index columns): a part read from packets
        # would be read in full here, outside the scope.
        kind = field.vt.kind
        if any(self.whole_column(part, kind) is None
               and (self.cost(part) != 0 or self.src.values(part) is None) for part in parts):
            return None
        negated = {"!=": "==", "===": "!=="}.get(op)

        def united(part_op: str) -> np.ndarray:
            result = np.zeros(self.n, dtype=bool)
            for part in parts:
                part_field = dataclasses.replace(field, name=part)
                result |= self.compare(dataclasses.replace(t, op=part_op, left=part_field, right=const))
            return result

        if negated is None:
            return united(op)
        present = np.zeros(self.n, dtype=bool)
        for part in parts:
            whole = self.whole_column(part, kind)
            present |= whole[0] if whole is not None else self.presence(part, kind)
        return present & ~united(negated)

    def contains(self, hay: Vec, needle: Any) -> np.ndarray:
        if isinstance(needle, Vec):
            if hay.kind != needle.kind:
                hay, needle = to_bytes(hay), to_bytes(needle)
            rows, ia, ib = pair(hay, needle, self.n)
            return any_rows(self.n, rows, contains(hay.vals[ia], needle.vals[ib]))
        if hay.kind == STR and isinstance(needle, bytes):
            hay = to_bytes(hay)
        elif hay.kind == BYTES and isinstance(needle, str):
            needle = needle.encode()
        return any_rows(self.n, hay.rows, contains(hay.vals, needle))

    def in_set(self, t: ir.TIn) -> np.ndarray:
        vec = self.value(t.value)
        if vec.kind == INT and all(high is None for _, high in t.items):
            mask = np.isin(vec.vals, np.array([low for low, _ in t.items], dtype=np.int64))
        else:
            mask = np.zeros(len(vec.rows), dtype=bool)
            for low, high in t.items:  # loop over set elements, each step vectorised
                if high is None:
                    mask |= compare(vec.kind, vec.vals, "==", low)
                else:
                    mask |= (compare(vec.kind, vec.vals, ">=", low)
                             & compare(vec.kind, vec.vals, "<=", high))
        result = any_rows(self.n, vec.rows, mask)
        return ~result if t.negated else result

    # -- values ----------------------------------------------------------------------------
    def value(self, v: ir.Value) -> Any:
        if isinstance(v, ir.VConst):
            return v.value
        if isinstance(v, ir.VField):
            return self.field(v.name, v.vt.kind)
        if isinstance(v, ir.VSlice):
            assert v.operand is not None
            return slice_values(self.value(v.operand), v.ranges)
        if isinstance(v, ir.VCall):
            return functions.call(v.name, [self.value(a) for a in v.args], v.vt.kind)
        if isinstance(v, ir.VNeg):
            assert v.operand is not None
            inner = self.value(v.operand)
            return Vec(inner.rows, -inner.vals, inner.kind)
        if isinstance(v, ir.VArith):
            return self.arith(v)
        raise TypeError(f"unknown value {v!r}")

    def arith(self, v: ir.VArith) -> Vec:
        assert v.left is not None and v.right is not None
        a, b = self.value(v.left), self.value(v.right)
        float_result = v.vt.kind == FLOAT
        if isinstance(a, Vec) and isinstance(b, Vec):
            rows, ia, ib = pair(a, b, self.n)
            x, y = a.vals[ia], b.vals[ib]
        elif isinstance(a, Vec):
            rows, x, y = a.rows, a.vals, b
        else:
            rows, x, y = b.rows, a, b.vals
        dtype = np.float64 if float_result else np.int64
        x = np.asarray(x).astype(dtype) if isinstance(x, np.ndarray) else dtype(x)
        y = np.asarray(y).astype(dtype) if isinstance(y, np.ndarray) else dtype(y)
        x, y = np.broadcast_arrays(x, y)
        if v.op in "/%":
            # Division by zero gives no value for that occurrence (Wireshark: no result).
            keep = y != 0
            x, y, rows = x[keep], y[keep], rows[keep]
        with np.errstate(over="ignore"):
            if v.op == "+":
                out = x + y
            elif v.op == "-":
                out = x - y
            elif v.op == "*":
                out = x * y
            elif v.op == "&":
                out = x & y
            elif v.op == "/":
                # Integer division truncates toward zero, as in C.
                if float_result:
                    out = x / y
                else:
                    out = (np.abs(x) // np.abs(y)) * (np.sign(x) * np.sign(y))
            else:
                out = np.fmod(x, y)
        return Vec(rows, out, v.vt.kind)


def _lookup(hits: np.ndarray, code: np.ndarray) -> np.ndarray:
    """``hits[code]``, where a code may be out of range (clipped: such a packet has no value,
    and the caller masks it out). A few hits (an address, a small subnet) are found by
    comparing the codes with each: ten times faster than a lookup of every code."""
    found = np.flatnonzero(hits)
    if len(found) <= FEW_HITS:
        matches = np.zeros(len(code), dtype=bool)
        for value in found.tolist():
            matches |= code == value
        return matches
    return np.take(hits, code, mode="clip")
