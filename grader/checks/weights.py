"""Part p5: a weights file evaluated with the grader's own forward pass on a hidden test set.

No student code runs for p5: the arrays are loaded as data and the reference `mlp_forward`
computes the logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.checks.registry import WeightsContext, register
from grader.errors import StudentFileError
from grader.outcome import Outcome
from grader.weights import SHAPES, load_weights, validate_weights


def hidden_test_set(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in [-1, 1]^4; label = index of the 2nd-largest entry."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(size, 4))
    y = np.argsort(-X, axis=1)[:, 1]
    return X, y


@register("weights_accuracy", "weights", params={
    "zero_at": (float, 0.50), "full_at": (float, 0.92), "test_size": (int, 20_000), "max_hidden": (int, 256),
})
def weights_accuracy(path: Path, ctx: WeightsContext) -> Outcome:
    """p5: points rise linearly from `zero_at` accuracy to full at `full_at`."""
    p = ctx.params
    try:
        arrays = load_weights(path)
    except StudentFileError as exc:
        return Outcome.zero(str(exc))
    problem = validate_weights(arrays, 4, 4, p["max_hidden"])
    if problem:
        return Outcome.zero(f"{path.name}: {problem}")
    params = {key: arrays[key].astype(np.float64) for key in SHAPES}
    X, y = hidden_test_set(ctx.private_seed, p["test_size"])
    with np.errstate(all="ignore"):
        logits = ctx.reference.mlp_forward(params, X)
    if not np.isfinite(logits).all():
        return Outcome.zero(f"{path.name}: the network's outputs overflow to inf/NaN on test inputs.")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y))
    fraction = float(np.clip((accuracy - p["zero_at"]) / (p["full_at"] - p["zero_at"]), 0.0, 1.0))
    return Outcome(fraction, f"Accuracy on the hidden test set ({p['test_size']:,} points): {accuracy:.1%}. "
                   f"Points rise linearly from {p['zero_at']:.0%} to full marks at {p['full_at']:.0%}.")
