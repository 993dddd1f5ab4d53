"""Terminal output: the score table and the progress line."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from grader.batch import BatchRow
from grader.rubric import Rubric


def print_table(rows: Sequence[BatchRow], rubric: Rubric, expected_ok: Mapping[str, bool], out: TextIO) -> None:
    """One line per submission: score per part, total, and whether it matches expected.json.

    A submission the grader could not grade shows no scores but NOT GRADED (see `BatchRow.failure`).
    """
    parts = [p for p in rubric.parts if p not in {m.part for m in rubric.manual}]
    width = max([len("submission"), *(len(r.name) for r in rows)])
    widths = {p: max(len(p), 5) for p in parts}
    header = f"{'submission':<{width}} " + " ".join(f"{p:>{widths[p]}}" for p in parts) + f" {'total':>7}"
    if expected_ok:
        header += "  expected"
    print(header, file=out)
    print(f"{'(max)':<{width}} " + " ".join(f"{rubric.parts[p]:>{widths[p]}g}" for p in parts)
          + f" {rubric.autograded_points:>7g}", file=out)
    print("-" * len(header), file=out)
    for row in rows:
        if row.failure:
            print(f"{row.name:<{width}} " + " ".join(f"{'-':>{widths[p]}}" for p in parts)
                  + f" {'-':>7}  NOT GRADED", file=out)
            continue
        line = f"{row.name:<{width}} " + " ".join(f"{row.part_scores.get(p, 0):>{widths[p]}.4g}" for p in parts)
        line += f" {row.total:>7.4g}"
        if row.name in expected_ok:
            line += "  ok" if expected_ok[row.name] else "  MISMATCH"
        print(line, file=out)


def progress_printer(
    out: TextIO, *, interval: float = 5.0, clock: Callable[[], float] = time.monotonic,
) -> Callable[[int, int, float], None]:
    """A callback printing `done/total, rate, time left`.

    On a terminal it refreshes one line in place; elsewhere (a log file, CI) it prints a line at
    most every `interval` seconds, and always the final one.
    """
    interactive = out.isatty()
    last = [clock()]

    def show(done: int, total: int, elapsed: float) -> None:
        now = clock()
        # A log gains nothing from a line per submission: thousands of them bury the table.
        if done < total and now - last[0] < (0.2 if interactive else interval):
            return
        last[0] = now
        text = _progress_text(done, total, elapsed)
        if interactive:
            print("\r" + text, end="\n" if done == total else "", file=out, flush=True)
        else:
            print(text, file=out, flush=True)

    return show


def _progress_text(done: int, total: int, elapsed: float) -> str:
    """`[####    ] done/total  rate/s  time left`."""
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 else 0.0
    bar = "#" * int(30 * done / total) if total else ""
    return f"[{bar:<30}] {done}/{total}  {rate:.1f}/s  {left:.0f}s left"
