"""TLS records and handshake messages (ClientHello/ServerHello details, SNI, certificates' framing)."""
from __future__ import annotations

from . import registry as reg
from .node import Ctx, Node, Tvb, add, hexstr, text
from .tls_names import (ALERT_DESCS, ALERT_LEVELS, CONTENT_TYPES, GROUPS, HANDSHAKE_TYPES, SHORT_VERSIONS,
                        ext_name, suite_label, version_label)

TLS_PORTS = (443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 8443)


def _u16(d: bytes, p: int) -> int:
    return (d[p] << 8) | d[p + 1]


def _u24(d: bytes, p: int) -> int:
    return (d[p] << 16) | (d[p + 1] << 8) | d[p + 2]


def looks_like_record(b: bytes) -> bool:
    """Content type 20..24 followed by an SSLv3/TLS version."""
    return len(b) >= 5 and 20 <= b[0] <= 24 and b[1] == 3 and b[2] <= 4


def dissect_tls(ctx: Ctx, tvb: Tvb, parent: Node | None, app_port: int = 0) -> bool:
    """The complete records at the start of the payload; a record cut by the segment end waits for
    reassembly in Wireshark, so it is not shown (nor is anything when no record is complete)."""
    s, end = tvb.start, tvb.cap_end
    d = ctx.data
    records = []
    p = s
    while p + 5 <= end and looks_like_record(d[p:p + 5]):
        ln = _u16(d, p + 3)
        if p + 5 + ln > end:
            break
        records.append((p, ln))
        p += 5 + ln
    if not records:
        return False
    lay = ctx.layer("tls", "Transport Layer Security", s, p - s, parent)
    encrypted = False
    for (r, ln) in records:
        encrypted = _record(ctx, lay, r, ln, encrypted, app_port)
    if p < end:
        lay["length"] = end - s
        text(lay, f"[TLS segment data ({end - p} bytes): incomplete record, continued in a later segment]",
             p, end - p)
    return True


def _record(ctx: Ctx, lay: Node, r: int, ln: int, encrypted: bool, app_port: int) -> bool:
    d = ctx.data
    ct, ver = d[r], _u16(d, r + 1)
    vshort = SHORT_VERSIONS.get(ver, "TLS")
    body = r + 5
    if ct == 22 and not encrypted and ln >= 4 and d[body] == 2:
        sv = _server_hello_version(d, body, ln)
        if sv:
            vshort = SHORT_VERSIONS.get(sv, vshort)
    rec = add(lay, "tls.record", f"{vshort} Record Layer: ", None, r, 5 + ln)
    add(rec, "tls.record.content_type", f"Content Type: {CONTENT_TYPES.get(ct, 'Unknown')} ({ct})", ct, r, 1)
    add(rec, "tls.record.version", f"Version: {version_label(ver)}", ver, r + 1, 2)
    add(rec, "tls.record.length", f"Length: {ln}", ln, r + 3, 2)
    if ct == 20:
        rec["label"] += "Change Cipher Spec Protocol: Change Cipher Spec"
        add(rec, "tls.change_cipher_spec", "Change Cipher Spec Message", None, body, ln)
        return True
    if ct == 21:
        if ln == 2 and not encrypted:
            lv, ds = d[body], d[body + 1]
            rec["label"] += "Alert Protocol"
            am = add(rec, "tls.alert_message", "Alert Message", None, body, 2)
            add(am, "tls.alert_message.level", f"Level: {ALERT_LEVELS.get(lv, 'Unknown')} ({lv})", lv, body, 1)
            add(am, "tls.alert_message.desc", f"Description: {ALERT_DESCS.get(ds, 'Unknown')} ({ds})", ds, body + 1, 1)
        else:
            rec["label"] += "Encrypted Alert"
            add(rec, "tls.alert_message", "Alert Message: Encrypted Alert", d[body:body + ln], body, ln)
        return encrypted
    if ct == 23:
        proto = "http-over-tls" if app_port == 443 else "Application Data"
        rec["label"] += f"Application Data Protocol: {proto}"
        add(rec, "tls.app_data", f"Encrypted Application Data: {hexstr(d[body:body + min(ln, 48)])}"
            f"{'…' if ln > 48 else ''}", d[body:body + ln], body, ln)
        if app_port == 443:
            add(rec, "tls.app_data_proto", f"[Application Data Protocol: {proto}]", proto, None, None)
        return encrypted
    if ct == 24:
        rec["label"] += "Heartbeat"
        add(rec, "tls.heartbeat_message", "Heartbeat Message", d[body:body + ln], body, ln)
        return encrypted
    # handshake: one or more messages, or an encrypted Finished after ChangeCipherSpec
    msgs = []
    p, end = body, body + ln
    while p + 4 <= end:
        t, ml = d[p], _u24(d, p + 1)
        if t not in HANDSHAKE_TYPES or p + 4 + ml > end:
            msgs = []
            break
        msgs.append((p, t, ml))
        p += 4 + ml
    if encrypted or not msgs or p != end:
        rec["label"] += "Handshake Protocol: Encrypted Handshake Message"
        add(rec, "tls.handshake", "Handshake Protocol: Encrypted Handshake Message", d[body:end], body, ln)
        return encrypted
    rec["label"] += ("Handshake Protocol: Multiple Handshake Messages" if len(msgs) > 1 else
                     f"Handshake Protocol: {HANDSHAKE_TYPES[msgs[0][1]]}")
    for (m, t, ml) in msgs:
        _handshake(ctx, rec, m, t, ml)
    return encrypted


def _server_hello_version(d: bytes, p: int, ln: int) -> int | None:
    """The supported_versions choice of a ServerHello (TLS 1.3 hides behind 0x0303)."""
    try:
        q = p + 4 + 2 + 32
        q += 1 + d[q]
        q += 3
        ext_end = q + 2 + _u16(d, q)
        q += 2
        while q + 4 <= ext_end:
            et, el = _u16(d, q), _u16(d, q + 2)
            if et == 43 and el == 2:
                return _u16(d, q + 4)
            q += 4 + el
    except IndexError:
        return None
    return None


def _handshake(ctx: Ctx, rec: Node, m: int, t: int, ml: int) -> None:
    d = ctx.data
    hs = add(rec, "tls.handshake", f"Handshake Protocol: {HANDSHAKE_TYPES[t]}", None, m, 4 + ml)
    add(hs, "tls.handshake.type", f"Handshake Type: {HANDSHAKE_TYPES[t]} ({t})", t, m, 1)
    add(hs, "tls.handshake.length", f"Length: {ml}", ml, m + 1, 3)
    p, end = m + 4, m + 4 + ml
    try:
        if t in (1, 2):
            _hello(ctx, hs, t, p, end)
        elif t == 11:
            cl = _u24(d, p)
            add(hs, "tls.handshake.certificates_length", f"Certificates Length: {cl}", cl, p, 3)
            certs = add(hs, "tls.handshake.certificates", f"Certificates ({cl} bytes)", None, p + 3, cl)
            q = p + 3
            while q + 3 <= min(end, p + 3 + cl):
                n = _u24(d, q)
                add(certs, "tls.handshake.certificate_length", f"Certificate Length: {n}", n, q, 3)
                add(certs, "tls.handshake.certificate", f"Certificate: {hexstr(d[q + 3:q + 3 + min(n, 32)])}…",
                    d[q + 3:q + 3 + n], q + 3, n)
                q += 3 + n
        elif t == 4 and ml >= 6:
            lt = int.from_bytes(d[p:p + 4], "big")
            add(hs, "tls.handshake.session_ticket_lifetime_hint",
                f"Session Ticket Lifetime Hint: {lt} seconds", lt, p, 4)
        elif ml:
            add(hs, "tls.handshake.data", f"Handshake data: {ml} bytes", d[p:end], p, ml)
    except IndexError:
        text(hs, "[Malformed handshake message]")


def _hello(ctx: Ctx, hs: Node, t: int, p: int, end: int) -> None:
    d = ctx.data
    v = _u16(d, p)
    add(hs, "tls.handshake.version", f"Version: {version_label(v)}", v, p, 2)
    add(hs, "tls.handshake.random", f"Random: {hexstr(d[p + 2:p + 34])}", d[p + 2:p + 34], p + 2, 32)
    q = p + 34
    sl = d[q]
    add(hs, "tls.handshake.session_id_length", f"Session ID Length: {sl}", sl, q, 1)
    if sl:
        sid = d[q + 1:q + 1 + sl]
        add(hs, "tls.handshake.session_id", f"Session ID: {hexstr(sid)}", sid, q + 1, sl)
    q += 1 + sl
    if t == 1:
        cl = _u16(d, q)
        add(hs, "tls.handshake.cipher_suites_length", f"Cipher Suites Length: {cl}", cl, q, 2)
        cs = add(hs, "tls.handshake.ciphersuites", f"Cipher Suites ({cl // 2} suites)", None, q + 2, cl)
        for i in range(q + 2, q + 2 + cl - 1, 2):
            c = _u16(d, i)
            add(cs, "tls.handshake.ciphersuite", f"Cipher Suite: {suite_label(c)}", c, i, 2)
        q += 2 + cl
        ml = d[q]
        add(hs, "tls.handshake.comp_methods_length", f"Compression Methods Length: {ml}", ml, q, 1)
        cm = add(hs, "tls.handshake.comp_methods", f"Compression Methods ({ml} method{'s' if ml != 1 else ''})",
                 None, q + 1, ml)
        for i in range(q + 1, q + 1 + ml):
            add(cm, "tls.handshake.comp_method", f"Compression Method: {'null' if d[i] == 0 else 'DEFLATE'} ({d[i]})",
                d[i], i, 1)
        q += 1 + ml
    else:
        c = _u16(d, q)
        add(hs, "tls.handshake.ciphersuite", f"Cipher Suite: {suite_label(c)}", c, q, 2)
        add(hs, "tls.handshake.comp_method", f"Compression Method: {'null' if d[q + 2] == 0 else 'DEFLATE'} "
            f"({d[q + 2]})", d[q + 2], q + 2, 1)
        q += 3
    if q + 2 > end:
        return
    el = _u16(d, q)
    add(hs, "tls.handshake.extensions_length", f"Extensions Length: {el}", el, q, 2)
    q += 2
    while q + 4 <= min(end, q + el):
        et, ln = _u16(d, q), _u16(d, q + 2)
        _extension(ctx, hs, et, ln, q, t)
        q += 4 + ln


def _extension(ctx: Ctx, hs: Node, et: int, ln: int, q: int, t: int) -> None:
    d = ctx.data
    name = ext_name(et)
    ex = add(hs, "tls.handshake.extension", f"Extension: {name} (len={ln})", None, q, 4 + ln)
    add(ex, "tls.handshake.extension.type", f"Type: {name} ({et})", et, q, 2)
    add(ex, "tls.handshake.extension.len", f"Length: {ln}", ln, q + 2, 2)
    v = q + 4
    if et == 0 and ln >= 5:
        sni = add(ex, "", "Server Name Indication extension", None, v, ln)
        add(sni, "tls.handshake.extensions_server_name_list_len", f"Server Name list length: {_u16(d, v)}",
            _u16(d, v), v, 2)
        p = v + 2
        while p + 3 <= v + ln:
            nt, nl = d[p], _u16(d, p + 1)
            name_s = d[p + 3:p + 3 + nl].decode("latin-1")
            add(sni, "tls.handshake.extensions_server_name_type",
                f"Server Name Type: {'host_name' if nt == 0 else 'Unknown'} ({nt})", nt, p, 1)
            add(sni, "tls.handshake.extensions_server_name_len", f"Server Name length: {nl}", nl, p + 1, 2)
            add(sni, "tls.handshake.extensions_server_name", f"Server Name: {name_s}", name_s, p + 3, nl)
            p += 3 + nl
    elif et == 43:
        if t == 1 and ln >= 1:
            add(ex, "tls.handshake.extensions.supported_versions_len", f"Supported Versions length: {d[v]}",
                d[v], v, 1)
            for i in range(v + 1, v + 1 + d[v] - 1, 2):
                sv = _u16(d, i)
                lbl = version_label(sv) if sv in (0x0300, 0x0301, 0x0302, 0x0303, 0x0304) else \
                    f"Unknown (0x{sv:04x})"
                add(ex, "tls.handshake.extensions.supported_version", f"Supported Version: {lbl}", sv, i, 2)
        elif ln == 2:
            sv = _u16(d, v)
            add(ex, "tls.handshake.extensions.supported_version", f"Supported Version: {version_label(sv)}",
                sv, v, 2)
    elif et == 16 and ln >= 2:
        al = _u16(d, v)
        add(ex, "tls.handshake.extensions_alpn_len", f"ALPN Extension Length: {al}", al, v, 2)
        alpn = add(ex, "", "ALPN Protocol", None, v + 2, al)
        p = v + 2
        while p < v + 2 + al:
            sl = d[p]
            s = d[p + 1:p + 1 + sl].decode("latin-1")
            add(alpn, "tls.handshake.extensions_alpn_str_len", f"ALPN string length: {sl}", sl, p, 1)
            add(alpn, "tls.handshake.extensions_alpn_str", f"ALPN Next Protocol: {s}", s, p + 1, sl)
            p += 1 + sl
    elif et == 10 and ln >= 2 and t == 1:
        gl = _u16(d, v)
        add(ex, "tls.handshake.extensions_supported_groups_length", f"Supported Groups List Length: {gl}", gl, v, 2)
        grp = add(ex, "", f"Supported Groups ({gl // 2} group{'s' if gl != 2 else ''})", None, v + 2, gl)
        for i in range(v + 2, v + 2 + gl - 1, 2):
            g = _u16(d, i)
            add(grp, "tls.handshake.extensions_supported_group",
                f"Supported Group: {GROUPS.get(g, 'Reserved (GREASE)' if g & 0x0F0F == 0x0A0A else 'Unknown')}"
                f" (0x{g:04x})", g, i, 2)
    elif ln:
        add(ex, "tls.handshake.extension.data", f"Data: {hexstr(d[v:v + min(ln, 48)])}{'…' if ln > 48 else ''}",
            d[v:v + ln], v, ln)


def _tls_port(port: int):
    def run(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
        # a segment that is not a complete record is held for reassembly: no TLS layer here
        dissect_tls(ctx, tvb, parent, port)
        return True
    return run


for _p in TLS_PORTS:
    reg.TCP_PORT[_p] = _tls_port(_p)
