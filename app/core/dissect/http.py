"""HTTP/1.x (and SSDP, which is HTTP over UDP), with the body handed to a media dissector."""
from __future__ import annotations

import zlib

from . import registry as reg
from .media import dissect_media
from .node import Ctx, Node, Tvb, add, expert, text

METHODS = {b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"TRACE", b"PATCH",
           b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"NOTIFY",
           b"M-SEARCH", b"SUBSCRIBE", b"UNSUBSCRIBE", b"REPORT", b"SEARCH"}
STATUS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
          203: "Non-authoritative Information", 204: "No Content", 205: "Reset Content",
          206: "Partial Content", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
          303: "See Other", 304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect",
          308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
          403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
          407: "Proxy Authentication Required", 408: "Request Time-out", 409: "Conflict", 410: "Gone",
          411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
          414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
          417: "Expectation Failed", 429: "Too Many Requests", 500: "Internal Server Error",
          501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out",
          505: "HTTP Version not supported"}
HEADERS = {"host": "http.host", "user-agent": "http.user_agent", "accept": "http.accept",
           "accept-language": "http.accept_language", "accept-encoding": "http.accept_encoding",
           "referer": "http.referer", "cookie": "http.cookie", "set-cookie": "http.set_cookie",
           "authorization": "http.authorization", "proxy-authorization": "http.proxy_authorization",
           "www-authenticate": "http.www_authenticate", "proxy-authenticate": "http.proxy_authenticate",
           "cache-control": "http.cache_control", "connection": "http.connection",
           "content-type": "http.content_type", "content-length": "http.content_length_header",
           "content-encoding": "http.content_encoding", "transfer-encoding": "http.transfer_encoding",
           "date": "http.date", "server": "http.server", "location": "http.location",
           "last-modified": "http.last_modified", "x-forwarded-for": "http.x_forwarded_for",
           "upgrade": "http.upgrade", "if-modified-since": "http.request.line"}
HTTP_TCP_PORTS = (80, 3128, 3132, 5985, 8080, 8088, 11371, 2869, 2710)


def esc(b: bytes) -> str:
    """Line text the way Wireshark labels it (CR/LF and controls shown as escapes)."""
    out = []
    for c in b:
        if c == 13:
            out.append("\\r")
        elif c == 10:
            out.append("\\n")
        elif c == 9:
            out.append("\\t")
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def is_http_start(b: bytes) -> bool:
    """A request line ("GET /...") or a status line ("HTTP/1.1 200 ...")."""
    if b.startswith(b"HTTP/1.") or b.startswith(b"HTTP/2 "):
        return True
    sp = b.find(b" ", 0, 16)
    return sp > 0 and b[:sp] in METHODS


def split_lines(d: bytes, start: int, end: int) -> tuple[list[tuple[int, int, int]], int | None]:
    """Header lines as (offset, content end, line end) until the empty line; body start or None."""
    lines = []
    p = start
    while p < end:
        nl = d.find(b"\n", p, end)
        if nl < 0:
            lines.append((p, end, end))
            return lines, None
        cend = nl - 1 if nl > p and d[nl - 1] == 13 else nl
        if cend == p:
            lines.append((p, p, nl + 1))
            return lines, nl + 1
        lines.append((p, cend, nl + 1))
        p = nl + 1
    return lines, None


def dissect_http(ctx: Ctx, tvb: Tvb, parent: Node | None, proto: str = "http") -> bool:
    """One HTTP message (request or response) starting at ``tvb.start``."""
    s, end = tvb.start, tvb.cap_end
    d = ctx.data
    if not is_http_start(d[s:min(end, s + 24)]):
        return False
    title = "Hypertext Transfer Protocol" if proto == "http" else "Simple Service Discovery Protocol"
    lay = ctx.layer(proto, title, s, end - s, parent)
    lines, body = split_lines(d, s, end)
    first = d[lines[0][0]:lines[0][1]]
    req = not first.startswith(b"HTTP/")
    fl_node = add(lay, "http.request" if req else "http.response", esc(d[lines[0][0]:lines[0][2]]), True,
                  lines[0][0], lines[0][2] - lines[0][0])
    expert(fl_node, esc(d[lines[0][0]:lines[0][2]]), "Chat", "Sequence")
    p0 = lines[0][0]
    parts = first.split(b" ", 2)
    uri = ""
    if req:
        method = parts[0].decode("latin-1")
        add(fl_node, "http.request.method", f"Request Method: {method}", method, p0, len(parts[0]))
        if len(parts) > 1:
            uri = parts[1].decode("latin-1")
            uo = p0 + len(parts[0]) + 1
            un = add(fl_node, "http.request.uri", f"Request URI: {uri}", uri, uo, len(parts[1]))
            if "?" in uri:
                path, query = uri.split("?", 1)
                add(un, "http.request.uri.path", f"Request URI Path: {path}", path, uo, len(path))
                qn = add(un, "http.request.uri.query", f"Request URI Query: {query}", query,
                         uo + len(path) + 1, len(query))
                qo = uo + len(path) + 1
                for prm in query.split("&"):
                    add(qn, "http.request.uri.query.parameter", f"Request URI Query Parameter: {prm}", prm,
                        qo, len(prm))
                    qo += len(prm) + 1
        if len(parts) > 2:
            ver = parts[2].decode("latin-1")
            add(fl_node, "http.request.version", f"Request Version: {ver}", ver, lines[0][1] - len(parts[2]),
                len(parts[2]))
    else:
        ver = parts[0].decode("latin-1")
        add(fl_node, "http.response.version", f"Response Version: {ver}", ver, p0, len(parts[0]))
        code = None
        if len(parts) > 1 and parts[1].isdigit():
            code = int(parts[1])
            add(fl_node, "http.response.code", f"Status Code: {code}", code, p0 + len(parts[0]) + 1, len(parts[1]))
            desc = STATUS.get(code, "Unknown")
            add(fl_node, "http.response.code.desc", f"[Status Code Description: {desc}]", desc,
                p0 + len(parts[0]) + 1, len(parts[1]))
        if len(parts) > 2:
            ph = parts[2].decode("latin-1")
            add(fl_node, "http.response.phrase", f"Response Phrase: {ph}", ph, lines[0][1] - len(parts[2]),
                len(parts[2]))
    hdrs: dict[str, str] = {}
    for (a, b, c) in lines[1:]:
        raw = d[a:c]
        if a == b:
            text(lay, esc(raw), a, c - a)
            break
        line = d[a:b].decode("latin-1")
        name, _, value = line.partition(":")
        key = name.strip().lower()
        value = value.strip()
        hdrs.setdefault(key, value)
        field = HEADERS.get(key, "http.request.line" if req else "http.response.line")
        shown_value = value if field not in ("http.request.line", "http.response.line") else raw.decode("latin-1")
        hn = add(lay, field, esc(raw), shown_value, a, c - a)
        voff = a + len(name) + 1
        while voff < b and d[voff] in (9, 32):
            voff += 1
        _header_children(hn, key, value, voff, b)
    if req and "host" in hdrs and uri:
        full = uri if uri.startswith("http") else f"http://{hdrs['host']}{uri}"
        add(lay, "http.request.full_uri", f"[Full request URI: {full}]", full, None, None)
    if body is None:
        return True
    _body(ctx, tvb, lay, body, hdrs, parent)
    return True


def _header_children(hn: Node, key: str, value: str, voff: int, vend: int) -> None:
    if key == "content-length" and value.isdigit():
        add(hn, "http.content_length", f"[Content length: {int(value)}]", int(value), voff, vend - voff)
    elif key == "authorization" and value.lower().startswith("basic "):
        import base64
        import binascii
        try:
            cred = base64.b64decode(value[6:].strip(), validate=False).decode("latin-1")
        except (binascii.Error, ValueError):
            return
        add(hn, "http.authbasic", f"Credentials: {cred}", cred, voff, vend - voff)
    elif key == "cookie":
        for pair in value.split(";"):
            pair = pair.strip()
            if pair:
                add(hn, "http.cookie_pair", f"Cookie pair: {pair}", pair, voff, vend - voff)


def _dechunk(data: bytes) -> bytes | None:
    out, p = [], 0
    while True:
        nl = data.find(b"\r\n", p)
        if nl < 0:
            return None
        try:
            size = int(data[p:nl].split(b";")[0].strip() or b"x", 16)
        except ValueError:
            return None
        p = nl + 2
        if size == 0:
            return b"".join(out)
        if p + size > len(data):
            return None
        out.append(data[p:p + size])
        p += size + 2


def _body(ctx: Ctx, tvb: Tvb, lay: Node, body: int, hdrs: dict[str, str], parent: Node | None) -> None:
    d = ctx.data
    avail = d[body:tvb.cap_end]
    clen = hdrs.get("content-length")
    if clen is not None and clen.isdigit():
        avail = avail[:int(clen)]
    if not avail:
        return
    blen = len(avail)
    if "chunked" in hdrs.get("transfer-encoding", "").lower():
        dec = _dechunk(avail)
        if dec is not None:
            add(lay, "", "HTTP chunked response", None, body, blen)
            avail = dec
    enc = hdrs.get("content-encoding", "").lower()
    if enc in ("gzip", "deflate", "x-gzip"):
        try:
            wbits = 16 + zlib.MAX_WBITS if "gzip" in enc else zlib.MAX_WBITS
            dec = zlib.decompressobj(wbits).decompress(avail, 10_000_000)
            add(lay, "", f"Content-encoded entity body ({enc}): {len(avail)} bytes -> {len(dec)} bytes",
                None, body, blen)
            avail = dec
        except zlib.error:
            pass
    if not avail:
        return
    add(lay, "http.file_data", f"File Data: {len(avail)} bytes", avail, body, blen)
    ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
    dissect_media(ctx, avail, ctype, body, blen, parent)


def _http_port(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    # on an HTTP port, a segment that does not start a message is the middle of a body that
    # Wireshark keeps for reassembly: it shows no HTTP layer (and no Data layer either)
    dissect_http(ctx, tvb, parent)
    return True


def _http_heur(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    return dissect_http(ctx, tvb, parent)


def _ssdp(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    if not dissect_http(ctx, tvb, parent, proto="ssdp"):
        reg.data_layer(ctx, tvb, parent)
    return True


for _p in HTTP_TCP_PORTS:
    reg.TCP_PORT[_p] = _http_port
reg.TCP_HEUR.append(_http_heur)
reg.UDP_PORT[1900] = _ssdp
