"""Feedback on calls into a student's notebook, shared by the grader's checks and the student kit.

One place for these messages, so that the kit (which cannot import the grader's checks) says
exactly what Gradescope says. Imports only numpy, the sandbox's data types and arrays.py.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from grader.checks.arrays import describe
from grader.outcome import Outcome
from grader.sandbox.session import Call, CallResult, Ref, SessionReport, TestFunction

# Inputs are shown on one line and kept short, so that the verdict after them (which entries
# differ, expected and got) stays readable; the exact public inputs are in public_checks.json.
_FULL_ENTRIES = 16  # an array of at most this many entries is shown in full...
_FULL_CHARS = 160  # ...if it fits in this many characters
_HEAD_ENTRIES = 4  # else its shape and first entries (the first row of an (N, 4) batch)
_DICT_CHARS = 200  # a dict of arrays longer than this shows its arrays' shapes only
QUOTE = "    "
"""Indent of text quoted from the student's code (tracebacks, printed output) in feedback."""


def _show_array(value: np.ndarray) -> str:
    """An array on one line: in full if small (exact: edge values such as -1 - 1e-12 must show)."""
    if value.dtype.kind not in "biuf":
        return describe(value)
    full = repr(value.tolist())  # Python floats print the shortest exact form
    if value.size <= _FULL_ENTRIES and len(full) <= _FULL_CHARS:
        return f"array{value.shape} {full}"
    head = ", ".join(f"{v:.6g}" for v in value.ravel()[:_HEAD_ENTRIES].tolist())
    return f"array{value.shape} starting {head}, …"


def show_value(value: Any) -> str:
    """A compact one-line rendering of an input, for feedback on visible items."""
    if isinstance(value, np.ndarray):
        return _show_array(value)
    if isinstance(value, dict):
        shown = "{" + ", ".join(f"{k!r}: {show_value(v)}" for k, v in value.items()) + "}"
        if len(shown) <= _DICT_CHARS:
            return shown
        # Too long to read: the keys and shapes say which input it is.
        return "{" + ", ".join(f"{k!r}: {_shape(v)}" for k, v in value.items()) + "}"
    text = repr(value)
    return text if len(text) <= _FULL_CHARS else text[: _FULL_CHARS - 1] + "…"


def _shape(value: Any) -> str:
    """`array(3, 4)` for an array, else the value as `show_value` shows it."""
    return f"array{value.shape}" if isinstance(value, np.ndarray) else show_value(value)


def quoted(text: str) -> str:
    """Text from the student's code, indented so that a reader (and the kit's report) tells it apart."""
    return textwrap.indent(text.strip("\n"), QUOTE, lambda line: True)


def describe_call(call: Call, show_inputs: bool) -> str:
    """`name(args)` with inputs shown for visible items, or with their shapes only."""
    def one(value: Any) -> str:
        if isinstance(value, Ref):
            return "<result of an earlier call>"
        if isinstance(value, TestFunction):
            return f"f = {value.source}"
        if show_inputs:
            return show_value(value)
        return describe(value)
    return f"{call.function}(" + ", ".join(one(a) for a in call.args) + ")"


def call_problem(call: Call, result: CallResult | None, show_inputs: bool) -> str | None:
    """A student-facing message if the call did not return a value, else None."""
    if result is not None and result.status == "ok":
        return None
    called = describe_call(call, show_inputs)
    if result is not None and result.status == "error" and result.message.strip().endswith("NotImplementedError"):
        return f"{call.function} is not implemented yet (it raises NotImplementedError)."
    if result is None or result.status == "not_run":
        return f"{call.function} was not called: the notebook ran out of time or crashed before it."
    output = f"\nIt printed:\n{quoted(result.output)}" if result.output.strip() else ""
    messages = {
        "missing": (f"{result.message} (The notebook must define {call.function} in a code cell that "
                    "runs without an error.)" if result.message.startswith(f"`{call.function}` is not defined:")
                    else f"The notebook does not define {call.function} (check its name, and that the cell "
                    "defining it runs without an error)."),
        "error": f"Calling {called} raised an error:\n{quoted(result.message)}{output}",
        "timeout": f"Calling {called} did not finish within {call.timeout:g} s.",
        "crashed": f"Calling {called} crashed the Python process ({result.message}).",
        "bad_value": f"{called} returned a value the grader cannot read: {result.message}",
    }
    return messages.get(result.status, f"Calling {called} failed: {result.message}")


_SHOWN_FAILURES = 3


def score_cases(feedback_ok: str, failures: list[str], total: int, partial: bool) -> Outcome:
    """Full marks if nothing failed; else the share of cases passed (if partial) and the first problems."""
    passed = total - len(failures)
    if not failures:
        return Outcome.full(feedback_ok)
    fraction = passed / total if partial else 0.0
    head = f"{passed} of {total} cases passed." if total > 1 else ""
    distinct = list(dict.fromkeys(failures))  # one "not implemented" line, not one per case
    shown: list[str] = []
    seen: set[str] = set()
    for failure in distinct[:_SHOWN_FAILURES]:
        first, _, body = failure.partition("\n")
        # The same traceback under another input is said once: the student reads it once.
        shown.append(f"{first.rstrip(':')} (the same error as above)." if body and body in seen else failure)
        seen.add(body)
    if len(distinct) > _SHOWN_FAILURES:
        more = len(distinct) - _SHOWN_FAILURES
        shown.append(f"({more} more failing case{'s' * (more > 1)} not shown.)")
    return Outcome(fraction, "\n".join([head, *shown]).strip())


def notebook_summary(report: SessionReport) -> list[str]:
    """What went wrong in the notebook's cells, for the student (their own tracebacks)."""
    lines = list(report.student_notes)
    for cell in report.cells:
        if cell.status == "error":
            lines.append(f"Notebook cell {cell.index} raised an error (the cells after it still ran):\n"
                         f"{cell.message.strip()}")
        elif cell.status in ("timeout", "crashed"):
            lines.append(f"Notebook cell {cell.index} {'ran out of time' if cell.status == 'timeout' else 'crashed'}"
                         f" and was skipped: {cell.message.strip()}")
    return lines
