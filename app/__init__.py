"""Wirelens: a packet viewer in the browser."""

__version__ = "0.1.0"
