"""The format of each written answer, checked against the public contract, never against an answer.

The kit's checker and `grader check` both use it. Per answer it says "OK format", "not answered
yet" or "problem: ...": array shapes, a graph's [from, to] pairs of known nodes, the syntax of
expressions. Whether an answer is right is decided on Gradescope only: the formats hold shapes,
node names and kinds of expression (`grader.student_kit.written_formats` builds them), no values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks.arrays import as_float_array, describe, squeeze_to
from grader.checks.graph import NodeTable, read_edges
from grader.errors import StudentFileError
from grader.kit.expression_syntax import Mode, expression_problem
from grader.outcome import brief
from grader.yamlio import load_untrusted_yaml

__all__ = ["OK", "PROBLEM", "UNANSWERED", "AnswerFormat", "WrittenCheck", "check_written", "lookup"]

OK = "OK format"
UNANSWERED = "not answered yet"
PROBLEM = "problem"
_MODES: Mapping[str, Mode] = {"exact": "expression", "big_o": "big_o", "comparison": "comparison"}
_KEEP_KEYS = "keep every key of the template"


@dataclass(frozen=True)
class AnswerFormat:
    """One answer's format: its dotted key in the file, OK / UNANSWERED / PROBLEM, and why."""

    key: str
    status: str
    message: str = ""
    missing: bool = False  # the key itself is not in the file

    def text(self) -> str:
        """`OK format`, `not answered yet` or `problem: <message>`."""
        return f"{self.status}: {self.message}" if self.message else self.status


@dataclass(frozen=True)
class WrittenCheck:
    """The written-answers file: what keeps it from being read at all, else each answer's format."""

    name: str
    problems: tuple[str, ...]
    answers: tuple[AnswerFormat, ...] = ()


def check_written(name: str, path: Path | None, missing_reason: str,
                  formats: Sequence[Mapping[str, Any]]) -> WrittenCheck:
    """Read the answers file at `path` (None: not found, for `missing_reason`) and check each format."""
    if path is None:
        return WrittenCheck(name, (missing_reason,))
    try:
        answers = load_untrusted_yaml(path)
    except StudentFileError as exc:
        return WrittenCheck(name, (str(exc) if str(exc).startswith(path.name) else f"{path.name}: {exc}",))
    if not isinstance(answers, dict):
        return WrittenCheck(name, (f"{path.name} should be a mapping of answers (q1_1: ..., q1_2_graph: ...).",))
    return WrittenCheck(name, (), tuple(status for spec in formats for status in _check_answer(answers, spec)))


def _check_answer(answers: Mapping[str, Any], spec: Mapping[str, Any]) -> list[AnswerFormat]:
    """The format of the answer under spec["key"], one entry per field for a mapping of expressions."""
    key = str(spec["key"])
    found, value = lookup(answers, key)
    if not found:
        return [AnswerFormat(key, PROBLEM, f"the key {key} is missing; {_KEEP_KEYS}", missing=True)]
    if spec["kind"] == "expressions":
        return _expressions(key, value, spec)
    if value is None or value == [] or ("template" in spec and value == spec["template"]):
        return [AnswerFormat(key, UNANSWERED)]
    check = {"array": _array, "network": _network, "graph": _graph}.get(str(spec["kind"]))
    problem = check(value, spec) if check is not None else None
    return [AnswerFormat(key, PROBLEM, problem) if problem else AnswerFormat(key, OK)]


def lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    """The value under a dotted key such as `q1_3_cost.memory`, if there is one."""
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def _shape_text(shape: Sequence[int]) -> str:
    """(3, 4) as `3 x 4`, (3,) as `a list of 3 numbers`, () as `one number`."""
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"a list of {shape[0]} numbers"
    return " x ".join(map(str, shape)) + " (a list of rows)"


def _numbers_problem(value: Any, shape: Sequence[int], what: str) -> str | None:
    """What keeps `value` from being numbers of this shape, if anything."""
    array = as_float_array(value)
    if array is None:
        return f"{what} should be {_shape_text(shape)}; got {describe(value)}"
    array = squeeze_to(array, tuple(shape))  # a vector may be a row or a column, as the grader reads it
    if array.shape != tuple(shape):
        return f"{what} should be {_shape_text(shape)}; got shape {array.shape or 'one number'}"
    if not np.isfinite(array).all():
        return f"{what} has an entry that is not a finite number"
    return None


def _array(value: Any, spec: Mapping[str, Any]) -> str | None:
    """A matrix or vector of numbers with the contract's shape."""
    return _numbers_problem(value, spec["shape"], "the answer")


def _network(value: Any, spec: Mapping[str, Any]) -> str | None:
    """A mapping of arrays of the contract's shapes and of activations named from its choices."""
    shapes: Mapping[str, Sequence[int]] = spec["shapes"]
    choices: Mapping[str, Sequence[str]] = spec["choices"]
    if not isinstance(value, dict):
        return f"this answer should be a mapping with the keys {', '.join([*shapes, *choices])}"
    for key, shape in shapes.items():
        problem = f"{key} is missing" if key not in value else _numbers_problem(value[key], shape, key)
        if problem:
            return problem
    for key, names in choices.items():
        if value.get(key) in (None, ""):
            return f"{key} is empty; write one of {', '.join(names)}"
        accepted = {_spelling(name) for name in [*names, *spec.get("spellings", ())]}
        if _spelling(value[key]) not in accepted:
            return f"{key} should be one of {', '.join(names)}; got {brief(value[key])}"
    return None


def _spelling(name: Any) -> str:
    """A name in lower case without spaces, underscores and hyphens: `Hard threshold` is hard_threshold."""
    return "".join(ch for ch in str(name).lower() if ch not in " _-")


def _graph(value: Any, spec: Mapping[str, Any]) -> str | None:
    """A list of [from, to] pairs whose nodes are the contract's (weight nodes are allowed)."""
    nodes = list(spec["nodes"])
    # The grader's own reading of node names (aliases, notation such as a_1, weight nodes).
    edges, notes = read_edges(value, NodeTable(nodes, spec["aliases"], spec["ignored"]))
    if notes:
        return notes[0]
    unknown = sorted({node for edge in edges for node in edge} - set(nodes))
    if unknown:
        return f"unknown node(s) {', '.join(unknown)}; the nodes are {' '.join(nodes)}"
    return None


def _expressions(key: str, value: Any, spec: Mapping[str, Any]) -> list[AnswerFormat]:
    """Each field of a mapping of expressions: answered, and well formed for its kind."""
    fields: Mapping[str, str] = spec["fields"]
    if not isinstance(value, dict):
        return [AnswerFormat(key, PROBLEM, f"this answer should be a mapping with the keys {', '.join(fields)}")]
    statuses = []
    for field, compare in fields.items():
        dotted = f"{key}.{field}"
        if field not in value:
            statuses.append(AnswerFormat(dotted, PROBLEM, f"the key {field} is missing; {_KEEP_KEYS}",
                                         missing=True))
            continue
        if compare == "number":  # a number or an expression of numbers (ln(4)): read on Gradescope
            problem = UNANSWERED if value[field] in (None, "", "...") else None
        else:
            problem = _expression_problem(value[field], _MODES.get(compare, "expression"), spec["variables"])
        if problem == UNANSWERED:
            statuses.append(AnswerFormat(dotted, UNANSWERED))
        else:
            statuses.append(AnswerFormat(dotted, PROBLEM, problem) if problem else AnswerFormat(dotted, OK))
    return statuses


def _expression_problem(value: Any, mode: Mode, variables: Sequence[str]) -> str | None:
    """UNANSWERED, what is wrong with the expression, or None (as the grader reads YAML values)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return UNANSWERED
    if isinstance(value, bool):
        return "write the expression as text in quotes, not true/false"
    if isinstance(value, (int, float)) and not ("e" in str(value) or str(value) in ("inf", "nan")):
        value = str(value)  # YAML reads `3` as a number; the grader takes it as the text "3"
    if not isinstance(value, str):
        return f"write a single expression as text in quotes; got {describe(value)}"
    return expression_problem(value, mode, variables)
