"""Errors of the grader itself, as opposed to faults in a student's work.

A student's fault (a missing file, a crashing cell, a wrong shape) is never an exception that
leaves the engine: it becomes a graded outcome with a message. The classes here are for the
people who run the grader: an instructor's broken rubric, a bad command-line argument. The CLI
catches `GraderError` at its edge and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class GraderError(Exception):
    """A fault of the grader's configuration or invocation: reported to the instructor, exit 2."""


class RubricError(GraderError):
    """An invalid rubric, located by file, key and line."""

    def __init__(self, path: Path | str, key: str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {key}: {message}")


class StudentFileError(Exception):
    """A student's file that cannot be used; the message is addressed to the student.

    Raised inside loaders and caught by the engine, which turns it into score 0 on the items
    that need the file, with this message as their feedback.
    """
