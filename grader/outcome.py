"""What a check returns: the fraction of an item's points earned and feedback for the student."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 40
_BRIEF.maxlist = _BRIEF.maxdict = _BRIEF.maxtuple = 4
_BRIEF.maxlevel = 3


def brief(value: object) -> str:
    """A short text of a student's value for feedback, built without ever formatting all of it.

    (`str(value)[:40]` would first format the whole value: a list of thousands of aliased
    200 KB strings is gigabytes of text.)
    """
    return _BRIEF.repr(value)


@dataclass(frozen=True)
class Outcome:
    """The result of one check of one rubric item.

    `fraction` is in [0, 1]; the engine multiplies it by the item's points. `feedback` is read
    by the student (for hidden items, only by staff): it says what was checked and, on
    failure, what to change. `details` is instructor-only free-form data (JSON-serialisable).
    """

    fraction: float
    feedback: str = ""
    details: dict[str, object] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0 or self.fraction != self.fraction:
            raise ValueError(f"Outcome.fraction must be within [0, 1], got {self.fraction!r}")

    @classmethod
    def full(cls, feedback: str = "Correct.") -> Outcome:
        """Full marks."""
        return cls(1.0, feedback)

    @classmethod
    def zero(cls, feedback: str) -> Outcome:
        """No marks, with the reason."""
        return cls(0.0, feedback)

    @property
    def passed(self) -> bool:
        """Whether the item earned all its points."""
        return self.fraction >= 1.0
