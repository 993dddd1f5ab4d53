"""Reading whole answers (expression, big-O, comparison) into trees with exact values."""

from __future__ import annotations

from dataclasses import dataclass

from grader.checks.expressions.arithmetic import Arithmetic, Ratio, p_mul
from grader.checks.expressions.limits import MAX_LENGTH, ParseError, counted
from grader.checks.expressions.tokens import WHITESPACE, Token, tokenize, variable_names
from grader.checks.expressions.tree import Node, Parser


@dataclass(frozen=True)
class _Reading:
    """A parsed and evaluated expression: its tree, its exact value, and for a big-O answer the
    order it was wrapped in (O, Θ or Ω; empty for a bare count)."""

    tree: Node
    value: Ratio
    order: str = ""


def _tokens(text: str, variables: frozenset[str]) -> list[Token]:
    """Type and length checks, then the tokens."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the answer is too long ({len(text)} characters; "
                         f"at most {MAX_LENGTH})")
    if not text.strip(WHITESPACE):
        raise ParseError("the answer is empty")
    work = counted()
    if work is not None:
        work.characters += len(text)
    return tokenize(text, variables)


def _evaluate(tree: Node, arithmetic: Arithmetic, order: str = "") -> _Reading:
    """A tree with its exact value (which also finds divisions by zero)."""
    return _Reading(tree, arithmetic.evaluate(tree), order)


def read_expression(text: str, arithmetic: Arithmetic, variables: frozenset[str]) -> _Reading:
    """A plain expression; O(...) and comparisons are errors."""
    parser = Parser(_tokens(text, variables), "expression")
    tree = parser.parse_sum()
    parser.expect_end()
    return _evaluate(tree, arithmetic)


def read_big_o(text: str, arithmetic: Arithmetic, variables: frozenset[str],
                require_o: bool) -> _Reading:
    """`O(expression)` (or Θ, Ω), or a bare expression if `require_o` is False."""
    tokens = _tokens(text, variables)
    parser = Parser(tokens, "big_o")
    order = ""
    if tokens[0].kind == "O":
        opening = parser.advance()
        order = opening.text
        if parser.peek().kind != "(":
            raise ParseError(f"write big-O as {order}(...), with parentheses, at position {opening.pos}")
        tree = parser.parse_group(parser.advance())
        if parser.peek().kind != "end":
            raise ParseError(f"{order}(...) must wrap the whole answer, as in {order}(n^2 + m)")
    else:
        if require_o and not any(token.kind == "O" for token in tokens):
            raise ParseError("write it as O(...), e.g. O(n^2 + m)")
        tree = parser.parse_sum()
        parser.expect_end()
    return _evaluate(tree, arithmetic, order)


def read_comparison(text: str, arithmetic: Arithmetic,
                     variables: frozenset[str]) -> tuple[_Reading, str, _Reading]:
    """`lhs op rhs` with exactly one comparison operator."""
    parser = Parser(_tokens(text, variables), "comparison")
    left = parser.parse_sum()
    operator_token = parser.advance()
    if operator_token.kind == "end":
        raise ParseError("write a comparison such as m > n")
    if operator_token.kind != "cmp":
        raise parser.unexpected(operator_token)
    right = parser.parse_sum()
    following = parser.peek()
    if following.kind == "cmp":
        raise ParseError(f"write a single comparison; a second '{following.text}' is at "
                         f"position {following.pos}")
    parser.expect_end()
    return _evaluate(left, arithmetic), operator_token.text, _evaluate(right, arithmetic)


def dominant_terms(value: Ratio, arithmetic: Arithmetic) -> list[int]:
    """The dominant monomials of a big-O argument; ParseError if it is no valid bound."""
    names = variable_names(frozenset(arithmetic.names))
    if not arithmetic.is_polynomial(value):
        raise ParseError(f"use a polynomial in {names} inside O(...), without division by "
                         "a variable")
    if not value[0]:
        raise ParseError("O(0) is not a meaningful bound; use a polynomial such as O(1) or O(n)")
    dominant = arithmetic.dominant(value)
    # Only the dominant terms decide the growth, so O(n^2 - n) is fine but O(n - m) is not.
    if any(value[0][key] < 0 for key in dominant):
        raise ParseError(f"use a polynomial in {names} whose leading terms are positive")
    return dominant


def normalised_comparison(left: Ratio, op: str, right: Ratio,
                           arithmetic: Arithmetic) -> tuple[str, Ratio]:
    """(op, p) with p = lhs - rhs and op in >, >=, =; < and <= are flipped."""
    if op in ("<", "<="):
        return op.replace("<", ">"), arithmetic.subtract(right, left)
    return op, arithmetic.subtract(left, right)


def same_up_to_factor(a: Ratio, b: Ratio, positive: bool, arithmetic: Arithmetic) -> bool:
    """Whether a = c * b for a constant c (> 0 if `positive`, else != 0)."""
    top = p_mul(a[0], b[1], arithmetic.budget)
    bottom = p_mul(b[0], a[1], arithmetic.budget)
    if not bottom or not top:
        return not bottom and not top
    if top.keys() != bottom.keys():
        return False
    pivot = next(iter(bottom))
    scale_top, scale_bottom = top[pivot], bottom[pivot]
    if positive and (scale_top > 0) != (scale_bottom > 0):
        return False
    return all(top[key] * scale_bottom == bottom[key] * scale_top for key in bottom)
