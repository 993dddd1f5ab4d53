"""Safe reading and comparison of written answers that are math expressions in n and m.

Students type these strings into a YAML file, so they are hostile input: nothing here hands
them to eval, exec or any sympy string parser. A small tokenizer and recursive-descent parser
accept a whitelisted grammar and check every size bound while they build a tiny syntax tree,
before anything is computed. The meaning of a tree is then worked out in exact integer
polynomial arithmetic under a work budget (sympy's `expand` is far too slow on adversarial
products of sums), and sympy objects are built last: for callers of the `parse_*` functions
and for the "read as ..." part of the feedback.

Grammar: numbers (`3`, `2.5`, exact), the variables (single letters, default n and m),
`+ - * /`, `^` or `**` with a whole-number exponent of at most 10 in absolute value,
superscripts (`n²`, `n⁻¹`), `·` `⋅` `×` for multiplication, `−` (U+2212) for minus, `( )`,
implicit multiplication (`3mn`, `2n^2`, `n(m+1)`, `(n+1)(m+1)`), a big-O wrapper `O(...)`
around a whole answer (or `Θ(...)`, `Ω(...)`, also spelled `Theta`, `Omega`, `\\Theta`, `\\Omega`:
each is judged by its dominant terms, as O is), and one comparison `> < >= <= ≥ ≤ = ==` in
comparison answers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import sympy
from sympy.core.relational import Relational

from grader.checks.expressions.arithmetic import Arithmetic, Ratio
from grader.checks.expressions.display import RELATIONS, show, to_sympy
from grader.checks.expressions.limits import MAX_BITS as MAX_BITS
from grader.checks.expressions.limits import MAX_DECIMALS as MAX_DECIMALS
from grader.checks.expressions.limits import MAX_DEGREE as MAX_DEGREE
from grader.checks.expressions.limits import MAX_DEPTH as MAX_DEPTH
from grader.checks.expressions.limits import MAX_EXPONENT as MAX_EXPONENT
from grader.checks.expressions.limits import MAX_LENGTH as MAX_LENGTH
from grader.checks.expressions.limits import MAX_LITERAL as MAX_LITERAL
from grader.checks.expressions.limits import MAX_NODES as MAX_NODES
from grader.checks.expressions.limits import MAX_WORK, REFERENCE_WORK, Budget, ParseError, Work, metered
from grader.checks.expressions.reading import (
    dominant_terms,
    normalised_comparison,
    read_big_o,
    read_comparison,
    read_expression,
    same_up_to_factor,
)
from grader.checks.expressions.sizes import (
    Core,
    agrees_on_samples,
    domain_sign,
    proven_on_positive_integers,
    reference_core,
)
from grader.checks.expressions.tokens import check_variables, variable_names
from grader.errors import GraderError
from grader.outcome import Outcome

__all__ = [
    "DEFAULT_VARIABLES",
    "ParseError",
    "Work",
    "equal_big_o",
    "equal_comparisons",
    "equal_expressions",
    "metered",
    "parse_big_o",
    "parse_comparison",
    "parse_expression",
]

DEFAULT_VARIABLES: frozenset[str] = frozenset({"n", "m"})


# ---------------------------------------------------------------------------------------------
# Public parsing API


def parse_expression(text: str, variables: frozenset[str] = DEFAULT_VARIABLES) -> sympy.Expr:
    """A student's plain expression as a sympy expression (as written, not expanded)."""
    names = check_variables(variables)
    arithmetic = Arithmetic(names, Budget(MAX_WORK))
    return to_sympy(read_expression(text, arithmetic, names).tree)


def parse_big_o(text: str, variables: frozenset[str] = DEFAULT_VARIABLES,
                require_o: bool = True) -> sympy.Expr:
    """The dominant terms, with coefficient 1, of a student's `O(...)`: O(3n² + n) gives n**2."""
    names = check_variables(variables)
    arithmetic = Arithmetic(names, Budget(MAX_WORK))
    reading = read_big_o(text, arithmetic, names, require_o)
    dominant = dominant_terms(reading.value, arithmetic)
    return sympy.Add(*(arithmetic.monomial(key) for key in dominant))


def parse_comparison(text: str, variables: frozenset[str] = DEFAULT_VARIABLES) -> Relational:
    """A student's comparison such as `m > n` as an unevaluated sympy relation."""
    names = check_variables(variables)
    arithmetic = Arithmetic(names, Budget(MAX_WORK))
    left, op, right = read_comparison(text, arithmetic, names)
    return RELATIONS[op](to_sympy(left.tree), to_sympy(right.tree), evaluate=False)


# ---------------------------------------------------------------------------------------------
# Public comparison API


def _student_text(answer: object) -> str | Outcome:
    """The answer as text, or a zero outcome when YAML gave something that cannot be one."""
    if answer is None:
        return Outcome.zero("No answer was given (missing).")
    if isinstance(answer, bool):
        return Outcome.zero("Expected an expression as text, got true/false; put it in quotes.")
    if isinstance(answer, int):
        return str(answer)
    if isinstance(answer, float):
        text = str(answer)
        if not math.isfinite(answer) or "e" in text:
            return Outcome.zero("Could not read your answer as a number; write it as text in "
                                "quotes, e.g. '3*m*n'.")
        return text
    if isinstance(answer, str):
        return answer
    kind = "a list" if isinstance(answer, list) else (
        "a mapping" if isinstance(answer, dict) else type(answer).__name__)
    return Outcome.zero(f"Expected a single expression as text, got {kind}.")


def _could_not_read(what: str, error: ParseError) -> Outcome:
    """The zero outcome for an answer outside the grammar."""
    return Outcome.zero(f"Could not read your answer as {what}: {error}.")


def _reference_error(reference: Any, error: Exception) -> GraderError:
    """An instructor's reference that does not parse: a grader fault, not the student's."""
    return GraderError(f"invalid reference answer {str(reference)[:80]!r}: {error}")


def _reference_value(reference: str | sympy.Expr, read: Callable[[str, Arithmetic], Ratio],
                     names: frozenset[str]) -> tuple[Ratio, Arithmetic]:
    """The instructor's reference (text read by `read`, or sympy) as a value, with its own budget."""
    arithmetic = Arithmetic(names, Budget(REFERENCE_WORK, reference=True))
    try:
        value = read(reference, arithmetic) if isinstance(reference, str) else arithmetic.from_sympy(reference)
    except ParseError as error:
        raise _reference_error(reference, error) from error
    return value, arithmetic


# The reference's side of a comparison is the same for every submission: worked out once per
# process (sympy conversion and all), as `_reference_comparison` is. Nothing changes a Ratio in
# place (arithmetic.py builds new dicts), so the one kept can be shared.
@functools.lru_cache(maxsize=64)
def _expected_expression(reference: str | sympy.Expr, names: frozenset[str]) -> Ratio:
    """The value of a reference expression."""
    return _reference_value(reference, lambda text, arith: read_expression(text, arith, names).value, names)[0]


@functools.lru_cache(maxsize=64)
def _expected_dominant_terms(reference: str | sympy.Expr, names: frozenset[str]) -> frozenset[int]:
    """The dominant terms of a reference bound (or count)."""
    value, arithmetic = _reference_value(
        reference, lambda text, arith: read_big_o(text, arith, names, require_o=False).value, names)
    return frozenset(dominant_terms(value, arithmetic))


def equal_expressions(student: object, reference: str | sympy.Expr, *,
                      variables: frozenset[str] = DEFAULT_VARIABLES) -> Outcome:
    """Full marks if the student's expression equals the reference exactly (after expanding)."""
    names = check_variables(variables)
    expected = _expected_expression(reference, names)
    text = _student_text(student)
    if isinstance(text, Outcome):
        return text
    arithmetic = Arithmetic(names, Budget(MAX_WORK))
    try:
        reading = read_expression(text, arithmetic, names)
        equal = arithmetic.equal(reading.value, expected)
    except ParseError as error:
        return _could_not_read("an expression", error)
    if equal:
        return Outcome.full()
    return Outcome.zero(f"Not equal to the expected expression; your answer was read as "
                        f"{show(to_sympy(reading.tree))}.")


def equal_big_o(student: object, reference: str | sympy.Expr, *,
                variables: frozenset[str] = DEFAULT_VARIABLES) -> Outcome:
    """Full marks if the student's O(...) has the same dominant terms as the reference.

    The reference may be `O(...)`, a bare expression, or a sympy expression (then its own
    dominant terms count, so an exact count can serve as the reference of its big-O). So may
    the student's answer: the questions ask for a count and allow big O, so an exact count
    such as `n(n+1)/2` is read as if written O(n(n+1)/2), and the feedback says so.
    """
    names = check_variables(variables)
    expected = _expected_dominant_terms(reference, names)
    text = _student_text(student)
    if isinstance(text, Outcome):
        return text
    arithmetic = Arithmetic(names, Budget(MAX_WORK))
    try:
        reading = read_big_o(text, arithmetic, names, require_o=False)
        dominant = dominant_terms(reading.value, arithmetic)
    except ParseError as error:
        return _could_not_read("O(...) or a count", error)
    # A bare count passed read_big_o only if it has no O at all; O(...) must come first.
    order = reading.order or "O"
    # Only a few terms fit in the feedback; building a huge sympy sum would be slow for nothing.
    simplest = show(sympy.Add(*(arithmetic.monomial(key) for key in dominant[:8])))
    simplest = f"{order}({simplest}{' + ...' if len(dominant) > 8 else ''})"
    if set(dominant) == expected:
        return Outcome.full() if reading.order else Outcome.full(f"Correct (read as {simplest}).")
    shown = f"{order}({show(to_sympy(reading.tree))})"
    if simplest != shown:
        shown += f", that is {simplest}"
    return Outcome.zero(f"Not the expected bound; your answer was read as {shown}.")


@functools.lru_cache(maxsize=64)
def _reference_comparison(reference: str | Relational, names: frozenset[str]) -> tuple[
        tuple[str, Ratio], Core | None]:
    """A reference comparison normalised to (op, p), and its core on the positive integers."""
    arithmetic = Arithmetic(names, Budget(REFERENCE_WORK, reference=True))
    try:
        if isinstance(reference, str):
            ref_left, ref_op, ref_right = read_comparison(reference, arithmetic, names)
            expected = normalised_comparison(ref_left.value, ref_op, ref_right.value, arithmetic)
        elif isinstance(reference, Relational) and reference.rel_op in (*RELATIONS, "=="):
            expected = normalised_comparison(
                arithmetic.from_sympy(reference.lhs),
                "=" if reference.rel_op == "==" else reference.rel_op,
                arithmetic.from_sympy(reference.rhs), arithmetic,
            )
        else:
            raise GraderError(f"reference comparison {reference!r} is not a relation "
                              "such as m > n")
        return expected, reference_core(*expected, arithmetic)
    except ParseError as error:
        raise _reference_error(reference, error) from error


def equal_comparisons(student: object, reference: str | Relational, *,
                      variables: frozenset[str] = DEFAULT_VARIABLES,
                      positive_integers: bool = True) -> Outcome:
    """Full marks if the student's comparison means the same as the reference.

    Both are normalised to `p > 0`, `p >= 0` or `p = 0` with p = lhs - rhs. Equal if the two
    p agree up to a positive constant factor (any nonzero factor for `=`), which is the same
    meaning over the reals; with `positive_integers` (the variables are sizes 1, 2, 3, ...)
    also if a proof in sizes.py shows the same meaning on the positive integers (`m/n > 1`,
    `m^2 > n^2`, `m >= n + 1` all mean `m > n`).
    """
    names = check_variables(variables)
    expected, core = _reference_comparison(reference, names)
    text = _student_text(student)
    if isinstance(text, Outcome):
        return text
    arithmetic = Arithmetic(names, Budget(MAX_WORK))
    try:
        left, op, right = read_comparison(text, arithmetic, names)
        got_op, got = normalised_comparison(left.value, op, right.value, arithmetic)
        # For sizes, a denominator must be provably nonzero on them: (m-n)(m-2)/(m-2) > 0 is
        # m > n over the reals where defined, but undefined at m = 2.
        if positive_integers and domain_sign(got[1], arithmetic) == 0:
            divisor = show(sympy.Add(*(sympy.Rational(c.numerator, c.denominator) * arithmetic.monomial(key)
                                        for key, c in ((k, Fraction(v)) for k, v in got[1].items()))))
            return Outcome.zero(f"Your comparison divides by {divisor}, which is not shown to be nonzero for "
                                f"whole numbers {variable_names(names)} of at least 1: where it is 0 the "
                                "comparison means nothing, so it is not the expected condition.")
        if got_op == expected[0] and same_up_to_factor(
                got, expected[1], positive=got_op != "=", arithmetic=arithmetic):
            return Outcome.full()
        if positive_integers and core is not None:
            proof = Arithmetic(names, Budget(MAX_WORK))
            if (proven_on_positive_integers(got_op, got, core, proof)
                    and agrees_on_samples(got_op, got, expected, proof)):
                return Outcome.full(f"Correct (the same condition for whole numbers "
                                    f"{variable_names(names)} of at least 1).")
    except ParseError as error:
        return _could_not_read("a comparison", error)
    shown = f"{show(to_sympy(left.tree))} {op} {show(to_sympy(right.tree))}"
    return Outcome.zero(f"Not the expected comparison; your answer was read as {shown}.")
