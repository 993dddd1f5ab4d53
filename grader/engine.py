"""The engine: grade one submission against a rubric.

Every front end (the `grader` command, the Gradescope entry point, the student self-check,
the pytest plugin, batch workers) calls `grade`. It never raises for anything a submission
contains: each fault becomes a score of 0 with a message on the items it affects, and a fault
of the grader itself still yields a complete report (see `grade`). A fault of a whole file (missing,
unreadable) is also listed at the top of the report's output, which students see at once, even
where the items that need the file stay hidden until after the due date.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.feedback import notebook_summary
from grader.checks.registry import LEADERBOARD_VALUE, NotebookContext, Probe, WeightsContext, WrittenContext
from grader.errors import StudentFileError
from grader.notebook import NotebookFile, load_notebook
from grader.outcome import Outcome
from grader.results import ItemResult, results_document
from grader.rubric import Item, Rubric
from grader.sandbox.session import CallResult, PendingSession, SessionLimits, SessionReport, start_session
from grader.seeds import derive_seed, private_salt, public_salt, submission_fingerprint
from grader.submission import Submission
from grader.weights import load_weights
from grader.yamlio import load_untrusted_yaml

INTERNAL_ERROR = ("The grader hit an internal error on this item; this is not your fault and your "
                  "instructor has been told. ")
FILE_PROBLEMS = "Problems with your files: fix them and submit again."
"""Heads the top-level output's list of file problems: always visible, unlike most items."""


@dataclass(frozen=True)
class GradeOptions:
    """How to grade: all items or only visible ones, isolation layer, private salt."""

    visible_only: bool = False
    isolation: str | None = None
    salt: str | None = None
    secret_paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class GradeReport:
    """Everything known after grading one submission."""

    submission: Submission
    rubric: Rubric
    results: tuple[ItemResult, ...]
    output: str
    log: tuple[str, ...] = ()
    execution_time: float = 0.0
    isolation: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Points earned over all graded items."""
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        """Points available over all graded items."""
        return sum(r.max_score for r in self.results)

    def part_scores(self) -> dict[str, float]:
        """Points earned per part, in rubric order."""
        scores = dict.fromkeys(dict.fromkeys(r.item.part for r in self.results), 0.0)
        for result in self.results:
            scores[result.item.part] += result.score
        return scores

    def document(self, **overrides: Any) -> dict[str, Any]:
        """The Gradescope results.json document (with a leaderboard if an item asks for one)."""
        extra = {"submission": self.submission.name, "isolation": self.isolation or "none", **self.extra}
        document = results_document(self.results, output=self.output, execution_time=self.execution_time,
                                    extra_data=extra, **overrides)
        board = [{"name": result.item.leaderboard, "value": float(result.details[LEADERBOARD_VALUE]),
                  "order": "desc"}
                 for result in self.results
                 if result.item.leaderboard and isinstance(result.details.get(LEADERBOARD_VALUE), (int, float))]
        if board:
            document["leaderboard"] = board
        return document


@functools.lru_cache(maxsize=4)
def _written_reference(rubric: Rubric) -> Any:
    # Computing the references (sympy fits, proofs) is slow; do it once per process.
    return rubric.load_written_reference()


def _lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    current = data
    for key in dotted.split("."):
        if not isinstance(current, Mapping) or key not in current:
            return False, None
        current = current[key]
    return True, current


def _run_check(item: Item, call: Any) -> tuple[Outcome, str | None]:
    """Run one check, turning a grader bug into score 0 plus an instructor-only traceback."""
    try:
        return call(), None
    except Exception:
        return Outcome.zero(INTERNAL_ERROR), f"{item.id}: internal error\n{traceback.format_exc()}"


def _file_problem(items: list[Item], message: str, outcomes: dict[str, Outcome], problems: list[str]) -> None:
    """Score the items that need a file 0 with `message`, and list it among the file problems.

    The items may be hidden or after_due_date; the top-level output is what makes a broken
    file visible before the due date. `message` only states facts about the student's file.
    """
    outcomes.update({item.id: Outcome(0.0, message, {"file_problem": True}) for item in items})
    if items:
        problems.append(message)


def _grade_written(submission: Submission, rubric: Rubric, items: list[Item],
                   outcomes: dict[str, Outcome], log: list[str], problems: list[str]) -> None:
    path = submission.files.get("written")
    if path is None:
        reason = submission.problems.get("written", "The written-answers file is missing.")
        _file_problem(items, reason, outcomes, problems)
        return
    try:
        answers = load_untrusted_yaml(path)
    except StudentFileError as exc:
        _file_problem(items, str(exc), outcomes, problems)
        return
    if not isinstance(answers, Mapping):
        message = f"{path.name} should be a mapping of answers (q1_1: ..., q1_2_graph: ...)."
        _file_problem(items, message, outcomes, problems)
        return
    missing = [item.answer for item in items if item.answer and not _lookup(answers, item.answer)[0]]
    if missing:
        problems.append(f"{path.name} has no answer under: {', '.join(missing)}. Keep every key of the "
                        "template.")
    references = _written_reference(rubric)
    for item in items:
        assert item.answer is not None
        found, answer = _lookup(answers, item.answer)
        if not found:
            outcomes[item.id] = Outcome.zero(f"{path.name} has no answer under {item.answer}.")
            continue
        _, reference = _lookup(references, item.answer)
        spec = item.spec
        context = WrittenContext(item.id, spec.with_defaults(item.params), reference)
        outcome, error = _run_check(item, functools.partial(spec.function, answer, context))
        outcomes[item.id] = outcome
        if error:
            log.append(error)


def _open_notebook(submission: Submission, rubric: Rubric, items: list[Item], options: GradeOptions,
                   outcomes: dict[str, Outcome], log: list[str],
                   problems: list[str]) -> tuple[NotebookFile, PendingSession] | None:
    """Read the notebook and start its sandboxed child at once, or score its items 0 and say why.

    The child's interpreter and numpy import then overlap with the grader's other work.
    """
    path = submission.files.get("notebook")
    if path is None:
        reason = submission.problems.get("notebook", "The notebook is missing.")
        _file_problem(items, reason, outcomes, problems)
        return None
    try:
        notebook = load_notebook(path)
    except StudentFileError as exc:
        _file_problem(items, str(exc), outcomes, problems)
        return None
    limits = SessionLimits(
        cell_timeout=rubric.limits.cell_timeout, notebook_timeout=rubric.limits.notebook_timeout,
        memory_mb=rubric.limits.memory_mb, extra_packages=rubric.extra_packages,
    )
    try:
        pending = start_session(limits, submission_dir=path.parent, secret_paths=options.secret_paths,
                                isolation=options.isolation)
    except Exception:
        outcomes.update({item.id: Outcome.zero(INTERNAL_ERROR) for item in items})
        log.append(f"starting the sandbox failed\n{traceback.format_exc()}")
        return None
    return notebook, pending


RETEST = ":retest"
"""Appended to a visible item's id in the call ids of its re-test on hidden inputs."""


@dataclass(frozen=True)
class NotebookPlan:
    """A notebook item's probe and, for a visible item, its re-test on hidden inputs (if graded in full)."""

    probe: Probe
    retest: Probe | None = None


def plan_notebook_item(item: Item, rubric: Rubric, reference: ModuleType, salt: str, fingerprint: str, *,
                       retest: bool = True) -> NotebookPlan:
    """Plan an item's calls: hidden items on hidden inputs; visible ones on the public inputs and, if
    `retest`, again on hidden inputs.

    Hidden inputs come from the private salt and the submission. A visible item's re-test is the
    same check (the same input generator) on them; `_judge` counts its points only as far as the
    re-test earns them too, so a table of the public answers earns nothing. `grader check` and the
    kit have no salt: they run the public inputs only (`retest=False`).
    """
    spec = item.spec
    params, timeout, inputs = spec.with_defaults(item.params), rubric.limits.call_timeout, rubric.input_generators
    hidden = np.random.default_rng(derive_seed(salt, fingerprint, item.id))
    if item.visibility != "visible":
        return NotebookPlan(spec.function(NotebookContext(item.id, params, hidden, reference, False, timeout,
                                                          inputs)))
    public = np.random.default_rng(derive_seed(public_salt(rubric.assignment), item.id))
    probe = spec.function(NotebookContext(item.id, params, public, reference, True, timeout, inputs))
    if not retest:
        return NotebookPlan(probe)
    return NotebookPlan(probe, spec.function(NotebookContext(item.id + RETEST, params, hidden, reference, False,
                                                             timeout, inputs)))


# What the re-test's calls did, said without their inputs, values or the student's output.
_RETEST_FAULTS = {
    "missing": "is not defined",
    "error": "raises an error",
    "timeout": "does not finish in time",
    "crashed": "stops the notebook's Python process",
    "bad_value": "returns a value the grader cannot read",
    "not_run": "could not be called (the time for the graded functions ran out)",
}


def _judge(plan: NotebookPlan, results: Mapping[str, CallResult]) -> Outcome:
    """The probe's outcome; for a visible item, lowered to its re-test's where that earns less.

    Before the due date students see only the public cases: where the re-test earns less, the
    feedback says so in general words, never with the re-test's inputs; `details` keep its
    feedback (inputs shown by shape, as for hidden items) for staff.
    """
    outcome = plan.probe.judge(results)
    if plan.retest is None:
        return outcome
    retest = plan.retest.judge(results)
    details = {**(outcome.details or {}), "public_fraction": float(outcome.fraction),
               "retest_fraction": float(retest.fraction), "retest_feedback": retest.feedback}
    if retest.fraction >= outcome.fraction:
        return Outcome(outcome.fraction, outcome.feedback, details)
    functions = " and ".join(dict.fromkeys(call.function for call in plan.probe.calls)) or "It"
    statuses = {results[call.id].status if call.id in results else "not_run" for call in plan.retest.calls}
    faults = [fault for status, fault in _RETEST_FAULTS.items() if status in statuses]
    what = f"on some of them it {' and '.join(faults)}" if faults else "its results differ from the expected ones"
    lead = "passes the public examples but not" if outcome.passed else "also does worse on"
    message = (f"{functions} {lead} the grader's other tests of the same function (inputs of the same kind, not "
               f"shown): {what}. Make sure it computes its result in general, not just for the public inputs: "
               "the points count only as far as those tests pass too.")
    return Outcome(retest.fraction, message if outcome.passed else f"{outcome.feedback}\n{message}", details)


def _grade_notebook(submission: Submission, rubric: Rubric, items: list[Item], notebook: NotebookFile,
                    pending: PendingSession, salt: str, retest: bool, outcomes: dict[str, Outcome],
                    log: list[str], top: list[str]) -> SessionReport:
    reference = rubric.load_code_reference()
    fingerprint = submission_fingerprint(submission.all_files())
    plans: dict[str, NotebookPlan] = {}
    for item in items:
        try:
            plans[item.id] = plan_notebook_item(item, rubric, reference, salt, fingerprint, retest=retest)
        except Exception:
            outcomes[item.id] = Outcome.zero(INTERNAL_ERROR)
            log.append(f"{item.id}: internal error while planning\n{traceback.format_exc()}")
    # The re-tests last: no call on public inputs, whose feedback students see, comes after one on
    # hidden inputs (a function could keep those inputs and print them in a later call).
    calls = [call for plan in plans.values() for call in plan.probe.calls]
    calls += [call for plan in plans.values() if plan.retest is not None for call in plan.retest.calls]
    report = pending.run(notebook.cells, calls, defined_elsewhere=notebook.not_run_reasons())
    top.extend(notebook_summary(report))
    # Sandbox notices name server paths and layers: for staff (stdout), not for students.
    log.extend(f"sandbox ({report.layer}): {notice}" for notice in report.notices)
    for item_id, plan in plans.items():
        item = next(i for i in items if i.id == item_id)
        outcome, error = _run_check(item, functools.partial(_judge, plan, report.calls))
        outcomes[item_id] = outcome
        if error:
            log.append(error)
        details = outcome.details or {}
        public, again = details.get("public_fraction"), details.get("retest_fraction")
        if isinstance(public, float) and isinstance(again, float) and again < public:
            log.append(f"{item_id}: the re-test on hidden inputs earned {again:.0%}, the public inputs "
                       f"{public:.0%}; the re-test said:\n{details['retest_feedback']}")
    return report


def _grade_weights(submission: Submission, rubric: Rubric, items: list[Item], salt: str,
                   outcomes: dict[str, Outcome], log: list[str], problems: list[str]) -> None:
    path = submission.files.get("weights")
    if path is None:
        reason = submission.problems.get("weights", "The weights file is missing.")
        _file_problem(items, reason, outcomes, problems)
        return
    try:
        # The checks read the file again; this read only finds a file that cannot be read at all
        # (a few kB for this task), so that the fault reaches the top-level output.
        load_weights(path)
    except StudentFileError as exc:
        _file_problem(items, str(exc), outcomes, problems)
        return
    reference = rubric.load_code_reference()
    for item in items:
        spec = item.spec
        # One test set for the whole class (fair), unknown to students (private salt).
        context = WeightsContext(item.id, spec.with_defaults(item.params), reference,
                                 derive_seed(salt, "weights-test-set", item.id), rubric.weights_tasks)
        outcome, error = _run_check(item, lambda spec=spec, context=context: spec.function(path, context))
        outcomes[item.id] = outcome
        if error:
            log.append(error)


def _grade(submission: Submission, rubric: Rubric, options: GradeOptions) -> GradeReport:
    started = time.perf_counter()
    items = [i for i in rubric.items if i.visibility == "visible" or not options.visible_only]
    salt = options.salt if options.salt is not None else private_salt()[0]
    outcomes: dict[str, Outcome] = {}
    log: list[str] = []
    problems: list[str] = []
    top: list[str] = []
    notebook_items = [i for i in items if i.kind == "notebook"]
    opened = (_open_notebook(submission, rubric, notebook_items, options, outcomes, log, problems)
              if notebook_items else None)
    session: SessionReport | None = None
    written_items = [i for i in items if i.kind == "written"]
    weights_items = [i for i in items if i.kind == "weights"]
    try:
        # Each stage on its own: a grader fault in one costs only that stage's items.
        _stage(written_items, outcomes, log, _grade_written, submission, rubric, written_items, outcomes, log,
               problems)
        _stage(weights_items, outcomes, log, _grade_weights, submission, rubric, weights_items, salt, outcomes,
               log, problems)
        if opened is not None:
            session = _stage(notebook_items, outcomes, log, _grade_notebook, submission, rubric, notebook_items,
                             *opened, salt, not options.visible_only, outcomes, log, top)
    finally:
        if opened is not None:
            opened[1].close()
    results = tuple(_result(item, outcomes.get(item.id)) for item in items)
    output = "\n\n".join([*_problem_lines(problems), *submission.notes, *top])
    layer = session.layer if session is not None else None
    # How the child confined itself (its own word, sent before any student code ran).
    extra = {"confinement": {"landlock": session.landlock, "seccomp": session.seccomp,
                             "process": session.process}} if session else {}
    return GradeReport(submission, rubric, results, output, tuple(log), time.perf_counter() - started, layer,
                       extra)


def _problem_lines(problems: list[str]) -> list[str]:
    """The file problems as one block of the top-level output, each once, with what to do."""
    distinct = list(dict.fromkeys(problems))  # a zip that cannot be opened is every role's problem
    return [FILE_PROBLEMS + "".join(f"\n- {problem}" for problem in distinct)] if distinct else []


def _stage(items: list[Item], outcomes: dict[str, Outcome], log: list[str], function: Any, *args: Any) -> Any:
    """Run one stage; if the grader fails inside it, score its unfinished items 0 and log why."""
    try:
        return function(*args)
    except Exception:
        log.append(f"{function.__name__}: internal error\n{traceback.format_exc()}")
        for item in items:
            outcomes.setdefault(item.id, Outcome.zero(INTERNAL_ERROR))
        return None


def _result(item: Item, outcome: Outcome | None) -> ItemResult:
    if outcome is None:
        outcome = Outcome.zero(INTERNAL_ERROR)
    feedback = outcome.feedback
    # A hint about the answer helps nobody whose file could not be read: the file comes first.
    if not outcome.passed and item.feedback and not (outcome.details or {}).get("file_problem"):
        feedback = f"{feedback}\nHint: {item.feedback}"
    return ItemResult(item, round(item.points * outcome.fraction, 4), feedback, outcome.details or {})


GRADER_FAILED = ("The grader failed while grading this submission. This is not your fault; your "
                 "instructor has been told and will regrade it.")


def failed_report(submission: Submission, rubric: Rubric, options: GradeOptions, error: str,
                  seconds: float = 0.0) -> GradeReport:
    """Every item scored 0 with an apology: what a grader fault still yields."""
    items = [i for i in rubric.items if i.visibility == "visible" or not options.visible_only]
    results = tuple(ItemResult(item, 0.0, INTERNAL_ERROR) for item in items)
    return GradeReport(submission, rubric, results, GRADER_FAILED, (error,), seconds)


def grade(submission: Submission, rubric: Rubric, options: GradeOptions | None = None) -> GradeReport:
    """Grade a submission. Never raises: a grader fault still yields every item, scored 0."""
    options = options or GradeOptions()
    started = time.perf_counter()
    try:
        return _grade(submission, rubric, options)
    except Exception:
        return failed_report(submission, rubric, options, f"grading crashed\n{traceback.format_exc()}",
                             time.perf_counter() - started)
