"""Capture filters: tcpdump syntax compiled to BPF by libpcap, then fitted to the socket.

libpcap (Debian package ``libpcap0.8``) does the compiling, through Scapy's ctypes binding, for
the link type the capture writes; no tcpdump or tshark binary is involved, and no privilege is
needed (a "dead" pcap handle), so a bad filter is refused before any capture starts.

The compiled program is then adapted the way libpcap adapts it for its own Linux captures:

* every accepting ``ret`` keeps the whole packet (Scapy compiles with a 64 KiB snapshot length,
  which would cut the 64 KiB segments of loopback TCP);
* in cooked mode (the ``any`` interface) the kernel filter sees packets without the SLL2 header,
  so loads from the header become the kernel's ancillary loads (protocol, interface index,
  packet type) and the other offsets move back by the header length; a filter reading any other
  header field is run in user space instead, on the frame as written;
* outgoing copies on the loopback interface are rejected in the kernel: Linux hands every
  loopback packet to packet sockets twice (once leaving, once arriving) and tcpdump shows it once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import re
import struct
import threading
from dataclasses import dataclass, field

from app.core.errors import WirelensError

SNAPLEN = 262_144

# Classic BPF opcodes (linux/filter.h).
BPF_LD, BPF_LDX = 0x00, 0x01
BPF_RET, BPF_JMP = 0x06, 0x05
BPF_W, BPF_H, BPF_B = 0x00, 0x08, 0x10
BPF_K = 0x00
BPF_ABS, BPF_IND, BPF_MSH = 0x20, 0x40, 0xA0
BPF_JEQ = 0x10
SKF_AD_OFF = -0x1000
SKF_AD_PROTOCOL, SKF_AD_PKTTYPE, SKF_AD_IFINDEX = 0, 4, 8
PACKET_OUTGOING = 4
SLL2_HDR_LEN = 20

Insn = tuple[int, int, int, int]  # (code, jt, jf, k)

_lock = threading.Lock()  # pcap_compile keeps parser state; one compile at a time


class BadFilter(WirelensError):
    """The capture filter is not valid tcpdump syntax for this interface."""


class PcapMissing(WirelensError):
    """libpcap is not installed, so capture filters cannot be compiled."""

    status = 500


@dataclass
class Program:
    """What to attach to the socket, and what (if anything) to run on each frame in user space."""

    kernel: list[Insn]
    userspace: list[Insn] | None = None
    expression: str = ""
    notes: list[str] = field(default_factory=list)


def compile_expression(expression: str, linktype: int) -> list[Insn]:
    """The BPF instructions of ``expression`` for frames of ``linktype``; raises :class:`BadFilter`."""
    try:
        from scapy.arch.common import compile_filter, free_filter  # noqa: PLC0415 - slow import
        from scapy.error import Scapy_Exception  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - Scapy is a dependency
        raise PcapMissing(f"Scapy could not be loaded: {exc}") from None
    with _lock:
        try:
            program = compile_filter(expression, linktype=linktype)
        except ImportError:
            raise PcapMissing(
                "Capture filters need libpcap, which is not installed "
                "(on Debian: apt-get install libpcap0.8).") from None
        except Scapy_Exception as exc:
            reason = _reason(str(exc))
            raise BadFilter(f"The capture filter {expression!r} is not valid: {reason}.",
                            {"capture_filter": expression, "reason": reason}) from None
        try:
            insns = [(program.bf_insns[i].code, program.bf_insns[i].jt, program.bf_insns[i].jf,
                      program.bf_insns[i].k) for i in range(program.bf_len)]
        finally:
            free_filter(program)
    return insns


def _reason(message: str) -> str:
    match = re.search(r"\((.*)\)\s*$", message)
    return (match.group(1) if match else message).strip().rstrip(".")


def build(expression: str | None, linktype: int, cooked: bool, loopback_index: int,
          loopback_only: bool) -> Program:
    """The program for a capture: the user's filter (if any) fitted to the socket, plus the
    rejection of the loopback interface's outgoing copies.

    ``loopback_only`` is True when the socket is bound to the loopback interface itself; with
    ``any`` the rejection also checks the interface index.
    """
    expression = (expression or "").strip()
    user: list[Insn] = [(BPF_RET | BPF_K, 0, 0, SNAPLEN)]
    userspace = None
    notes = []
    if expression:
        user = [_whole_packet(i) for i in compile_expression(expression, linktype)]
        if cooked:
            fixed = _fix_cooked(user)
            if fixed is None:
                # The filter reads SLL2 header fields the kernel cannot see: accept everything
                # in the kernel and run the original program on each written frame.
                userspace = user
                user = [(BPF_RET | BPF_K, 0, 0, SNAPLEN)]
                notes.append("filter runs in user space")
            else:
                user = fixed
    prefix: list[Insn] = []
    if loopback_only:
        prefix = [
            (BPF_LD | BPF_B | BPF_ABS, 0, 0, _ad(SKF_AD_PKTTYPE)),
            (BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OUTGOING),
            (BPF_RET | BPF_K, 0, 0, 0),
        ]
    elif loopback_index:
        prefix = [
            (BPF_LD | BPF_W | BPF_ABS, 0, 0, _ad(SKF_AD_IFINDEX)),
            (BPF_JMP | BPF_JEQ | BPF_K, 0, 3, loopback_index),
            (BPF_LD | BPF_B | BPF_ABS, 0, 0, _ad(SKF_AD_PKTTYPE)),
            (BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OUTGOING),
            (BPF_RET | BPF_K, 0, 0, 0),
        ]
    return Program(kernel=prefix + user, userspace=userspace, expression=expression, notes=notes)


def _ad(offset: int) -> int:
    return (SKF_AD_OFF + offset) & 0xFFFFFFFF


def _whole_packet(insn: Insn) -> Insn:
    code, jt, jf, k = insn
    if code == BPF_RET | BPF_K and k:
        return code, jt, jf, SNAPLEN
    return insn


def _fix_cooked(insns: list[Insn]) -> list[Insn] | None:
    """Offsets into the SLL2 header mapped to what a SOCK_DGRAM socket's filter sees (libpcap's
    ``fix_offset``); None when the program reads a header field the kernel cannot provide."""
    out = []
    for code, jt, jf, k in insns:
        cls, mode = code & 0x07, code & 0xE0
        if cls in (BPF_LD, BPF_LDX) and mode in (BPF_ABS, BPF_IND, BPF_MSH) and k < _ad(0):
            if k >= SLL2_HDR_LEN:
                k -= SLL2_HDR_LEN
            elif k == 0:
                k = _ad(SKF_AD_PROTOCOL)
            elif k == 4:
                k = _ad(SKF_AD_IFINDEX)
            elif k == 10:
                k = _ad(SKF_AD_PKTTYPE)
            else:
                return None
        out.append((code, jt, jf, k))
    return out


def pack(insns: list[Insn]) -> ctypes.Array:
    """The instructions as a ``struct sock_filter`` array (kept alive by the caller)."""
    raw = b"".join(struct.pack("HBBI", *insn) for insn in insns)
    return ctypes.create_string_buffer(raw, len(raw))


def fprog(buffer: ctypes.Array, count: int) -> bytes:
    """A ``struct sock_fprog`` pointing at ``buffer`` for ``SO_ATTACH_FILTER``."""
    return struct.pack("HL", count, ctypes.addressof(buffer))


class UserFilter:
    """Runs a BPF program on a frame in user space with libpcap's own interpreter."""

    def __init__(self, insns: list[Insn]) -> None:
        name = ctypes.util.find_library("pcap")
        if not name:
            raise PcapMissing("Capture filters need libpcap (on Debian: apt-get install libpcap0.8).")
        self._lib = ctypes.CDLL(name)
        self._lib.bpf_filter.restype = ctypes.c_uint
        self._lib.bpf_filter.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint]
        self._insns = pack(insns)

    def __call__(self, frame: bytes, wirelen: int) -> bool:
        return self._lib.bpf_filter(ctypes.addressof(self._insns), frame, wirelen, len(frame)) != 0
