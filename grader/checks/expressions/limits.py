"""The bounds on student text and on the work done for it, and the error for text outside them."""

from __future__ import annotations

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
REFERENCE_WORK = 20 * MAX_WORK
REFERENCE_MAX_EXPONENT = 100


class ParseError(ValueError):
    """A student's expression that is not in the grammar; message is student-readable."""


class Budget:
    """A count of monomial operations still allowed; running out is a ParseError."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, amount: int) -> None:
        """Charge `amount` before doing the work, so the work never starts if it is too much."""
        self.left -= amount
        if self.left < 0:
            raise ParseError("the expression is too large to work out")
