"""The per-flow pass of the packet index: what the packet list needs from earlier packets.

Two parts: the TCP reassembly columns replay tshark's TCP reassembly (app.core.pdus.tcp) over
every connection that carries a protocol which the summary knows to be PDU-based (HTTP, TLS,
DNS over TCP, SMTP lines; found by port or by tshark's HTTP heuristic: ``tcp_candidates``),
once the TCP analysis of their streams is known (app.core.tcppasses runs both); the
``frame_columns``, which need no TCP analysis, match ICMP echo replies with their requests,
find the fragments of reassembled IP datagrams and the UDP conversations that are QUIC.  Nothing but small integers is stored:
``app.core.tcpcontext`` reads the payload bytes back from the capture when a row is shown.

Columns (all per packet):
  pdu_role      uint8   ROLE_* bits of app.core.pdus.tcp (segment of a PDU, completes one, ...)
  pdu_first     int32   for a segment of a PDU started earlier: the packet where tracking of
                        that PDU began (-1: none); its bytes are in this and later packets
  pdu_seq       uint32  relative TCP sequence number of the PDU's first byte
  pdu_tail      uint32  when a PDU begins in the packet but needs later ones: its distance in
                        bytes from the end of the packet's payload (0: none); the dissector
                        shows its first line at most
  tls_version   uint16  TLS version the connection negotiated, from its Server Hello on (0)
  ip_frag_first int32   for a frame completing an IP datagram, its first fragment (-1)
  echo_request  int32   for an ICMP echo reply, the packet of its request (-1)
  udp_conv      uint8   1 / 2 once an earlier packet of the UDP conversation was QUIC / gQUIC
  quic_dcid     uint8   connection ID length chosen by the receiver of a QUIC packet (0)
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from . import frames, tcp
from .state import Result
from .tcp import (ROLE_COMPLETE, ROLE_ERROR, ROLE_HIDDEN, ROLE_HTTP_SEEN, ROLE_HTTP_UNSEEN,
                  ROLE_MEMBER, ROLE_READ, ROLE_SEGMENT)

__all__ = ["tcp_candidates", "TCP_PDU_COLUMNS", "NO_PDU", "fill_tcp_pdu_columns", "frame_columns",
           "ROLE_SEGMENT", "ROLE_COMPLETE", "ROLE_ERROR", "ROLE_HIDDEN", "ROLE_MEMBER",
           "ROLE_HTTP_SEEN", "ROLE_HTTP_UNSEEN", "ROLE_READ"]

log = logging.getLogger("wirelens")
_PORTS = tcp.port_table()
# First 4 bytes of payloads that may start an HTTP line tshark's heuristic accepts: any
# printable text can, so the test is cheap and only rules out binary data.
_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[32:127] = True


def tcp_candidates(data: np.ndarray, cols: dict[str, np.ndarray],
                   release: Callable[[], None] = lambda: None,
                   among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(TCP segments with payload that may belong to a PDU-based protocol, their port key),
    in frame order; ``among``: only from these packets (ascending, whole connections).

    A connection is kept when one of its ports is registered for HTTP, TLS, DNS or SMTP, or when one
    of its segments starts with printable text (tshark's HTTP heuristic may then claim it);
    connections of other protocols (FTP, SSH: no reassembly modelled) are left out."""
    stream = cols["tcp_stream"]
    if among is None:
        rows = np.flatnonzero((cols["l4"] == 6) & (stream >= 0) & (cols["pl_len"] > 0)
                              & (cols["pl_off"] >= 0))
    else:
        rows = among[(cols["l4"][among] == 6) & (stream[among] >= 0) & (cols["pl_len"][among] > 0)
                     & (cols["pl_off"][among] >= 0)]
    if len(rows) == 0:
        return rows, np.zeros(0, dtype=np.uint8)
    sport, dport = cols["sport"][rows], cols["dport"][rows]
    low, high = np.minimum(sport, dport), np.maximum(sport, dport)
    key = _PORTS[low]
    key = np.where(key != 0, key, _PORTS[high])
    unknown = key == 0
    if unknown.any():
        at = (cols["offset"][rows[unknown]] + cols["pl_off"][rows[unknown]]).astype(np.int64)
        room = cols["caplen"][rows[unknown]] - cols["pl_off"][rows[unknown]]
        first = frames.gather(data, np.minimum(at, len(data) - 1), release)
        text = (room >= 10) & _PRINTABLE[first]
        streams = np.unique(stream[rows[unknown][text]])
        keep = ~unknown | np.isin(stream[rows], streams)
        rows, key = rows[keep], key[keep]
    keep = key != tcp.OTHER
    return rows[keep], key[keep].astype(np.uint8)


# The columns of TCP reassembly, with their dtypes ...
TCP_PDU_COLUMNS = {"pdu_role": "u1", "pdu_first": "i4", "pdu_seq": "u4", "pdu_tail": "u4",
                   "tls_version": "u2"}
# ... and their value for a packet no replay touched, where it is not 0
NO_PDU = {"pdu_first": -1}


def fill_tcp_pdu_columns(out: dict[str, np.ndarray], rows: np.ndarray, result: Result,
                         done: Callable[[np.ndarray], None] = lambda column: None) -> None:
    """Copy the replay's ``result`` for the candidate packets ``rows`` into the columns,
    calling ``done`` with each column once it is filled."""
    values = (("pdu_role", result.role), ("pdu_first", result.first),
              ("pdu_seq", result.seq & 0xFFFFFFFF),
              ("pdu_tail", np.minimum(result.tail, 0xFFFFFFFF)), ("tls_version", result.tls))
    for name, value in values:
        out[name][rows] = value
        done(out[name])


def frame_columns(data: np.ndarray, cols: dict[str, np.ndarray],
                  release: Callable[[], None] | None = None) -> dict[str, np.ndarray]:
    """The columns that need no TCP analysis (ip_frag_first, echo_request, udp_conv,
    quic_dcid): the index computes them while the worker process finishes its TCP half."""
    release = release or (lambda: None)
    n = len(cols["l4"])
    out = {
        "ip_frag_first": np.full(n, -1, dtype=np.int32),
        "echo_request": np.full(n, -1, dtype=np.int32),
        "udp_conv": np.zeros(n, dtype=np.uint8),
        "quic_dcid": np.zeros(n, dtype=np.uint8),
    }
    if n == 0:
        return out
    # Each part only adds context to rows: a flaw in one must cost that context, not the index.
    heads: dict[int, bytes] = {}
    try:
        out["ip_frag_first"], heads = frames.fragments(data, cols)
    except Exception:  # noqa: BLE001
        log.exception("IP reassembly context could not be computed")
    try:
        out["echo_request"] = frames.echo_requests(data, cols, heads, release)
    except Exception:  # noqa: BLE001
        log.exception("ICMP echo matching could not be computed")
    try:
        if "udp_stream" in cols:
            out["udp_conv"], out["quic_dcid"] = frames.quic(data, cols, release)
    except Exception:  # noqa: BLE001
        log.exception("QUIC conversations could not be computed")
    release()
    return out
