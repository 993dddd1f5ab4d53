"""Numbers written as expressions: `ln(4)`, `2 ln 2`, `log(4)`, `exp(1)/3`, `1/4`, `-3/4`.

A written answer may be a number or an expression of numbers with the functions ln, log
(natural, as in the assignments), exp and sqrt and the constants e and pi. Students type it,
so it is hostile input: a tokenizer and a recursive-descent evaluator of our own read it (never
eval, never a sympy parser), with bounds on its length, depth and exponents, in floating point.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from grader.outcome import Outcome, brief

MAX_LENGTH = 200
MAX_DEPTH = 20
MAX_EXPONENT = 64.0
FUNCTIONS: dict[str, Callable[[float], float]] = {"ln": math.log, "log": math.log, "exp": math.exp,
                                                  "sqrt": math.sqrt}
CONSTANTS = {"e": math.e, "pi": math.pi, "π": math.pi}
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
                    r"|(?P<name>[A-Za-zπ]+)|(?P<op>\*\*|[-+*/^()·×−]))", re.ASCII)


class NumberError(ValueError):
    """The text is not a number or an expression this grammar reads; the message says why."""


def read_number(value: Any) -> float:
    """The value of a number, or of a text that is an expression of numbers (NumberError if not)."""
    if isinstance(value, bool):
        raise NumberError("a number is needed, not true/false")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        number = _Evaluator(value).evaluate()
    else:
        raise NumberError(f"a number or an expression such as ln(4) is needed, not {type(value).__name__}")
    if not math.isfinite(number):
        raise NumberError("the value is not finite")
    return number


def compare_number(answer: Any, reference: float, *, rtol: float = 1e-6, atol: float = 1e-9) -> Outcome:
    """Full marks if the answer's value equals the reference within the tolerance."""
    try:
        value = read_number(answer)
    except NumberError as exc:
        return Outcome.zero(f"{brief(answer)} could not be read: {exc}.")
    except OverflowError:
        return Outcome.zero(f"{brief(answer)} is too large to be the answer.")
    if math.isclose(value, reference, rel_tol=rtol, abs_tol=atol):
        return Outcome.full(f"{brief(answer)} = {value:.6g}: correct.")
    return Outcome.zero(f"{brief(answer)} = {value:.6g}, which is not the expected value.")


class _Evaluator:
    """Recursive descent over: sum := term (('+'|'-') term)*; term := unary (('*'|'/'|implicit) unary)*;
    unary := ('-'|'+') unary | power; power := atom ('^' unary)?; atom := number | constant |
    function atom | '(' sum ')'."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise NumberError(f"it is longer than {MAX_LENGTH} characters")
        self.tokens = self._tokenize(text.strip())
        self.position = 0
        self.depth = 0

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise NumberError(f"unexpected character {text[position]!r}")
            position = match.end()
            kind = match.lastgroup or ""
            word = match.group(kind)
            if kind == "op":
                word = {"**": "^", "·": "*", "×": "*", "−": "-"}.get(word, word)
            elif kind == "name" and word not in FUNCTIONS and word not in CONSTANTS:
                raise NumberError(f"unknown name {word!r} (use ln, log, exp, sqrt, e, pi)")
            tokens.append((kind, word))
        if not tokens:
            raise NumberError("it is empty")
        return tokens

    def evaluate(self) -> float:
        value = self.sum()
        if self.position != len(self.tokens):
            raise NumberError(f"unexpected {self.tokens[self.position][1]!r}")
        return value

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise NumberError("it ends too early")
        self.position += 1
        return token

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise NumberError("it is nested too deeply")

    def sum(self) -> float:
        value = self.term()
        while (token := self.peek()) is not None and token[1] in "+-" and token[0] == "op":
            self.take()
            value = value + self.term() if token[1] == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.unary()
        while (token := self.peek()) is not None:
            if token == ("op", "*"):
                self.take()
                value *= self.unary()
            elif token == ("op", "/"):
                self.take()
                divisor = self.unary()
                if divisor == 0:
                    raise NumberError("it divides by zero")
                value /= divisor
            elif token[0] in ("number", "name") or token == ("op", "("):
                value *= self.power()  # implicit multiplication: 2ln(2), 2 pi, (1)(2)
            else:
                break
        return value

    def unary(self) -> float:
        token = self.peek()
        if token in (("op", "-"), ("op", "+")):
            self.take()
            self.nested()
            value = self.unary()
            self.depth -= 1
            return -value if token == ("op", "-") else value
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            self.nested()
            exponent = self.unary()
            self.depth -= 1
            if abs(exponent) > MAX_EXPONENT:
                raise NumberError(f"an exponent is larger than {MAX_EXPONENT:g}")
            try:
                result = base ** exponent
            except (OverflowError, ZeroDivisionError) as exc:
                raise NumberError(f"a power cannot be computed ({exc})") from None
            if isinstance(result, complex):
                raise NumberError("a power of a negative number is not a real number")
            return float(result)
        return base

    def atom(self) -> float:
        kind, word = self.take()
        if kind == "number":
            return float(word)
        if kind == "name" and word in CONSTANTS:
            return CONSTANTS[word]
        if kind == "name":
            # `ln(2)^2` is (ln 2)^2: a bracketed argument is the group alone; a bare one may carry a
            # sign or a power (`exp -1`, `ln 2^2`).
            self.nested()
            argument = self.atom() if self.peek() == ("op", "(") else self.unary()
            self.depth -= 1
            try:
                return FUNCTIONS[word](argument)
            except (ValueError, OverflowError):
                raise NumberError(f"{word} of {argument:g} is not defined") from None
        if word == "(":
            self.nested()
            value = self.sum()
            self.depth -= 1
            if self.take() != ("op", ")"):
                raise NumberError("a bracket is not closed")
            return value
        raise NumberError(f"unexpected {word!r}")
