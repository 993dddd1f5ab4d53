"""Comparisons over the positive integers (the variables are sizes): the proofs and their guard."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from grader.checks.expressions.arithmetic import SHIFT, Arithmetic, Ratio

# The variables are sizes: n, m = 1, 2, 3, ...
#
# `m/n > 1` or `2n^2 + mn < 3mn` means `m > n` for sizes but not over the reals, so after the
# exact test (same_up_to_factor, in reading.py) fails a comparison gets a second, still exact,
# chance. With the reference read as `L > 0` (or >=, =) for one polynomial L with integer
# coefficients, the student's `N/D op 0` is accepted only by one of two proofs:
#   A. D has a fixed sign on the domain and N = L^k * R with R of a fixed sign on the domain
#      (k odd and R > 0 for > and >=): then N/D op 0 holds exactly where L op 0 does.
#   B. N = a*L + b with constants a > 0 and b: L takes whole-number values, so L > t and
#      L >= t are lower bounds on a whole number (m >= n + 1 is m - n > 0).
# A polynomial P has a fixed sign on [1, oo)^k if P(1 + u) has coefficients of one sign and a
# nonzero constant term (u >= 0). Nothing here samples to decide; a grid of small sizes is
# checked afterwards only as a guard that can reject, never accept.

_Exponents = tuple[int, ...]
_SAMPLE_POINTS = 64  # at most this many points of the guard's grid


def _unpacked(poly: dict[int, Any], arithmetic: Arithmetic) -> dict[_Exponents, Any]:
    return {arithmetic.exponents(key): c for key, c in poly.items()}


def _packed(exponents: _Exponents) -> int:
    return sum(e << (SHIFT * i) for i, e in enumerate(exponents))


def domain_sign(poly: dict[int, Any], arithmetic: Arithmetic) -> int:
    """+1 or -1 if the polynomial has that sign everywhere on [1, oo)^k, else 0 (not proven)."""
    if not poly:
        return 0
    # Positive scaling keeps the sign: clear the denominators to work with whole numbers.
    scale = math.lcm(*(Fraction(c).denominator for c in poly.values()))
    shifted: dict[_Exponents, int] = {
        e: int(c * scale) for e, c in _unpacked(poly, arithmetic).items()}
    # Substitute x = 1 + u one variable at a time: x^e = sum over f of C(e, f) u^f.
    for i in range(len(arithmetic.names)):
        arithmetic.budget.spend(sum(e[i] + 1 for e in shifted))
        result: dict[_Exponents, int] = {}
        for exponents, coefficient in shifted.items():
            power = exponents[i]
            for f in range(power + 1):
                key = (*exponents[:i], f, *exponents[i + 1:])
                result[key] = result.get(key, 0) + coefficient * math.comb(power, f)
        shifted = result
    constant = shifted.get((0,) * len(arithmetic.names), 0)
    if constant > 0 and all(c >= 0 for c in shifted.values()):
        return 1
    if constant < 0 and all(c <= 0 for c in shifted.values()):
        return -1
    return 0


def _divided(poly: dict[int, Fraction], divisor: dict[int, int],
             arithmetic: Arithmetic) -> dict[int, Fraction] | None:
    """poly / divisor if the division is exact, else None.

    Division by one polynomial in the lexicographic order of the packed keys (a monomial
    order): the remainder is zero exactly when the divisor divides the polynomial. Zero is
    reported as not divisible, so that dividing repeatedly ends.
    """
    if not poly:
        return None
    lead_key = max(divisor)
    lead = arithmetic.exponents(lead_key)
    remainder = dict(poly)
    quotient: dict[int, Fraction] = {}
    while remainder:
        arithmetic.budget.spend(len(remainder) + len(divisor))
        top = max(remainder)
        if any(a < b for a, b in zip(arithmetic.exponents(top), lead, strict=True)):
            return None
        shift = top - lead_key
        factor = remainder[top] / divisor[lead_key]
        quotient[shift] = factor
        for key, coefficient in divisor.items():
            value = remainder.get(key + shift, 0) - factor * coefficient
            if value:
                remainder[key + shift] = value
            else:
                remainder.pop(key + shift, None)
    return quotient


@dataclass(frozen=True)
class Core:
    """A reference comparison as `L op 0` on the domain: L has integer coefficients."""

    op: str
    poly: dict[int, int]


def reference_core(op: str, value: Ratio, arithmetic: Arithmetic) -> Core | None:
    """The reference reduced to one polynomial factor L (with sympy: trusted, small input)."""
    denominator_sign = domain_sign(value[1], arithmetic)
    if not denominator_sign:
        return None
    symbols = [sympy.Symbol(name) for name in arithmetic.names]
    numerator = sympy.Poly.from_dict(
        {e: denominator_sign * c for e, c in _unpacked(value[0], arithmetic).items()}, *symbols)
    constant, factors = numerator.factor_list()
    sign = 1 if constant > 0 else -1
    undecided = []
    for factor, power in factors:
        poly = {_packed(e): int(c) for e, c in factor.as_dict().items()}
        factor_sign = domain_sign(poly, arithmetic)
        if factor_sign:
            sign *= factor_sign**power
        else:
            undecided.append((poly, power))
    if len(undecided) != 1:
        return None
    poly, power = undecided[0]
    if op == "=":
        return Core(op, poly)
    if power % 2 == 0:
        return None
    return Core(op, {key: sign * c for key, c in poly.items()})


def _integer_bound(op: str, threshold: Fraction) -> int:
    """The least whole number L with `L op threshold` (op is > or >=)."""
    return math.floor(threshold) + 1 if op == ">" else math.ceil(threshold)


def proven_on_positive_integers(op: str, value: Ratio, core: Core,
                                 arithmetic: Arithmetic) -> bool:
    """Whether `value op 0` holds exactly where the reference does, by proof A or B above."""
    denominator_sign = domain_sign(value[1], arithmetic)
    if not denominator_sign or not value[0]:
        return False
    numerator = {key: Fraction(denominator_sign * c) for key, c in value[0].items()}
    # Proof A: numerator = L^k * R with R of one sign on the domain.
    rest, power = numerator, 0
    while (quotient := _divided(rest, core.poly, arithmetic)) is not None:
        rest, power = quotient, power + 1
    if power:
        rest_sign = domain_sign(rest, arithmetic)
        if rest_sign and op == core.op == "=":
            return True
        if rest_sign > 0 and op == core.op and power % 2 == 1:
            return True
    # Proof B: numerator = a*L + b, a > 0, as a bound on the whole number L.
    if op == "=" or core.op == "=":
        return False
    pivot = next((key for key in core.poly if key != arithmetic.zero), None)
    if pivot is None:
        return False
    scale = numerator.get(pivot, Fraction(0)) / core.poly[pivot]
    if scale <= 0:
        return False
    arithmetic.budget.spend(len(numerator) + len(core.poly))
    offset = dict(numerator)
    for key, coefficient in core.poly.items():
        offset[key] = offset.get(key, 0) - scale * coefficient
    if any(c for key, c in offset.items() if key != arithmetic.zero):
        return False
    threshold = -Fraction(offset.get(arithmetic.zero, 0)) / scale
    return _integer_bound(op, threshold) == _integer_bound(core.op, Fraction(0))


def _evaluator(value: Ratio, arithmetic: Arithmetic) -> Callable[[tuple[int, ...]], int]:
    """The sign of a ratio at a point where its denominator is nonzero."""
    terms = [[(c, arithmetic.exponents(key)) for key, c in poly.items()] for poly in value]
    degree = max((max(e) for part in terms for _, e in part), default=0)

    def sign(point: tuple[int, ...]) -> int:
        powers = [[x**e for e in range(degree + 1)] for x in point]
        top, bottom = (sum(c * math.prod(table[e] for table, e in zip(powers, exponents, strict=True))
                           for c, exponents in part) for part in terms)
        return ((top > 0) - (top < 0)) * (1 if bottom > 0 else -1)

    return sign


def agrees_on_samples(op: str, value: Ratio, reference: tuple[str, Ratio],
                       arithmetic: Arithmetic) -> bool:
    """A guard after a proof: both comparisons agree on a grid of small positive sizes."""
    side = max(2, int(_SAMPLE_POINTS ** (1 / len(arithmetic.names))))
    arithmetic.budget.spend(side ** len(arithmetic.names) * sum(map(len, (*value, *reference[1]))))
    checks = [(op, _evaluator(value, arithmetic)), (reference[0], _evaluator(reference[1], arithmetic))]
    for point in itertools.product(range(1, side + 1), repeat=len(arithmetic.names)):
        held = [sign > 0 if relation == ">" else sign >= 0 if relation == ">=" else sign == 0
                for relation, sign in ((relation, evaluate(point)) for relation, evaluate in checks)]
        if held[0] != held[1]:
            return False
    return True
