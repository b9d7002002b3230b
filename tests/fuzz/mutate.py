"""Hostile variants of real captures: bit flips, cuts, extreme lengths, shuffled and broken blocks.

Every case is a pure function of its seed, so a failure is reproduced with ``run.py --case SEED``.
The mutators know the container layout (pcap records, pcapng blocks and their options) well
enough to aim at the fields a reader trusts: record and block lengths, interface ids, snap
lengths, option lengths, and the length fields of the IPv4/TCP/UDP headers inside packets.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from pathlib import Path

PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<",
               b"\xa1\xb2\x3c\x4d": ">"}
SHB = 0x0A0D0D0A
EXTREMES32 = (0, 1, 3, 11, 12, 0x7FFF, 0xFFFF, 0x10000, 262_144, 262_145, 0x7FFFFFFF, 0x80000000,
              0xFFFFFFF0, 0xFFFFFFFC, 0xFFFFFFFF)
EXTREMES16 = (0, 1, 4, 5, 8, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)


@dataclass
class Unit:
    """One pcap record (header + data) or pcapng block, as a byte range of the file."""

    start: int
    length: int
    kind: int  # pcapng block type; 0 for pcap records


def pcap_units(data: bytes) -> tuple[str, list[Unit]]:
    """The records of a pcap file (endianness, units), stopping quietly at damage."""
    e = PCAP_MAGICS[data[:4]]
    units, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from(e + "I", data, pos + 8)[0]
        if pos + 16 + incl > len(data):
            break
        units.append(Unit(pos, 16 + incl, 0))
        pos += 16 + incl
    return e, units


def pcapng_units(data: bytes) -> tuple[str, list[Unit]]:
    """The blocks of a pcapng file (endianness of the first section, units)."""
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    units, pos = [], 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(e + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            break
        units.append(Unit(pos, blen, btype))
        pos += blen
    return e, units


def to_pcapng(data: bytes, rng: random.Random) -> bytes:
    """Rewrite a pcap file as pcapng (with comments and options), so block mutators apply."""
    e, units = pcap_units(data)
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    snaplen, linktype = struct.unpack_from(e + "II", data, 16)

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    def option(code: int, value: bytes) -> bytes:
        return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)

    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + option(1, b"converted for fuzzing") + option(0, b"")
    idb = struct.pack("<HHI", linktype & 0xFFFF, 0, snaplen) + option(2, b"eth0")
    # Sometimes a hostile time resolution or offset (units as coarse as a second, 2^-127 s...).
    resolution = 9 if nano else 6
    if rng.random() < 0.15:
        resolution = rng.choice((0, 1, 19, 0x80, 0x80 | 30, 0x80 | 63, 0xFF))
    idb += option(9, bytes([resolution]))
    if rng.random() < 0.15:
        idb += option(14, struct.pack("<q", rng.choice((-(2**63), -1, 2**31, 2**63 - 1))))
    idb += option(0, b"")
    out = [block(SHB, shb), block(1, idb)]
    for n, u in enumerate(units):
        sec, frac, incl, orig = struct.unpack_from(e + "IIII", data, u.start)
        ts = sec * (10**9 if nano else 10**6) + frac
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig)
        body += data[u.start + 16 : u.start + 16 + incl] + b"\0" * (-incl % 4)
        if rng.random() < 0.1:
            body += option(1, f"comment on packet {n + 1}".encode()) + option(0, b"")
        out.append(block(6, body))
    return b"".join(out)


def units_of(data: bytes) -> tuple[str, str, list[Unit]]:
    if data[:4] in PCAP_MAGICS:
        return ("pcap", *pcap_units(data))
    if len(data) >= 12 and data[:4] == b"\x0a\x0d\x0d\x0a":
        return ("pcapng", *pcapng_units(data))
    return "other", "<", []


# -- mutators: each takes (bytes, rng) and returns new bytes -------------------------------------

def bit_flips(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 32))):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_smash(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        out[rng.randrange(len(out))] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x01, rng.randrange(256)))
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    _, _, units = units_of(data)
    if units and rng.random() < 0.5:
        u = rng.choice(units)
        cut = u.start + rng.randrange(max(1, min(u.length, 40)))
    else:
        cut = rng.randrange(len(data))
    return data[:cut]


def container_lengths(data: bytes, rng: random.Random) -> bytes:
    """Set a record/block length, snap length or interface id to an extreme value."""
    fmt, e, units = units_of(data)
    out = bytearray(data)
    if not units:
        return bit_flips(data, rng)
    for _ in range(rng.randint(1, 3)):
        u = rng.choice(units)
        value = rng.choice(EXTREMES32)
        if fmt == "pcap":
            where = rng.choice((u.start + 8, u.start + 12, 16))  # incl_len, orig_len, snaplen
        elif u.kind == 6:  # EPB: total length, interface id, caplen, origlen, trailer
            where = rng.choice((u.start + 4, u.start + 8, u.start + 20, u.start + 24,
                                u.start + u.length - 4))
        elif u.kind == 1:  # IDB: total length, snaplen
            where = rng.choice((u.start + 4, u.start + 12, u.start + u.length - 4))
        elif u.kind == SHB:  # SHB: total length, section length
            where = rng.choice((u.start + 4, u.start + 16, u.start + 20))
        else:
            where = rng.choice((u.start + 4, u.start + u.length - 4))
        if where + 4 <= len(out):
            struct.pack_into(e + "I", out, where, value)
    return bytes(out)


def option_lengths(data: bytes, rng: random.Random) -> bytes:
    """Damage an option's code or length inside a pcapng block (or a pcap record's data)."""
    fmt, e, units = units_of(data)
    candidates = [u for u in units if u.kind in (SHB, 1, 6) and u.length > 28]
    if fmt != "pcapng" or not candidates:
        return packet_lengths(data, rng)
    u = rng.choice(candidates)
    first = {SHB: 24, 1: 16, 6: 28}[u.kind]
    if u.kind == 6:
        incl = struct.unpack_from(e + "I", data, u.start + 20)[0]
        first += (incl + 3) & ~3
    out = bytearray(data)
    at = u.start + first
    if at + 4 <= u.start + u.length - 4:
        struct.pack_into(e + "HH", out, at, rng.choice((1, 2, 9, 14, 0xFFFF)), rng.choice(EXTREMES16))
    return bytes(out)


def packet_lengths(data: bytes, rng: random.Random) -> bytes:
    """Inside packets: IPv4 IHL/total length, TCP data offset, UDP length, DNS counts extreme."""
    fmt, e, units = units_of(data)
    packets = [u for u in units if u.kind in (0, 6)]
    if not packets:
        return byte_smash(data, rng)
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        u = rng.choice(packets)
        start = u.start + (16 if fmt == "pcap" else 28)
        end = u.start + u.length - (0 if fmt == "pcap" else 4)
        ip = start + 14  # Ethernet is the common case; elsewhere this still lands on header bytes
        if ip + 20 > end:
            continue
        ihl = (out[ip] & 0x0F) * 4 or 20
        choice = rng.randrange(6)
        if choice == 0:
            out[ip] = (out[ip] & 0xF0) | rng.choice((0, 1, 4, 5, 15))
        elif choice == 1:
            struct.pack_into(">H", out, ip + 2, rng.choice(EXTREMES16))
        elif choice == 2 and ip + ihl + 13 < end:
            out[ip + ihl + 12] = rng.choice((0x00, 0x10, 0x50, 0xF0)) | (out[ip + ihl + 12] & 0x0F)
        elif choice == 3 and ip + ihl + 6 <= end:
            struct.pack_into(">H", out, ip + ihl + 4, rng.choice(EXTREMES16))
        elif choice == 4 and ip + ihl + 8 + 12 <= end:  # DNS counts behind UDP
            struct.pack_into(">H", out, ip + ihl + 8 + rng.choice((4, 6, 8, 10)), rng.choice(EXTREMES16))
        else:
            at = rng.randrange(start, max(start + 1, min(end - 1, start + 80)))
            if at + 2 <= end:
                struct.pack_into(">H", out, at, rng.choice(EXTREMES16))
    return bytes(out)


def timestamps(data: bytes, rng: random.Random) -> bytes:
    """Packet timestamps at extremes: fractions beyond a second, times going backwards."""
    fmt, e, units = units_of(data)
    packets = [u for u in units if u.kind in (0, 6)]
    if not packets:
        return bit_flips(data, rng)
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        u = rng.choice(packets)
        at = u.start if fmt == "pcap" else u.start + 12  # pcap: sec, frac; EPB: high, low
        struct.pack_into(e + "II", out, at, rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF)),
                         rng.choice((0, 999_999, 1_000_000, 0xFFFFFFFF)))
    return bytes(out)


def shuffle_units(data: bytes, rng: random.Random) -> bytes:
    fmt, _, units = units_of(data)
    if len(units) < 2:
        return truncate(data, rng)
    head = data[: units[0].start]
    pieces = [data[u.start : u.start + u.length] for u in units]
    tail = data[units[-1].start + units[-1].length :]
    if rng.random() < 0.5:
        rng.shuffle(pieces)
    else:  # move a few pieces only, so most of the file stays readable
        for _ in range(rng.randint(1, 3)):
            i, j = rng.randrange(len(pieces)), rng.randrange(len(pieces))
            pieces[i], pieces[j] = pieces[j], pieces[i]
    return head + b"".join(pieces) + tail


def duplicate_units(data: bytes, rng: random.Random) -> bytes:
    _, _, units = units_of(data)
    if not units:
        return data + data[: rng.randrange(1, 64)]
    u = rng.choice(units)
    piece = data[u.start : u.start + u.length]
    at = u.start + u.length
    return data[:at] + piece * rng.choice((2, 3, 50, 500)) + data[at:]


def bad_blocks(data: bytes, rng: random.Random) -> bytes:
    """pcapng blocks with bad lengths: not a multiple of 4, below 12, beyond the file, mismatched."""
    fmt, e, units = units_of(data)
    if fmt != "pcapng" or not units:
        return container_lengths(data, rng)
    out = bytearray(data)
    u = rng.choice(units)
    kind = rng.randrange(5)
    if kind == 0:
        struct.pack_into(e + "I", out, u.start + 4, u.length + rng.choice((1, 2, 3)))
    elif kind == 1:
        struct.pack_into(e + "I", out, u.start + 4, rng.choice((0, 4, 8)))
    elif kind == 2:
        struct.pack_into(e + "I", out, u.start + 4, len(data) - u.start + 4 * rng.randint(1, 1000))
    elif kind == 3:
        struct.pack_into(e + "I", out, u.start + u.length - 4, u.length + 4)
    else:  # a block of unknown type, or a second section header with a broken byte-order magic
        btype = rng.choice((0xDEADBEEF, 0x80000001, 5, 4, SHB))
        struct.pack_into(e + "I", out, u.start, btype)
        if btype == SHB and u.length >= 12:
            out[u.start + 8 : u.start + 12] = rng.choice((b"\0\0\0\0", b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"))
    return bytes(out)


def insert_junk(data: bytes, rng: random.Random) -> bytes:
    _, _, units = units_of(data)
    at = rng.choice(units).start if units else rng.randrange(len(data))
    junk = rng.choice((bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
                       b"\0" * rng.choice((4, 16, 4096)), b"\xff" * rng.choice((4, 16))))
    return data[:at] + junk + data[at:]


MUTATORS = {
    "bit_flips": bit_flips, "byte_smash": byte_smash, "truncate": truncate,
    "container_lengths": container_lengths, "option_lengths": option_lengths,
    "packet_lengths": packet_lengths, "shuffle_units": shuffle_units,
    "duplicate_units": duplicate_units, "bad_blocks": bad_blocks, "insert_junk": insert_junk,
    "timestamps": timestamps,
}


@dataclass
class Case:
    seed: int
    source: str
    as_pcapng: bool
    mutations: list[str]
    data: bytes

    def describe(self) -> str:
        conv = " as pcapng" if self.as_pcapng else ""
        return f"case {self.seed}: {self.source}{conv} + {', '.join(self.mutations)} ({len(self.data)} bytes)"


def make_case(seed: int, sources: list[Path]) -> Case:
    """The mutated capture of case ``seed`` (deterministic)."""
    rng = random.Random(seed)
    source = rng.choice(sources)
    data = source.read_bytes()
    as_pcapng = data[:4] in PCAP_MAGICS and rng.random() < 0.35
    if as_pcapng:
        data = to_pcapng(data, rng)
    names = [rng.choice(list(MUTATORS)) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    for name in names:
        if data:
            data = MUTATORS[name](data, rng)
    return Case(seed, source.name, as_pcapng, names, data)
