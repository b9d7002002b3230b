"""How much of a TCP byte stream an application dissector takes, and how much more it wants.

Each scanner mirrors what tshark 4.0's dissector reports to TCP through ``desegment_offset`` and
``desegment_len``: it is given the bytes TCP hands it (one segment, or a reassembled PDU) and
returns ``(offset, need)``.  ``need == 0``: everything was dissected.  Otherwise the bytes from
``offset`` on start a PDU that is incomplete, and ``need`` is the number of bytes still missing,
ONE_MORE ("one more segment", the length is unknown) or UNTIL_FIN (an HTTP response without a
length: its body runs to the end of the connection).

Only lengths are computed here, never column text: that is the summary's job once the flow pass
has told it where PDUs start and end.
"""
from __future__ import annotations

import re

from app.core.summary.http import heuristic as http_heuristic  # noqa: F401 - tshark's rule

ONE_MORE = -1
UNTIL_FIN = -2

_EOL = re.compile(rb"[\r\n]")
_HEX = re.compile(rb"\s*(?:0[xX])?([0-9a-fA-F]+)")
_METHODS = frozenset((
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT", b"PATCH",
    b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"SEARCH",
    b"REPORT", b"CHECKOUT", b"CHECKIN", b"MERGE", b"MKACTIVITY", b"MKWORKSPACE",
    b"VERSION-CONTROL", b"BASELINE-CONTROL", b"UNCHECKOUT", b"LABEL", b"UPDATE", b"ACL",
    b"POLL", b"BMOVE", b"BCOPY", b"BDELETE", b"BPROPFIND", b"BPROPPATCH", b"NOTIFY",
    b"SUBSCRIBE", b"UNSUBSCRIBE", b"M-SEARCH", b"RPC_IN_DATA", b"RPC_OUT_DATA", b"MKCALENDAR",
    b"ORDERPATCH", b"SSTP_DUPLEX_POST",
))
_NO_BODY_METHODS = (b"CONNECT", b"SSTP_DUPLEX_POST")
MAX_CHUNK = 1 << 31


def line_end(buf, start: int) -> tuple[int, int]:
    """(line length, offset after the line end) like tvb_find_line_end with desegmentation:
    (-1, -1) when no line end is there yet (a CR at the very end may still be followed by LF)."""
    m = _EOL.search(buf, start)
    if m is None:
        return -1, -1
    i = m.start()
    if buf[i] == 13:
        if i + 1 >= len(buf):
            return -1, -1
        return i - start, (i + 2 if buf[i + 1] == 10 else i + 1)
    return i - start, i + 1


class HttpConversation:
    """What HTTP remembers across messages of a TCP connection (both directions)."""

    __slots__ = ("method", "seen")

    def __init__(self) -> None:
        self.method: bytes | None = None   # the latest request's method (HEAD has no body)
        self.seen = False                  # a complete request was dissected ("Continuation")


class ChunkState:
    """Where a chunked body's walk stopped (``pos``, counted from the message's first byte), so
    a longer reassembly resumes there instead of walking the whole body again (tshark keeps the
    same ``last_chunk_offset``)."""

    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


def start_line(line) -> tuple[bytes | None, int] | None:
    """(method, 0) for an HTTP request line, (None, status code) for a status line, else None."""
    if line[:5] == b"HTTP/":
        code = bytes(line[9:12]) if line[8:9] == b" " else b""
        return None, int(code) if code.isdigit() else 0
    space = line.find(b" ")
    method = bytes(line[:space] if space >= 0 else line)
    return (method, 0) if method in _METHODS else None


def http(buf, conv: HttpConversation, fin: bool, chunk: ChunkState | None = None,
         base: int = 0) -> tuple[int, int, ChunkState | None]:
    """HTTP over TCP: (offset, need, chunk state of an unfinished chunked first message).

    ``buf[0]`` is byte ``base`` of the data; base > 0 only when ``chunk`` says the message at
    offset 0 was read up to its chunked body before and its walk resumes at ``chunk.pos``."""
    n = base + len(buf)
    off = base
    if chunk is not None:
        pos, need = _chunks(buf, base, chunk.pos)
        if need:
            chunk.pos = pos
            return 0, need, chunk
        off = pos
    while off < n:
        begin = off
        if n - off > 3 and buf[off - base] == 13 and buf[off - base + 1] == 10:
            begin += 2            # a stray CRLF before a start line is skipped
        used, need, state = _message(buf, base, begin, conv, fin)
        if need:
            if state is not None:
                state.pos -= begin        # chunk states count from their message's start
            return begin, need, state
        if used <= 0:
            break
        off = begin + used
    return n, 0, None


def _message(buf, base: int, start: int, conv: HttpConversation,
             fin: bool) -> tuple[int, int, ChunkState | None]:
    """(bytes used, need, chunk state) for the message at ``start``; used 0 stops the loop."""
    n = base + len(buf)
    pos = start - base
    if not 32 <= buf[pos] < 127:
        return 0, 0, None     # binary data: HTTP gives up without asking for more
    stop = buf.find(b"\r\n\r\n", pos)
    if stop >= 0:
        block = buf[pos:stop + 2]
        lines = block.count(b"\r\n")
        # Start line and headers that all end in CRLF (the usual case) are read in one go.
        crlf = block.count(b"\n") == lines and block.count(b"\r") == lines
    else:
        crlf = False
    if crlf:
        length = block.find(b"\r\n")
        line = block[:length]
    elif stop < 0 and _crlf_only(buf, pos):
        # CRLF lines so far but no empty line yet: the headers are incomplete, unless the
        # first line is complete and no start line at all.
        length = buf.find(b"\r\n", pos) - pos
        if length < 0 or start_line(buf[pos:pos + length]) is not None:
            return 0, ONE_MORE, None
        return n - start, 0, None
    else:
        length, _ = line_end(buf, pos)
        if length < 0:
            return 0, ONE_MORE, None
        line = buf[pos:pos + length]
    kind = start_line(line)
    if kind is None:
        return n - start, 0, None           # "Continuation": the rest belongs to no message
    method, code = kind
    body = not fin
    if method is None and (conv.method == b"HEAD" or code // 100 == 1 or code in (204, 304)
                           or (code // 100 == 2 and conv.method in _NO_BODY_METHODS)):
        body = False
    content_length = None
    chunked = False
    if crlf:
        if body:
            low = block.lower()
            at = low.find(b"\r\ncontent-length:")
            while at >= 0:
                value = block[at + 17:block.find(b"\r\n", at + 17)].strip()
                if value.isdigit() and int(value) < 1 << 31:
                    content_length = int(value)
                at = low.find(b"\r\ncontent-length:", at + 17)
            at = low.find(b"\r\ntransfer-encoding:")
            while at >= 0 and not chunked:
                chunked = low[at + 20:at + 40].lstrip(b" \t")[:7] == b"chunked"
                at = low.find(b"\r\ntransfer-encoding:", at + 20)
        pos = stop + 4
    else:
        pos, content_length, chunked = _headers(buf, pos, body)
        if pos < 0:
            return 0, ONE_MORE, None
    end = pos + base
    if body and chunked:
        after, need = _chunks(buf, base, end)
        if need:
            return 0, need, ChunkState(after)
        end = after
    elif body and content_length is not None:
        have = n - end
        if have < content_length:
            return 0, content_length - have, None
        end += content_length
    elif body and method is None:
        return 0, UNTIL_FIN, None
    if method is not None:
        # HTTP reads the request line only once the whole message is there.
        conv.method = method
        conv.seen = True
    return end - start, 0, None


def _crlf_only(buf, pos: int) -> bool:
    """No line end from ``pos`` on is a lone CR or LF (a CR may still wait for its LF)."""
    tail = buf[pos:]
    pairs = tail.count(b"\r\n")
    return tail.count(b"\n") == pairs and tail.count(b"\r") - tail.endswith(b"\r") == pairs


def _headers(buf, pos: int, body: bool) -> tuple[int, int | None, bool]:
    """Line by line (any mix of CR, LF and CRLF): (offset after the empty line or -1 when it
    is not there yet, Content-Length, chunked)."""
    content_length = None
    chunked = False
    while True:
        if pos >= len(buf):
            return -1, None, False
        length, nxt = line_end(buf, pos)
        if length < 0:
            return -1, None, False
        if length == 0:
            return nxt, content_length, chunked
        if body and buf[pos] in b"cCtT":
            head = bytes(buf[pos:pos + 18]).lower()
            if head.startswith(b"content-length:"):
                value = bytes(buf[pos + 15:pos + length]).strip()
                if value.isdigit() and int(value) < 1 << 31:
                    content_length = int(value)
            elif head == b"transfer-encoding:":
                value = bytes(buf[pos + 18:pos + length]).lstrip(b" \t")
                chunked = chunked or value[:7].lower() == b"chunked"
        pos = nxt


def _chunks(buf, base: int, pos: int) -> tuple[int, int]:
    """Walk chunks from ``pos``: (offset after the last chunk, 0) or (where to resume, ONE_MORE).

    Follows req_resp_hdrs_do_reassembly, including its test of the bytes left from the start of
    the chunk-size line (not from the chunk data) against the chunk size."""
    n = base + len(buf)
    while True:
        if n - pos < 1:
            return pos, ONE_MORE
        length, nxt = line_end(buf, pos - base)
        if length < 0:
            return pos, ONE_MORE
        m = _HEX.match(bytes(buf[pos - base:pos - base + length]).split(b";")[0])
        if m is None:
            return n, 0
        size = int(m.group(1), 16)
        if size > MAX_CHUNK:
            return n, 0
        if size == 0:
            length, after = line_end(buf, nxt)
            if length < 0:
                return pos, ONE_MORE
            return after + base, 0
        if n - pos > size:
            pos = nxt + base + size + 2
        else:
            return pos, ONE_MORE


def tls(buf, strict: bool = True) -> tuple[int, int]:
    """TLS records: the first incomplete record and the bytes it still needs.

    strict: the session version is not yet known (or is TLS 1.3), so a record must also carry
    an SSLv3..TLS 1.2 record version to be taken as one; otherwise only the content type counts.
    Anything that is no record is "Continuation Data" and ends the walk."""
    n = len(buf)
    off = 0
    while off < n:
        if n - off < 5:
            return off, ONE_MORE
        if not 20 <= buf[off] <= 24 or (strict and not (buf[off + 1] == 3 and buf[off + 2] <= 3)):
            return n, 0
        size = 5 + ((buf[off + 3] << 8) | buf[off + 4])
        if n - off < size:
            return off, size - (n - off)
        off += size
    return n, 0


def length_prefixed(buf) -> tuple[int, int]:
    """Messages with a 2-byte length prefix (DNS over TCP, tcp_dissect_pdus with fixed_len 2)."""
    n = len(buf)
    off = 0
    while off < n:
        if n - off < 2:
            return off, ONE_MORE
        size = 2 + ((buf[off] << 8) | buf[off + 1])
        if n - off < size:
            return off, size - (n - off)
        off += size
    return n, 0


class SmtpConversation:
    """SMTP command state: the client's message text after DATA is not line-reassembled."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = False


def smtp(buf, request: bool, conv: SmtpConversation) -> tuple[int, int]:
    """SMTP commands and replies are whole lines: a last line without its end waits for more.
    The mail text after DATA (up to the "." line) is reassembled by SMTP itself, not by TCP."""
    n = len(buf)
    off = 0
    while off < n:
        if request and conv.data:
            end = buf.find(b"\r\n.\r\n", max(0, off - 2))
            if end < 0:
                return n, 0
            conv.data = False
            off = end + 5
            continue
        length, nxt = line_end(buf, off)
        if length < 0:
            return off, ONE_MORE
        if request and bytes(buf[off:off + length]).strip().upper() == b"DATA":
            conv.data = True
        off = nxt
    return n, 0
