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
around a whole answer, and one comparison `> < >= <= ≥ ≤ = ==` in comparison answers.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import sympy
from sympy.core.relational import Relational

from grader.errors import GraderError
from grader.outcome import Outcome

__all__ = [
    "DEFAULT_VARIABLES",
    "ParseError",
    "equal_big_o",
    "equal_comparisons",
    "equal_expressions",
    "parse_big_o",
    "parse_comparison",
    "parse_expression",
]

DEFAULT_VARIABLES: frozenset[str] = frozenset({"n", "m"})

# Bounds on student text. All but MAX_WORK are checked while the syntax tree is built, before
# any arithmetic. MAX_WORK caps the arithmetic itself: the tree bounds cannot see how many
# terms a product of sums multiplies out to, least of all with more than two variables.
MAX_LENGTH = 200  # characters, checked before the text is even scanned
MAX_DEPTH = 20  # nested parentheses
MAX_LITERAL = 10**12  # largest number literal
MAX_DECIMALS = 12  # digits after a decimal point
MAX_EXPONENT = 10  # largest |exponent|; exponents must be whole-number literals
MAX_NODES = 200  # syntax-tree nodes
MAX_DEGREE = 20  # total degree of numerator and of denominator, bounded from the tree
MAX_BITS = 4096  # a bound on the size of the numbers the expression can produce
MAX_WORK = 60_000  # monomial operations in the exact arithmetic (about 15 ms)

# Reference answers come from the instructor, so they get a larger budget, but still one,
# so that a typo in a rubric cannot hang a batch run.
_REFERENCE_WORK = 20 * MAX_WORK
_REFERENCE_MAX_EXPONENT = 100

_DIGITS = "0123456789"
_WHITESPACE = " \t\r\n\u00a0"
_SUPERSCRIPT_DIGITS = {
    "⁰": 0, "¹": 1, "²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9,
}
_SUPERSCRIPT_SIGNS = {"⁻": -1, "⁺": 1}
_SINGLE_CHAR_TOKENS = {
    "+": ("op", "+"), "-": ("op", "-"), "−": ("op", "-"),
    "*": ("op", "*"), "·": ("op", "*"), "⋅": ("op", "*"), "×": ("op", "*"),
    "/": ("op", "/"), "^": ("op", "^"),
    "(": ("(", "("), ")": (")", ")"),
    ">": ("cmp", ">"), "<": ("cmp", "<"), "≥": ("cmp", ">="), "≤": ("cmp", "<="),
    "=": ("cmp", "="),
}
_TWO_CHAR_TOKENS = {
    "**": ("op", "^"), ">=": ("cmp", ">="), "<=": ("cmp", "<="), "==": ("cmp", "="),
}
_CHAR_HINTS = {
    "[": "use ( ) for grouping", "]": "use ( ) for grouping",
    "{": "use ( ) for grouping", "}": "use ( ) for grouping",
    ",": "write numbers without commas",
}

_Mode = Literal["expression", "big_o", "comparison"]
# A polynomial maps a monomial to its (nonzero) integer coefficient. A monomial is packed into
# one int, _SHIFT bits per variable, so that multiplying monomials is adding ints: this inner
# loop is the hot spot on adversarial input, and tuple keys made it three times slower.
_Poly = dict[int, int]
_Ratio = tuple[_Poly, _Poly]  # numerator, denominator; the denominator is never zero
_SHIFT = 32  # exponents stay far below 2**32: each unit of degree costs budgeted work
_MASK = (1 << _SHIFT) - 1


class ParseError(ValueError):
    """A student's expression that is not in the grammar; message is student-readable."""


# ---------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    """One token: its kind, its normalised text, its 1-based position, and a number's value."""

    kind: str  # num var op sup ( ) O cmp end
    text: str
    pos: int
    value: Fraction = Fraction(0)


def _show_char(ch: str) -> str:
    """A character as a student can recognise it, even when it is invisible or a look-alike."""
    if ch.isascii() and ch.isprintable():
        return f"'{ch}'"
    if ch.isprintable():
        return f"'{ch}' (U+{ord(ch):04X})"
    return f"U+{ord(ch):04X}"


def _variable_names(variables: frozenset[str]) -> str:
    """'m and n' for the feedback."""
    names = sorted(variables)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _check_variables(variables: Iterable[str]) -> frozenset[str]:
    """The variable set, validated: single ASCII letters, since `mn` means m*n."""
    result = frozenset(variables)
    if not result:
        raise ValueError("at least one variable is needed")
    for name in result:
        if len(name) != 1 or not (name.isascii() and name.isalpha()) or name == "O":
            raise ValueError(f"variables must be single ASCII letters other than O, got {name!r}")
    return result


def _read_number(text: str, start: int) -> tuple[_Token, int]:
    """The number literal starting at `start`, bounded before it is converted to an int."""
    pos = start + 1
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    whole = text[start:end]
    fraction_digits = ""
    if end < len(text) and text[end] == ".":
        after = end + 1
        while after < len(text) and text[after] in _DIGITS:
            after += 1
        fraction_digits = text[end + 1 : after]
        if not fraction_digits:
            raise ParseError(f"a digit must follow the '.' at position {end + 1}")
        end = after
    # Length checks first, so that int() never sees a long digit string.
    if len(whole.lstrip("0")) > len(str(MAX_LITERAL)) or int(whole) > MAX_LITERAL:
        raise ParseError(f"the number at position {pos} is too large (at most 10^12)")
    if len(fraction_digits) > MAX_DECIMALS:
        raise ParseError(
            f"the number at position {pos} has too many decimal places (at most {MAX_DECIMALS})"
        )
    scale = 10 ** len(fraction_digits)
    value = Fraction(int(whole) * scale + int(fraction_digits or "0"), scale)
    return _Token("num", text[start:end], pos, value), end


def _read_superscript(text: str, start: int) -> tuple[_Token, int]:
    """A superscript exponent such as ² or ⁻¹, read as a whole number."""
    pos = start + 1
    end = start
    sign = 1
    if text[end] in _SUPERSCRIPT_SIGNS:
        sign = _SUPERSCRIPT_SIGNS[text[end]]
        end += 1
    digits_start = end
    while end < len(text) and text[end] in _SUPERSCRIPT_DIGITS:
        end += 1
    digits = text[digits_start:end]
    if not digits:
        raise ParseError(f"a superscript sign at position {pos} must be followed by digits")
    if len(digits.lstrip("⁰")) > 2:
        raise ParseError(
            f"the exponent at position {pos} is too large (at most {MAX_EXPONENT})"
        )
    value = 0
    for ch in digits:
        value = 10 * value + _SUPERSCRIPT_DIGITS[ch]
    return _Token("sup", text[start:end], pos, Fraction(sign * value)), end


def _read_word(text: str, start: int, variables: frozenset[str]) -> tuple[list[_Token], int]:
    """A run of ASCII letters: variables (each letter separate, `mn` = m*n) or `O`."""
    end = start
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    word = text[start:end]
    if word == "O":
        return [_Token("O", "O", start + 1)], end
    if all(letter in variables for letter in word):
        return [_Token("var", letter, start + 1 + i) for i, letter in enumerate(word)], end
    shown = word if len(word) <= 20 else word[:20] + "..."
    message = (
        f"unknown name '{shown}' at position {start + 1}; "
        f"the only variables are {_variable_names(variables)}"
    )
    if word in ("x", "X"):
        message += " (for multiplication write * or ×)"
    elif word == "o":
        message += " (big-O is written with a capital O)"
    raise ParseError(message)


def _tokenize(text: str, variables: frozenset[str]) -> list[_Token]:
    """The tokens of `text`, ending with an `end` token; any character off the whitelist fails."""
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _DIGITS:
            token, i = _read_number(text, i)
            tokens.append(token)
        elif ch in _SUPERSCRIPT_DIGITS or ch in _SUPERSCRIPT_SIGNS:
            token, i = _read_superscript(text, i)
            tokens.append(token)
        elif ch.isascii() and ch.isalpha():
            words, i = _read_word(text, i, variables)
            tokens.extend(words)
        elif text[i : i + 2] in ("=>", "=<"):
            swapped = text[i + 1] + "="
            raise ParseError(f"write {swapped} instead of {text[i : i + 2]} at position {i + 1}")
        elif text[i : i + 2] in _TWO_CHAR_TOKENS:
            kind, normal = _TWO_CHAR_TOKENS[text[i : i + 2]]
            tokens.append(_Token(kind, normal, i + 1))
            i += 2
        elif ch in _SINGLE_CHAR_TOKENS:
            kind, normal = _SINGLE_CHAR_TOKENS[ch]
            tokens.append(_Token(kind, normal, i + 1))
            i += 1
        elif ch == ".":
            raise ParseError(f"unexpected '.' at position {i + 1}; write numbers like 0.5")
        else:
            message = f"unexpected character {_show_char(ch)} at position {i + 1}"
            if ch in _CHAR_HINTS:
                message += f"; {_CHAR_HINTS[ch]}"
            elif ch.isdigit():  # fullwidth, Arabic-Indic, ... digits
                message += "; use the digits 0-9"
            raise ParseError(message)
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


# ---------------------------------------------------------------------------------------------
# Syntax tree, with bounds computed as it is built


@dataclass(frozen=True)
class _Node:
    """A syntax-tree node with upper bounds on what evaluating it can produce.

    kind is num (value), var (name), neg (children[0]), add (children), mul (children, with
    `inverted` marking divisors) or pow (children[0] ** exponent). `degree` bounds the total
    degree of the numerator and of the denominator once everything is over one fraction.
    """

    kind: str
    pos: int
    children: tuple[_Node, ...] = ()
    inverted: tuple[bool, ...] = ()
    value: Fraction = Fraction(0)
    name: str = ""
    exponent: int = 0
    degree: tuple[int, int] = (0, 0)
    bits: int = 1


class _Parser:
    """Recursive descent over the tokens; every node it makes is checked against the bounds."""

    def __init__(self, tokens: list[_Token], mode: _Mode) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.nodes = 0
        self.mode = mode

    # -- token access

    def peek(self) -> _Token:
        """The next token, not consumed."""
        return self.tokens[self.index]

    def advance(self) -> _Token:
        """The next token, consumed (the `end` token is never consumed past)."""
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def previous(self) -> _Token | None:
        """The last consumed token."""
        return self.tokens[self.index - 1] if self.index > 0 else None

    # -- node construction with bounds

    def make(self, node: _Node) -> _Node:
        """Count the node and reject it if its bounds are too large."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ParseError(f"the answer is too long (more than {MAX_NODES} terms and factors)")
        if max(node.degree) > MAX_DEGREE:
            raise ParseError(
                f"the degree of the expression at position {node.pos} is too high "
                f"(at most {MAX_DEGREE})"
            )
        if node.bits > MAX_BITS:
            raise ParseError(f"the numbers in the expression at position {node.pos} grow too large")
        return node

    def make_add(self, terms: list[_Node]) -> _Node:
        """A sum; over a common denominator the degrees add up, as in a/b + c/d."""
        numerator, denominator = terms[0].degree
        for term in terms[1:]:
            top, bottom = term.degree
            numerator = max(numerator + bottom, top + denominator)
            denominator += bottom
        bits = sum(term.bits for term in terms) + len(terms)
        return self.make(_Node("add", terms[0].pos, tuple(terms), degree=(numerator, denominator),
                               bits=bits))

    def make_mul(self, factors: list[tuple[_Node, bool]]) -> _Node:
        """A product; divisors swap numerator and denominator degrees."""
        numerator = denominator = 0
        for factor, inverted in factors:
            top, bottom = factor.degree
            if inverted:
                top, bottom = bottom, top
            numerator += top
            denominator += bottom
        bits = sum(factor.bits for factor, _ in factors)
        return self.make(_Node(
            "mul", factors[0][0].pos, tuple(f for f, _ in factors), tuple(i for _, i in factors),
            degree=(numerator, denominator), bits=bits,
        ))

    def make_pow(self, base: _Node, exponent: int, pos: int) -> _Node:
        """A power with a bounded whole-number exponent."""
        top, bottom = base.degree
        if exponent < 0:
            top, bottom = bottom, top
        size = abs(exponent)
        return self.make(_Node("pow", pos, (base,), exponent=exponent,
                               degree=(size * top, size * bottom), bits=max(1, size) * base.bits))

    def make_neg(self, child: _Node, pos: int) -> _Node:
        """A negation."""
        return self.make(_Node("neg", pos, (child,), degree=child.degree, bits=child.bits))

    # -- grammar

    def parse_sum(self) -> _Node:
        """sum := term (('+' | '-') term)*"""
        terms = [self.parse_term()]
        while self.peek().kind == "op" and self.peek().text in "+-":
            sign = self.advance()
            term = self.parse_term()
            terms.append(self.make_neg(term, sign.pos) if sign.text == "-" else term)
        return terms[0] if len(terms) == 1 else self.make_add(terms)

    def parse_signs(self) -> tuple[bool, int]:
        """Leading unary signs, read in a loop (not recursion): whether they negate, and where."""
        negative = False
        pos = self.peek().pos
        while self.peek().kind == "op" and self.peek().text in "+-":
            negative ^= self.advance().text == "-"
        return negative, pos

    def parse_term(self) -> _Node:
        """term := sign* product; the sign applies to the whole product, as -2n = -(2n)."""
        negative, pos = self.parse_signs()
        product = self.parse_product()
        return self.make_neg(product, pos) if negative else product

    def parse_product(self) -> _Node:
        """product := power (('*' | '/') sign* power | implicit power)*"""
        factors = [(self.parse_power(), False)]
        divided = False
        while True:
            token = self.peek()
            if token.kind == "op" and token.text in "*/":
                self.advance()
                inverted = token.text == "/"
                divided = divided or inverted
                negative, pos = self.parse_signs()
                factor = self.parse_power()
                if negative:
                    factor = self.make_neg(factor, pos)
            elif token.kind in ("var", "(", "O"):
                if divided:
                    # 1/2n is read as (1/2)n by some and 1/(2n) by others; refuse to guess.
                    raise ParseError(
                        f"the division before position {token.pos} is ambiguous; "
                        "use parentheses, e.g. (1/2)n or 1/(2n)"
                    )
                inverted = False
                factor = self.parse_power()
            elif token.kind == "num":
                # n2 or (n+1)2 is more likely a mistyped power than a product.
                raise ParseError(
                    f"unexpected number at position {token.pos}; "
                    "write n^2 for a power, or put * before a factor"
                )
            else:
                break
            factors.append((factor, inverted))
        return factors[0][0] if len(factors) == 1 else self.make_mul(factors)

    def parse_power(self) -> _Node:
        """power := atom ('^' exponent | superscript)?; a^b^c needs parentheses."""
        base = self.parse_atom()
        token = self.peek()
        if token.kind == "op" and token.text == "^":
            self.advance()
            node = self.make_pow(base, self.parse_exponent(token), token.pos)
        elif token.kind == "sup":
            self.advance()
            node = self.make_pow(base, self.check_exponent(int(token.value), token.pos),
                                 token.pos)
        else:
            return base
        following = self.peek()
        if following.kind == "sup" or (following.kind == "op" and following.text == "^"):
            raise ParseError(
                f"a power of a power at position {following.pos} needs parentheses, "
                "e.g. (n^2)^3"
            )
        return node

    def check_exponent(self, exponent: int, pos: int) -> int:
        """The exponent, if it is small enough to compute with."""
        if abs(exponent) > MAX_EXPONENT:
            raise ParseError(
                f"the exponent at position {pos} is too large (at most {MAX_EXPONENT})"
            )
        return exponent

    def parse_exponent(self, caret: _Token) -> int:
        """exponent := sign? (integer | '(' sign? integer ')'), a literal only."""
        negative, _ = self.parse_signs()
        token = self.advance()
        if token.kind == "(":
            inner_negative, _ = self.parse_signs()
            negative ^= inner_negative
            literal = self.advance()
            if literal.kind != "num" or self.advance().kind != ")":
                raise self.exponent_error(token.pos)
            token = literal
        elif token.kind == "end":
            raise ParseError(f"the answer ends too early: an exponent is missing after "
                             f"the '^' at position {caret.pos}")
        elif token.kind != "num":
            raise self.exponent_error(token.pos)
        if token.value.denominator != 1 or "." in token.text:
            raise ParseError(f"the exponent at position {token.pos} must be a whole number")
        exponent = int(token.value)
        return self.check_exponent(-exponent if negative else exponent, token.pos)

    @staticmethod
    def exponent_error(pos: int) -> ParseError:
        """The error for an exponent that is not a number literal."""
        return ParseError(
            f"the exponent at position {pos} must be a whole number such as 2 "
            "(not a variable or an expression)"
        )

    def parse_atom(self) -> _Node:
        """atom := number | variable | '(' sum ')'"""
        token = self.advance()
        if token.kind == "num":
            bits = token.value.numerator.bit_length() + token.value.denominator.bit_length()
            return self.make(_Node("num", token.pos, value=token.value, bits=bits))
        if token.kind == "var":
            return self.make(_Node("var", token.pos, name=token.text, degree=(1, 0)))
        if token.kind == "(":
            return self.parse_group(token)
        if token.kind == "O":
            raise self.misplaced_o(token)
        if token.kind == "end":
            before = self.previous()
            if before is None:
                raise ParseError("the answer is empty")
            raise ParseError(f"the answer ends too early: something is missing after "
                             f"'{before.text}' at position {before.pos}")
        if token.kind == ")":
            # `token` was consumed, so the one before it is two back.
            before = self.tokens[self.index - 2] if self.index >= 2 else None
            if before is not None and before.kind == "(":
                raise ParseError(f"empty parentheses at position {before.pos}")
            raise ParseError(f"unexpected ')' at position {token.pos}")
        if token.kind == "sup":
            raise ParseError(f"unexpected superscript at position {token.pos}")
        raise ParseError(f"unexpected '{token.text}' at position {token.pos}")

    def parse_group(self, opening: _Token) -> _Node:
        """'(' sum ')', with the nesting depth checked before descending."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"too many nested parentheses (at most {MAX_DEPTH})")
        inner = self.parse_sum()
        closing = self.peek()
        if closing.kind != ")":
            if closing.kind == "end":
                raise ParseError(f"missing ')' for the '(' at position {opening.pos}")
            raise self.unexpected(closing)
        self.advance()
        self.depth -= 1
        return inner

    def misplaced_o(self, token: _Token) -> ParseError:
        """The error for an O(...) where this kind of answer has none."""
        if self.mode == "expression":
            return ParseError(
                f"O(...) at position {token.pos}: write the exact expression, not a big-O bound"
            )
        if self.mode == "comparison":
            return ParseError(f"O(...) at position {token.pos} is not allowed in a comparison")
        return ParseError("O(...) must wrap the whole answer, as in O(n^2 + m)")

    def unexpected(self, token: _Token) -> ParseError:
        """The error for a token that cannot continue the answer here."""
        if token.kind == "cmp" and self.mode != "comparison":
            what = "an equation" if token.text == "=" else "a comparison"
            return ParseError(f"'{token.text}' at position {token.pos}: write only the "
                              f"expression, not {what}")
        if token.kind == ")":
            return ParseError(f"unexpected ')' at position {token.pos}")
        return ParseError(f"unexpected '{token.text}' at position {token.pos}")

    def expect_end(self) -> None:
        """The whole input must have been read."""
        token = self.peek()
        if token.kind != "end":
            raise self.unexpected(token)


# ---------------------------------------------------------------------------------------------
# Exact arithmetic on fractions of integer polynomials


class _Budget:
    """A count of monomial operations still allowed; running out is a ParseError."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, amount: int) -> None:
        """Charge `amount` before doing the work, so the work never starts if it is too much."""
        self.left -= amount
        if self.left < 0:
            raise ParseError("the expression is too large to work out")


def _p_add(a: _Poly, b: _Poly, budget: _Budget) -> _Poly:
    """a + b."""
    budget.spend(len(a) + len(b))
    out = dict(a)
    for key, coefficient in b.items():
        out[key] = out.get(key, 0) + coefficient
    return {key: c for key, c in out.items() if c}


def _p_mul(a: _Poly, b: _Poly, budget: _Budget) -> _Poly:
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


def _normalise(numerator: _Poly, denominator: _Poly) -> _Ratio:
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


class _Arithmetic:
    """Exact arithmetic on ratios of polynomials in a fixed tuple of variables."""

    def __init__(self, variables: Iterable[str], budget: _Budget) -> None:
        self.names = tuple(sorted(variables))
        self.zero = 0  # the packed key of the monomial 1
        self.budget = budget

    def number(self, value: Fraction) -> _Ratio:
        """A constant."""
        top = {self.zero: value.numerator} if value else {}  # no zero coefficients, ever
        return _normalise(top, {self.zero: value.denominator})

    def variable(self, name: str) -> _Ratio:
        """A variable."""
        return {1 << (_SHIFT * self.names.index(name)): 1}, {self.zero: 1}

    def one(self) -> _Ratio:
        """The constant 1."""
        return {self.zero: 1}, {self.zero: 1}

    def neg(self, a: _Ratio) -> _Ratio:
        """-a."""
        return _p_scale(a[0], -1), a[1]

    def add(self, a: _Ratio, b: _Ratio) -> _Ratio:
        """a + b; with equal or constant denominators there is no cross-multiplication."""
        (top_a, bottom_a), (top_b, bottom_b) = a, b
        if bottom_a == bottom_b:
            return _normalise(_p_add(top_a, top_b, self.budget), bottom_a)
        const_a, const_b = _constant(bottom_a), _constant(bottom_b)
        if const_a is not None and const_b is not None:
            top = _p_add(_p_scale(top_a, const_b), _p_scale(top_b, const_a), self.budget)
            return _normalise(top, {self.zero: const_a * const_b})
        top = _p_add(_p_mul(top_a, bottom_b, self.budget), _p_mul(top_b, bottom_a, self.budget),
                     self.budget)
        return _normalise(top, _p_mul(bottom_a, bottom_b, self.budget))

    def mul(self, a: _Ratio, b: _Ratio) -> _Ratio:
        """a * b."""
        return _normalise(_p_mul(a[0], b[0], self.budget), _p_mul(a[1], b[1], self.budget))

    def invert(self, a: _Ratio, pos: int) -> _Ratio:
        """1 / a; exact, so 1/(n(n+1) - n^2 - n) is caught as a division by zero."""
        if not a[0]:
            raise ParseError(f"division by zero at position {pos}")
        return _normalise(a[1], a[0])

    def power(self, a: _Ratio, exponent: int, pos: int) -> _Ratio:
        """a ** exponent by repeated multiplication (the exponent is small)."""
        if exponent < 0:
            a = self.invert(a, pos)
        result = self.one()
        for _ in range(abs(exponent)):
            result = self.mul(result, a)
        return result

    def subtract(self, a: _Ratio, b: _Ratio) -> _Ratio:
        """a - b."""
        return self.add(a, self.neg(b))

    def is_polynomial(self, a: _Ratio) -> bool:
        """Whether the denominator is a constant."""
        return _constant(a[1]) is not None

    def equal(self, a: _Ratio, b: _Ratio) -> bool:
        """a == b as rational functions, by cross-multiplication."""
        return _p_mul(a[0], b[1], self.budget) == _p_mul(b[0], a[1], self.budget)

    def evaluate(self, node: _Node) -> _Ratio:
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

    def from_sympy(self, expr: Any) -> _Ratio:
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
            total: _Ratio = ({}, {self.zero: 1})
            for arg in expr.args:
                total = self.add(total, self.from_sympy(arg))
            return total
        if expr.is_Mul:
            product = self.one()
            for arg in expr.args:
                product = self.mul(product, self.from_sympy(arg))
            return product
        if expr.is_Pow and expr.exp.is_Integer and abs(int(expr.exp)) <= _REFERENCE_MAX_EXPONENT:
            return self.power(self.from_sympy(expr.base), int(expr.exp), 0)
        raise GraderError(f"reference expression {expr} is not a ratio of polynomials "
                          "with exact coefficients")

    def exponents(self, key: int) -> tuple[int, ...]:
        """The exponents of a packed monomial, one per variable."""
        return tuple((key >> (_SHIFT * i)) & _MASK for i in range(len(self.names)))

    def dominant(self, a: _Ratio) -> list[int]:
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
        return sympy.Mul(*(sympy.Symbol(name) ** power
                           for name, power in zip(self.names, self.exponents(key), strict=True)
                           if power))


# ---------------------------------------------------------------------------------------------
# From trees to sympy, and display


def _to_sympy(node: _Node) -> Any:
    """The sympy form of a tree as written (not expanded), for callers and for feedback."""
    if node.kind == "num":
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if node.kind == "var":
        return sympy.Symbol(node.name)
    if node.kind == "neg":
        return -_to_sympy(node.children[0])
    if node.kind == "add":
        return sympy.Add(*(_to_sympy(child) for child in node.children))
    if node.kind == "mul":
        return sympy.Mul(*(sympy.Pow(_to_sympy(child), -1) if inverted else _to_sympy(child)
                           for child, inverted in zip(node.children, node.inverted, strict=True)))
    if node.kind == "pow":
        return sympy.Pow(_to_sympy(node.children[0]), sympy.Integer(node.exponent))
    raise AssertionError(f"unknown node kind {node.kind}")


def _show(expr: Any) -> str:
    """A sympy expression in the notation students type, shortened for the feedback."""
    text = sympy.sstr(expr).replace("**", "^")
    return text if len(text) <= 120 else text[:117] + "..."


_RELATIONS: dict[str, Any] = {
    ">": sympy.StrictGreaterThan, ">=": sympy.GreaterThan,
    "<": sympy.StrictLessThan, "<=": sympy.LessThan, "=": sympy.Equality,
}


# ---------------------------------------------------------------------------------------------
# Reading whole answers


@dataclass(frozen=True)
class _Reading:
    """A parsed and evaluated expression: its tree and its exact value."""

    tree: _Node
    value: _Ratio


def _tokens(text: str, variables: frozenset[str]) -> list[_Token]:
    """Type and length checks, then the tokens."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the answer is too long ({len(text)} characters; "
                         f"at most {MAX_LENGTH})")
    if not text.strip(_WHITESPACE):
        raise ParseError("the answer is empty")
    return _tokenize(text, variables)


def _evaluate(tree: _Node, arithmetic: _Arithmetic) -> _Reading:
    """A tree with its exact value (which also finds divisions by zero)."""
    return _Reading(tree, arithmetic.evaluate(tree))


def _read_expression(text: str, arithmetic: _Arithmetic, variables: frozenset[str]) -> _Reading:
    """A plain expression; O(...) and comparisons are errors."""
    parser = _Parser(_tokens(text, variables), "expression")
    tree = parser.parse_sum()
    parser.expect_end()
    return _evaluate(tree, arithmetic)


def _read_big_o(text: str, arithmetic: _Arithmetic, variables: frozenset[str],
                require_o: bool) -> _Reading:
    """`O(expression)`, or a bare expression if `require_o` is False."""
    tokens = _tokens(text, variables)
    parser = _Parser(tokens, "big_o")
    if tokens[0].kind == "O":
        opening = parser.advance()
        if parser.peek().kind != "(":
            raise ParseError(f"write big-O as O(...), with parentheses, at position {opening.pos}")
        tree = parser.parse_group(parser.advance())
        if parser.peek().kind != "end":
            raise ParseError("O(...) must wrap the whole answer, as in O(n^2 + m)")
    else:
        if require_o and not any(token.kind == "O" for token in tokens):
            raise ParseError("write it as O(...), e.g. O(n^2 + m)")
        tree = parser.parse_sum()
        parser.expect_end()
    return _evaluate(tree, arithmetic)


def _read_comparison(text: str, arithmetic: _Arithmetic,
                     variables: frozenset[str]) -> tuple[_Reading, str, _Reading]:
    """`lhs op rhs` with exactly one comparison operator."""
    parser = _Parser(_tokens(text, variables), "comparison")
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


def _dominant_terms(value: _Ratio, arithmetic: _Arithmetic) -> list[int]:
    """The dominant monomials of a big-O argument; ParseError if it is no valid bound."""
    names = _variable_names(frozenset(arithmetic.names))
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


def _normalised_comparison(left: _Ratio, op: str, right: _Ratio,
                           arithmetic: _Arithmetic) -> tuple[str, _Ratio]:
    """(op, p) with p = lhs - rhs and op in >, >=, =; < and <= are flipped."""
    if op in ("<", "<="):
        return op.replace("<", ">"), arithmetic.subtract(right, left)
    return op, arithmetic.subtract(left, right)


def _same_up_to_factor(a: _Ratio, b: _Ratio, positive: bool, arithmetic: _Arithmetic) -> bool:
    """Whether a = c * b for a constant c (> 0 if `positive`, else != 0)."""
    top = _p_mul(a[0], b[1], arithmetic.budget)
    bottom = _p_mul(b[0], a[1], arithmetic.budget)
    if not bottom or not top:
        return not bottom and not top
    if top.keys() != bottom.keys():
        return False
    pivot = next(iter(bottom))
    scale_top, scale_bottom = top[pivot], bottom[pivot]
    if positive and (scale_top > 0) != (scale_bottom > 0):
        return False
    return all(top[key] * scale_bottom == bottom[key] * scale_top for key in bottom)


# ---------------------------------------------------------------------------------------------
# Comparisons over the positive integers (the variables are sizes: n, m = 1, 2, 3, ...)
#
# `m/n > 1` or `2n^2 + mn < 3mn` means `m > n` for sizes but not over the reals, so after the
# exact test above fails a comparison gets a second, still exact, chance. With the reference
# read as `L > 0` (or >=, =) for one polynomial L with integer coefficients, the student's
# `N/D op 0` is accepted only by one of two proofs:
#   A. D has a fixed sign on the domain and N = L^k * R with R of a fixed sign on the domain
#      (k odd and R > 0 for > and >=): then N/D op 0 holds exactly where L op 0 does.
#   B. N = a*L + b with constants a > 0 and b: L takes whole-number values, so L > t and
#      L >= t are lower bounds on a whole number (m >= n + 1 is m - n > 0).
# A polynomial P has a fixed sign on [1, oo)^k if P(1 + u) has coefficients of one sign and a
# nonzero constant term (u >= 0). Nothing here samples to decide; a grid of small sizes is
# checked afterwards only as a guard that can reject, never accept.

_Exponents = tuple[int, ...]
_SAMPLE_POINTS = 64  # at most this many points of the guard's grid


def _unpacked(poly: dict[int, Any], arithmetic: _Arithmetic) -> dict[_Exponents, Any]:
    return {arithmetic.exponents(key): c for key, c in poly.items()}


def _packed(exponents: _Exponents) -> int:
    return sum(e << (_SHIFT * i) for i, e in enumerate(exponents))


def _domain_sign(poly: dict[int, Any], arithmetic: _Arithmetic) -> int:
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
             arithmetic: _Arithmetic) -> dict[int, Fraction] | None:
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
class _Core:
    """A reference comparison as `L op 0` on the domain: L has integer coefficients."""

    op: str
    poly: dict[int, int]


def _reference_core(op: str, value: _Ratio, arithmetic: _Arithmetic) -> _Core | None:
    """The reference reduced to one polynomial factor L (with sympy: trusted, small input)."""
    denominator_sign = _domain_sign(value[1], arithmetic)
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
        factor_sign = _domain_sign(poly, arithmetic)
        if factor_sign:
            sign *= factor_sign**power
        else:
            undecided.append((poly, power))
    if len(undecided) != 1:
        return None
    poly, power = undecided[0]
    if op == "=":
        return _Core(op, poly)
    if power % 2 == 0:
        return None
    return _Core(op, {key: sign * c for key, c in poly.items()})


def _integer_bound(op: str, threshold: Fraction) -> int:
    """The least whole number L with `L op threshold` (op is > or >=)."""
    return math.floor(threshold) + 1 if op == ">" else math.ceil(threshold)


def _proven_on_positive_integers(op: str, value: _Ratio, core: _Core,
                                 arithmetic: _Arithmetic) -> bool:
    """Whether `value op 0` holds exactly where the reference does, by proof A or B above."""
    denominator_sign = _domain_sign(value[1], arithmetic)
    if not denominator_sign or not value[0]:
        return False
    numerator = {key: Fraction(denominator_sign * c) for key, c in value[0].items()}
    # Proof A: numerator = L^k * R with R of one sign on the domain.
    rest, power = numerator, 0
    while (quotient := _divided(rest, core.poly, arithmetic)) is not None:
        rest, power = quotient, power + 1
    if power:
        rest_sign = _domain_sign(rest, arithmetic)
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


def _evaluator(value: _Ratio, arithmetic: _Arithmetic) -> Callable[[tuple[int, ...]], int]:
    """The sign of a ratio at a point where its denominator is nonzero."""
    terms = [[(c, arithmetic.exponents(key)) for key, c in poly.items()] for poly in value]
    degree = max((max(e) for part in terms for _, e in part), default=0)

    def sign(point: tuple[int, ...]) -> int:
        powers = [[x**e for e in range(degree + 1)] for x in point]
        top, bottom = (sum(c * math.prod(table[e] for table, e in zip(powers, exponents, strict=True))
                           for c, exponents in part) for part in terms)
        return ((top > 0) - (top < 0)) * (1 if bottom > 0 else -1)

    return sign


def _agrees_on_samples(op: str, value: _Ratio, reference: tuple[str, _Ratio],
                       arithmetic: _Arithmetic) -> bool:
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


# ---------------------------------------------------------------------------------------------
# Public parsing API


def parse_expression(text: str, variables: frozenset[str] = DEFAULT_VARIABLES) -> sympy.Expr:
    """A student's plain expression as a sympy expression (as written, not expanded)."""
    names = _check_variables(variables)
    arithmetic = _Arithmetic(names, _Budget(MAX_WORK))
    return _to_sympy(_read_expression(text, arithmetic, names).tree)


def parse_big_o(text: str, variables: frozenset[str] = DEFAULT_VARIABLES,
                require_o: bool = True) -> sympy.Expr:
    """The dominant terms, with coefficient 1, of a student's `O(...)`: O(3n² + n) gives n**2."""
    names = _check_variables(variables)
    arithmetic = _Arithmetic(names, _Budget(MAX_WORK))
    reading = _read_big_o(text, arithmetic, names, require_o)
    dominant = _dominant_terms(reading.value, arithmetic)
    return sympy.Add(*(arithmetic.monomial(key) for key in dominant))


def parse_comparison(text: str, variables: frozenset[str] = DEFAULT_VARIABLES) -> Relational:
    """A student's comparison such as `m > n` as an unevaluated sympy relation."""
    names = _check_variables(variables)
    arithmetic = _Arithmetic(names, _Budget(MAX_WORK))
    left, op, right = _read_comparison(text, arithmetic, names)
    return _RELATIONS[op](_to_sympy(left.tree), _to_sympy(right.tree), evaluate=False)


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


def equal_expressions(student: object, reference: str | sympy.Expr, *,
                      variables: frozenset[str] = DEFAULT_VARIABLES) -> Outcome:
    """Full marks if the student's expression equals the reference exactly (after expanding)."""
    names = _check_variables(variables)
    reference_arithmetic = _Arithmetic(names, _Budget(_REFERENCE_WORK))
    try:
        if isinstance(reference, str):
            expected = _read_expression(reference, reference_arithmetic, names).value
        else:
            expected = reference_arithmetic.from_sympy(reference)
    except ParseError as error:
        raise _reference_error(reference, error) from error
    text = _student_text(student)
    if isinstance(text, Outcome):
        return text
    arithmetic = _Arithmetic(names, _Budget(MAX_WORK))
    try:
        reading = _read_expression(text, arithmetic, names)
        equal = arithmetic.equal(reading.value, expected)
    except ParseError as error:
        return _could_not_read("an expression", error)
    if equal:
        return Outcome.full()
    return Outcome.zero(f"Not equal to the expected expression; your answer was read as "
                        f"{_show(_to_sympy(reading.tree))}.")


def equal_big_o(student: object, reference: str | sympy.Expr, *,
                variables: frozenset[str] = DEFAULT_VARIABLES) -> Outcome:
    """Full marks if the student's O(...) has the same dominant terms as the reference.

    The reference may be `O(...)`, a bare expression, or a sympy expression (then its own
    dominant terms count, so an exact count can serve as the reference of its big-O). So may
    the student's answer: the questions ask for a count and allow big O, so an exact count
    such as `n(n+1)/2` is read as if written O(n(n+1)/2), and the feedback says so.
    """
    names = _check_variables(variables)
    reference_arithmetic = _Arithmetic(names, _Budget(_REFERENCE_WORK))
    try:
        if isinstance(reference, str):
            expected_value = _read_big_o(reference, reference_arithmetic, names,
                                         require_o=False).value
        else:
            expected_value = reference_arithmetic.from_sympy(reference)
        expected = set(_dominant_terms(expected_value, reference_arithmetic))
    except ParseError as error:
        raise _reference_error(reference, error) from error
    text = _student_text(student)
    if isinstance(text, Outcome):
        return text
    arithmetic = _Arithmetic(names, _Budget(MAX_WORK))
    try:
        reading = _read_big_o(text, arithmetic, names, require_o=False)
        dominant = _dominant_terms(reading.value, arithmetic)
    except ParseError as error:
        return _could_not_read("O(...) or a count", error)
    # A bare count passed _read_big_o only if it has no O at all; O(...) must come first.
    wrapped = text.lstrip(_WHITESPACE).startswith("O")
    # Only a few terms fit in the feedback; building a huge sympy sum would be slow for nothing.
    simplest = _show(sympy.Add(*(arithmetic.monomial(key) for key in dominant[:8])))
    simplest = f"O({simplest}{' + ...' if len(dominant) > 8 else ''})"
    if set(dominant) == expected:
        return Outcome.full() if wrapped else Outcome.full(f"Correct (read as {simplest}).")
    shown = f"O({_show(_to_sympy(reading.tree))})"
    if simplest != shown:
        shown += f", that is {simplest}"
    return Outcome.zero(f"Not the expected bound; your answer was read as {shown}.")


@functools.lru_cache(maxsize=64)
def _reference_comparison(reference: str | Relational, names: frozenset[str]) -> tuple[
        tuple[str, _Ratio], _Core | None]:
    """A reference comparison normalised to (op, p), and its core on the positive integers."""
    arithmetic = _Arithmetic(names, _Budget(_REFERENCE_WORK))
    try:
        if isinstance(reference, str):
            ref_left, ref_op, ref_right = _read_comparison(reference, arithmetic, names)
            expected = _normalised_comparison(ref_left.value, ref_op, ref_right.value, arithmetic)
        elif isinstance(reference, Relational) and reference.rel_op in (*_RELATIONS, "=="):
            expected = _normalised_comparison(
                arithmetic.from_sympy(reference.lhs),
                "=" if reference.rel_op == "==" else reference.rel_op,
                arithmetic.from_sympy(reference.rhs), arithmetic,
            )
        else:
            raise GraderError(f"reference comparison {reference!r} is not a relation "
                              "such as m > n")
        return expected, _reference_core(*expected, arithmetic)
    except ParseError as error:
        raise _reference_error(reference, error) from error


def equal_comparisons(student: object, reference: str | Relational, *,
                      variables: frozenset[str] = DEFAULT_VARIABLES,
                      positive_integers: bool = True) -> Outcome:
    """Full marks if the student's comparison means the same as the reference.

    Both are normalised to `p > 0`, `p >= 0` or `p = 0` with p = lhs - rhs. Equal if the two
    p agree up to a positive constant factor (any nonzero factor for `=`), which is the same
    meaning over the reals; with `positive_integers` (the variables are sizes 1, 2, 3, ...)
    also if a proof above shows the same meaning on the positive integers (`m/n > 1`,
    `m^2 > n^2`, `m >= n + 1` all mean `m > n`).
    """
    names = _check_variables(variables)
    expected, core = _reference_comparison(reference, names)
    text = _student_text(student)
    if isinstance(text, Outcome):
        return text
    arithmetic = _Arithmetic(names, _Budget(MAX_WORK))
    try:
        left, op, right = _read_comparison(text, arithmetic, names)
        got_op, got = _normalised_comparison(left.value, op, right.value, arithmetic)
        # For sizes, a denominator must be provably nonzero on them: (m-n)(m-2)/(m-2) > 0 is
        # m > n over the reals where defined, but undefined at m = 2.
        if positive_integers and _domain_sign(got[1], arithmetic) == 0:
            divisor = _show(sympy.Add(*(sympy.Rational(c.numerator, c.denominator) * arithmetic.monomial(key)
                                        for key, c in ((k, Fraction(v)) for k, v in got[1].items()))))
            return Outcome.zero(f"Your comparison divides by {divisor}, which is not shown to be nonzero for "
                                f"whole numbers {_variable_names(names)} of at least 1: where it is 0 the "
                                "comparison means nothing, so it is not the expected condition.")
        if got_op == expected[0] and _same_up_to_factor(
                got, expected[1], positive=got_op != "=", arithmetic=arithmetic):
            return Outcome.full()
        if positive_integers and core is not None:
            proof = _Arithmetic(names, _Budget(MAX_WORK))
            if (_proven_on_positive_integers(got_op, got, core, proof)
                    and _agrees_on_samples(got_op, got, expected, proof)):
                return Outcome.full(f"Correct (the same condition for whole numbers "
                                    f"{_variable_names(names)} of at least 1).")
    except ParseError as error:
        return _could_not_read("a comparison", error)
    shown = f"{_show(_to_sympy(left.tree))} {op} {_show(_to_sympy(right.tree))}"
    return Outcome.zero(f"Not the expected comparison; your answer was read as {shown}.")
