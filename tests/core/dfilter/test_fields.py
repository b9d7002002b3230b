"""The field registry: names and types of the corpus references, protocols, completion."""
from __future__ import annotations

import pytest

from app.core.fields import FieldType, all_fields, complete, lookup, protocols, resolve
from tests.reference import capture_names, load_reference


def test_every_reference_field_and_protocol_is_registered() -> None:
    missing = set()
    for name in capture_names():
        ref = load_reference(name)
        for field in ref["fields"]:
            if not field.startswith("_ws.col.") and lookup(field) is None:
                missing.add(field)
        column = ref["fields"].index("frame.protocols")
        for frame in ref["frames"]:
            for proto in (frame[column] or "").split(":"):
                if proto and (lookup(proto) is None or not lookup(proto).is_protocol):
                    missing.add(proto)
    assert not missing


@pytest.mark.parametrize("name,ftype,protocol", [
    ("frame.number", FieldType.UINT32, "frame"),
    ("frame.time_relative", FieldType.RELATIVE_TIME, "frame"),
    ("frame.time_epoch", FieldType.ABSOLUTE_TIME, "frame"), ("eth.addr", FieldType.ETHER, "eth"),
    ("ip.addr", FieldType.IPv4, "ip"), ("ipv6.addr", FieldType.IPv6, "ipv6"),
    ("tcp.port", FieldType.UINT16, "tcp"), ("tcp.flags.syn", FieldType.BOOLEAN, "tcp"),
    ("tcp.analysis.retransmission", FieldType.NONE, "tcp"),
    ("tcp.analysis.duplicate_ack_frame", FieldType.FRAMENUM, "tcp"),
    ("tcp.payload", FieldType.BYTES, "tcp"), ("dns.qry.name", FieldType.STRING, "dns"),
    ("dns.a", FieldType.IPv4, "dns"), ("dns.aaaa", FieldType.IPv6, "dns"),
    ("http.request", FieldType.BOOLEAN, "http"), ("sip.Status-Code", FieldType.UINT32, "sip"),
    ("ipv6.fraghdr.offset", FieldType.UINT16, "ipv6.fraghdr"),
    ("_ws.expert.message", FieldType.STRING, "_ws.expert"),
    ("_ws.malformed", FieldType.PROTOCOL, "_ws.malformed"),
    ("ftp-data", FieldType.PROTOCOL, "ftp-data"),
])
def test_lookup(name: str, ftype: FieldType, protocol: str) -> None:
    field = lookup(name)
    assert field is not None and field.type is ftype and field.protocol == protocol
    assert field.description


def test_names_are_case_sensitive_and_unknown_names_are_none() -> None:
    assert lookup("TCP") is None and lookup("foo.bar") is None and lookup("sip.method") is None
    assert lookup("sip.Method") is not None


def test_deprecated_alias() -> None:
    field, replacement = resolve("ssl.handshake.type")
    assert field is lookup("tls.handshake.type") and replacement == "tls.handshake.type"
    assert resolve("tls") == (lookup("tls"), None)


def test_complete_orders_nearest_names_first() -> None:
    names = [f.name for f in complete("tcp.fl")]
    assert names[0] == "tcp.flags" and "tcp.flags.syn" in names
    assert all(n.startswith("tcp.fl") for n in names)
    assert [f.name for f in complete("TCP.FLAGS.S", limit=2)] == ["tcp.flags.str", "tcp.flags.syn"]
    assert complete("nosuchproto") == []


def test_registry_shape() -> None:
    fields = all_fields()
    assert len(fields) > 500 and len({f.name for f in fields}) == len(fields)
    assert all(p.type is FieldType.PROTOCOL for p in protocols())
    assert {"eth", "ip", "tcp", "udp", "dns", "http", "tls", "quic", "sll", "null"} <= {
        p.name for p in protocols()}
    assert lookup("ip.addr").multi and not lookup("ip.src").multi
    assert FieldType.UINT16.int_range == (0, 65535) and FieldType.INT8.int_range == (-128, 127)
