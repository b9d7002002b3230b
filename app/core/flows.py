"""TCP and UDP conversations of a capture (Wireshark's Statistics → Conversations).

Everything is computed from the index with per-stream reductions (``np.bincount`` and friends),
so tens of thousands of flows cost milliseconds. A flow is identified across the library as
``<capture id>-<tcp|udp>-<stream>``.
"""
from __future__ import annotations

import re

import numpy as np

from app.core import npyio
from app.core.errors import NotFound
from app.core.index import CaptureIndex
from app.core.streams import udp_ports
from app.core.tcp import state_name

FLOW_ID = re.compile(r"^([0-9a-f]{16})-(tcp|udp)-(\d{1,10})$")


def parse_flow_id(flow_id: str) -> tuple[str, str, int]:
    match = FLOW_ID.match(flow_id or "")
    if not match:
        raise NotFound(f"There is no flow with id {flow_id!r}.")
    return match.group(1), match.group(2), int(match.group(3))


class FlowTable:
    """Per-stream aggregates of one protocol, as arrays indexed by stream number."""

    def __init__(self, index: CaptureIndex, protocol: str) -> None:
        self.index = index
        self.protocol = protocol
        stream = np.asarray(index[f"{protocol}_stream"])
        rows = np.flatnonzero(stream >= 0)
        s = stream[rows].astype(np.int64)
        self.rows = rows
        self.stream_of_row = s
        self.count = int(s.max()) + 1 if len(s) else 0
        k = self.count
        wire = np.asarray(index["wirelen"])[rows].astype(np.int64)
        first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, s, rows)
        last = np.full(k, -1, dtype=np.int64)
        np.maximum.at(last, s, rows)
        self.first, self.last = first, last
        if protocol == "tcp":
            self.sport, self.dport = np.asarray(index["sport"]), np.asarray(index["dport"])
            direction = np.asarray(index["tcp_dir"])[rows].astype(np.int64)
        else:
            _, self.sport, self.dport = udp_ports(index.cols)
            net_src = np.asarray(index["net_src"]).astype(np.int64)
            src = net_src[rows] << 16 | self.sport[rows]
            first_src = net_src[first] << 16 | self.sport[first]
            direction = (src != first_src[s]).astype(np.int64)
        self.packets_ab = np.bincount(s, weights=direction == 0, minlength=k).astype(np.int64)
        self.packets_ba = np.bincount(s, weights=direction == 1, minlength=k).astype(np.int64)
        self.bytes_ab = np.bincount(s, weights=np.where(direction == 0, wire, 0), minlength=k).astype(np.int64)
        self.bytes_ba = np.bincount(s, weights=np.where(direction == 1, wire, 0), minlength=k).astype(np.int64)
        self.streams = _load_tcp_streams(index) if protocol == "tcp" else {}

    def time_of(self, i: int) -> float:
        idx = self.index
        return (int(idx["ts_sec"][i]) - int(idx["ts_sec"][0])) + (int(idx["ts_nsec"][i]) - int(idx["ts_nsec"][0])) / 1e9

    def flow(self, capture_id: str, stream: int) -> dict:
        if not 0 <= stream < self.count:
            raise NotFound(f"Capture {capture_id} has no {self.protocol} stream {stream}.")
        idx = self.index
        f, l = int(self.first[stream]), int(self.last[stream])
        src = idx.address(int(idx["net_src"][f]))
        dst = idx.address(int(idx["net_dst"][f]))
        a = {"address": src, "port": int(self.sport[f])}
        b = {"address": dst, "port": int(self.dport[f])}
        ab = {"packets": int(self.packets_ab[stream]), "bytes": int(self.bytes_ab[stream])}
        ba = {"packets": int(self.packets_ba[stream]), "bytes": int(self.bytes_ba[stream])}
        start = self.time_of(f)
        out = {
            "id": f"{capture_id}-{self.protocol}-{stream}", "capture": capture_id,
            "protocol": self.protocol, "stream": stream, "a": a, "b": b,
            "packets": ab["packets"] + ba["packets"], "bytes": ab["bytes"] + ba["bytes"],
            "a_to_b": ab, "b_to_a": ba, "start": round(start, 9),
            "duration": round(self.time_of(l) - start, 9),
            "first_packet": f + 1, "last_packet": l + 1,
        }
        if self.protocol == "tcp":
            out.update(self._tcp_facts(stream, l))
            if out["handshake"]["client_direction"] == 1:
                # ``a`` is the side that opened the connection: swap when B sent the SYN.
                out["a"], out["b"] = out["b"], out["a"]
                out["a_to_b"], out["b_to_a"] = out["b_to_a"], out["a_to_b"]
                out["state"] = {"a": out["state"]["b"], "b": out["state"]["a"]}
                out["swapped"] = True
            del out["handshake"]["client_direction"]
        return out

    def _tcp_facts(self, stream: int, last_row: int) -> dict:
        st = self.streams
        idx = self.index

        def frame(name: str) -> int | None:
            value = int(st[name][stream]) if name in st and stream < len(st[name]) else 0
            return value or None

        def isn(name: str) -> int | None:
            value = int(st[name][stream]) if name in st and stream < len(st[name]) else -1
            return None if value < 0 else value

        rtt = float(st["initial_rtt"][stream]) if "initial_rtt" in st and stream < len(st["initial_rtt"]) else float("nan")
        direction = int(st["client_direction"][stream]) if "client_direction" in st and stream < len(st["client_direction"]) else -1
        return {
            "handshake": {
                "syn": frame("syn_frame"), "syn_ack": frame("syn_ack_frame"), "ack": frame("ack_frame"),
                "client_isn": isn("client_isn"), "server_isn": isn("server_isn"),
                "rtt": None if rtt != rtt else round(rtt, 9), "client_direction": direction,
            },
            "state": {
                "a": state_name(int(idx["tcp_state_a"][last_row])),
                "b": state_name(int(idx["tcp_state_b"][last_row])),
            },
            "completeness": int(st["completeness"][stream]) if "completeness" in st and stream < len(st["completeness"]) else 0,
        }

    def matching(self, mask: np.ndarray | None) -> np.ndarray:
        """Stream numbers having at least one packet in ``mask`` (all streams without a mask)."""
        if mask is None:
            return np.arange(self.count)
        hit = np.zeros(self.count, dtype=bool)
        hit[self.stream_of_row[np.asarray(mask)[self.rows]]] = True
        return np.flatnonzero(hit)


def _load_tcp_streams(index: CaptureIndex) -> dict[str, np.ndarray]:
    folder = index.directory / "tcp_streams"
    if not folder.is_dir():
        return {}
    return {p.stem: npyio.load(p) for p in folder.glob("*.npy")}
