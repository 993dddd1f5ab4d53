"""Running a notebook's cells, then the grader's calls, in one sandboxed child: the entry points.

The parent sends the child one request (cells and calls, plain data), reads one protocol line per
cell or call, and enforces every deadline itself. A cell or call that hangs past its soft timeout
plus a grace, or that kills the child, is recorded as "timeout" or "crashed"; a fresh child then
re-runs the other cells (skipping the culprit) and goes on with the calls not yet answered,
within `max_restarts` and the notebook's time budget. Nothing the child sends is trusted.

Where things are: the public types in `types.py`, the calls' encoding in `requests.py`, the
restart logic in `runner.py`, reading the child's pipes in `reader.py`, the facts both sides of
the protocol share in `protocol.py`, and the child itself in `child.py`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader.notebook import CodeCell
from grader.sandbox.isolation import Sandbox, choose_layer
from grader.sandbox.reader import MAX_GARBAGE_BYTES, MAX_LINE_BYTES
from grader.sandbox.requests import prepare_calls
from grader.sandbox.runner import SESSION_TEXT_BUDGET, Runner
from grader.sandbox.spawn import CHILD_SOURCE, Spawned, spawn_child
from grader.sandbox.types import (
    Call,
    CallResult,
    CallStatus,
    CellReport,
    CellStatus,
    SandboxError,
    SessionLimits,
    SessionReport,
)
from grader.sandbox.wire import Ref, TestFunction

__all__ = ["CHILD_SOURCE", "MAX_GARBAGE_BYTES", "MAX_LINE_BYTES", "SESSION_TEXT_BUDGET", "Call", "CallResult",
           "CallStatus", "CellReport", "CellStatus", "Ref", "SandboxError", "SessionLimits", "SessionReport",
           "TestFunction", "run_session", "start_session"]




def run_session(cells: Sequence[CodeCell], calls: Sequence[Call], limits: SessionLimits, *,
                submission_dir: Path | None, secret_paths: Sequence[Path] = (),
                isolation: str | None = None,
                defined_elsewhere: Mapping[str, str] | None = None) -> SessionReport:
    """Run the cells in order in one namespace, then the calls; see the module docstring."""
    pending = start_session(limits, submission_dir=submission_dir, secret_paths=secret_paths,
                            isolation=isolation)
    return pending.run(cells, calls, defined_elsewhere=defined_elsewhere)


def start_session(limits: SessionLimits, *, submission_dir: Path | None, secret_paths: Sequence[Path] = (),
                  isolation: str | None = None) -> PendingSession:
    """Set up the sandbox and start its first child now; `run` it once the calls are planned.

    The child's interpreter and numpy import (most of a session's cost) then overlap with the
    grader's own work on the submission. Call `run` or `close` exactly once.
    """
    return PendingSession(limits, submission_dir, secret_paths, isolation)


class PendingSession:
    """A sandbox whose first child is already starting."""

    def __init__(self, limits: SessionLimits, submission_dir: Path | None, secret_paths: Sequence[Path],
                 isolation: str | None) -> None:
        self.started = time.monotonic()
        self.limits = limits
        self.layer = choose_layer(isolation)
        self.sandbox: Sandbox | None = Sandbox(self.layer, limits, submission_dir, secret_paths)
        self.first: Spawned | None = None
        try:
            if self.sandbox.warm_pending is None:
                # A fresh interpreter starts now, overlapping the grader's checks; a warm
                # process is starting meanwhile instead, and its fork costs little at `run`.
                self.first = spawn_child(self.sandbox, limits)
        except BaseException:
            self.close()
            raise

    def run(self, cells: Sequence[CodeCell], calls: Sequence[Call], *,
            defined_elsewhere: Mapping[str, str] | None = None) -> SessionReport:
        """Run the cells in order in one namespace, then the calls, and end the session.

        `defined_elsewhere` maps a function name to a sentence saying where the notebook defines
        it outside a code cell (a raw or markdown cell): the reason given if it is missing.
        """
        if self.sandbox is None:
            raise RuntimeError("this session has already run or been closed")
        try:
            runner = Runner(cells, prepare_calls(calls), self.limits)
            first, self.first = self.first, None
            runner.run(self.sandbox, first)
            if runner.landlock.startswith("unavailable"):
                runner.notices.append(f"Landlock was not applied: {runner.landlock}.")
            if not runner.seccomp:
                runner.notices.append("The child's seccomp filter was not installed (not Linux x86_64/aarch64, "
                                      "or the kernel refused it): no socket, keyring or ptrace rule applied.")
            notices = tuple(dict.fromkeys([*self.sandbox.notices, *runner.notices]))
            process = self.sandbox.process_mode
        finally:
            self.close()
        return SessionReport(self.layer, runner.cell_reports(),
                             runner.call_results(defined_elsewhere or {}), notices,
                             time.monotonic() - self.started, runner.student_notes(), runner.landlock,
                             runner.seccomp, process)

    def close(self) -> None:
        """Stop a child that was started but not used, and remove the sandbox's files."""
        if self.first is not None:
            self.first.stop()
            self.first = None
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
