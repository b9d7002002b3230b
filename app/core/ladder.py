"""The ladder (sequence) diagram model of a flow: lanes, arrows, states, and explanations.

One lane per endpoint, keyed by address *and* port (a loopback connection has two lanes). Each
segment becomes an event carrying its flags, relative and raw numbers, analysis flags and both
endpoints' TCP states after it, plus one sentence that explains it with the arithmetic checked
("ACK 1538881813 = server ISN 1538881812 + 1 (a SYN consumes one sequence number)").
"""
from __future__ import annotations

import numpy as np

from app.core.flows import FlowTable
from app.core.indexview import CaptureIndex
from app.core.tcp import flag_names, state_name

FLAG_ORDER = ((0x002, "SYN"), (0x001, "FIN"), (0x004, "RST"), (0x008, "PSH"), (0x010, "ACK"),
              (0x020, "URG"), (0x040, "ECE"), (0x080, "CWR"), (0x100, "AE"))
MAX_EVENTS = 5000  # a ladder taller than this is not readable; the page offers paging


def tcp_flag_names(flags: int) -> list[str]:
    return [name for bit, name in FLAG_ORDER if flags & bit]


def flow_rows(index: CaptureIndex, protocol: str, stream: int) -> np.ndarray:
    """Packet positions (0-based) of one stream, in frame order."""
    return np.flatnonzero(np.asarray(index[f"{protocol}_stream"]) == stream)


def ladder(index: CaptureIndex, table: FlowTable, capture_id: str, stream: int,
           offset: int = 0, limit: int = MAX_EVENTS) -> dict:
    """The JSON model of one flow's ladder (see the HTTP contract: ``/api/flows/{id}/ladder``)."""
    flow = table.flow(capture_id, stream)
    rows = flow_rows(index, table.protocol, stream)
    total = len(rows)
    rows = rows[offset : offset + limit]
    swapped = bool(flow.get("swapped"))
    lanes = [flow["a"], flow["b"]]
    events = []
    explainer = Explainer(flow) if table.protocol == "tcp" else None
    t0 = table.time_of(int(table.first[stream]))
    for i in rows.tolist():
        events.append(_event(index, table, i, swapped, t0, explainer))
    return {"flow": flow, "lanes": lanes, "events": events, "total_events": total,
            "offset": offset, "limit": limit}


def _event(index: CaptureIndex, table: FlowTable, i: int, swapped: bool, t0: float,
           explainer: "Explainer | None") -> dict:
    time = table.time_of(i) - t0
    if table.protocol == "tcp":
        d = int(index["tcp_dir"][i]) ^ int(swapped)
        flags = int(index["tcp_flags"][i])
        analysis = flag_names(int(index["tcp_analysis"][i]))
        sa, sb = int(index["tcp_state_a"][i]), int(index["tcp_state_b"][i])
        if swapped:
            sa, sb = sb, sa
        event = {
            "number": i + 1, "time": round(time, 9), "direction": "a>b" if d == 0 else "b>a",
            "flags": tcp_flag_names(flags), "seq": int(index["tcp_seq"][i]),
            "ack": int(index["tcp_ack"][i]) if flags & 0x010 else None,
            "seq_raw": int(index["seq"][i]), "ack_raw": int(index["ack"][i]) if flags & 0x010 else None,
            "len": max(0, int(index["pl_len"][i])), "window": int(index["tcp_window"][i]),
            "analysis": analysis, "state_a": state_name(sa), "state_b": state_name(sb),
        }
        event["label"] = _tcp_label(event)
        event["explain"] = explainer.explain(event) if explainer else ""
        return event
    src = (int(index["net_src"][i]), int(index["sport"][i]))
    f = int(table.first[int(index["udp_stream"][i])])
    d = 0 if src == (int(index["net_src"][f]), int(index["sport"][f])) else 1
    length = max(0, int(index["pl_len"][i]))
    return {
        "number": i + 1, "time": round(time, 9), "direction": "a>b" if d == 0 else "b>a",
        "flags": [], "seq": None, "ack": None, "seq_raw": None, "ack_raw": None, "len": length,
        "window": None, "analysis": [], "state_a": None, "state_b": None,
        "label": f"UDP Len={length}", "explain": f"A UDP datagram of {length} bytes: no handshake, no sequence numbers.",
    }


def _tcp_label(e: dict, raw: bool = False) -> str:
    seq = e["seq_raw"] if raw else e["seq"]
    ack = e["ack_raw"] if raw else e["ack"]
    text = "[" + ", ".join(e["flags"]) + "]" if e["flags"] else "[]"
    text += f" Seq={seq}"
    if ack is not None:
        text += f" Ack={ack}"
    return text + f" Len={e['len']}"


def label(e: dict, raw: bool) -> str:
    """An event's arrow label with relative or raw sequence numbers."""
    return _tcp_label(e, raw) if e["seq"] is not None else e["label"]


class Explainer:
    """Explains each segment of one TCP flow in order, remembering what each side has sent."""

    def __init__(self, flow: dict) -> None:
        hs = flow.get("handshake") or {}
        self.client_isn = hs.get("client_isn")
        self.server_isn = hs.get("server_isn")
        self.next_seq: dict[str, int] = {}  # direction -> relative next sequence number
        self.last: dict[str, tuple[int, int, str]] = {}  # direction -> (seq, consumed, what)
        self.sent: dict[tuple[str, int], int] = {}  # (direction, seq) -> first frame sending it

    def explain(self, e: dict) -> str:
        d = e["direction"]
        side, peer = ("client", "server") if d == "a>b" else ("server", "client")
        flags = set(e["flags"])
        parts: list[str] = []
        if "SYN" in flags and "ACK" not in flags:
            parts.append(f"SYN: the {side} opens the connection with its initial sequence number "
                         f"(ISN) {e['seq_raw']}, shown as relative seq 0.")
        elif "SYN" in flags:
            line = f"SYN-ACK: the {side} answers with its own ISN {e['seq_raw']}"
            isn = self.client_isn if d == "b>a" else self.server_isn
            if isn is not None and e["ack_raw"] is not None:
                if e["ack_raw"] == (isn + 1) & 0xFFFFFFFF:
                    line += f"; ACK {e['ack_raw']} = {peer} ISN {isn} + 1 (a SYN consumes one sequence number)."
                else:
                    line += f"; ACK {e['ack_raw']} is not {peer} ISN {isn} + 1."
            parts.append(line)
        else:
            parts.extend(self._data_and_ack(e, side, peer, d))
        if "FIN" in flags:
            parts.append(f"FIN: the {side} has no more data to send; the FIN consumes one sequence number.")
        if "RST" in flags:
            parts.append(f"RST: the {side} aborts the connection.")
        for flag in e["analysis"]:
            parts.append(ANALYSIS_TEXT.get(flag, flag.replace("_", " ")) + ".")
        self._remember(e, d)
        return " ".join(p for p in parts if p)

    def _data_and_ack(self, e: dict, side: str, peer: str, d: str) -> list[str]:
        parts = []
        expected = self.next_seq.get(d)
        if e["len"]:
            first = self.sent.get((d, e["seq"]))
            if first is not None and first != e["number"]:
                parts.append(f"Retransmission: seq {e['seq']} was already sent in frame {first}.")
            elif expected is not None and e["seq"] == expected and d in self.last:
                seq, consumed, what = self.last[d]
                parts.append(f"{e['len']} bytes of data: seq {e['seq']} = previous seq {seq} + {consumed} "
                             f"({what}).")
            elif expected is not None:
                parts.append(f"{e['len']} bytes of data at seq {e['seq']}, but the {side}'s next expected "
                             f"seq was {expected}.")
            else:
                parts.append(f"{e['len']} bytes of data at seq {e['seq']}.")
            parts.append(f"Next seq = {e['seq']} + {e['len']} = {e['seq'] + e['len']}.")
        if e["ack"] is not None:
            if e["ack"] == 1 and self.server_isn is not None and d == "a>b" and e["ack_raw"] == (self.server_isn + 1) & 0xFFFFFFFF and not e["len"]:
                parts.append(f"ACK {e['ack_raw']} = server ISN {self.server_isn} + 1: the handshake is complete.")
            else:
                parts.append(f"ACK {e['ack']}: the {side} has received every byte of the {peer} before relative seq {e['ack']}.")
        return parts

    def _remember(self, e: dict, d: str) -> None:
        if e["len"]:
            self.sent.setdefault((d, e["seq"]), e["number"])
        flags = set(e["flags"])
        consumed = e["len"] + (1 if {"SYN", "FIN"} & flags else 0)
        nxt = (e["seq"] + consumed) & 0xFFFFFFFF
        if consumed and (d not in self.next_seq or _after(nxt, self.next_seq[d])):
            self.next_seq[d] = nxt
            what = f"{e['len']} bytes" if e["len"] else ("the SYN consumes one" if "SYN" in flags else "the FIN consumes one")
            self.last[d] = (e["seq"], consumed, what)


def _after(a: int, b: int) -> bool:
    return ((a - b) & 0xFFFFFFFF) < 0x80000000 and a != b


ANALYSIS_TEXT = {
    "retransmission": "Wireshark flags a retransmission: this data was sent before",
    "fast_retransmission": "Fast retransmission: sent again after duplicate ACKs, before the timer expired",
    "spurious_retransmission": "Spurious retransmission: the data had already been acknowledged",
    "out_of_order": "Out of order: the segment arrived after a later one",
    "duplicate_ack": "Duplicate ACK: the receiver repeats the same ACK, asking for missing data",
    "lost_segment": "Previous segment not captured: bytes before this seq were never seen",
    "ack_lost_segment": "ACKed unseen segment: it acknowledges data the capture never saw",
    "zero_window": "Zero window: the receiver's buffer is full",
    "zero_window_probe": "Zero-window probe: the sender checks whether the window reopened",
    "zero_window_probe_ack": "Acknowledges a zero-window probe",
    "window_full": "Window full: the sender has filled the receiver's advertised window",
    "window_update": "Window update: only the advertised window changed",
    "keep_alive": "Keep-alive: an empty probe to keep the connection open",
    "keep_alive_ack": "Acknowledges a keep-alive",
    "reused_ports": "Port numbers reused: a new connection on an old address/port pair",
}
