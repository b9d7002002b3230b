"""A big capture made here (no external generator): many short TCP conversations, small packets.

300 000 packets make ~26 MB, which a real server takes a few seconds to index: long enough to
kill it in the middle.
"""
from __future__ import annotations

import struct
from pathlib import Path

from tests.security.hostile import CLIENT_IP, CLIENT_MAC, SERVER_IP, SERVER_MAC, ether, ipv4, tcp

CONVERSATION = 10  # packets per conversation: handshake, 3 requests and answers, close


def _conversation(port: int) -> list[bytes]:
    c, s = 1000, 9000
    out = []

    def add(frame_src_is_client: bool, seq: int, ack: int, flags: int, payload: bytes = b"") -> None:
        if frame_src_is_client:
            out.append(ether(SERVER_MAC, CLIENT_MAC, 0x0800, ipv4(CLIENT_IP, SERVER_IP, 6, tcp(port, 80, seq, ack, flags, payload))))
        else:
            out.append(ether(CLIENT_MAC, SERVER_MAC, 0x0800, ipv4(SERVER_IP, CLIENT_IP, 6,
                                                                 tcp(80, port, seq, ack, flags, payload, SERVER_IP, CLIENT_IP))))

    add(True, c, 0, 0x02)
    add(False, s, c + 1, 0x12)
    add(True, c + 1, s + 1, 0x10)
    for k in range(3):
        add(True, c + 1 + 8 * k, s + 1 + 12 * k, 0x18, b"GET /x\r\n")
        add(False, s + 1 + 12 * k, c + 9 + 8 * k, 0x18, b"HTTP/1.1 204")
    add(True, c + 25, s + 37, 0x11)
    return out


def write(path: Path, packets: int = 300_000) -> Path:
    """Write ``packets`` packets (a multiple of 10) of TCP conversations to ``path``."""
    template = _conversation(40000)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for n in range(packets // CONVERSATION):
            port = struct.pack("!H", 1024 + n % 60000)
            chunk = []
            for k, frame in enumerate(template):
                # Client port at byte 34 (from the client) or 36 (to it); checksums are not checked.
                at = 34 if k in (0, 2, 3, 5, 7, 9) else 36
                frame = frame[:at] + port + frame[at + 2 :]
                i = n * CONVERSATION + k
                chunk.append(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000,
                                         len(frame), len(frame)) + frame)
            f.write(b"".join(chunk))
    return path
