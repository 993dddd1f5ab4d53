"""The driver: runs children until every cell and call has a final result, restarting after a
culprit (a cell or call that hangs or kills its child), within the notebook's time budgets."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grader.notebook import CodeCell
from grader.sandbox import wire
from grader.sandbox.diagnosis import (
    DISPLAY_PACKAGES,
    CellFacts,
    absent_package_note,
    bound_names,
    explain_missing,
    skipped_lines_note,
)
from grader.sandbox.imports import guarded_import_lines
from grader.sandbox.ipython import to_python
from grader.sandbox.isolation import Sandbox
from grader.sandbox.protocol import CHILD_CALL_STATUSES, CHILD_CELL_STATUSES, HARNESS_FAULT_EXIT
from grader.sandbox.reader import ENDED, TIMED_OUT, Reader
from grader.sandbox.requests import Prepared
from grader.sandbox.spawn import Spawned, spawn_child
from grader.sandbox.types import CallResult, CallStatus, CellReport, SandboxError, SessionLimits

STARTUP_SECONDS = 30.0
# What one session may keep of what its child sent: the grader's memory per concurrent session
# is bounded by these, whatever the notebook does (see docs/security.md).
SESSION_TEXT_BUDGET = 8 * 2**20   # cell and call messages and outputs, all together
_MAX_ABSENT = 20
_NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
_PACKAGE_NAME = re.compile(r"[A-Za-z_]\w{0,63}(\.[A-Za-z_]\w{0,63}){0,5}", re.ASCII)


@dataclass
class _Item:
    kind: Literal["cell", "call"]
    key: int | str
    soft: float
    replay: bool = False


class Runner:
    """Runs children until every cell and call has a final result, restarting after a culprit."""

    def __init__(self, cells: Sequence[CodeCell], calls: list[Prepared],
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
        self.seccomp = False  # whether the child installed its seccomp filter (it says so when ready)
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
        missing = {p.call.function for p in self.calls if self.results[p.call.id].status == "missing"}
        # A graded function that fails because a helper it calls is not defined (left in a raw
        # cell, or its cell failed): the same explanation, for the helper.
        undefined = {name for p in self.calls if self.results[p.call.id].status == "error"
                     for name in _NAME_ERROR.findall(self.results[p.call.id].message[-500:])}
        reasons: dict[str, str | None] = {}
        if missing or undefined:
            index = bound_names(facts)  # once per session, whatever the number of calls
            for function in missing | undefined:
                try:
                    reasons[function] = explain_missing(function, facts, defined_elsewhere, index)
                except Exception:  # a better message is not worth a failed grading
                    reasons[function] = None
        results = {}
        for prepared in self.calls:
            result = self.results[prepared.call.id]
            if result.status == "missing" and reasons.get(prepared.call.function):
                result = dataclasses.replace(result, message=reasons[prepared.call.function] or "")
            elif result.status == "error":
                names = _NAME_ERROR.findall(result.message[-500:])
                why = reasons.get(names[-1]) if names else None
                if why:
                    result = dataclasses.replace(result, message=f"{result.message.rstrip()}\n{why}")
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
    def run(self, sandbox: Sandbox, spawned: Spawned | None = None) -> None:
        """Run children until every cell and call is final; `spawned` is an already started one."""
        try:
            self._loop(sandbox, spawned)
        finally:
            if spawned is not None:
                spawned.stop()  # already stopped if it ran; else started early and never used

    def _loop(self, sandbox: Sandbox, spawned: Spawned | None) -> None:
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
            child, spawned = spawned or spawn_child(sandbox, self.limits), None
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

    def _with_replays(self, pending: list[Prepared]) -> list[tuple[Prepared, bool]]:
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
    def _run_child(self, child: Spawned, cells: list[int],
                   calls: list[tuple[Prepared, bool]]) -> None:
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
            self.seccomp = ready.get("seccomp") is True
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
                    status not in CHILD_CELL_STATUSES:
                return False
            index = int(item.key)
            kept_text = self._keep(text, cap)
            self.reports[index] = CellReport(index, status, kept_text,
                                             self._keep(output + reader.take_raw(), self._text_cap()),
                                             _package_names(message.get("absent")))
            return True
        if message.get("t") != "call" or message.get("id") != item.key or \
                status not in CHILD_CALL_STATUSES:
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
        if kind == "exit" and number == HARNESS_FAULT_EXIT:
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
