"""Parse Gradescope's `submission_metadata.json` into frozen dataclasses.

Gradescope documents only part of the file; real files also carry per-student dates
(`users[].assignment`, i.e. extensions), string scores and explicit nulls. Everything optional
is tolerated when missing or null; a missing required key (`created_at`, `assignment.due_date`)
is a `GraderError` naming the key, because no late or rate decision can be made without it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from grader.errors import GraderError
from grader.submission import Submitter

__all__ = [
    "DEFAULT_METADATA_PATH",
    "AssignmentDates",
    "PreviousSubmission",
    "SubmissionMetadata",
    "Submitter",
    "load_metadata",
    "parse_metadata",
    "parse_timestamp",
]

DEFAULT_METADATA_PATH = Path("/autograder/submission_metadata.json")

# Python 3.10's datetime.fromisoformat rejects "Z" and fractions other than 3 or 6 digits,
# both of which Gradescope and Ruby emit, so ISO-8601 is matched by hand.
_ISO = re.compile(
    r"""^\s*(?P<date>\d{4}-\d{2}-\d{2})
    [Tt\s]+(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?
    \s*(?P<tz>[Zz]|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2})?)?\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class AssignmentDates:
    """The assignment's dates and points; `total_points` includes manually graded questions."""

    release_date: datetime | None
    due_date: datetime
    late_due_date: datetime | None
    title: str
    total_points: float


@dataclass(frozen=True)
class PreviousSubmission:
    """An earlier submission to the same assignment; `score` is None when not (yet) scored."""

    submission_time: datetime
    score: float | None
    autograder_error: bool


@dataclass(frozen=True)
class SubmissionMetadata:
    """The parts of `submission_metadata.json` the grader uses."""

    id: str
    created_at: datetime
    assignment: AssignmentDates
    users: tuple[Submitter, ...]
    previous_submissions: tuple[PreviousSubmission, ...]


def parse_timestamp(value: object, key: str) -> datetime:
    """An ISO-8601 timestamp with a UTC offset (or "Z") as a tz-aware datetime.

    Fractions of any length are accepted and truncated to microseconds. A timestamp without
    an offset is a `GraderError`: guessing the zone would shift late penalties by hours.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise GraderError(f"submission metadata: {key}: timestamp {value} has no UTC offset")
        return value
    if not isinstance(value, str):
        raise GraderError(f"submission metadata: {key}: expected a timestamp, got {value!r}")
    match = _ISO.match(value)
    if match is None:
        raise GraderError(f"submission metadata: {key}: not an ISO-8601 timestamp: {value!r}")
    if match["tz"] is None:
        raise GraderError(f"submission metadata: {key}: timestamp {value!r} has no UTC offset")
    if match["tz"] in ("Z", "z"):
        zone = timezone.utc
    else:
        offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"] or 0))
        zone = timezone(-offset if match["sign"] == "-" else offset)
    micro = int((match["frac"] or "0")[:6].ljust(6, "0"))
    try:
        year, month, day = (int(part) for part in match["date"].split("-"))
        return datetime(
            year, month, day, int(match["h"]), int(match["m"]), int(match["s"] or 0), micro, zone
        )
    except ValueError as exc:  # e.g. month 13, or an offset of 24 h or more
        message = f"submission metadata: {key}: invalid timestamp {value!r}: {exc}"
        raise GraderError(message) from exc


def load_metadata(path: Path = DEFAULT_METADATA_PATH) -> SubmissionMetadata:
    """Read and parse a `submission_metadata.json` file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraderError(f"cannot read submission metadata {path}: {exc}") from exc
    return parse_metadata(data)


def parse_metadata(data: object) -> SubmissionMetadata:
    """Parse the decoded JSON object of `submission_metadata.json`."""
    top = _mapping(data, "(top level)")
    users = _list(top.get("users"), "users")
    previous = _list(top.get("previous_submissions"), "previous_submissions")
    return SubmissionMetadata(
        id=_text(top.get("id")),
        created_at=_required_time(top, "created_at", "created_at"),
        assignment=_assignment(_mapping(top.get("assignment"), "assignment")),
        users=tuple(_submitter(_mapping(u, f"users[{i}]"), i) for i, u in enumerate(users)),
        previous_submissions=tuple(
            _previous(_mapping(p, f"previous_submissions[{i}]"), i) for i, p in enumerate(previous)
        ),
    )


def _assignment(raw: Mapping[str, object]) -> AssignmentDates:
    """The `assignment` object."""
    points = _number(raw.get("total_points"))
    if raw.get("total_points") not in (None, "") and points is None:
        raise GraderError(
            f"submission metadata: assignment.total_points: not a number: {raw['total_points']!r}"
        )
    return AssignmentDates(
        release_date=_optional_time(raw, "release_date", "assignment.release_date"),
        due_date=_required_time(raw, "due_date", "assignment.due_date"),
        late_due_date=_optional_time(raw, "late_due_date", "assignment.late_due_date"),
        title=_text(raw.get("title")),
        total_points=points if points is not None else 0.0,
    )


def _submitter(raw: Mapping[str, object], index: int) -> Submitter:
    """One `users[]` entry, with its per-student dates when present."""
    dates = _mapping(raw.get("assignment"), f"users[{index}].assignment")
    where = f"users[{index}].assignment"
    return Submitter(
        name=_text(raw.get("name")),
        email=_text(raw.get("email")),
        sid=_text(raw.get("sid")),
        due_date=_optional_time(dates, "due_date", f"{where}.due_date"),
        late_due_date=_optional_time(dates, "late_due_date", f"{where}.late_due_date"),
    )


def _previous(raw: Mapping[str, object], index: int) -> PreviousSubmission:
    """One `previous_submissions[]` entry; its time is required, as rate limits count it."""
    flag = raw.get("autograder_error")
    return PreviousSubmission(
        submission_time=_required_time(
            raw, "submission_time", f"previous_submissions[{index}].submission_time"
        ),
        score=_number(raw.get("score")),
        autograder_error=flag is True or (isinstance(flag, str) and flag.lower() == "true"),
    )


def _mapping(value: object, key: str) -> Mapping[str, object]:
    """`value` as a mapping; null or missing is an empty one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise GraderError(f"submission metadata: {key}: expected an object, got {value!r}")
    return value


def _list(value: object, key: str) -> list[object]:
    """`value` as a list; null or missing is an empty one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise GraderError(f"submission metadata: {key}: expected a list, got {value!r}")
    return value


def _text(value: object) -> str:
    """A string field; null or missing is empty, numbers (e.g. ids) become their digits."""
    return "" if value is None else str(value)


def _number(value: object) -> float | None:
    """A number that Gradescope may write as a string ("20.0"); None when absent or not one."""
    if isinstance(value, bool) or value is None:
        return None
    if not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _required_time(raw: Mapping[str, object], name: str, key: str) -> datetime:
    """A timestamp that must be present."""
    if raw.get(name) is None:
        raise GraderError(f"submission metadata: missing required key {key!r}")
    return parse_timestamp(raw[name], key)


def _optional_time(raw: Mapping[str, object], name: str, key: str) -> datetime | None:
    """A timestamp that may be missing, null or empty."""
    value = raw.get(name)
    return None if value in (None, "") else parse_timestamp(value, key)
