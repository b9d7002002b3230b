"""Run thousands of fuzz cases against the core and print how many ran and how many failed.

    .venv/bin/python -m tests.fuzz.run                  # 3000 cases, every corpus capture
    .venv/bin/python -m tests.fuzz.run --cases 10000 --start 50000
    .venv/bin/python -m tests.fuzz.run --case 1234      # one case again, with its traceback

A case is a corpus capture mutated by seed (see mutate.py); it must index, page, show details,
filter, export, list flows and draw ladders without any exception but a WirelensError, within
a time bound per packet and a memory bound per file byte (see runner.py). Exit status 1 when a
case failed.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time

from tests.fuzz.runner import corpus_sources, run
from tests.reference import CORPUS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000, help="number of cases (default 3000)")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--case", type=int, action="append", help="run just this seed (repeatable)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--max-bytes", type=int, default=None, help="only corpus files up to this size")
    parser.add_argument("--no-dissecting-filters", action="store_true",
                        help="skip the filters that dissect every packet (faster)")
    args = parser.parse_args(argv)
    seeds = args.case or list(range(args.start, args.start + args.cases))
    sources = corpus_sources(CORPUS, args.max_bytes)
    counts: collections.Counter[str] = collections.Counter()
    failures = []
    started = time.monotonic()

    def progress(result) -> None:
        counts[result.status] += 1
        if result.failed:
            failures.append(result)
            print(f"FAIL {result.status}: {result.description or result.seed}\n{result.message}", flush=True)
        done = sum(counts.values())
        if done % 250 == 0:
            print(f"... {done}/{len(seeds)} cases, {len(failures)} failures, "
                  f"{time.monotonic() - started:.0f} s", flush=True)

    results = run(seeds, sources, workers=args.workers, dissecting=not args.no_dissecting_filters,
                  progress=progress)
    elapsed = time.monotonic() - started
    slowest = max(results, key=lambda r: r.seconds, default=None)
    biggest = max(results, key=lambda r: r.peak_bytes, default=None)
    print(f"cases: {len(results)}  failures: {len(failures)}  ({elapsed:.0f} s, {len(sources)} corpus files)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if slowest:
        print(f"slowest case: {slowest.seconds:.2f} s ({slowest.packets} packets) {slowest.description}")
    if biggest:
        print(f"largest traced peak: {biggest.peak_bytes / 2**20:.1f} MiB {biggest.description}")
    if failures:
        print("reproduce with: python -m tests.fuzz.run " + " ".join(f"--case {r.seed}" for r in failures[:20]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
