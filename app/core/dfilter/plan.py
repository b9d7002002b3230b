"""Which fields a test reads, and in what order to run the operands of ``and``/``or``.

Operands of ``and`` and ``or`` may run in any order without changing the result, so the cheap
ones (fields the index holds) run first: what they rule out is then skipped by the costly ones
(fields read from protocol trees), which a source may extract for the remaining packets only.
"""
from __future__ import annotations

from typing import Callable, Iterator

from app.core.dfilter import ir
from app.core.dfilter.fieldtable import AGGREGATES

Cost = Callable[[str], int]


def fields_of_value(v: ir.Value | None) -> Iterator[str]:
    if v is None or isinstance(v, ir.VConst):
        return
    if isinstance(v, ir.VField):
        yield v.name
    elif isinstance(v, (ir.VSlice, ir.VNeg)):
        yield from fields_of_value(v.operand)
    elif isinstance(v, ir.VCall):
        for arg in v.args:
            yield from fields_of_value(arg)
    elif isinstance(v, ir.VArith):
        yield from fields_of_value(v.left)
        yield from fields_of_value(v.right)


def fields_of_test(t: ir.Test) -> Iterator[str]:
    if isinstance(t, ir.TLogic):
        for operand in t.operands:
            yield from fields_of_test(operand)
    elif isinstance(t, ir.TNot):
        yield from fields_of_test(t.operand)
    elif isinstance(t, ir.TPresent):
        yield t.name
    elif isinstance(t, ir.TCompare):
        yield from fields_of_value(t.left)
        yield from fields_of_value(t.right)
    elif isinstance(t, (ir.TMatches, ir.TTruthy, ir.TIn)):
        yield from fields_of_value(t.value)


def field_cost(cost: Cost, name: str) -> int:
    """An aggregate (``ip.addr``) costs what its dearest part costs when the source lacks it."""
    own = cost(name)
    parts = AGGREGATES.get(name, ())
    if own == 0 or not parts:
        return own
    return min(own, max(field_cost(cost, p) for p in parts))


def test_cost(cost: Cost, t: ir.Test) -> int:
    return max((field_cost(cost, name) for name in fields_of_test(t)), default=0)


def cheap_first(operands: list[ir.Test], cost: Cost) -> list[ir.Test]:
    """``operands`` by cost; equal costs keep the order the user wrote."""
    costs = [test_cost(cost, t) for t in operands]
    if costs == sorted(costs):
        return operands
    order = sorted(range(len(operands)), key=lambda k: costs[k])
    return [operands[k] for k in order]
