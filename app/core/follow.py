"""Follow TCP/UDP stream: a flow's payload in both directions, in the order it was delivered.

TCP payload is taken segment by segment in frame order, keeping only bytes each direction had
not delivered yet (a retransmission adds nothing, an overlapping one only its new tail), which
is what the application on each side received. UDP datagrams are taken whole.
"""
from __future__ import annotations

import base64



from app.core.indexview import CaptureIndex
from app.core.ladder import flow_rows

MAX_BYTES = 16 * 1024 * 1024  # a follow view larger than this is cut, and says so


def follow(index: CaptureIndex, protocol: str, stream: int, swapped: bool = False) -> dict:
    rows = flow_rows(index, protocol, stream)
    segments: list[dict] = []
    delivered: dict[int, int] = {}  # direction -> next relative seq not yet delivered
    total = 0
    truncated = False
    first_src = None
    for i in rows.tolist():
        length = int(index["pl_len"][i])
        start = int(index["pl_off"][i])
        if length <= 0 or start < 0:
            continue
        frame = index.frame(i)
        payload = frame[start : start + length]
        if protocol == "tcp":
            d = int(index["tcp_dir"][i]) ^ int(swapped)
            seq = int(index["tcp_seq"][i])
            done = delivered.get(d)
            if done is not None:
                skip = (done - seq) & 0xFFFFFFFF
                if skip >= 0x80000000:
                    skip = 0  # a gap (lost segment): deliver what we have
                if skip >= len(payload):
                    continue
                payload = payload[skip:]
                seq += skip
            delivered[d] = (seq + len(payload)) & 0xFFFFFFFF
        else:
            src = (int(index["net_src"][i]), int(index["sport"][i]))
            first_src = first_src or src
            d = 0 if src == first_src else 1
        if total + len(payload) > MAX_BYTES:
            truncated = True
            break
        total += len(payload)
        segments.append({"direction": "a>b" if d == 0 else "b>a", "number": i + 1,
                         "data_base64": base64.b64encode(payload).decode("ascii"),
                         "length": len(payload)})
    return {"segments": segments, "bytes": total, "truncated": truncated}


def as_text(data: bytes) -> str:
    """Bytes as Wireshark's ASCII view shows them: printable kept, others as dots."""
    return "".join(chr(b) if 32 <= b < 127 or b in (9, 10, 13) else "." for b in data)


def hexdump(data: bytes, base: int = 0) -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{base + off:08x}  {hexpart:<47}  {text}")
    return "\n".join(lines)


def decoded(segments: list[dict]) -> list[tuple[dict, bytes]]:
    return [(s, base64.b64decode(s["data_base64"])) for s in segments]



