"""TCP header, flags, options, the optional SEQ/ACK analysis subtree, and payload dispatch.

Relative sequence numbers, stream indexes and analysis flags come from the whole capture, not from
one packet: they appear only when the caller passes ``tcp_context`` (see ``dissect``).
"""
from __future__ import annotations

from scapy.layers.inet import TCP

from . import registry as reg
from .node import Ctx, Node, Tvb, add, bits, expert, flag, hexstr
from .scapyfields import walk

FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS")
OPT_KINDS = {0: "End of Option List", 1: "No-Operation", 2: "Maximum Segment Size", 3: "Window Scale",
             4: "SACK Permitted", 5: "SACK", 8: "Time Stamp Option", 19: "MD5 Signature Option",
             28: "User Timeout", 29: "TCP Authentication Option", 30: "Multipath TCP",
             34: "TCP Fast Open Cookie"}
ANALYSIS = {
    "retransmission": ("This frame is a (suspected) retransmission", "Note"),
    "fast_retransmission": ("This frame is a (suspected) fast retransmission", "Note"),
    "spurious_retransmission": ("This frame is a (suspected) spurious retransmission", "Note"),
    "out_of_order": ("This frame is a (suspected) out-of-order segment", "Warning"),
    "lost_segment": ("Previous segment(s) not captured (common at capture start)", "Warning"),
    "ack_lost_segment": ("ACKed segment that wasn't captured (common at capture start)", "Warning"),
    "duplicate_ack": ("Duplicate ACK", "Note"),
    "zero_window": ("TCP Zero Window segment", "Warning"),
    "zero_window_probe": ("TCP Zero Window Probe", "Note"),
    "zero_window_probe_ack": ("TCP Zero Window Probe Ack", "Note"),
    "window_update": ("TCP window update", "Chat"),
    "window_full": ("TCP window specified by the receiver is now completely full", "Warning"),
    "keep_alive": ("TCP keep-alive segment", "Note"),
    "keep_alive_ack": ("ACK to a TCP keep-alive segment", "Note"),
    "reused_ports": ("A new tcp session is started with the same ports as an earlier session in this trace",
                     "Note"),
}


def flags_text(fl: int) -> str:
    """``SYN, ACK`` as in the Flags item and the Info column."""
    names = [n for i, n in enumerate(FLAG_NAMES) if fl & (1 << i)]
    if fl & 0x0E00:
        names.append("Reserved")
    return ", ".join(names) if names else "<None>"


def flags_str(fl: int) -> str:
    """tcp.flags.str: one letter per bit, from the high reserved bits down to FIN."""
    letters = "RRRNCEUAPRSF"
    return "".join(letters[11 - i] if fl & (1 << i) else "\u00b7" for i in range(11, -1, -1))


def dissect_tcp(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Transmission Control Protocol."""
    s = tvb.start
    d = ctx.data
    f = walk(TCP, d, s, min(tvb.cap_end, s + 20), stop_after="urgptr")
    tc = ctx.tcp_context if not ctx.in_error and parent is None else None
    sport, dport = f.get("sport"), f.get("dport")
    lay = ctx.layer("tcp", "Transmission Control Protocol", s, min(20, tvb.captured), parent)
    if sport is None or dport is None:
        tvb.check(s, 4, "TCP")
    lay["label"] += f", Src Port: {sport}, Dst Port: {dport}"
    add(lay, "tcp.srcport", f"Source Port: {sport}", sport, s, 2)
    add(lay, "tcp.dstport", f"Destination Port: {dport}", dport, s + 2, 2)
    if ctx.in_error and tvb.cap_end - s < 20:
        # ICMP quotes only the first 8 bytes: show what is there and stop quietly
        if tvb.cap_end - s >= 8:
            seq = ctx.u32(s + 4)
            lay["label"] += f", Seq: {seq}"
            add(lay, "tcp.seq_raw", f"Sequence Number (raw): {seq}", seq, s + 4, 4)
        return None
    if tc and tc.get("stream") is not None:
        add(lay, "tcp.stream", f"[Stream index: {tc['stream']}]", tc["stream"], None, None)
    if not f.complete:
        tvb.check(s, 20, "TCP")
    hl = f["dataofs"] * 4
    seglen = max(tvb.reported - hl, 0)
    # Scapy splits the 12 flag bits into "reserved" (3) and "flags" (9)
    seq_raw, ack_raw, fl = f["seq"], f["ack"], int(f["flags"]) | (f["reserved"] << 9)
    shown_seq = tc["seq"] if tc and tc.get("seq") is not None else seq_raw
    lay["label"] += f", Seq: {shown_seq}"
    if fl & 0x10:
        lay["label"] += f", Ack: {tc['ack'] if tc and tc.get('ack') is not None else ack_raw}"
    lay["label"] += f", Len: {seglen}"
    if hl >= 20:
        add(lay, "tcp.len", f"[TCP Segment Len: {seglen}]", seglen, None, None)
    if tc and tc.get("seq") is not None:
        add(lay, "tcp.seq", f"Sequence Number: {tc['seq']}    (relative sequence number)", tc["seq"], s + 4, 4)
    add(lay, "tcp.seq_raw", f"Sequence Number (raw): {seq_raw}", seq_raw, s + 4, 4)
    if tc and tc.get("nxtseq") is not None:
        add(lay, "tcp.nxtseq", f"[Next Sequence Number: {tc['nxtseq']}    (relative sequence number)]",
            tc["nxtseq"], None, None)
    if tc and tc.get("ack") is not None:
        rel = "    (relative ack number)" if fl & 0x10 else ""
        add(lay, "tcp.ack", f"Acknowledgment Number: {tc['ack']}{rel}", tc["ack"], s + 8, 4)
    add(lay, "tcp.ack_raw", f"Acknowledgment number (raw): {ack_raw}", ack_raw, s + 8, 4)
    hn = add(lay, "tcp.hdr_len", f"{bits(d[s + 12], 0xF0, 8)} = Header Length: {hl} bytes ({hl // 4})",
             hl, s + 12, 1)
    if hl < 20:
        expert(hn, f"Bogus TCP header length ({hl}, must be at least 20)", "Error", "Malformed", s + 12, 1)
        return None
    _flags(ctx, lay, fl, s + 12, dport)
    win = f["window"]
    add(lay, "tcp.window_size_value", f"Window: {win}", win, s + 14, 2)
    if tc and tc.get("window") is not None:
        add(lay, "tcp.window_size", f"[Calculated window size: {tc['window']}]", tc["window"], s + 14, 2)
        if tc.get("window_scale") is not None:
            sc = tc["window_scale"]
            txt = {-1: "-1 (unknown)", -2: "-2 (no window scaling used)"}.get(sc, str(sc))
            add(lay, "tcp.window_size_scalefactor", f"[Window size scaling factor: {txt}]", sc, s + 14, 2)
    ck = f["chksum"]
    add(lay, "tcp.checksum", f"Checksum: 0x{ck:04x} [unverified]", ck, s + 16, 2)
    add(lay, "tcp.checksum.status", "[Checksum Status: Unverified]", 2, s + 16, 2)
    add(lay, "tcp.urgent_pointer", f"Urgent Pointer: {f['urgptr']}", f["urgptr"], s + 18, 2)
    lay["length"] = min(hl, tvb.captured)
    if hl > 20:
        _options(ctx, tvb, lay, s + 20, hl - 20)
    tvb.check(s, hl, "TCP")
    if tc:
        _analysis(lay, tc)
    payload = tvb.sub(s + hl)
    if seglen <= 0:
        return None
    pb = d[s + hl:payload.cap_end]
    add(lay, "tcp.payload", f"TCP payload ({seglen} byte{'s' if seglen != 1 else ''})", pb, s + hl, len(pb))
    if not pb:
        # nothing of the payload was captured (snaplen): no application layer to show
        return None
    if tc and tc.get("reassembled_pdu"):
        add(lay, "tcp.segment_data", f"TCP segment data ({seglen} byte{'s' if seglen != 1 else ''})",
            pb, s + hl, len(pb))
        return None
    analysis = set(tc.get("analysis") or ()) if tc else set()
    if analysis & {"retransmission", "fast_retransmission", "spurious_retransmission"}:
        # the retransmitted bytes were dissected with the original segment
        return None
    if "keep_alive" in analysis:
        reg.data_layer(ctx, payload, parent)
        return None
    if ctx.in_error:
        return None
    if tc and tc.get("app_data"):
        from .reassembled import dissect_reassembled
        dissect_reassembled(ctx, tc["app_data"], payload, sport, dport)
        return None
    reg.call_ports(reg.TCP_PORT, reg.TCP_HEUR, ctx, sport, dport, payload, parent)
    return None


def _flags(ctx: Ctx, lay: Node, fl: int, off: int, dport: int) -> None:
    fn = add(lay, "tcp.flags", f"Flags: 0x{fl:03x} ({flags_text(fl)})", fl, off, 2)
    w = 12
    # Wireshark 4.0 names: the 0x100 bit is still the ECN nonce (renamed "ae" in 4.2) and
    # ECN-Echo is tcp.flags.ecn
    bits_def = (("res", "Reserved", 0xE00), ("ns", "Nonce", 0x100),
                ("cwr", "Congestion Window Reduced (CWR)", 0x080), ("ecn", "ECN-Echo", 0x040),
                ("urg", "Urgent", 0x020), ("ack", "Acknowledgment", 0x010), ("push", "Push", 0x008),
                ("reset", "Reset", 0x004), ("syn", "Syn", 0x002), ("fin", "Fin", 0x001))
    for name, title, mask in bits_def:
        n = flag(fn, f"tcp.flags.{name}", title, fl, mask, w, off, 2)
        if name == "res":
            n["value"] = (fl & mask) >> 9
        if name == "syn" and fl & 0x002:
            msg = (f"Connection establish acknowledge (SYN+ACK): server port {dport}" if fl & 0x010 else
                   f"Connection establish request (SYN): server port {dport}")
            expert(n, msg, "Chat", "Sequence", off, 2)
        elif name == "fin" and fl & 0x001:
            expert(n, "Connection finish (FIN)", "Chat", "Sequence", off, 2)
        elif name == "reset" and fl & 0x004:
            expert(n, "Connection reset (RST)", "Warning", "Sequence", off, 2)
    add(fn, "tcp.flags.str", f"[TCP Flags: {flags_str(fl)}]", flags_str(fl), off, 2)


def _options(ctx: Ctx, tvb: Tvb, lay: Node, off: int, optlen: int) -> None:
    d = ctx.data
    on = add(lay, "tcp.options", f"Options: ({optlen} bytes)", d[off:min(off + optlen, tvb.cap_end)],
             off, max(min(optlen, tvb.cap_end - off), 0))
    names: list[str] = []
    end = off + optlen
    p = off
    try:
        while p < end:
            tvb.check(p, 1, "TCP")
            k = d[p]
            kind_name = OPT_KINDS.get(k, "Unknown")
            if k in (0, 1):
                title = "End of Option List (EOL)" if k == 0 else "No-Operation (NOP)"
                o = add(on, "tcp.options.eol" if k == 0 else "tcp.options.nop", f"TCP Option - {title}", None, p, 1)
                add(o, "tcp.option_kind", f"Kind: {kind_name} ({k})", k, p, 1)
                names.append(title)
                p += 1
                continue
            tvb.check(p + 1, 1, "TCP")
            ln = d[p + 1]
            if ln < 2 or p + ln > end:
                o = add(on, "tcp.options.unknown", f"TCP Option - {kind_name}", None, p, 2)
                add(o, "tcp.option_kind", f"Kind: {kind_name} ({k})", k, p, 1)
                ol = add(o, "tcp.option_len", f"Length: {ln}", ln, p + 1, 1)
                expert(ol, f"Option length {'too short' if ln < 2 else 'exceeds the header'}: {ln}",
                       "Error", "Protocol", p + 1, 1)
                break
            tvb.check(p, ln, "TCP")
            names.append(_option(ctx, on, k, kind_name, p, ln))
            p += ln
    finally:
        if names:
            on["label"] += ", " + ", ".join(names)


def _option(ctx: Ctx, on: Node, k: int, kind_name: str, p: int, ln: int) -> str:
    d = ctx.data
    o = add(on, "", "", None, p, ln)
    add(o, "tcp.option_kind", f"Kind: {kind_name} ({k})", k, p, 1)
    add(o, "tcp.option_len", f"Length: {ln}", ln, p + 1, 1)
    if k == 2 and ln == 4:
        mss = int.from_bytes(d[p + 2:p + 4], "big")
        o.update(name="tcp.options.mss", label=f"TCP Option - Maximum segment size: {mss} bytes")
        add(o, "tcp.options.mss_val", f"MSS Value: {mss}", mss, p + 2, 2)
        return "Maximum segment size"
    if k == 3 and ln == 3:
        sh = d[p + 2]
        mult = 1 << min(sh, 14)
        o.update(name="tcp.options.wscale", label=f"TCP Option - Window scale: {sh} (multiply by {mult})")
        add(o, "tcp.options.wscale.shift", f"Shift count: {sh}", sh, p + 2, 1)
        add(o, "tcp.options.wscale.multiplier", f"[Multiplier: {mult}]", mult, p + 2, 1)
        return "Window scale"
    if k == 4:
        o.update(name="tcp.options.sack_perm", label="TCP Option - SACK permitted")
        return "SACK permitted"
    if k == 8 and ln == 10:
        tsval, tsecr = int.from_bytes(d[p + 2:p + 6], "big"), int.from_bytes(d[p + 6:p + 10], "big")
        o.update(name="tcp.options.timestamp", label=f"TCP Option - Timestamps: TSval {tsval}, TSecr {tsecr}")
        add(o, "tcp.options.timestamp.tsval", f"Timestamp value: {tsval}", tsval, p + 2, 4)
        add(o, "tcp.options.timestamp.tsecr", f"Timestamp echo reply: {tsecr}", tsecr, p + 6, 4)
        return "Timestamps"
    if k == 5 and ln >= 2:
        edges = []
        q = p + 2
        while q + 8 <= p + ln:
            le, re_ = int.from_bytes(d[q:q + 4], "big"), int.from_bytes(d[q + 4:q + 8], "big")
            add(o, "tcp.options.sack_le", f"left edge = {le}", le, q, 4)
            add(o, "tcp.options.sack_re", f"right edge = {re_}", re_, q + 4, 4)
            edges.append(f"{le}-{re_}")
            q += 8
        add(o, "tcp.options.sack.count", f"[TCP SACK Count: {len(edges)}]", len(edges), p, ln)
        o.update(name="tcp.options.sack", label="TCP Option - SACK " + " ".join(edges))
        return "SACK"
    title = {19: "TCP MD5 signature", 28: "User Timeout", 29: "TCP AO", 30: "Multipath TCP",
             34: "TCP Fast Open"}.get(k, f"Unknown ({k})")
    o.update(name="tcp.options.unknown" if k not in OPT_KINDS else "tcp.option", label=f"TCP Option - {title}")
    if ln > 2:
        pl = d[p + 2:p + ln]
        add(o, "tcp.options.unknown.payload", f"Payload: {hexstr(pl)}", pl, p + 2, ln - 2)
    return title


def _analysis(lay: Node, tc: dict) -> None:
    flags = list(tc.get("analysis") or ())
    extra = [k for k in ("acks_frame", "rtt", "bytes_in_flight") if tc.get(k) is not None]
    if not flags and not extra:
        return
    an = add(lay, "tcp.analysis", "[SEQ/ACK analysis]", None, None, None)
    if tc.get("acks_frame") is not None:
        add(an, "tcp.analysis.acks_frame", f"[This is an ACK to the segment in frame: {tc['acks_frame']}]",
            tc["acks_frame"], None, None)
    if tc.get("rtt") is not None:
        add(an, "tcp.analysis.ack_rtt", f"[The RTT to ACK the segment was: {tc['rtt']:.9f} seconds]",
            tc["rtt"], None, None)
    if tc.get("bytes_in_flight") is not None:
        add(an, "tcp.analysis.bytes_in_flight", f"[Bytes in flight: {tc['bytes_in_flight']}]",
            tc["bytes_in_flight"], None, None)
    if not flags:
        return
    fl = add(an, "tcp.analysis.flags", "[TCP Analysis Flags]", None, None, None)
    for name in flags:
        msg, sev = ANALYSIS.get(name, (name.replace("_", " "), "Note"))
        if name == "duplicate_ack":
            num = tc.get("dup_ack_num")
            msg = f"Duplicate ACK (#{num})" if num else msg
            n = add(fl, "tcp.analysis.duplicate_ack", "[This is a TCP duplicate ack]", True, None, None)
            if num:
                add(an, "tcp.analysis.duplicate_ack_num", f"[Duplicate ACK #: {num}]", num, None, None)
            if tc.get("dup_ack_frame") is not None:
                add(an, "tcp.analysis.duplicate_ack_frame",
                    f"[Duplicate to the ACK in frame: {tc['dup_ack_frame']}]", tc["dup_ack_frame"], None, None)
        else:
            n = add(fl, f"tcp.analysis.{name}", f"[{msg}]", True, None, None)
        expert(n, msg, sev, "Sequence")


reg.IP_PROTO[6] = dissect_tcp
