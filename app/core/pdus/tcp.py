"""TCP reassembly as tshark 4.0 does it for the packet list, replayed over the index.

For each direction of each TCP connection, in frame order, segments go through the logic of
tshark's ``desegment_tcp``: a segment inside a pending multi-segment PDU ("msp") is added to it;
the one completing it has the application dissector run on the reassembled bytes; any other
segment is handed to the dissector, which may ask for more bytes (``scan.py``) and so open a
new msp.  As in tshark, retransmitted data is skipped, and out-of-order data only joins (or,
overlapping a finished PDU, upsets) a pending PDU without being dissected itself.

Only lengths and sequence numbers are kept (plus the bytes of the few msps whose dissector must
look at them again), so memory stays bounded whatever the capture holds.  The outcome per
segment is a role (see ROLE_*) and, for segments that belong to a PDU started earlier, where
that PDU starts: the summary rebuilds the PDU's bytes from the capture when it shows the row.
"""
from __future__ import annotations

import bisect
from typing import Callable

import numpy as np

from app.core.summary import TCP_PORTS, negotiated_version
from app.core.tcp import flags as tcpflags

from . import scan
from .state import Conversation, Direction, Msp, Pool, Result

# pdu_role bits
# Segments replayed between two releases of the file pages read: the kernel maps up to 64 KB
# around each page read, so this bounds what the replay keeps mapped to about 128 MB.
RELEASE_EVERY = 2048
ROLE_SEGMENT = 1      # "[TCP segment of a reassembled PDU]": the PDU continues later
ROLE_COMPLETE = 2     # completes a PDU that started in an earlier segment
ROLE_ERROR = 4        # overlaps an already reassembled PDU (tshark's reassembly error)
ROLE_HIDDEN = 8       # retransmitted start of a PDU: not handed to the dissector again
ROLE_MEMBER = 16      # the segment's bytes went into a multi-segment PDU
ROLE_HTTP_UNSEEN = 32  # HTTP data before any complete request on the connection
ROLE_HTTP_SEEN = 64   # HTTP data after one (other data is then a "Continuation")
ROLE_READ = 128       # with ROLE_SEGMENT: the dissector read the PDU so far and wanted more

HTTP, TLS, LENGTH16, SMTP, OTHER = 1, 2, 3, 4, 5
_KEYS = {"http": HTTP, "tls": TLS, "dns": LENGTH16, "mdns": LENGTH16, "llmnr": LENGTH16,
         "smtp": SMTP}

MAX_NEW_PDU = 1 << 20          # tshark opens no msp for a PDU start further back than this
UNTIL_FIN_SPAN = 0x40000000
# tshark drops retransmitted data before reassembly; out-of-order data still goes into a pending
# PDU (or hits a finished one: reassembly error) but is never handed to a dissector on its own.
_SKIP = tcpflags.RETRANSMISSION | tcpflags.SPURIOUS_RETRANSMISSION
FIN = 0x001
Read = Callable[[int, int], bytes]  # (file offset, length) -> the capture's bytes there
# The index columns the replay reads for each candidate segment
COLUMNS = ("tcp_stream", "tcp_dir", "tcp_seq", "tcp_analysis", "tcp_flags", "offset", "pl_off",
           "pl_len", "caplen", "sport", "dport")


def port_table() -> np.ndarray:
    """Protocol code per TCP port (0: none), from the summary's port table."""
    table = np.zeros(65536, dtype=np.uint8)
    for port, key in TCP_PORTS.items():
        table[port] = _KEYS.get(key, OTHER)
    return table


def _scan(key: int, buf, conv: Conversation, fin: bool, m: Msp | None = None,
          request: bool = False):
    """(offset, need, chunk state) of the dissector on buf."""
    if key == HTTP:
        if m is not None and m.chunk is not None:
            return scan.http(buf, conv.http, fin, m.chunk, m.base)
        return scan.http(buf, conv.http, fin)
    if key == TLS:
        off, need = scan.tls(buf, conv.tls_version not in (0x300, 0x301, 0x302, 0x303))
        return off, need, None
    if key == SMTP:
        off, need = scan.smtp(buf, request, conv.smtp)
        return off, need, None
    off, need = scan.length_prefixed(buf)
    return off, need, None


def _extend(m: Msp, need: int, pos: int, length: int, rest: int) -> None:
    """Move the end of an msp whose reassembled bytes the dissector found too short."""
    if need == scan.ONE_MORE:
        m.nxtpdu = max(pos + rest, m.nxtpdu) + 1
        m.entire = True
        m.rescan = True
        return
    m.rescan = False
    if need == scan.UNTIL_FIN:
        m.nxtpdu = m.start + UNTIL_FIN_SPAN
    elif pos + length >= m.nxtpdu:
        m.nxtpdu = pos + length + need
    else:
        m.nxtpdu += need


def start_pdu(d: Direction, i: int, seq: int, nxt: int, dseq: int, need: int,
              state: scan.ChunkState | None, payload: bytes, keep_tls: bool) -> int:
    """Open an msp for the PDU starting at ``dseq`` that the dissector found incomplete;
    ROLE_MEMBER when it was opened (tshark opens none for a start too far back)."""
    if nxt - dseq > MAX_NEW_PDU:
        return 0
    m = Msp(dseq, nxt + need if need > 0 else nxt + 1, i, d.pool)
    if need == scan.ONE_MORE:
        m.entire = m.rescan = True
    elif need == scan.UNTIL_FIN:
        m.nxtpdu = dseq + UNTIL_FIN_SPAN
    m.chunk = state
    if m.rescan or keep_tls:
        m.keep(b"")
    m.add(0, nxt - dseq, payload, dseq - seq)
    m.last = i
    d.open(m)
    return ROLE_MEMBER


def segment(d: Direction, conv: Conversation, key: int, i: int, seq: int, nxt: int,
            fin: bool, read: Read, at: int, keep_tls: bool, dissect: bool = True,
            request: bool = False) -> tuple[int, int, int, int]:
    """Run one segment through the reassembly: (role bits, first packet, PDU start seq,
    sequence number of a PDU begun but not finished in this segment or -1).

    The payload is ``read(at, nxt - seq)``, read only when a dissector or a kept msp needs
    it.  dissect=False (out-of-order data): the segment may join a pending PDU but is not
    handed to the dissector otherwise."""
    payload = None
    pos = seq
    first_pdu = True
    role, first, pstart, tail = 0, -1, seq, -1
    for _ in range(64):                       # bounded: each turn consumes bytes
        m = d.msps.get(pos)
        if m is not None and nxt <= m.nxtpdu and m.last != i:
            if first_pdu:
                role |= ROLE_HIDDEN
            break
        m = d.before(pos - 1)
        if m is None or not m.start <= pos < m.nxtpdu:
            if not dissect:
                break
            if payload is None:
                payload = read(at, nxt - seq)
            off, need, state = _scan(key, payload[pos - seq:], conv, fin, None, request)
            if need:
                role |= start_pdu(d, i, seq, nxt, pos + off, need, state, payload, keep_tls)
                if off == 0 and first_pdu:
                    role |= ROLE_SEGMENT | ROLE_READ
                    first, pstart = i, pos
                else:
                    tail = pos + off
            break
        m.last = i
        length = nxt - pos if m.entire else min(nxt, m.nxtpdu) - pos
        if m.done:
            return ROLE_ERROR, -1, seq, -1
        more = nxt < m.nxtpdu
        if m.buf is not None and payload is None:
            payload = read(at, nxt - seq)
        m.add(pos - m.start, length, payload, pos - seq)
        role |= ROLE_MEMBER
        if m.entire:
            m.entire = False
            m.nxtpdu = max(m.nxtpdu, nxt)
        another = m.nxtpdu - pos if pos <= m.nxtpdu < nxt and length > 0 else 0
        if not more and m.datalen is None:
            m.datalen = pos - m.start + length
        if fin and m.nxtpdu - m.start == UNTIL_FIN_SPAN:
            m.datalen = m.have        # the end of the connection ends the body
        if m.datalen is None or m.have < m.datalen:
            if first_pdu:
                role |= ROLE_SEGMENT
                first, pstart = m.first, m.start
            break
        m.done = True
        need = 0
        if not dissect:
            # Out-of-order data completing a PDU: reassembled, but not handed to the dissector.
            m.free()
            if not another:
                break
            first_pdu = False
            pos += another
            continue
        if m.rescan:
            if m.buf is not None:
                off, need, state = _scan(key, bytes(m.buf), conv, fin, m, request)
                off = min(off, m.datalen)
            else:
                # Its bytes were not kept (over budget): take it the dissector still waits.
                off, need, state = 0, scan.ONE_MORE, m.chunk
        if need:
            if off == 0:
                m.done = False
                m.datalen = None
                if first_pdu:
                    role |= ROLE_SEGMENT | ROLE_READ
                    first, pstart = m.first, m.start
                m.chunk = state
                if state is not None:
                    m.trim(state.pos)
            else:
                if first_pdu:
                    role |= ROLE_COMPLETE
                    first, pstart = m.first, m.start
                tail = m.start + off
                split = Msp(tail, m.nxtpdu, m.first, d.pool)
                split.have = m.have - off
                if m.buf is not None and off >= m.base:
                    split.keep(m.buf[off - m.base:])
                m.free()
                split.chunk = state
                split.last = i
                m.nxtpdu = m.start + off
                m.datalen = off
                d.open(split)
                m = split
            _extend(m, need, pos, length, nxt - pos)
            if not m.rescan and not keep_tls:
                m.free()
            pos += length
            if pos < nxt:
                continue
            break
        if first_pdu:
            role |= ROLE_COMPLETE
            first, pstart = m.first, m.start
        if keep_tls and m.buf is not None and first_pdu:
            version = negotiated_version(bytes(m.buf) + payload[pos - seq + length:])
            if version:
                conv.tls_version = version
        m.free()
        if not another:
            break
        first_pdu = False
        pos += another
    return role, first, pstart, tail


def replay_blocks(read: Read, cols: dict[str, np.ndarray], rows: np.ndarray,
                  keys: np.ndarray, out: Result, release: Callable[[], None] = lambda: None,
                  at: np.ndarray | None = None) -> None:
    """Replay the candidates ``rows`` (packet numbers from 0, sorted by connection, frame order
    within) with protocol ``keys`` into ``out``; ``read(offset, length)`` gives the capture's
    bytes.

    ``cols`` holds the COLUMNS, indexed by ``at`` (default: ``rows``, for the index's own
    columns).  Connections are independent: they are replayed a block at a time, so the
    per-row Python lists and the file pages read stay bounded by the block, not the capture.
    """
    at = rows if at is None else at
    for lo, hi in _blocks(cols["tcp_stream"][at]):
        seg = {name: cols[name][at[lo:hi]] for name in COLUMNS}
        _replay(read, seg, rows[lo:hi], keys[lo:hi], out.part(lo, hi))
        release()


def _blocks(stream: np.ndarray, size: int = RELEASE_EVERY) -> list[tuple[int, int]]:
    """(lo, hi) row ranges of about ``size`` rows that never split a connection."""
    n = len(stream)
    starts = np.flatnonzero(stream[1:] != stream[:-1]) + 1
    targets = np.arange(size, n, size)
    at = np.searchsorted(starts, targets)
    cuts = np.unique(starts[at[at < len(starts)]]).tolist()
    bounds = [0, *cuts, n]
    return list(zip(bounds[:-1], bounds[1:]))


def _runs(seg: dict[str, np.ndarray]) -> np.ndarray:
    """For each row, the last row of the run of plain in-order segments that follows it in the
    same direction (itself when none): the rows a pending PDU can absorb in one step."""
    n = len(seg["tcp_stream"])
    stream, direction = seg["tcp_stream"], seg["tcp_dir"]
    seq = seg["tcp_seq"].astype(np.int64)
    nxt = seq + seg["pl_len"]
    plain = ((seg["tcp_analysis"] == 0) & ((seg["tcp_flags"] & FIN) == 0)
             & (seg["pl_off"] + seg["pl_len"] <= seg["caplen"]))
    joins = np.zeros(n, dtype=bool)
    joins[1:] = ((stream[1:] == stream[:-1]) & (direction[1:] == direction[:-1])
                 & (seq[1:] == nxt[:-1]) & plain[1:])
    # run_end[k] = last index j >= k with joins[k+1..j] all true
    breaks = np.flatnonzero(~np.append(joins[1:], False))
    return breaks[np.searchsorted(breaks, np.arange(n))]


def _replay(read: Read, seg: dict[str, np.ndarray], rows: np.ndarray, keys: np.ndarray,
            out: Result) -> None:
    """Replay one block: ``seg`` holds the COLUMNS of its rows, ``rows`` their packet numbers."""
    n = len(rows)
    run_end = _runs(seg).tolist()
    start = (seg["offset"] + seg["pl_off"]).tolist()
    captured = np.minimum(seg["pl_len"], seg["caplen"] - seg["pl_off"])
    index = rows.tolist()
    streams = seg["tcp_stream"].tolist()
    dirs = seg["tcp_dir"].tolist()
    seqs = seg["tcp_seq"].astype(np.int64)
    nxts_a = seqs + seg["pl_len"]
    seqs, nxts = seqs.tolist(), nxts_a.tolist()
    masks = seg["tcp_analysis"].tolist()
    keys_l = keys.tolist()
    fins = ((seg["tcp_flags"] & FIN) != 0).tolist()
    cuts = (captured < seg["pl_len"]).tolist()
    sports, dports = seg["sport"].tolist(), seg["dport"].tolist()
    pool = Pool()
    tls_ports = {p for p, k in TCP_PORTS.items() if k == "tls"}
    smtp_ports = {p for p, k in TCP_PORTS.items() if k == "smtp"}
    # Outcomes go to lists first (an item of a list is cheaper to set than one of an array)
    role_out, first_out, seq_out, tls_out, tail_out = [0] * n, [-1] * n, [0] * n, [0] * n, [0] * n
    fast_bit, ooo_bit, alive_bit = (tcpflags.FAST_RETRANSMISSION, tcpflags.OUT_OF_ORDER,
                                    tcpflags.KEEP_ALIVE)
    conv: Conversation | None = None
    current = -1
    k = 0
    while k < n:
        i, stream, direction, seq, nxt = index[k], streams[k], dirs[k], seqs[k], nxts[k]
        at, mask, key, fin = start[k], masks[k], keys_l[k], fins[k]
        if stream != current:
            if conv is not None:
                conv.close()
            conv, current = Conversation(pool), stream
        k += 1
        if conv.tls_version:
            tls_out[k - 1] = conv.tls_version
        if key == 0:
            if not conv.heuristic:
                if not scan.http_heuristic(read(at, min(nxt - seq, 4096))):
                    continue
                conv.heuristic = True
            key = HTTP
        fast = mask & fast_bit
        if mask & _SKIP and not fast or cuts[k - 1]:
            continue
        d = conv.directions[direction]
        if mask & alive_bit:
            m = d.before(seq - 1)
            if m is not None and m.done and m.start <= seq < m.nxtpdu:
                role_out[k - 1] = ROLE_ERROR
            continue
        unseen = 0 if key != HTTP else ROLE_HTTP_SEEN if conv.http.seen else ROLE_HTTP_UNSEEN
        m = d.top
        if m is not None and m.start < seq:
            if (seq == m.start + m.have and nxt < m.nxtpdu and m.buf is None
                    and not (m.entire or m.done or m.gaps or fin)):
                # In the middle of a pending PDU: only the counters move, for this segment and
                # the plain in-order ones after it that the PDU still covers.
                last = run_end[k - 1]
                if last >= k:
                    last = min(last, k - 1 + bisect.bisect_left(nxts, m.nxtpdu, k, last + 1) - k)
                run = last + 2 - k
                role_out[k - 1:last + 1] = [ROLE_SEGMENT | ROLE_MEMBER | unseen] * run
                first_out[k - 1:last + 1] = [m.first] * run
                seq_out[k - 1:last + 1] = [m.start] * run
                if conv.tls_version:
                    tls_out[k - 1:last + 1] = [conv.tls_version] * run
                m.have = nxts[last] - m.start
                m.last = index[last]
                k = last + 1
                continue
            alone = seq >= m.nxtpdu
        else:
            alone = m is None
        keep_tls = False
        if key == TLS and not conv.tls_version:
            if conv.tls_server < 0 and sports[k - 1] in tls_ports:
                conv.tls_server = direction
            keep_tls = conv.tls_server == direction
        request = key == SMTP and dports[k - 1] in smtp_ports
        if alone and not (mask & ooo_bit and not fast):
            # No PDU pending here: the dissector sees the segment on its own.
            payload = read(at, nxt - seq)
            if key == HTTP:
                off, need, state = scan.http(payload, conv.http, fin)
            else:
                off, need, state = _scan(key, payload, conv, fin, None, request)
            role = unseen
            if need:
                role |= start_pdu(d, i, seq, nxt, seq + off, need, state, payload, keep_tls)
                if off == 0:
                    role |= ROLE_SEGMENT | ROLE_READ
                    first_out[k - 1], seq_out[k - 1] = i, seq
                else:
                    tail_out[k - 1] = nxt - seq - off
            if keep_tls and not conv.tls_version and not role & ROLE_SEGMENT:
                conv.tls_version = negotiated_version(payload) or 0
            role_out[k - 1] = role
            tls_out[k - 1] = conv.tls_version
            continue
        role, first, pstart, tail = segment(d, conv, key, i, seq, nxt, fin, read, at, keep_tls,
                                            fast or not mask & ooo_bit, request)
        if tail >= 0:
            tail_out[k - 1] = nxt - tail
        role |= unseen
        if keep_tls and not conv.tls_version and not role & (ROLE_SEGMENT | ROLE_COMPLETE):
            conv.tls_version = negotiated_version(read(at, nxt - seq)) or 0
        role_out[k - 1], first_out[k - 1], seq_out[k - 1] = role, first, pstart
        tls_out[k - 1] = conv.tls_version
    if conv is not None:
        conv.close()
    out.role[:], out.first[:], out.seq[:], out.tls[:], out.tail[:] = (
        role_out, first_out, seq_out, tls_out, tail_out)
