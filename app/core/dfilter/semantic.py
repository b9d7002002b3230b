"""Semantic check: resolves names against the field registry, types every expression,
converts constants to the type they are compared with, and builds the evaluator's IR.

Raises :class:`FilterError` (with the position of the offending token) for unknown fields,
constants that do not parse for the field type, unsupported operator/type combinations and bad
regular expressions; collects warnings for suspicious but valid constructs.
"""
from __future__ import annotations

from app.core.dfilter import ast, ir, literals
from app.core.dfilter.errors import FilterError, FilterWarning, Limits
from app.core.dfilter.ir import VType
from app.core.dfilter.regexguard import compile_regex
from app.core.dfilter.source import BYTES, ETHER, FLOAT, INT, IPV4, IPV6, NONE, STR, kind_of
from app.core.fields import Field, FieldType, resolve

_SLICEABLE = (STR, BYTES, ETHER, IPV4, IPV6)
_T_BYTES = FieldType.BYTES
# name -> (minimum arguments, maximum arguments or None)
FUNCTIONS = {"len": (1, 1), "count": (1, 1), "lower": (1, 1), "upper": (1, 1),
             "string": (1, 1), "abs": (1, 1), "min": (1, None), "max": (1, None)}


def analyse(tree: ast.Node, limits: Limits) -> tuple[ir.Test, list[FilterWarning], list[str]]:
    """(IR test, warnings, names of the fields and protocols the filter uses)."""
    checker = _Checker(limits)
    test = checker.test(tree)
    return test, checker.warnings, sorted(checker.fields)


def _span(node: ast.Node) -> int:
    return max(1, len(str(node)))


class _Checker:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.warnings: list[FilterWarning] = []
        self.fields: set[str] = set()

    def warn(self, message: str, node: ast.Node) -> None:
        self.warnings.append(FilterWarning(message, node.pos, _span(node)))

    # -- names ---------------------------------------------------------------------------
    def resolve(self, node: ast.Word, strict: bool) -> Field | None:
        field, replacement = resolve(node.text)
        if field is None:
            if strict:
                raise FilterError(f'"{node.text}" is not a valid protocol or protocol field.',
                                  node.pos, _span(node))
            return None
        if replacement is not None:
            self.warn(f'"{node.text}" is deprecated; use "{replacement}".', node)
        self.fields.add(field.name)
        return field

    def no_field(self, node: ast.Node) -> FilterError:
        """Error for a relation between two constants (the left one was meant as a field)."""
        if isinstance(node, ast.Word) and any(c.isalpha() for c in node.text):
            return FilterError(f'"{node.text}" is not a valid protocol or protocol field.',
                               node.pos, _span(node))
        return FilterError("Constant expression is invalid: compare a field with a value.",
                           node.pos, _span(node))

    # -- tests ---------------------------------------------------------------------------
    def test(self, node: ast.Node) -> ir.Test:
        if isinstance(node, ast.Empty):
            return ir.TAll()
        if isinstance(node, ast.Logical):
            return ir.TLogic(node.op, [self.test(o) for o in node.operands])
        if isinstance(node, ast.Not):
            return ir.TNot(self.test(node.operand))
        if isinstance(node, ast.Compare):
            return self.matches(node) if node.op == "matches" else self.compare(node)
        if isinstance(node, ast.InSet):
            return self.in_set(node)
        if isinstance(node, ast.Word):
            field = self.resolve(node, strict=True)
            assert field is not None
            return ir.TPresent(field.name, kind_of(field.type))
        if isinstance(node, (ast.String, ast.CharConst)):
            raise FilterError(f"{node} is a constant, not a field or protocol.", node.pos,
                              _span(node))
        value = self.value(node)
        if value is None:
            raise self.no_field(node)
        return ir.TTruthy(value)

    def compare(self, node: ast.Compare) -> ir.Test:
        left, right = self.value(node.left), self.value(node.right)
        if left is None and right is None:
            raise self.no_field(node.left)
        if node.op == "contains":
            return self.contains(node, left, right)
        for side in (left, right):
            if side is not None and side.vt.kind == NONE:
                raise FilterError(f'"{side.vt.label}" (type={side.vt.ftype.display}) cannot '
                                  f'participate in "{node.op_text}" comparison.', node.pos,
                                  len(node.op_text))
        if left is None:
            left = self.const(node.left, right.vt)  # type: ignore[union-attr]
        elif right is None:
            right = self.const(node.right, left.vt)
        elif not _compatible(left.vt.kind, right.vt.kind):
            raise FilterError(f'"{left.vt.label}" ({left.vt.ftype.display}) and "{right.vt.label}" '
                              f'({right.vt.ftype.display}) are not of compatible types.',
                              node.pos, len(node.op_text))
        self.comparison_warnings(node, left, right)
        return ir.TCompare(node.op, left, right)

    def comparison_warnings(self, node: ast.Compare, left: ir.Value, right: ir.Value) -> None:
        if node.op_text in ("~=", "any_ne"):
            self.warn(f'"{node.op_text}" is deprecated; use "!==" (any not equal).', node)
        if node.op == "!=" and isinstance(left, ir.VField):
            field, _ = resolve(left.name)
            if field is not None and field.multi:
                self.warn(f'"{node}" is true only when every {left.name} differs (source and '
                          f'destination); to exclude frames use "!({left.name} == {node.right})", '
                          f'for "any differs" use "{left.name} !== {node.right}".', node)

    def contains(self, node: ast.Compare, left: ir.Value | None,
                 right: ir.Value | None) -> ir.Test:
        if left is None:
            raise self.no_field(node.left)
        if left.vt.kind not in (STR, BYTES):
            raise FilterError(f'"{left.vt.label}" is a {left.vt.ftype.display} and cannot be used '
                              'with "contains".', node.pos, len(node.op_text))
        if right is None:
            right = self.const(node.right, left.vt)
        elif right.vt.kind not in (STR, BYTES):
            raise FilterError(f'"{right.vt.label}" is a {right.vt.ftype.display} and cannot be '
                              'searched for.', node.right.pos, _span(node.right))
        return ir.TCompare("contains", left, right)

    def matches(self, node: ast.Compare) -> ir.Test:
        left = self.value(node.left)
        if left is None:
            raise self.no_field(node.left)
        if left.vt.kind not in (STR, BYTES):
            raise FilterError(f'"{left.vt.label}" is a {left.vt.ftype.display} and cannot be '
                              f'used with "{node.op_text}".', node.pos, len(node.op_text))
        if not isinstance(node.right, ast.String):
            raise FilterError(f'A regular expression must be a double-quoted string, not '
                              f'"{node.right}".', node.right.pos, _span(node.right))
        plan = compile_regex(node.right.value, node.right.pos, _span(node.right), self.limits,
                             as_bytes=left.vt.kind == BYTES)
        if plan.risky:
            self.warn(f"Regular expression: {plan.risky}; its evaluation is limited to "
                      f"{self.limits.regex_timeout:g} s.", node.right)
        return ir.TMatches(left, plan, node.right.pos)

    def in_set(self, node: ast.InSet) -> ir.Test:
        value = self.value(node.operand)
        if value is None:
            raise self.no_field(node.operand)
        if value.vt.kind == NONE:
            raise FilterError(f'"{value.vt.label}" (type={value.vt.ftype.display}) cannot '
                              'participate in "in" comparison.', node.pos, 2)
        items = []
        for item in node.items:
            for part in (item.low, item.high):
                if part is not None and self.value(part) is not None:
                    raise FilterError("Only constants can be set elements.", part.pos, _span(part))
            low = literals.convert(item.low, value.vt)
            high = literals.convert(item.high, value.vt) if item.high is not None else None
            items.append((low, high))
        return ir.TIn(value, items, node.negated)

    # -- values --------------------------------------------------------------------------
    def const(self, node: ast.Node, vt: VType) -> ir.VConst:
        return ir.VConst(vt, literals.convert(node, vt))

    def value(self, node: ast.Node) -> ir.Value | None:
        """Typed value expression, or None for a constant (typed later by its context)."""
        if isinstance(node, ast.Word):
            field = self.resolve(node, strict=False)
            if field is None:
                return None
            return ir.VField(VType(kind_of(field.type), field.type, field.name), field.name)
        if isinstance(node, (ast.String, ast.CharConst)):
            return None
        if isinstance(node, ast.Layer):
            raise FilterError("The layer operator (#) is not supported.", node.pos)
        if isinstance(node, ast.Slice):
            return self.slice(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Negate):
            inner = self.value(node.operand)
            if inner is None:
                return None
            self.require_numeric(inner, node)
            ftype = FieldType.DOUBLE if inner.vt.kind == FLOAT else FieldType.INT64
            return ir.VNeg(VType(inner.vt.kind, ftype, str(node)), inner)
        if isinstance(node, ast.Arith):
            return self.arith(node)
        raise FilterError(f'"{node}" was unexpected in this context.', node.pos, _span(node))

    def require_numeric(self, value: ir.Value, node: ast.Node, integer: bool = False) -> None:
        kinds = (INT,) if integer else (INT, FLOAT)
        if value.vt.kind not in kinds:
            what = "integers" if integer else "numbers"
            raise FilterError(f'"{value.vt.label}" is a {value.vt.ftype.display}; arithmetic '
                              f'"{getattr(node, "op", "-")}" needs {what}.', node.pos, _span(node))

    def arith(self, node: ast.Arith) -> ir.Value | None:
        left, right = self.value(node.left), self.value(node.right)
        if left is None and right is None:
            return None  # constant arithmetic, folded by literals.convert with its context
        typed = left if left is not None else right
        assert typed is not None
        self.require_numeric(typed, node, integer=node.op == "&")
        # Constants of "+ - * / %" are read as signed 64-bit (the result type), those of "&"
        # with the field's own type.
        const_vt = typed.vt
        if node.op != "&":
            wide = FieldType.DOUBLE if typed.vt.kind == FLOAT else FieldType.INT64
            const_vt = VType(typed.vt.kind, wide, typed.vt.label)
        if left is None:
            left = self.const(node.left, const_vt)
        if right is None:
            right = self.const(node.right, const_vt)
        for side in (left, right):
            self.require_numeric(side, node, integer=node.op == "&")
        if node.op == "&":
            vt = VType(INT, left.vt.ftype, str(node))
        elif FLOAT in (left.vt.kind, right.vt.kind):
            vt = VType(FLOAT, FieldType.DOUBLE, str(node))
        else:
            vt = VType(INT, FieldType.INT64, str(node))
        return ir.VArith(vt, node.op, left, right)

    def slice(self, node: ast.Slice) -> ir.Value:
        base = self.value(node.operand)
        if base is None:
            raise self.no_field(node.operand)
        if base.vt.kind not in _SLICEABLE:
            raise FilterError(f'"{base.vt.label}" is a {base.vt.ftype.display} and cannot be '
                              'sliced into a sequence of bytes.', node.pos, 1)
        ranges = [(r.kind, r.start, r.value) for r in node.ranges]
        return ir.VSlice(VType(BYTES, _T_BYTES, str(node)), base, ranges)

    def call(self, node: ast.Call) -> ir.Value:
        name = node.name
        if name not in FUNCTIONS:
            raise FilterError(f"Function '{name}' does not exist", node.pos, len(name))
        low, high = FUNCTIONS[name]
        n = len(node.args)
        if n < low or (high is not None and n > high):
            need = f"exactly {low}" if high == low else f"at least {low}"
            raise FilterError(f"Function {name}() needs {need} argument{'s' * (low > 1)}.",
                              node.pos, len(name))
        args = [self.value(a) for a in node.args]
        typed = next((a for a in args if a is not None), None)
        if typed is None:
            raise self.no_field(node.args[0])
        args = [a if a is not None else self.const(src, typed.vt)
                for a, src in zip(args, node.args)]
        label = str(node)
        first = args[0]
        if name == "len":
            if first.vt.kind not in _SLICEABLE:
                raise self.bad_arg(node, first, "a string, byte sequence or address")
            return ir.VCall(VType(INT, FieldType.UINT32, label), name, args)
        if name == "count":
            if not isinstance(first, ir.VField):
                raise FilterError("Function count() needs a field.", node.args[0].pos)
            return ir.VCall(VType(INT, FieldType.UINT32, label), name, args)
        if name in ("lower", "upper"):
            if first.vt.kind != STR:
                raise self.bad_arg(node, first, "a string")
            return ir.VCall(VType(STR, FieldType.STRING, label), name, args)
        if name == "string":
            if first.vt.kind == NONE:
                raise self.bad_arg(node, first, "a field with a value")
            return ir.VCall(VType(STR, FieldType.STRING, label), name, args)
        for arg in args:  # abs, min, max
            if arg.vt.kind not in (INT, FLOAT):
                raise self.bad_arg(node, arg, "a number")
        is_float = any(a.vt.kind == FLOAT for a in args)
        if is_float:
            vt = VType(FLOAT, FieldType.DOUBLE, label)
        else:
            vt = VType(INT, FieldType.INT64, label)
        return ir.VCall(vt, name, args)

    @staticmethod
    def bad_arg(node: ast.Call, arg: ir.Value, need: str) -> FilterError:
        return FilterError(f'Function {node.name}() needs {need}, not "{arg.vt.label}" '
                           f"({arg.vt.ftype.display}).", node.pos, _span(node))


def _compatible(a: str, b: str) -> bool:
    if a == b:
        return True
    numeric = {INT, FLOAT}
    binary = {BYTES, STR, ETHER, IPV4, IPV6}
    # Byte slices compare with strings and addresses through their bytes.
    return (a in numeric and b in numeric) or (a in binary and b in binary and BYTES in (a, b))
