"""Homework 1: judging a hard-coded threshold network (problem 1.1 and notebook part p1) by behaviour.

A network is right if it computes the function, whatever its weights, and the verdict is a
proof, not a sample. Each hidden unit is a hard threshold or an indicator of an affine map of
x, so for each of the 24 orderings of x1..x4 the set of inputs with a given pattern of hidden
outputs is cut out by linear inequalities. The network is wrong exactly when one such set,
on an ordering where its output differs from "x1 is the k-th largest", is not empty; each is
decided in exact rational arithmetic (Fourier-Motzkin elimination, which also builds a point
of the set). The weights are read as written: 1.0001 is 10001/10000, "1/3" is one third.

A wrong network gets one input where it fails: the proof's own point (built with as few
decimals as it allows), or a probe input if that reads shorter. The probes (orderings of 1..4
at scales 1e-6 to 1e6, near-ties at gaps down to 2^-50, inputs on the activations' edges, the
random ones drawn from the rng) are run in floating point and each failure confirmed exactly, so
that they are a second, independent way to find a wrong network.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from grader.checks.arrays import describe, read_numbers, squeeze_to
from grader.outcome import Outcome, brief

ACTIVATIONS = ("hard_threshold", "indicator")
# Spellings of the contract's two names (SUBMISSION.md: hard_threshold | indicator), compared in
# lower case with spaces, underscores and hyphens removed. Other names are not guessed: problem
# 1.1 calls the function "hard threshold", never "step" (a step function may be 1 at 0).
# "step" too: the problem defines the hard threshold as I(z > 0), which is the notebook's step(z).
ACTIVATION_SPELLINGS = {"hardthreshold": "hard_threshold", "step": "hard_threshold", "indicator": "indicator"}
_SHAPE_WORDS = {"W1": "3 rows of 4 numbers", "b1": "3 numbers", "w2": "3 numbers", "b2": "a single number"}
SCALES = (1e-6, 1e-3, 1.0, 1e3, 1e6)
NEAR_TIE_EXPONENTS = (1, 50)  # near-tie probes put x1 and another entry 2^-k apart, k in this range
_CONFIRMED_AT_MOST = 64  # floating-point failures checked exactly before the proof's own point is used
# Inequalities the exact judgement may form in all (Fourier-Motzkin combinations included), about
# 0.2 s of work. A right network needs none (each unit's sign is fixed on each ordering); wrong
# ones need a few hundred, and the worst found by a search for slow networks about 3,000.
MAX_INEQUALITIES = 20_000
_PATTERNS = tuple(itertools.product((0, 1), repeat=3))


@dataclass(frozen=True)
class ThresholdNetwork:
    """A 4-3-1 network with fixed-form activations.

    `exact` holds the 19 numbers as written (W1 by rows, b1, w2, b2); without it, each float
    is read as the shortest decimal that prints it.
    """

    W1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float
    phi1: str
    phi2: str
    exact: tuple[Fraction, ...] | None = None


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
    exact: list[Fraction] = []
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
        # Only singleton axes were dropped, so the entries as written come in the same order.
        exact.extend(_exact_entries(value[key]))
    names = []
    for key, given in (("phi1", phi1), ("phi2", phi2)):
        written = given if given is not None else value.get(key)
        name = activation_name(written)
        if written is None:
            return f"The network has no {key}; write {' or '.join(ACTIVATIONS)}."
        if name is None:
            return f"{key} should be one of {', '.join(ACTIVATIONS)}; got {brief(written)}."
        names.append(name)
    return ThresholdNetwork(arrays["W1"], arrays["b1"], arrays["w2"], float(arrays["b2"]), names[0], names[1],
                            tuple(exact))


def _exact_entries(value: Any) -> list[Fraction]:
    """The entries of numeric data that read_numbers accepted, as exact numbers, in order."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [entry for child in value for entry in _exact_entries(child)]
    return [_exact_number(value)]


def _exact_number(value: Any) -> Fraction:
    """One entry as written: a float is the shortest decimal that prints it (1.0001, not the
    nearest binary fraction), text is read as typed ("1/3" is one third)."""
    if isinstance(value, str):
        return Fraction(re.sub(r"\s+", "", value.replace("\u2212", "-")))
    if isinstance(value, (float, np.floating)):
        return Fraction(repr(float(value)))
    return Fraction(int(value))


# ---------------------------------------------------------------------------------------------
# Floating-point pass: only to find readable failing inputs, each then confirmed exactly.


def _unit_scales(net: ThresholdNetwork) -> np.ndarray:
    """Per hidden unit, a power of two that brings its largest weight or bias into [0.5, 1).

    Scaling by a power of two is exact, and keeps a hard threshold's output (and an indicator's,
    with its edges scaled alike), so a network scaled by 1e303 does not overflow to inf - inf.
    """
    largest = np.abs(np.column_stack([net.W1, net.b1])).max(axis=1)
    exponents = np.frexp(np.where(largest > 0, largest, 1.0))[1]
    return np.ldexp(1.0, -np.clip(exponents, -1000, 1000))  # 2^1074 would overflow: a subnormal row stays small


def forward(net: ThresholdNetwork, X: np.ndarray, exact: _Exact | None = None) -> np.ndarray:
    """Outputs (N,) of the network on inputs X (N, 4) in floating point (hidden units scaled by
    `_unit_scales`; the output unit from the exact table of its 8 input patterns)."""
    scales = _unit_scales(net)
    with np.errstate(all="ignore"):
        Z = X @ (net.W1 * scales[:, None]).T + net.b1 * scales
    hidden = Z > 0 if net.phi1 == "hard_threshold" else (Z >= -scales) & (Z <= scales)
    exact = exact or _Exact.of(net)
    table = np.array([exact.table[pattern] for pattern in _PATTERNS], dtype=np.float64)
    return table[hidden.astype(np.int64) @ np.array([4, 2, 1])]


def _orderings() -> np.ndarray:
    """Every ordering of 1..4 at each scale, shifted and squeezed: the same for every network."""
    perms = np.array(list(itertools.permutations([1.0, 2.0, 3.0, 4.0])))
    X = np.concatenate([batch for scale in SCALES
                        for batch in (perms * scale, (perms - 2.5) * scale, (perms * 1e-3 + 7.0) * scale)])
    X.setflags(write=False)
    return X


_ORDERINGS = _orderings()  # built once: judge_network runs five times a submission


def probe_inputs(net: ThresholdNetwork, rng: np.random.Generator, random_count: int = 4000) -> np.ndarray:
    """Readable inputs first: every ordering at many scales, then near-ties, random inputs and
    inputs on the activations' edges."""
    near_ties = _near_ties(rng)
    # One draw for all scales: the same numbers as one draw per scale, in the same order.
    per_scale = random_count // len(SCALES)
    scales = np.repeat(np.array(SCALES), per_scale)[:, None]
    random = rng.uniform(-1, 1, size=(per_scale * len(SCALES), 4)) * scales
    X = np.concatenate([_ORDERINGS, near_ties, random, _edge_inputs(net, rng)])
    # Ties are outside the problem ("all elements distinct"): drop any row with one. Every
    # entry is finite (edge inputs are filtered), so comparing each pair of columns is exact.
    columns = X.T
    distinct = np.ones(len(X), dtype=bool)
    for i, j in itertools.combinations(range(4), 2):
        distinct &= columns[i] != columns[j]
    return X[distinct]


def _near_ties(rng: np.random.Generator, count: int = 600) -> np.ndarray:
    """Orderings where one entry is moved next to x1: x1 (1 ± 2^-k) or x1 ± 2^-k, k from 1 to 50."""
    X = rng.permuted(np.tile(np.arange(1.0, 5.0), (count, 1)), axis=1)
    X -= rng.integers(0, 5, size=(count, 1))  # x1 is 0 in some rows, negative in others
    X *= rng.choice(np.array(SCALES), size=(count, 1))
    rows = np.arange(count)
    partner = rng.integers(1, 4, size=count)
    low, high = NEAR_TIE_EXPONENTS
    gap = np.ldexp(1.0, -rng.integers(low, high + 1, size=count)) * rng.choice(np.array([-1.0, 1.0]), size=count)
    x1 = X[:, 0]
    X[rows, partner] = np.where(rng.random(count) < 0.5, x1 * (1 + gap), x1 + gap)
    return X


def _edge_inputs(net: ThresholdNetwork, rng: np.random.Generator, count: int = 200) -> np.ndarray:
    """Inputs where a hidden unit's pre-activation is exactly 0, -1 or +1 (the edges).

    Start from orderings of 1..4 at a few scales, then solve one coordinate so that the chosen
    unit's pre-activation lands on the chosen edge (vectorised: this runs for every network).
    """
    X = rng.permuted(np.tile(np.arange(1.0, 5.0), (count, 1)), axis=1)
    X *= rng.choice(np.array(SCALES[1:4]), size=(count, 1))
    units = rng.integers(3, size=count)
    scales = _unit_scales(net)[units]
    weights = net.W1[units] * scales[:, None]  # (count, 4), scaled as in `forward`
    usable = (weights != 0).any(axis=1)
    X, units, weights, scales = X[usable], units[usable], weights[usable], scales[usable]
    if len(X) == 0:
        return np.empty((0, 4))
    # A random coordinate with a nonzero weight in the chosen unit, per row.
    scores = np.where(weights != 0, rng.random(weights.shape), -1.0)
    coordinate = scores.argmax(axis=1)
    rows = np.arange(len(X))
    target = rng.choice(np.array([-1.0, 0.0, 1.0]), size=len(X)) * scales
    w = weights[rows, coordinate]
    with np.errstate(all="ignore"):
        rest = (weights * X).sum(axis=1) - w * X[rows, coordinate] + net.b1[units] * scales
        X[rows, coordinate] = (target - rest) / w
    return X[np.isfinite(X).all(axis=1)]


# ---------------------------------------------------------------------------------------------
# The exact judgement.
#
# An inequality is (a1, a2, a3, a4, c) with integer entries and a flag: a·x + c > 0 if strict,
# else a·x + c >= 0. A system is a list of them, all to hold at once.

_Inequality = tuple[tuple[int, ...], bool]


class TooMuchWork(Exception):
    """The exact judgement would form more than its budget of inequalities."""


class InequalityBudget:
    """A count of the inequalities the exact judgement forms, against a limit."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_INEQUALITIES if limit is None else limit
        self.spent = 0

    def spend(self, count: int) -> None:
        """Count `count` inequalities about to be formed; TooMuchWork past the limit."""
        self.spent += count
        if self.spent > self.limit:
            raise TooMuchWork(f"more than {self.limit:,} inequalities")


def _integral(terms: Sequence[Fraction], strict: bool) -> _Inequality:
    """The inequality terms·(x, 1) > 0 (or >= 0) with whole coefficients, divided by their gcd."""
    scale = math.lcm(*(term.denominator for term in terms))
    whole = [int(term * scale) for term in terms]
    divisor = math.gcd(*whole) or 1
    return tuple(entry // divisor for entry in whole), strict


@dataclass(frozen=True)
class _Exact:
    """The network in exact arithmetic: each hidden unit's (w1..w4, b), where each unit outputs 0
    and 1 (pieces[unit][output]: alternatives, each a system), and the output per pattern."""

    rows: tuple[tuple[Fraction, ...], ...]
    phi1: str
    pieces: tuple[tuple[list[list[_Inequality]], list[list[_Inequality]]], ...]
    table: Mapping[tuple[int, ...], int]

    @staticmethod
    def of(net: ThresholdNetwork) -> _Exact:
        """The exact form of a network (its weights as written, see `_exact_number`)."""
        numbers = net.exact or tuple(_exact_number(v) for v in (*net.W1.ravel(), *net.b1, *net.w2, net.b2))
        weights, bias, out_weights, out_bias = numbers[:12], numbers[12:15], numbers[15:18], numbers[18]
        rows = tuple((*weights[4 * i:4 * i + 4], bias[i]) for i in range(3))
        table = {pattern: _activation(net.phi2, sum((v * h for v, h in zip(out_weights, pattern, strict=True)),
                                                    out_bias))
                 for pattern in _PATTERNS}
        return _Exact(rows, net.phi1, tuple(_pieces(row, net.phi1) for row in rows), table)

    def output(self, x: Sequence[Fraction]) -> int:
        """The network's output at x, exactly."""
        pattern = tuple(_activation(self.phi1, sum((w * v for w, v in zip(row[:4], x, strict=True)), row[4]))
                        for row in self.rows)
        return self.table[pattern]


def _pieces(z: tuple[Fraction, ...], phi1: str) -> tuple[list[list[_Inequality]], list[list[_Inequality]]]:
    """Where a hidden unit with pre-activation z = (w1..w4, b)·(x, 1) outputs 0, and where 1."""
    negated = [-t for t in z]
    if phi1 == "hard_threshold":
        return [[_integral(negated, False)]], [[_integral(z, True)]]
    above, below = (*z[:4], z[4] + 1), (*negated[:4], 1 - z[4])  # z + 1 and 1 - z
    off = [[_integral([-t for t in above], True)], [_integral([-t for t in below], True)]]  # z < -1 or z > 1
    return off, [[_integral(above, False), _integral(below, False)]]  # -1 <= z <= 1


def _activation(name: str, z: Fraction) -> int:
    """The problem's activations: hard threshold I(z > 0), indicator I(-1 <= z <= 1)."""
    return int(z > 0) if name == "hard_threshold" else int(-1 <= z <= 1)


def _on_ordering(inequality: _Inequality, order: Sequence[int]) -> bool | None:
    """Whether the inequality holds on all (True), none (False) or only some (None) of the
    inputs in this ordering (order[0] the index of the largest entry).

    There x = t(1, 1, 1, 1) + sum_j d_j g_j with t free, d_j > 0 and g_j the indicator of the
    j + 1 largest entries, so a·x + c = t·sum(a) + sum_j d_j·(a·g_j) + c.
    """
    terms, strict = inequality
    if terms[0] + terms[1] + terms[2] + terms[3]:
        return None
    first = terms[order[0]]
    second = first + terms[order[1]]
    third = second + terms[order[2]]
    lowest, highest, constant = min(first, second, third), max(first, second, third), terms[4]
    if lowest == highest == 0:
        return constant > 0 or (constant == 0 and not strict)
    if lowest >= 0:  # a·x + c takes every value above c
        return True if constant >= 0 else None
    if highest <= 0:  # every value below c
        return None if constant > 0 else False
    return None


def _ordering(order: Sequence[int]) -> list[_Inequality]:
    """x[order[0]] > x[order[1]] > x[order[2]] > x[order[3]]."""
    system = []
    for high, low in itertools.pairwise(order):
        terms = [0, 0, 0, 0, 0]
        terms[high], terms[low] = 1, -1
        system.append((tuple(terms), True))
    return system


def counterexample(net: ThresholdNetwork, k: int,
                   budget: InequalityBudget | None = None) -> tuple[Fraction, ...] | None:
    """An input with distinct entries on which the network is wrong, or None if there is none.

    Exact: for each ordering, a depth-first walk over the hidden units' pieces, pruned where no
    remaining pattern could be wrong and where the inequalities so far have no solution.
    TooMuchWork if that takes more inequalities than the budget allows.
    """
    return _counterexample(_Exact.of(net), k, budget or InequalityBudget())


def _counterexample(exact: _Exact, k: int, budget: InequalityBudget) -> tuple[Fraction, ...] | None:
    for order in itertools.permutations(range(4)):
        want = int(order[k - 1] == 0)
        found = _search(exact, order, want, (), [], budget)
        if found is not None:
            return found
    return None


def _search(exact: _Exact, order: tuple[int, ...], want: int, pattern: tuple[int, ...],
            system: list[_Inequality], budget: InequalityBudget) -> tuple[Fraction, ...] | None:
    """A point of the ordering where the hidden units start with `pattern` and the output is
    not `want`, within `system` (the inequalities that cut the ordering so far)."""
    rest = 3 - len(pattern)
    if all(exact.table[pattern + tail] == want for tail in itertools.product((0, 1), repeat=rest)):
        return None
    if not rest:
        # x1 first (often 0), then its neighbours in the ordering: each choice leaves the next
        # a half-line, so a point with whole entries where the pieces allow it.
        rank = order.index(0)
        choice = sorted(range(4), key=lambda var: abs(order.index(var) - rank))
        return _solve(_ordering(order) + system, budget, choice)
    for on in (1, 0):
        for piece in exact.pieces[len(pattern)][on]:
            holds = [_on_ordering(inequality, order) for inequality in piece]
            if False in holds:
                continue
            cut = [inequality for inequality, held in zip(piece, holds, strict=True) if held is None]
            extended = system + cut
            if cut and _eliminated(_ordering(order) + extended, budget) is None:
                continue
            found = _search(exact, order, want, (*pattern, on), extended, budget)
            if found is not None:
                return found
    return None


def _tidy(system: list[_Inequality]) -> list[_Inequality] | None:
    """The system without inequalities that always hold or repeat a tighter one; None if one
    never holds (0 > 0, -1 >= 0)."""
    tightest: dict[tuple[int, ...], tuple[int, int, _Inequality]] = {}
    for inequality in system:
        terms, strict = inequality
        divisor = math.gcd(*terms[:4])
        constant = terms[4]
        if divisor == 0:
            if constant < 0 or (constant == 0 and strict):
                return None
            continue
        direction = tuple(t // divisor for t in terms[:4])
        kept = tightest.get(direction)
        # a·x > -c/g: the one with the smaller c/g (or strict at equal c/g) implies the other.
        if kept is None or constant * kept[1] < kept[0] * divisor or (
                constant * kept[1] == kept[0] * divisor and strict):
            tightest[direction] = (constant, divisor, inequality)
    return [inequality for _, _, inequality in tightest.values()]


def _eliminated(system: list[_Inequality], budget: InequalityBudget,
                order: Sequence[int] = ()) -> list[tuple[int, list[_Inequality]]] | None:
    """Fourier-Motzkin: the variables in the order eliminated (the reverse of `order` if given,
    else the cheapest first), each with the system it was eliminated from; None if the system
    has no solution."""
    budget.spend(len(system))
    current = _tidy(system)
    stages = []
    remaining = list(order or range(4))
    while current is not None and remaining:
        def cost(var: int, current: list[_Inequality] = current) -> int:
            lower = sum(terms[var] > 0 for terms, _ in current)
            upper = sum(terms[var] < 0 for terms, _ in current)
            return lower * upper - lower - upper

        var = remaining[-1] if order else min(remaining, key=cost)
        remaining.remove(var)
        stages.append((var, current))
        lower = [(t, s) for t, s in current if t[var] > 0]
        upper = [(t, s) for t, s in current if t[var] < 0]
        combined = [(t, s) for t, s in current if t[var] == 0]
        budget.spend(len(lower) * len(upper))
        for (p, p_strict), (q, q_strict) in itertools.product(lower, upper):
            a, b = p[var], -q[var]
            terms = tuple(b * x + a * y for x, y in zip(p, q, strict=True))
            divisor = math.gcd(*terms) or 1
            combined.append((tuple(t // divisor for t in terms), p_strict or q_strict))
        current = _tidy(combined)
    return None if current is None else stages


def _solve(system: list[_Inequality], budget: InequalityBudget,
           order: Sequence[int]) -> tuple[Fraction, ...] | None:
    """A point satisfying the system, or None. Its entries are chosen in `order`, each with as
    few decimals as its interval allows, then nearest 0."""
    stages = _eliminated(system, budget, order)
    if stages is None:
        return None
    x = [Fraction(0)] * 4
    # Back-substitution: the variable eliminated last is chosen first. Each stage's system holds
    # only its own variable and those chosen already; elimination is exact, so its interval is
    # never empty.
    for var, stage in reversed(stages):
        low: tuple[Fraction, bool] | None = None
        high: tuple[Fraction, bool] | None = None
        for terms, strict in stage:
            if not terms[var]:
                continue
            rest = terms[4] + sum(terms[j] * x[j] for j in range(4) if j != var)
            bound = Fraction(-rest, terms[var])
            # The tighter bound wins; at the same bound, the strict one.
            if terms[var] > 0 and (low is None or bound > low[0] or (bound == low[0] and strict)):
                low = (bound, strict)
            elif terms[var] < 0 and (high is None or bound < high[0] or (bound == high[0] and strict)):
                high = (bound, strict)
        x[var] = _shortest_between(low, high)
    return tuple(x)


def _shortest_between(low: tuple[Fraction, bool] | None, high: tuple[Fraction, bool] | None) -> Fraction:
    """The number with the fewest decimals, then nearest 0, above `low` and below `high`
    (each a bound and whether it is strict; None for no bound)."""
    for decimals in range(400):
        scale = 10**decimals
        least = -math.inf if low is None else (
            math.floor(low[0] * scale) + 1 if low[1] else math.ceil(low[0] * scale))
        most = math.inf if high is None else (
            math.ceil(high[0] * scale) - 1 if high[1] else math.floor(high[0] * scale))
        if least <= most:
            return Fraction(int(min(max(0, least), most)), scale)
    assert low is not None and high is not None  # an unbounded side has a whole number
    return (low[0] + high[0]) / 2


# ---------------------------------------------------------------------------------------------
# The verdict.


def _readable_failure(net: ThresholdNetwork, exact: _Exact, k: int,
                      rng: np.random.Generator) -> tuple[Fraction, ...] | None:
    """A probe input where the network is wrong, confirmed exactly (as the decimals shown)."""
    X = probe_inputs(net, rng)
    suspects = np.flatnonzero(forward(net, X, exact) != is_kth_largest(X, k))
    for row in X[suspects[:_CONFIRMED_AT_MOST]]:
        x = tuple(Fraction(format_input(value)) for value in row)
        if exact.output(x) != _kth_largest(x, k):
            return x
    return None


def _kth_largest(x: Sequence[Fraction], k: int) -> int:
    return int(sum(value > x[0] for value in x[1:]) == k - 1)


@dataclass(frozen=True)
class _Keyed:
    """A network as a cache key: equal when its numbers (as floats and as written) and activations are."""

    key: tuple[object, ...]
    net: ThresholdNetwork = dataclasses.field(compare=False)

    @staticmethod
    def of(net: ThresholdNetwork) -> _Keyed:
        """The network with its key."""
        arrays = (net.W1, net.b1, net.w2)
        return _Keyed((*(a.shape for a in arrays), *(a.tobytes() for a in arrays), net.b2, net.exact, net.phi1,
                       net.phi2), net)


# A class submits few different networks (the 1.1 answer, the p1 networks their code builds), and
# the exact judgement depends on nothing else: remembered per process, for the last few hundred.
# A key is small: 19 numbers, each text of at most 48 characters (arrays.number_from_text) or a
# number that fits a float.
@functools.lru_cache(maxsize=256)
def _exact_judgement(network: _Keyed, k: int, limit: int) -> tuple[_Exact, tuple[Fraction, ...] | None, bool]:
    """The network's exact form, an input where it is wrong (None if none), and whether the exact
    judgement ran out of work within `limit` inequalities (then None says nothing)."""
    exact = _Exact.of(network.net)
    try:
        return exact, _counterexample(exact, k, InequalityBudget(limit)), False
    except TooMuchWork:
        return exact, None, True


def judge_network(net: ThresholdNetwork, k: int, rng: np.random.Generator, *, label: str) -> Outcome:
    """Full marks if the network computes "x1 is the k-th largest" on every input with distinct
    entries (proven exactly); else zero, with an input where it fails."""
    exact, wrong, unchecked = _exact_judgement(_Keyed.of(net), k, MAX_INEQUALITIES)
    # A probe failure is confirmed exactly, so it is a proof too; the shorter of the two is shown.
    # The probes depend on `rng` (for p1, on the submission): they run every time.
    examples = [x for x in [_readable_failure(net, exact, k, rng)] if x is not None]
    if unchecked and not examples:
        return Outcome(0.0, f"{label}: your network could not be checked within the grader's limits (its "
                       "hidden units cut the inputs into too many pieces). Ask the course staff to check it "
                       "by hand.", {"unchecked": "the exact judgement ran out of work"})
    examples += [wrong] if wrong is not None else []
    if not examples:
        return Outcome.full(f"{label}: correct on every input with distinct entries (checked exactly, "
                            "for each of the 24 orderings of x1..x4 and each pattern of the hidden units).")
    x = min(examples, key=lambda example: len(", ".join(map(show_number, example))))
    larger = sum(value > x[0] for value in x[1:])
    return Outcome.zero(
        f"{label}: wrong for some inputs. For example x = [{', '.join(map(show_number, x))}]: x1 is the "
        f"{_ordinal(larger + 1)} largest, so the output should be {_kth_largest(x, k)}, but your network "
        f"outputs {exact.output(x)}. Remember that the indicator includes its edges -1 and +1, and the hard "
        "threshold is 0 at z = 0."
    )


@functools.lru_cache(maxsize=256)
def _judged(network: _Keyed, k: int, seed: int, label: str, limit: int) -> Outcome:
    """`judge_network` remembered; `limit` (MAX_INEQUALITIES) is in the key because the verdict depends on it."""
    return judge_network(network.net, k, np.random.default_rng(seed), label=label)


def judge_network_seeded(net: ThresholdNetwork, k: int, seed: int, *, label: str) -> Outcome:
    """`judge_network` with the probes drawn from `np.random.default_rng(seed)`.

    A pure function of its arguments, so remembered (as `_exact_judgement` is) for the last few
    hundred: for 1.1, whose seed comes from the item alone, every student who writes the same
    network gets the same verdict without judging it again.
    """
    outcome = _judged(_Keyed.of(net), k, seed, label, MAX_INEQUALITIES)
    # A copy of the staff details: the remembered outcome is shared by every submission.
    return dataclasses.replace(outcome, details=dict(outcome.details)) if outcome.details else outcome


def format_input(value: float) -> str:
    """An input entry exactly as Python reads it back (shortest round trip), so that entries
    that differ look different: 4000.0000000000005, not 4000. Whole numbers drop the `.0`."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def show_number(value: Fraction) -> str:
    """An exact number as a student can type it back: 3, 1.00001, 1e-12, or 1/3."""
    if value.denominator == 1:
        return str(value.numerator)
    shortest = format_input(float(value)) if abs(value) < 1e300 else ""
    if shortest and Fraction(shortest) == value:
        return shortest
    powers = {prime: 0 for prime in (2, 5)}
    denominator = value.denominator
    for prime in powers:
        while denominator % prime == 0:
            denominator //= prime
            powers[prime] += 1
    if denominator != 1:
        return str(value)
    digits = max(powers.values())
    text = str(abs(value.numerator) * 10**digits // value.denominator).rjust(digits + 1, "0")
    return f"{'-' if value < 0 else ''}{text[:-digits]}.{text[-digits:]}"


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
