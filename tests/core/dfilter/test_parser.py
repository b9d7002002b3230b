"""Table-driven tests of tokenizer + parser + semantic check: filter text -> canonical text, or
-> error position (0-based, as tshark's caret) and message.  Wording and positions follow
tshark 4.0 for the cases it reports."""
from __future__ import annotations

import pytest

from app.core.dfilter import FilterError, Limits, check, compile_filter

# filter text, canonical form
VALID = [
    ("tcp", "tcp"),
    ("  tcp  ", "tcp"),
    ("", ""),
    ("ip.src==10.0.0.1", "ip.src == 10.0.0.1"),
    ("ip.src eq 10.0.0.1", "ip.src == 10.0.0.1"),
    ("ip.src any_eq 10.0.0.1", "ip.src == 10.0.0.1"),
    ("ip.src ne 10.0.0.1", "ip.src != 10.0.0.1"),
    ("ip.src all_ne 10.0.0.1", "ip.src != 10.0.0.1"),
    ("ip.addr ~= 10.0.0.1", "ip.addr !== 10.0.0.1"),
    ("ip.addr any_ne 10.0.0.1", "ip.addr !== 10.0.0.1"),
    ("ip.addr === 10.0.0.1", "ip.addr === 10.0.0.1"),
    ("ip.addr all_eq 10.0.0.1", "ip.addr === 10.0.0.1"),
    ("frame.len gt 100", "frame.len > 100"),
    ("frame.len ge 100", "frame.len >= 100"),
    ("frame.len lt 100", "frame.len < 100"),
    ("frame.len le 100", "frame.len <= 100"),
    ("tcp or udp and dns", "tcp || udp && dns"),
    ("(tcp or udp) and dns", "(tcp || udp) && dns"),
    ("tcp and udp or dns", "tcp && udp || dns"),
    ("tcp and (udp or dns)", "tcp && (udp || dns)"),
    ("tcp xor udp", "tcp ^^ udp"),
    ("tcp ^^ udp || dns", "tcp ^^ udp || dns"),
    ("tcp || udp ^^ dns", "tcp || udp ^^ dns"),
    ("tcp ^^ udp && dns", "tcp ^^ udp && dns"),
    ("tcp && udp && dns", "tcp && udp && dns"),
    ("(tcp && udp) && dns", "(tcp && udp) && dns"),
    ("not tcp", "!tcp"),
    ("!!tcp", "!!tcp"),
    ("!tcp.port==80", "!(tcp.port == 80)"),
    ("not tcp and udp", "!tcp && udp"),
    ("!(tcp and udp)", "!(tcp && udp)"),
    ("tcp.flags & 0x04", "tcp.flags & 0x04"),
    ("tcp.flags bitwise_and 0x04", "tcp.flags & 0x04"),
    ("tcp.flags & 0x12 == 0x12", "tcp.flags & 0x12 == 0x12"),
    ("tcp.dstport >= 4 * {tcp.srcport + 3}", "tcp.dstport >= 4 * {tcp.srcport + 3}"),
    ("tcp.dstport == tcp.srcport + 1 * 2", "tcp.dstport == tcp.srcport + 1 * 2"),
    ("udp.dstport >= udp.srcport - -1", "udp.dstport >= udp.srcport - -1"),
    ("tcp.port in {80, 443}", "tcp.port in {80, 443}"),
    ("tcp.port in {20..25,80}", "tcp.port in {20..25, 80}"),
    ("tcp.port not in {80, 443}", "tcp.port not in {80, 443}"),
    ('http.request.method in {"GET", "HEAD"}', 'http.request.method in {"GET", "HEAD"}'),
    ('http.host contains "wiki"', 'http.host contains "wiki"'),
    ('http.host matches "^www\\\\."', 'http.host matches "^www\\\\."'),
    ('http.host ~ "^www"', 'http.host matches "^www"'),
    ('http.host matches r"^www\\."', 'http.host matches "^www\\\\."'),
    ('http.host == "a\\"b\\x41\\101\\n"', 'http.host == "a\\"bAA\\n"'),
    ('http.host == "\\u00e9"', 'http.host == "\u00e9"'),
    ("http.request.method == GET", "http.request.method == GET"),
    ("frame[0:6] == ff:ff:ff:ff:ff:ff", "frame[0:6] == ff:ff:ff:ff:ff:ff"),
    ("frame[:6] == ff-ff-ff-ff-ff-ff", "frame[0:6] == ff-ff-ff-ff-ff-ff"),
    ("eth.src[1-3,5,-2:] == 00:00:00:00:00:00", "eth.src[1-3,5,-2:] == 00:00:00:00:00:00"),
    ("frame[-4:4] == 00.01.02.03", "frame[-4:4] == 00.01.02.03"),
    ("eth.dst == ffff.ffff.ffff", "eth.dst == ffff.ffff.ffff"),
    ("ipv6.addr == fe80::/10", "ipv6.addr == fe80::/10"),
    ("ipv6.addr == ::1", "ipv6.addr == ::1"),
    ("ip.addr == 10.0.0.0/8", "ip.addr == 10.0.0.0/8"),
    ("tcp.port == 0x50", "tcp.port == 0x50"),
    ("tcp.port == 0120", "tcp.port == 0120"),
    ("tcp.port == 0b1010000", "tcp.port == 0b1010000"),
    ("tcp.flags.syn == 1 && tcp.flags.ack == true", "tcp.flags.syn == 1 && tcp.flags.ack == true"),
    ("tcp.flags.syn == False", "tcp.flags.syn == False"),
    ("frame.time_relative > 1.5", "frame.time_relative > 1.5"),
    ("len(http.request.uri) > 20", "len(http.request.uri) > 20"),
    ('lower(dns.qry.name) contains "google"', 'lower(dns.qry.name) contains "google"'),
    ('upper(http.request.method)=="GET"', 'upper(http.request.method) == "GET"'),
    ("count(ip.src) > 1", "count(ip.src) > 1"),
    ('string(tcp.port) == "80"', 'string(tcp.port) == "80"'),
    ("max(tcp.srcport, tcp.dstport) < 1024", "max(tcp.srcport, tcp.dstport) < 1024"),
    ("abs(tcp.window_size_scalefactor) == 1", "abs(tcp.window_size_scalefactor) == 1"),
    ("tcp.srcport > tcp.dstport", "tcp.srcport > tcp.dstport"),
    ("ip.src == ip.dst", "ip.src == ip.dst"),
    ("tcp.port == 'P'", "tcp.port == 'P'"),
    ("sip.Status-Code == 401", "sip.Status-Code == 401"),
    ("_ws.malformed", "_ws.malformed"),
    ("tcp.analysis.flags and not tcp.analysis.window_update",
     "tcp.analysis.flags && !tcp.analysis.window_update"),
    ("ssl", "ssl"),
]

# filter text, error position, fragment of the message
INVALID = [
    ("tcp.port==", 10, "Unexpected end of filter expression."),
    ("(tcp.port == 80", 15, "Unexpected end of filter expression."),
    ("tcp.port == 80)", 14, '")" was unexpected in this context.'),
    ("&& tcp", 0, '"&&" was unexpected in this context.'),
    ("tcp.port in {80, 443", 20, "Unexpected end of filter expression."),
    ("tcp.port in {80 443 8080}", 16, '"443" was unexpected in this context.'),
    ("ip.src = 10.0.0.1", 7, '"=" was unexpected in this context.'),
    ("foo.bar==1", 0, '"foo.bar" is not a valid protocol or protocol field.'),
    ("tcp and foo.bar", 8, '"foo.bar" is not a valid protocol or protocol field.'),
    ("ip.src == 999.1.1.1", 10, '"999.1.1.1" is not a valid hostname or IPv4 address.'),
    ('tcp.port == "eighty"', 12, "cannot be converted to Unsigned integer (16 bits)"),
    ("tcp.port == eighty", 12, '"eighty" is not a valid number.'),
    ("tcp.port == 70000", 12, '"70000" too big for this field, maximum 65535.'),
    ("tcp.port == -1", 12, "Unsigned numbers cannot be negative."),
    ("eth.dst == ff:ff:ff:ff:ff", 11,
     '"ff:ff:ff:ff:ff" is not a valid hostname or Ethernet address.'),
    ("ip.addr == 10.0.0.0/33", 11, "Netmask bits in a CIDR IPv4 address should be <= 32, not 33"),
    ("ipv6.addr == fe80::/129", 13, "Prefix in a IPv6 address should be <= 128, not 129"),
    ("ipv6.src == 2001:db8::zz", 12, "is not a valid IPv6 address."),
    ('dns.qry.name matches "(unclosed"', 21, "is not a valid regular expression"),
    ('http.host matches "\\.x"', 19, "\\. is not a valid character escape sequence"),
    ('http.host == "abc', 13, "The final quote was missing from a quoted string."),
    ("frame[0:6 == 1", 5, "The right bracket was missing from a slice."),
    ("frame[a:b] == 1", 6, '"a:b" is not a valid range.'),
    ("tcp.port[0:1] == 00", 8, "cannot be sliced"),
    ("tcp.port contains 80", 9, 'cannot be used with "contains"'),
    ("tcp.port matches \"8\"", 9, 'cannot be used with "matches"'),
    ("http.host matches foo", 18, "must be a double-quoted string"),
    ("tcp.analysis.flags == 1", 19, "cannot participate"),
    ("ip.src == tcp.port", 7, "are not of compatible types"),
    ("frame.len == 1 == 1", 15, '"==" was unexpected in this context.'),
    ("foo(1)", 0, "Function 'foo' does not exist"),
    ("len(tcp.port) > 1", 0, "Function len() needs"),
    ("lower(tcp.port) == 1", 0, "Function lower() needs a string"),
    ("len() == 1", 0, "needs exactly 1 argument"),
    ("1 == 1", 0, "Constant expression is invalid"),
    ('"abc"', 0, "is a constant"),
    ("ip.addr#2 == 1.1.1.1", 7, "layer operator"),
    ("tcp.flags & ip.src", 10, "needs integers"),
    ("tcp.port in {80..ip.src}", 17, "Only constants can be set elements."),
    ("'ab' == tcp.port", 0, "is not a valid character constant"),
]


@pytest.mark.parametrize("text,canonical", VALID)
def test_valid_filter_canonical_form(text: str, canonical: str) -> None:
    compiled = compile_filter(text)
    assert compiled.canonical == canonical
    # The canonical text is itself a valid filter with the same canonical form.
    assert compile_filter(canonical).canonical == canonical


@pytest.mark.parametrize("text,position,message", INVALID)
def test_invalid_filter_reports_position(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(text)
    assert info.value.position == position, info.value.message
    assert message.lower() in info.value.message.lower()
    result = check(text)
    assert not result.valid and result.position == position and result.error == info.value.message


def test_table_is_large_enough() -> None:
    assert len(VALID) + len(INVALID) >= 60


def test_warnings_for_suspicious_filters() -> None:
    ne = check("ip.addr != 10.0.0.1")
    assert ne.valid and ne.warnings and "every ip.addr" in ne.warnings[0].message
    assert check("ip.src != 10.0.0.1").warnings == ()  # single-valued field: no ambiguity
    assert "deprecated" in check("ip.addr ~= 10.0.0.1").warnings[0].message
    assert "tls" in check("ssl").warnings[0].message
    risky = check('http.host matches "(a+)+$"')
    assert risky.valid and "nested repetition" in risky.warnings[0].message
    assert check("tcp.port == 80").warnings == ()


def test_fields_used_by_a_filter() -> None:
    assert check("tcp.port == 80 && !arp || len(http.host) > 3").fields == (
        "arp", "http.host", "tcp.port")


def test_limits_on_size_depth_and_sets() -> None:
    limits = Limits(max_length=50, max_depth=5, max_set_items=3)
    too_long = check("tcp.port == 80 || " * 5 + "tcp", limits)
    assert not too_long.valid and "too long" in too_long.error and too_long.position == 50
    deep = check("!" * 6 + "tcp", limits)
    assert not deep.valid and "nested too deeply" in deep.error
    assert not check("((((((tcp))))))", limits).valid
    assert check("((((tcp))))", limits).valid
    big_set = check("tcp.port in {1, 2, 3, 4}", limits)
    assert not big_set.valid and "Too many set elements" in big_set.error
    # Long flat chains are fine: they do not nest.
    chain = " || ".join(f"tcp.port == {p}" for p in range(200))
    assert check(chain).valid
    assert not check("tcp.port == 1" + " + 1" * 100).valid


@pytest.mark.parametrize("text", [
    "(" * 3000 + "tcp" + ")" * 1000, "!" * 4000 + "tcp", "frame" + "[0:1]" * 800 + " == 00",
    "frame.len == " + "{" * 2000 + "1", "len(" * 1000 + "frame", "-" * 4000,
    "tcp.port == 1" + " + 1" * 1000, "tcp || " * 580 + "tcp", '"' * 4096, "[" * 4096,
])
def test_pathological_filters_fail_cleanly(text: str) -> None:
    result = check(text)
    assert result.valid is (text.startswith("tcp ||"))
    if not result.valid:
        assert result.error and 0 <= result.position <= len(text)
