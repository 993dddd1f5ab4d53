"""Weights files scored on a task their assignment defines, with the reference's forward pass.

No student code runs: the arrays are loaded as data (grader/weights.py: a one-hidden-layer
network W1, b1, W2, b2) and the assignment's `WeightsTask` (grader/plugins.py) gives the
hidden test set and the forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks.registry import LEADERBOARD_VALUE, REQUIRED, WeightsContext, register
from grader.errors import StudentFileError
from grader.outcome import Outcome
from grader.weights import SHAPES, load_weights, validate_weights


def _validate(params: Mapping[str, Any]) -> str | None:
    if not 0 <= params["zero_at"] < params["full_at"] <= 1:
        return "zero_at and full_at must be accuracies with 0 <= zero_at < full_at <= 1"
    return None


@register("weights_accuracy", "weights", validate=_validate, leaderboard=True, params={
    "task": (str, REQUIRED), "zero_at": (float, 0.50), "full_at": (float, 0.92), "test_size": (int, 20_000),
    "max_hidden": (int, 256),
})
def weights_accuracy(path: Path, ctx: WeightsContext) -> Outcome:
    """Accuracy on the task's hidden test set: points rise linearly from `zero_at` to full at `full_at`."""
    p = ctx.params
    task = ctx.tasks[p["task"]]
    try:
        arrays = load_weights(path)
    except StudentFileError as exc:
        return Outcome.zero(str(exc))
    problem = validate_weights(arrays, task.inputs, task.classes, p["max_hidden"])
    if problem:
        return Outcome.zero(f"{path.name}: {problem}")
    params = {key: arrays[key].astype(np.float64) for key in SHAPES}
    X, y = task.test_set(ctx.private_seed, p["test_size"])
    with np.errstate(all="ignore"):
        logits = task.forward(params, X)
    if not np.isfinite(logits).all():
        return Outcome.zero(f"{path.name}: the network's outputs overflow to inf/NaN on test inputs.")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y))
    fraction = float(np.clip((accuracy - p["zero_at"]) / (p["full_at"] - p["zero_at"]), 0.0, 1.0))
    return Outcome(fraction, f"Accuracy on the hidden test set ({p['test_size']:,} points): {accuracy:.1%}. "
                   f"Points rise linearly from {p['zero_at']:.0%} to full marks at {p['full_at']:.0%}.",
                   {LEADERBOARD_VALUE: round(accuracy, 6)})
