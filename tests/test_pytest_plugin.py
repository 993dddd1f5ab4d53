"""The pytest plugin's custom checks: the worked example in docs/examples runs as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, assert_valid_results

EXAMPLE = ROOT / "docs" / "examples" / "instructor_checks.py"
SAMPLES = ROOT / "sample_submissions" / "hw1"


def _run_example(pytester: pytest.Pytester, sample: str, results: Path) -> pytest.RunResult:
    return pytester.runpytest_subprocess(f"--grade-submission={SAMPLES / sample}", f"--grade-results={results}",
                                         f"--grade-rubric={ROOT / 'rubrics' / 'hw1.yaml'}",
                                         "-p", "no:cacheprovider", str(EXAMPLE))


def test_the_documented_example_scores_the_reference_in_full(pytester: pytest.Pytester, tmp_path: Path) -> None:
    results = tmp_path / "reference.json"
    run = _run_example(pytester, "reference", results)
    document = assert_valid_results(results)
    custom = {t["extra_data"]["item"]: t for t in document["tests"]}
    assert custom["p1_step_is_elementwise"]["score"] == 1 == custom["p1_step_is_elementwise"]["max_score"]
    assert custom["p4_weights_file_present"]["score"] == 1
    # Students read the docstring's line, not the function's name.
    title = custom["p1_step_is_elementwise"]["name"]
    assert title == "p1_step_is_elementwise: step(z) keeps the shape of z (a 2 x 2 input)"
    out = run.stdout.str()
    assert "custom checks add 1 point to part 'p1': 15 declared in hw1.yaml, 16 now" in out
    assert "the autograded total is 137 points, not the rubric's 135" in out


def test_failed_custom_checks_tell_the_student_why_without_a_traceback_into_the_grader(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    results = tmp_path / "template.json"
    _run_example(pytester, "template", results)
    document = json.loads(results.read_text(encoding="utf-8"))
    custom = {t["extra_data"]["item"]: t for t in document["tests"]}
    step = custom["p1_step_is_elementwise"]
    assert step["score"] == 0
    assert step["output"].startswith("step raised an error:") and "NotImplementedError" in step["output"]
    assert custom["p4_weights_file_present"]["output"] == "hw1_weights.npz is missing from the submission."
    for test in custom.values():
        assert "pytest_plugin" not in test["output"] and "PosixPath" not in test["output"]
