"""Per-frame record metadata handed to the dissector (what the capture file says about a frame)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FrameMeta:
    """What the capture file records about one frame, beside its bytes.

    The first nine fields are the shared interface. The optional ones refine the Frame tree:
    ``has_interface_id`` is False for classic pcap records (Wireshark shows no interface there),
    ``interface_name`` comes from a pcapng Interface Description Block, ``time_delta`` is the time
    since the previous captured frame (Wireshark's frame.time_delta) when the caller knows it.
    """

    number: int
    epoch_sec: int
    epoch_nsec: int
    time_relative: float
    wire_len: int
    cap_len: int
    interface_id: int = 0
    comments: list[str] = field(default_factory=list)
    linktype: int = 1
    has_interface_id: bool = True
    interface_name: str | None = None
    time_delta: float | None = None
