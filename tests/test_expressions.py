"""Tests of the safe reader and comparator of written math answers (grader.checks.expressions)."""

from __future__ import annotations

import builtins
import functools
import random
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
import sympy.parsing.sympy_parser

from grader.checks import expressions
from grader.checks.expressions import (
    ParseError,
    Work,
    equal_big_o,
    equal_comparisons,
    equal_expressions,
    metered,
    parse_big_o,
    parse_comparison,
    parse_expression,
)
from grader.errors import GraderError
from grader.kit.expression_syntax import expression_problem
from grader.outcome import Outcome

n, m = sympy.symbols("n m")


def work_of(call: Callable[[], object]) -> Work:
    """The work one call does, counted in the units the limits bound (not timed: seconds say
    more about the machine than about the code, and belong to the benchmark)."""
    with metered() as work:
        try:
            call()
        except ParseError:
            pass
    return work


def within_the_bounds(work: Work) -> bool:
    """One student answer's work: one text scanned, one tree, at most two budgets (reading, and
    the proof of a comparison over the sizes), and a feedback of a tree and a few monomials."""
    return (work.characters <= expressions.MAX_LENGTH and work.nodes <= expressions.MAX_NODES
            and work.budgets <= 2 and work.operations <= work.budgets * expressions.MAX_WORK
            and work.shown <= expressions.MAX_NODES + 8)


def expands_to(text: str, expected: sympy.Expr) -> bool:
    """Whether the parsed text equals `expected` once expanded."""
    return sympy.expand(parse_expression(text) - expected) == 0


# --- exact counts --------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "3mn", "3*n*m", "3 m n", "m*n*3", "3·m·n", "3×m×n", "3 * m * n", "(3m)n", "3nm",
    "1.5*2mn", "6mn/2", "3*m**1*n", "  3mn  ", "3m(n)", "+3mn", "--3mn", "3⋅m⋅n",
])
def test_equivalent_notations_of_an_exact_count_pass(answer: str) -> None:
    assert equal_expressions(answer, "3*m*n").passed
    assert equal_expressions(answer, 3 * m * n).passed


@pytest.mark.parametrize(("first", "second"), [
    ("2mn+m", "m(2n+1)"),
    ("(n+1)(m+1)", "nm + n + m + 1"),
    ("n²+2n+1", "(n+1)^2"),
    ("n**2 m", "m n^2"),
    ("0.5n(n-1)", "n(n-1)/2"),
    ("n¹⁰", "n^10"),
    ("n^-1 * n^2", "n"),
    ("n⁻¹n²", "n"),
    ("−n + 2n", "n"),
    ("2n^2 + mn", "n(2n + m)"),
    ("n*n + n + m*n", "n(n + 1 + m)"),
    ("(n^2)^3", "n^6"),
    ("n/2*m", "(1/2)nm"),
    ("1/(n+1) + 1/(n+1)", "2/(n+1)"),
])
def test_factored_and_expanded_forms_are_equal(first: str, second: str) -> None:
    assert equal_expressions(first, second).passed
    assert equal_expressions(second, first).passed


@pytest.mark.parametrize("answer", ["3mn + m", "3m", "mn", "3n^2", "3m+n", "3m n n", "2mn"])
def test_wrong_counts_fail(answer: str) -> None:
    outcome = equal_expressions(answer, "3*m*n")
    assert outcome.fraction == 0.0
    assert "read as" in outcome.feedback


def test_wrong_count_feedback_shows_how_the_answer_was_read() -> None:
    outcome = equal_expressions("3 m n + m", "2*m*n")
    assert "read as 3*m*n + m" in outcome.feedback


def test_a_correct_count_gets_full_marks() -> None:
    assert equal_expressions("2n^2 + mn", 2 * n * n + m * n) == Outcome.full()


def test_numbers_are_exact_rationals_not_floats() -> None:
    parsed = parse_expression("2.5n + 0.1")
    assert parsed == sympy.Rational(5, 2) * n + sympy.Rational(1, 10)
    assert not parsed.atoms(sympy.Float)


def test_implicit_multiplication_reads_each_letter_as_a_variable() -> None:
    assert parse_expression("mn") == m * n
    assert parse_expression("nmn") == m * n**2
    assert expands_to("(n+1)(m+1)", (n + 1) * (m + 1))
    assert expands_to("n(m+1)", n * m + n)
    assert parse_expression("2n^2") == 2 * n**2


@pytest.mark.parametrize(("text", "expected"), [
    ("-n^2", -(n**2)),
    ("-2^2", sympy.Integer(-4)),
    ("(-2)^2", sympy.Integer(4)),
    ("2^3n", 8 * n),
    ("n*-m", -n * m),
    ("n/-2", -n / 2),
    ("n^+2", n**2),
    ("2^-3", sympy.Rational(1, 8)),
    ("n^(-2)", n**-2),
    ("n - -m", n + m),
    ("n ** 2", n**2),
    ("n ^ 2", n**2),
])
def test_operator_precedence_and_signs(text: str, expected: sympy.Expr) -> None:
    assert expands_to(text, expected)


def test_variables_are_a_parameter() -> None:
    x, y = sympy.symbols("x y")
    assert parse_expression("3xy", frozenset({"x", "y"})) == 3 * x * y
    with pytest.raises(ParseError, match="only variables are x and y"):
        parse_expression("3mn", frozenset({"x", "y"}))
    assert equal_expressions("2xy", "2*y*x", variables=frozenset({"x", "y"})).passed


def test_variables_must_be_single_letters() -> None:
    with pytest.raises(ValueError, match="single ASCII letters"):
        parse_expression("n", frozenset({"nm"}))


# --- parse errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "fragment"), [
    ("n $ m", "'$' at position 3"),
    ("n\x00", "U+0000 at position 2"),
    ("１n", "U+FF11"),
    ("3x", "unknown name 'x' at position 2"),
    ("n + (m", "missing ')' for the '(' at position 5"),
    ("n)", "unexpected ')' at position 2"),
    ("[n]", "'[' at position 1"),
    ("n = 3", "'=' at position 3"),
    ("n > 3", "not a comparison"),
    ("1/2n", "ambiguous"),
    ("n2", "unexpected number at position 2"),
    ("(n+1)2", "unexpected number at position 6"),
    ("n^", "exponent is missing"),
    ("n +", "missing after '+'"),
    ("", "empty"),
    ("   ", "empty"),
    ("()", "empty parentheses"),
    ("*n", "unexpected '*' at position 1"),
    ("1,000", "without commas"),
    ("1.", "a digit must follow"),
    (".5", "write numbers like 0.5"),
    ("o(n)", "capital O"),
    ("O(n)", "not a big-O bound"),
    ("1/0", "division by zero"),
    ("1/(n(n+1) - n^2 - n)", "division by zero"),
    ("0^-1", "division by zero"),
    ("n^n", "whole number"),
    ("n^2.5", "whole number"),
    ("n^2^3", "needs parentheses"),
])
def test_parse_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_expression(text)
    assert fragment in str(caught.value)


def test_exponents_are_bounded_integer_literals() -> None:
    assert parse_expression("n^10") == n**10
    assert parse_expression("n^-10") == n**-10
    assert parse_expression("n¹⁰") == n**10
    for text in ["n^11", "n^-11", "n¹¹", "n^99999999", "2^(3)^4"]:
        with pytest.raises(ParseError):
            parse_expression(text)
    with pytest.raises(ParseError, match="too large"):
        parse_expression("n^11")


def test_size_limits() -> None:
    with pytest.raises(ParseError, match="too long"):
        parse_expression("n" + "+n" * 100)
    assert parse_expression("(" * 20 + "n" + ")" * 20) == n
    with pytest.raises(ParseError, match="nested"):
        parse_expression("(" * 21 + "n" + ")" * 21)
    assert parse_expression(str(10**12)) == 10**12
    with pytest.raises(ParseError, match="too large"):
        parse_expression(str(10**12 + 1))
    with pytest.raises(ParseError, match="decimal places"):
        parse_expression("0.0000000000001")
    assert expands_to("(n+m)^10(n+m)^10", (n + m) ** 20)
    with pytest.raises(ParseError, match="degree"):
        parse_expression("(n+m)^10(n+m)^10 n")
    with pytest.raises(ParseError, match="grow too large"):
        parse_expression("((999999999999^10)^10)")


def test_node_count_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions.tree, "MAX_NODES", 10)  # where the parser reads it
    assert parse_expression("+".join(["n"] * 9)) == 9 * n
    with pytest.raises(ParseError, match="too long"):
        parse_expression("+".join(["n"] * 10))


def test_arithmetic_work_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions, "MAX_WORK", 100)
    with pytest.raises(ParseError, match="too large to work out"):
        parse_expression("(n+m+1)^10")


# --- big-O -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "reference"), [
    ("O(n^2 + n)", "O(n^2)"),
    ("O(3n²)", "O(n^2)"),
    ("O(n^2)", "O(n^2 + n)"),
    ("O(nm + m)", "O(mn)"),
    ("O(n^2 - n)", "O(n^2)"),
    ("O(7)", "O(1)"),
    ("O(n^2 + mn + n + m + 1)", "O(n^2 + mn)"),
    ("O((n+1)(m+1))", "O(mn)"),
    (" O ( n m ) ", "O(mn)"),
    ("O(n^2 m + n m^2 + nm)", "O(n^2 m + m^2 n)"),
])
def test_big_o_with_the_same_dominant_terms_pass(answer: str, reference: str) -> None:
    assert equal_big_o(answer, reference).passed


@pytest.mark.parametrize(("answer", "reference"), [
    ("O(n^2 + mn)", "O(n^2)"),
    ("O(n)", "O(n^2)"),
    ("O(n^2)", "O(n^2 + mn)"),
    ("O(1)", "O(n)"),
    ("O(m)", "O(n)"),
    ("O(n^3)", "O(n^2 m)"),
])
def test_big_o_with_other_dominant_terms_fail(answer: str, reference: str) -> None:
    outcome = equal_big_o(answer, reference)
    assert outcome.fraction == 0.0
    assert "read as O(" in outcome.feedback


# Θ and Ω answer "what is the order" as well as O: the same dominant terms decide.
ORDERS = ["Θ", "Ω", "Theta", "Omega", "\\Theta", "\\Omega", "ϴ", "\u2126"]


@pytest.mark.parametrize("order", ORDERS)
def test_theta_and_omega_with_the_right_order_pass(order: str) -> None:
    for answer in (f"{order}(n^2)", f"{order}(n^2 + n)", f" {order} ( 3n² ) "):
        outcome = equal_big_o(answer, "O(n^2)")
        assert outcome.passed and outcome.feedback == "Correct.", (answer, outcome.feedback)
        assert parse_big_o(answer) == n**2
        assert expression_problem(answer, "big_o", ["m", "n"]) is None, answer  # the kit agrees


@pytest.mark.parametrize("order", ORDERS)
def test_theta_and_omega_with_another_order_score_zero(order: str) -> None:
    symbol = "Θ" if "heta" in order or order in ("Θ", "ϴ") else "Ω"
    for answer, read in ((f"{order}(n^3)", "n^3"), (f"{order}(n)", "n"), (f"{order}(1)", "1"),
                         (f"{order}(mn)", "m*n")):
        outcome = equal_big_o(answer, "O(n^2)")
        assert outcome.fraction == 0.0 and f"read as {symbol}({read})" in outcome.feedback, outcome.feedback


@pytest.mark.parametrize(("answer", "fragment"), [
    ("θ(n^2)", "big-Theta is a capital"),
    ("theta(n^2)", "write Theta, with a capital"),
    ("ω(n^2)", "little-omega is not accepted"),
    ("n Θ(n)", "Θ(...) must wrap the whole answer"),
    ("Ω(n^2) + 1", "Ω(...) must wrap the whole answer"),
    ("Θ n^2", "write big-O as Θ(...), with parentheses"),
    ("\\Thetan(n)", "'\\'"),
    ("\\mathcal{O}(n)", "'\\'"),
])
def test_misspelt_or_misplaced_orders_are_clear_errors(answer: str, fragment: str) -> None:
    outcome = equal_big_o(answer, "O(n^2)")
    assert outcome.fraction == 0.0 and fragment in outcome.feedback, outcome.feedback
    assert expression_problem(answer, "big_o", ["m", "n"]) is not None, answer


def test_an_order_is_no_count_and_no_comparison() -> None:
    assert "Θ(...) at position 1: write the exact expression" in equal_expressions("Θ(mn)", "m*n").feedback
    assert "Ω(...) at position 1 is not allowed" in equal_comparisons("Ω(m) > n", "m > n").feedback
    assert "Θ(...) at position 1: write the exact expression" in (
        expression_problem("Theta(mn)", "expression", ["m", "n"]) or "")


def test_big_o_feedback_shows_the_simplified_reading() -> None:
    outcome = equal_big_o("O(3n^2 + n)", "O(mn)")
    assert "that is O(n^2)" in outcome.feedback


def test_parse_big_o_returns_the_dominant_terms() -> None:
    assert parse_big_o("O(3n^2 + n + mn)") == n**2 + m * n
    assert parse_big_o("O(5)") == 1
    assert parse_big_o("O(n^2 m + n m^2 + n^2)") == n**2 * m + n * m**2


def test_big_o_requires_the_wrapper_unless_told_otherwise() -> None:
    with pytest.raises(ParseError, match=r"write it as O\(\.\.\.\)"):
        parse_big_o("n^2")
    assert parse_big_o("n^2 + n", require_o=False) == n**2
    for text in ["3 O(n)", "O(n) + 1", "O(O(n))", "O(n)(m)"]:
        with pytest.raises(ParseError, match="wrap the whole answer"):
            parse_big_o(text)


@pytest.mark.parametrize("answer", ["O(n/m)", "O(1/n)", "O(n - m)", "O(0)", "O(-n)", "O(n^-1)"])
def test_big_o_of_a_non_polynomial_or_negative_growth_is_a_clear_zero(answer: str) -> None:
    outcome = equal_big_o(answer, "O(n)")
    assert outcome.fraction == 0.0
    assert "Could not read your answer" in outcome.feedback
    assert "polynomial" in outcome.feedback


def test_big_o_reference_can_be_an_exact_sympy_count() -> None:
    assert equal_big_o("O(n^2 + mn)", 2 * n * n + m * n).passed
    assert not equal_big_o("O(n^2)", 2 * n * n + m * n).passed


def test_sympy_order_is_refused_as_a_reference() -> None:
    # sympy.O is about n -> 0, where O(n^2 + n) is O(n): the opposite of what is meant.
    with pytest.raises(GraderError):
        equal_big_o("O(n)", sympy.O(n**2))


# --- comparisons -----------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["m > n", "n < m", "m - n > 0", "2m > 2n", "0 < m - n",
                                    "m>n", "m + 1 > n + 1", "-n > -m"])
def test_comparisons_with_the_same_meaning_pass(answer: str) -> None:
    assert equal_comparisons(answer, "m > n").passed
    assert equal_comparisons(answer, sympy.Gt(m, n)).passed


@pytest.mark.parametrize("answer", ["m >= n", "n > m", "m > 2n", "m < n", "m = n", "n ≥ m",
                                    "m > n + 1"])
def test_comparisons_with_another_meaning_fail(answer: str) -> None:
    outcome = equal_comparisons(answer, "m > n")
    assert outcome.fraction == 0.0
    assert "read as" in outcome.feedback


def test_non_strict_and_equality_comparisons() -> None:
    assert equal_comparisons("n ≤ m", "m >= n").passed
    assert equal_comparisons("n <= m", sympy.Ge(m, n)).passed
    assert equal_comparisons("2n = 2m", "m == n").passed
    assert equal_comparisons("n - m = 0", sympy.Eq(m, n)).passed
    assert not equal_comparisons("m > n", "m >= n").passed


def test_parse_comparison_keeps_the_relation_unevaluated() -> None:
    assert parse_comparison("n < m") == sympy.Lt(n, m)
    assert isinstance(parse_comparison("m ≥ n"), sympy.GreaterThan)
    assert isinstance(parse_comparison("2 > 1"), sympy.core.relational.Relational)
    assert isinstance(parse_comparison("n > n"), sympy.core.relational.Relational)


@pytest.mark.parametrize(("text", "fragment"), [
    ("m", "write a comparison"),
    ("m > n > 1", "single comparison"),
    ("m => n", "write >= instead of =>"),
    ("> n", "unexpected '>'"),
    ("O(n) > m", "not allowed in a comparison"),
])
def test_malformed_comparisons_are_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_comparison(text)
    assert fragment in str(caught.value)


# --- answers of the wrong type, references, feedback ------------------------------------------


def test_non_string_answers_are_handled() -> None:
    assert "missing" in equal_expressions(None, "5").feedback
    assert equal_expressions(5, "5").passed
    assert equal_expressions(5, 5).passed
    assert equal_expressions(2.5, "5/2").passed
    assert equal_expressions(True, "1").fraction == 0.0
    assert "list" in equal_expressions([1, 2], "3").feedback
    assert "mapping" in equal_expressions({"a": 1}, "3").feedback
    assert equal_expressions(1e20, "3").fraction == 0.0
    assert equal_expressions(float("nan"), "3").fraction == 0.0
    assert "missing" in equal_big_o(None, "O(n)").feedback
    assert equal_comparisons(5, "m > n").fraction == 0.0


def test_an_invalid_reference_is_a_grader_error_not_a_student_fault() -> None:
    with pytest.raises(GraderError):
        equal_expressions("n", "n +")
    with pytest.raises(GraderError):
        equal_comparisons("m > n", "m")
    with pytest.raises(GraderError):
        equal_expressions("n", sympy.Symbol("x"))
    with pytest.raises(GraderError):
        equal_expressions("n", sympy.sqrt(n))


@pytest.mark.parametrize("answer", ["n", "5m", "7mn + 12", "", None, "7*m*n +", "$", [1],
                                    "O(n)", "m > n"])
def test_feedback_never_contains_the_reference(answer: object) -> None:
    outcome = equal_expressions(answer, "7*m*n + 13")
    assert outcome.fraction == 0.0
    assert "13" not in outcome.feedback
    big_o = equal_big_o(answer, "O(n^7 + m^3)")
    # A bare count such as 7mn + 12 is read as O(7*m*n + 12): its 7 is the student's own.
    assert "n^7" not in big_o.feedback and "n**7" not in big_o.feedback
    assert "m^3" not in big_o.feedback
    comparison = equal_comparisons(answer, "m >= 9n")
    assert "9" not in comparison.feedback


# --- hostile input ---------------------------------------------------------------------------

def parse_bare_big_o(text: str) -> sympy.Expr:
    """parse_big_o that also accepts an answer without O(...)."""
    return parse_big_o(text, require_o=False)


NASTY = [
    "9**9**9**9",
    "9^9^9^9",
    "(" * 10_000 + "n" + ")" * 10_000,
    "(" * 100 + "n" + ")" * 99,
    "n" * 100_000,
    "1" * 100_000,
    "1" * 199,
    "n^99999999",
    "n^(n^n)",
    "n^-99",
    "((n^10)^10)^10",
    "(((2^10)^10)^10)^10",
    "__import__('os').system('x')",
    "lambda: 0",
    "n.__class__",
    "n.__class__.__mro__",
    "exec",
    "eval('1')",
    "exec('import os')",
    "globals()",
    "\x00",
    "n\x00m",
    "１２３",
    "ｎ",
    "𝑛",
    "n\u202e+m",
    "n\u200bm",
    "n²⁰⁰",
    "999999999999999999999",
    "0." + "0" * 150 + "1",
    "O(" * 60,
    "n" + "+" * 150,
    "Symbol('n')",
    "sympy.sqrt(2)",
    "n if 1 else m",
    "[n for n in ()]",
    "\\mathcal{O}(n)",
    "n; import os",
    "n # comment",
    "'n'",
    "n\\",
    "1e400",
]


@pytest.mark.parametrize("text", NASTY, ids=lambda text: repr(text[:30]))
def test_nasty_strings_are_rejected_before_any_arithmetic(text: str) -> None:
    for parse in (parse_expression, parse_comparison, parse_bare_big_o, parse_big_o):
        with pytest.raises(ParseError):
            parse(text)
        work = work_of(functools.partial(parse, text))
        assert within_the_bounds(work), work
        # Scanned at most once, and not at all past the length limit; refused by the tree's
        # bounds (or earlier) before a single monomial is multiplied.
        assert work.characters == 0 if len(text) > expressions.MAX_LENGTH else work.characters <= len(text)
        assert work.operations == 0 and work.shown == 0, work


@pytest.mark.parametrize("text", NASTY, ids=lambda text: repr(text[:30]))
def test_comparators_turn_nasty_strings_into_zero_outcomes(text: str) -> None:
    for outcome in (equal_expressions(text, "n"), equal_big_o(text, "O(n)"),
                    equal_comparisons(text, "m > n")):
        assert outcome.fraction == 0.0
        assert outcome.feedback.startswith("Could not read your answer")
        assert len(outcome.feedback) < 400


def test_injection_attempts_are_parse_errors_and_run_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {target}')",
        f"open('{target}', 'w').write('x')",
        f"__import__('pathlib').Path('{target}').touch()",
        f"exec(\"open('{target}', 'w')\")",
        f"(lambda: open('{target}', 'w'))()",
    ]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("student text reached eval, exec or a sympy string parser")

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "eval", forbidden)
        patch.setattr(builtins, "exec", forbidden)
        patch.setattr(sympy.parsing.sympy_parser, "parse_expr", forbidden)
        for payload in payloads:
            for parse in (parse_expression, parse_big_o, parse_comparison):
                with pytest.raises(ParseError):
                    parse(payload)
            assert equal_expressions(payload, "n").fraction == 0.0
        # Valid answers go through the same guarded path without touching any of them.
        assert equal_expressions("3mn", "3*m*n").passed
        assert equal_big_o("O(n^2 + n)", "O(n^2)").passed
        assert equal_comparisons("n < m", "m > n").passed
    assert not target.exists()


HEAVY_VALID = [
    "+".join(f"(n+m+{i})^10(n+{i}m+1)^10" for i in range(1, 9))[:170],
    "".join(f"(n+m+{i})" for i in range(1, 21)),
    "+".join(f"1/(n+{i})" for i in range(1, 21)),
    "+".join(f"1/(n+m+{i})^5" for i in range(1, 5)),
    "(n^2+m^2+nm+n+m+1)^10",
    "((n+m+1)^10+(n+m+2)^10)((n+m+3)^10+(n+m+4)^10)",
    "(1/(n+m+1)+1/(n+m+2))^10",
    "-" * 195 + "n",
    "(999999999999^10)^9",
]


@pytest.mark.parametrize("text", HEAVY_VALID, ids=lambda text: repr(text[:30]))
def test_worst_case_valid_answers_stay_within_their_work_bounds(text: str) -> None:
    assert len(text) <= expressions.MAX_LENGTH
    # sympy references: no reference text is scanned, so the counts are the student's alone.
    for call in (lambda: equal_expressions(text, 3 * m * n), lambda: equal_big_o(f"O({text})", n**2),
                 lambda: equal_comparisons(f"{text} > n", sympy.Gt(m, n))):
        work = work_of(call)
        assert within_the_bounds(work), work


def test_the_work_budget_is_what_bounds_the_heaviest_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The grammar's bounds let a valid answer come close to the budget (so the budget, not luck,
    # is the bound), and an answer that needs more than the budget is refused, not worked out.
    heaviest = "+".join(f"(n+m+{i})^10(n+m+{i + 1})^10" for i in range(1, 18, 2))
    assert len(heaviest) <= expressions.MAX_LENGTH
    spent = work_of(lambda: equal_expressions(heaviest, 3 * m * n)).operations
    assert expressions.MAX_WORK // 2 < spent <= expressions.MAX_WORK
    monkeypatch.setattr(expressions, "MAX_WORK", spent - 1)
    assert "too large to work out" in equal_expressions(heaviest, 3 * m * n).feedback
    assert work_of(lambda: equal_expressions(heaviest, 3 * m * n)).operations < spent


def test_work_is_counted_only_when_asked() -> None:
    assert expressions.limits.counted() is None
    with metered() as outer:
        parse_expression("n + m")
        with metered() as inner:
            parse_expression("n")
    assert (inner.characters, inner.nodes) == (1, 1)
    assert (outer.characters, outer.nodes) == (5, 3)
    # A reference is worked out once per process (its work counted then), not for every answer.
    expressions._expected_expression.cache_clear()
    assert work_of(lambda: equal_expressions("3mn", "3*m*n")).reference_operations > 0
    assert work_of(lambda: equal_expressions("3nm", "3*m*n")).reference_operations == 0


def test_random_strings_raise_nothing_but_parse_error() -> None:
    rng = random.Random(1234)
    alphabet = [*"nm0123456789.+-*/^()O<>= ²³⁻·×x_'[]", "**", ">=", "O("]
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        for parse in (parse_expression, parse_big_o, parse_comparison):
            try:
                parse(text)
            except ParseError:
                pass
        for outcome in (equal_expressions(text, "n"), equal_big_o(text, "O(n)"),
                        equal_comparisons(text, "m > n")):
            assert isinstance(outcome, Outcome)


# --- property: random polynomials in several notations ---------------------------------------

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

# name: (power style, factor separator, coefficient written last)
_NOTATIONS = {
    "explicit": ("caret", "*", False),
    "stars": ("stars", " * ", False),
    "reversed": ("caret", "*", True),
    "implicit": ("caret", "", False),
    "superscript": ("super", "", False),
    "spaced": ("caret", " ", False),
    "dot": ("caret", "·", False),
    "times": ("stars", "×", False),
    "repeated": ("repeat", "", False),
}


def _format_power(name: str, exponent: int, style: str) -> str:
    """`name` to the power `exponent` in one notation."""
    if exponent == 1:
        return name
    if style == "caret":
        return f"{name}^{exponent}"
    if style == "stars":
        return f"{name}**{exponent}"
    if style == "super":
        return name + str(exponent).translate(_SUPERSCRIPTS)
    return name * exponent


def _format_coefficient(value: Fraction) -> str:
    """A positive coefficient as an integer or a decimal."""
    if value.denominator == 1:
        return str(value.numerator)
    return str(float(value))  # halves and quarters are exact decimals


def _format_polynomial(terms: dict[tuple[int, int], Fraction], notation: str) -> str:
    """The polynomial sum(c * n^a * m^b) written in one notation."""
    style, separator, coefficient_last = _NOTATIONS[notation]
    pieces = []
    for (a, b), coefficient in terms.items():
        factors = [_format_power(name, k, style) for name, k in (("n", a), ("m", b)) if k]
        magnitude = abs(coefficient)
        if magnitude != 1 or not factors:
            number = _format_coefficient(magnitude)
            factors = [*factors, number] if coefficient_last else [number, *factors]
        sign = "-" if coefficient < 0 else "+"
        pieces.append(f" {sign} {separator.join(factors)}")
    text = "".join(pieces).strip()
    return text[2:] if text.startswith("+ ") else text


def _random_terms(rng: random.Random, positive: bool = False) -> dict[tuple[int, int], Fraction]:
    """A random small polynomial as {(exponent of n, exponent of m): coefficient}."""
    terms: dict[tuple[int, int], Fraction] = {}
    for _ in range(rng.randint(1, 5)):
        coefficient = Fraction(rng.randint(1, 40), rng.choice([1, 1, 1, 2, 4]))
        if not positive and rng.random() < 0.4:
            coefficient = -coefficient
        terms[(rng.randint(0, 3), rng.randint(0, 3))] = coefficient
    return terms


def _as_sympy(terms: dict[tuple[int, int], Fraction]) -> sympy.Expr:
    """The polynomial as a sympy expression."""
    return sympy.Add(*(sympy.Rational(c.numerator, c.denominator) * n**a * m**b
                       for (a, b), c in terms.items()))


def test_random_polynomials_in_any_notation_parse_back_equal() -> None:
    rng = random.Random(2024)
    for _ in range(150):
        terms = _random_terms(rng)
        expected = _as_sympy(terms)
        texts = [_format_polynomial(terms, notation) for notation in _NOTATIONS]
        for text in texts:
            assert sympy.expand(parse_expression(text) - expected) == 0, text
            assert equal_expressions(text, expected).passed, text
            assert equal_expressions(text, texts[0]).passed, text
        changed = dict(terms)
        key = next(iter(changed))
        changed[key] += 1
        assert not equal_expressions(_format_polynomial(changed, "implicit"), expected).passed


def test_random_polynomials_have_the_brute_force_dominant_terms() -> None:
    rng = random.Random(7)
    for _ in range(150):
        terms = _random_terms(rng, positive=True)
        monomials = set(terms)
        dominant = {
            (a, b) for a, b in monomials
            if not any((c, d) != (a, b) and c >= a and d >= b for c, d in monomials)
        }
        expected = sympy.Add(*(n**a * m**b for a, b in dominant))
        for notation in ("explicit", "superscript", "spaced"):
            text = f"O({_format_polynomial(terms, notation)})"
            assert parse_big_o(text) == expected, text
            assert equal_big_o(text, expected).passed, text


# --- big-O fields answered with an exact count --------------------------------------------------


@pytest.mark.parametrize("answer", ["n^2", "n(n+1)/2", "n**2 + n", "3n²", "n*n", "2n^2 - n"])
def test_an_exact_count_is_read_as_its_big_o(answer: str) -> None:
    # The question asks for "the number ... You may use big O": a count is a right answer.
    outcome = equal_big_o(answer, "O(n^2)")
    assert outcome.passed, outcome.feedback
    assert outcome.feedback == "Correct (read as O(n^2))."


@pytest.mark.parametrize("answer", ["n^3", "n", "n(n+1)(n+2)/6", "mn", "n^2 m", "1"])
def test_an_exact_count_of_the_wrong_order_scores_zero(answer: str) -> None:
    outcome = equal_big_o(answer, "O(n^2)")
    assert outcome.fraction == 0.0
    assert "read as O(" in outcome.feedback


def test_a_wrapped_answer_keeps_the_plain_feedback() -> None:
    assert equal_big_o("O(n^2)", "O(n^2)").feedback == "Correct."
    for text in ["n^2 + O(n)", "O(n) n", "n - n^2"]:
        assert equal_big_o(text, "O(n^2)").feedback.startswith("Could not read your answer")


# --- comparisons over the sizes n, m >= 1 ---------------------------------------------------------

# Each means m > n when n and m are positive whole numbers, but is not a positive multiple of
# m - n > 0, so the test over the reals alone refuses it.
EQUIVALENT_ON_SIZES = [
    "m/n > 1", "n/m < 1", "1/n > 1/m", "m^2 > n^2", "m^3 > n^3", "2n^2+mn < 3mn",
    "n^2+n+mn < 2mn+m", "n^2 + n + mn < 2mn + m", "m >= n+1", "m - n >= 1", "n + 1 <= m",
    "m > n + 0.5", "2m >= 2n + 1", "m(m-n) > 0", "(m-n)(n+m-1) > 0", "(m - n)^3 > 0",
    "m/(n+1) > n/(n+1)", "(m-n)/(n m) > 0", "m - n > 0.99",
]
# Each is false for some sizes with m > n, or true for some with m <= n (or is no comparison
# that holds anywhere the reference does).
NOT_EQUIVALENT_ON_SIZES = [
    "m >= n", "n > m", "m > 2n", "m = n", "m > n + 1", "m >= n + 2", "m > n - 1", "m >= n - 0.5",
    "m - n >= 0", "m^2 >= n^2", "(m - n)^2 > 0", "(m-n)(m-2n)^2 > 0", "(m-n)(n-2) > 0",
    "m/n >= 1", "1/(m-n) > 0", "n >= m + 1", "m > n^2", "mn > n^2 + n", "m + n > 2n + 1",
    "1 > 0", "0 > 1", "n - n > 0", "m^2 = n^2", "m n > n^2 - 1", "-m > -n",
]


def _holds_everywhere_like_m_greater_than_n(text: str, size: int = 16) -> bool:
    """Brute force, for the test only: the relation at every n, m in 1..size is m > n."""
    relation = parse_comparison(text)
    for a in range(1, size + 1):
        for b in range(1, size + 1):
            try:
                value = relation.subs({n: a, m: b})
            except (ZeroDivisionError, TypeError):  # undefined there, e.g. 1/(m - n) at m = n
                return False
            if value not in (sympy.true, sympy.false) or bool(value) != (b > a):
                return False
    return True


@pytest.mark.parametrize("answer", EQUIVALENT_ON_SIZES)
def test_comparisons_equivalent_on_positive_sizes_pass(answer: str) -> None:
    outcome = equal_comparisons(answer, "m > n")
    assert outcome.passed, outcome.feedback
    assert equal_comparisons(answer, sympy.Gt(m, n)).passed
    assert _holds_everywhere_like_m_greater_than_n(answer)


@pytest.mark.parametrize("answer", NOT_EQUIVALENT_ON_SIZES)
def test_comparisons_not_equivalent_on_positive_sizes_fail(answer: str) -> None:
    outcome = equal_comparisons(answer, "m > n")
    assert outcome.fraction == 0.0, answer
    assert "read as" in outcome.feedback or "divides by" in outcome.feedback
    assert not _holds_everywhere_like_m_greater_than_n(answer)


@pytest.mark.parametrize(("answer", "divisor"), [
    ("(m-n)*(m-2)/(m-2) > 0", "m - 2"),  # m > n wherever it is defined, but 0/0 at m = 2
    ("m/(n-1) > 1/(n-1)", "n - 1"),
    ("1/(m-n) > 0", "-m + n"),
])
def test_a_divisor_that_may_be_zero_on_sizes_is_never_the_same_condition(answer: str, divisor: str) -> None:
    outcome = equal_comparisons(answer, "m > n")
    assert outcome.fraction == 0.0
    assert f"divides by {divisor}" in outcome.feedback
    assert equal_comparisons("(m - n)/(n + 1) > 0", "m > n").passed  # n + 1 is never 0 on sizes


def test_the_real_number_test_alone_refuses_the_size_only_forms() -> None:
    # Without positive_integers the comparator is the old one: these forms would score 0.
    for answer in ("m/n > 1", "m^2 > n^2", "2n^2+mn < 3mn", "m >= n+1"):
        assert not equal_comparisons(answer, "m > n", positive_integers=False).passed


def test_size_proofs_follow_the_reference_relation() -> None:
    assert equal_comparisons("m > n - 1", "m >= n").passed  # m - n > -1 is m - n >= 0
    assert equal_comparisons("m^2 >= n^2", "m >= n").passed
    assert not equal_comparisons("m^2 > n^2", "m >= n").passed
    assert equal_comparisons("m^2 = n^2", "m = n").passed
    assert not equal_comparisons("m^2 = n^2", "m > n").passed
    assert equal_comparisons("m >= 9n + 1", "m > 9n").passed
    assert not equal_comparisons("m >= 9n", "m > 9n").passed


def test_random_comparisons_are_accepted_only_when_right_on_every_size() -> None:
    # Soundness: whatever the proofs accept agrees with m > n on a 16 x 16 grid of sizes.
    rng = random.Random(11)
    factors = ["(n+1)", "(m+n)", "m n", "(m+n+1)^2", "2", "(n+1)/(m+2)", "(n-2)", "(m-2n)",
               "(m-n)", "(n-m)", "1/2", "(2m-2n-1)", "(m-n)^2", "(m-n)^3"]
    accepted = 0
    for _ in range(600):
        left = "*".join(rng.choice(factors) for _ in range(rng.randint(1, 3)))
        left = f"(m-n)*{left}" if rng.random() < 0.5 else left
        right = rng.choice(["0", "0", "0", "0", "1", "0.5", "-0.5", "2", "n", "m"])
        text = f"{left} {rng.choice(['>', '>=', '<', '<='])} {right}"
        if equal_comparisons(text, "m > n").passed:
            accepted += 1
            assert _holds_everywhere_like_m_greater_than_n(text), text
    assert accepted >= 15  # the proofs were exercised, not only refusals


@pytest.mark.parametrize("text", [
    "(m-n)*(m+n+1)^10*(n+2)^9 > 0", "(m-n)*(999999999999m+999999999999n+1)^10*(n+2)^9 > 0",
    "m/(n+1)^10/(m+1)^10 > n/(n+1)^10/(m+1)^10", "(m-n)^9*(m+n)^9*(n+1)^2 > 0",
    "(m-n)^10*(m+n)^10 > 0", "(m-n)/((n+1)^10*(m+1)^9) > 0",
])
def test_size_proofs_stay_within_their_work_bounds(text: str) -> None:
    work = work_of(lambda: equal_comparisons(text, sympy.Gt(m, n)))
    assert within_the_bounds(work), work
    assert work.budgets == 2  # the reading, then the proof over the sizes, each with its own budget
