"""Running a notebook's cells, then the grader's calls, in one sandboxed child: the parent's driver.

The parent sends the child one request (cells and calls, plain data), reads one protocol line per
cell or call, and enforces every deadline itself. A cell or call that hangs past its soft timeout
plus a grace, or that kills the child, is recorded as "timeout" or "crashed"; a fresh child then
re-runs the other cells (skipping the culprit) and goes on with the calls not yet answered,
within `max_restarts` and the notebook's time budget. Nothing the child sends is trusted.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import queue
import re
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.errors import GraderError
from grader.notebook import CodeCell
from grader.sandbox import wire
from grader.sandbox.diagnosis import (
    DISPLAY_PACKAGES,
    CellFacts,
    absent_package_note,
    explain_missing,
    skipped_lines_note,
)
from grader.sandbox.imports import guarded_import_lines
from grader.sandbox.ipython import to_python
from grader.sandbox.isolation import Sandbox, choose_layer
from grader.sandbox.wire import Ref, TestFunction

__all__ = ["Call", "CallResult", "CellReport", "Ref", "SandboxError", "SessionLimits",
           "SessionReport", "TestFunction", "run_session"]

CellStatus = Literal["ok", "error", "timeout", "crashed", "skipped"]
CallStatus = Literal["ok", "error", "timeout", "crashed", "missing", "bad_value", "not_run"]
_CHILD_CELL_STATUSES = frozenset({"ok", "error", "timeout", "skipped"})
_CHILD_CALL_STATUSES = frozenset({"ok", "error", "timeout", "missing", "bad_value", "not_run"})
STARTUP_SECONDS = 30.0
MAX_LINE_BYTES = 128 * 2**20      # above any honest message under wire.DEFAULT_CAPS
MAX_GARBAGE_BYTES = 64 * 2**20    # malformed protocol data before the child counts as crashed
RAW_READ_LIMIT = 16 * 2**20       # bytes read from fds 1 and 2 before the parent stops reading
_CHUNK = 1 << 20
# What one session may keep of what its child sent: the grader's memory per concurrent session
# is bounded by these, whatever the notebook does (see docs/security.md).
SESSION_TEXT_BUDGET = 8 * 2**20   # cell and call messages and outputs, all together
MAX_CONTAINERS = 100_000          # JSON objects and arrays in one protocol line
MAX_COMMAS = 2 * wire.DEFAULT_CAPS.max_items  # JSON values in one protocol line, roughly
_MAX_ABSENT = 20
_PACKAGE_NAME = re.compile(r"[A-Za-z_]\w{0,63}(\.[A-Za-z_]\w{0,63}){0,5}", re.ASCII)
# The child's program: the Landlock module, then the harness (it never imports `grader`).
CHILD_SOURCE = "\n\n".join(Path(__file__).with_name(name).read_text(encoding="utf-8")
                             for name in ("landlock.py", "child.py"))


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


class SandboxError(GraderError):
    """The sandbox failed before any student code ran: a fault of the grader's machine."""


def run_session(cells: Sequence[CodeCell], calls: Sequence[Call], limits: SessionLimits, *,
                submission_dir: Path | None, secret_paths: Sequence[Path] = (),
                isolation: str | None = None) -> SessionReport:
    """Run the cells in order in one namespace, then the calls; see the module docstring."""
    pending = start_session(limits, submission_dir=submission_dir, secret_paths=secret_paths,
                            isolation=isolation)
    return pending.run(cells, calls)


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
        self.first: _Spawned | None = None
        try:
            self.first = _spawn(self.sandbox, limits)
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
            runner = _Runner(cells, _prepare_calls(calls), self.limits)
            first, self.first = self.first, None
            runner.run(self.sandbox, first)
            if runner.landlock.startswith("unavailable"):
                runner.notices.append(f"Landlock was not applied: {runner.landlock}.")
            notices = tuple(dict.fromkeys([*self.sandbox.notices, *runner.notices]))
        finally:
            self.close()
        return SessionReport(self.layer, runner.cell_reports(),
                             runner.call_results(defined_elsewhere or {}), notices,
                             time.monotonic() - self.started, runner.student_notes(), runner.landlock)

    def close(self) -> None:
        """Stop a child that was started but not used, and remove the sandbox's files."""
        if self.first is not None:
            self.first.stop()
            self.first = None
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


@dataclass
class _Spawned:
    """A started child that has been sent its header, waiting for its body."""

    sandbox: Sandbox
    process: subprocess.Popen[bytes]
    reader: Reader
    stopped: bool = False

    def stop(self) -> None:
        """Kill the child and everything it started; safe to call again."""
        if not self.stopped:
            self.stopped = True
            self.sandbox.stop(self.process)
            self.reader.close()


def _spawn(sandbox: Sandbox, limits: SessionLimits) -> _Spawned:
    """Start a child and send the header that confines it."""
    launch = sandbox.launch(CHILD_SOURCE)
    header = {"path": launch.path, "cwd": launch.workdir, "drop": launch.drop,
              "rlimits": launch.rlimits, "landlock": launch.landlock, "seed": launch.seed}
    process = sandbox.spawn(launch)
    reader = Reader(process, limits.output_bytes, wrapped=sandbox.layer == "namespaces")
    reader.send_header(json.dumps(header, allow_nan=False).encode() + b"\n")
    return _Spawned(sandbox, process, reader)


# ---------------------------------------------------------------- requests

@dataclass(frozen=True)
class _Prepared:
    call: Call
    wire: dict[str, Any]
    refs: frozenset[str]


def _prepare_calls(calls: Sequence[Call]) -> list[_Prepared]:
    """Check the calls (the grader's own fault if wrong) and encode their arguments once."""
    seen: set[str] = set()
    refs_of = [frozenset(_refs_in((call.args, tuple(call.kwargs.values())))) for call in calls]
    referenced = set().union(*refs_of)
    out: list[_Prepared] = []
    for call, refs in zip(calls, refs_of, strict=True):
        if not isinstance(call.id, str) or not call.id or call.id in seen:
            raise ValueError(f"call ids must be unique non-empty strings: {call.id!r}")
        if call.timeout <= 0:
            raise ValueError(f"call {call.id!r}: the timeout must be positive")
        unknown = refs - seen
        if unknown:
            raise ValueError(f"call {call.id!r} refers to {sorted(unknown)}, not an earlier call")
        seen.add(call.id)
        encoded = {"id": call.id, "function": call.function,
                   "args": [wire.encode(a) for a in call.args],
                   "kwargs": {str(k): wire.encode(v) for k, v in call.kwargs.items()},
                   "select": call.select, "timeout": float(call.timeout),
                   "return_args": bool(call.return_args), "replay": False,
                   "keep": call.id in referenced}
        out.append(_Prepared(call, encoded, refs))
    return out


def _refs_in(value: object) -> Iterator[str]:
    if isinstance(value, Ref):
        yield value.call_id
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _refs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs_in(item)


# ---------------------------------------------------------------- the driver

@dataclass
class _Item:
    kind: Literal["cell", "call"]
    key: int | str
    soft: float
    replay: bool = False


class _Runner:
    """Runs children until every cell and call has a final result, restarting after a culprit."""

    def __init__(self, cells: Sequence[CodeCell], calls: list[_Prepared],
                 limits: SessionLimits) -> None:
        self.limits = limits
        self.calls = calls
        self.by_id = {p.call.id: p for p in calls}
        self.order = [cell.index for cell in cells]
        self.sources: dict[int, str] = {}
        self.reports: dict[int, CellReport] = {}
        self.final_cells: set[int] = set()
        self.results: dict[str, CallResult] = {}
        self.dead_replays: set[str] = set()
        self.notices: list[str] = []
        self.budget_spent = 0.0  # by the cells, all children together
        self.calls_spent = 0.0  # by the calls: a budget of the same size, of their own
        self.restarts = 0
        self.landlock = "not used"
        self.kept_bytes = 0  # of the child's text kept so far (SESSION_TEXT_BUDGET)
        self.original = {cell.index: cell.source for cell in cells}
        self.skipped_lines: dict[int, list[str]] = {}
        for cell in cells:
            done = to_python(cell.source)
            self.skipped_lines[cell.index] = list(done.notes)
            for note in done.notes:
                self.notices.append(f"Cell {cell.index}: {note}.")
            if done.dropped:
                message = f"{done.notes[0]}."
                self.reports[cell.index] = CellReport(cell.index, "skipped", message, "")
                self.final_cells.add(cell.index)
            else:
                self.sources[cell.index] = done.source

    # ------------------------------------------------------------ results
    def cell_reports(self) -> tuple[CellReport, ...]:
        return tuple(self.reports[i] for i in self.order if i in self.reports)

    def call_results(self, defined_elsewhere: Mapping[str, str]) -> dict[str, CallResult]:
        """Each call's result; a missing function's says why, where the cells tell."""
        facts = [CellFacts(i, self.original[i], r.status, r.message)
                 for i in self.order if (r := self.reports.get(i)) is not None]
        results = {}
        for prepared in self.calls:
            result = self.results[prepared.call.id]
            if result.status == "missing":
                why = explain_missing(prepared.call.function, facts, defined_elsewhere)
                if why:
                    result = dataclasses.replace(result, message=why)
            results[prepared.call.id] = result
        return results

    def student_notes(self) -> tuple[str, ...]:
        """Lines the grader skipped and packages it stood in for, for the top of the results."""
        notes: list[str] = []
        skipped = skipped_lines_note(self.skipped_lines)
        if skipped:
            notes.append(skipped)
        seen: set[str] = set()
        for index in self.order:
            report = self.reports.get(index)
            for package in report.absent if report else ():
                root = package.split(".", 1)[0]
                if root not in seen:
                    seen.add(root)
                    notes.append(absent_package_note(package, index))
        return tuple(notes)

    # ------------------------------------------------------------ the loop
    def run(self, sandbox: Sandbox, spawned: _Spawned | None = None) -> None:
        """Run children until every cell and call is final; `spawned` is an already started one."""
        try:
            self._loop(sandbox, spawned)
        finally:
            if spawned is not None:
                spawned.stop()  # already stopped if it ran; else started early and never used

    def _loop(self, sandbox: Sandbox, spawned: _Spawned | None) -> None:
        first = True
        while True:
            cells = [i for i in self.order if i in self.sources and i not in self.final_cells]
            pending = [p for p in self.calls if p.call.id not in self.results]
            if not pending and all(i in self.reports for i in cells):
                return
            if not first:
                reason = self._cannot_restart()
                if reason:
                    self._finish_unrun(reason)
                    return
                self.restarts += 1
            first = False
            child, spawned = spawned or _spawn(sandbox, self.limits), None
            self._run_child(child, cells, self._with_replays(pending))

    def _cannot_restart(self) -> str | None:
        if self.restarts >= self.limits.max_restarts:
            return (f"Not run: the notebook stopped its Python process {self.restarts + 1} times; "
                    "the grader does not restart it again.")
        if self.limits.notebook_timeout - self.budget_spent <= 0:
            return ("Not run: the notebook used up its total time budget of "
                    f"{self.limits.notebook_timeout:g} s.")
        if self.limits.notebook_timeout - self.calls_spent <= 0:
            return ("Not run: the graded functions used up their total time budget of "
                    f"{self.limits.notebook_timeout:g} s.")
        return None

    def _finish_unrun(self, reason: str) -> None:
        for index in self.order:
            if index not in self.reports:
                self.reports[index] = CellReport(index, "skipped", reason, "")
        for prepared in self.calls:
            self.results.setdefault(prepared.call.id, CallResult(prepared.call.id, "not_run",
                                                                 message=reason))

    def _with_replays(self, pending: list[_Prepared]) -> list[tuple[_Prepared, bool]]:
        """The pending calls, plus earlier answered calls whose results they refer to (replayed)."""
        needed: set[str] = set()
        stack = [ref for p in pending for ref in p.refs]
        while stack:
            call_id = stack.pop()
            result = self.results.get(call_id)
            failed = result is not None and result.status != "ok"
            if call_id in needed or call_id in self.dead_replays or failed:
                continue
            needed.add(call_id)
            stack.extend(self.by_id[call_id].refs)
        wanted = {p.call.id for p in pending} | needed
        return [(p, p.call.id in self.results) for p in self.calls if p.call.id in wanted]

    # ------------------------------------------------------------ one child
    def _run_child(self, child: _Spawned, cells: list[int],
                   calls: list[tuple[_Prepared, bool]]) -> None:
        limits = self.limits
        budget = max(limits.notebook_timeout - self.budget_spent, 0.0)
        request = {
            "output_bytes": limits.output_bytes, "caps": wire.DEFAULT_CAPS.as_dict(),
            "budget": budget,
            "cells": [{"index": i, "source": self.sources[i], "timeout": limits.cell_timeout,
                       "guarded": guarded_import_lines(self.sources[i])} for i in cells],
            "display_packages": sorted(DISPLAY_PACKAGES),
            "calls": [dict(p.wire, replay=replay) for p, replay in calls],
        }
        items = [_Item("cell", i, limits.cell_timeout) for i in cells]
        items += [_Item("call", p.call.id, p.call.timeout, replay) for p, replay in calls]
        reader = child.reader
        try:
            reader.send_request(json.dumps(request, allow_nan=False).encode())
            ready = reader.next_message(time.monotonic() + STARTUP_SECONDS)
            if not (isinstance(ready, dict) and ready.get("t") == "ready"):
                raise SandboxError("the sandboxed Python did not start: "
                                   + (reader.raw_tail() or f"{reader.end_status()}"))
            # Sent before any student code ran: the child's own word on its confinement.
            self.landlock = _landlock_summary(ready.get("landlock"))
            self._read_items(reader, items, budget)
        finally:
            child.stop()
        for note in reader.notes():
            self.notices.append(note)

    def _read_items(self, reader: Reader, items: list[_Item], budget: float) -> None:
        """Read each item's result in order, within the cells' and the calls' time budgets.

        notebook_timeout bounds all cells together and, separately, all calls together: a
        notebook whose cells use up their time still has its functions called, and calls that
        all hang cannot add up to more than the budget. An item gets its own limit or what is
        left of its budget, whichever is smaller.
        """
        started = time.monotonic()
        calls_budget = max(self.limits.notebook_timeout - self.calls_spent, 0.0)
        spent = {"cell": 0.0, "call": 0.0}
        try:
            for item in items:
                left = budget - spent["cell"] if item.kind == "cell" else calls_budget - spent["call"]
                soft = max(min(item.soft, left), 0.0)
                if soft <= 0 and item.kind == "call":
                    return  # out of budget: the runner marks what is left as not run
                deadline = started + soft + _grace(soft)
                while True:
                    message = reader.next_message(deadline)
                    if message is TIMED_OUT or message is ENDED:
                        spent[item.kind] += time.monotonic() - started
                        self._culprit(item, soft, reader, timed_out=message is TIMED_OUT)
                        return
                    if isinstance(message, dict) and self._accept(item, message, reader):
                        break
                    reader.reject()  # well-formed, but not the awaited item's: counts as garbage
                now = time.monotonic()
                spent[item.kind] += now - started
                started = now
        finally:
            self.budget_spent += spent["cell"]
            self.calls_spent += spent["call"]

    # ------------------------------------------------------------ results from the child
    def _text_cap(self) -> int:
        """Bytes the next message and output may keep: the per-item cap, within the session's budget."""
        return max(min(self.limits.output_bytes, SESSION_TEXT_BUDGET - self.kept_bytes), 0)

    def _keep(self, text: str, cap: int) -> str:
        kept = _clip(text, cap) if cap > 0 else (
            "[not kept: this notebook's output and errors used up what the grader keeps of a "
            "session]" if text else "")
        self.kept_bytes += len(kept)
        return kept

    def _accept(self, item: _Item, message: dict[str, Any], reader: Reader) -> bool:
        """Record the child's message if it is the expected item's result, in the right form."""
        cap = self._text_cap()
        status, text, output = message.get("status"), message.get("message"), message.get("output")
        if not (isinstance(text, str) and isinstance(output, str)):
            return False
        if item.kind == "cell":
            if message.get("t") != "cell" or message.get("index") != item.key or \
                    status not in _CHILD_CELL_STATUSES:
                return False
            index = int(item.key)
            kept_text = self._keep(text, cap)
            self.reports[index] = CellReport(index, status, kept_text,
                                             self._keep(output + reader.take_raw(), self._text_cap()),
                                             _package_names(message.get("absent")))
            return True
        if message.get("t") != "call" or message.get("id") != item.key or \
                status not in _CHILD_CALL_STATUSES:
            return False
        output = self._keep(output + reader.take_raw(), cap)
        if not item.replay:
            self.results[str(item.key)] = self._call_result(str(item.key), status, message,
                                                            self._keep(text, self._text_cap()), output)
        return True

    def _call_result(self, call_id: str, status: CallStatus, message: dict[str, Any], text: str,
                     output: str) -> CallResult:
        if status != "ok":
            return CallResult(call_id, status, message=text, output=output)
        call = self.by_id[call_id].call
        function = call.function
        try:
            value = wire.decode(message.get("value"))
            args_after = None
            if call.return_args:
                raw_args = message.get("args_after")
                if type(raw_args) is not list or len(raw_args) != len(call.args):
                    raise wire.WireError("the arguments after the call were not sent back")
                args_after = tuple(wire.decode(a) for a in raw_args)
        except (wire.WireError, RecursionError) as exc:
            return CallResult(call_id, "bad_value", output=output, message=(
                f"What `{function}` returned could not be read by the grader: {exc}."))
        return CallResult(call_id, "ok", value, args_after, text, output)

    def _culprit(self, item: _Item, soft: float, reader: Reader, *, timed_out: bool) -> None:
        """The item running when the child hung or died: final, and skipped from now on."""
        how = "" if timed_out else self._how_it_ended(reader)
        output = self._keep(reader.take_raw(), self._text_cap())
        if item.kind == "cell":
            index = int(item.key)
            if timed_out:
                message = (f"Cell {index} did not finish within {soft:g} s and did not stop when "
                           "asked to, so the grader ended its Python process. The other cells were "
                           "run again without it.")
            else:
                message = (f"Cell {index} ended the Python process running the notebook ({how}). "
                           "The other cells were run again without it.")
            self.reports[index] = CellReport(index, "timeout" if timed_out else "crashed",
                                             message, output)
            self.final_cells.add(index)
            return
        call_id = str(item.key)
        function = self.by_id[call_id].call.function
        if item.replay:
            self.dead_replays.add(call_id)
            self.notices.append(f"Re-running call {call_id} after a restart failed.")
            return
        if timed_out:
            message = (f"`{function}` did not return within {soft:g} s and did not stop when "
                       "asked to, so the grader ended its Python process.")
        else:
            message = f"`{function}` ended the Python process running the notebook ({how})."
        status: CallStatus = "timeout" if timed_out else "crashed"
        self.results[call_id] = CallResult(call_id, status, message=message, output=output)
        # The function's other calls would do the same and cost a restart each: not run again.
        why = "did not return in time" if timed_out else "ended the notebook's Python process"
        for prepared in self.calls:
            other = prepared.call
            if other.function == function and other.id not in self.results:
                self.results[other.id] = CallResult(
                    other.id, status, message=f"Not called: an earlier call of `{function}` {why}.")

    def _how_it_ended(self, reader: Reader) -> str:
        if reader.flooded:
            return "it wrote too much malformed data to the grader's channel"
        status = reader.end_status()
        for _ in range(50):  # the channel closes a moment before the process is seen to exit
            if status is not None:
                break
            time.sleep(0.01)
            status = reader.end_status()
        if status is None:
            return "it closed the grader's channel"
        kind, number = status
        if kind == "exit" and number == 70:
            return ("the grader's harness inside it failed, as it does when the notebook's code "
                    "closes or replaces what the harness needs")
        if kind == "exit":
            return f"it exited with code {number}, as os._exit() or a crash in compiled code does"
        if number == getattr(signal, "SIGKILL", None):
            return "it was killed (SIGKILL), most often for using more memory than allowed"
        if number == getattr(signal, "SIGXCPU", None):
            return f"it used more than its {self.limits.cpu_seconds} s of CPU time"
        if number == signal.SIGSEGV:
            return "it crashed with a segmentation fault"
        try:
            return f"it was killed by {signal.Signals(number).name}"
        except ValueError:
            return f"it was killed by signal {number}"


def _landlock_summary(value: object) -> str:
    """"ABI n" if the child confined itself with Landlock, else why not."""
    if isinstance(value, dict) and value.get("applied") is True and isinstance(value.get("abi"), int):
        return f"ABI {value['abi']}"
    reason = value.get("reason") if isinstance(value, dict) else None
    return f"unavailable ({reason})" if isinstance(reason, str) and reason else "unavailable"


def _package_names(value: object) -> tuple[str, ...]:
    """The child's list of packages it stood in for: names only, a few, or nothing."""
    if type(value) is not list:
        return ()
    return tuple(v for v in value[:_MAX_ABSENT] if type(v) is str and _PACKAGE_NAME.fullmatch(v))


def _grace(soft: float) -> float:
    """Time past a soft timeout before the parent kills: for the child to report it itself."""
    return 1.0 + 0.1 * soft


def _clip(text: str, cap: int) -> str:
    # Lone surrogates (from the child's "surrogateescape" or a student's str) cannot be written
    # as UTF-8 later: replace them here, where untrusted text enters the grader.
    data = text.encode("utf-8", "replace")
    if len(data) <= cap + 200:  # room for the child's own "not shown" line
        return data.decode("utf-8", "replace")
    shown = data[:cap].decode("utf-8", "ignore")
    return f"{shown}\n[... {len(data) - cap:,} more bytes not shown]"


# ---------------------------------------------------------------- reading the child

class Signal(enum.Enum):
    """What `Reader.next_message` returns instead of a message."""

    ENDED = "ended"
    TIMED_OUT = "timed out"


ENDED, TIMED_OUT = Signal.ENDED, Signal.TIMED_OUT


class Reader:
    """The child's protocol lines and raw output, read with deadlines; survives garbage and floods.

    The protocol pipe is the child's stdout, the raw pipe its stderr (where its fds 1 and 2 go).
    Memory stays bounded whatever the child writes: raw output keeps `output_cap` bytes per cell or
    call and stops being read after RAW_READ_LIMIT; a protocol line longer than MAX_LINE_BYTES is
    discarded, and MAX_GARBAGE_BYTES of discarded data end the child.
    """

    def __init__(self, process: subprocess.Popen[bytes], output_cap: int, *, wrapped: bool) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.process = process
        self.output_cap = output_cap
        self.wrapped = wrapped  # bwrap reports a child killed by signal N as exit code 128 + N
        self.lines: deque[bytes] = deque()
        self.buffer = bytearray()
        self.discarding = False
        self.raw = bytearray()
        self.raw_dropped = 0
        self.raw_read = 0
        self.garbage_lines = 0
        self.garbage_bytes = 0
        self.last_size = 0  # of the last line parsed
        self.proto_open = True
        self.exited = False
        self.flooded = False
        pump_type = _SelectorPump if os.name == "posix" else _ThreadPump
        self.pump = pump_type(process)

    def send_header(self, data: bytes) -> None:
        """Write the first line of the request now; it is small enough for the pipe's buffer."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.flush()
        except (OSError, ValueError):
            pass  # the child died at once: the reader reports how

    def send_request(self, data: bytes) -> None:
        """Write the request to the child's stdin from a thread (a dead child must not block us)."""
        stdin = self.process.stdin
        assert stdin is not None

        def write() -> None:
            for step in (lambda: stdin.write(data), stdin.close, stdin.close):
                try:
                    step()
                except (OSError, ValueError):
                    pass  # the child died (the reader reports how); closing again frees the fd

        threading.Thread(target=write, daemon=True).start()

    def next_message(self, deadline: float) -> dict[str, Any] | Signal:
        """The next well-formed message, or ENDED (child gone or channel closed) or TIMED_OUT."""
        while True:
            while self.lines:
                message = self._parse(self.lines.popleft())
                if message is not None:
                    return message
            if self.exited or self.flooded or not self.proto_open:
                return ENDED
            left = deadline - time.monotonic()
            if left <= 0:
                return TIMED_OUT
            self._handle(self.pump.wait(left))

    def _handle(self, events: list[tuple[str, bytes]]) -> None:
        for source, data in events:
            if source == "exit":
                # Whatever the child wrote before it died is already in the pipes.
                self._handle(self.pump.drain())
                self.exited = True
            elif source == "proto":
                if data:
                    self._feed(data)
                else:
                    self.proto_open = False
            elif data:
                self._feed_raw(data)

    def _feed(self, data: bytes) -> None:
        search_from = len(self.buffer)
        self.buffer += data
        while (end := self.buffer.find(b"\n", search_from)) >= 0:
            with memoryview(self.buffer) as view:
                line = bytes(view[:end])  # one copy, not two
            del self.buffer[: end + 1]
            search_from = 0
            if self.discarding:
                self.discarding = False
                self.garbage_lines += 1
            else:
                self.lines.append(line)
        if len(self.buffer) > MAX_LINE_BYTES:
            self.garbage_bytes += len(self.buffer)
            self.buffer.clear()
            self.discarding = True
        if self.garbage_bytes > MAX_GARBAGE_BYTES:
            self.flooded = True

    def reject(self) -> None:
        """The last message was well-formed but not wanted: it counts toward the flood cap."""
        self.garbage_lines += 1
        self.garbage_bytes += self.last_size
        self.flooded = self.garbage_bytes > MAX_GARBAGE_BYTES

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        self.last_size = len(line)
        message = None
        # Counted before json.loads builds anything: a line of a million empty objects would
        # cost gigabytes as Python dicts, though it is only megabytes of text.
        if line.count(b"{") + line.count(b"[") <= MAX_CONTAINERS and line.count(b",") <= MAX_COMMAS:
            try:
                message = wire.loads_line(line)
            except (ValueError, RecursionError):
                message = None
        if isinstance(message, dict) and isinstance(message.get("t"), str):
            return message
        self.garbage_lines += 1
        self.garbage_bytes += len(line)
        self.flooded = self.garbage_bytes > MAX_GARBAGE_BYTES
        return None

    def _feed_raw(self, data: bytes) -> None:
        self.raw_read += len(data)
        room = self.output_cap - len(self.raw)
        self.raw += data[: max(room, 0)]
        self.raw_dropped += max(len(data) - max(room, 0), 0)
        if self.raw_read > RAW_READ_LIMIT:
            # Stop reading: further writes to fds 1 and 2 fail in the child (EPIPE), not here.
            self.pump.stop_raw()

    def take_raw(self) -> str:
        """Output written straight to fds 1 and 2 since the last call, decoded, then cleared."""
        text = self.raw.decode("utf-8", "replace")
        if self.raw_dropped:
            text += f"\n[... {self.raw_dropped:,} more bytes of output not shown]"
        self.raw.clear()
        self.raw_dropped = 0
        return text

    def raw_tail(self) -> str:
        """The raw output so far, for the grader's own error messages."""
        return self.raw.decode("utf-8", "replace").strip()[-2000:]

    def end_status(self) -> tuple[str, int] | None:
        """("exit", code) or ("signal", number) if the child has ended, without reaping it."""
        if os.name != "posix" or not hasattr(os, "waitid"):  # Windows; macOS before Python 3.13
            code = self.process.poll()
            if code is None:
                return None
            return ("signal", -code) if code < 0 else ("exit", code)
        try:
            info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = None
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            if self.wrapped and info.si_status > 128:
                return "signal", info.si_status - 128
            return "exit", info.si_status
        return "signal", info.si_status

    def notes(self) -> list[str]:
        """Notices about tampering with the protocol channel, for the staff."""
        if not self.garbage_lines and not self.flooded:
            return []
        note = (f"The notebook's process wrote {self.garbage_lines} malformed line(s) to the "
                "grader's channel")
        return [note + (", too much to keep reading." if self.flooded else ".")]

    def close(self) -> None:
        """Release the pipes (call after the child has been killed)."""
        self.pump.close()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class _SelectorPump:
    """POSIX: non-blocking pipes in one thread, and a pidfd (Linux) or polling for the exit."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.pid = process.pid
        self.selector = selectors.DefaultSelector()
        self.raw_stream = process.stderr
        self.fds = {"proto": process.stdout.fileno(), "raw": process.stderr.fileno()}
        for name, fd in self.fds.items():
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, name)
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(self.pid)
                self.selector.register(self.pidfd, selectors.EVENT_READ, "exit")
            except OSError:
                self.pidfd = None

    def wait(self, timeout: float) -> list[tuple[str, bytes]]:
        if self.pidfd is None:
            timeout = min(timeout, 0.05)
        events: list[tuple[str, bytes]] = []
        for key, _ in self.selector.select(timeout):
            if key.data == "exit":
                self.selector.unregister(key.fd)
                events.append(("exit", b""))
            else:
                events.extend(self._read(key.data))
        if self.pidfd is None and self._exited():
            events.append(("exit", b""))
        return events

    def _exited(self) -> bool:
        try:
            if not hasattr(os, "waitid"):  # macOS before Python 3.13: ask without reaping
                os.kill(self.pid, 0)
                return _is_zombie(self.pid)
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except (ChildProcessError, ProcessLookupError):
            return True

    def _read(self, name: str) -> list[tuple[str, bytes]]:
        fd = self.fds.get(name)
        if fd is None:
            return []
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(fd)
            del self.fds[name]
        return [(name, data)]

    def drain(self) -> list[tuple[str, bytes]]:
        """What is in the pipes now; bounded, since a surviving fork may still be writing."""
        events: list[tuple[str, bytes]] = []
        for name in ("proto", "raw"):
            for _ in range(MAX_LINE_BYTES // _CHUNK + 2):
                got = self._read(name)
                events.extend(got)
                if not got or not got[0][1]:
                    break
        return events

    def stop_raw(self) -> None:
        fd = self.fds.pop("raw", None)
        if fd is not None:
            self.selector.unregister(fd)
            self.raw_stream.close()

    def close(self) -> None:
        self.selector.close()
        if self.pidfd is not None:
            os.close(self.pidfd)


class _ThreadPump:
    """Windows: pipes cannot be selected there, so threads read them into a queue."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.ignore_raw = False
        for name, stream in (("proto", process.stdout), ("raw", process.stderr)):
            threading.Thread(target=self._pipe, args=(name, stream.fileno()), daemon=True).start()
        threading.Thread(target=self._wait, args=(process,), daemon=True).start()

    def _wait(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self.queue.put(("exit", b""))

    def _pipe(self, name: str, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except OSError:
                data = b""
            self.queue.put((name, data))
            if not data:
                return

    def wait(self, timeout: float) -> list[tuple[str, bytes]]:
        try:
            events = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.queue.empty():
            events.append(self.queue.get_nowait())
        return [e for e in events if not (self.ignore_raw and e[0] == "raw")]

    def drain(self) -> list[tuple[str, bytes]]:
        return self.wait(0.1)

    def stop_raw(self) -> None:
        self.ignore_raw = True

    def close(self) -> None:
        pass


def _is_zombie(pid: int) -> bool:
    """Whether a process has exited but not been reaped (via `ps`, where /proc is absent)."""
    try:
        state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True,
                               timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return not state or state.startswith("Z")
