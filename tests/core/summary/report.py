"""Prints the column agreement of the summary with tshark over the whole corpus.

    python -m tests.core.summary.report [capture ...] [--rows N]
"""
from __future__ import annotations

import sys
from collections import Counter

from tests.core.summary.corpus import COLUMNS, compare_capture, mismatch_kind
from tests.reference import capture_names


def main(argv: list[str]) -> None:
    show = 0
    if "--rows" in argv:
        i = argv.index("--rows")
        show = int(argv[i + 1])
        del argv[i:i + 2]
    names = argv or capture_names()
    total, agree, rows = 0, Counter(), []
    for name in names:
        n, a, r = compare_capture(name)
        total += n
        agree.update(a)
        rows += r
    print(f"{total} frames in {len(names)} captures")
    for col in COLUMNS:
        print(f"  {col:<12} {agree[col] / total:8.2%}  ({total - agree[col]} differ)")
    kinds = Counter(mismatch_kind(r) for r in rows)
    print("\nmost common mismatch kinds:")
    for kind, count in kinds.most_common(40):
        print(f"{count:6}  {kind}")
    for r in rows[:show]:
        print(f"{r.capture} #{r.number} {r.column}\n   exp {r.expected!r}\n   got {r.got!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
