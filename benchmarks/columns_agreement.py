#!/usr/bin/env python3
"""Agreement of the packet-list columns with tshark 4.0.17, through the real pipeline (the
packet index and CaptureView rows; no reference data is fed in).

    python benchmarks/columns_agreement.py [capture ...] [--kinds N] [--rows N]
    python benchmarks/columns_agreement.py --tshark FILE.pcap [FILE ...]

The first form uses the corpus references (tests/data/pcaps): it prints the Protocol, Info,
Source, Destination, Time and Length agreement, per-capture figures and the most common kinds
of mismatch; --rows lists that many differing rows.  The second runs the installed tshark on
any capture (e.g. one from the capture generator) and compares the four text columns.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.core.test_rows_corpus import (Mismatch, compare_corpus, mismatch_kind,  # noqa: E402
                                         report)

TEXT_COLUMNS = ("protocol", "info", "source", "destination")


def _option(argv: list[str], name: str, default: int) -> int:
    if name in argv:
        i = argv.index(name)
        value = int(argv[i + 1])
        del argv[i:i + 2]
        return value
    return default


def against_tshark(path: Path, kinds: int, rows: int) -> None:
    """Compare the rows of any capture with the columns the installed tshark prints."""
    from app.core.capture import CaptureView  # noqa: PLC0415
    from app.core.index import build_index  # noqa: PLC0415
    from app.core.library import CaptureRecord  # noqa: PLC0415

    fields = [arg for col in ("Protocol", "Info", "Source", "Destination")
              for arg in ("-e", f"_ws.col.{col}")]
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=/t",
                          "-E", "quote=n", *fields], capture_output=True, check=True)
    expected = [line.split("\t") for line in out.stdout.decode("utf-8").split("\n")[:-1]]
    with tempfile.TemporaryDirectory() as work:
        index = build_index(path, Path(work) / "index")
        view = CaptureView(CaptureRecord(id="0" * 16, name=path.name, size_bytes=0,
                                         format=index.meta.format, status="ready"), index)
        agree: Counter = Counter()
        differing: list[Mismatch] = []
        for i, values in enumerate(expected):
            row = view.row(i)
            for column, value in zip(TEXT_COLUMNS, values):
                if row[column] == value:
                    agree[column] += 1
                else:
                    differing.append(Mismatch(path.name, i + 1, column, value, row[column]))
        index.close()
    total = max(1, len(expected))
    print(f"{path.name}: {len(expected)} frames (tshark) / {view.total} rows")
    for column in TEXT_COLUMNS:
        print(f"  {column:<12} {agree[column] / total:9.4%}")
    for kind, count in Counter(mismatch_kind(m) for m in differing).most_common(kinds):
        print(f"{count:6}  {kind}")
    for m in differing[:rows]:
        print(f"#{m.number} {m.column}\n   exp {m.expected!r}\n   got {m.got!r}")


def main(argv: list[str]) -> None:
    kinds = _option(argv, "--kinds", 25)
    rows = _option(argv, "--rows", 0)
    if "--tshark" in argv:
        argv.remove("--tshark")
        if shutil.which("tshark") is None:
            sys.exit("tshark is not installed")
        for name in argv:
            against_tshark(Path(name), kinds, rows)
        return
    with tempfile.TemporaryDirectory() as work:
        results = compare_corpus(Path(work), argv or None)
    print(report(results, kinds))
    for m in [m for r in results for m in r.mismatches][:rows]:
        print(f"{m.capture} #{m.number} {m.column}\n   exp {m.expected!r}\n   got {m.got!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
