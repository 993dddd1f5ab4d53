"""The table of public checks that `grader check` and the kit's checker both print."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from grader.checks.feedback import QUOTE
from grader.kit.written_format import OK, WrittenCheck

__all__ = ["RETEST_NOTE", "Row", "feedback_lines", "print_report"]

# The grader's own lines (verdicts: which entries differ, expected and got; hints) are always
# shown in full. Only text quoted from the student's code (a traceback, printed output) is
# shortened: its last lines, where the error is, each cut to the table's width.
_QUOTED_LINES = 4
_QUOTED_WIDTH = 100
FULL_OPTION = "--full"
RETEST_NOTE = ("Gradescope also re-tests each public function on other inputs of the same kind, which it does "
               "not show: a public item's points count only as far as those tests pass too.")
"""Printed under the public total: the public inputs alone do not make the score."""


@dataclass(frozen=True)
class Row:
    """One public item's line of the table: points, verdict and feedback."""

    item_id: str
    score: float
    max_score: float
    passed: bool
    feedback: str
    estimate: bool = False  # scored differently here than on Gradescope (see its feedback)


def feedback_lines(text: str, *, full: bool = False) -> list[str]:
    """The non-blank lines of a feedback text to print: all of them if `full`, else see above."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines() if line.strip()]
    if full:
        return lines
    shown: list[str] = []
    quoted: list[str] = []
    for line in [*lines, ""]:  # the empty last line ends a quoted block at the end
        if line.startswith(QUOTE):
            quoted.append(line)
            continue
        shown += _shorten(quoted)
        quoted = []
        if line:
            shown.append(line)
    return shown


def _shorten(quoted: list[str]) -> list[str]:
    """A quoted block's last lines, cut to the table's width, after a count of those left out.

    The very last line (a traceback's error message) may be three times as wide: its end is
    often what matters (numpy's "(size 32 is different from 4)").
    """
    last = quoted[-_QUOTED_LINES:]
    kept = [_cut(line, _QUOTED_WIDTH * (3 if i == len(last) - 1 else 1)) for i, line in enumerate(last)]
    left_out = len(quoted) - len(kept)
    if left_out:
        kept.insert(0, f"{QUOTE}… ({left_out} more line{'s' * (left_out > 1)}; {FULL_OPTION} shows them)")
    return kept


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def print_report(out: TextIO, *, root: str, rows: Sequence[Row], notes: str, layer: str | None,
                 written: WrittenCheck | None, full: bool = False) -> None:
    """The table of public items, the public total, the isolation layer and the written answers."""
    width = max([len("item"), *(len(row.item_id) for row in rows)])
    print(f"Public checks of {root}\n", file=out)
    print(f"{'item':<{width}}  {'points':>11}  result", file=out)
    print("-" * (width + 28), file=out)
    for row in rows:
        points = f"{round(row.score, 2):g}/{row.max_score:g}"
        verdict = ("PASS" if row.passed else "FAIL") + (" (estimate)" if row.estimate else "")
        print(f"{row.item_id:<{width}}  {points:>11}  {verdict}", file=out)
        for line in feedback_lines(row.feedback, full=full):
            print(f"{'':<{width}}    {line}", file=out)
    print("-" * (width + 28), file=out)
    score = sum(row.score for row in rows)
    max_score = sum(row.max_score for row in rows)
    estimated = [row.item_id for row in rows if row.estimate]
    caveat = f"{', '.join(estimated)} estimated; " if estimated else ""
    print(f"Public total: {round(score, 2):g} of {max_score:g} points "
          f"({caveat}hidden and after-due-date items are graded on Gradescope only)", file=out)
    print(RETEST_NOTE, file=out)
    if notes.strip():
        print(f"\nNotes:\n{notes.strip()}", file=out)
    shown_layer = layer or "none (no notebook code was run)"
    print(f"\nIsolation layer used for your notebook: {shown_layer}", file=out)
    if written is not None:
        _print_written(out, written)


def _print_written(out: TextIO, written: WrittenCheck) -> None:
    """Why the written-answers file cannot be read, or each answer's format."""
    for problem in written.problems:
        print(f"Written answers: {problem}", file=out)
    if written.problems:
        return
    keys = "" if any(answer.missing for answer in written.answers) else " and has every expected key"
    print(f"Written answers: {written.name} parses{keys}. The format of each answer (the answers "
          "themselves are graded on Gradescope after the due date):", file=out)
    width = max((len(answer.key) for answer in written.answers), default=0)
    for answer in written.answers:
        print(f"  {answer.key:<{width}}  {answer.text()}", file=out)
    if all(answer.status == OK for answer in written.answers):
        print("  Every answer has the expected format.", file=out)
