"""A weights item may be a leaderboard entry: results.json then carries `leaderboard` (and only then)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, assert_valid_results

from grader.engine import GradeOptions, grade
from grader.errors import RubricError
from grader.results import write_json_atomic
from grader.rubric import load_rubric
from grader.submission import open_submission


def _document(assignment: str, sample: str) -> dict:  # type: ignore[type-arg]
    rubric = load_rubric(ROOT / "rubrics" / f"{assignment}.yaml")
    with tempfile.TemporaryDirectory() as work:
        submission = open_submission(ROOT / "sample_submissions" / assignment / sample, dict(rubric.files), Path(work))
        return grade(submission, rubric, GradeOptions(salt="leaderboard-test")).document()


def test_the_leaderboard_appears_for_an_assignment_that_asks_for_it(tmp_path: Path) -> None:
    document = _document("hw2", "reference")
    assert [entry["name"] for entry in document["leaderboard"]] == ["Spiral accuracy"]
    assert 0.95 <= document["leaderboard"][0]["value"] <= 1.0 and document["leaderboard"][0]["order"] == "desc"
    write_json_atomic(tmp_path / "results.json", document)
    assert_valid_results(tmp_path / "results.json")  # Gradescope's schema, leaderboard included
    weak = _document("hw2", "linear_classifier_weights")
    assert weak["leaderboard"][0]["value"] < document["leaderboard"][0]["value"]


def test_and_nowhere_else() -> None:
    assert "leaderboard" not in _document("hw1", "reference")
    assert "leaderboard" not in _document("hw2", "template")  # no weights file, no value


def test_only_a_check_with_a_value_may_be_on_the_leaderboard(tmp_path: Path) -> None:
    text = (ROOT / "rubrics" / "hw2.yaml").read_text(encoding="utf-8")
    broken = text.replace("    check: array\n", "    check: array\n    leaderboard: \"Jacobian\"\n", 1)
    path = tmp_path / "hw2.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(RubricError, match="gives no value for a leaderboard"):
        load_rubric(path)
