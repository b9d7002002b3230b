"""tshark's tcp.stream numbering: one number per TCP conversation, in order of first segment.

A conversation is an unordered pair of (address, port) endpoints.  A pure SYN starts a new
conversation (a new stream number, flagged "port numbers reused") on a 4-tuple already in use when
its sender's direction already has a base sequence number and either the SYN carries a different
ISN or the previous connection was closed (a FIN+ACK or RST was seen after its first segment, as
tcp.completeness records it).  Base sequence numbers follow packet-tcp.c: a direction's base is set
by its first analysed segment (SYN: seq, else seq - 1) or earlier by the first ACK-carrying segment
of the reverse direction (ack - 1), and a SYN-ACK with another ISN moves it.

Only 4-tuples that see a pure SYN after their first segment can split, so only their segments are
replayed one by one; everything else is whole-array work.
"""
from __future__ import annotations

import numpy as np

_SYN, _ACK, _FIN, _RST = 0x002, 0x010, 0x001, 0x004
M32 = 0xFFFFFFFF


def _tuple_keys(ep_src: np.ndarray, ep_dst: np.ndarray) -> np.ndarray:
    """Dense id of the unordered endpoint pair of every row."""
    lo = np.minimum(ep_src, ep_dst)
    hi = np.maximum(ep_src, ep_dst)
    top = int(hi.max()) + 1 if len(hi) else 1
    if top >= 1 << 31:  # make endpoint codes dense first so that the pair fits in 63 bits
        uniq, inv = np.unique(np.concatenate([lo, hi]), return_inverse=True)
        lo, hi, top = inv[:len(lo)], inv[len(lo):], len(uniq)
    return np.unique(lo.astype(np.int64) * top + hi, return_inverse=True)[1].reshape(-1)


def _replay(rows: np.ndarray, keys: np.ndarray, ep_src: np.ndarray, flags: np.ndarray,
            seq: np.ndarray, ack: np.ndarray, ok: np.ndarray) -> list[int]:
    """Rows (among ``rows``, in frame order) where a pure SYN starts a new conversation."""
    splits: list[int] = []
    # per 4-tuple: [first sender, base set A, base A, base set B, base B, closed]
    convs: dict[int, list] = {}
    cols = zip(rows.tolist(), keys[rows].tolist(), ep_src[rows].tolist(), flags[rows].tolist(),
               seq[rows].tolist(), ack[rows].tolist(), ok[rows].tolist())
    for row, key, ep, fl, sq, ak, okk in cols:
        conv = convs.get(key)
        new = conv is None
        if new:
            conv = convs[key] = [ep, False, 0, False, 0, False]
        own = 1 if conv[0] == ep else 3
        rev = 4 - own
        if fl & (_SYN | _ACK) == _SYN and not new and conv[own] and (
                sq != conv[own + 1] or conv[5]):
            conv = convs[key] = [ep, False, 0, False, 0, False]
            own, rev, new = 1, 3, True
            splits.append(row)
        elif fl & (_SYN | _ACK) == (_SYN | _ACK) and conv[own] and sq != conv[own + 1]:
            conv[own + 1] = sq
        if okk:
            if not conv[own]:
                conv[own], conv[own + 1] = True, sq if fl & _SYN else (sq - 1) & M32
            if fl & _ACK and not conv[rev]:
                conv[rev], conv[rev + 1] = True, (ak - 1) & M32
        if not new and (fl & _RST or fl & (_FIN | _ACK) == (_FIN | _ACK)):
            conv[5] = True
    return splits


def assign_streams(src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
                   flags: np.ndarray, seq: np.ndarray, ack: np.ndarray,
                   analyzable: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stream int64, direction int8, reused bool) for TCP segments in frame order.

    ``src``/``dst`` are non-negative integer address ids (equal ids for equal addresses, IPv4 and
    IPv6 alike), ``sport``/``dport`` the ports, ``flags``/``seq``/``ack`` the raw header values
    and ``analyzable`` as in TcpSegments (segments tshark does not analyse set no base).
    ``direction`` is 0 for segments sent by the endpoint that sent the stream's first segment.
    ``reused`` marks the SYNs that started a new stream on a 4-tuple already seen.
    """
    n = len(src)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, bool)
    flags = np.asarray(flags, dtype=np.int64)
    ep_src = np.asarray(src, dtype=np.int64) * 65536 + np.asarray(sport, dtype=np.int64)
    ep_dst = np.asarray(dst, dtype=np.int64) * 65536 + np.asarray(dport, dtype=np.int64)
    keys = _tuple_keys(ep_src, ep_dst)
    nkeys = int(keys.max()) + 1
    rows = np.arange(n)
    first = np.full(nkeys, n, dtype=np.int64)
    np.minimum.at(first, keys, rows)
    pure_syn = (flags & (_SYN | _ACK)) == _SYN
    late_syn = pure_syn & (first[keys] < rows)
    reused = np.zeros(n, dtype=bool)
    if late_syn.any():
        candidate = np.zeros(nkeys, dtype=bool)
        candidate[keys[late_syn]] = True
        ok = np.ones(n, bool) if analyzable is None else np.asarray(analyzable, dtype=bool)
        splits = _replay(np.flatnonzero(candidate[keys]), keys, ep_src, flags,
                         np.asarray(seq, dtype=np.int64), np.asarray(ack, dtype=np.int64), ok)
        reused[splits] = True
    # every row belongs to the latest conversation start of its 4-tuple at or before it
    is_start = reused.copy()
    is_start[first] = True
    order = np.argsort(keys, kind="stable")
    pos = np.arange(n)
    start_pos = np.maximum.accumulate(np.where(is_start[order], pos, -1))
    start_row = np.empty(n, dtype=np.int64)
    start_row[order] = order[start_pos]
    starts = np.flatnonzero(is_start)  # sorted: stream numbers follow the first segments
    stream = np.searchsorted(starts, start_row).astype(np.int64)
    direction = (ep_src != ep_src[start_row]).astype(np.int8)
    return stream, direction, reused
