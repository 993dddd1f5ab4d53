"""The table of checks a rubric may name, with the parameters each one accepts.

A check is registered once, next to its code, with a decorator. The rubric loader looks
names and parameters up here, so a misspelt check or parameter fails when the rubric is
loaded, naming the line, not halfway through a batch.

Three kinds of check, by what they read:
- written: a value from the student's answers file, compared with a computed reference;
- notebook: plans calls into the student's code (run in the sandbox), then judges the
  plain data that comes back;
- weights: reads a weights file and evaluates it with the grader's own forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

from grader.outcome import Outcome
from grader.sandbox.session import Call, CallResult

CheckKind = Literal["written", "notebook", "weights"]
Params = Mapping[str, Any]

REQUIRED: Any = object()
"""Marks a parameter with no default."""
LEADERBOARD_VALUE = "leaderboard_value"
"""The key of an Outcome's details that holds the value a leaderboard shows (checks that have one)."""


@dataclass(frozen=True)
class Probe:
    """What a notebook check wants run, and how to judge what came back."""

    calls: Sequence[Call]
    judge: Callable[[Mapping[str, CallResult]], Outcome]


InputGenerator = Callable[[np.random.Generator, ModuleType], list[tuple[Any, ...]]]
"""Makes a list of argument tuples for a notebook function (from the rng and the reference)."""


@dataclass(frozen=True)
class NotebookContext:
    """What a notebook check gets to plan its calls."""

    item_id: str
    params: Params
    rng: np.random.Generator
    reference: ModuleType
    show_inputs: bool
    call_timeout: float
    inputs: Mapping[str, InputGenerator] = field(default_factory=dict)
    """The assignment's input generators, by name (a rubric's `inputs:` parameter names one)."""


@dataclass(frozen=True)
class WrittenContext:
    """What a written check gets besides the student's value."""

    item_id: str
    params: Params
    reference: Any


@dataclass(frozen=True)
class WeightsTask:
    """A task a weights file is scored on, defined by its assignment.

    The file holds a one-hidden-layer network (W1 (inputs, H), b1 (H,), W2 (H, classes),
    b2 (classes,)); `test_set(seed, size)` draws labelled inputs (the same for the same seed:
    the check draws it once per process); `forward(params, X)` gives the logits (the reference's
    own forward pass: no student code runs); `student_forward` names the notebook function of
    the same meaning, which the student kit's estimate calls.
    """

    name: str
    inputs: int
    classes: int
    test_set: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    forward: Callable[[Any, np.ndarray], np.ndarray]
    student_forward: str
    labels: Callable[[Any, np.ndarray], np.ndarray | None] | None = None
    """Optional, faster: the class `forward`'s logits pick for each input (their argmax), or None
    where it cannot prove that; the check then runs `forward`. It must never answer otherwise
    (`grader.checks.weights.relu_hidden_layer_labels` proves it for relu(X W1 + b1) W2 + b2)."""


@dataclass(frozen=True)
class WeightsContext:
    """What a weights check gets besides the file."""

    item_id: str
    params: Params
    reference: ModuleType
    private_seed: int
    tasks: Mapping[str, WeightsTask] = field(default_factory=dict)
    """The assignment's weights tasks, by name (a rubric's `task:` parameter names one)."""


@dataclass(frozen=True)
class KitHints:
    """How the student kit's self-check runs a visible notebook check (grader/kit/checker.py).

    `judge` names one of the shared judges (grader/checks/judges.py): "values" (each case's value against the
    expected one), "values_inputs_unchanged" (each case also leaves the arguments listed in
    `unchanged` as they were), "half_values_half_unchanged" (half the points for the values,
    half for leaving the inputs unchanged while returning a value). `expected`, if given, turns
    (call, reference output) into the value compared with (e.g. an exact gradient).
    """

    judge: str = "values"
    passed_message: str = "{function} is correct on {count} inputs."
    unchanged: Sequence[tuple[int, str]] = ()
    tolerance: Mapping[str, float] | None = None
    expected: Callable[[Call, Any], Any] | None = None
    compared: str = ""  # what the expected value is ("the exact gradient"), as the grader's check says


@dataclass(frozen=True)
class CheckSpec:
    """One registered check: its kind, function and accepted parameters."""

    name: str
    kind: CheckKind
    function: Callable[..., Any]
    params: Mapping[str, tuple[type | tuple[type, ...], Any]] = field(default_factory=dict)
    doc: str = ""
    validate: Callable[[Params], str | None] | None = None
    """Checks the parameters' values when the rubric loads; returns what is wrong, or None."""
    assignment: str | None = None
    """The assignment that registered it (a plugin's own check), or None for the grader's."""
    kit: KitHints | None = None
    """For a notebook check the student kit may run: how (None: the kit cannot run it)."""
    kit_format: Callable[[Params, Any], dict[str, Any]] | None = None
    """For a written check: the public format of its answer, from its parameters and the
    reference answer's form (shapes, choices; never values), for the kit's format check."""
    leaderboard: bool = False
    """Whether its outcomes carry a value for a Gradescope leaderboard (details[LEADERBOARD_VALUE])."""

    def with_defaults(self, given: Params) -> dict[str, Any]:
        """The given parameters completed with defaults (validation happens in the rubric)."""
        merged = {name: default for name, (_, default) in self.params.items() if default is not REQUIRED}
        merged.update(given)
        return merged


# Keyed by (assignment, name): the grader's own checks under None, each plugin's under its
# assignment, so two assignments may each have a check of the same name.
_REGISTRY: dict[tuple[str | None, str], CheckSpec] = {}


def register(
    name: str, kind: CheckKind, params: Mapping[str, tuple[type | tuple[type, ...], Any]] | None = None,
    validate: Callable[[Params], str | None] | None = None, *, assignment: str | None = None,
    kit: KitHints | None = None, kit_format: Callable[[Params, Any], dict[str, Any]] | None = None,
    leaderboard: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the check `name` of `kind` (of `assignment`, if given)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        key = (assignment, name)
        if key in _REGISTRY and _REGISTRY[key].function is not function:
            where = f" by assignment {assignment!r}" if assignment else ""
            raise RuntimeError(f"check {name!r} registered twice{where}")
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY[key] = CheckSpec(name, kind, function, dict(params or {}), doc[0] if doc else "", validate,
                                   assignment, kit, kit_format, leaderboard)
        return function

    return decorate


def get_check(name: str, assignment: str | None = None) -> CheckSpec | None:
    """The check called `name`: the assignment's own if it has one, else the grader's."""
    _load_builtin_checks()
    if assignment is not None and (assignment, name) in _REGISTRY:
        return _REGISTRY[(assignment, name)]
    return _REGISTRY.get((None, name))


def all_checks(assignment: str | None = None) -> Mapping[str, CheckSpec]:
    """The grader's checks and, if named, the assignment's own (which win), by name."""
    _load_builtin_checks()
    checks = {name: spec for (owner, name), spec in _REGISTRY.items() if owner is None}
    checks.update({name: spec for (owner, name), spec in _REGISTRY.items()
                   if assignment is not None and owner == assignment})
    return checks


def _load_builtin_checks() -> None:
    # Importing the modules runs their @register decorators; imported lazily so this module
    # stays importable by the checks themselves.
    from grader.checks import notebook_checks, weights, written  # noqa: F401


WrittenCheck = Callable[[Any, WrittenContext], Outcome]
NotebookCheck = Callable[[NotebookContext], Probe]
WeightsCheck = Callable[[Path, WeightsContext], Outcome]
