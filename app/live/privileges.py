"""Whether this process may capture packets, and what to grant when it may not.

Opening an AF_PACKET socket needs CAP_NET_RAW in the process's effective set (root has it, unless
a container dropped it). The answer is read from ``/proc/self/status`` so that the interface list
can say it before anyone presses Start, and confirmed by really opening a socket when a capture
starts.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import WirelensError

CAP_NET_RAW = 13
CAP_NET_ADMIN = 12


class CaptureForbidden(WirelensError):
    """The process lacks the privilege to open capture sockets."""

    status = 403


@dataclass(frozen=True)
class Privileges:
    can_capture: bool
    message: str | None = None  # why not, and what to grant


def effective_caps(status_text: str) -> int | None:
    """The effective capability bits from the text of ``/proc/<pid>/status`` (None if absent)."""
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            try:
                return int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                return None
    return None


def remedy() -> str:
    """The ways to grant capture rights, with this installation's interpreter path filled in."""
    python = os.path.realpath(sys.executable)
    return (
        "Run Wirelens as root, or grant its Python interpreter the capture capabilities with "
        f"`sudo setcap cap_net_raw,cap_net_admin=eip {python}`, or, in Docker, start the "
        "container with `--cap-add=NET_RAW --cap-add=NET_ADMIN` (compose: `cap_add: [NET_RAW, NET_ADMIN]`)."
    )


def check(status_path: Path = Path("/proc/self/status")) -> Privileges:
    """Whether live capture is possible for this process, with the reason when it is not."""
    try:
        caps = effective_caps(status_path.read_text())
    except OSError:
        caps = None
    if caps is None:
        # No /proc (not Linux): only root can be assumed to capture.
        if os.geteuid() == 0:
            return Privileges(True)
        return Privileges(False, "Live capture needs the CAP_NET_RAW capability, which this "
                                 "process cannot be shown to have. " + remedy())
    if caps >> CAP_NET_RAW & 1:
        return Privileges(True)
    who = "root, but without" if os.geteuid() == 0 else f"user id {os.geteuid()}, without"
    return Privileges(False, f"This process cannot capture packets: it runs as {who} the "
                             "CAP_NET_RAW capability needed to open capture sockets. " + remedy())


def require() -> None:
    """Raise :class:`CaptureForbidden` (403) with the remedy when capture is not possible."""
    state = check()
    if not state.can_capture:
        raise CaptureForbidden(state.message or "Live capture is not permitted.",
                               {"remedy": remedy()})
