"""Errors, warnings and resource limits of the display filter engine."""
from __future__ import annotations

from dataclasses import dataclass


class FilterError(Exception):
    """An invalid display filter (syntax, unknown field, bad value) or a filter that exceeded
    a resource limit.  ``position`` is the 0-based character offset the message refers to and
    ``length`` the number of characters to underline (like tshark's ``^~~~``)."""

    def __init__(self, message: str, position: int = 0, length: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.length = max(1, length)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"FilterError({self.message!r}, position={self.position})"


class RegexTimeout(FilterError):
    """A ``matches`` regular expression did not finish within ``Limits.regex_timeout``."""


class FieldUnavailable(Exception):
    """The :class:`FieldSource` cannot provide a field the filter needs (``values()`` and
    ``present()`` returned None).  Not a user error: the filter is valid, the data is missing."""

    def __init__(self, name: str) -> None:
        super().__init__(f"field {name!r} is not available from this source")
        self.name = name


@dataclass(frozen=True)
class FilterWarning:
    """A valid but suspicious construct (Wireshark shows these filters in yellow)."""

    message: str
    position: int
    length: int = 1


@dataclass(frozen=True)
class Limits:
    """Resource limits protecting the server against huge or pathological filters."""

    # Longest accepted filter text, in characters.
    max_length: int = 4096
    # Deepest nesting of parentheses / operators (recursive descent depth).
    max_depth: int = 64
    # Most elements in one ``in {...}`` set.
    max_set_items: int = 1024
    # Longest regular expression pattern, in characters.
    max_regex_length: int = 1024
    # Wall-clock bound (seconds) for evaluating one ``matches`` over a capture; the matching
    # runs in a forked child process that is killed when this expires (see regexguard.py).
    regex_timeout: float = 5.0
    # Estimated backtracking steps below which a regex without risky constructs runs in-process.
    regex_inline_budget: float = 5e7


DEFAULT_LIMITS = Limits()
