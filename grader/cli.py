"""The `grader` command: a thin layer over the library.

Each sub-command parses its arguments, calls library functions and turns the outcome into an
exit code. Instructor-side faults (bad rubric, bad arguments) print one clear line and exit 2;
a student's faults never reach here (they are graded outcomes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader import __version__
from grader.errors import GraderError
from grader.paths import bundled_assignments, choose_rubric, infer_assignment, samples_of
from grader.sandbox.layers import LAYERS
from grader.scratch import scratch_folder

if TYPE_CHECKING:
    from grader.batch import BatchRows
    from grader.rubric import Rubric

EPILOG_GRADE = """examples:
  grader grade                                   # every assignment's samples (sample_submissions/*/)
  grader grade submissions/ --out out --jobs 2   # a folder of folders or zips
  grader grade assignment_123_export.zip         # Gradescope's "Export submissions"
  grader grade --export course_download.zip         # the same export, saved under another name
  grader grade subs/ --dask tcp://10.0.0.5:8786  # on a Dask cluster (pip install 'grader[dask]')
  grader grade submissions/ --out out --force    # regrade even unchanged finished submissions
  grader grade subs/ --min-isolation namespaces  # refuse to grade unless bubblewrap isolates

A re-run skips a submission whose results.json was written from the same files, rubric and
grader version, and says how many it skipped; anything changed is graded again. A submission
the grader could not grade (a full disk, a sandbox that did not start) is listed and left for
the next run; the exit code is then 1.

Student code runs in the strongest isolation layer that works here. A weaker one is said on
stderr and in summary.html; one weaker than --min-isolation (or $GRADER_MIN_ISOLATION; as root,
by default, anything but rlimits) stops the run before anything is graded.
"""

EPILOG_GRADESCOPE = """examples:
  grader gradescope                              # inside Gradescope's container (run_autograder)
  grader gradescope --root /tmp/autograder --rubric rubrics/hw3.yaml   # a local dry run
"""

EPILOG_CHECK = """examples:
  grader check                                   # the files in the current folder
  grader check my_submission.zip                 # a folder or a zip
  grader check sub/ --isolation rlimits          # force an isolation layer
"""

EPILOG_BUILD_AUTOGRADER = """examples:
  grader build-autograder --assignment hw3       # writes autograder.zip for rubrics/hw3.yaml
  grader build-autograder --rubric rubrics/hw3.yaml --out dist/hw3-autograder.zip
"""

EPILOG_VALIDATE = """examples:
  grader validate --assignment hw3               # rubrics/hw3.yaml with sample_submissions/hw3/
  grader validate --rubric /elsewhere/hw3.yaml   # samples still from this checkout
  grader validate course/hw3.yaml --samples course/samples/hw3   # samples named explicitly

The samples folder holds reference/ (must earn full marks) and template/ (must earn 0 on
notebook items). Without one, the proofs that need it are reported as SKIP.
"""

EPILOG_STUDENT_KIT = """examples:
  grader build-student-kit                       # writes student_kit/
  grader build-student-kit --assignment hw3 --out handout/hw3
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_rubric(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rubric", type=Path, default=None,
                        help="rubric YAML file (default: the --assignment's, else the only one in rubrics/)")
    parser.add_argument("--assignment", default=None, metavar="NAME",
                        help="the assignment whose rubric (rubrics/NAME.yaml) and samples to use")


LAYER_CHOICES = list(LAYERS)
"""The sandbox's layers, strongest first: one class each in grader/sandbox/layers/."""


def _add_common(parser: argparse.ArgumentParser) -> None:
    _add_rubric(parser)
    parser.add_argument("--isolation", choices=LAYER_CHOICES, default=None,
                        help="force an isolation layer (default: the strongest that works here)")


def _add_min_isolation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-isolation", choices=LAYER_CHOICES, default=None, metavar="LAYER",
                        help="refuse to grade in a layer weaker than LAYER (one of %(choices)s; default: "
                             "$GRADER_MIN_ISOLATION, else, as root, anything but rlimits)")


def _command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
             summary: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A sub-command whose help ends with its (pre-formatted) examples."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=summary, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `grader` command."""
    parser = argparse.ArgumentParser(prog="grader", description="An autograder for a course's assignments: "
                                     "notebooks, written answers and weight files against computed references.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = _command(commands, "grade", "grade submissions and write results + gradebook",
                     EPILOG_GRADE)
    grade.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="a submission folder or zip, a folder of them, or a Gradescope export "
                            "(default: the assignment's sample_submissions/<assignment>/; with no "
                            "assignment named, every assignment's, into OUT/<assignment>/)")
    _add_common(grade)
    grade.add_argument("--out", type=Path, default=Path("out"),
                       help="output folder (default: %(default)s)")
    grade.add_argument("--jobs", type=_positive_int, default=1,
                       help="submissions graded at once, each worker a process of its own")
    grade.add_argument("--force", action="store_true",
                       help="regrade submissions that already have results")
    grade.add_argument("--dask", metavar="ADDRESS", default=None,
                       help="grade on the Dask scheduler at ADDRESS (e.g. tcp://host:8786) "
                            "instead of local worker processes; each submission's files are sent to the "
                            "workers, which need only the grader installed (no shared disk)")
    grade.add_argument("--compare", type=Path, default=None, metavar="OLD_OUT",
                       help="after grading, list per submission and item what changed since the run whose "
                            "output folder is OLD_OUT (also in summary.html); the exit status does not change")
    grade.add_argument("--export", action="store_true",
                       help="read every PATH as a Gradescope export (default: only a PATH named like "
                            "the download, assignment_<id>_export.zip or its folder, holding "
                            "submission_metadata.yml at its top; never a submission)")
    _add_min_isolation(grade)
    grade.set_defaults(handler=cmd_grade)

    gradescope = _command(commands, "gradescope", "grade inside Gradescope's container",
                          EPILOG_GRADESCOPE)
    gradescope.add_argument("--root", type=Path, default=Path("/autograder"),
                            help="the container's /autograder folder (default: %(default)s)")
    _add_rubric(gradescope)
    gradescope.set_defaults(handler=cmd_gradescope)

    check = _command(commands, "check",
                     "staff: run the public checks from a checkout (students use the kit's check.py)", EPILOG_CHECK)
    check.add_argument("path", nargs="?", type=Path, default=Path("."), metavar="PATH",
                       help="your submission folder or zip (default: the current folder)")
    check.add_argument("--full", action="store_true", help="print every feedback message in full")
    _add_common(check)
    check.set_defaults(handler=cmd_check)

    autograder = _command(commands, "build-autograder",
                          "write the autograder zip to upload to Gradescope",
                          EPILOG_BUILD_AUTOGRADER)
    _add_rubric(autograder)
    autograder.add_argument("--out", type=Path, default=Path("autograder.zip"),
                            help="zip to write (default: %(default)s)")
    autograder.set_defaults(handler=cmd_build_autograder)

    kit = _command(commands, "build-student-kit", "write the files handed out to students",
                   EPILOG_STUDENT_KIT)
    kit.add_argument("--out", type=Path, default=Path("student_kit"),
                     help="folder to write (default: %(default)s)")
    _add_rubric(kit)
    kit.set_defaults(handler=cmd_build_student_kit)

    validate = _command(commands, "validate", "prove the rubric's references and point totals",
                        EPILOG_VALIDATE)
    validate.add_argument("rubric_file", nargs="?", type=Path, default=None, metavar="RUBRIC",
                          help="rubric YAML file, or give it with --rubric (default: the --assignment's, "
                               "else the only one in rubrics/)")
    validate.add_argument("--rubric", type=Path, default=None, help="the same as RUBRIC")
    validate.add_argument("--assignment", default=None, metavar="NAME",
                          help="the assignment whose rubric (rubrics/NAME.yaml) to validate")
    validate.add_argument("--mutants", action="store_true",
                          help="also prove each notebook item fails wrong code: grade small wrong versions of "
                               "every graded reference function (and the template and a table of the public "
                               "answers, where the samples have them); exit 1 on a mutant no item kills that "
                               "is not equivalent")
    validate.add_argument("--samples", type=Path, default=None, metavar="DIR",
                          help="folder with the sample submissions reference/ and template/ "
                               "(default: sample_submissions/<assignment> of this checkout)")
    validate.add_argument("--isolation", choices=LAYER_CHOICES, default=None,
                          help="force an isolation layer (default: the strongest that works here)")
    _add_min_isolation(validate)
    validate.set_defaults(handler=cmd_validate)

    new = commands.add_parser(
        "new-assignment", help="write the skeleton of a new assignment beside the grader",
        description="Write rubrics/NAME.yaml, reference_solutions/NAME/ (master notebook, computed "
                    "references, plugin, build) and sample_submissions/NAME/ (reference and template): an "
                    "assignment that validates and grades at once; docs/authoring.md explains each file.")
    new.add_argument("name", metavar="NAME", help="the assignment's name, e.g. hw3")
    new.add_argument("--title", default=None, help='its title (default: "Assignment NAME")')
    new.set_defaults(handler=cmd_new_assignment)

    checks = commands.add_parser(
        "checks", help="list the checks a rubric item may use",
        description="List the grader's checks and, for the rubric's assignment, its plugin's own checks, "
                    "input generators and weights tasks.")
    _add_rubric(checks)
    checks.set_defaults(handler=cmd_checks)
    return parser


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade submissions; write results.json each, gradebook and summary; print a table."""
    if args.rubric is None:
        # No submissions and no assignment named: the bundled samples of every assignment,
        # each with its own rubric, into OUT/<assignment>/.
        codes = []
        for assignment in bundled_assignments():
            print(f"== {assignment} ==", flush=True)
            codes.append(cmd_grade(argparse.Namespace(**{
                **vars(args), "rubric": choose_rubric(assignment=assignment), "out": args.out / assignment})))
        return max(codes, default=0)
    from grader.batch import discover, iter_expected, run_batch
    from grader.engine import GradeOptions
    from grader.expected import mismatches
    from grader.isolation_policy import decide
    from grader.paths import secret_paths
    from grader.report import print_table, progress_printer
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    paths = args.paths or [samples_of(rubric.assignment)]
    out_dir: Path = args.out
    _check_out_folder(out_dir)
    decide(args.isolation, args.min_isolation)  # refuse before unpacking anything; run_batch says why again
    options = GradeOptions(isolation=args.isolation,
                           secret_paths=secret_paths(rubric.path, out_dir, tuple(paths)))
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as workdir:
        sources = discover(paths, dict(rubric.files), Path(workdir), out_dir=out_dir, notice=_notice,
                           export=args.export)
        if not sources:
            raise GraderError(f"no submissions found in {', '.join(map(str, paths))}")
        _make_folder(out_dir)
        rows = run_batch(sources, rubric, out_dir, options, jobs=args.jobs, force=args.force,
                         progress=progress_printer(sys.stderr), dask_address=args.dask,
                         notice=_notice, min_isolation=args.min_isolation)
        checked = list(iter_expected(rows, sources))
    failures = {row.name: mismatches(row.part_scores, expected)
                for row, expected in checked if expected and not row.failure}
    print_table(rows, rubric, {name: not problems for name, problems in failures.items()},
                sys.stdout)
    if args.compare is not None:
        _compare(args.compare, rows, rubric, out_dir)
    for name, problems in failures.items():
        for problem in problems:
            print(f"  {name}: {problem}", file=sys.stdout)
    written = [f"{out_dir}/<submission>/results.json",
               *(str(out_dir / name) for name in ("gradebook.csv", "summary.html")
                 if out_dir / name not in rows.not_written)]
    print("\nWrote " + (f"{', '.join(written[:-1])} and {written[-1]}" if len(written) > 1 else written[0]))
    _report_incomplete(rows)
    return 1 if any(failures.values()) or not rows.complete else 0


def _compare(old_out: Path, rows: BatchRows, rubric: Rubric, out_dir: Path) -> None:
    """Print what changed since OLD_OUT's run and add it to summary.html."""
    from grader.compare import changes_html, compare_runs, print_changes
    from grader.summary_html import write_summary

    if not old_out.is_dir():
        raise GraderError(f"--compare {old_out}: no such folder (the --out folder of an earlier run)")
    changes = compare_runs(old_out, rows)
    print_changes(changes, old_out, sys.stdout)
    summary = out_dir / "summary.html"
    if summary not in rows.not_written:
        try:
            write_summary(summary, rows, rubric, changes_html(changes, old_out))
        except OSError as exc:
            print(f"grader: could not add the comparison to {summary}: {exc}", file=sys.stderr)


def _report_incomplete(rows: BatchRows) -> None:
    """Say on stderr which submissions were not graded and which files were not written, and why."""
    if rows.failed:
        print(f"grader: {len(rows.failed)} of {len(rows)} submissions could not be graded (a fault of the "
              "grader or the machine, not of the submissions); run the same command again to grade "
              "them:", file=sys.stderr)
        for row in rows.failed:
            print(f"  {row.name}: {row.failure}", file=sys.stderr)
    for path, why in rows.not_written.items():
        print(f"grader: could not write {path}: {why}", file=sys.stderr)


def cmd_gradescope(args: argparse.Namespace) -> int:
    """Grade the container's submission into ROOT/results/results.json (always written)."""
    from grader.gradescope.entry import run_gradescope

    return run_gradescope(args.root, args.rubric)


def cmd_check(args: argparse.Namespace) -> int:
    """Run the public checks on a student's submission and print what they earn."""
    from grader.selfcheck import run_check

    return run_check(args.path, args.rubric, sys.stdout, full=args.full, isolation=args.isolation)


def cmd_build_autograder(args: argparse.Namespace) -> int:
    """Write the Gradescope autograder zip."""
    from grader.gradescope.autograder_zip import build_autograder

    if args.out.is_dir():
        raise GraderError(f"--out {args.out}: is a folder; name the zip to write, "
                          f"e.g. {args.out / 'autograder.zip'}")
    _check_out_folder(args.out.parent, args.out)
    _make_folder(args.out.parent)
    out = build_autograder(args.out, args.rubric)
    print(f"Wrote {out}: upload it as the assignment's autograder (it holds a new private salt).")
    return 0


def cmd_build_student_kit(args: argparse.Namespace) -> int:
    """Write the student kit folder."""
    from grader.student_kit import build_student_kit

    _check_out_folder(args.out)
    _make_folder(args.out)
    for path in build_student_kit(args.out, args.rubric):
        print(f"Wrote {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Prove every item's reference and the rubric's totals; exit 1 on any failure."""
    from grader.validate import validate_rubric

    if args.rubric_file is not None and args.rubric is not None and args.rubric_file != args.rubric:
        raise GraderError(f"two rubrics given ({args.rubric_file} and --rubric {args.rubric}); give one")
    if args.samples is not None and not args.samples.is_dir():
        raise GraderError(f"--samples {args.samples}: no such folder")
    rubric_path = choose_rubric(args.rubric or args.rubric_file, args.assignment)
    report = validate_rubric(rubric_path, isolation=args.isolation, samples=args.samples,
                             min_isolation=args.min_isolation)
    for line in report.lines:
        print(line)
    print(f"\n{report.summary()}")
    ok = report.ok
    if args.mutants:
        ok = _validate_mutants(rubric_path, args) and ok
    return 0 if ok else 1


def _validate_mutants(rubric_path: Path, args: argparse.Namespace) -> bool:
    """Print the mutants' table; whether every non-equivalent mutant was killed."""
    from grader.mutants import item_lines, report_lines, run_mutants, whole_notebook_lines
    from grader.rubric import load_rubric
    from grader.validate import find_samples

    rubric = load_rubric(rubric_path)
    samples = find_samples(rubric, args.samples)
    if samples is None:
        print("\nmutants: SKIP, no sample submissions (a reference/ folder) to put the mutants in")
        return True
    verdicts = run_mutants(rubric, samples, isolation=args.isolation)
    print("\nMutants of the graded functions (each put in the reference notebook and graded):")
    for line in [*report_lines(verdicts), "", "Per item:", *item_lines(verdicts), "",
                 *whole_notebook_lines(rubric, samples, isolation=args.isolation)]:
        print(line)
    survivors = [v for v in verdicts if not v.killed_by and not v.equivalent]
    print(f"\n{len(verdicts)} mutants: {sum(bool(v.killed_by) for v in verdicts)} killed, "
          f"{sum(v.equivalent for v in verdicts)} equivalent, {len(survivors)} survived")
    return not survivors


def cmd_new_assignment(args: argparse.Namespace) -> int:
    """Write a new assignment's skeleton in this checkout and build its samples."""
    from grader.new_assignment import create_assignment
    from grader.paths import PROJECT_ROOT

    written = create_assignment(args.name, PROJECT_ROOT, args.title)
    for path in written:
        print(path.relative_to(PROJECT_ROOT))
    print(f"\nWritten in {PROJECT_ROOT} (the checkout this grader runs from).\n"
          f"Next: grader validate --assignment {args.name} && grader grade --assignment {args.name}")
    return 0


def cmd_checks(args: argparse.Namespace) -> int:
    """List registered checks with their parameters."""
    from grader.checks.registry import REQUIRED, all_checks
    from grader.rubric import load_rubric

    if args.rubric is None:  # several assignments and none named: each one's list
        for number, assignment in enumerate(bundled_assignments()):
            print(f"{'' if number == 0 else chr(10)}== {assignment} ==")
            cmd_checks(argparse.Namespace(**{**vars(args), "rubric": choose_rubric(assignment=assignment)}))
        return 0
    rubric = load_rubric(args.rubric)
    for name, spec in sorted(all_checks(rubric.assignment).items()):
        params = ", ".join(f"{p}" + ("" if d is REQUIRED else f"={d!r}")
                           for p, (_, d) in spec.params.items())
        owner = f"[{spec.assignment}] " if spec.assignment else ""
        print(f"{name:20} {spec.kind:9} {owner}{spec.doc}\n{'':31}params: {params or 'none'}")
    if rubric.input_generators:
        names = ", ".join(sorted(rubric.input_generators))
        print(f"\ninput generators of {rubric.assignment} (for `inputs:`): {names}")
    if rubric.weights_tasks:
        print(f"weights tasks of {rubric.assignment} (for `task:`): {', '.join(sorted(rubric.weights_tasks))}")
    return 0


def _notice(message: str) -> None:
    """Tell the user something that is no error (skipped submissions, odd inputs), on stderr."""
    print(f"grader: {message}", file=sys.stderr)


def _check_out_folder(folder: Path, given: Path | None = None) -> None:
    """Refuse a folder that cannot be (it, or one above it, is a file); `given` is the --out named."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise GraderError(f"--out {given or folder}: {blocker} is a file, not a folder")


def _make_folder(path: Path) -> None:
    """Create an output folder; a file system refusal is the user's to fix, not a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GraderError(f"--out {path}: cannot create the folder: {exc.strerror or exc}") from None


def _discard_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # no file descriptor behind stdout (captured by a test): nothing will be flushed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `grader` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        every_sample = args.handler in (cmd_grade, cmd_checks) and not getattr(args, "paths", None) \
            and args.rubric is None and args.assignment is None and len(bundled_assignments()) > 1
        if hasattr(args, "assignment") and args.handler is not cmd_validate and not every_sample:
            given = getattr(args, "paths", None) or ([args.path] if args.handler is cmd_check else [])
            if args.rubric is None and args.assignment is None and given and len(bundled_assignments()) > 1:
                args.assignment = infer_assignment(list(given))  # the submissions' file names say
                if args.assignment is not None and args.handler is cmd_grade:
                    _notice(f"grading as {args.assignment} (the submissions' file names); "
                            "--assignment NAME says otherwise")
            args.rubric = choose_rubric(args.rubric, args.assignment)
        # Every temporary folder of the command in one that the next run removes if this one is killed.
        with scratch_folder():
            code = int(args.handler(args))
        sys.stdout.flush()  # here, not at exit: a reader that left (`| head`) is then caught below
        return code
    except BrokenPipeError:
        _discard_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a command whose reader left
    except GraderError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grader: interrupted; finished submissions are kept, run again to continue",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
