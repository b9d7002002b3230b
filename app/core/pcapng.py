"""Walking the blocks of a pcapng file for ``RecordReader`` (app.core.pcapfile).

A pcapng file is a chain of length-prefixed blocks, and a packet's meaning depends on blocks read
before it: the section header sets the byte order, interface descriptions set each packet's link
type, timestamp resolution and offset. The walk therefore updates the reader's state block by
block (its position, record count, byte order, interfaces of the current section, file info), so
it resumes where the last ``read`` stopped. Blocks this reader has no use for are skipped whole.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from app.core.pcapfile import MAX_RECORD, PCAPNG_SHB, Interface

if TYPE_CHECKING:
    from app.core.pcapfile import RecordReader, _Columns

# pcapng blocks other than packets (name resolution, statistics, custom) are bounded too, so a
# damaged length cannot make the walker allocate or skip gigabytes.
MAX_BLOCK = 16 * 1024 * 1024
MAX_INTERFACES = 65_536
# A pcapng timestamp is 64 bits in units as small as a second, plus a 64-bit offset: a damaged
# one can exceed int64 seconds. Seconds are kept where a nanosecond count still fits in int64.
MAX_SECONDS = (2**63 - 1) // 1_000_000_000 - 1


def walk(reader: RecordReader, mm, size, final, cols: _Columns, max_records) -> None:
    """Read the blocks from ``reader.pos`` on, adding the packets found to ``cols``."""
    limit = max_records if max_records is not None else -1
    while reader.pos + 12 <= size and limit != 0:
        pos = reader.pos
        btype = struct.unpack_from(reader._endian + "I", mm, pos)[0]
        if btype == PCAPNG_SHB or struct.unpack_from("<I", mm, pos)[0] == PCAPNG_SHB:
            bom = mm[pos + 8 : pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                reader._endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                reader._endian = ">"
            else:
                reader._stop(f"Section header at byte {pos} has an unknown byte-order magic.")
                return
            reader.info.byte_order = "little-endian" if reader._endian == "<" else "big-endian"
            btype = PCAPNG_SHB
        blen = struct.unpack_from(reader._endian + "I", mm, pos + 4)[0]
        if blen < 12 or blen % 4 or blen > MAX_BLOCK + MAX_RECORD:
            reader._stop(
                f"Block at byte {pos} (after packet {reader.count}) has an invalid length "
                f"{blen}; the file is damaged there."
            )
            return
        if pos + blen > size:
            break
        trailer = struct.unpack_from(reader._endian + "I", mm, pos + blen - 4)[0]
        if trailer != blen:
            reader._stop(
                f"Block at byte {pos} (after packet {reader.count}) has mismatched lengths "
                f"({blen} and {trailer}); the file is damaged there."
            )
            return
        if not _block(reader, mm, btype, pos, blen, cols):
            return
        if btype in (6, 3, 2):
            limit -= 1
        reader.pos = pos + blen
    if final and not reader._stopped and reader.pos < size and limit != 0:
        reader._stop(
            f"The file is cut short in the middle of a block at byte {reader.pos}, "
            f"after packet {reader.count}."
        )


def _block(reader: RecordReader, mm, btype: int, pos: int, blen: int, cols: _Columns) -> bool:
    e = reader._endian
    body = pos + 8
    end = pos + blen - 4
    if btype == PCAPNG_SHB:
        reader._section_ifaces = []
        for code, value in _options(mm, body + 16, end, e):
            if code == 1:
                reader.info.section_comments.append(_text(value))
    elif btype == 1:  # interface description
        linktype, _, snaplen = struct.unpack_from(e + "HHI", mm, body)
        iface = Interface(linktype=linktype, snaplen=snaplen)
        for code, value in _options(mm, body + 8, end, e):
            if code == 2:
                iface.name = _text(value)
            elif code == 3:
                iface.description = _text(value)
            elif code == 9 and value:
                r = value[0]
                iface.ts_divisor = (1 << (r & 0x7F)) if r & 0x80 else 10 ** min(r, 18)
            elif code == 14 and len(value) == 8:
                iface.ts_offset = struct.unpack(e + "q", value)[0]
        if len(reader.info.interfaces) >= MAX_INTERFACES:
            reader._stop(f"More than {MAX_INTERFACES} interfaces are described; the file is damaged.")
            return False
        reader._section_ifaces.append(len(reader.info.interfaces))
        reader.info.interfaces.append(iface)
    elif btype in (6, 2):  # enhanced packet / obsolete packet block
        if btype == 6:
            if_id, hi, lo, incl, orig = struct.unpack_from(e + "IIIII", mm, body)
        else:
            if_id, _, hi, lo, incl, orig = struct.unpack_from(e + "HHIIII", mm, body)
        data = body + 20
        if if_id >= len(reader._section_ifaces):
            reader._stop(f"Packet {reader.count + 1} names interface {if_id}, which was never described.")
            return False
        if incl > MAX_RECORD or data + incl > end:
            reader._stop(
                f"Packet {reader.count + 1} claims {incl} bytes, more than its block holds; "
                f"the file is damaged after packet {reader.count}."
            )
            return False
        gid = reader._section_ifaces[if_id]
        iface = reader.info.interfaces[gid]
        _add(reader, cols, data, incl, orig, (hi << 32) | lo, iface, gid)
        opt_start = data + ((incl + 3) & ~3)
        comments = [_text(v) for c, v in _options(mm, opt_start, end, e) if c == 1]
        if comments:
            reader.info.comments[reader.count] = comments
    elif btype == 3:  # simple packet block: no timestamp, interface 0 of the section
        if not reader._section_ifaces:
            reader._stop("A simple packet block precedes every interface description.")
            return False
        gid = reader._section_ifaces[0]
        iface = reader.info.interfaces[gid]
        orig = struct.unpack_from(e + "I", mm, body)[0]
        incl = min(orig, iface.snaplen or orig, end - (body + 4))
        _add(reader, cols, body + 4, incl, orig, 0, iface, gid)
    return True


def _add(reader: RecordReader, cols: _Columns, data: int, incl: int, orig: int, ts: int,
         iface: Interface, gid: int) -> None:
    div = iface.ts_divisor
    sec, frac = divmod(ts, div)
    cols.offset.append(data)
    cols.caplen.append(incl)
    cols.wirelen.append(orig)
    cols.ts_sec.append(min(max(sec + iface.ts_offset, -MAX_SECONDS), MAX_SECONDS))
    cols.ts_nsec.append(frac * 1_000_000_000 // div)
    cols.iface.append(gid)
    reader.count += 1


def _options(mm, pos: int, end: int, e: str):
    """Yield (code, value bytes) of a pcapng option list, stopping quietly at damage."""
    while pos + 4 <= end:
        code, length = struct.unpack_from(e + "HH", mm, pos)
        if code == 0:
            return
        start = pos + 4
        if start + length > end:
            return
        yield code, bytes(mm[start : start + length])
        pos = start + ((length + 3) & ~3)


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", "replace")
