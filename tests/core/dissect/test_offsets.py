"""Byte ranges of the tree (for the hex pane): inside the captured frame, children inside parents."""
from __future__ import annotations

import pytest

from tests.core.dissect.corpus import dissected, frames
from tests.reference import capture_names

# Wireshark puts these in the tree of a header whose item covers only the header bytes, while the
# bytes they describe follow it (payload, link-layer padding/trailer): they may lie outside.
OUTSIDE_PARENT = {"tcp.payload", "tcp.segment_data", "udp.payload", "eth.padding", "eth.trailer",
                  "vlan.trailer", "sll.trailer"}
KEYS = {"name", "label", "value", "offset", "length", "children"}


def _check(node: dict, cap: int, parent: tuple[int, int] | None, path: str, errors: list[str]) -> None:
    assert set(node) == KEYS, f"{path}: keys {sorted(node)}"
    assert isinstance(node["label"], str) and isinstance(node["children"], list)
    off, ln = node["offset"], node["length"]
    here = parent
    if off is not None:
        if ln is None or off < 0 or ln < 0 or off + ln > cap:
            errors.append(f"{path}/{node['name'] or node['label'][:30]}: {off}+{ln} outside frame of {cap}")
        elif parent is not None and node["name"] not in OUTSIDE_PARENT and ln > 0:
            po, pl = parent
            if off < po or off + ln > po + pl:
                errors.append(f"{path}/{node['name'] or node['label'][:30]}: {off}+{ln} outside parent {po}+{pl}")
        here = (off, ln)
    for ch in node["children"]:
        _check(ch, cap, here, f"{path}/{node['name'] or node['label'][:20]}", errors)


@pytest.mark.parametrize("name", capture_names())
def test_offsets_inside_frame_and_parent(name: str) -> None:
    errors: list[str] = []
    for (data, _lt, meta), (layers, _fv) in zip(frames(name), dissected(name)):
        assert layers[0]["name"] == "frame" and layers[0]["offset"] == 0 and layers[0]["length"] == len(data)
        for lay in layers:
            # protocol layers are top-level items: each is checked against the frame only
            _check(lay, len(data), None, f"#{meta.number}", errors)
    assert not errors, "\n".join(errors[:20])


def test_known_ranges_of_a_tcp_packet() -> None:
    """testmyids frame 4: Ethernet 0-14, IPv4 14-34, TCP 34-66 (options 54-66), HTTP 66-142."""
    layers, fv = dissected("testmyids.pcap")[3]
    by = {lay["name"]: lay for lay in layers}
    assert (by["eth"]["offset"], by["eth"]["length"]) == (0, 14)
    assert (by["ip"]["offset"], by["ip"]["length"]) == (14, 20)
    assert (by["tcp"]["offset"], by["tcp"]["length"]) == (34, 32)
    assert (by["http"]["offset"], by["http"]["length"]) == (66, 76)

    def find(nodes, name):
        for n in nodes:
            if n["name"] == name:
                return n
            r = find(n["children"], name)
            if r:
                return r

    assert (find(layers, "ip.ttl")["offset"], find(layers, "ip.ttl")["length"]) == (22, 1)
    assert (find(layers, "ip.src")["offset"], find(layers, "ip.src")["length"]) == (26, 4)
    assert (find(layers, "tcp.dstport")["offset"], find(layers, "tcp.dstport")["length"]) == (36, 2)
    assert (find(layers, "tcp.options")["offset"], find(layers, "tcp.options")["length"]) == (54, 12)
    assert find(layers, "http.request.method")["offset"] == 66
