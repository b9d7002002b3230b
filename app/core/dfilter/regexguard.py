"""Regular expressions of ``matches`` / ``~``: PCRE-to-Python translation and a hard time bound.

Wireshark uses PCRE2, case-insensitive by default; here Python's ``re`` with ``IGNORECASE``
(``(?-i)`` at the start turns it off, as in Wireshark; ``\\z`` is mapped to ``\\Z``).

Python's ``re`` backtracks and cannot be interrupted, so one pattern such as ``(a+)+$`` on a long
value can block a thread for hours.  The bound is enforced like this:

1. ``compile_regex`` rejects patterns longer than ``Limits.max_regex_length`` and classifies
   the pattern from its parse tree: *risky* when it has nested variable repetitions
   (``(a+)+``), alternation inside a variable repetition whose branches can start alike
   (``(a|ab)*``) or backreferences.  ``check()`` reports risky patterns as warnings.
2. ``search`` estimates the work: for a non-risky pattern with ``k`` variable repetitions the
   backtracking per value is at most ``len(value) ** k`` per start position, so the whole
   column costs <= ``total_chars * max_len ** k``.  Below ``Limits.regex_inline_budget`` the
   regex runs in-process (numpy ``frompyfunc`` loop over ``Pattern.search``, no Python
   bytecode per value).
3. Otherwise (risky, or estimated too costly) the matching runs in a forked child process and
   the parent waits at most ``Limits.regex_timeout`` seconds; on expiry the child is killed
   (SIGKILL, by pid) and :class:`RegexTimeout` (a ``FilterError``) is raised.  Worst case per
   ``matches`` evaluation: ``regex_timeout`` plus the fork, whatever the pattern and data.

Forking from a multi-threaded server is fine here: the child only runs ``re`` and numpy on
memory it inherited, writes to a pipe and leaves with ``os._exit``.
Without ``os.fork`` (Windows) step 3 degrades to in-process evaluation in chunks with the
deadline checked between chunks, which bounds everything but a single pathological value.
"""
from __future__ import annotations

import os
import re
import select
import signal
import time
from dataclasses import dataclass

import numpy as np

from app.core.dfilter.errors import FilterError, Limits, RegexTimeout

try:  # Python 3.11+: the sre modules moved under re
    from re import _constants as _sre_c  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = {_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, getattr(_sre_c, "POSSESSIVE_REPEAT", None)}
_CHUNK = 4096


@dataclass(frozen=True)
class RegexPlan:
    """A compiled ``matches`` pattern and what is known about its cost."""

    source: str
    pattern: re.Pattern
    risky: str | None
    repeats: int
    pos: int


def compile_regex(text: str, pos: int, length: int, limits: Limits, as_bytes: bool) -> RegexPlan:
    """Compile a filter regex (for str or bytes values); errors point at the string token."""
    if len(text) > limits.max_regex_length:
        raise FilterError(f"The regular expression is too long ({len(text)} characters; the limit"
                          f" is {limits.max_regex_length}).", pos, length)
    source, flags = _translate(text)
    try:
        if as_bytes:
            pattern = re.compile(source.encode("utf-8", "surrogateescape"), flags)
        else:
            pattern = re.compile(source, flags)
        parsed = _sre_parse.parse(source, flags)
    except (re.error, UnicodeError, RecursionError) as exc:
        msg = getattr(exc, "msg", str(exc))
        raise FilterError(f'"{text}" is not a valid regular expression: {msg}', pos,
                          length) from None
    repeats, risky = _analyse(parsed)
    return RegexPlan(text, pattern, risky, repeats, pos)


def _translate(text: str) -> tuple[str, int]:
    flags = re.IGNORECASE
    m = re.match(r"\(\?([a-zA-Z]*)-([a-zA-Z]+)\)", text)
    if m:
        # PCRE "(?-i)" at the start: Python only accepts turning flags off in a scoped group.
        if "i" in m.group(2):
            flags &= ~re.IGNORECASE
        on = "".join(c for c in m.group(1) if c in "aimsux")
        text = (f"(?{on})" if on else "") + text[m.end():]
    out: list[str] = []
    i = 0
    while i < len(text):  # compile-time pass over the pattern text, not over packets
        if text[i] == "\\" and i + 1 < len(text):
            pair = text[i:i + 2]
            out.append("\\Z" if pair == "\\z" else pair)
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out), flags


def _analyse(parsed: object) -> tuple[int, str | None]:
    """(number of variable repetitions, reason the pattern is risky or None)."""
    repeats = 0
    risky: str | None = None

    def walk(items: object, in_var: bool) -> None:
        nonlocal repeats, risky
        for op, av in items:  # type: ignore[attr-defined]
            if op in _REPEATS:
                low, high, body = av
                variable = high != low
                if variable:
                    repeats += 1
                    if in_var and risky is None:
                        risky = "nested repetition (like (a+)+) can take exponential time"
                    if _ambiguous_branch(body) and risky is None:
                        risky = "alternation inside a repetition (like (a|ab)*) can be slow"
                walk(body, in_var or variable)
            elif op is _sre_c.SUBPATTERN:
                walk(av[-1], in_var)
            elif op is _sre_c.BRANCH:
                for branch in av[1]:
                    walk(branch, in_var)
            elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
                walk(av[1], in_var)
            elif op is getattr(_sre_c, "ATOMIC_GROUP", None):
                walk(av, in_var)
            elif op in (_sre_c.GROUPREF, _sre_c.GROUPREF_EXISTS) and risky is None:
                risky = "backreferences can take exponential time"

    walk(parsed, False)
    return repeats, risky


def _ambiguous_branch(body: object) -> bool:
    """True when ``body`` holds an alternation whose branches do not start with distinct
    literal characters (so a repetition over it can split the input in many ways)."""
    for op, av in body:  # type: ignore[attr-defined]
        if op is _sre_c.BRANCH:
            firsts = []
            for branch in av[1]:
                if not len(branch) or branch[0][0] is not _sre_c.LITERAL:
                    return True
                firsts.append(chr(branch[0][1]).lower())
            if len(set(firsts)) != len(firsts):
                return True
        elif op is _sre_c.SUBPATTERN and _ambiguous_branch(av[-1]):
            return True
    return False


def search(plan: RegexPlan, values: np.ndarray, limits: Limits) -> np.ndarray:
    """Bool mask: does ``plan`` match (search anywhere) each value of the object array."""
    m = len(values)
    if m == 0:
        return np.zeros(0, dtype=bool)
    find = np.frompyfunc(plan.pattern.search, 1, 1)

    def run(chunk: np.ndarray) -> np.ndarray:
        return find(chunk).astype(bool)

    if plan.risky is None and _estimated_cost(plan, values) <= limits.regex_inline_budget:
        return run(values)
    if hasattr(os, "fork"):
        return _run_forked(lambda: run(values), m, limits.regex_timeout, plan)
    return _run_chunked(run, values, limits.regex_timeout, plan)


def _estimated_cost(plan: RegexPlan, values: np.ndarray) -> float:
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    total = float(lengths.sum()) + len(values)
    longest = float(lengths.max()) + 1
    if plan.repeats == 0:
        return total * max(1, len(plan.source))
    return total * longest ** min(plan.repeats, 8)


def _timeout(plan: RegexPlan, seconds: float) -> RegexTimeout:
    return RegexTimeout(f'The regular expression "{plan.source}" took longer than {seconds:g} s '
                        "to evaluate; simplify it.", plan.pos, len(plan.source) + 2)


def _run_forked(fn, m: int, timeout: float, plan: RegexPlan) -> np.ndarray:
    """Run ``fn`` (returning a bool array of length m) in a child process, bounded in time."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: compute, write the packed mask, leave without any cleanup handlers
        status = 0
        try:
            os.close(read_fd)
            data = np.packbits(np.asarray(fn(), dtype=bool)).tobytes()
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
        except BaseException:  # noqa: BLE001 - any failure is reported through the exit status
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    finished = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                break
            data = os.read(read_fd, 1 << 20)
            if not data:
                finished = True
                break
            chunks.append(data)
    finally:
        os.close(read_fd)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if not finished:
        raise _timeout(plan, timeout)
    payload = b"".join(chunks)
    if status != 0 or len(payload) != (m + 7) // 8:
        raise FilterError(f'Evaluating the regular expression "{plan.source}" failed.', plan.pos)
    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8), count=m).astype(bool)


def _run_chunked(run, values: np.ndarray, timeout: float, plan: RegexPlan) -> np.ndarray:
    deadline = time.monotonic() + timeout
    parts = []
    for start in range(0, len(values), _CHUNK):  # chunks of values, deadline between them
        if time.monotonic() > deadline:
            raise _timeout(plan, timeout)
        parts.append(run(values[start:start + _CHUNK]))
    return np.concatenate(parts)
