"""Captures whose packets carry HTML and JavaScript in every field a view shows, written by hand.

Every payload, if it ever ran, would set ``window.__pwned`` (or the document title to PWNED, or
open a dialog), so a browser can prove that none did. The bytes are built with ``struct`` (no
Scapy), as a stranger's packets would arrive: an HTTP request with markup in the URI, headers and
body and its response, DNS query names, a TLS ClientHello's server name, ARP and ICMP payloads,
a UDP payload, and a pcapng file with markup in its section, interface and packet comments and
interface name.
"""
from __future__ import annotations

import struct

# Each payload is complete markup that runs script when parsed as HTML (or as an attribute
# breakout); none contains a '.', so each fits a single DNS label.
PAYLOADS = (
    "<script>__pwned=1;document['title']='PWNED'</script>",
    "<img src=x onerror=__pwned=2;alert(2)>",
    "<svg/onload=__pwned=3>",
    '"><script>__pwned=4</script>',
    "'><img src=x onerror=__pwned=5>",
    "</title></textarea><script>__pwned=6</script>",
    "<iframe srcdoc='<script>parent[`__pwned`]=7</script>'></iframe>",
    "<a id=pwn hx-get=/api/captures hx-trigger=load hx-on::after-request=__pwned=8>x</a>",
)
# Fragments that must never appear unescaped in an HTML page (the start of each element).
MARKUP = ("<script>__pwned", "<img src=x onerror", "<svg/onload", "<iframe srcdoc", "<a id=pwn")
# No '/' in it: an uploaded name keeps only what follows the last one.
FILE_NAME = "<img src=x onerror=__pwned=9>\"'<svg onload=__pwned=10>.pcapng"

CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")
CLIENT_IP = bytes([10, 0, 0, 1])
SERVER_IP = bytes([10, 0, 0, 2])


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int = 1) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + payload


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"",
        src: bytes = CLIENT_IP, dst: bytes = SERVER_IP) -> bytes:
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(header) + len(payload))
    csum = _checksum(pseudo + header + payload)
    return header[:16] + struct.pack("!H", csum) + header[18:] + payload


def udp(sport: int, dport: int, payload: bytes, src: bytes = CLIENT_IP, dst: bytes = SERVER_IP) -> bytes:
    header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(header) + len(payload))
    return header[:6] + struct.pack("!H", _checksum(pseudo + header + payload) or 0xFFFF) + payload


def _c2s_tcp(seq: int, ack: int, flags: int, payload: bytes = b"", sport: int = 40000, dport: int = 80) -> bytes:
    return ether(SERVER_MAC, CLIENT_MAC, 0x0800, ipv4(CLIENT_IP, SERVER_IP, 6, tcp(sport, dport, seq, ack, flags, payload)))


def _s2c_tcp(seq: int, ack: int, flags: int, payload: bytes = b"", sport: int = 80, dport: int = 40000) -> bytes:
    return ether(CLIENT_MAC, SERVER_MAC, 0x0800,
                 ipv4(SERVER_IP, CLIENT_IP, 6, tcp(sport, dport, seq, ack, flags, payload, SERVER_IP, CLIENT_IP)))


def http_exchange() -> list[bytes]:
    """A whole HTTP connection: handshake, request and response full of markup, and the close."""
    p = PAYLOADS
    body = ("name=" + p[0] + "&x=" + p[2]).encode()
    request = (
        f"POST /{p[0]}?q={p[1]} HTTP/1.1\r\n"
        f"Host: {p[2]}\r\n"
        f"User-Agent: {p[3]}\r\n"
        f"Referer: {p[4]}\r\n"
        f"Cookie: a={p[5]}\r\n"
        f"X-Evil: {p[7]}\r\n"
        "Content-Type: text/html\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    page = f"<html><head><title>{p[5]}</title></head><body>{p[0]}{p[1]}{p[6]}</body></html>".encode()
    response = (
        f"HTTP/1.1 200 {p[1]}\r\n"
        f"Server: {p[0]}\r\n"
        f"Location: javascript:__pwned=11\r\n"
        "Content-Type: text/html\r\n"
        f"Content-Length: {len(page)}\r\n\r\n"
    ).encode() + page
    c, s = 1000, 5000
    return [
        _c2s_tcp(c, 0, 0x02),
        _s2c_tcp(s, c + 1, 0x12),
        _c2s_tcp(c + 1, s + 1, 0x10),
        _c2s_tcp(c + 1, s + 1, 0x18, request),
        _s2c_tcp(s + 1, c + 1 + len(request), 0x18, response),
        _c2s_tcp(c + 1 + len(request), s + 1 + len(response), 0x11),
        _s2c_tcp(s + 1 + len(response), c + 2 + len(request), 0x11),
        _c2s_tcp(c + 2 + len(request), s + 2 + len(response), 0x10),
    ]


def dns_name(labels: list[str]) -> bytes:
    out = b""
    for label in labels:
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def dns_query_and_answer() -> list[bytes]:
    labels = [PAYLOADS[1], PAYLOADS[2], "example"]
    question = dns_name(labels) + struct.pack("!HH", 1, 1)
    query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + question
    # The answer is a CNAME whose target is markup too, then a TXT record of markup.
    cname = dns_name([PAYLOADS[0].replace(".", ""), "example"])
    txt = PAYLOADS[5].encode()
    answer = (struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 2, 0, 0) + question
              + b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, len(cname)) + cname
              + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(txt) + 1) + bytes([len(txt)]) + txt)
    return [
        ether(SERVER_MAC, CLIENT_MAC, 0x0800, ipv4(CLIENT_IP, SERVER_IP, 17, udp(53000, 53, query), 2)),
        ether(CLIENT_MAC, SERVER_MAC, 0x0800,
              ipv4(SERVER_IP, CLIENT_IP, 17, udp(53, 53000, answer, SERVER_IP, CLIENT_IP), 3)),
    ]


def tls_client_hello() -> list[bytes]:
    sni = f"{PAYLOADS[0]}{PAYLOADS[1]}.example".encode()
    server_name = struct.pack("!HBH", len(sni) + 3, 0, len(sni)) + sni
    alpn_name = PAYLOADS[2].encode()
    alpn = struct.pack("!HB", len(alpn_name) + 1, len(alpn_name)) + alpn_name
    extensions = (struct.pack("!HH", 0, len(server_name)) + server_name
                  + struct.pack("!HH", 16, len(alpn)) + alpn)
    hello = (struct.pack("!H", 0x0303) + bytes(range(32)) + b"\x00" + struct.pack("!HH", 2, 0x1301)
             + b"\x01\x00" + struct.pack("!H", len(extensions)) + extensions)
    handshake = b"\x01" + struct.pack("!I", len(hello))[1:] + hello
    record = b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake
    c, s = 7000, 9000
    return [
        _c2s_tcp(c, 0, 0x02, sport=40001, dport=443),
        _s2c_tcp(s, c + 1, 0x12, sport=443, dport=40001),
        _c2s_tcp(c + 1, s + 1, 0x10, sport=40001, dport=443),
        _c2s_tcp(c + 1, s + 1, 0x18, record, sport=40001, dport=443),
    ]


def arp_and_icmp() -> list[bytes]:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, CLIENT_MAC, CLIENT_IP, b"\0" * 6, SERVER_IP)
    arp += PAYLOADS[6].encode()  # a trailer after the ARP message
    echo_data = (PAYLOADS[0] + PAYLOADS[3]).encode()
    echo = struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + echo_data
    echo = echo[:2] + struct.pack("!H", _checksum(echo)) + echo[4:]
    junk = (PAYLOADS[7] + PAYLOADS[4]).encode()
    return [
        ether(b"\xff" * 6, CLIENT_MAC, 0x0806, arp),
        ether(SERVER_MAC, CLIENT_MAC, 0x0800, ipv4(CLIENT_IP, SERVER_IP, 1, echo, 4)),
        ether(SERVER_MAC, CLIENT_MAC, 0x0800, ipv4(CLIENT_IP, SERVER_IP, 17, udp(41000, 9999, junk), 5)),
    ]


def frames() -> list[bytes]:
    return http_exchange() + dns_query_and_answer() + tls_client_hello() + arp_and_icmp()


def pcap() -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for n, frame in enumerate(frames()):
        out.append(struct.pack("<IIII", 1_700_000_000 + n, 1000 * n, len(frame), len(frame)) + frame)
    return b"".join(out)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def _option(code: int, value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("<HH", code, len(raw)) + raw + b"\0" * (-len(raw) % 4)


def pcapng() -> bytes:
    """The same packets in pcapng, with markup in every comment and in the interface's names."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(1, PAYLOADS[0]) + _option(2, PAYLOADS[1])
    shb += _option(3, PAYLOADS[2]) + _option(4, PAYLOADS[3]) + _option(0, b"")
    idb = (struct.pack("<HHI", 1, 0, 262144) + _option(2, PAYLOADS[4]) + _option(3, PAYLOADS[5])
           + _option(9, b"\x06") + _option(0, b""))
    out = [_block(0x0A0D0D0A, shb), _block(1, idb)]
    for n, frame in enumerate(frames()):
        ts = (1_700_000_000 + n) * 1_000_000 + 1000 * n
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
        body += frame + b"\0" * (-len(frame) % 4)
        body += _option(1, PAYLOADS[n % len(PAYLOADS)]) + _option(0, b"")
        out.append(_block(6, body))
    return b"".join(out)
