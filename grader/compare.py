"""`grader grade --compare OLD_OUT`: what changed, per student and per item, since an earlier run.

After a rubric or grader change, staff want to see whose scores moved, on which items, before
publishing. The earlier run's results.json files are read as plain data (never trusted beyond
their numbers); nothing here changes a grade.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from grader.batch import BatchRow, safe_name


@dataclass(frozen=True)
class Change:
    """One item of one submission whose score differs (None: not graded in that run)."""

    submission: str
    item: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        """after - before (a missing side counts as 0)."""
        return (self.after or 0.0) - (self.before or 0.0)


def compare_runs(old_out: Path, rows: Sequence[BatchRow]) -> list[Change]:
    """The item scores that differ between OLD_OUT's results and this run's rows."""
    changes: list[Change] = []
    seen: set[str] = set()
    for row in rows:
        if row.failure:
            continue
        folder = safe_name(row.name)
        seen.add(folder)
        before = _item_scores(old_out / folder / "results.json")
        for item in sorted(set(before or {}) | set(row.item_scores)):
            old = before.get(item) if before is not None else None
            new = row.item_scores.get(item)
            if old is None or new is None or not math.isclose(old, new, abs_tol=1e-9):
                changes.append(Change(row.name, item, old, new))
    if old_out.is_dir():
        for results in sorted(old_out.glob("*/results.json")):
            if results.parent.name not in seen:
                for item, score in sorted((_item_scores(results) or {}).items()):
                    changes.append(Change(results.parent.name, item, score, None))
    return changes


MAX_RESULTS_BYTES = 16 * 2**20
_ITEM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def _item_scores(path: Path) -> dict[str, float] | None:
    """The item scores of an earlier results.json: a regular file of bounded size, plain finite
    numbers and plain item ids only (anything else reads as no results)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RESULTS_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            document = json.loads(handle.read(MAX_RESULTS_BYTES + 1))
        scores: dict[str, float] = {}
        for test in document["tests"]:
            item, score = test["extra_data"]["item"], test["score"]
            if (isinstance(item, str) and _ITEM_ID.fullmatch(item) and isinstance(score, (int, float))
                    and not isinstance(score, bool) and math.isfinite(score)):
                scores[item] = float(score)
        return scores
    except (OSError, ValueError, KeyError, TypeError, RecursionError, MemoryError):
        return None
    finally:
        os.close(fd)


def _shown(score: float | None) -> str:
    return "-" if score is None else f"{score:g}"


def print_changes(changes: Sequence[Change], old_out: Path, out: TextIO) -> None:
    """The changes as lines for the terminal (or that nothing changed)."""
    if not changes:
        print(f"\nCompared with {old_out}: no item score changed.", file=out)
        return
    students = len({c.submission for c in changes})
    print(f"\nCompared with {old_out}: {len(changes)} item score(s) changed for {students} submission(s):",
          file=out)
    for change in changes:
        sign = "+" if change.delta > 0 else ""
        # Printable only: names come from files an earlier run (or anyone) left in OLD_OUT.
        submission, item = (text if text.isprintable() else ascii(text) for text in (change.submission, change.item))
        print(f"  {submission}  {item}  {_shown(change.before)} -> {_shown(change.after)}"
              f"  ({sign}{change.delta:g})", file=out)


def changes_html(changes: Sequence[Change], old_out: Path) -> list[str]:
    """The changes as a table for summary.html."""
    lines = [f"<table><caption>Changes since {html.escape(str(old_out))}: {len(changes)} item score(s)"
             "</caption>", "<tr><th>submission</th><th>item</th><th>before</th><th>after</th><th>change</th></tr>"]
    for change in changes:
        lines.append(f"<tr><td>{html.escape(change.submission)}</td><td>{html.escape(change.item)}</td>"
                     f"<td>{_shown(change.before)}</td><td>{_shown(change.after)}</td><td>{change.delta:+g}</td></tr>")
    lines.append("</table>")
    return lines
