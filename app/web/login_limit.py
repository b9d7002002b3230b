"""Failed access-token attempts per client address: past a limit, that address has to wait.

A wrong token (in an ``Authorization`` header, a ``?token=`` link or the login form) counts
against the address it came from. ``limit`` failures within ``window`` seconds block the address
for ``window`` seconds: its token attempts are answered 429 with ``Retry-After`` and are not
checked at all, so the block holds even against a guess that happens to be right. A browser
that already has a session cookie presents no token and is never blocked, so people logged in
behind the same address (a NAT, a proxy) keep working while a script there guesses.

An IPv6 client is counted by its /64: one host usually holds a whole /64 and could otherwise
take a fresh address for every guess. The table holds at most ``max_clients`` addresses; past
that the one that failed least recently is dropped, so a flood of addresses costs bounded memory
(at worst the oldest of them may guess again sooner).

Everything runs on the event loop (the access middleware and the login route), so checking an
address and counting its failure happen with no other request in between and need no lock.
"""
from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from typing import Callable

from starlette.types import Scope

MAX_CLIENTS = 10_000


def client_address(scope: Scope) -> str:
    """The address a request came from (after the server's trusted proxy headers), or ""."""
    client = scope.get("client")
    return str(client[0]) if client and client[0] else ""


def address_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a Unix socket, a test client's name: counted as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class _Client:
    __slots__ = ("failures", "blocked_until")

    def __init__(self, limit: int) -> None:
        self.failures: deque[float] = deque(maxlen=limit)
        self.blocked_until = 0.0


class LoginLimiter:
    """Counts failed token attempts per address (see the module docstring); ``limit`` <= 0
    turns the limit off."""

    def __init__(self, limit: int, window: float, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = int(limit)
        self.window = max(0.0, float(window))
        self.max_clients = max(1, max_clients)
        self.clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0

    def retry_after(self, host: str) -> int:
        """Whole seconds until ``host`` may try a token again; 0 when it may now."""
        if not self.enabled:
            return 0
        key = address_key(host)
        entry = self._clients.get(key)
        if entry is None:
            return 0
        now = self.clock()
        if entry.blocked_until > now:
            return max(1, math.ceil(entry.blocked_until - now))
        self._expire(entry, now)
        if not entry.failures:
            del self._clients[key]  # nothing left to remember about this address
        return 0

    def failed(self, host: str) -> int:
        """Count a wrong token from ``host``; the seconds it must now wait (0 if it need not)."""
        if not self.enabled:
            return 0
        key = address_key(host)
        now = self.clock()
        entry = self._clients.get(key)
        if entry is None:
            entry = self._clients[key] = _Client(self.limit)
        self._clients.move_to_end(key)
        self._expire(entry, now)
        entry.failures.append(now)
        if len(entry.failures) >= self.limit:
            entry.blocked_until = now + self.window
            entry.failures.clear()
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        return self.retry_after(host)

    def succeeded(self, host: str) -> None:
        """The right token from ``host``: its earlier failures no longer count (only its own)."""
        if not self._clients:
            return  # the usual case, on every request with the token: nothing to look up
        key = address_key(host)
        entry = self._clients.get(key)
        if entry is not None and entry.blocked_until <= self.clock():
            del self._clients[key]

    def __len__(self) -> int:
        return len(self._clients)

    def _expire(self, entry: _Client, now: float) -> None:
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
