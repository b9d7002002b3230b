"""The flow list's JSON is written directly (not through the model): it must be the model's."""
from __future__ import annotations

import json

import pytest

from app.core.flows import FlowTable
from app.core.index import build_index
from app.models import Flow, FlowList
from app.web.api_flows import flows_json
from tests.reference import CORPUS, capture_names
from tests.web.conftest import upload


def _same(a, b) -> bool:
    """Equal values of equal types, dict keys in the same order."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", capture_names())
def test_flows_json_is_what_the_model_serializes(name, tmp_path):
    idx = build_index(CORPUS / name, tmp_path / "index")
    for protocol in ("tcp", "udp"):
        table = FlowTable(idx, protocol)
        streams = table.matching(None)
        texts = flows_json(table, "0123456789abcdef", streams)
        for flow, text in zip(table.flows("0123456789abcdef", streams), texts, strict=True):
            want = json.loads(Flow.model_validate(flow).model_dump_json())
            assert _same(json.loads(text), want), (protocol, flow["stream"])


def test_pages_of_the_library_join_up(client):
    first = upload(client, CORPUS / "dpkt_http.pcap")
    second = upload(client, CORPUS / "test_dns.pcap")
    everything = client.get("/api/flows").json()
    FlowList.model_validate(everything)
    assert {f["capture"] for f in everything["flows"]} == {first["id"], second["id"]}
    total = everything["total"]
    assert total == len(everything["flows"]) >= 3
    for size in (1, 2, total - 1):
        pages = [client.get("/api/flows", params={"offset": o, "limit": size}).json()
                 for o in range(0, total, size)]
        assert [p["offset"] for p in pages] == list(range(0, total, size))
        assert all(p["total"] == total for p in pages)
        assert [f for p in pages for f in p["flows"]] == everything["flows"]
    beyond = client.get("/api/flows", params={"offset": total + 5}).json()
    assert beyond == {"flows": [], "total": total, "offset": total + 5}
