"""The sandbox's public types: a call, the session's limits, and what a session reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from grader.errors import GraderError

CellStatus = Literal["ok", "error", "timeout", "crashed", "skipped"]
CallStatus = Literal["ok", "error", "timeout", "crashed", "missing", "bad_value", "not_run"]


@dataclass(frozen=True)
class Call:
    """One call of a notebook function with plain-data arguments."""

    id: str
    function: str
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict)
    select: int | str | None = None
    timeout: float = 5.0
    return_args: bool = False


@dataclass(frozen=True)
class SessionLimits:
    """Time, memory, process and output limits of one session."""

    cell_timeout: float = 10.0
    notebook_timeout: float = 60.0
    memory_mb: int = 1536
    cpu_seconds: int = 120
    max_processes: int = 64
    max_open_files: int = 256
    output_bytes: int = 64_000
    max_restarts: int = 3
    extra_packages: tuple[str, ...] = ()
    file_mb: int = 64


@dataclass(frozen=True)
class CellReport:
    """What happened to one code cell; `message` holds the student's own traceback lines."""

    index: int
    status: CellStatus
    message: str
    output: str
    absent: tuple[str, ...] = ()   # packages the grader lacks that this cell imported


@dataclass(frozen=True)
class CallResult:
    """What one call returned (decoded strictly), or why it did not."""

    id: str
    status: CallStatus
    value: object = None
    args_after: tuple[object, ...] | None = None
    message: str = ""
    output: str = ""


@dataclass(frozen=True)
class SessionReport:
    """Everything a session produced: the layer used, per-cell and per-call results, notices."""

    layer: str
    cells: tuple[CellReport, ...]
    calls: Mapping[str, CallResult]
    notices: tuple[str, ...]
    wall_seconds: float
    student_notes: tuple[str, ...] = ()  # what the student reads about the notebook as a whole
    landlock: str = "not used"  # "ABI 7", or why the child could not confine itself with it
    seccomp: bool = False  # whether the child installed its seccomp filter (Linux x86_64/aarch64)
    process: str = "fresh interpreter"  # or "warm fork"; a fresh interpreter says why not warm


class SandboxError(GraderError):
    """The sandbox failed before any student code ran: a fault of the grader's machine."""
