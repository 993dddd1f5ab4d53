"""Homework 1's plugin: its input generators, its own checks and its weights task.

The rubric (rubrics/hw1.yaml) names this module under `plugin:`; the grader imports it when the
rubric loads. Everything here is particular to Homework 1; the grader's generic checks
(function_values, array, expressions, graph_edges, weights_accuracy) are used by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.arrays import mismatch
from grader.checks.feedback import call_problem
from grader.checks.judges import Case, Rules, judge_half_values_half_unchanged, judge_values_inputs_unchanged
from grader.checks.notebook_checks import gradient_probe
from grader.checks.registry import KitHints, NotebookContext, Probe, WeightsTask, WrittenContext
from grader.checks.weights import relu_hidden_layer_labels
from grader.outcome import Outcome
from grader.plugins import AssignmentPlugin
from grader.sandbox.session import Call, CallResult, TestFunction
from grader.seeds import derive_seed
from reference_solutions.hw1 import hw1_code
from reference_solutions.hw1.network import (
    ACTIVATION_SPELLINGS,
    ACTIVATIONS,
    judge_network,
    judge_network_seeded,
    read_network,
)

plugin = AssignmentPlugin("hw1")
Args = tuple[Any, ...]


# ---------------------------------------------------------------- inputs, by name
def _gated_params(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    B, D, K, C = (int(rng.integers(lo, hi)) for lo, hi in ((3, 9), (2, 7), (2, 7), (2, 6)))
    params = {
        "W1": rng.normal(size=(K, D)), "b1": rng.normal(size=K) * 0.5,
        "W2": rng.normal(size=(K, D)), "b2": rng.normal(size=K) * 0.5,
        "W3": rng.normal(size=(C, K)), "W4": rng.normal(size=(C, D)),
    }
    return params, rng.normal(size=(B, D)), rng.integers(0, C, size=B)


def _mlp_params(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    N, D, H, C = (int(rng.integers(lo, hi)) for lo, hi in ((4, 12), (2, 6), (3, 9), (2, 5)))
    params = {
        "W1": rng.normal(size=(D, H)), "b1": rng.normal(size=H) * 0.5,
        "W2": rng.normal(size=(H, C)), "b2": rng.normal(size=C) * 0.5,
    }
    return params, rng.normal(size=(N, D)), rng.integers(0, C, size=N)


# Every case of a visible item draws on the generator: the engine re-tests visible items with the
# same generator on hidden inputs, where a case of fixed inputs would be the public case again (and
# a table of the public answers would pass it). Edge values stay; the values around them are drawn,
# to three decimals so that a hidden case is practically never a public one.
def _drawn(rng: np.random.Generator, low: float, high: float) -> float:
    """A number in [low, high) with three decimals."""
    return float(rng.integers(round(low * 1000), round(high * 1000))) / 1000


@plugin.inputs("step")
def _step_inputs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    edges = np.array([-_drawn(rng, 1.1, 4.0), -1e-300, -0.0, 0.0, 5e-324, 1e-12, 1.0, _drawn(rng, 1.1, 4.0)])
    return [(edges,), (rng.normal(size=(int(rng.integers(2, 6)), 3)),)]


@plugin.inputs("indicator")
def _indicator_inputs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    far, near = [_drawn(rng, 1.1, 3.0) for _ in range(2)], [_drawn(rng, 0.1, 0.9) for _ in range(2)]
    edges = np.array([-far[0], -1.0 - 1e-12, -1.0, -near[0], 0.0, near[1], 1.0, 1.0 + 1e-12, far[1]])
    return [(edges,), (rng.uniform(-2, 2, size=(int(rng.integers(2, 6)), 3)),)]


@plugin.inputs("hardcoded_forward")
def _hardcoded_forward_inputs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    # Random small-integer networks of the contract's form, not the reference's
    # kth_largest_params: those are the answer to a hidden item and visible feedback shows
    # inputs. Integer weights and inputs put pre-activations exactly on 0 and on +-1.
    cases = []
    for _ in range(4):
        params = {
            "W1": rng.integers(-2, 3, size=(3, 4)).astype(np.float64),
            "b1": rng.integers(-2, 3, size=3).astype(np.float64),
            "w2": rng.integers(-2, 3, size=3).astype(np.float64),
            "b2": float(rng.integers(-3, 4)),
        }
        X = np.concatenate([
            rng.permutation(np.tile(np.arange(1.0, 5.0), (12, 1)), axis=1),
            rng.integers(-3, 4, size=(12, 4)).astype(np.float64),
            rng.normal(size=(8, 4)),
        ])
        cases.append((params, X))
    return cases


@plugin.inputs("gated")
def _gated_forward_inputs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    return [_gated_params(rng) for _ in range(3)]


@plugin.inputs("vector_pairs")
def _vector_pairs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    return [(rng.normal(size=n), rng.normal(size=n)) for n in (3, int(rng.integers(4, 40)))]


@plugin.inputs("vectors")
def _vectors(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    # Never the written problem's v = [4, 2, 5] (entries within +-3, one decimal): a visible item's expected
    # output would be the 1.3 Hessian, a written answer graded after the due date.
    small = rng.integers(-30, 31, size=3) / 10
    return [(small,), (rng.normal(size=int(rng.integers(2, 30))),)]


@plugin.inputs("counts")
def _counts(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    sizes = [(3, 3), (1, 7), (9, 2)] + [tuple(int(v) for v in rng.integers(1, 200, size=2)) for _ in range(3)]
    return [(n, m, mode) for n, m in sizes for mode in ("reverse", "forward")]


@plugin.inputs("mlp_forward")
def _mlp_forward_inputs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    return [_mlp_params(rng)[:2] for _ in range(3)]


@plugin.inputs("mlp_loss")
def _mlp_loss_inputs(rng: np.random.Generator, ref: ModuleType) -> list[Args]:
    return [_mlp_params(rng) for _ in range(3)]


# ---------------------------------------------------------------- p1
@plugin.check("kth_largest_params", "notebook", params={"ks": (list, [1, 2, 3, 4])})
def kth_largest_params(ctx: NotebookContext) -> Probe:
    """p1: kth_largest_params(k) builds a network that the grader's forward pass judges right."""
    ks = [int(k) for k in ctx.params["ks"]]
    calls = [Call(f"{ctx.item_id}:k{k}", "kth_largest_params", (k,), timeout=ctx.call_timeout) for k in ks]
    seed = int(ctx.rng.integers(2**32))

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        earned, lines = 0.0, []
        for k, call in zip(ks, calls, strict=True):
            result = results.get(call.id)
            problem = call_problem(call, result, True)
            if problem is None:
                assert result is not None
                net = read_network(result.value, phi1="hard_threshold", phi2="indicator")
                if isinstance(net, str):
                    problem = f"kth_largest_params({k}): {net}"
                else:
                    outcome = judge_network(net, k, np.random.default_rng(seed + k), label=f"k = {k}")
                    earned += outcome.fraction
                    problem = None if outcome.passed else outcome.feedback
            lines.append(problem or f"k = {k}: correct.")
        return Outcome(earned / len(ks), "\n".join(dict.fromkeys(lines)))

    return Probe(calls, judge)


@plugin.check("gated_backward", "notebook", params={"rtol": (float, 1e-5), "atol": (float, 1e-7), "cases": (int, 3)})
def gated_backward(ctx: NotebookContext) -> Probe:
    """p2: gradients of the gated network, one share of the points per parameter."""
    cases = [_gated_params(ctx.rng) for _ in range(ctx.params["cases"])]
    expected = []
    for params, X, t in cases:
        _, cache = ctx.reference.gated_forward(params, X, t)
        expected.append(ctx.reference.gated_backward(params, cache))
    keys = ["W1", "b1", "W2", "b2", "W3", "W4", "X"]
    return gradient_probe(ctx, cases, "gated_forward", "gated_backward", expected, keys)


@plugin.check("mlp_grads", "notebook", params={"rtol": (float, 1e-5), "atol": (float, 1e-7), "cases": (int, 3)})
def mlp_grads(ctx: NotebookContext) -> Probe:
    """p4: gradients from mlp_loss_and_grads, one share of the points per parameter."""
    cases = [_mlp_params(ctx.rng) for _ in range(ctx.params["cases"])]
    expected = [ctx.reference.mlp_loss_and_grads(*case)[1] for case in cases]
    return gradient_probe(ctx, cases, "mlp_loss_and_grads", None, expected, ["W1", "b1", "W2", "b2"])


# ---------------------------------------------------------------- p2 numerical_grad
_TEST_FUNCTIONS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("lambda x: float(np.sum(np.sin(x) * x**2))", lambda x: np.cos(x) * x**2 + 2 * x * np.sin(x)),
    ("lambda x: float(np.sum(x**3) + np.prod(x.shape) * np.sum(x))", lambda x: 3 * x**2 + x.size),
    ("lambda x: float(np.log(np.sum(np.exp(x))))", lambda x: np.exp(x) / np.sum(np.exp(x))),
)


def _exact_gradient(call: Call, output: Any) -> Any:
    """The kit compares numerical_grad with the test function's exact gradient."""
    function, x = call.args[0], call.args[1]
    assert isinstance(function, TestFunction) and isinstance(x, np.ndarray)
    return dict(_TEST_FUNCTIONS)[function.source](x)


@plugin.check("numerical_grad", "notebook", params={"rtol": (float, 1e-4), "atol": (float, 1e-6)},
              kit=KitHints("values_inputs_unchanged", "numerical_grad is accurate on {count} test functions.",
                           unchanged=((1, "x"),), expected=_exact_gradient, compared="the exact gradient"))
def numerical_grad(ctx: NotebookContext) -> Probe:
    """p2: numerical_grad(f, x) approximates the gradient of test functions; x left unchanged."""
    cases: list[tuple[TestFunction, np.ndarray, np.ndarray]] = []
    for source, gradient in _TEST_FUNCTIONS:
        x = ctx.rng.normal(size=(int(ctx.rng.integers(2, 5)), int(ctx.rng.integers(1, 4))))
        cases.append((TestFunction(source), x, gradient(x)))
    calls = [Call(f"{ctx.item_id}:{i}", "numerical_grad", (f, x), timeout=ctx.call_timeout, return_args=True)
             for i, (f, x, _) in enumerate(cases)]
    judged = [Case(call, want, ((1, "x"),)) for call, (_, _, want) in zip(calls, cases, strict=True)]
    rules = Rules(ctx.params["rtol"], ctx.params["atol"], True, "numerical_grad is accurate on 3 test functions.",
                  ctx.show_inputs, "the exact gradient")

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        return judge_values_inputs_unchanged(judged, results, rules)

    return Probe(calls, judge)


# ---------------------------------------------------------------- p3 memory of hvp_reverse
@plugin.check("hvp_memory", "notebook", params={"n": (int, 40_000), "timeout": (float, 10.0)})
def hvp_memory(ctx: NotebookContext) -> Probe:
    """p3: hvp_reverse at a size where forming H would need far more memory than allowed."""
    n = ctx.params["n"]
    v, y = ctx.rng.normal(size=n), ctx.rng.normal(size=n)
    want = v * float(np.dot(v, y))
    call = Call(f"{ctx.item_id}:big", "hvp_reverse", (v, y), timeout=ctx.params["timeout"])
    forming_gb = n * n * 8 / 1e9

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        result = results.get(call.id)
        if result is not None and result.status in ("error", "crashed", "timeout") and (
            "MemoryError" in result.message or result.status != "error"
        ):
            return Outcome.zero(
                f"hvp_reverse(v, y) with n = {n:,} ran out of memory or time. Forming H at this size "
                f"needs {forming_gb:.1f} GB; compute v * (v @ y) instead, in O(n) memory.")
        problem = call_problem(call, result, False)
        if problem is None:
            assert result is not None
            problem = mismatch(want, result.value, rtol=1e-6, atol=1e-6, what=f"hvp_reverse at n = {n:,}")
        if problem:
            return Outcome.zero(problem)
        return Outcome.full(f"hvp_reverse handled n = {n:,} without forming H.")

    return Probe([call], judge)


# ---------------------------------------------------------------- p4 sgd_step
def _sgd_expected(call: Call, output: Any) -> Any:
    params, grads, lr = call.args
    assert isinstance(params, dict) and isinstance(grads, dict) and isinstance(lr, float)
    return {key: params[key] - lr * grads[key] for key in params}


@plugin.check("sgd_step", "notebook", params={"cases": (int, 2)},
              kit=KitHints("half_values_half_unchanged", "sgd_step is correct and leaves its inputs unchanged.",
                           unchanged=((0, "params"), (1, "grads")), tolerance={"rtol": 1e-9, "atol": 1e-12},
                           expected=_sgd_expected))
def sgd_step(ctx: NotebookContext) -> Probe:
    """p4: sgd_step returns params - lr * grads as a new dict and leaves its inputs unchanged.

    Half of the points for the new values, half for leaving both input dicts unchanged while
    returning a dict of new params.
    """
    cases = []
    for _ in range(ctx.params["cases"]):
        params, _, _ = _mlp_params(ctx.rng)
        grads = {key: ctx.rng.normal(size=value.shape) for key, value in params.items()}
        cases.append((params, grads, float(ctx.rng.uniform(0.01, 0.5))))
    calls = [Call(f"{ctx.item_id}:{i}", "sgd_step", case, timeout=ctx.call_timeout, return_args=True)
             for i, case in enumerate(cases)]
    judged = [Case(call, {key: params[key] - lr * grads[key] for key in params}, ((0, "params"), (1, "grads")))
              for call, (params, grads, lr) in zip(calls, cases, strict=True)]
    rules = Rules(1e-9, 1e-12, True, "sgd_step is correct and leaves its inputs unchanged.", ctx.show_inputs)

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        return judge_half_values_half_unchanged(judged, results, rules)

    return Probe(calls, judge)


# ---------------------------------------------------------------- 1.1
def _network_format(params: Mapping[str, Any], reference: Any) -> dict[str, Any]:
    """The public form of a network answer: array shapes and the activations' names."""
    return {"kind": "network",
            "shapes": {key: list(np.shape(v)) for key, v in reference.items() if not isinstance(v, str)},
            "choices": {key: list(ACTIVATIONS) for key, v in reference.items() if isinstance(v, str)},
            "spellings": sorted(ACTIVATION_SPELLINGS)}


@plugin.check("threshold_network", "written", params={"k": (int, 2)}, kit_format=_network_format)
def check_threshold_network(answer: Any, context: WrittenContext) -> Outcome:
    """1.1: the student's network, with its declared activations, computes the k-th-largest test."""
    net = read_network(answer)
    if isinstance(net, str):
        return Outcome.zero(net)
    # The probes' seed comes from the item alone: the verdict is a function of the network.
    return judge_network_seeded(net, int(context.params["k"]), derive_seed("threshold_network", context.item_id),
                                label=f"k = {context.params['k']}")


# ---------------------------------------------------------------- p5
def hidden_test_set(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in [-1, 1]^4; label = index of the 2nd-largest entry."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(size, 4))
    y = np.argsort(-X, axis=1)[:, 1]
    return X, y


# The labels shortcut scores a weights file in about half the time of mlp_forward on the whole
# test set, and gives way to it wherever it cannot prove the same classes.
plugin.weights_task(WeightsTask("second_largest", inputs=4, classes=4, test_set=hidden_test_set,
                                forward=hw1_code.mlp_forward, student_forward="mlp_forward",
                                labels=relu_hidden_layer_labels))


# ---------------------------------------------------------------- what students are handed
def _notebook_template() -> str:
    from reference_solutions.hw1 import build

    return build.notebook_text(strip_solutions=True)


def _written_template() -> str:
    return (Path(__file__).with_name("hw1_written_template.yaml")).read_text(encoding="utf-8")


plugin.notebook_template = _notebook_template
plugin.written_template = _written_template
