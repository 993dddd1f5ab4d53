"""Gradescope integration: submission metadata, late and rate-limit policy, bulk exports."""

from grader.gradescope.export import EXPORT_LIMITS, ExportedSubmission, read_export
from grader.gradescope.metadata import (
    DEFAULT_METADATA_PATH,
    AssignmentDates,
    PreviousSubmission,
    SubmissionMetadata,
    Submitter,
    load_metadata,
    parse_metadata,
    parse_timestamp,
)
from grader.gradescope.policy import (
    LateDecision,
    LatePolicy,
    RateDecision,
    RateLimit,
    effective_due_dates,
    late_decision,
    rate_decision,
)

__all__ = [
    "DEFAULT_METADATA_PATH",
    "EXPORT_LIMITS",
    "AssignmentDates",
    "ExportedSubmission",
    "LateDecision",
    "LatePolicy",
    "PreviousSubmission",
    "RateDecision",
    "RateLimit",
    "SubmissionMetadata",
    "Submitter",
    "effective_due_dates",
    "late_decision",
    "load_metadata",
    "parse_metadata",
    "parse_timestamp",
    "rate_decision",
    "read_export",
]
