"""The event stream when the feed, the index and new subscribers interleave: every stream still
gets every row, then its ``done`` with the capture's real packet count.

Each test holds one side at the moment a busy server can catch it (a feed tick half done, an
index finished between two looks), so what happens under load happens here every time.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import threading

from app.core.capture import Captures
from app.core.errors import NotReady
from app.core.library import Library
from app.live.feed import Hub, Snapshot
from app.web.events import Encoder, _stream
from tests.reference import CORPUS


def _ready_capture(tmp_path) -> tuple[Captures, str, int]:
    library = Library(tmp_path / "data")
    captures = Captures(library)
    record = library.add_file(CORPUS / "dns_icmp.pcap", "dns_icmp.pcap", move=False)
    captures.index(record.id)
    total = library.get(record.id).packets
    assert total > 1
    return captures, record.id, total


async def _collect(hub: Hub, sub, capture_id: str) -> tuple[list[int], list[tuple[str, dict]]]:
    """The frame numbers of the rows a stream sent, and its other events in order."""
    numbers, others = [], []
    first = {"id": capture_id, "status": "indexing"}
    async for text in _stream(hub, sub, Encoder(False, capture_id, ""), 5.0, first):
        lines = text.strip("\n").split("\n")
        name = next((line[7:] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        if name == "rows":
            numbers += [row["number"] for row in json.loads(data)]
        elif name is not None:
            others.append((name, json.loads(data)))
    return numbers, others


def test_a_stream_that_joins_while_a_tick_reads_rows_gets_them_too(tmp_path, monkeypatch):
    captures, capture_id, total = _ready_capture(tmp_path)
    hub = Hub(captures, lambda _id: None)
    real_snapshot, real_batches = hub.snapshot, hub.batches
    indexing = True
    tick_reading, go_on = threading.Event(), threading.Event()

    def snapshot(cid: str) -> Snapshot:
        if indexing:  # an upload before its first chunk is indexed: nothing to show yet
            record = dataclasses.replace(captures.library.get(cid), status="indexing", packets=0)
            return Snapshot(record, None)
        return real_snapshot(cid)

    def batches(*args):
        tick_reading.set()
        assert go_on.wait(10)
        return real_batches(*args)

    monkeypatch.setattr(hub, "snapshot", snapshot)
    monkeypatch.setattr(hub, "batches", batches)

    async def scenario():
        nonlocal indexing
        first = await hub.subscribe(capture_id, "", 0)
        one = asyncio.create_task(_collect(hub, first, capture_id))
        await asyncio.sleep(0.3)
        indexing = False  # the whole index appears: the next tick reads its rows
        assert await asyncio.to_thread(tick_reading.wait, 10)
        second = await hub.subscribe(capture_id, "", 0)  # joins while that tick reads them
        two = asyncio.create_task(_collect(hub, second, capture_id))
        await asyncio.sleep(0.3)  # its own catch-up has nothing to read yet, and is over
        go_on.set()
        return await asyncio.wait_for(asyncio.gather(one, two), 20)

    for numbers, others in asyncio.run(scenario()):
        assert_whole(numbers, others, total)


def assert_whole(numbers: list[int], others: list, total: int) -> None:
    """Every frame once, in order, then ``done`` with the capture's packet count."""
    assert numbers == list(range(1, total + 1))
    assert others[-1] == ("done", {"status": "ready", "packets": total})


def test_an_index_finished_between_two_looks_is_seen_with_its_packets(tmp_path, monkeypatch):
    captures, capture_id, total = _ready_capture(tmp_path)
    hub = Hub(captures, lambda _id: None)
    real_open = captures.open
    looks = []

    def open_(cid: str):
        looks.append(cid)
        if len(looks) == 1:
            # What ``open`` says when it read the record while indexing and then found the
            # builder gone, because the index was finished in between.
            raise NotReady("still being indexed")
        return real_open(cid)

    monkeypatch.setattr(captures, "open", open_)
    snap = hub.snapshot(capture_id)
    assert snap.record.status == "ready" and snap.view is not None and snap.total == total

    # And through a stream: its done event never claims zero packets for a ready capture.
    looks.clear()

    async def scenario():
        sub = await hub.subscribe(capture_id, "", 0)
        return await asyncio.wait_for(_collect(hub, sub, capture_id), 20)

    assert_whole(*asyncio.run(scenario()), total)


def test_a_stream_that_joins_while_its_capture_is_deleted_is_told(tmp_path, monkeypatch):
    captures, capture_id, total = _ready_capture(tmp_path)
    hub = Hub(captures, lambda _id: None)
    real_snapshot = hub.snapshot
    in_tick, go_on = threading.Event(), threading.Event()
    ticks, deleted = [], []

    def snapshot(cid: str) -> Snapshot:
        if ticks and not deleted:  # the next tick's look: deleted while it looks
            in_tick.set()
            assert go_on.wait(10)
            captures.library.delete(cid)
            deleted.append(cid)
        snap = real_snapshot(cid)
        # Still being indexed (with every packet so far): the feed keeps looking, tick by tick.
        return Snapshot(dataclasses.replace(snap.record, status="indexing"), snap.view)

    monkeypatch.setattr(hub, "snapshot", snapshot)

    async def scenario():
        first = await hub.subscribe(capture_id, "", 0)
        one = asyncio.create_task(_collect(hub, first, capture_id))
        await asyncio.sleep(0.5)  # caught up; the feed's ticks find nothing new
        ticks.append(1)
        assert await asyncio.to_thread(in_tick.wait, 10)
        second = await hub.subscribe(capture_id, "", total)  # joins while the tick looks
        two = asyncio.create_task(_collect(hub, second, capture_id))
        await asyncio.sleep(0.1)
        go_on.set()
        return await asyncio.wait_for(asyncio.gather(one, two), 20)

    for _numbers, others in asyncio.run(scenario()):
        assert others[-1] == ("done", {"status": "deleted", "packets": total})
