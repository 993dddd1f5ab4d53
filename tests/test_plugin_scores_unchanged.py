"""Homework 1 graded through its plugin scores exactly as before the move, item by item.

tests/data/hw1_item_scores.json holds every item's score for every sample of sample_submissions/hw1
(the `real_*` corpus aside) graded with a fixed salt by the grader as it stood before Homework 1's
checks, input generators and weights task moved to reference_solutions/hw1/plugin.py (main at
57e1a67). Hidden-input items are compared too: the salt is fixed, so their inputs are the same.
If grading changes on purpose, regenerate the file with `python tests/test_plugin_scores_unchanged.py`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from conftest import RUBRIC, SAMPLES

from grader.engine import GradeOptions, grade
from grader.rubric import load_rubric
from grader.submission import open_submission

SNAPSHOT = Path(__file__).parent / "data" / "hw1_item_scores.json"
SALT = "plugin-refactor-snapshot"


def item_scores() -> dict[str, dict[str, Any]]:
    """Every sample's item scores under the fixed salt."""
    rubric = load_rubric(RUBRIC)
    scores = {}
    for folder in sorted(SAMPLES.iterdir()):
        if not (folder / "expected.json").is_file() or folder.name.startswith("real_"):
            continue
        with tempfile.TemporaryDirectory() as work:
            submission = open_submission(folder, dict(rubric.files), Path(work))
            document = grade(submission, rubric, GradeOptions(salt=SALT)).document()
        scores[folder.name] = {t["extra_data"]["item"]: t["score"] for t in document["tests"]}
    return scores


def test_every_item_of_every_sample_scores_as_before_the_move() -> None:
    before = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    now = item_scores()
    assert set(now) >= set(before), f"samples gone: {sorted(set(before) - set(now))}"
    changed = {(sample, item): (score, now[sample].get(item))
               for sample, items in before.items() for item, score in items.items()
               if now[sample].get(item) != score}
    assert not changed, f"(sample, item): (before, now): {changed}"


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(item_scores(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
