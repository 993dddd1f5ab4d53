"""The table of public checks that `grader check` and the kit's checker both print."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Row", "first_lines", "print_report"]

_FEEDBACK_LINES = 2
_FEEDBACK_WIDTH = 100


@dataclass(frozen=True)
class Row:
    """One public item's line of the table: points, verdict and feedback."""

    item_id: str
    score: float
    max_score: float
    passed: bool
    feedback: str
    estimate: bool = False  # scored differently here than on Gradescope (see its feedback)


def first_lines(text: str) -> list[str]:
    """The first non-blank lines of a feedback text, each cut to the table's width."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()][:_FEEDBACK_LINES]
    width = _FEEDBACK_WIDTH
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]


def print_report(out: TextIO, *, root: str, rows: Sequence[Row], notes: str, layer: str | None,
                 written_name: str | None, written_problems: Sequence[str]) -> None:
    """The table of public items, the public total, the isolation layer and the written file."""
    width = max([len("item"), *(len(row.item_id) for row in rows)])
    print(f"Public checks of {root}\n", file=out)
    print(f"{'item':<{width}}  {'points':>11}  result", file=out)
    print("-" * (width + 28), file=out)
    for row in rows:
        points = f"{round(row.score, 2):g}/{row.max_score:g}"
        verdict = ("PASS" if row.passed else "FAIL") + (" (estimate)" if row.estimate else "")
        print(f"{row.item_id:<{width}}  {points:>11}  {verdict}", file=out)
        for line in first_lines(row.feedback):
            print(f"{'':<{width}}    {line}", file=out)
    print("-" * (width + 28), file=out)
    score = sum(row.score for row in rows)
    max_score = sum(row.max_score for row in rows)
    estimated = [row.item_id for row in rows if row.estimate]
    caveat = f"{', '.join(estimated)} estimated; " if estimated else ""
    print(f"Public total: {round(score, 2):g} of {max_score:g} points "
          f"({caveat}hidden and after-due-date items are graded on Gradescope only)", file=out)
    if notes.strip():
        print(f"\nNotes:\n{notes.strip()}", file=out)
    shown_layer = layer or "none (no notebook code was run)"
    print(f"\nIsolation layer used for your notebook: {shown_layer}", file=out)
    if written_name and not written_problems:
        print(f"Written answers: {written_name} parses and has every expected key "
              "(graded on Gradescope after the due date).", file=out)
    for problem in written_problems if written_name else []:
        print(f"Written answers: {problem}", file=out)
