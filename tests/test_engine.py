"""The engine's top-level output: file problems a student sees before the due date.

Most written items are `after_due_date`, so their own outputs are hidden until then; a broken or
missing file must still be visible at once, in the top-level output, without saying anything
about hidden or after-due-date items beyond facts about the student's own files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import RUBRIC, SAMPLES, assert_valid_results

from grader.engine import FILE_PROBLEMS, GradeOptions, grade
from grader.rubric import Rubric
from grader.submission import open_submission

BROKEN_YAML = "q1_1:\n  W1: [[1, 0, 0, 0]]\nq1_2_graph: [\n"


def _grade(rubric: Rubric, folder: Path, tmp_path: Path) -> dict[str, Any]:
    """The results.json document of the submission in `folder`."""
    submission = open_submission(folder, dict(rubric.files), tmp_path / "work")
    return grade(submission, rubric, GradeOptions(salt="engine-test-salt")).document()


def _folder(tmp_path: Path, **texts: str | bytes) -> Path:
    """A submission: the reference's weights, and files of these names and contents."""
    folder = tmp_path / "sub"
    folder.mkdir()
    shutil.copy2(SAMPLES / "reference" / "hw1_weights.npz", folder / "hw1_weights.npz")
    for name, text in texts.items():
        path = folder / name.replace("__", ".")
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return folder


def _hidden_facts(rubric: Rubric, document: dict[str, Any]) -> list[str]:
    """Strings the top-level output must never hold: hidden items' ids, reference answers, scores."""
    reference = json.dumps(rubric.load_written_reference())
    facts = [item.id for item in rubric.items if item.visibility == "hidden"]
    facts += [value for value in ("3*m*n", "m > n", "O(n^2)", "[48, 12, 24]", "16, 8, 20") if value in reference]
    facts += [f"{test['score']:g}/{test['max_score']:g}" for test in document["tests"]]
    return facts


def test_broken_yaml_is_in_the_top_level_output(rubric: Rubric, tmp_path: Path) -> None:
    """A YAML syntax error found while grading: one always-visible line with its line number."""
    document = _grade(rubric, _folder(tmp_path, hw1_written__yaml=BROKEN_YAML), tmp_path)
    lines = document["output"].splitlines()
    assert lines[0] == FILE_PROBLEMS
    written = next(line for line in lines if "hw1_written.yaml" in line)
    assert written.startswith("- hw1_written.yaml is not valid YAML: line 4")
    assert document["visibility"] == "visible"
    # The items say why they scored 0, without hints about answers the file never reached.
    for test in document["tests"]:
        if test["extra_data"]["item"].startswith("q1"):
            assert "not valid YAML" in test["output"] and "Hint:" not in test["output"], test
    for fact in _hidden_facts(rubric, document):
        assert fact not in document["output"], fact
    # The items themselves still say why, for after the due date.
    written_tests = [t for t in document["tests"] if t["tags"][0].startswith("q1")]
    assert written_tests and all("not valid YAML" in t["output"] for t in written_tests)
    assert {t["visibility"] for t in written_tests} == {"after_due_date"}


@pytest.mark.parametrize(("files", "expected"), [
    ({"hw1_written__yaml": "q1_1: !!python/object:os.system {}\n"}, "hw1_written.yaml, line 1: uses a YAML tag"),
    ({"hw1_written__yaml": "- just\n- a list\n"}, "hw1_written.yaml should be a mapping of answers"),
    ({"hw1_written__yaml": "q1_1: {}\nq1_3_hessian: [[1]]\n"},
     "hw1_written.yaml has no answer under: q1_2_graph, q1_3_cost, q1_3_1_z, q1_3_1_cost."),
    ({}, "hw1_written.yaml was not found in the submission."),
    ({"answers__yml": "q1_1: {}\n"}, "hw1_written.yaml was not found; the submission has: answers.yml. "
                                     "Rename it to hw1_written.yaml."),
    ({"hw1_code__ipynb": '{"not": "a notebook"}'}, "hw1_code.ipynb is JSON but not a Jupyter notebook"),
    ({"hw1_code__ipynb": "{"}, "hw1_code.ipynb is not a valid notebook file: it is not valid JSON"),
    ({"my_notebook__ipynb": "{}"}, "hw1_code.ipynb was not found; the submission has: my_notebook.ipynb."),
])
def test_file_problems_are_in_the_top_level_output(
    rubric: Rubric, tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    """Every file-level problem, whichever items it costs, is listed at the top."""
    document = _grade(rubric, _folder(tmp_path, **files), tmp_path)
    assert document["output"].startswith(FILE_PROBLEMS), document["output"]
    assert f"\n- {expected}" in document["output"], document["output"]


def test_unreadable_weights_are_in_the_top_level_output(rubric: Rubric, tmp_path: Path) -> None:
    """An .npz that is no zip: the top-level output says so, and p5 scores 0 as before."""
    folder = _folder(tmp_path)
    (folder / "hw1_weights.npz").write_bytes(b"not a zip at all")
    document = _grade(rubric, folder, tmp_path)
    assert "\n- hw1_weights.npz is not an .npz file" in document["output"]
    p5 = next(t for t in document["tests"] if t["tags"] == ["p5"])
    assert p5["score"] == 0 and "is not an .npz file" in p5["output"]


def test_renamed_files_are_graded_and_noted(rubric: Rubric, tmp_path: Path) -> None:
    """Browser copies are used: a note each, and no file problem."""
    folder = tmp_path / "sub"
    folder.mkdir()
    for name in ("hw1_written.yaml", "hw1_weights.npz"):
        stem, _, suffix = name.partition(".")
        shutil.copy2(SAMPLES / "reference" / name, folder / f"{stem} (1).{suffix}")
    document = _grade(rubric, folder, tmp_path)
    blocks = document["output"].split("\n\n")
    assert blocks[0] == f"{FILE_PROBLEMS}\n- hw1_code.ipynb was not found in the submission."  # not sent
    assert any(block.startswith("Used hw1_written (1).yaml as hw1_written.yaml") for block in blocks)
    written = [t for t in document["tests"] if t["tags"][0].startswith("q1")]
    assert all(t["score"] == t["max_score"] for t in written)


def test_a_clean_submission_has_no_file_problems(rubric: Rubric, tmp_path: Path) -> None:
    """Nothing to fix, nothing said."""
    document = _grade(rubric, SAMPLES / "reference", tmp_path)
    assert document["output"] == ""


def test_visible_only_grading_leaves_out_problems_of_files_it_does_not_grade(rubric: Rubric, tmp_path: Path) -> None:
    """`grader check` grades no written item, so the top says nothing of the written file."""
    folder = _folder(tmp_path, hw1_written__yaml=BROKEN_YAML)
    submission = open_submission(folder, dict(rubric.files), tmp_path / "work")
    report = grade(submission, rubric, GradeOptions(visible_only=True))
    assert "hw1_written.yaml" not in report.output
    assert "hw1_code.ipynb was not found" in report.output


def test_gradescope_entry_keeps_the_file_problem_visible(rubric: Rubric, tmp_path: Path) -> None:
    """Through the Gradescope entry point: results.json's top-level output, visible, holds the line."""
    from grader.gradescope.entry import run_gradescope

    root = tmp_path / "autograder"
    shutil.copytree(_folder(tmp_path, hw1_written__yaml=BROKEN_YAML), root / "submission")
    assert run_gradescope(root, RUBRIC) == 0
    document = assert_valid_results(root / "results" / "results.json", rubric)
    assert document["visibility"] == "visible"
    assert FILE_PROBLEMS in document["output"]
    assert "- hw1_written.yaml is not valid YAML: line 4" in document["output"]
    for fact in _hidden_facts(rubric, document):
        assert fact not in document["output"], fact
