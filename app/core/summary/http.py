"""HTTP (and SSDP, OCSP over HTTP) in the packet list.

Info is the request/response line plus a space ("GET / HTTP/1.1 "), then what the body's media
type dissector appends: " (text/html)", " (PNG)", ", JavaScript Object Notation
(application/json)"; XML and JSON bodies turn the Protocol into "HTTP/XML" / "HTTP/JSON", OCSP
bodies into "OCSP".  Data on an HTTP port that is not a message start is "Continuation".
"""
from __future__ import annotations

import zlib

from .columns import Cols

METHODS = (
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
    "CHECKOUT", "CHECKIN", "MERGE", "MKACTIVITY", "MKWORKSPACE", "VERSION-CONTROL",
    "BASELINE-CONTROL", "UNCHECKOUT", "LABEL", "UPDATE", "ACL", "POLL", "BMOVE", "BCOPY",
    "BDELETE", "BPROPFIND", "BPROPPATCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "M-SEARCH",
    "RPC_IN_DATA", "RPC_OUT_DATA", "MKCALENDAR", "ORDERPATCH", "SSTP_DUPLEX_POST",
)
REQUEST_PREFIXES: tuple[bytes, ...] = tuple(m.encode() + b" " for m in METHODS)

# Media types handled by Wireshark 4.0's "Line-based text data" dissector.
TEXT_LINES = {
    "text/plain", "text/richtext", "text/enriched", "text/parameters", "text/html",
    "text/html-sandboxed", "text/xml-external-parsed-entity", "text/css", "text/javascript",
    "application/xml-external-parsed-entity", "application/x-javascript",
    "application/x-tia-p25-issi", "application/x-tia-p25-sndcp",
    "application/x-ns-proxy-autoconfig", "text/vnd.sun.j2me.app-descriptor",
    "application/vnd.poc.refer-to", "application/vnd.drm.message",
    "application/x-wms-logplaystats", "application/x-rtsp-udp-packetpair",
}
XML_TYPES = {
    "text/xml", "application/xml", "application/soap+xml", "application/xhtml+xml",
    "application/atom+xml", "application/rss+xml", "application/rdf+xml", "image/svg+xml",
    "application/xslt+xml", "application/auth-policy+xml", "application/pidf+xml",
    "application/reginfo+xml", "application/xcap-el+xml", "application/xcap-att+xml",
    "application/xcap-error+xml", "application/xcap-caps+xml", "application/xcap-diff+xml",
    "application/xcap-ns+xml", "application/resource-lists+xml", "application/rls-services+xml",
    "application/dialog-info+xml", "application/conference-info+xml", "application/watcherinfo+xml",
    "application/simple-filter+xml", "application/cpim-pidf+xml", "application/mathml+xml",
    "application/vnd.wv.csp+xml", "application/voicexml+xml", "application/ccxml+xml",
    "application/cpl+xml", "application/epp+xml", "application/rlmi+xml", "application/poc-settings+xml",
    "application/vnd.ms-sync.wbxml", "application/xcon-conference-info+xml",
}
JSON_TYPES = {
    "application/json", "application/json-rpc", "application/jsonrequest", "application/x-json",
    "application/vnd.oma.lwm2m+json", "application/dds-web+json", "application/geo+json",
    "application/vnd.api+json", "application/problem+json", "application/activity+json",
}


def has_first_line(data: bytes) -> bool:
    """HTTP only writes the columns once the request/response line is complete."""
    return b"\n" in data


def heuristic(data: bytes) -> bool:
    """tshark's HTTP heuristic on a TCP payload of a port no dissector claims: a complete
    first line that starts or ends with "HTTP/1." and a digit (case-insensitive), other than
    exactly that 8-byte version."""
    end = data.find(b"\n")
    cr = data.find(b"\r")
    if 0 <= cr < end or end < 0 <= cr < len(data) - 1:
        end = cr
    if end < 0 or end == 8:
        return False
    return (data[:7].lower() == b"http/1."
            or end > 8 and data[end - 8:end - 1].lower() == b"http/1.")


def looks_like_http(data: bytes) -> bool:
    """Wireshark's is_http_request_or_reply on the first line."""
    if data.startswith(b"HTTP/"):
        return len(data) > 8 and data[5:6].isdigit()
    if not data.startswith(REQUEST_PREFIXES):
        return False
    end = data.find(b"\n")
    line = data[:end if end >= 0 else len(data)]
    return b" " in line


def first_line(data: bytes) -> str:
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    return line.rstrip(b"\r").decode("latin-1")


def wants_more_segments(head: bytes) -> bool:
    """Did HTTP ask TCP for "one more segment" after seeing these first bytes of a message?
    That is the case while the headers are incomplete and for chunked bodies (whose length is
    unknown), but not when Content-Length gives the exact amount still missing."""
    end = head.find(b"\r\n\r\n")
    if end < 0 and head.find(b"\n\n") < 0:
        return True
    headers = _headers(head[:end if end >= 0 else head.find(b"\n\n")])
    return ("content-length" not in headers
            and "chunked" in headers.get("transfer-encoding", "").lower())


def http_tcp(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    """HTTP registered on a port: claims everything (non-message data is a Continuation once
    the connection carried a request, TcpContext.http_seen)."""
    tctx = ctx.tcp
    seen = tctx is not None and tctx.http_seen is not False
    start = 2 if len(data) > 3 and data[:2] == b"\r\n" else 0
    if data[start:start + 1] and not 32 <= data[start] < 127:
        # Binary data: HTTP does not wait for a line end, and calls it a Continuation only
        # when it knows a request went before (unknown: most likely the middle of a body).
        if tctx is not None and tctx.http_seen:
            _continuation(c)
        return True
    if not has_first_line(data):
        # Not even one line: tshark's HTTP waits for more data and the frame stays plain TCP
        # (no "data" either).
        return True
    if looks_like_http(data[start:] if tctx is not None else data):
        return http_message_list(c, data, ctx)
    # Without flow knowledge a non-message payload is most likely the middle of a reassembled
    # body, which tshark shows as plain TCP; "Continuation" needs the reassembly to know the
    # data really is outside any PDU.
    if seen:
        _continuation(c)
    return True


def _continuation(c: Cols) -> None:
    c.add("http")
    c.set_protocol("HTTP")
    c.set_info("Continuation")
    c.add("data")


def http_message_list(c: Cols, data: bytes, ctx, proto: str = "HTTP", layer: str = "http") -> bool:
    """The messages of a TCP payload (or reassembled PDU).  With flow knowledge (ctx.tcp), as
    tshark: a CRLF before a start line is skipped, and of a message that TCP still has to
    complete (TcpContext.pdu_tail) only the first line is shown."""
    tctx = getattr(ctx, "tcp", None)
    tail = tctx.pdu_tail if tctx is not None else None
    off = 0
    first = True
    while off < len(data):
        if tctx is not None and len(data) - off > 3 and data[off:off + 2] == b"\r\n":
            off += 2
        if not first:
            if not looks_like_http(data[off:]):
                break
            # a fence keeps the first message's text; later messages append after it
            c.set_fence()
        if tail is not None and off >= tail:
            if has_first_line(data[off:]) and looks_like_http(data[off:]):
                c.set_info(first_line(data[off:]) + " ")
            break
        used = _message(c, data[off:], proto, layer)
        first = False
        if used <= 0:
            break
        off += used
    return True


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in block.split(b"\n")[1:]:
        name, sep, value = raw.partition(b":")
        if sep:
            headers.setdefault(name.strip().lower().decode("latin-1"),
                               value.strip().decode("latin-1"))
    return headers


def _message(c: Cols, data: bytes, proto: str, layer: str) -> int:
    """One HTTP message; returns the bytes it used (all of them when its end is unknown)."""
    c.add(layer)
    c.set_protocol(proto)
    line = first_line(data)
    c.set_info(line + " ")
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = data.find(b"\n\n"), 2
    if end < 0:
        return len(data)
    headers = _headers(data[:end])
    body = data[end + sep:]
    length = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    is_response = line.startswith("HTTP/")
    if length is not None and length.strip().isdigit():
        body = body[:int(length)]
        used = end + sep + len(body)
    elif chunked:
        body, consumed = _dechunk(body)
        used = end + sep + consumed
    elif not is_response or line.split(" ")[1:2] in (["204"], ["304"]):
        # requests without a length have no body; so have 204/304 responses
        body = b""
        used = end + sep
    else:
        used = len(data)
    if body:
        encoding = headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate", "x-gzip"):
            try:
                body = zlib.decompressobj(47 if encoding != "deflate" else 15).decompress(body)
            except zlib.error:
                pass
        if is_response and line.split(" ")[1:2] == ["206"]:
            c.add("data")      # a byte range is not a document of the content type
        else:
            _media(c, headers.get("content-type"), body)
    return used


def _dechunk(body: bytes) -> tuple[bytes, int]:
    out = bytearray()
    off = 0
    while True:
        eol = body.find(b"\r\n", off)
        if eol < 0:
            return bytes(out), len(body)
        size_text = body[off:eol].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), len(body)
        off = eol + 2
        if size == 0:
            end = body.find(b"\r\n\r\n", off - 2)
            return bytes(out), (end + 4 if end >= 0 else len(body))
        out += body[off:off + size]
        off += size + 2
        if off > len(body):
            return bytes(out), len(body)


def _media(c: Cols, content_type: str | None, body: bytes) -> None:
    if content_type is None:
        c.add("data")
        return
    mt = content_type.split(";")[0].strip().lower()
    if mt in TEXT_LINES:
        c.add("data-text-lines")
        if len(body) > 38 and body[:5].lower() == b"<?xml":
            # the text-lines dissector hands XML documents to the XML dissector
            c.add("xml")
            c.set_protocol(c.protocol + "/XML")
        else:
            c.append_sep(" ", f"({mt})")
    elif mt in XML_TYPES or (mt.endswith("+xml") and mt not in JSON_TYPES):
        c.add("xml")
        c.set_protocol(c.protocol + "/XML")
    elif mt in JSON_TYPES or mt.endswith("+json"):
        c.add("json")
        c.set_protocol(c.protocol + "/JSON")
        c.append_sep(", ", f"JavaScript Object Notation ({mt})")
    elif mt == "image/gif" and body[:6] in (b"GIF87a", b"GIF89a"):
        c.add("image-gif")
        c.append_info(f" ({body[:6].decode()})")
    elif mt in ("image/jpeg", "image/jpg", "image/pjpeg", "image/jfif") and body[:4] == b"\xff\xd8\xff\xe0":
        c.add("image-jfif")
        c.append_info(" (JPEG JFIF image)")
    elif mt == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n":
        c.add("png")
        c.append_info(" (PNG)")
    elif mt == "application/ocsp-request":
        c.add("ocsp")
        c.set_protocol("OCSP")
        c.set_info("Request")
    elif mt == "application/ocsp-response":
        c.add("ocsp")
        c.add("ocsp")
        c.set_protocol("OCSP")
        c.set_info("Response")
    elif mt == "application/x-www-form-urlencoded":
        c.add("urlencoded-form")
        c.append_info(f" ({mt})")
    elif mt == "application/octet-stream":
        c.add("data")          # handed to the data dissector, which adds nothing to Info
    else:
        c.add("media")
        c.append_info(f" ({mt})")


def ssdp(c: Cols, data: bytes) -> bool:
    """SSDP is HTTP over UDP/1900, named SSDP in the columns."""
    if not looks_like_http(data):
        c.add("ssdp")
        c.set_protocol("SSDP")
        c.set_info("Continuation")
        return True
    _message(c, data, "SSDP", "ssdp")
    return True
