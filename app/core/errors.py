"""The domain's exceptions: each one is a user-facing sentence and maps to one HTTP status.

The web layer has a single handler that turns these into the JSON error shape, an error page or an
htmx fragment; the core raises them without knowing which.
"""
from __future__ import annotations


class WirelensError(Exception):
    """Base of every error a user can cause; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class CaptureFormatError(WirelensError):
    """The bytes are not a capture file this reader understands."""


class CaptureTooLarge(WirelensError):
    """An upload or a decompressed capture exceeds the configured limit."""

    status = 413


class NotFound(WirelensError):
    """An unknown capture id, packet number or flow id."""

    status = 404


class NotReady(WirelensError):
    """The capture is still being indexed and the request needs the finished index."""

    status = 409
