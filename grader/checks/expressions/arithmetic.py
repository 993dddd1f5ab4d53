"""Exact arithmetic on fractions of integer polynomials, with packed monomials, under a budget."""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import sympy

from grader.checks.expressions.limits import REFERENCE_MAX_EXPONENT, Budget, ParseError, counted
from grader.checks.expressions.tree import Node
from grader.errors import GraderError

# A polynomial maps a monomial to its (nonzero) integer coefficient. A monomial is packed into
# one int, SHIFT bits per variable, so that multiplying monomials is adding ints: this inner
# loop is the hot spot on adversarial input, and tuple keys made it three times slower.
_Poly = dict[int, int]
Ratio = tuple[_Poly, _Poly]  # numerator, denominator; the denominator is never zero
SHIFT = 32  # exponents stay far below 2**32: each unit of degree costs budgeted work
_MASK = (1 << SHIFT) - 1


def _p_add(a: _Poly, b: _Poly, budget: Budget) -> _Poly:
    """a + b."""
    budget.spend(len(a) + len(b))
    out = dict(a)
    for key, coefficient in b.items():
        out[key] = out.get(key, 0) + coefficient
    return {key: c for key, c in out.items() if c}


def p_mul(a: _Poly, b: _Poly, budget: Budget) -> _Poly:
    """a * b."""
    budget.spend(len(a) * len(b))
    out: _Poly = {}
    get = out.get
    for key_a, coefficient_a in a.items():
        for key_b, coefficient_b in b.items():
            key = key_a + key_b
            out[key] = get(key, 0) + coefficient_a * coefficient_b
    return {key: c for key, c in out.items() if c}


def _p_scale(a: _Poly, factor: int) -> _Poly:
    """factor * a."""
    return {key: factor * c for key, c in a.items()} if factor else {}


def _constant(a: _Poly) -> int | None:
    """The value of a constant polynomial, or None if it has a variable."""
    if not a:
        return 0
    if len(a) == 1 and 0 in a:
        return a[0]
    return None


def _normalise(numerator: _Poly, denominator: _Poly) -> Ratio:
    """Divide out the common integer content and make the denominator's leading sign positive.

    For a polynomial (constant denominator) this makes the representation canonical.
    """
    if not numerator:
        return {}, {0: 1}
    content = math.gcd(*numerator.values(), *denominator.values())
    if denominator[max(denominator)] < 0:
        content = -content
    if content != 1:
        numerator = {key: c // content for key, c in numerator.items()}
        denominator = {key: c // content for key, c in denominator.items()}
    return numerator, denominator


class Arithmetic:
    """Exact arithmetic on ratios of polynomials in a fixed tuple of variables."""

    def __init__(self, variables: Iterable[str], budget: Budget) -> None:
        self.names = tuple(sorted(variables))
        self.zero = 0  # the packed key of the monomial 1
        self.budget = budget

    def number(self, value: Fraction) -> Ratio:
        """A constant."""
        top = {self.zero: value.numerator} if value else {}  # no zero coefficients, ever
        return _normalise(top, {self.zero: value.denominator})

    def variable(self, name: str) -> Ratio:
        """A variable."""
        return {1 << (SHIFT * self.names.index(name)): 1}, {self.zero: 1}

    def one(self) -> Ratio:
        """The constant 1."""
        return {self.zero: 1}, {self.zero: 1}

    def neg(self, a: Ratio) -> Ratio:
        """-a."""
        return _p_scale(a[0], -1), a[1]

    def add(self, a: Ratio, b: Ratio) -> Ratio:
        """a + b; with equal or constant denominators there is no cross-multiplication."""
        (top_a, bottom_a), (top_b, bottom_b) = a, b
        if bottom_a == bottom_b:
            return _normalise(_p_add(top_a, top_b, self.budget), bottom_a)
        const_a, const_b = _constant(bottom_a), _constant(bottom_b)
        if const_a is not None and const_b is not None:
            top = _p_add(_p_scale(top_a, const_b), _p_scale(top_b, const_a), self.budget)
            return _normalise(top, {self.zero: const_a * const_b})
        top = _p_add(p_mul(top_a, bottom_b, self.budget), p_mul(top_b, bottom_a, self.budget),
                     self.budget)
        return _normalise(top, p_mul(bottom_a, bottom_b, self.budget))

    def mul(self, a: Ratio, b: Ratio) -> Ratio:
        """a * b."""
        return _normalise(p_mul(a[0], b[0], self.budget), p_mul(a[1], b[1], self.budget))

    def invert(self, a: Ratio, pos: int) -> Ratio:
        """1 / a; exact, so 1/(n(n+1) - n^2 - n) is caught as a division by zero."""
        if not a[0]:
            raise ParseError(f"division by zero at position {pos}")
        return _normalise(a[1], a[0])

    def power(self, a: Ratio, exponent: int, pos: int) -> Ratio:
        """a ** exponent by repeated multiplication (the exponent is small)."""
        if exponent < 0:
            a = self.invert(a, pos)
        result = self.one()
        for _ in range(abs(exponent)):
            result = self.mul(result, a)
        return result

    def subtract(self, a: Ratio, b: Ratio) -> Ratio:
        """a - b."""
        return self.add(a, self.neg(b))

    def is_polynomial(self, a: Ratio) -> bool:
        """Whether the denominator is a constant."""
        return _constant(a[1]) is not None

    def equal(self, a: Ratio, b: Ratio) -> bool:
        """a == b as rational functions, by cross-multiplication."""
        return p_mul(a[0], b[1], self.budget) == p_mul(b[0], a[1], self.budget)

    def evaluate(self, node: Node) -> Ratio:
        """The value of a syntax tree."""
        if node.kind == "num":
            return self.number(node.value)
        if node.kind == "var":
            return self.variable(node.name)
        if node.kind == "neg":
            return self.neg(self.evaluate(node.children[0]))
        if node.kind == "add":
            total = self.evaluate(node.children[0])
            for child in node.children[1:]:
                total = self.add(total, self.evaluate(child))
            return total
        if node.kind == "mul":
            product = self.one()
            for child, inverted in zip(node.children, node.inverted, strict=True):
                value = self.evaluate(child)
                product = self.mul(product, self.invert(value, child.pos) if inverted else value)
            return product
        if node.kind == "pow":
            return self.power(self.evaluate(node.children[0]), node.exponent, node.pos)
        raise AssertionError(f"unknown node kind {node.kind}")

    def from_sympy(self, expr: Any) -> Ratio:
        """The value of a (trusted) sympy expression or Python number from a reference answer."""
        if isinstance(expr, bool):
            raise GraderError(f"reference expression is a boolean: {expr!r}")
        if isinstance(expr, (int, Fraction)):
            return self.number(Fraction(expr))
        if not isinstance(expr, sympy.Basic):
            raise GraderError(f"reference expression has an unsupported type: {type(expr)}")
        if isinstance(expr, sympy.Order):
            # sympy.O is about n -> 0, so sympy.O(n^2 + n) is O(n): the opposite of ours.
            raise GraderError("give the expression inside O(...) as the reference, not sympy.O")
        if expr.is_Rational:
            return self.number(Fraction(int(expr.p), int(expr.q)))
        if expr.is_Symbol:
            if expr.name not in self.names:
                raise GraderError(f"reference expression uses the variable {expr.name!r}, "
                                  f"not one of {sorted(self.names)}")
            return self.variable(expr.name)
        if expr.is_Add:
            total: Ratio = ({}, {self.zero: 1})
            for arg in expr.args:
                total = self.add(total, self.from_sympy(arg))
            return total
        if expr.is_Mul:
            product = self.one()
            for arg in expr.args:
                product = self.mul(product, self.from_sympy(arg))
            return product
        if expr.is_Pow and expr.exp.is_Integer and abs(int(expr.exp)) <= REFERENCE_MAX_EXPONENT:
            return self.power(self.from_sympy(expr.base), int(expr.exp), 0)
        raise GraderError(f"reference expression {expr} is not a ratio of polynomials "
                          "with exact coefficients")

    def exponents(self, key: int) -> tuple[int, ...]:
        """The exponents of a packed monomial, one per variable."""
        return tuple((key >> (SHIFT * i)) & _MASK for i in range(len(self.names)))

    def dominant(self, a: Ratio) -> list[int]:
        """The monomials of a polynomial that no other monomial dominates, highest first.

        b dominates c if every exponent of b is >= that of c and b != c. Visiting monomials by
        decreasing total degree, a dominator of c (or, transitively, one of the antichain
        above it) has been visited already, so c is only checked against the antichain so far.
        """
        found: list[tuple[int, ...]] = []
        keys: list[int] = []
        for exponents, key in sorted(((self.exponents(key), key) for key in a[0]),
                                     key=lambda pair: (-sum(pair[0]), pair[0])):
            # With many variables the antichain can be long; each check costs one step per
            # variable.
            self.budget.spend(len(found) * len(self.names))
            if not any(all(x >= y for x, y in zip(other, exponents, strict=True))
                       for other in found):
                found.append(exponents)
                keys.append(key)
        return keys

    def monomial(self, key: int) -> Any:
        """A packed monomial as a sympy expression."""
        work = counted()
        if work is not None:
            work.shown += 1
        return sympy.Mul(*(sympy.Symbol(name) ** power
                           for name, power in zip(self.names, self.exponents(key), strict=True)
                           if power))
