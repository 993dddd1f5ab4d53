"""Numbers written as expressions (ln, log, exp), and variables a rubric declares for expressions."""

from __future__ import annotations

import math

import pytest

from grader.checks.numeric import MAX_LENGTH, NumberError, compare_number, read_number
from grader.checks.registry import WrittenContext, get_check

LN4 = math.log(4)


@pytest.mark.parametrize("text", ["ln(4)", "ln 4", "2 ln 2", "2*ln(2)", "log(4)", "ln(2)+ln(2)", "-ln(1/4)",
                                  "1.3862943611198906", LN4, "2·ln(2)", "ln(2^2)", "ln(2**2)", "2ln2"])
def test_ln4_in_its_forms(text: object) -> None:
    assert compare_number(text, LN4).passed


@pytest.mark.parametrize("text", ["ln(3)", "log(5)", "4", "ln(4) + 0.01", "exp(4)", "1.38"])
def test_wrong_values_score_nothing(text: object) -> None:
    assert not compare_number(text, LN4).passed


@pytest.mark.parametrize("text", ["__import__('os')", "ln(4", "ln()", "x", "2 ** 1000", "exp(1000)", "1/0",
                                  "ln(-1)", "(" * 50 + "1" + ")" * 50, "1" * (MAX_LENGTH + 1), "", True, [1]])
def test_hostile_or_broken_text_is_refused_with_a_reason(text: object) -> None:
    outcome = compare_number(text, LN4)
    assert not outcome.passed and outcome.feedback


def test_fractions_and_constants() -> None:
    assert read_number("1/4") == 0.25 and read_number("-3/4") == -0.75
    assert read_number("e") == math.e and read_number("2pi") == 2 * math.pi
    assert read_number("exp(1)/3") == pytest.approx(math.e / 3)
    with pytest.raises(NumberError, match="unknown name"):
        read_number("sin(1)")


def test_the_expressions_check_takes_the_rubric_variables_and_numbers() -> None:
    spec = get_check("expressions")
    assert spec is not None
    params = spec.with_defaults({"fields": {"multiplications": {"compare": "exact"},
                                            "big_o": {"compare": "big_o"}, "loss": {"compare": "number"}},
                                 "variables": ["n", "k"]})
    assert spec.validate is not None and spec.validate(params) is None
    reference = {"multiplications": "k*(n - k + 1)", "big_o": "O(n*k)", "loss": LN4}
    right = {"multiplications": "n*k - k^2 + k", "big_o": "O(k n)", "loss": "2 ln 2"}
    assert spec.function(right, WrittenContext("q", params, reference)).passed
    wrong = {"multiplications": "n*k", "big_o": "O(n^2)", "loss": "ln 2"}
    assert spec.function(wrong, WrittenContext("q", params, reference)).fraction == 0
    assert spec.validate({**params, "variables": ["nk"]}) is not None


def test_a_power_after_a_bracketed_argument_applies_to_the_function() -> None:
    """`ln(2)^2` is (ln 2)^2, not ln 4 (a review found a wrong answer given full marks)."""
    assert read_number("ln(2)^2") == pytest.approx(math.log(2) ** 2)
    assert not compare_number("ln(2)^2", LN4).passed
    assert read_number("exp(1)^2") == pytest.approx(math.e**2)
    assert read_number("exp -1") == pytest.approx(math.exp(-1))  # a bare argument may carry a sign
    assert read_number("ln 2^2") == pytest.approx(LN4)


def test_only_ascii_digits_and_spaces() -> None:
    for text in ("ln \u0664", "ln\u20034"):
        with pytest.raises(NumberError):
            read_number(text)


def test_non_ascii_variables_are_refused_when_the_rubric_loads() -> None:
    spec = get_check("expressions")
    assert spec is not None and spec.validate is not None
    for bad in (["é"], ["E"], ["ß"], ["nk"]):
        assert spec.validate(spec.with_defaults({"variables": bad})) is not None, bad
