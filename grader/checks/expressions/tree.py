"""The syntax tree and its recursive-descent parser, with bounds computed as the tree is built."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from grader.checks.expressions.limits import (
    MAX_BITS,
    MAX_DEGREE,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_NODES,
    ParseError,
    counted,
)
from grader.checks.expressions.tokens import Token

_Mode = Literal["expression", "big_o", "comparison"]


@dataclass(frozen=True)
class Node:
    """A syntax-tree node with upper bounds on what evaluating it can produce.

    kind is num (value), var (name), neg (children[0]), add (children), mul (children, with
    `inverted` marking divisors) or pow (children[0] ** exponent). `degree` bounds the total
    degree of the numerator and of the denominator once everything is over one fraction.
    """

    kind: str
    pos: int
    children: tuple[Node, ...] = ()
    inverted: tuple[bool, ...] = ()
    value: Fraction = Fraction(0)
    name: str = ""
    exponent: int = 0
    degree: tuple[int, int] = (0, 0)
    bits: int = 1


class Parser:
    """Recursive descent over the tokens; every node it makes is checked against the bounds."""

    def __init__(self, tokens: list[Token], mode: _Mode) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.nodes = 0
        self.mode = mode

    # -- token access

    def peek(self) -> Token:
        """The next token, not consumed."""
        return self.tokens[self.index]

    def advance(self) -> Token:
        """The next token, consumed (the `end` token is never consumed past)."""
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def previous(self) -> Token | None:
        """The last consumed token."""
        return self.tokens[self.index - 1] if self.index > 0 else None

    # -- node construction with bounds

    def make(self, node: Node) -> Node:
        """Count the node and reject it if its bounds are too large."""
        self.nodes += 1
        work = counted()
        if work is not None:
            work.nodes += 1
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

    def make_add(self, terms: list[Node]) -> Node:
        """A sum; over a common denominator the degrees add up, as in a/b + c/d."""
        numerator, denominator = terms[0].degree
        for term in terms[1:]:
            top, bottom = term.degree
            numerator = max(numerator + bottom, top + denominator)
            denominator += bottom
        bits = sum(term.bits for term in terms) + len(terms)
        return self.make(Node("add", terms[0].pos, tuple(terms), degree=(numerator, denominator),
                               bits=bits))

    def make_mul(self, factors: list[tuple[Node, bool]]) -> Node:
        """A product; divisors swap numerator and denominator degrees."""
        numerator = denominator = 0
        for factor, inverted in factors:
            top, bottom = factor.degree
            if inverted:
                top, bottom = bottom, top
            numerator += top
            denominator += bottom
        bits = sum(factor.bits for factor, _ in factors)
        return self.make(Node(
            "mul", factors[0][0].pos, tuple(f for f, _ in factors), tuple(i for _, i in factors),
            degree=(numerator, denominator), bits=bits,
        ))

    def make_pow(self, base: Node, exponent: int, pos: int) -> Node:
        """A power with a bounded whole-number exponent."""
        top, bottom = base.degree
        if exponent < 0:
            top, bottom = bottom, top
        size = abs(exponent)
        return self.make(Node("pow", pos, (base,), exponent=exponent,
                               degree=(size * top, size * bottom), bits=max(1, size) * base.bits))

    def make_neg(self, child: Node, pos: int) -> Node:
        """A negation."""
        return self.make(Node("neg", pos, (child,), degree=child.degree, bits=child.bits))

    # -- grammar

    def parse_sum(self) -> Node:
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

    def parse_term(self) -> Node:
        """term := sign* product; the sign applies to the whole product, as -2n = -(2n)."""
        negative, pos = self.parse_signs()
        product = self.parse_product()
        return self.make_neg(product, pos) if negative else product

    def parse_product(self) -> Node:
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

    def parse_power(self) -> Node:
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

    def parse_exponent(self, caret: Token) -> int:
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

    def parse_atom(self) -> Node:
        """atom := number | variable | '(' sum ')'"""
        token = self.advance()
        if token.kind == "num":
            bits = token.value.numerator.bit_length() + token.value.denominator.bit_length()
            return self.make(Node("num", token.pos, value=token.value, bits=bits))
        if token.kind == "var":
            return self.make(Node("var", token.pos, name=token.text, degree=(1, 0)))
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

    def parse_group(self, opening: Token) -> Node:
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

    def misplaced_o(self, token: Token) -> ParseError:
        """The error for an O(...) (or Θ, Ω) where this kind of answer has none."""
        if self.mode == "expression":
            return ParseError(
                f"{token.text}(...) at position {token.pos}: write the exact expression, not a big-O bound"
            )
        if self.mode == "comparison":
            return ParseError(f"{token.text}(...) at position {token.pos} is not allowed in a comparison")
        return ParseError(f"{token.text}(...) must wrap the whole answer, as in {token.text}(n^2 + m)")

    def unexpected(self, token: Token) -> ParseError:
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
