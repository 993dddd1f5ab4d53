"""The bounds on student text and on the work done for it, and the error for text outside them.

The work is also counted (`metered`), in the units the bounds cap, so that a test can assert
that hostile text costs no more than the bounds allow without timing anything: seconds depend
on the machine, and belong to the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

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


@dataclass
class Work:
    """The work done inside `metered()`, in the units the bounds above cap."""

    characters: int = 0  # characters of text scanned (at most MAX_LENGTH a text; longer is refused unread)
    nodes: int = 0  # syntax-tree nodes built (at most MAX_NODES a text)
    budgets: int = 0  # budgets opened for student text, each of MAX_WORK monomial operations
    operations: int = 0  # monomial operations done under them
    reference_operations: int = 0  # monomial operations done for instructors' references
    shown: int = 0  # sympy objects built from trees and monomials (for callers and feedback)


_METER: ContextVar[Work | None] = ContextVar("expression_work", default=None)


@contextmanager
def metered() -> Iterator[Work]:
    """Count the work done inside the block (in this thread or task) into a fresh Work."""
    work = Work()
    token = _METER.set(work)
    try:
        yield work
    finally:
        _METER.reset(token)


def counted() -> Work | None:
    """The Work being counted into, if any (None outside `metered()`: nothing is counted)."""
    return _METER.get()


class Budget:
    """A count of monomial operations still allowed; running out is a ParseError."""

    def __init__(self, limit: int, *, reference: bool = False) -> None:
        self.left = limit
        self.reference = reference
        work = _METER.get()
        if work is not None and not reference:
            work.budgets += 1

    def spend(self, amount: int) -> None:
        """Charge `amount` before doing the work, so the work never starts if it is too much."""
        self.left -= amount
        if self.left < 0:
            raise ParseError("the expression is too large to work out")
        work = _METER.get()
        if work is not None:
            if self.reference:
                work.reference_operations += amount
            else:
                work.operations += amount
