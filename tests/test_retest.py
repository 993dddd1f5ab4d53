"""Visible notebook items are re-tested on hidden inputs: a table of the public answers earns nothing.

The engine plans every visible notebook item twice, on the public inputs and, with the same check,
on inputs from the private salt (`plan_notebook_item`); the item earns its points only as far as
the re-test does too (`_judge`), and its feedback shows the public cases only.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SAMPLES

from grader.checks.feedback import show_value
from grader.checks.registry import Probe
from grader.engine import RETEST, GradeOptions, NotebookPlan, _judge, grade, plan_notebook_item
from grader.outcome import Outcome
from grader.rubric import Rubric
from grader.sandbox.session import Call, CallResult, CallStatus, Ref, TestFunction
from grader.seeds import submission_fingerprint
from grader.submission import open_submission

SALT = "retest-test-salt"
LOOKUP = SAMPLES / "public_lookup_table"
RETEST_FAILED = "passes the public examples but not the grader's other tests of the same function"


def _same(a: Any, b: Any) -> bool:
    """Whether two planned arguments are the same input, bit for bit."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and a.tobytes() == b.tobytes())
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _same_call(a: Call, b: Call) -> bool:
    return a.function == b.function and _same(a.args, b.args) and _same(dict(a.kwargs), dict(b.kwargs))


def test_every_visible_notebook_item_has_a_hidden_retest(rubric: Rubric) -> None:
    """Each visible notebook item's re-test calls the same functions on inputs no public case has.

    A check whose inputs ignore the generator (fixed cases) would re-test on the public inputs,
    which a table of the public answers passes: this fails for it, naming the item.
    """
    reference = rubric.load_code_reference()
    visible = [item for item in rubric.items_of("notebook") if item.visibility == "visible"]
    assert len(visible) >= 11
    for item in visible:
        plans = [plan_notebook_item(item, rubric, reference, salt, "fingerprint") for salt in (SALT, SALT + "-2")]
        public = plans[0].probe.calls
        assert public and _all_same(public, plans[1].probe.calls), item.id  # the salt is not in public inputs
        for plan in plans:
            assert plan.retest is not None, item.id
            retest = plan.retest.calls
            assert retest, item.id
            assert {c.function for c in retest} == {c.function for c in public}, item.id
            assert all(call.id.startswith(item.id + RETEST) for call in retest), item.id
            for call in retest:
                assert not any(_same_call(call, other) for other in public), (
                    f"{item.id}: a re-test case is a public case; draw every case's inputs from the generator")
        # Two salts, two re-tests: hidden inputs depend on the salt.
        assert not _all_same(plans[0].retest.calls, plans[1].retest.calls), item.id  # type: ignore[union-attr]


def _all_same(first: Any, second: Any) -> bool:
    return len(first) == len(second) and all(_same_call(a, b) for a, b in zip(first, second, strict=True))


def test_hidden_items_and_public_only_grading_have_no_retest(rubric: Rubric) -> None:
    """Hidden items run on hidden inputs once; `grader check` (retest=False) plans public inputs only."""
    reference = rubric.load_code_reference()
    for item in rubric.items_of("notebook"):
        assert plan_notebook_item(item, rubric, reference, SALT, "fp", retest=False).retest is None
        if item.visibility != "visible":
            assert plan_notebook_item(item, rubric, reference, SALT, "fp").retest is None


# ---------------------------------------------------------------- judging, without a sandbox

def _probe(fraction: float, feedback: str, calls: list[Call]) -> Probe:
    return Probe(calls, lambda results: Outcome(fraction, feedback))


def _plan(public: tuple[float, str], retest: tuple[float, str],
          status: CallStatus = "ok") -> tuple[NotebookPlan, dict[str, CallResult]]:
    """A plan of one public and one re-test call whose judges return these outcomes."""
    public_call = Call("p1_step:0", "step", (np.array([1.0]),))
    hidden_call = Call(f"p1_step{RETEST}:0", "step", (np.array([0.123456789]),))
    results = {public_call.id: CallResult(public_call.id, "ok", value=1.0)}
    if status != "not_run":  # a call the session never reached has no result
        results[hidden_call.id] = CallResult(hidden_call.id, status, message="ValueError: 0.123456789")
    return NotebookPlan(_probe(*public, [public_call]), _probe(*retest, [hidden_call])), results


def test_a_retest_that_agrees_keeps_the_public_outcome() -> None:
    """Equal or better on hidden inputs: the public score and feedback, unchanged."""
    for retest in (1.0, 0.5):
        outcome = _judge(*_plan((0.5, "1 of 2 cases passed.\nstep(...) differs"), (retest, "hidden: secret")))
        assert outcome.fraction == 0.5 and outcome.feedback == "1 of 2 cases passed.\nstep(...) differs"
        assert outcome.details == {"public_fraction": 0.5, "retest_fraction": retest,
                                   "retest_feedback": "hidden: secret"}


@pytest.mark.parametrize(("status", "said"), [
    ("ok", "its results differ from the expected ones"),
    ("error", "on some of them it raises an error"),
    ("timeout", "on some of them it does not finish in time"),
    ("not_run", "on some of them it could not be called"),
])
def test_a_retest_that_disagrees_lowers_the_score_without_showing_its_inputs(status: CallStatus, said: str) -> None:
    """Public cases passed, re-test failed: the re-test's share, and a message with no hidden input."""
    outcome = _judge(*_plan((1.0, "step is correct on 2 inputs."), (0.0, "step(0.123456789) differs"), status))
    assert outcome.fraction == 0.0
    assert outcome.feedback.startswith(f"step {RETEST_FAILED} (inputs of the same kind, not shown): {said}")
    assert "0.123456789" not in outcome.feedback and "correct on 2 inputs" not in outcome.feedback
    assert (outcome.details or {})["retest_feedback"] == "step(0.123456789) differs"


def test_a_partial_public_score_is_lowered_to_the_retests_with_both_said() -> None:
    """Public 1 of 2, re-test 0 of 2: 0 points, the public failure shown, then the re-test in general words."""
    outcome = _judge(*_plan((0.5, "1 of 2 cases passed.\nstep([1.0]) differs"), (0.0, "step(0.123456789)")))
    assert outcome.fraction == 0.0
    first, second = outcome.feedback.split("\n", 2)[1:]
    assert first == "step([1.0]) differs"
    assert second.startswith("step also does worse on the grader's other tests of the same function")


# ---------------------------------------------------------------- the lookup table, end to end

@pytest.fixture(scope="module")
def lookup_reports(rubric: Rubric, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The lookup-table sample graded in full (with a salt) and public-only (as `grader check` does)."""
    work = tmp_path_factory.mktemp("lookup")
    submission = open_submission(LOOKUP, dict(rubric.files), work)
    return {"full": grade(submission, rubric, GradeOptions(salt=SALT)),
            "public": grade(submission, rubric, GradeOptions(visible_only=True)),
            "submission": submission}


def test_lookup_table_earns_nothing_on_the_notebook(lookup_reports: dict[str, Any], rubric: Rubric) -> None:
    """0 on every notebook item; each visible one says its re-test failed, without a hidden input."""
    report = lookup_reports["full"]
    reference = rubric.load_code_reference()
    fingerprint = submission_fingerprint(lookup_reports["submission"].all_files())
    for result in report.results:
        if result.item.kind != "notebook":
            continue
        assert result.score == 0, (result.item.id, result.feedback)
        if result.item.visibility != "visible":
            continue
        assert RETEST_FAILED in result.feedback, result.feedback
        plan = plan_notebook_item(result.item, rubric, reference, SALT, fingerprint)
        assert plan.retest is not None
        for call in plan.retest.calls:
            for arg in _leaves(call.args):
                assert show_value(arg) not in result.feedback, (result.item.id, show_value(arg))
                if isinstance(arg, np.ndarray) and arg.size:
                    assert repr(float(arg.ravel()[-1])) not in result.feedback, result.item.id
        # Staff read what the re-test found, inputs by shape as for hidden items.
        assert any(line.startswith(f"{result.item.id}: the re-test on hidden inputs earned 0%")
                   for line in report.log), result.item.id
    notebook = [r for r in report.results if r.item.kind == "notebook"]
    assert sum(r.score for r in notebook) == 0 and len(notebook) == len(rubric.items_of("notebook"))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if isinstance(value, (Ref, TestFunction)) else [value]


def test_lookup_table_passes_the_public_cases_alone(lookup_reports: dict[str, Any]) -> None:
    """Public-only grading (the self-check's) has no salt and no re-test: the table passes it all,
    which is why the re-test is needed."""
    report = lookup_reports["public"]
    notebook = [r for r in report.results if r.item.kind == "notebook"]
    assert notebook and all(r.passed for r in notebook), [(r.item.id, r.feedback) for r in notebook if not r.passed]
    assert not any(RETEST in line for line in report.log)


def test_an_honest_partial_answer_keeps_its_partial_credit(rubric: Rubric, tmp_path: Path) -> None:
    """An indicator open at both edges fails the same share of public and hidden cases: it keeps it."""
    folder = tmp_path / "sub"
    shutil.copytree(SAMPLES / "reference", folder)
    notebook = json.loads((folder / "hw1_code.ipynb").read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        cell["source"] = source.replace("(z >= -1.0) & (z <= 1.0)", "(z > -1.0) & (z < 1.0)")
    (folder / "hw1_code.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    submission = open_submission(folder, dict(rubric.files), tmp_path / "work")
    report = grade(submission, rubric, GradeOptions(salt=SALT))
    indicator = next(r for r in report.results if r.item.id == "p1_indicator")
    assert indicator.score == 1.0, indicator.feedback
    assert RETEST_FAILED not in indicator.feedback and "other tests" not in indicator.feedback
    assert (indicator.details or {})["retest_fraction"] == 0.5


def test_committed_lookup_table_is_what_make_samples_writes(tmp_path: Path) -> None:
    """The table holds the current public inputs: regenerate it when they change."""
    import make_samples

    make_samples._lookup_table(tmp_path)
    committed = (LOOKUP / "hw1_code.ipynb").read_bytes()
    assert (tmp_path / "hw1_code.ipynb").read_bytes() == committed, "run `python tests/make_samples.py`"


def test_an_sgd_step_that_does_nothing_earns_nothing(rubric: Rubric, tmp_path: Path) -> None:
    """Leaving the inputs alone earns its half of p4_sgd_step only beside new params, as garbage leaves them too."""
    folder = tmp_path / "sub"
    folder.mkdir()
    source = "def sgd_step(params, grads, lr):\n    return None\n"
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}]}
    (folder / "hw1_code.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    submission = open_submission(folder, dict(rubric.files), tmp_path / "work")
    report = grade(submission, rubric, GradeOptions(visible_only=True))
    sgd = next(r for r in report.results if r.item.id == "p4_sgd_step")
    assert sgd.score == 0, sgd.feedback
    assert "should be a dict with keys" in sgd.feedback
