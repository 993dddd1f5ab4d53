"""Generic checks of the notebook's functions, and helpers for an assignment's own.

Each check plans calls into the student's code, which run in the sandbox, and judges the
plain data that comes back against values the grader computes here, in its own process,
with the assignment's reference implementation. Student code never runs in this module.
The inputs come from the assignment (its plugin's input generators, grader/plugins.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grader.checks.arrays import dict_mismatches
from grader.checks.feedback import call_problem
from grader.checks.judges import Case, Rules, judge_values
from grader.checks.registry import REQUIRED, KitHints, NotebookContext, Probe, register
from grader.outcome import Outcome
from grader.sandbox.session import Call, CallResult, Ref

Args = tuple[Any, ...]


# ---------------------------------------------------------------- generic value check
def _validate_function_values(params: Mapping[str, Any]) -> str | None:
    # The name of `inputs` is checked against the assignment's generators by the rubric loader.
    if not isinstance(params["function"], str) or not params["function"].isidentifier():
        return "function must be the name of a notebook function"
    return None


@register("function_values", "notebook", validate=_validate_function_values, kit=KitHints(), params={
    "function": (str, REQUIRED), "inputs": (str, REQUIRED), "select": ((int, str), None),
    "rtol": (float, 1e-6), "atol": (float, 1e-8), "partial": (bool, True),
})
def function_values(ctx: NotebookContext) -> Probe:
    """Call a function on generated inputs and compare with the reference's values."""
    p = ctx.params
    function, select = p["function"], p["select"]
    reference = getattr(ctx.reference, function)
    cases = ctx.inputs[p["inputs"]](ctx.rng, ctx.reference)
    calls = [Call(f"{ctx.item_id}:{i}", function, args, select=select, timeout=ctx.call_timeout)
             for i, args in enumerate(cases)]
    expected = []
    for args in cases:
        value = reference(*args)
        expected.append(value[select] if select is not None else value)

    judged = [Case(call, want) for call, want in zip(calls, expected, strict=True)]
    rules = Rules(p["rtol"], p["atol"], p["partial"], f"{function} is correct on {len(calls)} inputs.",
                  ctx.show_inputs)

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        return judge_values(judged, results, rules)

    return Probe(calls, judge)


# ---------------------------------------------------------------- gradients
def gradient_probe(
    ctx: NotebookContext, cases: Sequence[Args], forward: str, backward: str | None,
    expected: Sequence[Mapping[str, np.ndarray]], keys: Sequence[str],
) -> Probe:
    """Gradients against the reference's, one share of the points per key and case.

    With `backward` None, `forward(*args)` returns (value, grads); else `forward` returns
    (value, cache) and `backward(args[0], cache)` the grads (the cache stays in the child).
    """
    calls: list[Call] = []
    grad_calls: list[Call] = []
    for i, args in enumerate(cases):
        if backward is None:  # one function returns (loss, grads)
            call = Call(f"{ctx.item_id}:{i}", forward, args, select=1, timeout=ctx.call_timeout)
            calls.append(call)
            grad_calls.append(call)
        else:
            first = Call(f"{ctx.item_id}:{i}:fwd", forward, args, select=0, timeout=ctx.call_timeout)
            second = Call(f"{ctx.item_id}:{i}:bwd", backward, (args[0], Ref(first.id, 1)), timeout=ctx.call_timeout)
            calls += [first, second]
            grad_calls.append(second)
    rtol, atol = ctx.params["rtol"], ctx.params["atol"]

    def judge(results: Mapping[str, CallResult]) -> Outcome:
        right = dict.fromkeys(keys, 0)
        first_problem: dict[str, str] = {}
        for call, want in zip(grad_calls, expected, strict=True):
            result = results.get(call.id)
            problem = call_problem(call, result, ctx.show_inputs)
            first = next((c for c in calls if isinstance(call.args[-1], Ref) and c.id == call.args[-1].call_id), None)
            if problem is not None and first is not None:
                first_failure = call_problem(first, results.get(first.id), ctx.show_inputs)
                if first_failure is not None:  # the gradients need the forward pass's cache
                    problem = f"{call.function} could not be checked because {first.function} failed: {first_failure}"
            if problem is not None:
                for key in keys:
                    first_problem.setdefault(key, problem)
                continue
            assert result is not None
            for key, message in dict_mismatches(want, result.value, rtol=rtol, atol=atol, what="gradients").items():
                if message is None:
                    right[key] += 1
                else:
                    first_problem.setdefault(key, message)
        fraction = sum(right.values()) / (len(keys) * len(grad_calls))
        good = [k for k in keys if right[k] == len(grad_calls)]
        lines = [f"Correct gradients: {', '.join(good) or 'none'}."]
        lines += [first_problem[key] for key in keys if key in first_problem]
        return Outcome(fraction, "\n".join(dict.fromkeys(lines)))

    return Probe(calls, judge)
