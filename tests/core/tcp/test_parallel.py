"""Index passes split by TCP stream between this process and a worker process.

With the thresholds lowered to one segment, every corpus capture with two or more TCP streams is
indexed through the worker process (TCP analysis, and TCP reassembly replay when it has two
connections to replay); every array of the index (analysis columns, per-stream arrays, PDU
columns, everything else) must equal the one indexing in this process alone gives.  A worker
that cannot start, breaks or cannot take its job must only cost time.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest

from app.core import index as index_module
from app.core import procpool, tcppasses
from app.core.index import build_index
from app.core.tcp import analyze
from app.core.tcp.analysis import StreamSummary
from tests.core.tcp.synth import build
from tests.reference import CORPUS, capture_names, load_reference

NEVER = 1 << 62
RICH = "many-protocols.pcap"  # 126 TCP streams, HTTP and TLS among them


def _multi_stream_captures() -> list[str]:
    """Corpus captures whose reference has at least two TCP streams: the ones that split."""
    out = []
    for name in capture_names():
        ref = load_reference(name)
        if "tcp.stream" in ref["fields"]:
            i = ref["fields"].index("tcp.stream")
            if len({f[i] for f in ref["frames"] if f[i] is not None}) >= 2:
                out.append(name)
    return out


CAPTURES = _multi_stream_captures()


def _set_thresholds(monkeypatch, value: int) -> None:
    monkeypatch.setattr(tcppasses, "PARALLEL_FROM", value)


def _arrays(directory: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(directory)): np.load(p) for p in sorted(directory.rglob("*.npy"))}


def _assert_same_index(a: Path, b: Path) -> None:
    got, want = _arrays(a), _arrays(b)
    assert sorted(got) == sorted(want)
    assert any(name.startswith("tcp_streams/") for name in want)
    for name, values in want.items():
        assert got[name].dtype == values.dtype, name
        # bytes, not values: NaN initial RTTs must be equal too
        assert got[name].tobytes() == values.tobytes(), name
    assert (a / "meta.json").read_text() == (b / "meta.json").read_text()


@pytest.fixture
def index(monkeypatch):
    """index(capture, folder, worker_reads=None) -> folder: builds the index of a corpus
    capture, handing the TCP passes the file their worker reads (the capture itself by
    default, whatever path the index builder gives)."""
    real = tcppasses.tcp_columns
    reads: list[Path] = []

    def tcp_columns(data, cols, release, capture=None, meanwhile=lambda: None, folder=None):
        return real(data, cols, release, reads[-1], meanwhile, folder)

    def run(name: str, directory: Path, worker_reads: Path | None = None) -> Path:
        reads.append(worker_reads or CORPUS / name)
        build_index(CORPUS / name, directory)
        return directory

    monkeypatch.setattr(tcppasses, "tcp_columns", tcp_columns)
    return run


@pytest.fixture
def jobs(monkeypatch) -> list[tuple[str, Future | None]]:
    """(function, future) of every job given to procpool.submit (None: it stayed here)."""
    monkeypatch.setattr(procpool, "_cores", lambda: 2)
    handed: list[tuple[str, Future | None]] = []
    real = procpool.submit

    def submit(fn, *args):
        future = real(fn, *args)
        handed.append((getattr(fn, "__name__", ""), future))
        return future

    monkeypatch.setattr(procpool, "submit", submit)
    return handed


def _alone(name: str, tmp_path: Path, index, monkeypatch) -> Path:
    _set_thresholds(monkeypatch, NEVER)
    folder = index(name, tmp_path / "alone")
    _set_thresholds(monkeypatch, 1)
    return folder


def test_corpus_has_captures_that_split():
    assert len(CAPTURES) >= 5


@pytest.mark.parametrize("name", CAPTURES)
def test_worker_process_gives_the_same_index(name, tmp_path, monkeypatch, index, jobs, caplog):
    alone = _alone(name, tmp_path, index, monkeypatch)
    assert jobs == []
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = index(name, tmp_path / "split")
    assert jobs and all(f is not None and f.exception() is None for _fn, f in jobs)
    assert not caplog.records
    _assert_same_index(split, alone)


def test_worker_maps_the_columns_a_big_capture_keeps_on_disk_and_fills_its_rows(tmp_path, monkeypatch, index, jobs):
    alone = _alone(RICH, tmp_path, index, monkeypatch)
    monkeypatch.setattr(index_module, "SPILL_FROM", 0)  # the columns go to files, as for a big one
    mapped: list[bool] = []
    gathered = tcppasses.Part.gather

    def gather(part, data, release=None):
        mapped.append(all(isinstance(v, np.memmap) for v in part.cols.values()))
        return gathered(part, data, release)

    monkeypatch.setattr(tcppasses.Part, "gather", gather)  # seen here: this process's pieces
    split = index(RICH, tmp_path / "split")
    assert mapped and all(mapped) and [fn for fn, _f in jobs] == ["pieces_in_worker"]
    # the worker wrote its rows into the index's column files: only its summary came back
    done = jobs[0][1].result()
    assert done.pieces and done.outcome is None and isinstance(done.summary, StreamSummary)
    _assert_same_index(split, alone)


@pytest.mark.parametrize("name", CAPTURES[:6])
def test_column_files_filled_by_one_process_equal_columns_in_memory(name, tmp_path, monkeypatch,
                                                                    index, jobs):
    alone = _alone(name, tmp_path, index, monkeypatch)
    _set_thresholds(monkeypatch, NEVER)
    monkeypatch.setattr(index_module, "SPILL_FROM", 0)
    _assert_same_index(index(name, tmp_path / "files"), alone)
    assert jobs == []


def test_one_job_runs_both_passes_of_the_worker_pieces(tmp_path, monkeypatch, index, jobs):
    _set_thresholds(monkeypatch, 1)
    index(RICH, tmp_path / "split")
    assert [fn for fn, _f in jobs] == ["pieces_in_worker"]
    done = jobs[0][1].result()
    assert done.pieces[0] == tcppasses.PIECES - 1  # the last piece is always the worker's
    values, _summary, replayed, result = done.outcome
    assert len(values["seq"]) > 100 and len(replayed) > 100  # it analysed and replayed


def test_pieces_are_taken_from_both_ends_until_the_processes_meet(tmp_path, monkeypatch, index,
                                                                  jobs):
    alone = _alone(RICH, tmp_path, index, monkeypatch)
    here: list[list[int]] = []
    taken = tcppasses._take

    def take(parts, order, claims, *args):
        done = taken(parts, order, claims, *args)
        here.append([k for k, _ in done])
        return done

    monkeypatch.setattr(tcppasses, "_take", take)  # seen here: this process's pieces
    split = index(RICH, tmp_path / "split")
    worker = jobs[0][1].result().pieces
    assert here[0] == list(range(len(here[0])))
    assert worker == list(range(tcppasses.PIECES - 1, tcppasses.PIECES - 1 - len(worker), -1))
    assert sorted(here[0] + worker) == list(range(tcppasses.PIECES))
    _assert_same_index(split, alone)


@pytest.mark.parametrize("head_start", [0, 1, 15])
def test_claims_let_each_piece_go_to_one_process(head_start):
    claims = tcppasses.Claims.new()
    try:
        taken = [k for k in range(head_start) if claims.take(k)]
        assert taken == list(range(head_start))
        assert [k for k in range(16) if claims.take(k)] == list(range(head_start, 16))
        assert not any(claims.take(k) for k in range(16))
    finally:
        claims.remove()
    assert not Path(claims.folder).exists()


def test_no_worker_process_builds_the_index_in_this_process(tmp_path, monkeypatch, index, jobs,
                                                          caplog):
    def refuse():
        raise OSError("no processes here")

    alone = _alone(RICH, tmp_path, index, monkeypatch)
    monkeypatch.setattr(procpool, "_pool", None)
    monkeypatch.setattr(procpool, "_new_pool", refuse)
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = index(RICH, tmp_path / "split")
    assert len(jobs) == 1 and all(f is None for _fn, f in jobs)
    assert "no processes here" in caplog.text
    _assert_same_index(split, alone)


def test_no_folder_for_the_claims_builds_the_index_in_this_process(tmp_path, monkeypatch, index,
                                                                   jobs, caplog):
    def refuse():
        raise PermissionError("read-only temporary folder")

    alone = _alone(RICH, tmp_path, index, monkeypatch)
    monkeypatch.setattr(tcppasses.Claims, "new", refuse)
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = index(RICH, tmp_path / "split")
    assert jobs == [] and "read-only temporary folder" in caplog.text
    _assert_same_index(split, alone)


class _BrokenPool:
    """A pool whose worker died: every job fails with BrokenProcessPool."""

    shut = False

    def submit(self, fn, *args):
        future: Future = Future()
        future.set_exception(BrokenProcessPool("worker killed"))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        self.shut = True


def test_broken_worker_process_is_replaced_and_its_part_computed_here(tmp_path, monkeypatch,
                                                                     index, jobs, caplog):
    alone = _alone(RICH, tmp_path, index, monkeypatch)
    broken = _BrokenPool()
    monkeypatch.setattr(procpool, "_pool", broken)
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = index(RICH, tmp_path / "split")
    assert "BrokenProcessPool" in caplog.text
    assert broken.shut and jobs[0][1].exception()
    # the next job starts a new worker
    assert procpool.submit(os.getpid).result(timeout=60) != os.getpid()
    assert procpool._pool is not broken
    _assert_same_index(split, alone)


def test_job_the_worker_cannot_receive_is_computed_here(tmp_path, monkeypatch, index, jobs,
                                                        caplog):
    real = tcppasses.pieces_in_worker
    alone = _alone(RICH, tmp_path, index, monkeypatch)
    # a local function cannot be pickled: the job fails on its way to the worker
    monkeypatch.setattr(tcppasses, "pieces_in_worker", lambda *args: real(*args))
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = index(RICH, tmp_path / "split")  # and the capture's mmap could be closed
    assert jobs[0][1].exception() is not None
    assert "this process does its part" in caplog.text
    _assert_same_index(split, alone)


@pytest.mark.parametrize("on_disk", [False, True], ids=["columns in memory", "column files"])
def test_worker_reading_another_file_refuses_and_the_part_is_replayed_here(
        on_disk, tmp_path, monkeypatch, index, jobs, caplog):
    alone = _alone(RICH, tmp_path, index, monkeypatch)
    if on_disk:  # the worker would have filled the column files: this process does it
        monkeypatch.setattr(index_module, "SPILL_FROM", 0)
    other = tmp_path / "other.pcap"
    shutil.copy(CORPUS / RICH, other)
    with open(other, "r+b") as f:  # same size, other bytes at its end
        f.seek(-4, 2)
        f.write(b"XXXX")
    with caplog.at_level(logging.WARNING, logger="wirelens"):
        split = index(RICH, tmp_path / "split", worker_reads=other)
    assert "changed since it was indexed" in caplog.text
    _assert_same_index(split, alone)


def test_worker_process_imports_no_web_framework_nor_scapy(tmp_path, monkeypatch, index, jobs):
    _set_thresholds(monkeypatch, 1)
    index(RICH, tmp_path / "split")  # the worker has run both passes
    future = procpool.submit(eval, "sorted(__import__('sys').modules)")
    assert future is not None
    modules = future.result(timeout=60)
    assert {"app.core.tcp.analysis", "app.core.tcppasses"} <= set(modules)
    heavy = [m for m in modules if m.split(".")[0] in ("scapy", "fastapi", "starlette", "uvicorn")]
    assert heavy == []


def test_warming_the_worker_loads_the_index_passes(monkeypatch):
    monkeypatch.setattr(procpool, "_cores", lambda: 2)
    monkeypatch.setattr(procpool, "_pool", None)  # a new worker, which no job has used yet
    procpool.warm()
    pool = procpool._pool
    try:
        # jobs run in order in the one worker: this one sees what warming loaded
        modules = procpool.submit(eval, "sorted(__import__('sys').modules)").result(timeout=60)
    finally:
        pool.shutdown(wait=True)
    assert {"app.core.tcppasses", "app.core.splitdecode"} <= set(modules)


def test_pieces_keep_streams_whole_and_balance_rows():
    stream = np.repeat(np.arange(6), [5, 1, 3, 2, 4, 5])[np.random.default_rng(1).permutation(20)]
    piece = procpool.pieces(stream)
    assert not set(stream[piece == 1]) & set(stream[piece == 0])
    # stream 3 holds rows 9-10 of 20: its middle, 10, is in the second piece
    assert set(stream[piece == 1]) == {3, 4, 5} and (piece == 1).sum() == 11
    assert len(set(procpool.pieces(np.zeros(7, dtype=np.int64)).tolist())) == 1  # one stream
    many = procpool.pieces(np.arange(64), count=16)
    assert np.bincount(many).tolist() == [4] * 16 and (np.diff(many) >= 0).all()


def test_pieces_balance_weighted_work():
    stream = np.repeat(np.arange(6), [5, 1, 3, 2, 4, 5])
    heavy = np.where(stream == 5, 3.0, 1.0)  # stream 5 is half of the work
    assert set(stream[procpool.pieces(stream, heavy) == 1]) == {5}
    four = procpool.pieces(stream, heavy, count=4)
    assert set(stream[four == 3]) == {5} and set(stream[four == 0]) == {0, 1}


def test_duplicate_ack_before_any_new_ack_points_at_no_frame():
    # No segment of the flow changed the ACK value yet: Wireshark's lastnondupack is still 0,
    # whatever other streams carried before.
    alone = analyze(build("A P 1 0 stream=1", "A P 1 0 stream=1"))
    after = analyze(build("A A 1000 5000 stream=0", "A P 1 0 stream=1", "A P 1 0 stream=1"))
    assert alone.dup_ack_num.tolist() == [0, 1]
    assert alone.dup_ack_frame.tolist() == [0, 0]
    assert after.dup_ack_frame.tolist() == [0, 0, 0]


KILLED_SERVER = """
import os, signal, sys
from app.core import procpool
procpool._cores = lambda: 2
worker = procpool.submit(os.getpid).result(timeout=60)
open(sys.argv[1], "w").write(str(worker))
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_process_ends_with_a_killed_server(tmp_path):
    out = tmp_path / "worker.pid"
    subprocess.run([sys.executable, "-c", KILLED_SERVER, str(out)], cwd=Path(__file__).parents[3],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    worker = int(out.read_text())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _alive(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive
