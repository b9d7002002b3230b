"""TLS records, IETF QUIC and Google QUIC headers in the packet list.

TLS Info lists the records of the frame ("Client Hello", "Change Cipher Spec, Encrypted
Handshake Message", "Application Data, Application Data"); the Protocol is the TLS version
("TLSv1.2"), taken from the connection's negotiated version when the per-flow pass knows it
(TcpContext.tls_version, see negotiated_version) and otherwise from the record layer.
QUIC packets are summarised from their headers only: Initial packets would need decryption for
the packet number and frame list tshark shows (not done here).
"""
from __future__ import annotations

from .columns import Cols

VERSIONS = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1",
            0x0303: "TLSv1.2", 0x0304: "TLSv1.3", 0xFEFF: "DTLSv1.0", 0xFEFD: "DTLSv1.2"}
HANDSHAKE = {
    0: "Hello Request", 1: "Client Hello", 2: "Server Hello", 3: "Hello Verify Request",
    4: "New Session Ticket", 5: "End of Early Data", 6: "Hello Retry Request",
    8: "Encrypted Extensions", 11: "Certificate", 12: "Server Key Exchange",
    13: "Certificate Request", 14: "Server Hello Done", 15: "Certificate Verify",
    16: "Client Key Exchange", 20: "Finished", 21: "Certificate URL", 22: "Certificate Status",
    23: "Supplemental Data", 24: "Key Update", 25: "Compressed Certificate", 67: "Next Protocol",
}
ALERT_LEVELS = {1: "Warning", 2: "Fatal"}
ALERTS = {0: "Close Notify", 10: "Unexpected Message", 20: "Bad Record MAC",
          21: "Decryption Failed", 22: "Record Overflow", 30: "Decompression Failure",
          40: "Handshake Failure", 41: "No Certificate", 42: "Bad Certificate",
          43: "Unsupported Certificate", 44: "Certificate Revoked", 45: "Certificate Expired",
          46: "Certificate Unknown", 47: "Illegal Parameter", 48: "Unknown CA",
          49: "Access Denied", 50: "Decode Error", 51: "Decrypt Error", 60: "Export Restriction",
          70: "Protocol Version", 71: "Insufficient Security", 80: "Internal Error",
          86: "Inappropriate Fallback", 90: "User Canceled", 100: "No Renegotiation",
          109: "Missing Extension", 110: "Unsupported Extension", 112: "Unrecognized Name",
          113: "Bad Certificate Status Response", 115: "Unknown PSK Identity",
          116: "Certificate Required", 120: "No application protocol"}


def starts_record(data: bytes) -> bool:
    """Does data begin with a plausible TLS record header?"""
    return (len(data) >= 5 and 20 <= data[0] <= 24 and data[1] == 3 and data[2] <= 4)


def negotiated_version(data: bytes) -> int | None:
    """The version a Server Hello in these records selects (supported_versions wins), else None.

    A per-flow pass calls this on server-to-client payloads and passes the result on as
    TcpContext.tls_version for the rest of the connection."""
    off = 0
    while off + 5 <= len(data) and starts_record(data[off:]):
        rlen = int.from_bytes(data[off + 3:off + 5], "big")
        body = data[off + 5:off + 5 + rlen]
        if data[off] == 22 and len(body) >= 38 and body[0] == 2:
            version = int.from_bytes(body[4:6], "big")
            p = 38
            sid_len = body[p]
            p += 1 + sid_len + 3                       # session id, cipher, compression
            if p + 2 <= len(body):
                ext_end = min(len(body), p + 2 + int.from_bytes(body[p:p + 2], "big"))
                p += 2
                while p + 4 <= ext_end:
                    etype = int.from_bytes(body[p:p + 2], "big")
                    elen = int.from_bytes(body[p + 2:p + 4], "big")
                    if etype == 43 and elen == 2:
                        return int.from_bytes(body[p + 4:p + 6], "big")
                    p += 4 + elen
            return version
        off += 5 + rlen
    return None


def tls(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    if len(data) > 4 and all(32 <= b < 127 for b in data[:4]):
        return False      # tshark: four printable characters are no TLS, but plain text
    tctx = ctx.tcp
    if tctx is None and not starts_record(data):
        return True       # most likely the middle of a record: plain TCP in tshark, see http_tcp
    c.add("tls")
    c.clear_info()
    session = tctx.tls_version if tctx is not None else None
    if session is None:
        session = negotiated_version(data)
    # Bytes before `carried` came from earlier segments: TCP hands the first (reassembled)
    # record to TLS alone and the rest of the segment in a second call ("tls:tls").
    carried = getattr(ctx, "carried", 0)
    off = 0
    records = 0
    after_ccs = False
    while off + 5 <= len(data):
        if not starts_record(data[off:]):
            if records == 0:
                c.set_protocol(VERSIONS.get(session, "TLS"))
                c.append_sep(", ", "Continuation Data")
            break
        ctype = data[off]
        version = int.from_bytes(data[off + 1:off + 3], "big")
        rlen = int.from_bytes(data[off + 3:off + 5], "big")
        body = data[off + 5:off + 5 + rlen]
        if len(body) < rlen and records:
            break                   # the rest is reassembled with a later segment
        records += 1
        c.set_protocol(VERSIONS.get(session or version, "TLS"))
        for text in _record_texts(ctype, body, rlen, after_ccs):
            c.append_sep(", ", text)
        after_ccs = after_ccs or ctype == 20
        first_end = off + 5 + rlen
        if carried and off < carried <= first_end and first_end < len(data):
            c.add("tls")
        off = first_end
    if records == 0 and len(data) < 5:
        c.set_protocol(VERSIONS.get(session, "TLS"))
        c.append_sep(", ", "Continuation Data")
    return True


def _record_texts(ctype: int, body: bytes, rlen: int, after_ccs: bool) -> list[str]:
    if ctype == 20:
        return ["Change Cipher Spec"]
    if ctype == 23:
        return ["Application Data"]
    if ctype == 21:
        if rlen == 2 and len(body) == 2:
            level = ALERT_LEVELS.get(body[0], f"Unknown ({body[0]})")
            desc = ALERTS.get(body[1], f"Unknown ({body[1]})")
            return [f"Alert (Level: {level}, Description: {desc})"]
        return ["Encrypted Alert"]
    if ctype == 24:
        return ["Heartbeat Request" if body[:1] == b"\x01" else
                "Heartbeat Response" if body[:1] == b"\x02" else "Encrypted Heartbeat"]
    # Handshake: after Change Cipher Spec, or when a message type is unknown or its length
    # overruns the record, the message is encrypted (a Finished).
    if after_ccs:
        return ["Encrypted Handshake Message"]
    texts = []
    p = 0
    while p + 4 <= rlen:
        mtype = body[p] if p < len(body) else -1
        mlen = int.from_bytes(body[p + 1:p + 4], "big")
        name = HANDSHAKE.get(mtype)
        if name is None or p + 4 + mlen > rlen:
            if not texts:
                texts.append("Encrypted Handshake Message")
            break
        texts.append(name)
        p += 4 + mlen
    return texts or ["Encrypted Handshake Message"]


# -- QUIC -------------------------------------------------------------------------------------
_LONG_TYPES_V1 = {0: "Initial", 1: "0-RTT", 2: "Handshake", 3: "Retry"}


def _varint(data: bytes, p: int) -> tuple[int, int]:
    first = data[p]
    size = 1 << (first >> 6)
    value = first & 0x3F
    for b in data[p + 1:p + size]:
        value = (value << 8) | b
    if p + size > len(data):
        raise IndexError("varint cut short")
    return value, p + size


def quic_connection_ids(data: bytes) -> tuple[bytes, bytes] | None:
    """(DCID, SCID) of an IETF QUIC long-header packet, else None.  A per-flow pass records
    each endpoint's SCID length and passes it as FrameContext.quic_dcid_len for packets sent to
    that endpoint."""
    if len(data) < 7 or not data[0] & 0x80 or data[1:3] == b"Q0":
        return None
    p = 5
    dcid = data[p + 1:p + 1 + data[p]]
    p += 1 + data[p]
    scid = data[p + 1:p + 1 + data[p]] if p < len(data) else b""
    return dcid, scid


def quic(c: Cols, data: bytes, ctx) -> bool:
    """IETF QUIC or Google QUIC over UDP.  Like tshark, a packet is recognised by a long
    header (or a gQUIC header carrying a version); short-header packets only when an earlier
    packet identified the conversation (FrameContext.conversation)."""
    if len(data) < 5:
        return False
    frame = ctx.frame
    conversation = frame.conversation if frame is not None else None
    first = data[0]
    if conversation == "gquic" or data[1:3] == b"Q0" and first & 0x80 or _gquic_public(data):
        return gquic(c, data)
    if first & 0x80:
        if conversation != "quic" and not _known_version(data[1:5]):
            return False
        _quic_packets(c, data, frame)
        return True
    if first & 0x40 and conversation == "quic":
        c.add("quic")
        c.set_protocol("QUIC")
        dcid_len = frame.quic_dcid_len if frame is not None else None
        _short_header(c, data, dcid_len)
        return True
    return False


def _quic_packets(c: Cols, data: bytes, frame) -> None:
    """Coalesced packets of one datagram; as in tshark the last one sets the Info text."""
    c.add("quic")
    c.set_protocol("QUIC")
    p = 0
    dcid = b""
    while p < len(data):
        first = data[p]
        if not first & 0x80:
            _short_header(c, data[p:], len(dcid) if p else
                          (frame.quic_dcid_len if frame is not None else None))
            return
        version = int.from_bytes(data[p + 1:p + 5], "big")
        q = p + 5
        dcid = data[q + 1:q + 1 + data[q]]
        q += 1 + data[q]
        scid = data[q + 1:q + 1 + data[q]]
        q += 1 + data[q]
        if version == 0:
            c.set_info("Version Negotiation")
            return
        kind = (first >> 4) & 0x3
        text = _LONG_TYPES_V1.get(kind, "Long Header")
        if dcid:
            text += f", DCID={dcid.hex()}"
        if scid:
            text += f", SCID={scid.hex()}"
        c.set_info(text)
        if kind == 3:
            return                                   # Retry runs to the end of the datagram
        if kind == 0:
            token_len, q = _varint(data, q)
            q += token_len
        length, q = _varint(data, q)
        p = q + length


def _known_version(v: bytes) -> bool:
    # v1, v2, the IETF drafts (0xff0000xx), version negotiation, and the 0x?a?a?a?a greasing
    return (v in (b"\x00\x00\x00\x01", b"\x6b\x33\x43\xcf", b"\x00\x00\x00\x00")
            or v[:3] == b"\xff\x00\x00" or (len(v) == 4 and all(b & 0x0F == 0x0A for b in v)))


def _short_header(c: Cols, data: bytes, dcid_len: int | None) -> None:
    # The key-phase bit is under header protection, which needs the connection's keys to
    # remove; key updates are rare, so phase 0 is shown.
    text = "Protected Payload (KP0)"
    if dcid_len:
        text += f", DCID={data[1:1 + dcid_len].hex()}"
    c.set_info(text)


def _gquic_public(data: bytes) -> bool:
    # Google QUIC public header: 0x01 = version ("Q0xx") follows, 0x08 = 8-byte connection ID
    flags = data[0]
    return bool(flags & 0x01 and flags & 0x08 and data[9:11] == b"Q0")


def gquic(c: Cols, data: bytes) -> bool:
    flags = data[0]
    p = 1
    cid = None
    if flags & 0x08:
        cid_bytes = data[p:p + 8]
        p += 8
    version = b""
    if flags & 0x01:
        version = data[p:p + 4]
        p += 4
    little = not version or version < b"Q043"
    if flags & 0x08:
        cid = int.from_bytes(cid_bytes, "little" if little else "big")
    pkn_len = {0x00: 1, 0x10: 2, 0x20: 4, 0x30: 6}[flags & 0x30]
    pkn = int.from_bytes(data[p:p + pkn_len], "little" if version < b"Q039" else "big")
    c.add("gquic")
    c.set_protocol("GQUIC")
    head = data[p:p + 64]
    message = ("Client Hello" if b"CHLO" in head else "Rejection" if b"REJ\x00" in head
               else "Server Hello" if b"SHLO" in head else "Payload (Encrypted)")
    text = f"{message}, PKN: {pkn}"
    if cid is not None:
        text += f", CID: {cid}"
    c.set_info(text)
    return True
