"""Wireshark 4.x display filters: parse, check and evaluate over a whole capture at once.

Public API::

    compile_filter(text, limits=DEFAULT_LIMITS) -> CompiledFilter      (alias: compile)
        raises FilterError(message, position, length) for invalid filters
    check(text, limits=DEFAULT_LIMITS) -> CheckResult                   (never raises)
    evaluate(text_or_compiled, source: FieldSource) -> np.ndarray[bool] (one entry per packet)
        raises FilterError, FieldUnavailable (the source lacks a field the filter needs)

    CompiledFilter: .text, .canonical (normalised filter text), .fields (names of the fields
        and protocols used), .warnings (list[FilterWarning]), .evaluate(source)
    CheckResult: .valid, .error, .position, .length, .warnings, .canonical, .fields

The data side is the :class:`FieldSource` protocol of :mod:`app.core.dfilter.source`.
Pipeline: tokenizer -> parser (syntax tree, ``ast``) -> semantic check (typed ``ir``) ->
evaluator (numpy).  The field registry is :mod:`app.core.fields`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from app.core.dfilter.errors import (DEFAULT_LIMITS, FieldUnavailable, FilterError, FilterWarning,
                                     Limits, RegexTimeout)
from app.core.dfilter.evaluate import Evaluator
from app.core.dfilter.parser import parse
from app.core.dfilter.semantic import analyse
from app.core.dfilter.source import ArraySource, FieldSource, Occurrences

__all__ = [
    "ArraySource", "CheckResult", "CompiledFilter", "DEFAULT_LIMITS", "FieldSource",
    "FieldUnavailable", "FilterError", "FilterWarning", "Limits", "Occurrences", "RegexTimeout",
    "check", "compile", "compile_filter", "evaluate",
]


@dataclass(frozen=True)
class CompiledFilter:
    """A valid filter, ready to be evaluated against any :class:`FieldSource`."""

    text: str
    canonical: str
    fields: tuple[str, ...]
    warnings: tuple[FilterWarning, ...]
    evaluator: Evaluator = field(repr=False, compare=False)

    def evaluate(self, source: FieldSource) -> np.ndarray:
        """Bool array of length ``source.n``: which packets match."""
        return self.evaluator(source)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of :func:`check`, for the filter bar (green / red / yellow)."""

    valid: bool
    error: str | None = None
    position: int | None = None
    length: int | None = None
    warnings: tuple[FilterWarning, ...] = ()
    canonical: str | None = None
    fields: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def compile_filter(text: str, limits: Limits = DEFAULT_LIMITS) -> CompiledFilter:
    """Parse and check ``text``; raises :class:`FilterError` when it is not a valid filter."""
    try:
        tree, lex_warnings = parse(text, limits)
        test, warnings, names = analyse(tree, limits)
    except RecursionError:
        # The depth limit should prevent this; never let a pathological filter crash a caller.
        raise FilterError("The filter is too complex.", 0, len(text)) from None
    return CompiledFilter(text, str(tree), tuple(names), tuple(lex_warnings + warnings),
                          Evaluator(test, limits))


compile = compile_filter  # noqa: A001 - the conventional name, as re.compile


def check(text: str, limits: Limits = DEFAULT_LIMITS) -> CheckResult:
    """Validate ``text`` without evaluating it."""
    try:
        compiled = compile_filter(text, limits)
    except FilterError as exc:
        return CheckResult(False, exc.message, exc.position, exc.length)
    return CheckResult(True, warnings=compiled.warnings, canonical=compiled.canonical,
                       fields=compiled.fields)


def evaluate(flt: str | CompiledFilter, source: FieldSource,
             limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Evaluate a filter (text or compiled) over every packet of ``source``."""
    compiled = compile_filter(flt, limits) if isinstance(flt, str) else flt
    return compiled.evaluate(source)
