"""The interface through which an assignment adds what is particular to it.

An assignment lives beside the grader: its rubric in `rubrics/<name>.yaml`, everything else in
`reference_solutions/<name>/`. Its rubric names a plugin module (`plugin:`), which the rubric
loader imports before reading the items. The module makes one `AssignmentPlugin` and registers
through it:

- input generators (`@plugin.inputs("name")`): argument lists for the generic
  `function_values` check, named by an item's `inputs:` parameter;
- checks of its own (`@plugin.check("name", kind, params=...)`), with the same signature as
  the grader's (grader/checks/registry.py); they shadow a grader check of the same name for
  this assignment only;
- weights tasks (`plugin.weights_task(...)`): the data and forward pass a weights file is
  scored with by the generic `weights_accuracy` check, named by its `task:` parameter;
- the templates handed to students (`plugin.notebook_template`, `plugin.written_template`:
  functions returning the text), which the student kit ships.

docs/authoring.md has a worked example. Nothing here imports an assignment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from grader.checks.registry import (
    CheckKind,
    InputGenerator,
    KitHints,
    Params,
    WeightsTask,
    register,
)
from grader.errors import GraderError

_PLUGINS: dict[str, AssignmentPlugin] = {}


class AssignmentPlugin:
    """One assignment's input generators, checks and weights tasks."""

    def __init__(self, assignment: str) -> None:
        self.assignment = assignment
        self.generators: dict[str, InputGenerator] = {}
        self.tasks: dict[str, WeightsTask] = {}
        # What students are handed (the student kit): the notebook template's text and the
        # written answers' template (a YAML text with every key, commented).
        self.notebook_template: Callable[[], str] | None = None
        self.written_template: Callable[[], str] | None = None
        _PLUGINS[assignment] = self

    def inputs(self, name: str) -> Callable[[InputGenerator], InputGenerator]:
        """Register the decorated function as the input generator `name`."""

        def decorate(function: InputGenerator) -> InputGenerator:
            self.generators[name] = function
            return function

        return decorate

    def check(self, name: str, kind: CheckKind,
              params: Mapping[str, tuple[type | tuple[type, ...], Any]] | None = None,
              validate: Callable[[Params], str | None] | None = None, *, kit: KitHints | None = None,
              kit_format: Callable[[Params, Any], dict[str, Any]] | None = None,
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as this assignment's check `name` of `kind`."""
        return register(name, kind, params, validate, assignment=self.assignment, kit=kit,
                        kit_format=kit_format)

    def weights_task(self, task: WeightsTask) -> WeightsTask:
        """Register a task that weights files are scored on."""
        self.tasks[task.name] = task
        return task


def load_plugin(target: str, assignment: str) -> AssignmentPlugin:
    """Import the plugin module `target` and return the plugin it made for `assignment`."""
    try:
        importlib.import_module(target)
    except ImportError as exc:
        raise GraderError(f"cannot import {target}: {exc}") from exc
    plugin = _PLUGINS.get(assignment)
    if plugin is None:
        raise GraderError(f"{target} makes no AssignmentPlugin({assignment!r})")
    return plugin


def plugin_of(assignment: str) -> AssignmentPlugin | None:
    """The plugin an assignment registered, if its rubric has been loaded."""
    return _PLUGINS.get(assignment)
