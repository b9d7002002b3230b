"""The network interfaces live capture can use, read from the operating system.

Names, flags and hardware types come from ``/sys/class/net``; addresses from ``getifaddrs(3)``
(through ctypes, so every IPv4 and IPv6 address of an interface is listed, not only the primary
one). Linux's ``any`` pseudo-interface is listed too: it captures on every interface at once, in
Linux cooked (SLL2) frames.

Each interface also says how it is captured: the pcap link type written to the file and whether
the socket reads whole link-layer frames (``SOCK_RAW``) or network-layer payloads that are given
a cooked header (``SOCK_DGRAM``), following libpcap's choices so files match ``tcpdump -i``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import WirelensError

SYS_NET = Path("/sys/class/net")
ANY = "any"

# pcap link types (LINKTYPE_*) written to the capture file.
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL2 = 276

# Linux hardware types (ARPHRD_*) whose frames are kept as they are; everything else is captured
# in cooked mode, as libpcap does for hardware types it has no link type for.
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772  # Linux's lo carries Ethernet headers (zero addresses)
ARPHRD_NONE = 0xFFFE  # tun devices and other pure-IP links
ARPHRD_RAWIP = 519
RAW_FRAMES = {ARPHRD_ETHER: LINKTYPE_ETHERNET, ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,
              ARPHRD_NONE: LINKTYPE_RAW, ARPHRD_RAWIP: LINKTYPE_RAW}

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40


class BadInterface(WirelensError):
    """The interface asked for does not exist or cannot be captured on."""


@dataclass
class Interface:
    """One capturable interface, as ``GET /api/interfaces`` and ``wirelens -D`` show it."""

    name: str
    description: str = ""
    addresses: list[str] = field(default_factory=list)
    up: bool = False
    loopback: bool = False
    index: int = 0
    hardware_type: int = 0

    @property
    def linktype(self) -> int:
        """The pcap link type of the frames captured on this interface."""
        if self.name == ANY:
            return LINKTYPE_LINUX_SLL2
        return RAW_FRAMES.get(self.hardware_type, LINKTYPE_LINUX_SLL2)

    @property
    def cooked(self) -> bool:
        """Whether frames are read without their link layer and given a cooked (SLL2) header."""
        return self.linktype == LINKTYPE_LINUX_SLL2

    def as_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "addresses": self.addresses,
                "up": self.up, "loopback": self.loopback}


def list_interfaces() -> list[Interface]:
    """Every interface of this network namespace plus ``any``, in the order ``-D`` prints them.

    Interfaces that are up come first (as dumpcap lists them), then ``any``, the loopback
    interface, and interfaces that are down.
    """
    addresses = _addresses()
    found = []
    for path in sorted(SYS_NET.iterdir()) if SYS_NET.is_dir() else []:
        iface = _read(path, addresses)
        if iface is not None:
            found.append(iface)
    any_iface = Interface(name=ANY, description="Pseudo-device that captures on all interfaces",
                          up=True, index=0)
    found.sort(key=lambda i: i.index)
    up = [i for i in found if i.up and not i.loopback]
    loop = [i for i in found if i.loopback]
    down = [i for i in found if not i.up and not i.loopback]
    return up + [any_iface] + loop + down


def get_interface(name: str) -> Interface:
    """The interface called ``name``; :class:`BadInterface` (400) when it cannot be captured on."""
    if not isinstance(name, str) or not name or len(name) > 15 or "/" in name or name in (".", ".."):
        raise BadInterface(f"There is no network interface called {name!r}.",
                           {"interface": name, "available": [i.name for i in list_interfaces()]})
    for iface in list_interfaces():
        if iface.name == name:
            if not iface.up:
                raise BadInterface(f"The interface {name} is down; bring it up first "
                                   f"(ip link set {name} up).", {"interface": name})
            return iface
    raise BadInterface(f"There is no network interface called {name!r}.",
                       {"interface": name, "available": [i.name for i in list_interfaces()]})


def loopback_index() -> int:
    """The index of the loopback interface (its outgoing copies are skipped), or 0 if none."""
    for iface in list_interfaces():
        if iface.loopback and iface.index:
            return iface.index
    return 0


def _read(path: Path, addresses: dict[str, list[str]]) -> Interface | None:
    try:
        flags = int((path / "flags").read_text().strip(), 16)
        index = int((path / "ifindex").read_text().strip())
        hwtype = int((path / "type").read_text().strip())
    except (OSError, ValueError):
        return None  # vanished while we looked, or not a network device
    name = path.name
    return Interface(
        name=name, description=_describe(path, hwtype, flags), addresses=addresses.get(name, []),
        up=bool(flags & IFF_UP), loopback=bool(flags & IFF_LOOPBACK), index=index,
        hardware_type=hwtype,
    )


def _describe(path: Path, hwtype: int, flags: int) -> str:
    """A short human description (Linux has no interface descriptions of its own)."""
    if flags & IFF_LOOPBACK:
        return "Loopback"
    devtype = ""
    try:
        for line in (path / "uevent").read_text().splitlines():
            if line.startswith("DEVTYPE="):
                devtype = line.split("=", 1)[1]
    except OSError:
        pass
    named = {"wlan": "Wireless", "bridge": "Bridge", "bond": "Bond", "vlan": "VLAN",
             "vxlan": "VXLAN tunnel", "wireguard": "WireGuard tunnel", "geneve": "Geneve tunnel"}
    if devtype in named:
        return named[devtype]
    if (path / "wireless").exists() or (path / "phy80211").exists():
        return "Wireless"
    driver = ""
    try:
        driver = os.path.basename(os.readlink(path / "device" / "driver"))
    except OSError:
        pass
    if hwtype == ARPHRD_ETHER:
        if driver:
            return f"Ethernet ({driver})"
        link = path / "iflink"
        try:
            if link.exists() and int(link.read_text()) != int((path / "ifindex").read_text()):
                return "Virtual Ethernet (peer or tunnel)"
        except (OSError, ValueError):
            pass
        return "Virtual Ethernet"
    if hwtype in (ARPHRD_NONE, ARPHRD_RAWIP):
        return "IP tunnel"
    return f"Link type {hwtype}"


# -- addresses through getifaddrs(3) -------------------------------------------------------------

class _Sockaddr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_ubyte * 14)]


class _Sockaddr6(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_ushort),
                ("flowinfo", ctypes.c_uint32), ("addr", ctypes.c_ubyte * 16),
                ("scope_id", ctypes.c_uint32)]


class _Ifaddrs(ctypes.Structure):
    pass


_Ifaddrs._fields_ = [
    ("next", ctypes.POINTER(_Ifaddrs)), ("name", ctypes.c_char_p), ("flags", ctypes.c_uint),
    ("addr", ctypes.POINTER(_Sockaddr)), ("netmask", ctypes.POINTER(_Sockaddr)),
    ("ifu", ctypes.POINTER(_Sockaddr)), ("data", ctypes.c_void_p),
]


def _addresses() -> dict[str, list[str]]:
    """Interface name -> its IPv4 and IPv6 addresses with prefix length ("10.0.0.1/24")."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return {}
    head = ctypes.POINTER(_Ifaddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        return {}
    result: dict[str, list[str]] = {}
    try:
        node = head
        while node:
            entry = node.contents
            text = _address_text(entry)
            if text:
                result.setdefault(entry.name.decode(errors="replace"), []).append(text)
            node = entry.next
    finally:
        libc.freeifaddrs(head)
    return result


def _address_text(entry: _Ifaddrs) -> str | None:
    if not entry.addr:
        return None
    family = entry.addr.contents.family
    if family == socket.AF_INET:
        addr = ipaddress.IPv4Address(bytes(entry.addr.contents.data[2:6]))
        bits = _prefix(bytes(entry.netmask.contents.data[2:6])) if entry.netmask else 32
        return f"{addr}/{bits}"
    if family == socket.AF_INET6:
        sa6 = ctypes.cast(entry.addr, ctypes.POINTER(_Sockaddr6)).contents
        addr6 = ipaddress.IPv6Address(bytes(sa6.addr))
        bits = 128
        if entry.netmask:
            bits = _prefix(bytes(ctypes.cast(entry.netmask, ctypes.POINTER(_Sockaddr6)).contents.addr))
        return f"{addr6}/{bits}"
    return None


def _prefix(mask: bytes) -> int:
    return bin(int.from_bytes(mask, "big")).count("1")
