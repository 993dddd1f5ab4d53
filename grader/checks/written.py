"""Checks of values from the written-answers file, against computed references."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.checks import expressions
from grader.checks.arrays import mismatch
from grader.checks.graph import compare_graphs
from grader.checks.numeric import compare_number
from grader.checks.registry import WrittenContext, register
from grader.outcome import Outcome


@register("array", "written", params={"rtol": (float, 1e-6), "atol": (float, 1e-6)})
def check_array(answer: Any, context: WrittenContext) -> Outcome:
    """A matrix or vector of numbers, equal to the reference within tolerance.

    A vector (or scalar) reference also accepts the same numbers as a row or a column; a
    matrix must have its own shape.
    """
    if answer is None:
        return Outcome.zero("No answer was given.")
    problem = mismatch(context.reference, answer, rtol=context.params["rtol"],
                       atol=context.params["atol"], what=context.item_id,
                       vector=np.ndim(context.reference) <= 1)
    if problem is None:
        return Outcome.full()
    return Outcome.zero(problem)


@register("graph_edges", "written", params={"aliases": (dict, {}), "ignored_nodes": (list, [])})
def check_graph_edges(answer: Any, context: WrittenContext) -> Outcome:
    """Edges of a computation graph, as a set, with partial credit; weight nodes ignored."""
    return compare_graphs(answer, context.reference, context.params["aliases"], context.params["ignored_nodes"])


_COMPARATORS = {
    "exact": expressions.equal_expressions,
    "big_o": expressions.equal_big_o,
    "comparison": expressions.equal_comparisons,
}
# Fields compared as numbers (`ln(4)`, `0.25`), with these tolerances.
_NUMBER_TOLERANCE = {"rtol": 1e-6, "atol": 1e-9}


@register("number", "written", params={"rtol": (float, 1e-6), "atol": (float, 1e-9)})
def check_number(answer: Any, context: WrittenContext) -> Outcome:
    """A number, written as one or as an expression of numbers (ln, log, exp, sqrt, e, pi)."""
    return compare_number(answer, float(context.reference), rtol=context.params["rtol"],
                          atol=context.params["atol"])


def _validate_fields(params: Mapping[str, Any]) -> str | None:
    for key, spec in (params["fields"] or {}).items():
        if not isinstance(spec, dict) or set(spec) - {"compare", "weight"}:
            return f"fields.{key} takes compare and weight"
        if spec.get("compare", "exact") not in (*_COMPARATORS, "number"):
            return f"fields.{key}.compare must be one of {', '.join((*_COMPARATORS, 'number'))}"
        weight = spec.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            return f"fields.{key}.weight must be a positive number"
    variables = params["variables"]
    if not variables or not all(isinstance(v, str) and len(v) == 1 and v.isascii() and v.isalpha()
                                and v not in "eEO" for v in variables):
        return "variables must list single ASCII letters (not e, E or O), such as [n, k]"
    try:
        expressions.check_variables(frozenset(variables))
    except ValueError as exc:
        return f"variables: {exc}"
    return None


@register("expressions", "written", params={"fields": (dict, None), "variables": (list, ["n", "m"])},
          validate=_validate_fields)
def check_expressions(answer: Any, context: WrittenContext) -> Outcome:
    """A mapping of named expressions, each compared by meaning; partial credit by weight.

    `fields` maps each key to `{compare: exact | big_o | comparison | number, weight: number}`;
    `variables` lists the single-letter variables the expressions are in (default n and m).
    """
    variables = frozenset(str(v) for v in context.params["variables"])
    fields: dict[str, Any] = context.params["fields"] or {
        key: {"compare": "exact"} for key in context.reference
    }
    if not isinstance(answer, dict):
        return Outcome.zero(f"This answer should be a mapping with the keys {', '.join(fields)}.")
    earned = total = 0.0
    lines = []
    for key, spec in fields.items():
        weight = float(spec.get("weight", 1))
        total += weight
        kind = spec.get("compare", "exact")
        if key not in answer or answer[key] in (None, ""):
            lines.append(f"{key}: missing.")
            continue
        if kind == "number":
            outcome = compare_number(answer[key], float(context.reference[key]), **_NUMBER_TOLERANCE)
        else:
            outcome = _COMPARATORS[kind](answer[key], context.reference[key], variables=variables)
        earned += weight * outcome.fraction
        lines.append(f"{key}: {outcome.feedback}")
    return Outcome(min(1.0, earned / total) if total else 0.0, "\n".join(lines))
