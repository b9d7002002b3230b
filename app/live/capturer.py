"""The capture process: reads one interface's packets and appends them to a pcap file.

Run as ``python -m app.live.capturer CONFIG_JSON`` by a live session, so that reading packets
never competes with the web server's event loop or its indexing threads for the interpreter:
the kernel's socket buffer is drained by a process that does nothing else.

It opens an AF_PACKET socket (raw frames, or cooked SLL2 frames for ``any`` and for links
without a frame format of their own), attaches the BPF program before binding so no unfiltered
packet slips in, and appends pcap records (nanosecond timestamps from the kernel) to the file
the parent created with the pcap header. Written bytes are flushed at least every 100 ms so the
file can be indexed while it grows; a record is always written whole.

It talks to its parent in JSON lines on stdout: ``{"ready": ...}`` once the socket is bound,
``{"stats": ...}`` twice a second (packets, bytes, the kernel's drop count), ``{"error": ...}``
if it cannot start, ``{"stopped": ...}`` at the end. It stops when stdin says ``stop`` or is
closed (so it never outlives the server), on SIGTERM, or at its size or duration limit.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from app.live import bpf

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
PACKET_OUTGOING = 4
PR_SET_PDEATHSIG = 1

FLUSH_SECONDS = 0.1
STATS_SECONDS = 0.5
BATCH = 2048  # packets read before the clock is looked at again
RECORD = struct.Struct("<IIII")
TIMESPEC = struct.Struct("qq")
AUXDATA = struct.Struct("IIIHHHH")
ANC_SIZE = socket.CMSG_SPACE(TIMESPEC.size) + socket.CMSG_SPACE(AUXDATA.size) + 64


def say(**message) -> None:
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass  # the server is gone; the file on disk is what matters


class Capturer:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.interface = config["interface"]
        self.cooked = bool(config["cooked"])
        self.linktype = int(config["linktype"])
        self.lo_index = int(config.get("loopback_index") or 0)
        self.max_bytes = int(config.get("max_bytes") or 0)
        self.max_seconds = float(config.get("max_seconds") or 0)
        self.packets = 0
        self.drops = 0
        self.kernel_packets = 0
        self.file_bytes = os.path.getsize(config["output"])
        self.pending = bytearray()
        self.stop_reason: str | None = None
        self.user_filter = bpf.UserFilter(config["userspace"]) if config.get("userspace") else None
        self._index_cache: dict[str, int] = {}
        self.out = os.open(config["output"], os.O_WRONLY | os.O_APPEND)

    # -- setup --------------------------------------------------------------------------------

    def open_socket(self) -> socket.socket:
        kind = socket.SOCK_DGRAM if self.cooked else socket.SOCK_RAW
        # Protocol 0: the socket receives nothing until bind, so the filter is in place first.
        sock = socket.socket(socket.AF_PACKET, kind, 0)
        program = self.config["kernel"]
        insns = bpf.pack([tuple(i) for i in program])
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bpf.fprog(insns, len(program)))
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        size = int(self.config.get("rcvbuf") or 0)
        if size:
            try:  # past net.core.rmem_max when allowed (CAP_NET_ADMIN), else as large as allowed
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        name = "" if self.interface == "any" else self.interface
        if name:
            sock.bind((name, ETH_P_ALL))
        else:
            _bind_all(sock)
        if name and self.config.get("promisc", True):
            mreq = struct.pack("iHH8s", socket.if_nametoindex(name), PACKET_MR_PROMISC, 0, b"")
            try:
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            except OSError:
                pass  # some links (tun) have no promiscuous mode; capture what reaches us
        sock.setblocking(False)
        return sock

    # -- the loop -----------------------------------------------------------------------------

    def run(self, sock: socket.socket) -> None:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        stdin = sys.stdin.fileno()
        poller.register(stdin, select.POLLIN | select.POLLHUP)
        buf = bytearray(bpf.SNAPLEN + 4)
        view = memoryview(buf)
        started = time.monotonic()
        last_flush = last_stats = started
        while self.stop_reason is None:
            for fd, _ in poller.poll(int(FLUSH_SECONDS * 1000)):
                if fd == stdin:
                    line = os.read(stdin, 256)
                    if not line or b"stop" in line:
                        self.stop_reason = "stopped"
            self.drain(sock, buf, view)
            now = time.monotonic()
            if self.pending and (now - last_flush >= FLUSH_SECONDS or len(self.pending) > 1 << 20):
                self.flush()
                last_flush = now
            if now - last_stats >= STATS_SECONDS:
                self.stats(sock)
                last_stats = now
            if self.max_bytes and self.file_bytes + len(self.pending) >= self.max_bytes:
                self.stop_reason = "max_bytes"
            elif self.max_seconds and now - started >= self.max_seconds:
                self.stop_reason = "max_seconds"
        # What the kernel already queued was captured before the stop: keep it.
        self.drain(sock, buf, view, until_empty=True)
        self.flush()
        self.stats(sock)
        sock.close()
        os.close(self.out)
        say(stopped={"reason": self.stop_reason, **self.counters()})

    def drain(self, sock: socket.socket, buf: bytearray, view: memoryview, until_empty: bool = False) -> None:
        """Read queued packets (a batch, or all of them) and turn each into a pcap record."""
        recv = sock.recvmsg_into
        for _ in range(BATCH if not until_empty else 1 << 30):
            try:
                nbytes, ancdata, flags, address = recv([view], ANC_SIZE)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno in (errno.ENETDOWN, errno.ENXIO, errno.ENODEV):
                    self.stop_reason = "interface_down"
                    return
                raise
            self.record(buf, nbytes, ancdata, address)
            if self.max_bytes and self.file_bytes + len(self.pending) >= self.max_bytes:
                return

    def record(self, buf: bytearray, nbytes: int, ancdata, address) -> None:
        ifname, proto, pkttype, hatype, hwaddr = address
        if pkttype == PACKET_OUTGOING and self.lo_index and self._ifindex(ifname) == self.lo_index:
            return  # the kernel filter drops these already; this is the safety net
        sec = nsec = None
        wirelen = nbytes
        vlan = None
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = TIMESPEC.unpack_from(data)
            elif level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, tp_len, _snap, _mac, _net, tci, tpid = AUXDATA.unpack_from(data)
                wirelen = tp_len
                if status & TP_STATUS_VLAN_VALID or tci:
                    vlan = (tpid if (tpid or status & TP_STATUS_VLAN_TPID_VALID) else 0x8100, tci)
        if sec is None:
            now = time.time_ns()
            sec, nsec = divmod(now, 1_000_000_000)
        frame = bytes(buf[:nbytes])
        if self.cooked:
            header = struct.pack(">HHIHBB8s", proto, 0, self._ifindex(ifname), hatype, pkttype,
                                 min(len(hwaddr), 8), hwaddr[:8])
            frame = header + frame
            wirelen += len(header)
        elif vlan is not None and self.linktype == 1 and len(frame) >= 12:
            # The kernel took the 802.1Q tag out of the frame (VLAN offload); put it back, as
            # libpcap does, so the file holds the frame as it was on the wire.
            frame = frame[:12] + struct.pack(">HH", *vlan) + frame[12:]
            wirelen += 4
        if self.user_filter is not None and not self.user_filter(frame, wirelen):
            return
        self.pending += RECORD.pack(sec, nsec, len(frame), max(wirelen, len(frame)))
        self.pending += frame
        self.packets += 1

    def _ifindex(self, name: str) -> int:
        index = self._index_cache.get(name)
        if index is None:
            try:
                index = socket.if_nametoindex(name)
            except OSError:
                index = 0
            self._index_cache[name] = index
        return index

    def flush(self) -> None:
        data = bytes(self.pending)
        self.pending.clear()
        while data:
            written = os.write(self.out, data)
            self.file_bytes += written
            data = data[written:]

    def stats(self, sock: socket.socket) -> None:
        try:
            got, dropped = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            self.kernel_packets += got  # the counters reset on every read
            self.drops += dropped
        except OSError:
            pass
        say(stats=self.counters())

    def counters(self) -> dict:
        return {"packets": self.packets, "bytes": self.file_bytes, "drops": self.drops,
                "kernel_packets": self.kernel_packets}


def _bind_all(sock: socket.socket) -> None:
    """Bind to every interface (index 0), which Python's ``bind`` cannot express for AF_PACKET."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    addr = struct.pack("=HHiHBB8s", socket.AF_PACKET, socket.htons(ETH_P_ALL), 0, 0, 0, 0, b"")
    if libc.bind(sock.fileno(), addr, len(addr)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _die_with_parent() -> None:
    """Ask the kernel to end this process if the server that started it dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    _die_with_parent()
    # Ctrl-C in a terminal reaches the whole process group; the server decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    capturer = Capturer(config)

    def on_term(signum, frame):
        capturer.stop_reason = capturer.stop_reason or "stopped"

    signal.signal(signal.SIGTERM, on_term)
    try:
        sock = capturer.open_socket()
    except PermissionError as exc:
        say(error=f"Cannot open a capture socket: {exc.strerror}.", kind="permission")
        return 3
    except OSError as exc:
        kind = "interface" if exc.errno in (errno.ENODEV, errno.ENXIO, errno.ENETDOWN) else "socket"
        say(error=f"Cannot capture on {config['interface']}: {exc.strerror or exc}.", kind=kind)
        return 2
    say(ready={"interface": config["interface"], "linktype": capturer.linktype,
               "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)})
    capturer.run(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
