"""The event stream in process: its framing, the bounded queue, resuming, filters, the HTML twin."""
from __future__ import annotations

import asyncio
import json

import pytest

from app.live.subscriber import Batch, Subscriber
from app.web.events import event
from tests.web.conftest import upload


def _events(client, path: str, headers: dict | None = None) -> list[tuple[str, str, str | None]]:
    """Every event of a stream that ends (a ready capture's), as (name, data, id)."""
    out, name, data, event_id = [], "message", [], None
    with client.stream("GET", path, headers=headers or {}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"
        for line in r.iter_lines():
            if line == "":
                if data:
                    out.append((name, "\n".join(data), event_id))
                name, data, event_id = "message", [], None
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line.startswith("id: "):
                event_id = line[4:]
    return out


def _rows(events) -> list[dict]:
    return [row for name, data, _ in events if name == "rows" for row in json.loads(data)]


def test_event_framing_gives_every_line_its_data_field():
    assert event("rows", "[1]", 7) == "event: rows\nid: 7\ndata: [1]\n\n"
    assert event("rows", "<tr>\n<td>1</td>\n</tr>") == "event: rows\ndata: <tr>\ndata: <td>1</td>\ndata: </tr>\n\n"


def test_ready_capture_streams_its_rows_then_done(client, corpus_dir):
    capture = upload(client, corpus_dir / "dns_icmp.pcap")
    events = _events(client, f"/api/captures/{capture['id']}/events")
    names = [name for name, _, _ in events]
    assert names[0] == "status" and names[-1] == "done"
    assert json.loads(events[-1][1]) == {"status": "ready", "packets": capture["packets"]}
    page = client.get(f"/api/captures/{capture['id']}/packets", params={"limit": 1000}).json()
    assert _rows(events) == page["packets"], "the stream's rows are the packet list's rows"
    for name, data, event_id in events:
        if name == "rows":
            assert int(event_id) == json.loads(data)[-1]["number"]


def test_last_event_id_resumes_after_that_frame(client, corpus_dir):
    capture = upload(client, corpus_dir / "206_example_b.pcap")  # 1556 packets: several batches
    total = capture["packets"]
    whole = _events(client, f"/api/captures/{capture['id']}/events")
    assert [len(json.loads(d)) for n, d, _ in whole if n == "rows"][0] == 500, "batches of 500 rows"
    cut = int([i for n, _, i in whole if n == "rows"][1])  # reconnect after the second batch
    rest = _events(client, f"/api/captures/{capture['id']}/events", {"Last-Event-ID": str(cut)})
    assert [r["number"] for r in _rows(rest)] == list(range(cut + 1, total + 1))
    mid = _events(client, f"/api/captures/{capture['id']}/events?last_event_id=777")
    assert [r["number"] for r in _rows(mid)] == list(range(778, total + 1))
    after = _events(client, f"/api/captures/{capture['id']}/events?after={total}")
    assert _rows(after) == [] and after[-1][0] == "done"
    r = client.get(f"/api/captures/{capture['id']}/events", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["error"]


def test_the_display_filter_is_applied_on_the_server(client, corpus_dir):
    capture = upload(client, corpus_dir / "dns_icmp.pcap")
    events = _events(client, f"/api/captures/{capture['id']}/events?filter=icmp")
    page = client.get(f"/api/captures/{capture['id']}/packets", params={"filter": "icmp"}).json()
    assert page["matched"] > 0 and _rows(events) == page["packets"]
    bad = client.get(f"/api/captures/{capture['id']}/events", params={"filter": "icmp &&"})
    assert bad.status_code == 400 and bad.json()["detail"]["position"] >= 0
    assert client.get("/api/captures/0123456789abcdef/events").status_code == 404


def test_html_twin_uses_the_packet_list_row_markup(client, corpus_dir):
    capture = upload(client, corpus_dir / "dns_icmp.pcap")
    events = _events(client, f"/captures/{capture['id']}/events?filter=dns")
    html = "\n".join(d for n, d, _ in events if n == "rows")
    page = client.get(f"/captures/{capture['id']}?filter=dns")
    # The same <tr> the page renders for each row (the page has the same rows, same markup).
    for line in html.split("\n"):
        if line.startswith("<tr "):
            assert line in page.text
    assert html.count("<tr ") == client.get(f"/api/captures/{capture['id']}/packets",
                                            params={"filter": "dns"}).json()["matched"]
    assert 'data-index="0"' in html and "filter=dns" in html


def _batch(first: int, count: int) -> Batch:
    rows = [{"number": n} for n in range(first, first + count)]
    return Batch(rows, list(range(first - 1, first - 1 + count)), first + count - 1)


def test_a_full_queue_becomes_one_resync_and_later_rows_follow_it():
    async def scenario():
        sub = Subscriber("0" * 16, "", 0, max_rows=1000)
        sub.offer("status", {"status": "capturing"})
        for first in range(1, 1001, 500):
            sub.offer("rows", _batch(first, 500))
        assert sub.pending_rows == 1000
        sub.offer("rows", _batch(1001, 500))  # one batch too many: the queue is dropped
        assert sub.pending_rows == 0 and sub.resyncs == 1
        sub.offer("rows", _batch(1501, 10))
        sub.offer("progress", {"packets": 1})
        sub.offer("progress", {"packets": 2})  # progress is replaced, not queued twice
        got = []
        while (item := await sub.next(0.01)) is not None:
            got.append(item)
        return got

    got = asyncio.run(scenario())
    kinds = [k for k, _ in got]
    assert kinds == ["resync", "status", "rows", "progress"]
    assert got[0][1] == {"after": 1500}
    assert [r["number"] for r in got[2][1].rows] == list(range(1501, 1511))
    assert got[3][1] == {"packets": 2}


def test_an_idle_queue_times_out_for_a_keep_alive():
    async def scenario():
        sub = Subscriber("0" * 16, "", 0, max_rows=10)
        return await sub.next(0.05)

    assert asyncio.run(scenario()) is None


@pytest.mark.parametrize("kind", ["done", "shutdown"])
def test_a_closed_subscriber_takes_no_more_events(kind):
    async def scenario():
        sub = Subscriber("0" * 16, "", 0, max_rows=10)
        sub.close(kind, {"status": "ready"})
        sub.offer("rows", _batch(1, 1))
        return [await sub.next(0.01), await sub.next(0.01)]

    first, second = asyncio.run(scenario())
    assert first == (kind, {"status": "ready"}) and second is None
