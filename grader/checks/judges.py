"""The judges of notebook calls, shared by the grader's checks and the student kit's self-check.

A judge scores a list of cases (a call, the value it must return, the arguments it must leave
as they were) from the calls' results. The grader's `function_values` and an assignment's own
checks call these; the student kit copies this module (grader/student_kit.py, VENDORED) and
runs the same judge on the public cases, named by the check's `KitHints.judge`. So a public
item reads the same in the kit as on Gradescope, and a judge is changed in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grader.checks.arrays import dict_mismatches, mismatch
from grader.checks.feedback import call_problem, describe_call, score_cases
from grader.outcome import Outcome
from grader.sandbox.types import Call, CallResult

Results = Mapping[str, CallResult]
# An input "left unchanged" may differ by rounding: x[i] += eps; ...; x[i] -= eps restores x only to
# the last bits, and is what students write. A real change (an update in place) is far larger.
UNCHANGED_RTOL, UNCHANGED_ATOL = 1e-12, 1e-12


@dataclass(frozen=True)
class Case:
    """One call, the value it must return, and the arguments it must leave as they were."""

    call: Call
    expected: Any
    unchanged: tuple[tuple[int, str], ...] = ()  # (argument index, name)


@dataclass(frozen=True)
class Rules:
    """How a judge compares: tolerances, partial credit, what a full pass says, what inputs show."""

    rtol: float
    atol: float
    partial: bool = True
    passed_message: str = "All cases are correct."
    show_inputs: bool = True
    compared: str = ""  # e.g. "the exact gradient": what the expected value is, for the feedback


def judge_values(cases: Sequence[Case], results: Results, rules: Rules) -> Outcome:
    """Each case's value against its expected value; partial credit per case if allowed."""
    def verdict(case: Case, result: CallResult) -> str | None:
        # Whether it matches does not depend on the description, which is built only for a message.
        if mismatch(case.expected, result.value, rtol=rules.rtol, atol=rules.atol) is None:
            return None
        shown = describe_call(case.call, rules.show_inputs)
        if rules.compared:
            return mismatch(case.expected, result.value, rtol=rules.rtol, atol=rules.atol,
                            what=f"{shown} (compared with {rules.compared})")
        problem = mismatch(case.expected, result.value, rtol=rules.rtol, atol=rules.atol,
                           what=f"{shown} returned a result that")
        return problem and problem.replace("returned a result that:", "returned a result that differs:")

    return _each_case(cases, results, rules, verdict)


def judge_values_inputs_unchanged(cases: Sequence[Case], results: Results, rules: Rules) -> Outcome:
    """Each case's value against its expected value, with the arguments it names left unchanged."""
    def verdict(case: Case, result: CallResult) -> str | None:
        # The call's description is built only for a message (most cases pass).
        if mismatch(case.expected, result.value, rtol=rules.rtol, atol=rules.atol) is not None:
            return mismatch(case.expected, result.value, rtol=rules.rtol, atol=rules.atol,
                            what=f"{describe_call(case.call, rules.show_inputs)} (compared with "
                                 f"{rules.compared or 'the expected value'})")
        for index, name in case.unchanged:
            if mismatch(case.call.args[index], arg_after(result, index), rtol=UNCHANGED_RTOL,
                        atol=UNCHANGED_ATOL) is not None:
                shown = describe_call(case.call, rules.show_inputs)
                return f"{shown} changed {name}; it must leave its input as it was."
        return None

    return _each_case(cases, results, rules, verdict)


def judge_half_values_half_unchanged(cases: Sequence[Case], results: Results, rules: Rules) -> Outcome:
    """Half the points for the new values (dicts), half for leaving every input dict unchanged
    while returning new ones (a function that does nothing leaves its inputs alone too)."""
    values_ok = unchanged_ok = True
    lines: list[str] = []
    for case in cases:
        result = results.get(case.call.id)
        problem = call_problem(case.call, result, rules.show_inputs)
        if problem is not None:
            return Outcome.zero(problem)
        assert result is not None
        wrong = [m for m in dict_mismatches(case.expected, result.value, rtol=rules.rtol, atol=rules.atol,
                                            what="the new values").values() if m]
        if wrong:
            values_ok = False
            lines.append(wrong[0])
        if not isinstance(result.value, dict) or not set(case.expected) <= set(result.value):
            unchanged_ok = False
            continue
        changed = []
        for index, name in case.unchanged:
            before, later = case.call.args[index], arg_after(result, index)
            if isinstance(before, Mapping):
                changed += [f"{name}[{key!r}]" for key in before if not isinstance(later, Mapping)
                            or mismatch(before[key], later.get(key), rtol=UNCHANGED_RTOL,
                                        atol=UNCHANGED_ATOL) is not None]
                if isinstance(later, Mapping):  # a key added to an input dict changes it too
                    changed += [f"{name}[{key!r}] (added)" for key in later if key not in before]
        if changed:
            unchanged_ok = False
            lines.append(f"{case.call.function} changed its inputs ({', '.join(changed[:4])}); build a new "
                         "dict with new arrays instead of updating in place (no -= on the inputs).")
    return Outcome(0.5 * values_ok + 0.5 * unchanged_ok, "\n".join(dict.fromkeys(lines)) or rules.passed_message)


JUDGES: Mapping[str, Callable[[Sequence[Case], Results, Rules], Outcome]] = {
    "values": judge_values,
    "values_inputs_unchanged": judge_values_inputs_unchanged,
    "half_values_half_unchanged": judge_half_values_half_unchanged,
}
"""The judges by name (a check's KitHints.judge names the one the kit runs)."""


def arg_after(result: CallResult, index: int) -> object:
    """Argument `index` as it was after the call; None (counts as changed) if it did not come back."""
    after = tuple(result.args_after or ())
    return after[index] if index < len(after) else None


def _each_case(cases: Sequence[Case], results: Results, rules: Rules,
               verdict: Callable[[Case, CallResult], str | None]) -> Outcome:
    failures = []
    for case in cases:
        result = results.get(case.call.id)
        problem = call_problem(case.call, result, rules.show_inputs)
        if problem is None:
            assert result is not None
            problem = verdict(case, result)
        if problem:
            failures.append(problem)
    return score_cases(rules.passed_message, failures, len(cases), rules.partial)
