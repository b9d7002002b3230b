"""Aggregate fields (tcp.port, ip.addr ...) compared part by part give what their joined
occurrences give, for every operator, on real captures."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from app.core.capture import CaptureView
from app.core.dfilter import compile_filter
from app.core.index import build_index
from app.core.library import CaptureRecord
from tests.reference import CORPUS

# The package's evaluate() function hides the module of the same name from ``from ... import``.
evaluate_module = importlib.import_module("app.core.dfilter.evaluate")

FILTERS = ["tcp.port == 80", "tcp.port != 80", "tcp.port ~= 80", "tcp.port === 80", "tcp.port >= 1024",
           "80 == tcp.port", "ip.addr == 10.0.0.0/8", "ip.addr != 192.168.1.1", "ip.addr === 10.0.0.1",
           "udp.port < 100", "eth.addr == ff:ff:ff:ff:ff:ff", "ipv6.addr ~= ::1", "!(tcp.port == 443)"]


@pytest.fixture(scope="module", params=["many-protocols.pcap", "gre-sample.pcap", "icmp-destunreach-udp.pcap"])
def view(request, tmp_path_factory):
    index = build_index(CORPUS / request.param, tmp_path_factory.mktemp("agg") / "index")
    return CaptureView(CaptureRecord(id="0" * 16, name=request.param, size_bytes=0, format="pcap",
                                     status="ready"), index)


@pytest.mark.parametrize("text", FILTERS)
def test_parts_equal_the_joined_field(view, text, monkeypatch):
    real, used = evaluate_module._Run.compare_parts, []

    def spy(self, t):
        result = real(self, t)
        used.append(result is not None)
        return result

    monkeypatch.setattr(evaluate_module._Run, "compare_parts", spy)
    split = compile_filter(text).evaluate(view.source)
    assert any(used), "the filter was not split into its parts"
    monkeypatch.setattr(evaluate_module._Run, "compare_parts", lambda self, t: None)
    joined = compile_filter(text).evaluate(view.source)
    assert np.array_equal(split, joined)
