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


@dataclass(frozen=True)
class Probe:
    """What a notebook check wants run, and how to judge what came back."""

    calls: Sequence[Call]
    judge: Callable[[Mapping[str, CallResult]], Outcome]


@dataclass(frozen=True)
class NotebookContext:
    """What a notebook check gets to plan its calls."""

    item_id: str
    params: Params
    rng: np.random.Generator
    reference: ModuleType
    show_inputs: bool
    call_timeout: float


@dataclass(frozen=True)
class WrittenContext:
    """What a written check gets besides the student's value."""

    item_id: str
    params: Params
    reference: Any


@dataclass(frozen=True)
class WeightsContext:
    """What a weights check gets besides the file."""

    item_id: str
    params: Params
    reference: ModuleType
    private_seed: int


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

    def with_defaults(self, given: Params) -> dict[str, Any]:
        """The given parameters completed with defaults (validation happens in the rubric)."""
        merged = {name: default for name, (_, default) in self.params.items() if default is not REQUIRED}
        merged.update(given)
        return merged


_REGISTRY: dict[str, CheckSpec] = {}


def register(
    name: str, kind: CheckKind, params: Mapping[str, tuple[type | tuple[type, ...], Any]] | None = None,
    validate: Callable[[Params], str | None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the check `name` of `kind`."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise RuntimeError(f"check {name!r} registered twice")
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = CheckSpec(name, kind, function, dict(params or {}), doc[0] if doc else "", validate)
        return function

    return decorate


def get_check(name: str) -> CheckSpec | None:
    """The registered check called `name`, if any."""
    _load_builtin_checks()
    return _REGISTRY.get(name)


def all_checks() -> Mapping[str, CheckSpec]:
    """Every registered check, by name."""
    _load_builtin_checks()
    return dict(_REGISTRY)


def _load_builtin_checks() -> None:
    # Importing the modules runs their @register decorators; imported lazily so this module
    # stays importable by the checks themselves.
    from grader.checks import network, notebook_checks, weights, written  # noqa: F401


WrittenCheck = Callable[[Any, WrittenContext], Outcome]
NotebookCheck = Callable[[NotebookContext], Probe]
WeightsCheck = Callable[[Path, WeightsContext], Outcome]
