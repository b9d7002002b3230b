"""Line-oriented application protocols: SIP (+SDP bodies), FTP / FTP-DATA, SMTP and SSH banners."""
from __future__ import annotations

from . import registry as reg
from .http import esc, split_lines
from .media import dissect_media
from .node import Ctx, Node, Tvb, add, hexstr

SIP_METHODS = {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE", "NOTIFY",
               "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}
SIP_COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
               "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding"}
SIP_CANON = {h.lower(): h for h in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards",
                                     "User-Agent", "Content-Length", "Content-Type", "Expires", "Allow",
                                     "Authorization", "WWW-Authenticate", "Proxy-Authenticate",
                                     "Proxy-Authorization", "Supported", "Server", "Route", "Record-Route",
                                     "Subject", "Accept", "Allow-Events", "Event", "Date", "Require",
                                     "Content-Disposition", "Session-Expires", "Min-Expires", "Warning",
                                     "Reason", "Privacy", "P-Asserted-Identity", "Organization")}
SDP_LINES = {"v": ("sdp.version", "Session Description Protocol Version (v)"),
             "o": ("sdp.owner", "Owner/Creator, Session Id (o)"), "s": ("sdp.session_name", "Session Name (s)"),
             "i": ("sdp.session_info", "Session Information (i)"), "u": ("sdp.uri", "URI of Description (u)"),
             "e": ("sdp.email", "E-mail Address (e)"), "p": ("sdp.phone", "Phone Number (p)"),
             "c": ("sdp.connection_info", "Connection Information (c)"),
             "b": ("sdp.bandwidth", "Bandwidth Information (b)"),
             "t": ("sdp.time", "Time Description, active time (t)"), "r": ("sdp.repeat_time", "Repeat Time (r)"),
             "m": ("sdp.media", "Media Description, name and address (m)"),
             "a": ("sdp.media_attr", "Media Attribute (a)"), "k": ("sdp.key", "Encryption Key (k)"),
             "z": ("sdp.timezone", "Time Zone Adjustments (z)")}
FTP_CODES = {110: "Restart marker reply", 120: "Service ready in nnn minutes",
             125: "Data connection already open; transfer starting",
             150: "File status okay; about to open data connection", 200: "Command okay",
             202: "Command not implemented, superfluous at this site", 211: "System status, or system help reply",
             212: "Directory status", 213: "File status", 214: "Help message", 215: "NAME system type",
             220: "Service ready for new user", 221: "Service closing control connection",
             225: "Data connection open; no transfer in progress", 226: "Closing data connection",
             227: "Entering Passive Mode", 228: "Entering Long Passive Mode", 229: "Entering Extended Passive Mode",
             230: "User logged in, proceed", 232: "User logged in, authorized by security data exchange",
             234: "Security data exchange complete", 250: "Requested file action okay, completed",
             257: "PATHNAME created", 331: "User name okay, need password", 332: "Need account for login",
             350: "Requested file action pending further information",
             421: "Service not available, closing control connection", 425: "Can't open data connection",
             426: "Connection closed; transfer aborted", 450: "Requested file action not taken",
             451: "Requested action aborted: local error in processing",
             452: "Requested action not taken. Insufficient storage space in system",
             500: "Syntax error, command unrecognized", 501: "Syntax error in parameters or arguments",
             502: "Command not implemented", 503: "Bad sequence of commands",
             504: "Command not implemented for that parameter", 530: "Not logged in",
             532: "Need account for storing files", 550: "Requested action not taken: File unavailable",
             551: "Requested action aborted: page type unknown",
             552: "Requested file action aborted: Exceeded storage allocation",
             553: "Requested action not taken: File name not allowed"}


def _is_sip(b: bytes) -> bool:
    if b.startswith(b"SIP/2.0 "):
        return True
    sp = b.find(b" ")
    return 0 < sp < 12 and b[:sp].decode("latin-1") in SIP_METHODS and b" SIP/2.0" in b.split(b"\n", 1)[0]


def dissect_sip(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    """Session Initiation Protocol message (the SDP body, if any, as its own layer)."""
    s, end = tvb.start, tvb.cap_end
    d = ctx.data
    if not _is_sip(d[s:min(end, s + 200)]):
        return False
    lay = ctx.layer("sip", "Session Initiation Protocol", s, end - s, parent)
    lines, body = split_lines(d, s, end)
    a, b, c = lines[0]
    first = d[a:b].decode("latin-1")
    if first.startswith("SIP/2.0 "):
        parts = first.split(" ", 2)
        ln = add(lay, "sip.Status-Line", f"Status-Line: {first}", first, a, b - a)
        code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        add(ln, "sip.Status-Code", f"Status-Code: {code}", code, a + 8, len(parts[1]) if len(parts) > 1 else 0)
        lay["label"] += f" ({code})"
    else:
        method, _, rest = first.partition(" ")
        uri = rest.rsplit(" ", 1)[0]
        ln = add(lay, "sip.Request-Line", f"Request-Line: {first}", first, a, b - a)
        add(ln, "sip.Method", f"Method: {method}", method, a, len(method))
        add(ln, "sip.r-uri", f"Request-URI: {uri}", uri, a + len(method) + 1, len(uri))
        lay["label"] += f" ({method})"
    add(ln, "sip.resend", "[Resent Packet: False]", False, None, None)
    hdr = add(lay, "sip.msg_hdr", "Message Header", None, lines[1][0] if len(lines) > 1 else b, 0)
    ctype = ""
    clen = None
    for (a, b, c) in lines[1:]:
        if a == b:
            hdr["length"] = a - hdr["offset"]
            break
        line = d[a:b].decode("latin-1")
        name, _, value = line.partition(":")
        key = name.strip()
        canon = SIP_COMPACT.get(key, SIP_CANON.get(key.lower(), key))
        value = value.strip()
        # numeric headers are integer fields in Wireshark (sip.Content-Length == 0)
        typed = int(value) if canon in ("Content-Length", "Max-Forwards", "Expires") and value.isdigit() else value
        hn = add(hdr, f"sip.{canon}", f"{canon}: {value}" if key == canon else f"{line}", typed, a, b - a)
        if canon == "CSeq":
            seq, _, meth = value.partition(" ")
            if seq.isdigit():
                add(hn, "sip.CSeq.seq", f"Sequence Number: {seq}", int(seq), a, b - a)
            add(hn, "sip.CSeq.method", f"Method: {meth}", meth, a, b - a)
        elif canon == "Content-Type":
            ctype = value.split(";")[0].strip().lower()
        elif canon == "Content-Length" and value.isdigit():
            clen = int(value)
    if body is not None and body < end:
        blen = end - body if clen is None else min(clen, end - body)
        if blen > 0:
            mb = add(lay, "sip.msg_body", "Message Body", None, body, blen)
            if ctype == "application/sdp":
                _sdp(ctx, mb, body, body + blen)
            else:
                dissect_media(ctx, d[body:body + blen], ctype, body, blen, mb)
    return True


def _sdp(ctx: Ctx, parent: Node, start: int, end: int) -> None:
    d = ctx.data
    lay = ctx.layer("sdp", "Session Description Protocol", start, end - start, parent)
    lines, _ = split_lines(d, start, end)
    for (a, b, c) in lines:
        if a == b:
            continue
        line = d[a:b].decode("latin-1")
        k, _, v = line.partition("=")
        name, title = SDP_LINES.get(k, ("sdp.unknown", f"Unknown ({k})"))
        add(lay, name, f"{title}: {v}", v, a, b - a)


def _sip_port(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    return dissect_sip(ctx, tvb, parent)


def dissect_ftp(ctx: Ctx, tvb: Tvb, parent: Node | None, request: bool) -> None:
    """File Transfer Protocol control channel: commands or replies, one item per line."""
    s, end = tvb.start, tvb.cap_end
    d = ctx.data
    lay = ctx.layer("ftp", "File Transfer Protocol (FTP)", s, end - s, parent)
    p = s
    while p < end:
        nl = d.find(b"\n", p, end)
        le = end if nl < 0 else nl + 1
        ce = le - (2 if d[le - 2:le] == b"\r\n" else 1 if d[le - 1:le] == b"\n" else 0)
        line = d[p:ce].decode("latin-1")
        item = add(lay, "ftp.request" if request else "ftp.response", esc(d[p:le]), True, p, le - p)
        if request:
            cmd, _, arg = line.partition(" ")
            add(item, "ftp.request.command", f"Request command: {cmd}", cmd, p, len(cmd))
            if arg:
                add(item, "ftp.request.arg", f"Request arg: {arg}", arg, p + len(cmd) + 1, len(arg))
        else:
            code_s, sep, arg = line[:3], line[3:4], line[4:]
            if code_s.isdigit() and sep in (" ", "-", ""):
                code = int(code_s)
                add(item, "ftp.response.code", f"Response code: {FTP_CODES.get(code, 'Unknown')} ({code})",
                    code, p, 3)
                if arg:
                    add(item, "ftp.response.arg", f"Response arg: {arg}", arg, p + 4, len(arg))
            else:
                add(item, "ftp.response.arg", f"Response arg: {line}", line, p, len(line))
        p = le


def _ftp_port(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    # which side is the server: the one on port 21
    dissect_ftp(ctx, tvb, parent, request=(ctx.ports[1] == 21))
    return True


def _ftp_data(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    n = tvb.reported
    lay = ctx.layer("ftp-data", f"FTP Data ({n} bytes data)", tvb.start, tvb.captured, parent)
    b = ctx.data[tvb.start:tvb.cap_end]
    add(lay, "ftp-data.current-working-directory", "[Current working directory: ]", "", None, None)
    dissect_media(ctx, b, "text/plain" if all(c in b"\r\n\t" or 32 <= c < 127 for c in b[:256]) else "",
                  tvb.start, len(b), parent)
    return True


def dissect_smtp(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    """Simple Mail Transfer Protocol command or response lines.

    SMTP waits for whole lines (Wireshark reassembles them): a segment without one shows no SMTP.
    """
    s, end = tvb.start, tvb.cap_end
    d = ctx.data
    last_nl = d.rfind(b"\n", s, end)
    if last_nl < 0:
        return True
    end = last_nl + 1
    lay = ctx.layer("smtp", "Simple Mail Transfer Protocol", s, end - s, parent)
    p = s
    while p < end:
        nl = d.find(b"\n", p, end)
        le = end if nl < 0 else nl + 1
        line = d[p:le].rstrip(b"\r\n").decode("latin-1")
        if line[:3].isdigit():
            r = add(lay, "smtp.response", f"Response: {esc(d[p:le])}", line, p, le - p)
            add(r, "smtp.response.code", f"Response code: {int(line[:3])}", int(line[:3]), p, 3)
            if len(line) > 4:
                add(r, "smtp.rsp.parameter", f"Response parameter: {line[4:]}", line[4:], p + 4, len(line) - 4)
        else:
            cmd, _, prm = line.partition(" ")
            r = add(lay, "smtp.req", f"Command Line: {esc(d[p:le])}", line, p, le - p)
            add(r, "smtp.req.command", f"Command: {cmd}", cmd, p, len(cmd))
            if prm:
                add(r, "smtp.req.parameter", f"Request parameter: {prm}", prm, p + len(cmd) + 1, len(prm))
        p = le
    return True


def dissect_ssh(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    """SSH: the version banner, or the framing of binary packets."""
    s, end = tvb.start, tvb.cap_end
    d = ctx.data
    lay = ctx.layer("ssh", "SSH Protocol", s, end - s, parent)
    if d[s:s + 4] == b"SSH-":
        nl = d.find(b"\n", s, end)
        le = end if nl < 0 else nl + 1
        add(lay, "ssh.protocol", f"Protocol: {esc(d[s:le])}", d[s:le].rstrip(b"\r\n").decode("latin-1"), s, le - s)
        return True
    plen = int.from_bytes(d[s:s + 4], "big") if end - s >= 4 else 0
    if 0 < plen <= 35000 and s + 4 + plen == tvb.rep_end and end - s > 5 and d[s + 4] < plen:
        pad = d[s + 4]
        add(lay, "ssh.packet_length", f"Packet Length: {plen}", plen, s, 4)
        add(lay, "ssh.padding_length", f"Padding Length: {pad}", pad, s + 4, 1)
        if end - s > 5:
            add(lay, "ssh.message_code", f"Message Code: {d[s + 5]}", d[s + 5], s + 5, 1)
    else:
        b = d[s:end]
        add(lay, "ssh.encrypted_packet", f"Encrypted Packet: {hexstr(b[:48])}{'…' if len(b) > 48 else ''}",
            b, s, len(b))
    return True


reg.UDP_PORT[5060] = _sip_port
reg.TCP_PORT[5060] = _sip_port
reg.TCP_PORT[21] = _ftp_port
reg.TCP_PORT[20] = _ftp_data
reg.TCP_PORT[25] = dissect_smtp
reg.TCP_PORT[587] = dissect_smtp
reg.TCP_PORT[22] = dissect_ssh
