"""Tests of grader.gradescope.metadata and grader.gradescope.policy on realistic metadata."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from grader.errors import GraderError
from grader.gradescope import (
    LatePolicy,
    RateLimit,
    Submitter,
    effective_due_dates,
    late_decision,
    load_metadata,
    parse_metadata,
    parse_timestamp,
    rate_decision,
)

PST = timezone(timedelta(hours=-8))
DUE = "2024-03-01T23:59:00.000000-08:00"
LATE_DUE = "2024-03-04T23:59:00.000000-08:00"
EXTENDED_DUE = "2024-03-05T23:59:00.000000-08:00"
EXTENDED_LATE_DUE = "2024-03-08T23:59:00.000000-08:00"

# Shaped like the real files in the research notes: documented keys, the undocumented
# per-student dates (users[].assignment), string points and scores, explicit nulls, and a
# stored results object for the latest previous submission only.
METADATA: dict[str, Any] = {
    "id": 234567890,
    "created_at": "2024-03-01T22:10:41.712304-08:00",
    "assignment_id": None,
    "submission_method": "upload",
    "assignment": {
        "due_date": DUE,
        "group_size": None,
        "group_submission": True,
        "id": 4242,
        "course_id": 777,
        "late_due_date": LATE_DUE,
        "release_date": "2024-02-15T09:00:00.000000-08:00",
        "title": "Homework 1: Backpropagation",
        "total_points": "20.0",
        "outline": [
            {"id": 1, "type": "ProgrammingQuestion", "title": "Autograder", "parent_id": None,
             "weight": "20.0", "content": [], "index": 1},
        ],
    },
    "users": [
        {
            "email": "jdoe@uni.example.edu",
            "id": 1001,
            "name": "Doe, Jane",
            "sid": "20231234",
            "assignment": {
                "release_date": "2024-02-15T09:00:00.000000-08:00",
                "due_date": DUE,
                "late_due_date": LATE_DUE,
            },
        },
        {
            "email": "lwei@uni.example.edu",
            "id": 1002,
            "name": "Li Wei",
            "sid": "",
            "assignment": {
                "release_date": "2024-02-15T09:00:00.000000-08:00",
                "due_date": EXTENDED_DUE,  # an extension
                "late_due_date": EXTENDED_LATE_DUE,
            },
        },
    ],
    "previous_submissions": [
        {
            "id": 234560001,
            "submission_time": "2024-03-01T09:05:00.5Z",  # 21 h 5 min before created_at
            "score": "18.0",
            "autograder_error": False,
        },
        {
            "id": 234560002,
            "submission_time": "2024-03-01T20:00:00.000000-08:00",
            "score": None,
            "autograder_error": True,  # not counted against the student
        },
        {
            "id": 234560003,
            "submission_time": "2024-02-29T20:00:00.000000-08:00",  # 26 h before: outside
            "score": 12.5,
        },
        {
            "id": 234560004,
            "submission_time": "2024-03-01T21:40:00.000000-08:00",
            "score": "19.5",
            "autograder_error": None,
            "results": {
                "score": 19.5, "tests": [{"name": "q1", "score": 5.0, "max_score": 5.0,
                                          "status": None, "tags": None, "output": None}],
                "output": None, "extra_data": {}, "visibility": None, "leaderboard": None,
                "execution_time": "1.25",
            },
        },
    ],
}


def metadata(
    created_at: str,
    due: str = DUE,
    late_due: str | None = LATE_DUE,
    extension: str | None = None,
) -> dict[str, Any]:
    """A copy of METADATA with another submission time and dates (both users on `due`)."""
    data = copy.deepcopy(METADATA)
    data["created_at"] = created_at
    data["assignment"]["due_date"] = due
    data["assignment"]["late_due_date"] = late_due
    for user in data["users"]:
        user["assignment"].update(due_date=due, late_due_date=late_due)
    if extension is not None:
        data["users"][1]["assignment"].update(due_date=extension, late_due_date=None)
    return data


# --- parsing -----------------------------------------------------------------------------


def test_parses_realistic_metadata() -> None:
    """Types, string numbers, nulls, per-student dates and tz-aware times."""
    meta = parse_metadata(METADATA)
    assert meta.id == "234567890"
    assert meta.created_at == datetime(2024, 3, 1, 22, 10, 41, 712304, PST)
    assert meta.assignment.total_points == 20.0
    assert meta.assignment.title == "Homework 1: Backpropagation"
    assert meta.assignment.due_date == datetime(2024, 3, 1, 23, 59, tzinfo=PST)
    assert meta.assignment.late_due_date == datetime(2024, 3, 4, 23, 59, tzinfo=PST)
    assert meta.users[0] == Submitter(
        "Doe, Jane", "jdoe@uni.example.edu", "20231234",
        datetime(2024, 3, 1, 23, 59, tzinfo=PST), datetime(2024, 3, 4, 23, 59, tzinfo=PST),
    )
    assert meta.users[1].sid == ""
    assert meta.users[1].due_date == datetime(2024, 3, 5, 23, 59, tzinfo=PST)
    scores = [p.score for p in meta.previous_submissions]
    assert scores == [18.0, None, 12.5, 19.5]
    errors = [p.autograder_error for p in meta.previous_submissions]
    assert errors == [False, True, False, False]
    first = meta.previous_submissions[0].submission_time
    assert first == datetime(2024, 3, 1, 9, 5, 0, 500000, timezone.utc)


def test_load_metadata_reads_json(tmp_path: Path) -> None:
    """The file form parses the same as the dict form."""
    path = tmp_path / "submission_metadata.json"
    path.write_text(json.dumps(METADATA), encoding="utf-8")
    assert load_metadata(path) == parse_metadata(METADATA)


def test_load_metadata_bad_json(tmp_path: Path) -> None:
    """Unreadable metadata is the instructor's problem, named by path."""
    path = tmp_path / "submission_metadata.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(GraderError, match=r"submission_metadata\.json"):
        load_metadata(path)


def test_minimal_metadata_uses_defaults() -> None:
    """Only created_at and assignment.due_date are required; nulls are tolerated."""
    meta = parse_metadata({
        "created_at": "2024-03-01T10:00:00Z",
        "assignment": {"due_date": DUE, "late_due_date": None, "total_points": None},
        "users": None,
        "previous_submissions": None,
    })
    assert meta.id == ""
    assert meta.assignment.late_due_date is None
    assert meta.assignment.release_date is None
    assert meta.assignment.total_points == 0.0
    assert meta.users == ()
    assert meta.previous_submissions == ()


def test_user_without_per_student_dates() -> None:
    """Older files have no users[].assignment: the submitter's dates are None."""
    meta = parse_metadata({
        "created_at": "2024-03-01T10:00:00Z",
        "assignment": {"due_date": DUE},
        "users": [{"name": "A", "email": "a@x", "id": 1}],
    })
    assert meta.users == (Submitter("A", "a@x", ""),)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.pop("created_at"), "'created_at'"),
        (lambda d: d.update(created_at=None), "'created_at'"),
        (lambda d: d["assignment"].pop("due_date"), "'assignment.due_date'"),
        (lambda d: d.pop("assignment"), "'assignment.due_date'"),
        (lambda d: d["previous_submissions"][1].pop("submission_time"),
         "'previous_submissions[1].submission_time'"),
    ],
)
def test_missing_required_key(change: Any, key: str) -> None:
    """A missing required key is a GraderError naming it."""
    data = copy.deepcopy(METADATA)
    change(data)
    with pytest.raises(GraderError, match=re.escape(f"missing required key {key}")):
        parse_metadata(data)


def test_wrong_types_are_grader_errors() -> None:
    """Structural nonsense is reported, not turned into an AttributeError."""
    with pytest.raises(GraderError, match="expected an object"):
        parse_metadata(["not", "a", "dict"])
    with pytest.raises(GraderError, match="users: expected a list"):
        parse_metadata({**METADATA, "users": "Jane"})
    with pytest.raises(GraderError, match="total_points: not a number"):
        parse_metadata({**METADATA, "assignment": {"due_date": DUE, "total_points": "lots"}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T23:59:00Z", datetime(2024, 3, 1, 23, 59, tzinfo=timezone.utc)),
        ("2024-03-01T23:59:00.5Z", datetime(2024, 3, 1, 23, 59, 0, 500000, timezone.utc)),
        ("2024-03-01T23:59:00.123456789+05:30",
         datetime(2024, 3, 1, 23, 59, 0, 123456, timezone(timedelta(hours=5, minutes=30)))),
        ("2024-03-01 23:59:00.938335000 Z",
         datetime(2024, 3, 1, 23, 59, 0, 938335, timezone.utc)),
        ("2024-03-01T23:59-0800", datetime(2024, 3, 1, 23, 59, tzinfo=PST)),
        ("2024-03-01T23:59:00-08", datetime(2024, 3, 1, 23, 59, tzinfo=PST)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    """Forms Python 3.10's fromisoformat rejects: Z, 1 or 9 fraction digits, space, no colon."""
    parsed = parse_timestamp(text, "k")
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "value", ["2024-03-01T23:59:00", "yesterday", "2024-13-01T00:00:00Z", 1709366340, None]
)
def test_parse_timestamp_refuses(value: object) -> None:
    """No offset, garbage, impossible dates and non-strings are GraderErrors naming the key."""
    with pytest.raises(GraderError, match="created_at"):
        parse_timestamp(value, "created_at")


# --- late policy -------------------------------------------------------------------------

POLICY = LatePolicy(per_day_penalty=0.1, max_penalty=0.5)


def test_on_time() -> None:
    """Before the due date: no penalty."""
    decision = late_decision(parse_metadata(metadata("2024-03-01T23:58:59-08:00")), POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (0, 0.0)
    assert decision.message == "Submitted on time (due 2024-03-01 23:59 UTC-08:00)."


def test_one_minute_late() -> None:
    """One minute late starts the first day."""
    decision = late_decision(parse_metadata(metadata("2024-03-02T00:00:00-08:00")), POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (1, 0.1)
    assert decision.message == (
        "Submitted 1 min after the due date (1 started day at 10 % each): 10 % penalty."
    )


def test_one_and_a_half_days_late_in_another_zone() -> None:
    """1.5 days is two started days; the submission's zone does not matter."""
    created = "2024-03-03T19:59:00Z"  # = 2024-03-03 11:59 -08:00, 1 day 12 h after due
    decision = late_decision(parse_metadata(metadata(created)), POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (2, 0.2)
    assert decision.message == (
        "Submitted 1 day 12 h after the due date (2 started days at 10 % each): 20 % penalty."
    )


def test_penalty_is_capped() -> None:
    """Without a late due date, the per-day penalty stops at max_penalty."""
    data = metadata("2024-03-11T12:00:00-08:00", late_due=None)
    decision = late_decision(parse_metadata(data), POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (10, 0.5)
    assert "capped at 50 %" in decision.message and decision.message.endswith("50 % penalty.")


def test_past_the_late_due_date() -> None:
    """After the late due date the penalty is the cap, whatever the day count."""
    decision = late_decision(parse_metadata(metadata("2024-03-05T00:00:00-08:00")), POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (4, 0.5)
    assert decision.message == (
        "Submitted 3 days 0 h after the due date, after the late deadline "
        "(2024-03-04 23:59 UTC-08:00): 50 % penalty."
    )


def test_extension_of_one_group_member_covers_the_group() -> None:
    """Li Wei's per-student due date (an extension) applies to the group's submission."""
    data = metadata("2024-03-05T12:00:00-08:00", extension=EXTENDED_DUE)
    meta = parse_metadata(data)
    assert effective_due_dates(meta)[0] == datetime(2024, 3, 5, 23, 59, tzinfo=PST)
    decision = late_decision(meta, POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (0, 0.0)
    assert decision.message == "Submitted on time (due 2024-03-05 23:59 UTC-08:00)."


def test_extension_past_the_late_due_date_ignores_it() -> None:
    """An extension beyond the assignment's late due date is not cut off by it."""
    data = metadata("2024-03-06T01:00:00-08:00", extension="2024-03-05T23:59:00-08:00")
    data["users"][1]["assignment"].pop("late_due_date")  # falls back to the assignment's
    decision = late_decision(parse_metadata(data), POLICY)
    assert (decision.days_late, decision.penalty_fraction) == (1, 0.1)


def test_grace_period() -> None:
    """Within the grace period: no penalty, and the message says why."""
    policy = LatePolicy(per_day_penalty=0.1, grace_minutes=5)
    decision = late_decision(parse_metadata(metadata("2024-03-02T00:03:00-08:00")), policy)
    assert (decision.days_late, decision.penalty_fraction) == (0, 0.0)
    assert decision.message == (
        "Submitted 4 min after the due date, within the 5-minute grace period: no late penalty."
    )
    # Days are counted from due + grace: 24 h 4 min after due is still the first day.
    decision = late_decision(parse_metadata(metadata("2024-03-03T00:03:00-08:00")), policy)
    assert (decision.days_late, decision.penalty_fraction) == (1, 0.1)


def test_metadata_without_users_uses_the_assignment_dates() -> None:
    """No users (e.g. a test run): the assignment's due date applies."""
    data = metadata("2024-03-02T00:00:00-08:00")
    data["users"] = []
    assert late_decision(parse_metadata(data), POLICY).days_late == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"per_day_penalty": -0.1}, {"per_day_penalty": 1.5}, {"per_day_penalty": 0.1,
     "max_penalty": 2.0}, {"per_day_penalty": 0.1, "grace_minutes": -1},
     {"per_day_penalty": float("nan")}],
)
def test_invalid_late_policy(kwargs: dict[str, float]) -> None:
    """Impossible policies are an instructor's error."""
    with pytest.raises(GraderError, match="late policy"):
        LatePolicy(**kwargs)


# --- rate limit --------------------------------------------------------------------------


def test_rate_limit_counts_the_24_hours_before_created_at() -> None:
    """Counts 2 (the error run and the one 26 h earlier are not counted), by created_at."""
    meta = parse_metadata(METADATA)  # created 2024: counting by the wall clock would give 0
    decision = rate_decision(meta, RateLimit(per_day=3))
    assert (decision.allowed, decision.used) == (True, 2)
    assert decision.message == "This is submission 3 of the 3 allowed in 24 hours."


def test_rate_limit_reached() -> None:
    """At the limit the submission is refused, with when the next one is possible."""
    decision = rate_decision(parse_metadata(METADATA), RateLimit(per_day=2))
    assert (decision.allowed, decision.used) == (False, 2)
    # The older counted one (2024-03-01 09:05:00.5 UTC) leaves the window 24 h later.
    assert decision.message == (
        "You already made 2 submissions in the 24 hours before this one; the limit is 2, so "
        "this one was not graded (submissions that ended in an autograder error are not "
        "counted). You can submit again after 2024-03-02 09:05 UTC, in 2 h 54 min."
    )


def test_rate_limit_ignores_later_submissions() -> None:
    """Regrading an old submission: submissions after its created_at are not counted."""
    data = copy.deepcopy(METADATA)
    data["created_at"] = "2024-03-01T09:30:00Z"  # before the 21:40 -08:00 submission
    decision = rate_decision(parse_metadata(data), RateLimit(per_day=3))
    assert (decision.allowed, decision.used) == (True, 2)


def test_invalid_rate_limit() -> None:
    """A limit of zero would refuse everything."""
    with pytest.raises(GraderError, match="per_day"):
        RateLimit(per_day=0)
