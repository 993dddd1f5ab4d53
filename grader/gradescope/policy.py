"""Late-work penalties and submission rate limits, as pure functions of the submission metadata.

Both are computed from `created_at`, the submission's own time, never from the wall clock: a
regrade weeks later must reach the same decision as the first run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from grader.errors import GraderError
from grader.gradescope.metadata import SubmissionMetadata

__all__ = [
    "LateDecision",
    "LatePolicy",
    "RateDecision",
    "RateLimit",
    "effective_due_dates",
    "late_decision",
    "rate_decision",
]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class LatePolicy:
    """A penalty of `per_day_penalty` (a fraction of the score) per started day late.

    The penalty is capped at `max_penalty`, and is the cap outright after the late due date.
    Lateness is counted from the due date plus `grace_minutes`, which absorbs upload time.
    """

    per_day_penalty: float
    max_penalty: float = 1.0
    grace_minutes: float = 0

    def __post_init__(self) -> None:
        """Refuse values that cannot be a penalty: they are an instructor's typo."""
        if not 0.0 <= self.per_day_penalty <= 1.0:
            raise GraderError(f"late policy: per_day_penalty must be in [0, 1], got "
                              f"{self.per_day_penalty!r}")
        if not 0.0 <= self.max_penalty <= 1.0:
            raise GraderError(f"late policy: max_penalty must be in [0, 1], got "
                              f"{self.max_penalty!r}")
        if not self.grace_minutes >= 0:
            raise GraderError(f"late policy: grace_minutes must be >= 0, got "
                              f"{self.grace_minutes!r}")


@dataclass(frozen=True)
class LateDecision:
    """How late a submission is: started days after due + grace, the penalty, and why."""

    days_late: int
    penalty_fraction: float
    message: str


@dataclass(frozen=True)
class RateLimit:
    """At most `per_day` counted submissions in any 24 hours."""

    per_day: int

    def __post_init__(self) -> None:
        """Refuse a limit that would block every submission."""
        if self.per_day < 1:
            raise GraderError(f"rate limit: per_day must be at least 1, got {self.per_day!r}")


@dataclass(frozen=True)
class RateDecision:
    """Whether this submission may be graded, and how many earlier ones counted against it."""

    allowed: bool
    used: int
    message: str


def effective_due_dates(meta: SubmissionMetadata) -> tuple[datetime, datetime | None]:
    """The (due date, late due date) that apply to this submission's group.

    Each submitter's own dates (an extension) replace the assignment's; a group gets the latest
    of its members' dates, so one student's extension covers the group. A late due date before
    the due date (an extension that moved the due date past it) is ignored.
    """
    assignment = meta.assignment
    dues = [u.due_date or assignment.due_date for u in meta.users] or [assignment.due_date]
    late_dues = [u.late_due_date or assignment.late_due_date for u in meta.users]
    if not meta.users:
        late_dues = [assignment.late_due_date]
    due = max(dues)
    known = [d for d in late_dues if d is not None]
    late_due = max(known) if known else None
    return due, (late_due if late_due is not None and late_due >= due else None)


def late_decision(meta: SubmissionMetadata, policy: LatePolicy) -> LateDecision:
    """The late penalty of this submission under `policy`, with a message for the student."""
    due, late_due = effective_due_dates(meta)
    grace = timedelta(minutes=policy.grace_minutes)
    after_due = meta.created_at - due
    if after_due <= timedelta(0):
        return LateDecision(0, 0.0, f"Submitted on time (due {_when(due)}).")
    late = f"Submitted {_duration(after_due)} after the due date"
    if after_due <= grace:
        return LateDecision(
            0, 0.0, f"{late}, within the {policy.grace_minutes:g}-minute grace period: "
            "no late penalty."
        )
    days = math.ceil((after_due - grace) / _DAY)
    if late_due is not None and meta.created_at > late_due + grace:
        return LateDecision(
            days, policy.max_penalty,
            f"{late}, after the late deadline ({_when(late_due)}): "
            f"{_percent(policy.max_penalty)} penalty.",
        )
    raw = days * policy.per_day_penalty
    penalty = min(raw, policy.max_penalty)
    counted = (f"{days} started day{_plural(days)} at {_percent(policy.per_day_penalty)} each"
               + (f", capped at {_percent(policy.max_penalty)}" if raw > penalty else ""))
    return LateDecision(days, penalty, f"{late} ({counted}): {_percent(penalty)} penalty.")


def rate_decision(meta: SubmissionMetadata, limit: RateLimit) -> RateDecision:
    """Whether this submission is within `limit`, counting the 24 hours before `created_at`.

    Earlier submissions whose autograder run failed are not counted: the student was not at
    fault. Submissions after `created_at` (seen when an old submission is regraded) are not
    counted either.
    """
    start = meta.created_at - _DAY
    times = sorted(
        p.submission_time
        for p in meta.previous_submissions
        if not p.autograder_error and start < p.submission_time <= meta.created_at
    )
    used = len(times)
    if used < limit.per_day:
        return RateDecision(
            True, used, f"This is submission {used + 1} of the {limit.per_day} allowed in "
            "24 hours."
        )
    # The count drops below the limit once the (used - per_day + 1) oldest leave the window.
    reopens = times[used - limit.per_day] + _DAY
    return RateDecision(
        False, used,
        f"You already made {used} submission{_plural(used)} in the 24 hours before this one; "
        f"the limit is {limit.per_day}, so this one was not graded (submissions that ended in an "
        f"autograder error are not counted). You can submit again after {_when(reopens)}, "
        f"in {_duration(reopens - meta.created_at)}.",
    )


def _duration(span: timedelta) -> str:
    """A positive duration for a student: '1 day 3 h', '2 h 5 min', '4 min'."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{_plural(days)} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _when(moment: datetime) -> str:
    """A timestamp in its own zone, with the offset spelled out: '2024-03-01 23:59 UTC-08:00'."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(int(abs(offset.total_seconds())) // 60, 60)
    zone = "UTC" if not offset else f"UTC{sign}{hours:02d}:{rest:02d}"
    return f"{moment:%Y-%m-%d %H:%M} {zone}"


def _percent(fraction: float) -> str:
    """A fraction as a percentage for a message: 0.1 -> '10 %'."""
    return f"{round(fraction * 100, 2):g} %"


def _plural(count: int) -> str:
    """'s' unless `count` is 1."""
    return "" if count == 1 else "s"
