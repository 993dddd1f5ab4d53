"""Judging a hard-coded threshold network (problem 1.1 and notebook part p1) by behaviour.

A network is right if it computes the function, whatever its weights: the grader runs it
with its own forward pass on every ordering of distinct inputs at many scales, on random
inputs, and on inputs that put hidden pre-activations exactly on the activations' edges.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.arrays import describe, read_numbers, squeeze_to
from grader.checks.registry import WrittenContext, register
from grader.outcome import Outcome, brief
from grader.seeds import derive_seed

ACTIVATIONS = ("hard_threshold", "indicator")
# Spellings of the contract's two names (SUBMISSION.md: hard_threshold | indicator), compared in
# lower case with spaces, underscores and hyphens removed. Other names are not guessed: problem
# 1.1 calls the function "hard threshold", never "step" (a step function may be 1 at 0).
# "step" too: the problem defines the hard threshold as I(z > 0), which is the notebook's step(z).
ACTIVATION_SPELLINGS = {"hardthreshold": "hard_threshold", "step": "hard_threshold", "indicator": "indicator"}
_SHAPE_WORDS = {"W1": "3 rows of 4 numbers", "b1": "3 numbers", "w2": "3 numbers", "b2": "a single number"}
SCALES = (1e-6, 1e-3, 1.0, 1e3, 1e6)


@dataclass(frozen=True)
class ThresholdNetwork:
    """A 4-3-1 network with fixed-form activations."""

    W1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float
    phi1: str
    phi2: str


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """The grader's own activations: hard threshold is z > 0; indicator is -1 <= z <= 1."""
    if name == "hard_threshold":
        return (z > 0).astype(np.float64)
    return ((z >= -1) & (z <= 1)).astype(np.float64)


def forward(net: ThresholdNetwork, X: np.ndarray) -> np.ndarray:
    """Outputs (N,) of the network on inputs X (N, 4)."""
    hidden = activate(net.phi1, X @ net.W1.T + net.b1)
    return activate(net.phi2, hidden @ net.w2 + net.b2)


def is_kth_largest(X: np.ndarray, k: int) -> np.ndarray:
    """1.0 where x[0] is the k-th largest entry of the row (entries distinct), else 0.0."""
    larger = (X[:, 1:] > X[:, :1]).sum(axis=1)
    return (larger == k - 1).astype(np.float64)


def activation_name(value: Any) -> str | None:
    """The activation a student's name means (`Hard threshold` -> hard_threshold), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    return ACTIVATION_SPELLINGS.get(re.sub(r"[\s_-]+", "", value.lower()))


def read_network(value: Any, *, phi1: str | None = None, phi2: str | None = None) -> ThresholdNetwork | str:
    """A network from a student's dict, or a message saying what is wrong with it.

    Numbers may be written as text ("-4", "1/2"); b1 and w2 may be written as a row or a
    column, b2 as [[b]]: only singleton axes are dropped, never a matrix reshaped.
    """
    if not isinstance(value, Mapping):
        return "The network should be a mapping with W1, b1, w2, b2" + ("" if phi1 else ", phi1, phi2") + "."
    shapes = {"W1": (3, 4), "b1": (3,), "w2": (3,), "b2": ()}
    arrays: dict[str, np.ndarray] = {}
    for key, shape in shapes.items():
        if key not in value:
            return f"The network has no {key}."
        array, problem = read_numbers(value[key], key)
        if array is None:
            return problem or f"{key} should be {_SHAPE_WORDS[key]}; got {describe(value[key])}."
        array = squeeze_to(array, shape)
        if array.shape != shape:
            return (f"{key} should have shape {shape or 'scalar'} ({_SHAPE_WORDS[key]}); "
                    f"got shape {array.shape or 'scalar'}.")
        if not np.isfinite(array).all():
            return f"{key} has a non-finite entry."
        arrays[key] = array
    names = []
    for key, given in (("phi1", phi1), ("phi2", phi2)):
        written = given if given is not None else value.get(key)
        name = activation_name(written)
        if written is None:
            return f"The network has no {key}; write {' or '.join(ACTIVATIONS)}."
        if name is None:
            return f"{key} should be one of {', '.join(ACTIVATIONS)}; got {brief(written)}."
        names.append(name)
    return ThresholdNetwork(arrays["W1"], arrays["b1"], arrays["w2"], float(arrays["b2"]), names[0], names[1])


def probe_inputs(net: ThresholdNetwork, rng: np.random.Generator, random_count: int = 4000) -> np.ndarray:
    """Inputs that exercise every ordering, many scales, near-ties and the activations' edges."""
    base = np.array([1.0, 2.0, 3.0, 4.0])
    batches = []
    for scale in SCALES:
        perms = np.array(list(itertools.permutations(base)))
        batches.append(perms * scale)
        batches.append((perms - 2.5) * scale)
        # Near-ties: distinct but close, so offsets in the biases show.
        batches.append((perms * 1e-3 + 7.0) * scale)
    for scale in SCALES:
        batches.append(rng.uniform(-1, 1, size=(random_count // len(SCALES), 4)) * scale)
    batches.append(_edge_inputs(net, rng))
    X = np.concatenate(batches)
    # Ties are outside the problem ("all elements distinct"): drop any row with one.
    sorted_rows = np.sort(X, axis=1)
    distinct = (np.diff(sorted_rows, axis=1) != 0).all(axis=1)
    return X[distinct]


def _edge_inputs(net: ThresholdNetwork, rng: np.random.Generator, count: int = 200) -> np.ndarray:
    """Inputs where a hidden unit's pre-activation is exactly 0, -1 or +1 (the edges).

    Start from orderings of 1..4 at a few scales, then solve one coordinate so that the chosen
    unit's pre-activation lands on the chosen edge (vectorised: this runs for every network).
    """
    X = rng.permuted(np.tile(np.arange(1.0, 5.0), (count, 1)), axis=1)
    X *= rng.choice(np.array(SCALES[1:4]), size=(count, 1))
    units = rng.integers(3, size=count)
    weights = net.W1[units]  # (count, 4)
    usable = (weights != 0).any(axis=1)
    X, units, weights = X[usable], units[usable], weights[usable]
    if len(X) == 0:
        return np.empty((0, 4))
    # A random coordinate with a nonzero weight in the chosen unit, per row.
    scores = np.where(weights != 0, rng.random(weights.shape), -1.0)
    coordinate = scores.argmax(axis=1)
    rows = np.arange(len(X))
    target = rng.choice(np.array([-1.0, 0.0, 1.0]), size=len(X))
    w = weights[rows, coordinate]
    rest = (weights * X).sum(axis=1) - w * X[rows, coordinate] + net.b1[units]
    with np.errstate(all="ignore"):
        X[rows, coordinate] = (target - rest) / w
    return X[np.isfinite(X).all(axis=1)]


def judge_network(net: ThresholdNetwork, k: int, rng: np.random.Generator, *, label: str) -> Outcome:
    """Full marks if the network computes "x1 is the k-th largest" on every probe input."""
    X = probe_inputs(net, rng)
    with np.errstate(all="ignore"):
        got = forward(net, X)
    want = is_kth_largest(X, k)
    wrong = np.flatnonzero(got != want)
    if wrong.size == 0:
        return Outcome.full(f"{label}: correct on all {len(X):,} test inputs (every ordering, "
                            "scales 1e-6 to 1e6, inputs on the activations' edges).")
    x = X[wrong[0]]
    larger = int((x[1:] > x[0]).sum())
    return Outcome.zero(
        f"{label}: wrong on {wrong.size:,} of {len(X):,} test inputs. For example x = "
        f"[{', '.join(map(format_input, x))}]: x1 is the {_ordinal(larger + 1)} largest, so the "
        f"output should be {int(want[wrong[0]])}, but your network outputs {int(got[wrong[0]])}. "
        "Remember that the indicator includes its edges -1 and +1, and the hard threshold is 0 at z = 0."
    )


def format_input(value: float) -> str:
    """An input entry exactly as Python reads it back (shortest round trip), so that entries
    that differ look different: 4000.0000000000005, not 4000. Whole numbers drop the `.0`."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


@register("threshold_network", "written", params={"k": (int, 2)})
def check_threshold_network(answer: Any, context: WrittenContext) -> Outcome:
    """1.1: the student's network, with its declared activations, computes the k-th-largest test."""
    net = read_network(answer)
    if isinstance(net, str):
        return Outcome.zero(net)
    rng = np.random.default_rng(derive_seed("threshold_network", context.item_id))
    return judge_network(net, int(context.params["k"]), rng, label=f"k = {context.params['k']}")
