"""`grader check`: the public checks of a submission, for instructors and TAs with the repository.

It grades only the rubric's `visible` items, on the same fixed public inputs as Gradescope, so
it shows what Gradescope will show for those items. Hidden and after-due-date items are never
graded here; for the written answers it only checks each answer's format, as the kit does
(grader/kit/written_format.py).

Students do not use this command: it runs the full engine, which imports the reference
solutions to compute expected values, so the grader package must never be handed out. Students
run the kit's own checker instead (`python check.py` in the folder `grader build-student-kit`
writes; see `grader.student_kit`), which prints the same table from stored expected outputs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from grader.errors import GraderError
from grader.kit.report import Row, print_report
from grader.kit.written_format import WrittenCheck, check_written

if TYPE_CHECKING:
    from grader.engine import GradeReport
    from grader.rubric import Rubric
    from grader.submission import Submission

__all__ = ["run_check", "written_check"]


def run_check(path: Path, rubric_path: Path, out: TextIO, *, full: bool = False,
              isolation: str | None = None) -> int:
    """Check the submission at `path`; 0 whatever the score, 2 if the check cannot run.

    `full` prints every feedback message in full (the kit's `check.py --full`); `isolation`
    forces a sandbox layer (default: the strongest that works here).
    """
    from grader.engine import GradeOptions, grade
    from grader.paths import secret_paths
    from grader.rubric import load_rubric
    from grader.submission import open_submission, require_submission_path

    try:
        rubric = load_rubric(rubric_path)
        require_submission_path(path, rubric.files)
        with tempfile.TemporaryDirectory(prefix="grader-check-") as workdir:
            submission = open_submission(path, dict(rubric.files), Path(workdir))
            options = GradeOptions(visible_only=True, secret_paths=secret_paths(rubric.path), isolation=isolation)
            report = grade(submission, rubric, options)
            written = written_check(submission, rubric)
    except GraderError as exc:
        print(f"grader check: error: {exc}", file=out)
        return 2
    _print_report(report, written, out, full, path.resolve())
    return 0


def written_check(submission: Submission, rubric: Rubric) -> WrittenCheck | None:
    """Each written answer's format, as the kit checks it; the answers are graded after the due date."""
    from grader.student_kit import written_formats

    name = rubric.files.get("written")
    if name is None:
        return None
    reason = submission.problems.get("written", "the written-answers file was not found.")
    return check_written(name, submission.files.get("written"), reason, written_formats(rubric))


def _print_report(report: GradeReport, written: WrittenCheck | None, out: TextIO, full: bool, shown: Path) -> None:
    """The table of public items, the public total, the isolation layer and the written answers."""
    rows = [Row(r.item.id, r.score, r.max_score, r.passed, r.feedback) for r in report.results]
    print_report(out, root=str(shown), rows=rows, notes=report.output,
                 layer=report.isolation, written=written, full=full)
