"""Message bodies by media type (Wireshark's media_type table): text lines, JSON, XML, images, forms."""
from __future__ import annotations

from urllib.parse import unquote_plus

from .node import Ctx, Node, Tvb, add, text
from .registry import data_layer


def _esc(b: bytes) -> str:
    from .http import esc
    return esc(b)


def media_proto(ctype: str) -> tuple[str, str]:
    """(protocol abbreviation, tree title) Wireshark uses for a content type."""
    if ctype in ("application/json", "application/x-json", "text/json") or ctype.endswith("+json"):
        return "json", f"JavaScript Object Notation: {ctype}"
    if ctype.endswith("/xml") or ctype.endswith("+xml"):
        return "xml", "eXtensible Markup Language"
    if ctype.startswith("text/") or ctype == "application/x-javascript":
        return "data-text-lines", f"Line-based text data: {ctype}"
    if ctype in ("application/ocsp-request", "application/ocsp-response"):
        return "ocsp", "Online Certificate Status Protocol"
    if ctype == "image/gif":
        return "image-gif", "Compuserve GIF"
    if ctype in ("image/jpeg", "image/jpg", "image/pjpeg"):
        return "image-jfif", "JPEG File Interchange Format"
    if ctype == "image/png":
        return "png", "Portable Network Graphics"
    if ctype == "application/x-www-form-urlencoded":
        return "urlencoded-form", f"HTML Form URL Encoded: {ctype}"
    if not ctype:
        return "data", "Data"
    return "media", "Media Type"


def dissect_media(ctx: Ctx, data: bytes, ctype: str, off: int, blen: int, parent: Node | None) -> None:
    """Add the layer for a body (``off``/``blen`` locate it in the frame when it was not decoded)."""
    if not data:
        return
    in_frame = ctx.data[off:off + blen] == data
    o = off if in_frame else None
    ln = len(data) if in_frame else None
    proto, title = media_proto(ctype)
    if proto == "data":
        if in_frame:
            data_layer(ctx, Tvb(off, off + blen, off + blen), parent)
        else:
            lay = ctx.layer("data", f"Data ({len(data)} bytes)", None, None, parent)
            add(lay, "data.data", f"Data: {data[:48].hex()}{'…' if len(data) > 48 else ''}", data, None, None)
            add(lay, "data.len", f"[Length: {len(data)}]", len(data), None, None)
        return
    if proto == "data-text-lines":
        lines = data.splitlines(keepends=True)
        lay = ctx.layer(proto, f"{title} ({len(lines)} lines)", o, ln, parent)
        p = off
        for line in lines:
            text(lay, _esc(line), p if in_frame else None, len(line) if in_frame else None)
            p += len(line)
        return
    lay = ctx.layer(proto, title, o, ln, parent)
    if proto == "media":
        add(lay, "media.type", f"Media type: {ctype or 'unknown'} ({len(data)} bytes)", ctype, o, ln)
    elif proto == "urlencoded-form":
        p = off
        for item in data.split(b"&"):
            k, _, v = item.partition(b"=")
            ks, vs = unquote_plus(k.decode("latin-1")), unquote_plus(v.decode("latin-1"))
            it = add(lay, "urlencoded-form", f'Form item: "{ks}" = "{vs}"', None,
                     p if in_frame else None, len(item) if in_frame else None)
            add(it, "urlencoded-form.key", f"Key: {ks}", ks, p if in_frame else None, len(k) if in_frame else None)
            add(it, "urlencoded-form.value", f"Value: {vs}", vs, None, None)
            p += len(item) + 1
    elif proto == "json":
        add(lay, "json.object", f"{data[:60].decode('utf-8', 'replace')}{'…' if len(data) > 60 else ''}",
            None, o, ln)
    elif proto == "xml":
        head = data.lstrip()[:80].decode("utf-8", "replace")
        text(lay, head.split("\n")[0], o, ln)
    elif proto == "image-gif" and data[:6] in (b"GIF87a", b"GIF89a"):
        add(lay, "image-gif.version", f"Version: {data[:6].decode()}", data[:6].decode(), o, 6 if in_frame else None)
    elif proto == "png" and data[:8] == b"\x89PNG\r\n\x1a\n":
        add(lay, "png.signature", "PNG Signature: 89504e470d0a1a0a", data[:8], o, 8 if in_frame else None)
    elif proto == "image-jfif":
        text(lay, "Start of Image (SOI) marker" if data[:2] == b"\xff\xd8" else "Image data", o, ln)
