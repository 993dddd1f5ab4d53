"""`grader validate`: prove a rubric before anyone is graded with it.

For every item it proves that the reference submission earns full marks and the empty one
earns nothing (and the untouched template nothing on notebook items); it runs the reference
module's own proofs that each computed reference satisfies its problem; and it checks the
point totals (already enforced when the rubric loads).
"""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.engine import GradeOptions, GradeReport, grade
from grader.errors import GraderError
from grader.rubric import Rubric, load_rubric
from grader.submission import open_submission


@dataclass
class ValidationReport:
    """Lines to print and the count of passed and failed proofs."""

    lines: list[str] = field(default_factory=list)
    passed: int = 0
    failed: int = 0

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


def _grade_folder(folder: Path, rubric: Rubric, isolation: str | None) -> GradeReport:
    with tempfile.TemporaryDirectory() as temp:
        submission = open_submission(folder, dict(rubric.files), Path(temp), name=folder.name)
        return grade(submission, rubric, GradeOptions(isolation=isolation))


def validate_rubric(path: Path, *, isolation: str | None = None) -> ValidationReport:
    """Run every proof for the rubric at `path`."""
    report = ValidationReport()
    try:
        rubric = load_rubric(path)
    except GraderError as exc:
        report.record(False, f"rubric loads: {exc}")
        return report
    report.record(True, f"rubric loads; parts add up to {rubric.autograded_points:g} autograded "
                        f"+ {sum(m.points for m in rubric.manual):g} manual = {rubric.total_points:g} points")

    module = importlib.import_module(rubric.written_reference.partition(":")[0])
    prove_all = getattr(module, "prove_all", None)
    if prove_all is None:
        report.record(False, f"{module.__name__} has no prove_all() to prove its references")
    else:
        failures = prove_all()
        report.record(not failures, "each reference satisfies its problem"
                      + ("" if not failures else ":\n  " + "\n  ".join(failures)))

    samples = rubric.path.parent.parent / "sample_submissions" / rubric.assignment
    reference = _grade_folder(samples / "reference", rubric, isolation)
    for result in reference.results:
        report.record(result.passed, f"{result.item.id}: the reference earns full marks "
                      f"({result.score:g}/{result.max_score:g})" + ("" if result.passed else f"\n  {result.feedback}"))
    with tempfile.TemporaryDirectory() as empty:
        blank = _grade_folder(Path(empty), rubric, isolation)
    for result in blank.results:
        report.record(result.score == 0, f"{result.item.id}: an empty submission earns 0 ({result.score:g})")
    template_dir = samples / "template"
    if template_dir.is_dir():
        template = _grade_folder(template_dir, rubric, isolation)
        for result in template.results:
            if result.item.kind == "notebook":
                report.record(result.score == 0,
                              f"{result.item.id}: the untouched template earns 0 ({result.score:g})")
    return report
