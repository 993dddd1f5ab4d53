"""Homework 2: a second assignment served by the same grader, with nothing of it under grader/.

The rubric is proven (`grader validate`), every sample grades to its expected.json, the committed
samples are what the build and tests/make_hw2_samples.py write, the computed written references
equal what SUBMISSION.md states (compared here, never used as their source), the cheats lose
their points, and grader/ names neither Homework 2 nor its tasks.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
from conftest import ROOT, assert_valid_results

from grader.batch import discover, run_batch
from grader.checks.registry import WrittenContext
from grader.engine import GradeOptions
from grader.expected import mismatches
from grader.paths import secret_paths
from grader.rubric import Rubric, load_rubric
from grader.validate import validate_rubric

RUBRIC2 = ROOT / "rubrics" / "hw2.yaml"
SAMPLES2 = ROOT / "sample_submissions" / "hw2"
SAMPLE_NAMES = sorted(p.name for p in SAMPLES2.iterdir() if (p / "expected.json").is_file())
GRADER = ROOT / "grader"
# Homework 2's name and its tasks (reference_solutions/hw2/, SUBMISSION.md).
HW2_WORDS = re.compile(r"hw2|homework 2|softmax|conv1d|spiral|cross_entropy", re.IGNORECASE)

sys.path.insert(0, str(ROOT / "tests"))
import make_hw2_samples  # noqa: E402


@pytest.fixture(scope="module")
def rubric2() -> Rubric:
    return load_rubric(RUBRIC2)


@pytest.fixture(scope="module")
def graded(rubric2: Rubric, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Grade every Homework 2 sample once, two at a time, as `grader grade` does."""
    out = tmp_path_factory.mktemp("graded_hw2")
    work = tmp_path_factory.mktemp("work_hw2")
    sources = discover([SAMPLES2], dict(rubric2.files), work)
    rows = run_batch(sources, rubric2, out, GradeOptions(secret_paths=secret_paths(RUBRIC2, out)), jobs=2)
    return out, {row.name: row for row in rows}


def _items(out: Path, name: str) -> dict[str, dict[str, Any]]:
    document = json.loads((out / name / "results.json").read_text(encoding="utf-8"))
    return {test["extra_data"]["item"]: test for test in document["tests"]}


# ---------------------------------------------------------------- the rubric and its samples
def test_rubric_matches_the_contract(rubric2: Rubric) -> None:
    assert rubric2.files == {"written": "hw2_written.yaml", "notebook": "hw2.ipynb", "weights": "hw2_model.npz"}
    assert dict(rubric2.parts) == {"q2_1_softmax_jacobian": 6, "q2_2_conv_cost": 6, "q2_3_cross_entropy": 3,
                                   "p1": 15, "p2": 20, "p3": 25, "p4": 25}
    assert rubric2.autograded_points == 100
    assert [(m.points, m.title[:3]) for m in rubric2.manual] == [(5, "2.4")]
    # The p3 custom check is the assignment's own, registered by its plugin.
    fd = next(item for item in rubric2.items if item.check == "conv1d_backward_fd")
    assert fd.part == "p3" and fd.spec.assignment == "hw2"
    weights = next(item for item in rubric2.items if item.kind == "weights")
    assert weights.params == {"task": "spiral3", "zero_at": 0.55, "full_at": 0.95, "test_size": 20000,
                              "max_hidden": 128}
    assert {item.visibility for item in rubric2.items_of("notebook")} == {"visible", "hidden"}


def test_validate_passes() -> None:
    report = validate_rubric(RUBRIC2, samples=SAMPLES2)
    assert report.ok and report.skipped == 0, "\n".join(report.lines)
    run = subprocess.run([sys.executable, "-m", "grader", "validate", "--rubric", str(RUBRIC2),
                          "--samples", str(SAMPLES2)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0 and "0 failed" in run.stdout, run.stdout[-3000:] + run.stderr


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_grades_to_its_expected_scores(name: str, graded: tuple[Path, dict[str, Any]],
                                              rubric2: Rubric) -> None:
    out, rows = graded
    expected = json.loads((SAMPLES2 / name / "expected.json").read_text(encoding="utf-8"))
    problems = mismatches(rows[name].part_scores, expected)
    document = assert_valid_results(out / name / "results.json", rubric2)
    failed = {t["extra_data"]["item"]: t["output"] for t in document["tests"] if t["score"] < t["max_score"]}
    assert not problems, f"{name}: {problems}\n" + json.dumps(failed, indent=1)[:3000]
    assert set(expected["parts"]) == set(rubric2.parts)
    for test in document["tests"]:
        assert test["tags"] == [rubric2.part_of(test["extra_data"]["item"])]
        if test["score"] < test["max_score"]:
            assert test["output"].strip(), test["name"]


def test_reference_earns_100_and_template_0(graded: tuple[Path, dict[str, Any]]) -> None:
    _, rows = graded
    assert sum(rows["reference"].part_scores.values()) == pytest.approx(100)
    assert sum(rows["template"].part_scores.values()) == 0


def test_the_cheats_lose_their_items(graded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = graded
    shift = _items(out, "softmax_no_max_shift")
    assert shift["p1_softmax_large"]["score"] == 0 and "non-finite" in shift["p1_softmax_large"]["output"]
    assert shift["p1_log_softmax_large"]["score"] < shift["p1_log_softmax_large"]["max_score"]
    assert shift["p1_softmax"]["score"] == shift["p1_softmax"]["max_score"]
    flipped = _items(out, "conv1d_flipped_kernel")
    assert flipped["p3_conv1d"]["score"] == 0
    assert flipped["p3_backward_matches_own_conv1d"]["score"] == 0
    assert "finite differences of your own conv1d" in flipped["p3_backward_matches_own_conv1d"]["output"]
    assert flipped["p3_conv1d_backward_dx"]["score"] == flipped["p3_conv1d_backward_dx"]["max_score"]
    no_n = _items(out, "cross_entropy_grad_without_1_over_n")
    assert no_n["p2_cross_entropy_grad"]["score"] == 0
    assert all(t["score"] == t["max_score"] for key, t in no_n.items() if key != "p2_cross_entropy_grad")
    linear = _items(out, "linear_classifier_weights")["p4_accuracy"]
    accuracy = float(re.search(r"([\d.]+)%", linear["output"]).group(1))  # type: ignore[union-attr]
    assert linear["score"] == 0 and 45 < accuracy < 55


def test_visible_feedback_never_shows_a_hidden_input(graded: tuple[Path, dict[str, Any]]) -> None:
    """Hidden items describe their inputs by shape only (the values stay private)."""
    out, _ = graded
    for name in SAMPLE_NAMES:
        for test in _items(out, name).values():
            if test["visibility"] == "hidden" and test["score"] < test["max_score"]:
                assert "array(" not in test["output"], (name, test["output"][:300])


# ---------------------------------------------------------------- the committed files are generated
def test_committed_samples_are_what_the_generators_write(tmp_path: Path) -> None:
    from reference_solutions.hw2 import build

    stale = [str(path) for path, text in build.generated_texts().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"run python -m reference_solutions.hw2.build: {stale}"
    copy = tmp_path / "hw2"
    shutil.copytree(SAMPLES2, copy)
    make_hw2_samples.generated(copy)
    committed = sorted(p.relative_to(SAMPLES2) for p in SAMPLES2.rglob("*") if p.is_file())
    written = sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file())
    assert committed == written
    different = [str(rel) for rel in committed if (SAMPLES2 / rel).read_bytes() != (copy / rel).read_bytes()]
    assert not different, f"run python tests/make_hw2_samples.py: {different}"
    for name, text in make_hw2_samples.expected_files().items():
        assert (SAMPLES2 / name / "expected.json").read_text(encoding="utf-8") == text


def test_committed_weights_are_small_finite_mlps() -> None:
    from reference_solutions.hw2 import build

    for path, low, high in ((build.REFERENCE_WEIGHTS, 0.95, 1.0), (build.LINEAR_WEIGHTS, 0.45, 0.55)):
        with np.load(path, allow_pickle=False) as data:
            params = {key: data[key] for key in data.files}
        assert sorted(params) == ["W1", "W2", "b1", "b2"] and params["W1"].shape[0] == 2
        assert params["W1"].shape[1] <= 128 and params["W2"].shape[1] == 3
        assert all(np.isfinite(v).all() and v.dtype == np.float64 for v in params.values())
        assert low <= build.measure_accuracy(params) <= high


# ---------------------------------------------------------------- the written references
def test_written_references_equal_what_the_contract_states() -> None:
    """Computed by written.py (sympy, counting, differentiation); compared with SUBMISSION.md here."""
    from reference_solutions.hw2 import written

    exact = written.exact_answers()
    stated = [[5, -2, -3], [-2, 8, -6], [-3, -6, 9]]
    assert exact["q2_1_softmax_jacobian"] == [[Fraction(v, 36) for v in row] for row in stated]
    n, k = written.n, written.k
    cost = exact["q2_2_conv_cost"]
    assert sympy.expand(cost["multiplications"] - k * (n - k + 1)) == 0
    assert sympy.expand(cost["additions"] - (k - 1) * (n - k + 1)) == 0
    assert cost["big_o"] in ("O(k*n)", "O(n*k)")
    assert sympy.simplify(exact["q2_3_cross_entropy"]["loss"] - sympy.log(4)) == 0
    assert exact["q2_3_cross_entropy"]["grad"] == [Fraction(1, 4), Fraction(1, 4), Fraction(-3, 4), Fraction(1, 4)]
    assert written.prove_all() == []


def test_a_wrong_reference_fails_its_proof() -> None:
    from reference_solutions.hw2 import written

    answers = written.reference_answers()
    answers["q2_1_softmax_jacobian"][0][0] = 5 / 36 + 0.01
    answers["q2_2_conv_cost"]["additions"] = "k*(n - k + 1)"
    answers["q2_3_cross_entropy"]["grad"] = [0.25, 0.25, 0.25, 0.25]
    failures = written.prove_answers(answers)
    assert any(f.startswith("2.1") for f in failures)
    assert any("additions" in f for f in failures)
    assert any(f.startswith("2.3: grad") for f in failures)


def _written(rubric2: Rubric, item_id: str, answer: Any) -> float:
    from grader.engine import _lookup
    from reference_solutions.hw2 import written

    item = next(i for i in rubric2.items if i.id == item_id)
    assert item.answer is not None
    _, reference = _lookup(written.reference_answers(), item.answer)
    context = WrittenContext(item.id, item.spec.with_defaults(item.params), reference)
    return float(item.spec.function(answer, context).fraction)


@pytest.mark.parametrize("loss, right", [
    ("ln(4)", True), ("log(4)", True), ("2*ln(2)", True), ("2 ln 2", True), (1.386, True), ("1.3863", True),
    ("ln(3)", False), (1.39, False), ("__import__('os').system('true')", False), ("ln(4", False), ("log4", True),
])
def test_loss_may_be_a_number_or_an_expression(rubric2: Rubric, loss: Any, right: bool) -> None:
    assert _written(rubric2, "q2_3_loss", loss) == (1.0 if right else 0.0)


@pytest.mark.parametrize("big_o, right", [
    ("O(nk)", True), ("O(k n)", True), ("O(n*k + k)", True), ("O(n^2)", False), ("O(k^2)", False),
    ("O(n)", False),
])
def test_big_o_is_the_order_in_n_and_k(rubric2: Rubric, big_o: str, right: bool) -> None:
    answer = {"multiplications": "k(n-k+1)", "additions": "n*k - k^2 + 2k - n - 1", "big_o": big_o}
    assert _written(rubric2, "q2_2_conv_cost", answer) == pytest.approx(1.0 if right else 2 / 3)


# ---------------------------------------------------------------- grader/ knows no Homework 2
def test_grader_names_neither_homework_2_nor_its_tasks() -> None:
    hits = []
    for path in sorted(GRADER.rglob("*")):
        if not path.is_file() or path.suffix in (".pyc",):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for number, line in enumerate(text.splitlines(), 1) if HW2_WORDS.search(line)]
    assert not hits, "grader/ names Homework 2 or its tasks:\n" + "\n".join(hits)
