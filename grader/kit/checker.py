"""The student kit's checker: the public checks of the assignment, without the grader or its solutions.

`python check.py [PATH]` runs the notebook found in PATH (a folder or a zip; default: the current
folder) in a child process, with the sandbox copied from the grader, then calls each public
item's function on the inputs listed in `public_checks.json` and compares the results with the
expected outputs stored there. The expected outputs were computed by the course staff when the
kit was built; nothing in the kit can compute them. It prints the table `grader check` prints.

Messages follow the grader's own checks (grader/checks/notebook_checks.py), so a failure reads
the same here as on Gradescope, where each public item is also re-tested on hidden inputs (the
kit has none: the report says so). One item is scored differently: the trained weights (p5) are
scored with the student's own forward function on a public test set, as an estimate, because
the grader's forward pass is a solution.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from grader.checks.arrays import as_float_array, describe
from grader.checks.feedback import call_problem, notebook_summary
from grader.checks.judges import JUDGES, Case, Rules
from grader.errors import GraderError, StudentFileError
from grader.kit.report import FULL_OPTION, Row, print_report
from grader.kit.written_format import WrittenCheck, check_written
from grader.notebook import load_notebook
from grader.outcome import Outcome
from grader.sandbox import wire
from grader.sandbox.session import Call, CallResult, Ref, SessionLimits, SessionReport, TestFunction, run_session
from grader.submission import Submission, open_submission, require_submission_path
from grader.weights import SHAPES, load_weights, validate_weights

__all__ = ["Kit", "KitError", "check", "load_kit", "main"]

KIT_FORMAT = 2  # 2: kit.json holds each written answer's format, not only its key
KIT_DATA = "kit.json"
PUBLIC_CHECKS = "public_checks.json"


class KitError(GraderError):
    """The kit itself is damaged or the checker was called wrongly: reported, exit status 2."""


# ---------------------------------------------------------------- the kit's data

@dataclass(frozen=True)
class PublicItem:
    """A public notebook item: the grader's check name, its tolerances and its cases."""

    id: str
    points: float
    judge: str  # the kit judge (JUDGES) this item is scored by
    rtol: float
    atol: float
    partial: bool
    passed_message: str
    hint: str
    cases: tuple[Case, ...]
    compared: str = ""  # what the expected value is ("the exact gradient"), for the feedback


@dataclass(frozen=True)
class WeightsItem:
    """A public weights item, estimated with the student's own forward function."""

    id: str
    points: float
    function: str
    zero_at: float
    full_at: float
    max_hidden: int
    input_dim: int
    classes: int
    hidden_test_size: int
    inputs: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Kit:
    """Everything the checker knows: file names, limits, the public items and their data."""

    title: str
    files: Mapping[str, str]
    written_formats: tuple[Mapping[str, Any], ...]
    limits: SessionLimits
    call_timeout: float
    items: tuple[PublicItem, ...]
    weights: tuple[WeightsItem, ...]


def load_kit(package_dir: Path) -> Kit:
    """Read the kit's data: `kit.json` beside this module, `public_checks.json` one folder up."""
    data = _read_json(package_dir / KIT_DATA)
    checks = _read_json(package_dir.parent / PUBLIC_CHECKS)
    try:
        if data["format"] != KIT_FORMAT:
            raise KitError(f"{KIT_DATA} has format {data['format']!r}; this checker reads {KIT_FORMAT}")
        limits = data["limits"]
        session = SessionLimits(cell_timeout=float(limits["cell_timeout"]),
                                notebook_timeout=float(limits["notebook_timeout"]),
                                memory_mb=int(limits["memory_mb"]),
                                extra_packages=tuple(limits["extra_packages"]))
        return Kit(str(data["title"]), dict(data["files"]), tuple(data["written_formats"]), session,
                   float(limits["call_timeout"]), tuple(_public_item(item) for item in checks),
                   tuple(_weights_item(item) for item in data["weights"]))
    except (KeyError, TypeError, ValueError, wire.WireError) as exc:
        raise KitError(f"the kit's data is damaged ({type(exc).__name__}: {exc}); download the kit "
                       "again") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KitError(f"cannot read {path.name} of the kit ({exc}); run the checker from the kit "
                       "folder, or download the kit again") from None


def _public_item(item: Mapping[str, Any]) -> PublicItem:
    cases = []
    for case in item["cases"]:
        call = case["call"]
        cases.append(Case(
            Call(str(call["id"]), str(call["function"]), tuple(_decode_args(call["args"])),
                 select=call["select"], timeout=float(call["timeout"]),
                 return_args=bool(call["return_args"])),
            wire.decode(call["expected"]),
            tuple((int(index), str(name)) for index, name in call["unchanged"])))
    if item["judge"] not in JUDGES:
        raise ValueError(f"item {item['id']} is judged by {item['judge']!r}, which this checker cannot run")
    tolerance = item["tolerance"]
    return PublicItem(str(item["id"]), float(item["points"]), str(item["judge"]),
                      float(tolerance["rtol"]), float(tolerance["atol"]), bool(item["partial"]),
                      str(item["passed_message"]), str(item["hint"]), tuple(cases), str(item.get("compared", "")))


def _weights_item(item: Mapping[str, Any]) -> WeightsItem:
    inputs, labels = wire.decode(item["inputs"]), wire.decode(item["labels"])
    if not (isinstance(inputs, np.ndarray) and isinstance(labels, np.ndarray)):
        raise ValueError("the public test set is not two arrays")
    return WeightsItem(str(item["id"]), float(item["points"]), str(item["function"]),
                       float(item["zero_at"]), float(item["full_at"]), int(item["max_hidden"]),
                       int(item["input_dim"]), int(item["classes"]), int(item["hidden_test_size"]),
                       inputs, labels)


def _decode_args(args: Sequence[Any]) -> list[Any]:
    """Call arguments in the wire format, where the grader-only tags ($fn, $ref) may appear too."""
    return [_decode_arg(arg) for arg in args]


def _decode_arg(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_arg(v) for v in value]
    if isinstance(value, dict) and len(value) >= 1:
        if "$ref" in value:
            return Ref(str(value["$ref"]), value.get("index"))
        if "$fn" in value:
            return TestFunction(str(value["$fn"]))
        if "$tuple" in value:
            return tuple(_decode_arg(v) for v in value["$tuple"])
        if "$dict" in value:
            return {key: _decode_arg(v) for key, v in value["$dict"]}
    return wire.decode(value)


# ---------------------------------------------------------------- finding the files

def locate(path: Path, wanted: Mapping[str, str], workdir: Path) -> Submission:
    """The files of a folder or zip, matched exactly as the grader does (grader/submission.py)."""
    if not path.exists():
        raise KitError(f"{path}: no such folder or zip")
    return open_submission(path, wanted, workdir)


# ---------------------------------------------------------------- judging: the grader's own judges

Results = Mapping[str, CallResult]


def judge_item(item: PublicItem, results: Results) -> Outcome:
    """A public item scored by the judge the grader's check names (grader/checks/judges.py)."""
    rules = Rules(item.rtol, item.atol, item.partial, item.passed_message, True, item.compared)
    return JUDGES[item.judge](item.cases, results, rules)


# ---------------------------------------------------------------- p5: an estimate

@dataclass(frozen=True)
class _WeightsPlan:
    """A weights item's call of the student's forward function, or why it has none."""

    item: WeightsItem
    call: Call | None
    problem: str | None


def _plan_weights(item: WeightsItem, located: Submission, timeout: float) -> _WeightsPlan:
    path = located.files.get("weights")
    if path is None:
        return _WeightsPlan(item, None, located.problems.get("weights", "The weights file is missing."))
    try:
        arrays = load_weights(path)  # plain arrays only: allow_pickle=False
    except StudentFileError as exc:
        return _WeightsPlan(item, None, str(exc))
    problem = validate_weights(dict(arrays), item.input_dim, item.classes, item.max_hidden)
    if problem:
        return _WeightsPlan(item, None, f"{path.name}: {problem}")
    if "notebook" not in located.files:
        return _WeightsPlan(item, None, f"The estimate calls your notebook's {item.function}, and the "
                            "notebook was not found.")
    params = {key: arrays[key].astype(np.float64) for key in SHAPES}
    call = Call(f"{item.id}:public", item.function, (params, item.inputs), timeout=timeout)
    return _WeightsPlan(item, call, None)


def _judge_weights(plan: _WeightsPlan, results: Results, weights_name: str) -> Outcome:
    item = plan.item
    if plan.call is None:
        return Outcome.zero(plan.problem or "")
    result = results.get(plan.call.id)
    problem = call_problem(plan.call, result, True)
    if problem is not None:
        return Outcome.zero(f"Cannot estimate: the estimate needs your {item.function}. {problem}")
    assert result is not None
    logits = as_float_array(result.value)
    size = len(item.labels)
    if logits is None or logits.shape != (size, item.classes):
        return Outcome.zero(f"Cannot estimate: {item.function}(params, X) on X of shape {item.inputs.shape} "
                            f"returned {describe(result.value)}; expected shape ({size}, {item.classes}).")
    if not np.isfinite(logits).all():
        return Outcome.zero(f"{weights_name}: the network's outputs overflow to inf/NaN on test inputs.")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == item.labels))
    fraction = float(np.clip((accuracy - item.zero_at) / (item.full_at - item.zero_at), 0.0, 1.0))
    return Outcome(fraction, (
        f"Estimated accuracy {accuracy:.1%} on a public test set of {size:,} points, using your own "
        f"{item.function}.\nGradescope: {weights_name} on a hidden test set of {item.hidden_test_size:,} "
        f"points, scored linearly from {item.zero_at:.0%} to full at {item.full_at:.0%}."))


# ---------------------------------------------------------------- the whole check

def check(path: Path, kit: Kit, out: TextIO, *, isolation: str | None = None, full: bool = False) -> int:
    """Run the public checks on the submission at `path` and print the table; 0 whatever the score."""
    require_submission_path(path, kit.files)
    with tempfile.TemporaryDirectory(prefix="kit-check-") as workdir:
        located = locate(path, kit.files, Path(workdir))
        rows, notes, layer = _run(located, kit, isolation)
        written = _written_check(located, kit)
    shown = path.resolve() if path.is_file() else located.root.resolve()
    print_report(out, root=str(shown), rows=rows, notes="\n\n".join(notes), layer=layer, written=written,
                 full=full)
    return 0


def _run(located: Submission, kit: Kit, isolation: str | None) -> tuple[list[Row], list[str], str | None]:
    notes = list(located.notes)
    outcomes: dict[str, Outcome] = {}
    plans = [_plan_weights(item, located, kit.call_timeout) for item in kit.weights]
    calls = [case.call for item in kit.items for case in item.cases]
    calls += [plan.call for plan in plans if plan.call is not None]
    report: SessionReport | None = None
    notebook = located.files.get("notebook")
    if notebook is None:
        reason = located.problems.get("notebook", "The notebook is missing.")
        outcomes.update({item.id: Outcome.zero(reason) for item in kit.items})
    else:
        try:
            notebook_file = load_notebook(notebook)
        except StudentFileError as exc:
            outcomes.update({item.id: Outcome.zero(str(exc)) for item in kit.items})
            outcomes.update({plan.item.id: Outcome.zero(str(exc)) for plan in plans if plan.call})
        else:
            # Nothing here is secret: the student's own files, the kit's public data.
            report = run_session(notebook_file.cells, calls, kit.limits, submission_dir=notebook.parent,
                                 isolation=isolation, defined_elsewhere=notebook_file.not_run_reasons())
            notes += notebook_summary(report)
            notes += report.notices
    results = report.calls if report is not None else {}
    for item in kit.items:
        if item.id not in outcomes:
            outcomes[item.id] = judge_item(item, results)
    weights_name = kit.files.get("weights", "the weights file")
    for plan in plans:
        if plan.item.id not in outcomes:
            outcomes[plan.item.id] = _judge_weights(plan, results, weights_name)
    rows = [_row(item.id, item.points, outcomes[item.id], item.hint) for item in kit.items]
    rows += [_row(plan.item.id, plan.item.points, outcomes[plan.item.id], "", estimate=True)
             for plan in plans]
    return rows, notes, report.layer if report is not None else None


def _row(item_id: str, points: float, outcome: Outcome, hint: str, *, estimate: bool = False) -> Row:
    feedback = outcome.feedback
    if not outcome.passed and hint:
        feedback = f"{feedback}\nHint: {hint}"
    return Row(item_id, round(points * outcome.fraction, 4), points, outcome.passed, feedback, estimate)


def _written_check(located: Submission, kit: Kit) -> WrittenCheck | None:
    """Each written answer's format (the answers themselves are graded on Gradescope)."""
    name = kit.files.get("written")
    if name is None:
        return None
    reason = located.problems.get("written", "the written-answers file was not found.")
    return check_written(name, located.files.get("written"), reason, kit.written_formats)


def main(argv: Sequence[str] | None = None) -> int:
    """`python check.py [PATH]`: 0 whatever the score, 2 if the check cannot run at all."""
    parser = argparse.ArgumentParser(
        prog="check.py", description="Run the public checks of the homework on your files, as "
        "Gradescope runs them (hidden items and written answers are graded on Gradescope only).")
    parser.add_argument("path", nargs="?", type=Path, default=Path("."), metavar="PATH",
                        help="the folder (or zip) holding your files (default: the current folder)")
    parser.add_argument("--isolation", choices=("namespaces", "uid", "rlimits"), default=None,
                        help="how to isolate your notebook's process (default: the strongest available)")
    parser.add_argument(FULL_OPTION, action="store_true",
                        help="print every feedback message in full (tracebacks and printed output too)")
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A Windows console's code page cannot show every character a notebook may print.
        sys.stdout.reconfigure(errors="replace")
    try:
        kit = load_kit(Path(__file__).resolve().parent)
        code = check(args.path, kit, sys.stdout, isolation=args.isolation, full=args.full)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return code
    except GraderError as exc:
        print(f"check: error: {exc}", file=sys.stdout)
        return 2
    except BrokenPipeError:
        # `python check.py | head`: the reader has gone; what was asked for was printed.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
