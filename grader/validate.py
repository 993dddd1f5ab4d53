"""`grader validate`: prove a rubric before anyone is graded with it.

For every item it proves that the reference submission earns full marks and the empty one
earns nothing (and the untouched template nothing on notebook items); it runs the reference
module's own proofs that each computed reference satisfies its problem; and it checks the
point totals (already enforced when the rubric loads).

The sample submissions (`reference/`, `template/`) are looked for in one place wherever the
rubric is: `--samples DIR`, else the checkout the grader runs from (`grader.paths`). Without
them, the proofs that need them are reported as skipped and the others still run.

The samples are run in the sandbox under the same isolation policy as a batch
(`grader.isolation_policy`): a layer weaker than the minimum refuses before anything runs, and
a weaker layer that is allowed is noted among the lines.
"""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.engine import GradeOptions, GradeReport, grade
from grader.errors import GraderError
from grader.isolation_policy import decide
from grader.paths import PROJECT_ROOT
from grader.rubric import Rubric, load_rubric
from grader.submission import open_submission


@dataclass
class ValidationReport:
    """Lines to print and the count of passed, failed and skipped proofs."""

    lines: list[str] = field(default_factory=list)
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def ok(self) -> bool:
        """Whether every proof passed."""
        return self.failed == 0

    def record(self, ok: bool, message: str) -> None:
        """Add one proof's outcome."""
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        self.lines.append(("PASS " if ok else "FAIL ") + message)

    def skip(self, message: str) -> None:
        """Add a proof that could not run, and why."""
        self.skipped += 1
        self.lines.append("SKIP " + message)

    def summary(self) -> str:
        """`N passed, M failed` (and how many were skipped, if any)."""
        return f"{self.passed} passed, {self.failed} failed" + (
            f", {self.skipped} skipped" if self.skipped else "")


def _grade_folder(folder: Path, rubric: Rubric, isolation: str | None) -> GradeReport:
    with tempfile.TemporaryDirectory() as temp:
        submission = open_submission(folder, dict(rubric.files), Path(temp), name=folder.name)
        return grade(submission, rubric, GradeOptions(isolation=isolation))


def default_samples(rubric: Rubric) -> Path:
    """Where the rubric's sample submissions are when none are named: in the grader's checkout."""
    return PROJECT_ROOT / "sample_submissions" / rubric.assignment


def find_samples(rubric: Rubric, samples: Path | None) -> Path | None:
    """The folder holding `reference/`: `samples` or its `<assignment>/` folder; None if neither."""
    base = samples if samples is not None else default_samples(rubric)
    for folder in (base, base / rubric.assignment):
        if (folder / "reference").is_dir():
            return folder
    return None


def validate_rubric(path: Path, *, isolation: str | None = None, samples: Path | None = None,
                    min_isolation: str | None = None) -> ValidationReport:
    """Run every proof for the rubric at `path`; `samples` holds `reference/` and `template/`.

    Raises IsolationRefused (a GraderError) before anything runs when the isolation layer is
    weaker than `min_isolation` or the default minimum.
    """
    decision = decide(isolation, min_isolation)
    isolation = decision.layer
    report = ValidationReport()
    if decision.warning:
        report.lines.append(f"NOTE {decision.warning}")
    try:
        rubric = load_rubric(path)
    except GraderError as exc:
        report.record(False, f"rubric loads: {exc}")
        return report
    report.record(True, f"rubric loads; parts add up to {rubric.autograded_points:g} autograded "
                        f"+ {sum(m.points for m in rubric.manual):g} manual = {rubric.total_points:g} points")
    _prove_references(rubric, report)
    folder = find_samples(rubric, samples)
    if folder is None:
        where = samples if samples is not None else default_samples(rubric)
        report.skip(f"the reference earns full marks: no sample submissions (a reference/ folder) "
                    f"in {where}; name them with --samples DIR")
    else:
        _prove_reference_sample(folder / "reference", rubric, isolation, report)
    _prove_empty(rubric, isolation, report)
    if folder is None:
        report.skip("the untouched template earns 0: no sample submissions")
    elif not (folder / "template").is_dir():
        report.skip(f"the untouched template earns 0: no template/ in {folder}")
    else:
        _prove_template(folder / "template", rubric, isolation, report)
    return report


def _prove_references(rubric: Rubric, report: ValidationReport) -> None:
    """The reference module's own proofs that each computed reference solves its problem."""
    module = importlib.import_module(rubric.written_reference.partition(":")[0])
    prove_all = getattr(module, "prove_all", None)
    if prove_all is None:
        report.record(False, f"{module.__name__} has no prove_all() to prove its references")
    else:
        failures = prove_all()
        report.record(not failures, "each reference satisfies its problem"
                      + ("" if not failures else ":\n  " + "\n  ".join(failures)))


def _prove_reference_sample(folder: Path, rubric: Rubric, isolation: str | None,
                            report: ValidationReport) -> None:
    """The reference submission earns full marks on every item."""
    reference = _grade_folder(folder, rubric, isolation)
    for result in reference.results:
        report.record(result.passed, f"{result.item.id}: the reference earns full marks "
                      f"({result.score:g}/{result.max_score:g})" + ("" if result.passed else f"\n  {result.feedback}"))


def _prove_empty(rubric: Rubric, isolation: str | None, report: ValidationReport) -> None:
    """An empty submission earns nothing on any item."""
    with tempfile.TemporaryDirectory() as empty:
        blank = _grade_folder(Path(empty), rubric, isolation)
    for result in blank.results:
        report.record(result.score == 0, f"{result.item.id}: an empty submission earns 0" + _got(result.score))


def _prove_template(folder: Path, rubric: Rubric, isolation: str | None, report: ValidationReport) -> None:
    """The untouched notebook template earns nothing on notebook items."""
    template = _grade_folder(folder, rubric, isolation)
    for result in template.results:
        if result.item.kind == "notebook":
            report.record(result.score == 0,
                          f"{result.item.id}: the untouched template earns 0" + _got(result.score))


def _got(score: float) -> str:
    """Nothing to add when a proof holds; the score that broke it when it does not."""
    return "" if score == 0 else f" (it earns {score:g})"
