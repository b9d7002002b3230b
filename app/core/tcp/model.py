"""Input and output containers of the TCP analysis: plain numpy arrays, one row per TCP segment.

See the package docstring (app/core/tcp/__init__.py) for the meaning of every array.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

# TCP header flag bits as in tcp.flags (12 bits: reserved, NS, CWR, ECE, URG, ACK, PSH, RST, SYN,
# FIN).
FIN = 0x001
SYN = 0x002
RST = 0x004
PSH = 0x008
ACK = 0x010

_INPUT_DTYPES: dict[str, type] = {
    "number": np.int64,
    "time": np.float64,
    "stream": np.int64,
    "direction": np.int8,
    "seq_raw": np.uint32,
    "ack_raw": np.uint32,
    "flags": np.uint16,
    "payload_len": np.int64,
    "window_value": np.uint16,
    "ws_option": np.int16,
}


@dataclass
class TcpSegments:
    """The TCP segments of a capture in frame order (equal-length arrays)."""

    number: np.ndarray  # int64 frame number
    time: np.ndarray  # float64 seconds (any origin: only differences are used)
    stream: np.ndarray  # int tcp.stream
    direction: np.ndarray  # int8: 0 = sent by the stream's first sender ("A"), 1 = by "B"
    seq_raw: np.ndarray  # uint32
    ack_raw: np.ndarray  # uint32
    flags: np.ndarray  # uint16 tcp.flags
    payload_len: np.ndarray  # int tcp.len
    window_value: np.ndarray  # uint16 tcp.window_size_value
    ws_option: np.ndarray | None = None  # int16 window-scale shift, -1 when absent
    analyzable: np.ndarray | None = None  # bool, False when tshark has no tcp.len for the segment
    reused: np.ndarray | None = None  # bool, from assign_streams(): SYN that reopened a 4-tuple

    def __post_init__(self) -> None:
        n = len(self.number)
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            dtype = _INPUT_DTYPES.get(f.name, bool)
            arr = np.ascontiguousarray(value, dtype=dtype)
            if arr.shape != (n,):
                raise ValueError(f"TcpSegments.{f.name} has shape {arr.shape}, expected ({n},)")
            setattr(self, f.name, arr)
        if self.ws_option is None:
            self.ws_option = np.full(n, -1, dtype=np.int16)
        if self.analyzable is None:
            self.analyzable = np.ones(n, dtype=bool)
        if self.reused is None:
            self.reused = np.zeros(n, dtype=bool)

    def __len__(self) -> int:
        return len(self.number)


@dataclass
class StreamSummary:
    """Per-stream results, indexed by tcp.stream (rows for unused stream numbers stay empty)."""

    # uint8 tcp.completeness bitmask: 1 SYN, 2 SYN-ACK, 4 ACK, 8 DATA, 16 FIN, 32 RST
    completeness: np.ndarray
    syn_frame: np.ndarray  # int64, 0 when no SYN
    syn_ack_frame: np.ndarray  # int64, 0 when none
    ack_frame: np.ndarray  # int64 third handshake segment, 0 when none
    client_isn: np.ndarray  # int64 raw ISN of the SYN sender, -1 unknown
    server_isn: np.ndarray  # int64 raw ISN of the SYN-ACK sender, -1 unknown
    client_direction: np.ndarray  # int8 direction of the SYN (or SYN-ACK receiver), -1 unknown
    initial_rtt: np.ndarray  # float64 seconds (tcp.analysis.initial_rtt), NaN unknown


@dataclass
class TcpAnalysis:
    """Per-segment results (same order as the input) plus per-stream results."""

    seq: np.ndarray  # uint32 tcp.seq (relative; raw when the segment is not analyzable)
    ack: np.ndarray  # uint32 tcp.ack (relative when ACK is set; raw otherwise)
    nxtseq: np.ndarray  # int64 tcp.nxtseq, -1 when tshark shows none
    window_size: np.ndarray  # int64 tcp.window_size (scaled)
    win_scale: np.ndarray  # int8 scale state used: shift >= 0, -1 unknown, -2 no scaling
    analysis: np.ndarray  # uint32 mask of app.core.tcp.flags bits
    dup_ack_num: np.ndarray  # uint32 tcp.analysis.duplicate_ack_num, 0 when absent
    dup_ack_frame: np.ndarray  # int64 tcp.analysis.duplicate_ack_frame, 0 when absent
    state_a: np.ndarray  # uint8 TcpState of endpoint A after the segment
    state_b: np.ndarray  # uint8 TcpState of endpoint B after the segment
    streams: StreamSummary = field(repr=False)
