"""From syntax trees to sympy, and the display of sympy expressions in the feedback."""

from __future__ import annotations

from typing import Any

import sympy

from grader.checks.expressions.limits import counted
from grader.checks.expressions.tree import Node


def to_sympy(node: Node) -> Any:
    """The sympy form of a tree as written (not expanded), for callers and for feedback."""
    work = counted()
    if work is not None:
        work.shown += 1
    if node.kind == "num":
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if node.kind == "var":
        return sympy.Symbol(node.name)
    if node.kind == "neg":
        return -to_sympy(node.children[0])
    if node.kind == "add":
        return sympy.Add(*(to_sympy(child) for child in node.children))
    if node.kind == "mul":
        return sympy.Mul(*(sympy.Pow(to_sympy(child), -1) if inverted else to_sympy(child)
                           for child, inverted in zip(node.children, node.inverted, strict=True)))
    if node.kind == "pow":
        return sympy.Pow(to_sympy(node.children[0]), sympy.Integer(node.exponent))
    raise AssertionError(f"unknown node kind {node.kind}")


def show(expr: Any) -> str:
    """A sympy expression in the notation students type, shortened for the feedback."""
    text = sympy.sstr(expr).replace("**", "^")
    return text if len(text) <= 120 else text[:117] + "..."


RELATIONS: dict[str, Any] = {
    ">": sympy.StrictGreaterThan, ">=": sympy.GreaterThan,
    "<": sympy.StrictLessThan, "<=": sympy.LessThan, "=": sympy.Equality,
}
