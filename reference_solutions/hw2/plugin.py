"""Homework 2's plugin: its input generators, its own check and its weights task.

The rubric (rubrics/hw2.yaml) names this module under `plugin:`; the grader imports it when the
rubric loads. Everything here is particular to Homework 2; the grader's generic checks
(function_values, array, expressions, number, weights_accuracy) are used by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.arrays import mismatch, read_numbers
from grader.checks.feedback import call_problem, describe_call
from grader.checks.registry import NotebookContext, Probe, WeightsTask
from grader.outcome import Outcome
from grader.plugins import AssignmentPlugin
from grader.sandbox.session import Call, CallResult

plugin = AssignmentPlugin("hw2")
Args = tuple[Any, ...]


# ---------------------------------------------------------------- inputs, by name
# Every case of a visible item draws on the generator: the engine re-tests visible items with the
# same generator on hidden inputs. Edge values (±1000, a row [0, -1000]) stay; the values around
# them are drawn, so that a hidden case is practically never a public one.
def _shape(rng: np.random.Generator, rows: tuple[int, int] = (2, 7), cols: tuple[int, int] = (2, 6)) -> tuple[int, int]:
    return int(rng.integers(*rows)), int(rng.integers(*cols))


def _large_logits(rng: np.random.Generator) -> np.ndarray:
    """Rows with entries of about ±1000, where exp overflows (and underflows) without a shift."""
    near = rng.uniform(0.0, 5.0, size=4)
    rows = [
        [1000.0, 1000.0 - near[0], 0.0, -1000.0],
        [-1000.0, -1000.0 + near[1], -1000.0 - near[2], -1000.0],
        [0.0, -1000.0, 1000.0 - near[3], 999.0],
    ]
    drawn = rng.uniform(-1000.0, 1000.0, size=(int(rng.integers(1, 4)), 4))
    drawn[:, int(rng.integers(0, 4))] = rng.uniform(900.0, 1000.0)  # every drawn row overflows exp too
    return np.concatenate([np.array(rows), drawn])


@plugin.inputs("logits")
def _logits(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    """Moderate logits: a batch, a single row, a single column (softmax 1), a constant row."""
    batch = rng.normal(size=_shape(rng)) * 3
    constant = np.full((2, int(rng.integers(2, 6))), float(rng.normal()))
    return [(batch,), (rng.normal(size=(1, int(rng.integers(2, 8)))),), (rng.normal(size=(3, 1)),), (constant,)]


@plugin.inputs("large_logits")
def _large(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    return [(_large_logits(rng),), (_large_logits(rng),)]


@plugin.inputs("underflow_logits")
def _underflow(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    """Rows where softmax underflows to 0 ([0, -1000]), with and without large positive entries."""
    low = np.array([[0.0, -1000.0], [float(rng.uniform(-3, 3)), float(rng.uniform(-1000, -800))]])
    return [(low,), (_large_logits(rng),)]


def _labelled(rng: np.random.Generator, Z: np.ndarray) -> Args:
    return Z, rng.integers(0, Z.shape[1], size=Z.shape[0])


@plugin.inputs("labelled_logits")
def _labelled_logits(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    """(Z, y) with N >= 2 rows (a missing 1/N shows), and a batch with every label the same."""
    cases = [_labelled(rng, rng.normal(size=_shape(rng, rows=(2, 9))) * 2) for _ in range(2)]
    Z = rng.normal(size=(int(rng.integers(3, 6)), 3))
    cases.append((Z, np.full(Z.shape[0], int(rng.integers(0, 3)))))
    return cases


@plugin.inputs("large_labelled_logits")
def _large_labelled_logits(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    return [_labelled(rng, _large_logits(rng)), _labelled(rng, _large_logits(rng))]


def _conv_case(rng: np.random.Generator, n: int, k: int) -> Args:
    return rng.normal(size=n), rng.normal(size=k)


@plugin.inputs("conv1d")
def _conv1d(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    sizes = [(int(rng.integers(6, 20)), int(rng.integers(2, 6))) for _ in range(3)]
    return [_conv_case(rng, n, k) for n, k in sizes]


@plugin.inputs("conv1d_edges")
def _conv1d_edges(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    """k = 1, k = n (one output), k = n - 1, and a long input."""
    n = int(rng.integers(4, 9))
    return [_conv_case(rng, n, 1), _conv_case(rng, n, n), _conv_case(rng, n + 1, n),
            _conv_case(rng, int(rng.integers(150, 250)), int(rng.integers(5, 12)))]


@plugin.inputs("conv1d_backward")
def _conv1d_backward(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    sizes = [(int(rng.integers(5, 15)), int(rng.integers(2, 5))) for _ in range(2)]
    sizes.append((int(rng.integers(3, 7)), 1))
    cases = []
    for n, k in sizes:
        x, w = _conv_case(rng, n, k)
        cases.append((x, w, rng.normal(size=n - k + 1)))
    return cases


# ---------------------------------------------------------------- p3: the student's backward against
# finite differences of the student's own conv1d (an instructor-written check, kept here)
@plugin.check("conv1d_backward_fd", "notebook",
              params={"cases": (int, 2), "h": (float, 1e-4), "rtol": (float, 1e-5), "atol": (float, 1e-6)})
def conv1d_backward_fd(ctx: NotebookContext) -> Probe:
    """p3: conv1d_backward agrees with central differences of the student's own conv1d.

    For L(x, w) = dout · conv1d(x, w), the grader calls conv1d at x ± h e_i and w ± h e_j and
    differentiates L numerically in its own process. A conv1d that ignores its inputs (its
    numerical gradient is 0) earns nothing: a backward of zeros would agree with it.
    """
    h, rtol, atol = ctx.params["h"], ctx.params["rtol"], ctx.params["atol"]
    cases = []
    for _ in range(ctx.params["cases"]):
        n = int(ctx.rng.integers(5, 10))
        k = int(ctx.rng.integers(2, min(n, 5)))
        cases.append((ctx.rng.normal(size=n), ctx.rng.normal(size=k), ctx.rng.normal(size=n - k + 1)))
    calls: list[Call] = []
    plans = []
    for c, (x, w, dout) in enumerate(cases):
        backward = Call(f"{ctx.item_id}:{c}:backward", "conv1d_backward", (x, w, dout), timeout=ctx.call_timeout)
        probes: dict[tuple[str, int, int], Call] = {}
        for name, size in (("x", x.size), ("w", w.size)):
            for i in range(size):
                for sign in (1, -1):
                    step = np.zeros(size)
                    step[i] = sign * h
                    args = (x + step, w) if name == "x" else (x, w + step)
                    probes[(name, i, sign)] = Call(f"{ctx.item_id}:{c}:{name}{i}{'+-'[sign < 0]}", "conv1d", args,
                                                   timeout=ctx.call_timeout)
        calls += [backward, *probes.values()]
        plans.append((backward, probes))

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        passed, lines = 0, []
        for (x, w, dout), (backward, probes) in zip(cases, plans, strict=True):
            problem = _fd_problem(x, w, dout, backward, probes, results, h, rtol, atol)
            if problem is None:
                passed += 1
            else:
                lines.append(problem)
        if not lines:
            return Outcome.full("conv1d_backward agrees with finite differences of your conv1d.")
        return Outcome(passed / len(cases), "\n".join(dict.fromkeys(lines)))

    return Probe(calls, judge)


def _fd_problem(x: np.ndarray, w: np.ndarray, dout: np.ndarray, backward: Call,
                probes: Mapping[tuple[str, int, int], Call], results: Mapping[str, CallResult],
                h: float, rtol: float, atol: float) -> str | None:
    """What is wrong with one case of the finite-difference check, or None."""
    shapes = f"x of length {x.size}, w of length {w.size}"
    values: dict[tuple[str, int, int], float] = {}
    for key, call in probes.items():
        result = results.get(call.id)
        problem = call_problem(call, result, False)
        if problem is not None:
            return f"conv1d could not be differentiated numerically: {problem}"
        assert result is not None
        out, _ = read_numbers(result.value, "conv1d")
        if out is None or out.shape != dout.shape or not np.isfinite(out).all():
            return (f"conv1d({shapes}) should return a finite array of shape {dout.shape}; got "
                    f"{'no numbers' if out is None else out.shape}, so it cannot be differentiated.")
        values[key] = float(dout @ out)
    numeric = {name: np.array([(values[(name, i, 1)] - values[(name, i, -1)]) / (2 * h) for i in range(size)])
               for name, size in (("x", x.size), ("w", w.size))}
    if not (np.any(numeric["x"]) and np.any(numeric["w"])):
        return (f"conv1d({shapes}) does not change when x or w changes, so there is no gradient to "
                "compare conv1d_backward with.")
    result = results.get(backward.id)
    problem = call_problem(backward, result, False)
    if problem is not None:
        return problem
    assert result is not None
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return f"{describe_call(backward, False)} should return a pair (dx, dw)."
    for name, got in zip(("x", "w"), value, strict=True):
        wrong = mismatch(numeric[name], got, rtol=rtol, atol=atol,
                         what=f"d{name} from {describe_call(backward, False)}")
        if wrong:
            return (f"conv1d_backward disagrees with finite differences of your own conv1d (one of the two is "
                    f"wrong): {wrong}")
    return None


# ---------------------------------------------------------------- p4
def spiral_test_set(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 3-arm spiral as SUBMISSION.md defines it: y uniform in {0, 1, 2}, r uniform in [0, 1],
    t = 4y + 4r + 0.3 N(0, 1), x = (r sin t, r cos t); drawn in that order from the seed."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=size)
    r = rng.uniform(0.0, 1.0, size=size)
    t = 4.0 * y + 4.0 * r + 0.3 * rng.normal(size=size)
    return np.stack([r * np.sin(t), r * np.cos(t)], axis=1), y


def relu_mlp_logits(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """relu(X W1 + b1) W2 + b2: the grader's own forward pass (no student code runs for p4)."""
    hidden = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    return hidden @ params["W2"] + params["b2"]


plugin.weights_task(WeightsTask("spiral3", inputs=2, classes=3, test_set=spiral_test_set,
                                forward=relu_mlp_logits, student_forward="mlp_logits"))


# ---------------------------------------------------------------- what students are handed
def _notebook_template() -> str:
    from reference_solutions.hw2 import build

    return build.notebook_text(strip_solutions=True)


def _written_template() -> str:
    return Path(__file__).with_name("hw2_written_template.yaml").read_text(encoding="utf-8")


plugin.notebook_template = _notebook_template
plugin.written_template = _written_template
