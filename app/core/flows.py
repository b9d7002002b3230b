"""TCP and UDP conversations of a capture (Wireshark's Statistics → Conversations).

Everything is computed from the index with per-stream reductions (``np.bincount`` and friends),
so tens of thousands of flows cost milliseconds. Flow objects are built for many streams at once:
``FlowTable.columns`` gathers every field of the flows as one list per field with numpy, so the
per-flow Python work left (``flows``, or the JSON text of the API) is assembling the values.
A flow is identified across the library as ``<capture id>-<tcp|udp>-<stream>``.
"""
from __future__ import annotations

import re

import numpy as np

from app.core import npyio
from app.core.conversations import directions
from app.core.errors import NotFound
from app.core.indexview import CaptureIndex
from app.core.streams import udp_ports
from app.core.tcp import state_name

FLOW_ID = re.compile(r"^([0-9a-f]{16})-(tcp|udp)-(\d{1,10})$")

# Per-stream TCP facts (tcp_streams/*.npy) and the value a stream has when its array is missing
# or shorter than the stream count.
TCP_FACT_DEFAULTS = {
    "syn_frame": (0, np.int64), "syn_ack_frame": (0, np.int64), "ack_frame": (0, np.int64),
    "client_isn": (-1, np.int64), "server_isn": (-1, np.int64),
    "initial_rtt": (np.nan, np.float64), "client_direction": (-1, np.int64),
    "completeness": (0, np.int64),
}
EXACT = float(2**52)  # below this a double holds every integer and its halves exactly


def parse_flow_id(flow_id: str) -> tuple[str, str, int]:
    match = FLOW_ID.match(flow_id or "")
    if not match:
        raise NotFound(f"There is no flow with id {flow_id!r}.")
    return match.group(1), match.group(2), int(match.group(3))


def round9(values: np.ndarray) -> list[float]:
    """``[round(v, 9) for v in values]`` with the same bits, vectorised.

    Python rounds the exact binary value half-to-even at the 9th decimal and converts back with
    correct rounding. ``rint(v * 1e9) / 1e9`` does the same unless the product's own rounding
    moved it across (or onto) a .5 boundary, or is too large to hold an integer exactly; those
    few values go through ``round`` itself.
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = v * 1e9
        margin = np.abs(scaled - np.floor(scaled) - 0.5)
        safe = (np.abs(scaled) < EXACT) & (margin > 4 * np.spacing(np.abs(scaled)))
    out = (np.rint(scaled) / 1e9).tolist()
    for i in np.flatnonzero(~safe).tolist():
        out[i] = round(float(v[i]), 9) if v[i] == v[i] else float("nan")
    return out


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
            direction = directions(stream, np.asarray(index["net_src"]), self.sport)[rows]
        self.packets_ab = np.bincount(s, weights=direction == 0, minlength=k).astype(np.int64)
        self.packets_ba = np.bincount(s, weights=direction == 1, minlength=k).astype(np.int64)
        self.bytes_ab = np.bincount(s, weights=np.where(direction == 0, wire, 0), minlength=k).astype(np.int64)
        self.bytes_ba = np.bincount(s, weights=np.where(direction == 1, wire, 0), minlength=k).astype(np.int64)
        self.streams = _load_tcp_streams(index) if protocol == "tcp" else {}
        self._columns: dict[str, np.ndarray] | None = None  # see _per_stream
        self._addresses: dict[int, str | None] = {}  # address id -> text, filled as flows are built

    def time_of(self, i: int) -> float:
        idx = self.index
        return (int(idx["ts_sec"][i]) - int(idx["ts_sec"][0])) + (int(idx["ts_nsec"][i]) - int(idx["ts_nsec"][0])) / 1e9

    def _times_of(self, rows: np.ndarray) -> np.ndarray:
        """``time_of`` of many rows: the same float operations in the same order, so equal bits."""
        idx = self.index
        sec = np.asarray(idx["ts_sec"])[rows].astype(np.int64) - int(idx["ts_sec"][0])
        nsec = np.asarray(idx["ts_nsec"])[rows].astype(np.int64) - int(idx["ts_nsec"][0])
        return sec + nsec / 1e9

    def _address_texts(self, ids: list[int]) -> list[str | None]:
        # Few distinct addresses serve many flows: format each once.
        known = self._addresses
        for addr_id in set(ids) - known.keys():
            known[addr_id] = self.index.address(addr_id)
        return [known[i] for i in ids]

    def _per_stream(self) -> dict[str, np.ndarray]:
        """Every field of every flow as a column indexed by stream, computed on first use.

        ``a`` is the side seen first, or for TCP the side that sent the SYN: ``swapped`` marks
        the flows where that is the side seen second (a, b and their counts are exchanged).
        Times are rounded here, once; a stream without packets has ``present`` False.
        """
        if self._columns is not None:
            return self._columns
        idx = self.index
        present = self.last >= 0
        f, l = np.where(present, self.first, 0), np.where(present, self.last, 0)
        t_first = self._times_of(f) if self.count else np.zeros(0)
        t_last = self._times_of(l) if self.count else np.zeros(0)
        col = {
            "present": present, "start": np.array(round9(t_first), dtype=np.float64),
            "duration": np.array(round9(t_last - t_first), dtype=np.float64),
            "first_packet": f + 1, "last_packet": l + 1,
            "a_addr": np.asarray(idx["net_src"])[f], "b_addr": np.asarray(idx["net_dst"])[f],
            "a_port": self.sport[f], "b_port": self.dport[f],
            "ab_packets": self.packets_ab, "ab_bytes": self.bytes_ab,
            "ba_packets": self.packets_ba, "ba_bytes": self.bytes_ba,
        }
        if self.protocol == "tcp":
            fact = _tcp_fact_columns(self.streams, self.count)
            swap = fact["client_direction"] == 1
            col["state_a"] = np.asarray(idx["tcp_state_a"])[l]
            col["state_b"] = np.asarray(idx["tcp_state_b"])[l]
            for a, b in (("a_addr", "b_addr"), ("a_port", "b_port"), ("ab_packets", "ba_packets"),
                         ("ab_bytes", "ba_bytes"), ("state_a", "state_b")):
                col[a], col[b] = np.where(swap, col[b], col[a]), np.where(swap, col[a], col[b])
            col.update({
                "syn": fact["syn_frame"], "syn_ack": fact["syn_ack_frame"], "ack": fact["ack_frame"],
                "client_isn": fact["client_isn"], "server_isn": fact["server_isn"],
                "rtt": np.array(round9(fact["initial_rtt"]), dtype=np.float64),
                "completeness": fact["completeness"], "swapped": swap,
            })
        self._columns = col
        return col

    def columns(self, streams: np.ndarray) -> dict[str, list]:
        """Every field of the flows of ``streams`` as one list per field, in that order.

        Absent values are None: a handshake frame of 0, an ISN below 0, an RTT of NaN.
        """
        s = np.asarray(streams, dtype=np.int64)
        col = self._per_stream()
        if not col["present"][s].all():
            missing = int(s[~col["present"][s]][0])
            raise NotFound(f"There is no packet in {self.protocol} stream {missing}.")
        out = {name: values[s].tolist() for name, values in col.items()
               if name not in ("present", "a_addr", "b_addr", "state_a", "state_b")}
        out["stream"] = s.tolist()
        out["a_address"] = self._address_texts(col["a_addr"][s].tolist())
        out["b_address"] = self._address_texts(col["b_addr"][s].tolist())
        if self.protocol == "tcp":
            for name in ("syn", "syn_ack", "ack"):
                out[name] = [v or None for v in out[name]]
            for name in ("client_isn", "server_isn"):
                out[name] = [None if v < 0 else v for v in out[name]]
            out["rtt"] = [None if v != v else v for v in out["rtt"]]
            codes_a, codes_b = col["state_a"][s].tolist(), col["state_b"][s].tolist()
            names = {code: state_name(code) for code in {*codes_a, *codes_b}}
            out["state_a"] = [names[c] for c in codes_a]
            out["state_b"] = [names[c] for c in codes_b]
        return out

    def flow(self, capture_id: str, stream: int) -> dict:
        if not 0 <= stream < self.count:
            raise NotFound(f"Capture {capture_id} has no {self.protocol} stream {stream}.")
        return self.flows(capture_id, np.array([stream], dtype=np.int64))[0]

    def flows(self, capture_id: str, streams: np.ndarray) -> list[dict]:
        """The flow objects of ``streams`` (stream numbers below ``count``), in that order."""
        if len(streams) == 0:
            return []
        c = self.columns(streams)
        prefix = f"{capture_id}-{self.protocol}-"
        out = [
            {"id": prefix + str(stream), "capture": capture_id, "protocol": self.protocol,
             "stream": stream, "a": {"address": a, "port": a_port}, "b": {"address": b, "port": b_port},
             "packets": pab + pba, "bytes": bab + bba,
             "a_to_b": {"packets": pab, "bytes": bab}, "b_to_a": {"packets": pba, "bytes": bba},
             "start": start, "duration": duration, "first_packet": first, "last_packet": last}
            for stream, a, a_port, b, b_port, pab, bab, pba, bba, start, duration, first, last in zip(
                c["stream"], c["a_address"], c["a_port"], c["b_address"], c["b_port"], c["ab_packets"],
                c["ab_bytes"], c["ba_packets"], c["ba_bytes"], c["start"], c["duration"],
                c["first_packet"], c["last_packet"])
        ]
        if self.protocol == "tcp":
            facts = zip(out, c["syn"], c["syn_ack"], c["ack"], c["client_isn"], c["server_isn"], c["rtt"],
                        c["state_a"], c["state_b"], c["completeness"], c["swapped"])
            for flow, syn, syn_ack, ack, c_isn, s_isn, rtt, st_a, st_b, completeness, swapped in facts:
                flow["handshake"] = {"syn": syn, "syn_ack": syn_ack, "ack": ack,
                                     "client_isn": c_isn, "server_isn": s_isn, "rtt": rtt}
                flow["state"] = {"a": st_a, "b": st_b}
                flow["completeness"] = completeness
                if swapped:
                    flow["swapped"] = True
        return out

    def matching(self, mask: np.ndarray | None) -> np.ndarray:
        """Stream numbers having at least one packet in ``mask`` (all streams without a mask)."""
        if mask is None:
            return np.arange(self.count)
        hit = np.zeros(self.count, dtype=bool)
        hit[self.stream_of_row[np.asarray(mask)[self.rows]]] = True
        return np.flatnonzero(hit)


def _tcp_fact_columns(st: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """The per-stream TCP facts as ``count``-long columns (defaults where a stream has none)."""
    out = {}
    for name, (default, dtype) in TCP_FACT_DEFAULTS.items():
        column = np.full(count, default, dtype=dtype)
        if name in st:
            values = np.asarray(st[name])[:count]
            column[: len(values)] = values
        out[name] = column
    return out


def _load_tcp_streams(index: CaptureIndex) -> dict[str, np.ndarray]:
    folder = index.directory / "tcp_streams"
    if not folder.is_dir():
        return {}
    return {p.stem: npyio.load(p) for p in folder.glob("*.npy")}
