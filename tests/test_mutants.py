"""`grader validate --mutants`: each notebook item is proven to fail wrong code (issue 12 §1)."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT

from grader.cli import main
from grader.mutants import Mutant, Verdict, mutants_of, report_lines, run_mutants
from grader.rubric import load_rubric


def _conv(x, w):  # type: ignore[no-untyped-def]
    out = []
    for i in range(len(x) - len(w) + 1):
        out.append(sum(x[i + j] * w[j] for j in range(len(w))))
    return out


def test_mutants_are_small_wrong_versions_of_the_function() -> None:
    mutants = mutants_of(_conv)
    changes = " ".join(m.change for m in mutants)
    assert "Add -> Sub" in changes and "Mult -> Div" in changes and "constant 1 -> 2" in changes
    assert all(m.source != m.original for m in mutants) and len({m.source for m in mutants}) == len(mutants)
    assert all(m.diff().startswith("--- reference") for m in mutants)


def test_homework_2_kills_every_mutant() -> None:
    rubric = load_rubric(ROOT / "rubrics" / "hw2.yaml")
    verdicts = run_mutants(rubric, ROOT / "sample_submissions" / "hw2")
    functions = {v.mutant.function for v in verdicts}
    assert {"softmax", "log_softmax", "cross_entropy", "cross_entropy_grad", "conv1d", "conv1d_backward"} <= functions
    assert len(verdicts) >= 30
    survivors = [v.mutant.change for v in verdicts if not v.killed_by and not v.equivalent]
    assert survivors == []


def test_a_survivor_is_reported_with_its_diff() -> None:
    mutant = Mutant("f", "line 2: Add -> Sub", "def f(x):\n    return x - 1\n", "def f(x):\n    return x + 1\n")
    lines = report_lines([Verdict(mutant), Verdict(mutant, ["p1_f"])])
    assert lines[0].startswith("f") and "2 mutants: 1 killed, 0 equivalent, 1 survived" in lines[0]
    assert "SURVIVED (line 2: Add -> Sub):" in lines[1]
    assert any(line.strip() == "-    return x + 1" for line in lines) and any(
        line.strip() == "+    return x - 1" for line in lines)


def test_the_command_prints_the_table(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", "--assignment", "hw2", "--mutants"]) == 0
    out = capsys.readouterr().out
    assert "conv1d                     " in out and "the untouched template: 0 notebook points" in out
    import re

    assert re.search(r"p3_conv1d +kills +(\d+) of +\1 mutants of conv1d\n", out)  # per item: all of them
    assert out.rstrip().endswith("killed, 0 equivalent, 0 survived")


def test_hw1_rubric_loads_for_mutants(tmp_path: Path) -> None:
    """Homework 1's functions have mutants (the whole run takes about 25 s: `grader validate
    --assignment hw1 --mutants`; its figures are in the session note)."""
    rubric = load_rubric(ROOT / "rubrics" / "hw1.yaml")
    reference = rubric.load_code_reference()
    assert mutants_of(reference.step) and mutants_of(reference.mlp_loss_and_grads)


def test_inputs_restored_up_to_rounding_count_as_unchanged() -> None:
    """x[i] += eps ... x[i] -= eps restores x to the last bits: not a change (a review found 0/6)."""
    import numpy as np

    from grader.checks.judges import Case, Rules, judge_values_inputs_unchanged
    from grader.sandbox.session import Call, CallResult

    x = np.array([0.1, 0.7, 1.3])
    drifted = x + np.array([2**-54, 0.0, -(2**-53)])
    call = Call("c", "numerical_grad", ("f", x))
    rules = Rules(1e-6, 1e-9, True, "ok", True, "the exact gradient")
    restored = {"c": CallResult("c", "ok", np.ones(3), ("f", drifted))}
    assert judge_values_inputs_unchanged([Case(call, np.ones(3), ((1, "x"),))], restored, rules).passed
    changed = {"c": CallResult("c", "ok", np.ones(3), ("f", x + 1e-5))}
    assert not judge_values_inputs_unchanged([Case(call, np.ones(3), ((1, "x"),))], changed, rules).passed
