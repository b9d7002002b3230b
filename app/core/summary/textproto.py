"""Line-oriented application protocols in the packet list: FTP, SMTP, SSH and SIP (with SDP)."""
from __future__ import annotations

from .columns import Cols

SIP_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
               "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE")
SIP_PREFIXES: tuple[bytes, ...] = tuple(m.encode() + b" sip" for m in SIP_METHODS) + (
    tuple(m.encode() + b" tel:" for m in SIP_METHODS) + (b"SIP/2.0 ",))


def _lines(data: bytes) -> list[str]:
    return [ln.rstrip("\r") for ln in data.decode("latin-1").split("\n")]


def ftp(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    c.add("ftp")
    c.set_protocol("FTP")
    line = _lines(data)[0]
    c.set_info(f"{'Request' if dport == 21 else 'Response'}: {line}")
    return True


def smtp(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    c.add("smtp")
    c.set_protocol("SMTP")
    lines = [ln for ln in _lines(data) if ln]
    if not lines:
        return True
    if dport == 25:
        c.set_info(f"C: {lines[0]}")
        for ln in lines[1:]:
            c.append_info(f" | {ln}")
    else:
        c.set_info(f"S: {lines[0]}")
        for ln in lines[1:]:
            c.append_info(f" | {ln[4:] if len(ln) > 3 and ln[:3].isdigit() else ln}")
    return True


# SSH binary packet message codes that tshark names (30/31 depend on the key exchange method;
# without the negotiated method the plain Diffie-Hellman names are used).
SSH_MESSAGES = {
    1: "Disconnect", 2: "Ignore", 3: "Unimplemented", 4: "Debug", 5: "Service Request",
    6: "Service Accept", 7: "Extension Info", 20: "Key Exchange Init", 21: "New Keys",
    30: "Diffie-Hellman Key Exchange Init", 31: "Diffie-Hellman Key Exchange Reply",
    32: "Diffie-Hellman Group Exchange Init", 33: "Diffie-Hellman Group Exchange Reply",
    34: "Diffie-Hellman Group Exchange Request",
}


def ssh(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    c.add("ssh")
    side = "Server" if sport == 22 else "Client"
    if data.startswith(b"SSH-"):
        c.set_protocol("SSH")
        c.set_info(f"{side}: Protocol ({_lines(data)[0]})")
        return True
    c.set_protocol("SSHv2")
    names = []
    off = 0
    while off + 6 <= len(data):
        plen = int.from_bytes(data[off:off + 4], "big")
        pad = data[off + 4]
        code = data[off + 5]
        if plen < 5 or off + 4 + plen > len(data) or pad >= plen or code not in SSH_MESSAGES:
            names = []
            break
        name = SSH_MESSAGES[code]
        if code == 31 and not _has_host_key(data[off + 6:off + 4 + plen]):
            name = "Diffie-Hellman Group Exchange Group"
        names.append(name)
        off += 4 + plen
    if names and off == len(data):
        c.set_info(f"{side}: {', '.join(names)}")
    else:
        c.set_info(f"{side}: Encrypted packet (len={len(data)})")
    return True


def _has_host_key(body: bytes) -> bool:
    # A key exchange reply starts with the server's host key blob ("ssh-rsa", "ecdsa-...").
    n = int.from_bytes(body[0:4], "big")
    if n < 8 or len(body) < 8:
        return False
    m = int.from_bytes(body[4:8], "big")
    return 0 < m < 64 and body[8:8 + m].isascii()


def sip(c: Cols, data: bytes) -> bool:
    lines = _lines(data)
    start = lines[0]
    if start.startswith("SIP/2.0 "):
        request = False
    elif start.split(" ", 1)[0] in SIP_METHODS and start.endswith("SIP/2.0"):
        request = True
    else:
        return False
    c.add("sip")
    c.set_protocol("SIP")
    headers: list[tuple[str, str]] = []
    body_at = None
    for i, ln in enumerate(lines[1:], 1):
        if not ln:
            body_at = i + 1
            break
        name, _, value = ln.partition(":")
        headers.append((_SIP_COMPACT.get(name.strip().lower(), name.strip().lower()), value.strip()))
    if request:
        text = "Request: " + start[: -len(" SIP/2.0")]
        method = start.split(" ", 1)[0]
    else:
        text = "Status: " + start[len("SIP/2.0 "):]
        code = start[8:11]
        method = next((v.split()[-1] for k, v in headers if k == "cseq" and v.split()), "")
        if code.startswith("2") and method:
            text += f" ({method})"
    if method == "REGISTER" and (request or start[8:9] == "2"):
        text += _bindings(headers)
    c.set_info(text)
    ctype = next((v for k, v in headers if k == "content-type"), "")
    body = "\n".join(lines[body_at:]) if body_at is not None else ""
    if ctype.split(";")[0].strip().lower() == "application/sdp" and body.strip():
        c.add("sdp")
        c.set_protocol("SIP/SDP")
    c.append_info(" | ")
    return True


_SIP_COMPACT = {"m": "contact", "c": "content-type", "l": "content-length", "i": "call-id",
                "f": "from", "t": "to", "v": "via", "e": "content-encoding", "k": "supported"}


def _bindings(headers: list[tuple[str, str]]) -> str:
    expires_hdr = next((v for k, v in headers if k == "expires"), None)
    contacts = [v for k, v in headers if k == "contact"]
    total = removed = 0
    star = False
    for value in contacts:
        for contact in value.split(","):
            contact = contact.strip()
            if contact == "*":
                star = True
                continue
            total += 1
            expires = None
            for param in contact.split(";")[1:]:
                key, _, val = param.partition("=")
                if key.strip().lower() == "expires":
                    expires = val.strip()
            if expires is not None and expires.strip() == "0":
                removed += 1
    if expires_hdr is not None and expires_hdr.strip() == "0":
        # tshark 4.0 also counts a zero Expires header as one more removed binding
        removed += 1
    if star:
        return "  (remove all bindings)"
    if removed:
        return f"  (remove {removed} binding{'s' if removed != 1 else ''})"
    if total:
        return f"  ({total} binding{'s' if total != 1 else ''})"
    return "  (fetch bindings)"
