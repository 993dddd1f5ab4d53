"""Weights files scored on a task their assignment defines, with the reference's forward pass.

No student code runs: the arrays are loaded as data (grader/weights.py: a one-hidden-layer
network W1, b1, W2, b2) and the assignment's `WeightsTask` (grader/plugins.py) gives the
hidden test set and the forward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks.registry import LEADERBOARD_VALUE, REQUIRED, WeightsContext, register
from grader.errors import StudentFileError
from grader.outcome import Outcome
from grader.weights import SHAPES, load_weights, validate_weights

TestSetFunction = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


@functools.lru_cache(maxsize=8)
def shared_test_set(test_set: TestSetFunction, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`test_set(seed, size)`, drawn once per process and handed out read-only.

    The seed comes from the private salt and the item (`engine._grade_weights`), never from a
    submission: every submission is scored on this same set, so drawing it again for each one
    only costs time (about 3 ms for 20,000 points). Read-only, so that no forward pass can
    change the set the next submission is scored on. A few entries: one per weights item and salt.
    """
    X, y = test_set(seed, size)
    for array in (X, y):
        array.setflags(write=False)
    return X, y


# The rounding error of a float64 sum of n products, in any order and with or without fused
# multiply-adds (as any BLAS forms a matrix product), is at most gamma(n) times the sum of the
# products' magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, section 3.1).
_UNIT_ROUNDOFF = 2.0**-53
# Underflow (gradual or flushed, of results or of inputs) changes one operation by at most
# 2^-1022 times its other operand; 2^-1000 times bounds on both operands is far above that.
_UNDERFLOW = 2.0**-1000
_LARGEST = 1e300  # magnitudes up to this leave a wide margin below overflow (1.8e308)
_CHUNK_ROWS = 512  # rows per block: a block's hidden layer (at most 1 MB) stays in the cache


def _gamma(n: int) -> float:
    return n * _UNIT_ROUNDOFF / (1.0 - n * _UNIT_ROUNDOFF)


def relu_hidden_layer_labels(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray | None:
    """argmax of relu(X W1 + b1) W2 + b2 per row, or None where a row's winner is not certain.

    A weights task's `labels` shortcut (`WeightsTask.labels`), for tasks whose `forward` is this
    network. The logits are computed in blocks of rows (in the cache, about twice as fast as the
    whole test set at once), which rounds differently from `forward` on the whole set in the
    last bits. So the winners are kept only if in every row the lead over the runner-up exceeds
    twice the largest rounding error either computation can make (a bound from the magnitudes
    of the inputs and weights, about 1e-13 of the logits' scale): then `forward`, however it
    blocks its products, picks the same classes. One uncertain row, a non-finite logit or
    magnitudes near overflow give None, and the caller runs `forward` itself.
    """
    W1, b1, W2, b2 = (np.asarray(params[key], dtype=np.float64) for key in ("W1", "b1", "W2", "b2"))
    X = np.asarray(X, dtype=np.float64)
    rows, inputs = X.shape
    hidden_units, classes = W2.shape
    if rows == 0 or classes < 2:
        return None
    with np.errstate(all="ignore"):
        logits = np.empty((rows, classes))
        block = np.empty((min(rows, _CHUNK_ROWS), hidden_units))
        for start in range(0, rows, _CHUNK_ROWS):
            hidden = block[: min(_CHUNK_ROWS, rows - start)]
            np.matmul(X[start:start + len(hidden)], W1, out=hidden)
            hidden += b1
            np.maximum(hidden, 0.0, out=hidden)
            np.matmul(hidden, W2, out=logits[start:start + len(hidden)])
        logits += b2
        if not np.isfinite(logits).all():
            return None
        # Magnitudes: each hidden unit's terms |x_k W1_ki| and |b1_i| sum to at most `hidden_sum`,
        # and each logit's terms (through the hidden units, then |b2_j|) to at most `logit_sum`.
        x_max = float(np.abs(X).max())
        W1_sums, W2_abs = np.abs(W1).sum(axis=0), np.abs(W2)
        hidden_sum = x_max * float(W1_sums.max()) + float(np.abs(b1).max())
        logit_sum = float((x_max * W1_sums @ W2_abs + np.abs(b1) @ W2_abs + np.abs(b2)).max())
        if not (hidden_sum <= _LARGEST and logit_sum <= _LARGEST):  # also False for NaN
            return None
        # Rounding: gamma(inputs + 1) in each hidden unit (its bias is one more term), carried
        # through relu (which never widens a difference) and W2, then gamma(H + 1) in each logit;
        # plus a term for underflow. Doubled: the bound is itself computed in floating point.
        relative = _gamma(hidden_units + 1) * (1.0 + _gamma(inputs + 1)) + _gamma(inputs + 1)
        absolute = _UNDERFLOW * (inputs + hidden_units + 2) * (1.0 + x_max) * (
            1.0 + float(W1_sums.max() + np.abs(b1).max())) * (1.0 + float(W2_abs.sum(axis=0).max() + np.abs(b2).max()))
        error = 2.0 * (relative * logit_sum + absolute)
        # Each row's largest logit, its runner-up and its first index (numpy's argmax), class by class.
        top, runner_up = logits[:, 0].copy(), np.full(rows, -np.inf)
        labels = np.zeros(rows, dtype=np.intp)
        for j in range(1, classes):
            column = logits[:, j]
            np.maximum(runner_up, np.minimum(top, column), out=runner_up)
            labels[column > top] = j
            np.maximum(top, column, out=top)
        # Each computation is within `error` of the exact logits, so they differ by at most
        # 2 * error per logit, and a lead above 4 * error is a lead in both.
        certain = bool(np.all(top - runner_up > 4.0 * error))
    return labels if certain else None


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
    X, y = shared_test_set(task.test_set, ctx.private_seed, p["test_size"])
    labels = task.labels(params, X) if task.labels is not None else None
    if labels is None:  # no shortcut, or it could not be sure: the reference's forward pass decides
        with np.errstate(all="ignore"):
            logits = task.forward(params, X)
        if not np.isfinite(logits).all():
            return Outcome.zero(f"{path.name}: the network's outputs overflow to inf/NaN on test inputs.")
        labels = np.argmax(logits, axis=1)
    accuracy = float(np.mean(labels == y))
    fraction = float(np.clip((accuracy - p["zero_at"]) / (p["full_at"] - p["zero_at"]), 0.0, 1.0))
    return Outcome(fraction, f"Accuracy on the hidden test set ({p['test_size']:,} points): {accuracy:.1%}. "
                   f"Points rise linearly from {p['zero_at']:.0%} to full marks at {p['full_at']:.0%}.",
                   {LEADERBOARD_VALUE: round(accuracy, 6)})
