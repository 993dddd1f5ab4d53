"""End to end: every sample submission grades to the scores in its expected.json.

One batch run grades all samples (through the same code path as `grader grade`), then one
parametrized test per sample checks its part scores, the completeness of its results.json
and the schema. The pytest plugin is checked on the reference the same way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import RUBRIC, SAMPLES, assert_valid_results

from grader.batch import discover, run_batch
from grader.engine import GradeOptions
from grader.expected import mismatches
from grader.paths import secret_paths

SAMPLE_NAMES = sorted(p.name for p in SAMPLES.iterdir() if (p / "expected.json").is_file())
SENTINELS = [Path("/tmp/grader-yaml-pwned"), Path("/tmp/grader-expr-pwned")]


@pytest.fixture(scope="module")
def graded(rubric: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Grade every sample once, two at a time; return the output folder and rows by name."""
    for sentinel in SENTINELS:
        sentinel.unlink(missing_ok=True)
    out = tmp_path_factory.mktemp("graded")
    work = tmp_path_factory.mktemp("work")
    sources = discover([SAMPLES], dict(rubric.files), work)
    rows = run_batch(sources, rubric, out, GradeOptions(secret_paths=secret_paths(RUBRIC, out)), jobs=2)
    return out, {row.name: row for row in rows}


def test_every_sample_folder_has_an_expectation() -> None:
    folders = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())
    assert folders == SAMPLE_NAMES
    assert len(SAMPLE_NAMES) >= 16


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_grades_to_its_expected_scores(name: str, graded: tuple[Path, dict[str, Any]], rubric: Any) -> None:
    out, rows = graded
    expected = json.loads((SAMPLES / name / "expected.json").read_text(encoding="utf-8"))
    problems = mismatches(rows[name].part_scores, expected)
    document = assert_valid_results(out / name / "results.json", rubric)
    outputs = {t["extra_data"]["item"]: t["output"] for t in document["tests"] if t["status"] == "failed"}
    assert not problems, f"{name}: {problems}\n" + json.dumps(outputs, indent=1)[:3000]
    # Every item that lost points says why.
    for test in document["tests"]:
        if test["score"] < test["max_score"]:
            assert test["output"].strip(), test["name"]


def test_attacks_in_written_answers_ran_nothing(graded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = graded
    for sentinel in SENTINELS:
        assert not sentinel.exists(), f"{sentinel} was created"
    tags = json.loads((out / "yaml_python_tags" / "results.json").read_text())
    assert "tag" in tags["tests"][0]["output"]
    injection = json.loads((out / "expression_injection" / "results.json").read_text())
    cost = next(t for t in injection["tests"] if t["extra_data"]["item"] == "q1_3_1_cost")
    assert "reverse_multiplications" in cost["output"] and cost["score"] == 2


def test_feedback_for_a_wrong_network_gives_a_concrete_input(graded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = graded
    document = json.loads((out / "off_by_one_boundary" / "results.json").read_text())
    q1_1 = next(t for t in document["tests"] if t["extra_data"]["item"] == "q1_1")
    assert "For example x = [" in q1_1["output"]


def test_notebook_faults_are_reported_to_the_student(graded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = graded
    never = json.loads((out / "never_ending_cell" / "results.json").read_text())
    assert "ran out of time" in never["output"]
    transposed = json.loads((out / "transposed_weights" / "results.json").read_text())
    assert "transposed" in transposed["tests"][-1]["output"]
    nan = json.loads((out / "nan_weights" / "results.json").read_text())
    assert "NaN" in nan["tests"][-1]["output"]


def test_gradebook_has_a_row_per_sample(graded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = graded
    lines = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + len(SAMPLE_NAMES)
    assert lines[0].startswith("submission,names,emails,sids,q1_1,")


PLUGIN_CUSTOM_TEST = '''
import pytest

@pytest.mark.points(2, part="p2", visibility="visible")
def test_instructor_extra_check(graded_submission):
    assert "notebook" in graded_submission.files

@pytest.mark.points(1, part="p1", visibility="hidden")
def test_instructor_failing_check():
    assert 1 == 2, "this custom check fails on purpose"
'''


def test_pytest_plugin_writes_the_same_results_with_custom_checks(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_custom=PLUGIN_CUSTOM_TEST)
    results = tmp_path / "plugin" / "results.json"
    run = pytester.runpytest_subprocess(
        f"--grade-submission={SAMPLES / 'wrong_w4_gradient'}",
        f"--grade-rubric={RUBRIC}", f"--grade-results={results}",
    )
    document = assert_valid_results(results)
    by_item = {t["extra_data"]["item"]: t for t in document["tests"]}
    assert by_item["p2_backward"]["score"] == 12
    assert by_item["p2_backward"]["status"] == "failed"
    assert by_item["test_instructor_extra_check"]["score"] == 2
    assert by_item["test_instructor_failing_check"]["score"] == 0
    assert "fails on purpose" in by_item["test_instructor_failing_check"]["output"]
    assert by_item["test_instructor_failing_check"]["tags"] == ["p1"]
    run.assert_outcomes(passed=len(document["tests"]) - 2, failed=2)
    assert "grader:" in run.stdout.str()


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_pytest_plugin_grades_every_sample_to_its_expected_scores(
    name: str, pytester: pytest.Pytester, tmp_path: Path, rubric: Any
) -> None:
    results = tmp_path / "plugin" / "results.json"
    pytester.runpytest_subprocess(f"--grade-submission={SAMPLES / name}", f"--grade-rubric={RUBRIC}",
                                  f"--grade-results={results}", "-p", "no:cacheprovider")
    document = assert_valid_results(results, rubric)
    parts: dict[str, float] = {}
    for test in document["tests"]:
        parts[test["tags"][0]] = parts.get(test["tags"][0], 0.0) + test["score"]
    expected = json.loads((SAMPLES / name / "expected.json").read_text(encoding="utf-8"))
    assert not mismatches(parts, expected)


def test_pytest_plugin_is_inert_without_its_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    run = pytester.runpytest_subprocess()
    run.assert_outcomes(passed=1)
    assert not list(Path(pytester.path).rglob("results.json"))


def test_cli_grade_exits_zero_when_every_sample_matches(tmp_path: Path) -> None:
    import subprocess

    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(SAMPLES / "reference"),
                          str(SAMPLES / "answer_key"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "reference" in run.stdout and "answer_key" in run.stdout and "MISMATCH" not in run.stdout
