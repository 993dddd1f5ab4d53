"""Computed reference answers to the Homework 1 written problems, each with a proof.

The answer key shipped with the assignment is wrong for 1.1 and 1.3, so nothing here is typed
in from it: every answer is computed from the problem's own parameters, and every `prove_*`
function checks an answer against the problem's definition. A proof returns a list of failure
messages; an empty list means the answer is proven.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import sympy
from sympy.core.relational import Relational

from reference_solutions.hw1 import hw1_code

# The problems' own parameters, as printed in hw1_written.
K_WRITTEN = 2  # 1.1: "x1 is the k-th largest" for k = 2
HESSIAN_V = (4, 2, 5)  # 1.3: v
HESSIAN_X = (1, 4, 3)  # 1.3: the point x at which H is evaluated
Z_V = (4, 1, 2)  # 1.3.1: v
Z_Y = (2, 2, 1)  # 1.3.1: y

# Positive integers: sizes of vectors. Positivity lets sympy drop factors like n + 1 when it
# decides where forward mode is cheaper.
n, m = sympy.symbols("n m", positive=True, integer=True)

Network = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# 1.1 Hard-coding networks
# ---------------------------------------------------------------------------------------------

# Written out here, not imported from hw1_code, so that the proof does not trust the code it
# checks: these are the problem's own definitions.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "hard_threshold": lambda z: (z > 0).astype(np.float64),
    "indicator": lambda z: ((z >= -1.0) & (z <= 1.0)).astype(np.float64),
}


def kth_largest_network(k: int) -> Network:
    """The 1.1 network for "x1 is the k-th largest" with its activations (shared with p1)."""
    params = hw1_code.kth_largest_params(k)
    return {
        "W1": np.asarray(params["W1"], dtype=np.float64),
        "b1": np.asarray(params["b1"], dtype=np.float64),
        "w2": np.asarray(params["w2"], dtype=np.float64),
        "b2": float(np.asarray(params["b2"])),
        "phi1": "hard_threshold",
        "phi2": "indicator",
    }


def network_output(net: Network, X: np.ndarray) -> np.ndarray:
    """Output (N,) of phi2(w2 · phi1(W1 x + b1) + b2) for each row x of X (N, 4)."""
    phi1 = ACTIVATIONS[net["phi1"]]
    phi2 = ACTIVATIONS[net["phi2"]]
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    W1 = np.asarray(net["W1"], dtype=np.float64)
    b1 = np.asarray(net["b1"], dtype=np.float64)
    w2 = np.asarray(net["w2"], dtype=np.float64)
    hidden = phi1(X @ W1.T + b1)
    return phi2(hidden @ w2 + float(np.asarray(net["b2"])))


def is_kth_largest(X: np.ndarray, k: int) -> np.ndarray:
    """The definition: whether x1 is the k-th largest entry of each (distinct-valued) row."""
    return np.argsort(-X, axis=1)[:, k - 1] == 0


def kth_largest_test_inputs(seed: int = 0) -> np.ndarray:
    """Distinct-entry inputs: all 24 orderings at scales 1e-6..1e6, shifted, and random rows."""
    orderings = np.array(list(itertools.permutations([1.0, 2.0, 3.0, 4.0])))
    blocks: list[np.ndarray] = []
    rng = np.random.default_rng(seed)
    for exponent in range(-6, 7):
        scale = 10.0**exponent
        blocks.append(orderings * scale)
        # Shifting to mixed signs catches networks that only compare magnitudes.
        blocks.append((orderings - 2.5) * scale)
        blocks.append(rng.normal(0.0, scale, size=(500, 4)))
    blocks.append(rng.uniform(-1.0, 1.0, size=(2000, 4)))
    X = np.concatenate(blocks)
    # The problem assumes distinct entries; drop the (improbable) rows that violate that.
    distinct = np.array([len(set(row.tolist())) == 4 for row in X])
    return X[distinct]


def prove_kth_largest(net: Network, k: int) -> list[str]:
    """Failures of net as a 1.1 network for k (empty if it computes "x1 is the k-th largest")."""
    where = f"1.1 (k={k})"
    shapes = {"W1": (3, 4), "b1": (3,), "w2": (3,)}
    missing = [key for key in ("W1", "b1", "w2", "b2", "phi1", "phi2") if key not in net]
    if missing:
        return [f"{where}: missing {', '.join(missing)}"]
    failures = [
        f"{where}: {key} has shape {np.shape(net[key])}, expected {shape}"
        for key, shape in shapes.items()
        if np.shape(net[key]) != shape
    ]
    if np.ndim(net["b2"]) != 0:
        failures.append(f"{where}: b2 must be a scalar")
    for key in ("phi1", "phi2"):
        if net[key] not in ACTIVATIONS:
            failures.append(f"{where}: {key} = {net[key]!r} is not one of {list(ACTIVATIONS)}")
    if failures:
        return failures
    X = kth_largest_test_inputs()
    got = network_output(net, X)
    want = is_kth_largest(X, k).astype(np.float64)
    wrong = np.flatnonzero(got != want)
    if wrong.size:
        i = int(wrong[0])
        failures.append(
            f"{where}: wrong on {wrong.size} of {len(X)} inputs, e.g. x = {X[i].tolist()}: "
            f"output {got[i]:g}, expected {want[i]:g}"
        )
    # Samples cannot see a thin wrong region (a weight of 1.0001, a bias of 2^-37): the proof
    # proper is exact, over every ordering of the inputs.
    failures += _ordering_failures(net, k, where)
    return failures


def _ordering_failures(net: Network, k: int, where: str) -> list[str]:
    """Failures of net on whole orderings of x1..x4, in exact arithmetic (none: proven for all inputs).

    The inputs ordered as `order` (largest first) are x = t(1, 1, 1, 1) + sum_j d_j g_j with t
    real, d_j > 0 and g_j the indicator of the j + 1 largest entries, so a hidden unit's
    pre-activation is t sum(w) + sum_j d_j (w·g_j) + b. Where sum(w) = 0 and the partial sums
    w·g_j share a sign, its sign is fixed on the whole ordering; then so is the network's output,
    and comparing it with the definition for all 24 orderings is a proof. A unit whose output
    varies within an ordering is reported as not proven (no right network has one).
    """
    rows = [[Fraction(float(v)) for v in row] for row in np.asarray(net["W1"], dtype=np.float64)]
    biases = [Fraction(float(v)) for v in np.asarray(net["b1"], dtype=np.float64)]
    out_weights = [Fraction(float(v)) for v in np.asarray(net["w2"], dtype=np.float64)]
    out_bias = Fraction(float(net["b2"]))
    failures = []
    for order in itertools.permutations(range(4)):
        named = " > ".join(f"x{i + 1}" for i in order)
        units = [_unit_on_ordering(row, bias, net["phi1"], order) for row, bias in zip(rows, biases, strict=True)]
        hidden = [h for h in units if h is not None]
        if len(hidden) < len(units):
            failures.append(f"{where}: hidden unit {units.index(None) + 1} is not constant where {named}: not proven")
            continue
        z = sum((v * h for v, h in zip(out_weights, hidden, strict=True)), out_bias)
        output = int(z > 0) if net["phi2"] == "hard_threshold" else int(-1 <= z <= 1)
        if output != int(order[k - 1] == 0):
            failures.append(f"{where}: output {output} on every input where {named}")
    return failures


def _unit_on_ordering(w: Sequence[Fraction], b: Fraction, phi: str, order: Sequence[int]) -> int | None:
    """A hidden unit's output on every input ordered as `order`, or None if it varies there."""
    if sum(w):
        return None  # t takes the pre-activation through every real value
    partial = list(itertools.accumulate(w[i] for i in order[:3]))
    if all(p == 0 for p in partial):
        return int(b > 0) if phi == "hard_threshold" else int(-1 <= b <= 1)
    if phi == "hard_threshold" and all(p >= 0 for p in partial) and b >= 0:
        return 1  # every value above b >= 0
    if phi == "hard_threshold" and all(p <= 0 for p in partial) and b <= 0:
        return 0  # every value below b <= 0
    return None


# ---------------------------------------------------------------------------------------------
# 1.2 Computation graph
# ---------------------------------------------------------------------------------------------

GRAPH_NODES = ("x", "t", "a1", "c1", "a2", "c2", "g", "y", "y'", "S", "J")
WEIGHT_NAMES = frozenset({"W1", "b1", "W2", "b2", "W3", "W4"})


def problem_equations() -> dict[str, sympy.Expr]:
    """The equations of 1.2 as sympy expressions: variable name -> its right-hand side."""
    x, t, a1, c1, a2, c2, g, y, y_prime, S = sympy.symbols("x t a1 c1 a2 c2 g y y' S")
    W1, b1, W2, b2, W3, W4 = sympy.symbols("W1 b1 W2 b2 W3 W4")
    relu, sigma, softmax, onehot = (sympy.Function(f) for f in ("ReLU", "sigma", "softmax", "I"))
    # Products stand for matrix and elementwise products alike: the graph only needs to know
    # which variables each right-hand side uses.
    return {
        "a1": W1 * x + b1,
        "c1": relu(a1),
        "a2": W2 * x + b2,
        "c2": sigma(a2),
        "g": c1 * c2,
        "y": W3 * g + W4 * x,
        "y'": softmax(y),
        "S": onehot(t) * sympy.log(y_prime),
        "J": -S,
    }


def computation_graph() -> frozenset[tuple[str, str]]:
    """Edges (from, to) of the 1.2 computation graph, derived from the equations; no weights."""
    return frozenset(
        (str(used), lhs)
        for lhs, rhs in problem_equations().items()
        for used in rhs.free_symbols
        if str(used) not in WEIGHT_NAMES
    )


def prove_graph(edges: Iterable[tuple[str, str]]) -> list[str]:
    """Failures of edges as the 1.2 graph: nodes, inputs x and t, single output J, no cycle."""
    edges = set(edges)
    failures: list[str] = []
    nodes = {u for e in edges for u in e}
    if nodes != set(GRAPH_NODES):
        failures.append(f"1.2: graph nodes {sorted(nodes)} != problem nodes {sorted(GRAPH_NODES)}")
    sources = nodes - {v for _, v in edges}
    sinks = nodes - {u for u, _ in edges}
    if sources != {"x", "t"}:
        failures.append(f"1.2: inputs {sorted(sources)}, expected x and t")
    if sinks != {"J"}:
        failures.append(f"1.2: outputs {sorted(sinks)}, expected J alone")
    # Kahn's algorithm: a graph is acyclic iff repeatedly removing sources removes every node.
    remaining = set(nodes)
    while True:
        free = {u for u in remaining if not any(v == u and w in remaining for w, v in edges)}
        if not free:
            break
        remaining -= free
    if remaining:
        failures.append(f"1.2: cycle through {sorted(remaining)}")
    # Every equation's left-hand side must be fed by exactly the variables its right side uses.
    for lhs, rhs in problem_equations().items():
        used = {str(s) for s in rhs.free_symbols} - WEIGHT_NAMES
        fed = {u for u, v in edges if v == lhs}
        if used != fed:
            failures.append(f"1.2: {lhs} is fed by {sorted(fed)}, its equation uses {sorted(used)}")
    return failures


# ---------------------------------------------------------------------------------------------
# 1.3 Hessian
# ---------------------------------------------------------------------------------------------


def quadratic_loss(v: Sequence[float]) -> Callable[[np.ndarray], float]:
    """Numerical L(x) = 1/2 x^T v v^T x, the function of 1.3."""
    v_arr = np.asarray(v, dtype=np.float64)
    return lambda x: 0.5 * float(x @ v_arr) ** 2


def hessian(v: Sequence[int] = HESSIAN_V, x: Sequence[int] = HESSIAN_X) -> list[list[int]]:
    """Hessian of L(x) = 1/2 x^T v v^T x at x, by symbolic differentiation."""
    xs = sympy.symbols(f"x1:{len(v) + 1}")
    X = sympy.Matrix(xs)
    V = sympy.Matrix(v)
    L = sympy.Rational(1, 2) * (X.T * V * V.T * X)[0, 0]
    H = sympy.hessian(L, xs).subs(dict(zip(xs, x, strict=True)))
    if not all(entry.is_integer for entry in H):
        raise ValueError(f"Hessian {H} has non-integer entries")
    return [[int(H[i, j]) for j in range(H.cols)] for i in range(H.rows)]


def numerical_hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    """Second-difference Hessian of f at x with step h (exact up to rounding for quadratics)."""
    size = x.size
    H = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            ei = np.eye(size)[i] * h
            ej = np.eye(size)[j] * h
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4.0 * h * h
            )
    return H


def prove_hessian(
    H: Sequence[Sequence[float]], v: Sequence[int] = HESSIAN_V, x: Sequence[int] = HESSIAN_X
) -> list[str]:
    """Failures of H as the 1.3 Hessian, checked against a numerical second difference."""
    got = np.asarray(H, dtype=np.float64)
    want = numerical_hessian(quadratic_loss(v), np.asarray(x, dtype=np.float64), h=1e-2)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=1e-6):
        return [f"1.3: Hessian {got.tolist()} != numerical {np.round(want, 6).tolist()}"]
    return []


# ---------------------------------------------------------------------------------------------
# Counting scalar multiplications and stored entries (1.3 cost, 1.3.1 cost)
# ---------------------------------------------------------------------------------------------

Matrix = list[list[float]]


class OpCounter:
    """Counts scalar multiplications and stored entries while running matrix algorithms."""

    def __init__(self) -> None:
        self.multiplications = 0
        self.stored = 0

    def matmul(self, A: Matrix, B: Matrix) -> Matrix:
        """A @ B by the schoolbook rule, counting each product and each stored result entry."""
        inner = len(B)
        if any(len(row) != inner for row in A):
            raise ValueError("shape mismatch")
        result = [
            [self._mul_sum([row[p] for p in range(inner)], [B[p][j] for p in range(inner)])
             for j in range(len(B[0]))]
            for row in A
        ]
        # Every entry of an intermediate result is kept in memory (inputs are not counted).
        self.stored += sum(len(row) for row in result)
        return result

    def _mul_sum(self, a: list[float], b: list[float]) -> float:
        """Inner product, counting its multiplications (additions are free in 1.3.1)."""
        total = 0.0
        for ai, bi in zip(a, b, strict=True):
            self.multiplications += 1
            total += ai * bi
        return total


def column(values: Sequence[float]) -> Matrix:
    """A vector as an (n, 1) matrix."""
    return [[float(value)] for value in values]


def transpose(A: Matrix) -> Matrix:
    """A^T; free in the accounting (a transpose is a view, not a computation)."""
    return [list(col) for col in zip(*A, strict=True)]


def form_hessian(v: Sequence[float], counter: OpCounter) -> Matrix:
    """H = v v^T, as in 1.3."""
    V = column(v)
    return counter.matmul(V, transpose(V))


def z_reverse(v: Sequence[float], y1: Sequence[float], y2: Sequence[float], c: OpCounter) -> Matrix:
    """Z = H y1 y2^T in reverse mode as accounted in 1.3.1: Y = y1 y2^T, v^T Y, v (v^T Y)."""
    V = column(v)
    Y = c.matmul(column(y1), transpose(column(y2)))
    M = c.matmul(transpose(V), Y)
    return c.matmul(V, M)


def z_forward(v: Sequence[float], y1: Sequence[float], y2: Sequence[float], c: OpCounter) -> Matrix:
    """Z = H y1 y2^T in forward mode as accounted in 1.3.1: H = v v^T, H y1, (H y1) y2^T."""
    H = form_hessian(v, c)
    Hy1 = c.matmul(H, column(y1))
    return c.matmul(Hy1, transpose(column(y2)))


Algorithm = Callable[[Sequence[float], Sequence[float], Sequence[float], OpCounter], Matrix]
ALGORITHMS: dict[str, Algorithm] = {"reverse": z_reverse, "forward": z_forward}


@functools.cache
def counted(mode: str, n_value: int, m_value: int) -> tuple[int, int]:
    """(multiplications, stored entries) of computing Z in mode, counted on random inputs."""
    rng = np.random.default_rng(n_value * 1000 + m_value)
    v, y1, y2 = rng.normal(size=n_value), rng.normal(size=n_value), rng.normal(size=m_value)
    counter = OpCounter()
    Z = ALGORITHMS[mode](v.tolist(), y1.tolist(), y2.tolist(), counter)
    # The counted algorithm must also compute the right thing, or its counts mean nothing.
    if not np.allclose(Z, np.outer(np.outer(v, v) @ y1, y2)):
        raise ArithmeticError(f"{mode} mode computed a wrong Z at n={n_value}, m={m_value}")
    return counter.multiplications, counter.stored


def hessian_counted(n_value: int) -> tuple[int, int]:
    """(multiplications, stored entries) of forming H = v v^T for v of length n."""
    counter = OpCounter()
    form_hessian(np.arange(1.0, n_value + 1).tolist(), counter)
    return counter.multiplications, counter.stored


def fit_polynomial(
    count: Callable[[int, int], int],
    fit_points: Iterable[tuple[int, int]],
    check_points: Iterable[tuple[int, int]],
) -> sympy.Expr:
    """The degree-2 polynomial in (n, m) through count at fit_points, verified at check_points."""
    monomials = [sympy.Integer(1), n, m, n**2, n * m, m**2]
    coeffs = sympy.symbols(f"c0:{len(monomials)}")
    general = sum((c * mono for c, mono in zip(coeffs, monomials, strict=True)), sympy.Integer(0))
    equations = [general.subs({n: a, m: b}) - count(a, b) for a, b in fit_points]
    solutions = list(sympy.linsolve(equations, coeffs))
    if len(solutions) != 1:
        raise ArithmeticError("the counts fit no degree-2 polynomial")
    (solution,) = solutions
    if any(value.free_symbols for value in solution):
        raise ArithmeticError("too few points to determine the polynomial")
    expr = sympy.expand(general.subs(dict(zip(coeffs, solution, strict=True))))
    for a, b in check_points:
        if expr.subs({n: a, m: b}) != count(a, b):
            raise ArithmeticError(f"{expr} disagrees with the count at n={a}, m={b}")
    return expr


FIT_POINTS = [(a, b) for a in (1, 2, 3) for b in (1, 2, 3)]
CHECK_POINTS = [(1, 7), (7, 1), (4, 5), (6, 6), (9, 2), (3, 11)]


def cost_expressions() -> dict[str, sympy.Expr]:
    """Exact 1.3.1 counts for Z = H y1 y2^T, fitted from counted runs and verified."""
    costs: dict[str, sympy.Expr] = {}
    for mode in ("reverse", "forward"):
        for i, what in enumerate(("multiplications", "memory")):

            def count(a: int, b: int, mode: str = mode, i: int = i) -> int:
                return counted(mode, a, b)[i]

            costs[f"{mode}_{what}"] = fit_polynomial(count, FIT_POINTS, CHECK_POINTS)
    return costs


def big_o_in_n(expr: sympy.Expr) -> str:
    """Big-O of a polynomial in n, written like the problem does: "O(n^2)"."""
    degree = sympy.degree(expr, n)
    return "O(1)" if degree == 0 else "O(n)" if degree == 1 else f"O(n^{degree})"


def hessian_cost() -> dict[str, str]:
    """1.3 cost: big-O of multiplications and memory of forming H, from counted runs."""
    result: dict[str, str] = {}
    for i, what in enumerate(("multiplications", "memory")):

        def count(a: int, _b: int, i: int = i) -> int:
            return hessian_counted(a)[i]

        result[what] = big_o_in_n(fit_polynomial(count, FIT_POINTS, CHECK_POINTS))
    return result


def region_cheaper(cheaper: sympy.Expr, dearer: sympy.Expr) -> Relational:
    """The region of positive (n, m) where cheaper < dearer, as a relation m > f(n) or m < f(n)."""
    difference = sympy.factor(dearer - cheaper)
    factors = sympy.Mul.make_args(difference)
    # Factors positive for all n, m >= 1 (like 2, n, n + 1) do not change the sign.
    sign_factor = sympy.Mul(*[f for f in factors if not f.is_positive])
    roots = sympy.solve(sign_factor, m)
    slope = sympy.diff(sign_factor, m)
    if len(roots) != 1 or not (slope.is_positive or slope.is_negative):
        raise ArithmeticError(f"cannot describe the region {difference} > 0 as a bound on m")
    bound = roots[0]
    if slope.is_positive:
        return sympy.StrictGreaterThan(m, bound)
    return sympy.StrictLessThan(m, bound)


def forward_better_when() -> tuple[str, Relational]:
    """Where forward mode beats reverse in both counts: (its string, its sympy relation)."""
    costs = cost_expressions()
    regions = {
        what: region_cheaper(costs[f"forward_{what}"], costs[f"reverse_{what}"])
        for what in ("multiplications", "memory")
    }
    if regions["multiplications"] != regions["memory"]:
        raise ArithmeticError(f"time and memory disagree: {regions}")
    region = regions["multiplications"]
    return str(region), region


# ---------------------------------------------------------------------------------------------
# 1.3.1 Vector-Hessian product
# ---------------------------------------------------------------------------------------------


def z_both_ways(v: Sequence[int] = Z_V, y: Sequence[int] = Z_Y) -> tuple[list[int], list[int]]:
    """z = H y in exact integers, reverse mode v (v^T y) and forward mode (v v^T) y."""
    V = sympy.Matrix(v)
    Y = sympy.Matrix(y)
    reverse = V * (V.T * Y)[0, 0]
    forward = (V * V.T) * Y
    return [int(e) for e in reverse], [int(e) for e in forward]


def z_vector(v: Sequence[int] = Z_V, y: Sequence[int] = Z_Y) -> list[int]:
    """z = v v^T y of 1.3.1 (reverse mode; prove_z checks forward mode agrees)."""
    return z_both_ways(v, y)[0]


def prove_z(z: Sequence[float], v: Sequence[int] = Z_V, y: Sequence[int] = Z_Y) -> list[str]:
    """Failures of z as the 1.3.1 product: both modes, the counted algorithms and hw1_code."""
    reverse, forward = z_both_ways(v, y)
    candidates: dict[str, Sequence[float]] = {"forward mode": forward}
    # Z = H y1 y2^T with y2 = [1] is z itself: the counted algorithms must give it as well.
    for mode, algorithm in ALGORITHMS.items():
        Z = algorithm(list(map(float, v)), list(map(float, y)), [1.0], OpCounter())
        candidates[f"counted {mode} mode"] = [row[0] for row in Z]
    candidates["hw1_code.hvp_reverse"] = hw1_code.hvp_reverse(np.array(v), np.array(y)).tolist()
    candidates["hw1_code.hvp_forward"] = hw1_code.hvp_forward(np.array(v), np.array(y)).tolist()
    candidates["reverse mode"] = reverse
    return [
        f"1.3.1: z = {list(z)} but {name} gives {value}"
        for name, value in candidates.items()
        if not np.allclose(np.asarray(z, dtype=np.float64), value, rtol=0, atol=1e-9)
    ]


def prove_costs(answers: dict[str, Any]) -> list[str]:
    """Failures of the 1.3 and 1.3.1 cost answers against fresh counts and hw1_code's counts."""
    failures: list[str] = []
    cost = answers["q1_3_1_cost"]
    for key in ("reverse_multiplications", "reverse_memory", "forward_multiplications",
                "forward_memory"):
        mode, what = key.split("_")
        # sympify evaluates its input: fine here, these are our own computed answers.
        expr = sympy.sympify(cost[key], locals={"n": n, "m": m})
        for a, b in [*FIT_POINTS, *CHECK_POINTS, (13, 17), (20, 3)]:
            count = counted(mode, a, b)[0 if what == "multiplications" else 1]
            code = (hw1_code.mult_count if what == "multiplications" else hw1_code.memory_count)(
                a, b, mode
            )
            if expr.subs({n: a, m: b}) != count or code != count:
                failures.append(
                    f"1.3.1: {key} at n={a}, m={b}: answer {expr.subs({n: a, m: b})}, "
                    f"hw1_code {code}, counted {count}"
                )
                break
    relation = sympy.sympify(cost["forward_better_when"], locals={"n": n, "m": m})
    for a in range(1, 15):
        for b in range(1, 15):
            faster = all(
                counted("forward", a, b)[i] < counted("reverse", a, b)[i] for i in range(2)
            )
            if bool(relation.subs({n: a, m: b})) != faster:
                failures.append(f"1.3.1: forward_better_when wrong at n={a}, m={b}")
    for what in ("multiplications", "memory"):
        answer = answers["q1_3_cost"].get(what)
        parsed = re.fullmatch(r"O\((?:1|n(?:\^(\d+))?)\)", str(answer))
        if parsed is None:
            failures.append(f"1.3: {what} = {answer!r} is not of the form O(n^d)")
            continue
        degree = 0 if answer == "O(1)" else int(parsed.group(1) or 1)
        # Doubling n multiplies an O(n^d) count by 2^d in the limit; n = 40 -> 80 is far enough
        # out for the exact counts here.
        i = 0 if what == "multiplications" else 1
        ratio = hessian_counted(80)[i] / hessian_counted(40)[i]
        if abs(ratio - 2**degree) > 0.1 * 2**degree:
            failures.append(f"1.3: {what} = {answer!r}, but doubling n scales the count by {ratio}")
    return failures


# ---------------------------------------------------------------------------------------------
# The notebook's reference code (hw1_code), checked against independent computations
# ---------------------------------------------------------------------------------------------


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float) -> np.ndarray:
    """Central-difference gradient of f at x on copies (independent of hw1_code.numerical_grad)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        plus, minus = x.astype(np.float64), x.astype(np.float64)
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = (f(plus) - f(minus)) / (2.0 * eps)
    return grad


def _compare(where: str, got: np.ndarray, want: np.ndarray, tol: float = 1e-6) -> list[str]:
    """A failure message if got and want differ beyond a relative tolerance."""
    scale = max(1.0, float(np.max(np.abs(want)))) if np.size(want) else 1.0
    if np.shape(got) != np.shape(want):
        return [f"{where}: shape {np.shape(got)} != {np.shape(want)}"]
    error = float(np.max(np.abs(got - want))) if np.size(want) else 0.0
    return [f"{where}: max error {error:.3g}"] if error > tol * scale else []


def prove_gated_backward(seed: int = 0) -> list[str]:
    """Failures of hw1_code.gated_backward against finite differences of gated_forward."""
    rng = np.random.default_rng(seed)
    B, D, K, C = 5, 4, 3, 3
    params = {
        "W1": rng.normal(size=(K, D)), "b1": rng.normal(size=K),
        "W2": rng.normal(size=(K, D)), "b2": rng.normal(size=K),
        "W3": rng.normal(size=(C, K)), "W4": rng.normal(size=(C, D)),
    }
    X = rng.normal(size=(B, D))
    t = rng.integers(0, C, size=B)
    _, cache = hw1_code.gated_forward(params, X, t)
    grads = hw1_code.gated_backward(params, cache)
    failures: list[str] = []
    if set(grads) != {*params, "X"}:
        failures.append(f"p2: gated_backward keys {sorted(grads)}")
        return failures
    for key in params:
        def loss_of(value: np.ndarray, key: str = key) -> float:
            return hw1_code.gated_forward({**params, key: value}, X, t)[0]

        numeric = central_difference(loss_of, params[key], 1e-6)
        failures += _compare(f"p2: d loss / d {key}", grads[key], numeric)
    numeric_x = central_difference(
        lambda value: hw1_code.gated_forward(params, value, t)[0], X, 1e-6
    )
    failures += _compare("p2: d loss / d X", grads["X"], numeric_x)
    # relu'(0) = 0: with a1 = 0 everywhere no gradient may reach W1 or b1.
    flat = {**params, "W1": np.zeros((K, D)), "b1": np.zeros(K)}
    flat_grads = hw1_code.gated_backward(flat, hw1_code.gated_forward(flat, X, t)[1])
    if np.any(flat_grads["W1"] != 0) or np.any(flat_grads["b1"] != 0):
        failures.append("p2: relu'(0) must be 0")
    # Huge logits must not overflow the softmax.
    huge = {**params, "W4": params["W4"] * 1e4}
    loss, huge_cache = hw1_code.gated_forward(huge, X, t)
    huge_grads = hw1_code.gated_backward(huge, huge_cache)
    if not (np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in huge_grads.values())):
        failures.append("p2: non-finite loss or gradients at large logits")
    return failures


def prove_numerical_grad() -> list[str]:
    """Failures of hw1_code.numerical_grad: accuracy, and that x is left unchanged."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2))
    before = x.copy()
    A = rng.normal(size=(2, 2))
    got = hw1_code.numerical_grad(lambda z: float(np.sum(np.sin(z @ A))), x)
    want = np.cos(x @ A) @ A.T
    failures = _compare("p2: numerical_grad", got, want, tol=1e-7)
    if not np.array_equal(x, before):
        failures.append("p2: numerical_grad modified x")
    return failures


def prove_mlp() -> list[str]:
    """Failures of hw1_code's MLP: gradients vs finite differences, and sgd_step purity."""
    rng = np.random.default_rng(2)
    N, D, H, C = 6, 4, 5, 4
    params = {
        "W1": rng.normal(size=(D, H)), "b1": rng.normal(size=H),
        "W2": rng.normal(size=(H, C)), "b2": rng.normal(size=C),
    }
    X = rng.normal(size=(N, D))
    y = rng.integers(0, C, size=N)
    loss, grads = hw1_code.mlp_loss_and_grads(params, X, y)
    failures: list[str] = []
    logits = hw1_code.mlp_forward(params, X)
    shifted = logits - logits.max(axis=1, keepdims=True)
    want_loss = float(np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(N), y]))
    failures += _compare("p4: loss", np.asarray(loss), np.asarray(want_loss))
    for key in params:
        def loss_of(value: np.ndarray, key: str = key) -> float:
            return hw1_code.mlp_loss_and_grads({**params, key: value}, X, y)[0]

        failures += _compare(f"p4: d loss / d {key}", grads[key],
                             central_difference(loss_of, params[key], 1e-6))
    copies = {k: v.copy() for k, v in params.items()}
    grad_copies = {k: v.copy() for k, v in grads.items()}
    stepped = hw1_code.sgd_step(params, grads, 0.1)
    if any(not np.array_equal(params[k], copies[k]) for k in params) or any(
        not np.array_equal(grads[k], grad_copies[k]) for k in grads
    ):
        failures.append("p4: sgd_step modified its inputs")
    for key in params:
        failures += _compare(f"p4: sgd_step {key}", stepped[key], copies[key] - 0.1 * grads[key])
    return failures


def prove_code() -> list[str]:
    """Failures of hw1_code's p1, p3 and p5 helpers against their definitions."""
    failures: list[str] = []
    edges = np.array([-1.0 - 1e-12, -1.0, 0.0, 1e-300, 1.0, 1.0 + 1e-12])
    if hw1_code.step(edges).tolist() != [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]:
        failures.append("p1: step wrong at its edge")
    if hw1_code.indicator(edges).tolist() != [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]:
        failures.append("p1: indicator wrong at its edges")
    X = kth_largest_test_inputs(seed=3)
    for k in range(1, 5):
        got = hw1_code.hardcoded_forward(hw1_code.kth_largest_params(k), X)
        if not np.array_equal(got, is_kth_largest(X, k).astype(np.float64)):
            failures.append(f"p1: hardcoded_forward disagrees with the definition for k={k}")
    rng = np.random.default_rng(4)
    for size in (1, 3, 50):
        v, y = rng.normal(size=size), rng.normal(size=size)
        want = np.outer(v, v) @ y
        for name, got in [("hvp_reverse", hw1_code.hvp_reverse(v, y)),
                          ("hvp_forward", hw1_code.hvp_forward(v, y)),
                          ("quadratic_hessian(v) @ y", hw1_code.quadratic_hessian(v) @ y)]:
            failures += _compare(f"p3: {name} (n={size})", got, want, tol=1e-12)
        failures += _compare(
            f"p3: quadratic_hessian (n={size})", hw1_code.quadratic_hessian(v),
            numerical_hessian(quadratic_loss(v.tolist()), y, h=1e-2), tol=1e-6,
        )
    Xd, yd = hw1_code.make_data(1000, seed=5)
    Xd2, yd2 = hw1_code.make_data(1000, seed=5)
    if Xd.shape != (1000, 4) or not (np.array_equal(Xd, Xd2) and np.array_equal(yd, yd2)):
        failures.append("p5: make_data is not a deterministic (n, 4) draw")
    second = [sorted(range(4), key=row.__getitem__)[-2] for row in Xd.tolist()]
    if yd.tolist() != second or Xd.min() < -1 or Xd.max() > 1:
        failures.append("p5: make_data labels are not the index of the 2nd-largest entry")
    return failures


# ---------------------------------------------------------------------------------------------
# Answers and the proof of all of them
# ---------------------------------------------------------------------------------------------

ANSWER_KEYS = ("q1_1", "q1_2_graph", "q1_3_hessian", "q1_3_cost", "q1_3_1_z", "q1_3_1_cost")


def reference_answers() -> dict[str, Any]:
    """The computed hw1_written.yaml answers, as plain Python data."""
    net = kth_largest_network(K_WRITTEN)
    costs = cost_expressions()
    better, _ = forward_better_when()
    return {
        "q1_1": {
            "W1": [[float(w) for w in row] for row in net["W1"]],
            "b1": [float(b) for b in net["b1"]],
            "w2": [float(w) for w in net["w2"]],
            "b2": float(net["b2"]),
            "phi1": net["phi1"],
            "phi2": net["phi2"],
        },
        "q1_2_graph": [list(edge) for edge in sorted(computation_graph())],
        "q1_3_hessian": hessian(),
        "q1_3_cost": hessian_cost(),
        "q1_3_1_z": z_vector(),
        "q1_3_1_cost": {**{key: str(expr) for key, expr in costs.items()},
                        "forward_better_when": better},
    }


def prove_answers(answers: dict[str, Any]) -> list[str]:
    """Failures of a complete answers dict (the shape of hw1_written.yaml)."""
    if tuple(answers) != ANSWER_KEYS:
        return [f"answers have keys {list(answers)}, expected {list(ANSWER_KEYS)}"]
    net = {key: np.asarray(value) if key[0] in "Wbw" else value
           for key, value in answers["q1_1"].items()}
    return [
        *prove_kth_largest(net, K_WRITTEN),
        *prove_graph(tuple(edge) for edge in answers["q1_2_graph"]),
        *prove_hessian(answers["q1_3_hessian"]),
        *prove_z(answers["q1_3_1_z"]),
        *prove_costs(answers),
    ]


def prove_all() -> list[str]:
    """Run every proof: the written answers, p1 for every k, and the notebook's reference code."""
    failures: list[str] = []
    for k in range(1, 5):
        failures += prove_kth_largest(kth_largest_network(k), k)
    try:
        answers = reference_answers()
    except ArithmeticError as error:  # a derivation that could not be completed
        return [*failures, f"deriving the answers failed: {error}"]
    failures += prove_answers(answers)
    failures += prove_gated_backward()
    failures += prove_numerical_grad()
    failures += prove_mlp()
    failures += prove_code()
    return failures
