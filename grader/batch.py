"""Grading many submissions: discovery, parallel workers, resumable output, gradebook.

Each submission is graded on its own (its own sandboxed child process, its own temporary
folder) and its results.json is written atomically as soon as it is done, so a run killed at
any moment loses nothing. A re-run skips a submission only when its results.json carries the
same fingerprint (grader code and version, references, rubric, isolation layer, salt and the
submission's files): anything changed is graded again.

A submission the grader could not grade (its fault or the machine's: a full disk, a sandbox
that did not start) is never recorded as final: its row says why (`BatchRow.failure`), its
results.json (if it can be written) has no fingerprint, so a re-run grades it again, and the
batch goes on to the end, writing the gradebook and summary if it can (`BatchRows`).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import __version__
from grader.engine import INTERNAL_ERROR, GradeOptions, GradeReport, failed_report, grade
from grader.errors import GraderError
from grader.isolation_policy import decide
from grader.results import write_json_atomic, write_text_atomic
from grader.rubric import Rubric
from grader.safezip import is_zip
from grader.seeds import hash_chunk, hash_tree, private_salt
from grader.submission import Submission, Submitter, looks_like_submission, open_submission


@dataclass(frozen=True)
class SubmissionSource:
    """A submission to grade: where it is, what to call it, who submitted it, its fingerprint."""

    name: str
    path: Path
    submitters: tuple[Submitter, ...] = ()
    fingerprint: str = ""  # set by run_batch, recorded in results.json (see `results_fingerprint`)


FINGERPRINT = "fingerprint"
"""The key of `extra_data` in results.json that holds the grade's fingerprint."""
GRADING_FAILED = "grading_failed"
"""The key of `extra_data` in results.json that says why the grader could not grade it."""

Notice = Callable[[str], None]
"""Where a batch reports what the user should know but that is no error (skips, odd inputs)."""


@dataclass
class BatchRow:
    """One gradebook row: a graded submission's scores."""

    name: str
    submitters: tuple[Submitter, ...]
    part_scores: dict[str, float]
    item_scores: dict[str, float]
    total: float
    max_total: float
    extra: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    """Why the grader could not grade this submission (its scores are not final); empty if graded."""


class BatchRows(list[BatchRow]):
    """A batch's rows in the order of its sources, and the output files it could not write."""

    def __init__(self, rows: Iterable[BatchRow] = (), not_written: Mapping[Path, str] | None = None,
                 sources: Sequence[SubmissionSource] = ()) -> None:
        super().__init__(rows)
        self.not_written: dict[Path, str] = dict(not_written or {})
        """Each output file the batch could not write, and why."""
        self.sources: tuple[SubmissionSource, ...] = tuple(sources)
        """The graded submissions' sources (summary.html compares their files)."""

    @property
    def failed(self) -> list[BatchRow]:
        """The rows of the submissions the grader could not grade (a re-run grades them again)."""
        return [row for row in self if row.failure]

    @property
    def complete(self) -> bool:
        """Whether every submission was graded and every output file written."""
        return not self.failed and not self.not_written


def safe_name(name: str) -> str:
    """A folder name that is safe on every platform for a submission label."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"
    return cleaned[:100]


def discover(
    paths: Sequence[Path], wanted: dict[str, str], workdir: Path, *,
    out_dir: Path | None = None, notice: Notice | None = None, export: bool = False,
) -> list[SubmissionSource]:
    """Expand command-line paths into submissions: a submission, a folder of them, or an export.

    A path is read as a Gradescope export when `export` says so, or when it is named and laid
    out as one at its top (`looks_like_export`); nothing below the paths named is ever taken for
    an export, since submissions are the students' to fill. Raises GraderError, before anything
    is graded, for a path that is neither a folder nor a zip, a folder with nothing in it, a path
    inside `out_dir` (which is never a submission), or, with `export`, a path that is no export.
    """
    from grader.gradescope.export import holds_metadata, looks_like_export, read_export

    sources: list[SubmissionSource] = []
    output = out_dir.resolve() if out_dir is not None else None
    for path in paths:
        _check_input(path, out_dir)
        if export or looks_like_export(path):
            notes: list[str] = []
            exported = read_export(path, workdir / f"export-{len(sources)}", notes=notes)
            if notice is not None:
                notice(f"{path}: read as a Gradescope export of {len(exported)} submissions")
                for note in notes:
                    notice(f"{path}: {note}")
            sources += _from_export(exported)
            continue
        if notice is not None and holds_metadata(path):
            notice(f"{path} holds submission_metadata.yml but is not named like a Gradescope export "
                   "(assignment_<id>_export.zip): graded as submissions; if it is Gradescope's "
                   "download, renamed, pass --export")
        if path.is_file() or looks_like_submission(path, wanted):
            sources.append(SubmissionSource(path.stem if path.is_file() else path.resolve().name, path))
        else:
            sources += _from_folder(path, wanted, output, notice)
    return _unique(sources)


def _check_input(path: Path, out_dir: Path | None) -> None:
    """Refuse an input that cannot hold submissions, before anything is graded."""
    if not path.exists():
        raise GraderError(f"{path}: no such file or folder")
    if path.is_file() and not _zip_like(path):
        raise GraderError(f"{path}: not a folder, a .zip file or a Gradescope export")
    if out_dir is not None and _inside(path.resolve(), out_dir.resolve()):
        raise GraderError(f"{path} is the output folder {out_dir} or inside it; choose another --out")


def _zip_like(path: Path) -> bool:
    """A zip, or a file named like one: a damaged .zip is a student's fault, graded with a message."""
    return path.suffix.lower() == ".zip" or is_zip(path)


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` (resolved) is `folder` (resolved) or below it."""
    return path == folder or folder in path.parents


def _from_folder(
    path: Path, wanted: dict[str, str], output: Path | None, notice: Notice | None,
) -> list[SubmissionSource]:
    """A folder of submissions (folders and zips), or else one submission without known files."""
    # Hidden entries (.DS_Store, .git) and our own output folder are never a student's work.
    entries = [p for p in sorted(path.iterdir())
               if not p.name.startswith(".") and not (output is not None and _inside(p.resolve(), output))]
    children = [p for p in entries if p.is_dir() or (p.is_file() and _zip_like(p))]
    if children:
        return [SubmissionSource(p.stem if p.is_file() else p.name, p) for p in children]
    if not entries:
        raise GraderError(f"no submissions found in {path}: it holds nothing to grade")
    if notice is not None:
        notice(f"warning: {path} holds none of {', '.join(wanted.values())} and no submission "
               "folders or zips; graded as one empty submission")
    return [SubmissionSource(path.resolve().name, path)]


def _unique(sources: Sequence[SubmissionSource]) -> list[SubmissionSource]:
    """The sources with labels that are safe folder names, numbered where two would collide."""
    names: dict[str, int] = {}
    unique = []
    for source in sources:
        base = safe_name(source.name)
        names[base] = names.get(base, 0) + 1
        label = base if names[base] == 1 else f"{base}-{names[base]}"
        unique.append(dataclasses.replace(source, name=label))
    return unique


def _from_export(exported: Sequence[Any]) -> list[SubmissionSource]:
    return [
        SubmissionSource(f"submission_{item.id}", item.folder, tuple(item.submitters))
        for item in exported
    ]


def grade_one(
    source: SubmissionSource, rubric: Rubric, out_dir: Path, options: GradeOptions,
) -> BatchRow:
    """Grade one submission and write its results.json; never raises.

    When the grader could not grade it (a fault of the grader or of the machine, never of the
    submission), the row's `failure` says why and its results.json, if it can be written,
    carries that reason instead of a fingerprint: a re-run grades it again.
    """
    target = out_dir / source.name
    report, failure = _grade_report(source, rubric, options)
    document = report.document()
    document["extra_data"]["submitters"] = [
        {"name": s.name, "email": s.email, "sid": s.sid} for s in source.submitters]
    if failure:
        document["extra_data"][GRADING_FAILED] = failure
    elif source.fingerprint:  # only a grade that went through may be reused by a re-run
        document["extra_data"][FINGERPRINT] = source.fingerprint
    failure = write_outputs(target, document, "\n\n".join(report.log), failure)
    row = row_from_results(source.name, source.submitters, document, rubric)
    row.failure = failure
    return row


def write_outputs(target: Path, document: dict[str, Any], log: str, failure: str = "") -> str:
    """Write a submission's grader.log, then its results.json; `failure` with what could not be written.

    results.json is what a re-run trusts as a finished grade, so it is written last, and only
    ever whole: a grader killed before it grades the submission again, and one killed after it
    leaves a complete log beside it. An older grade's log that this grade does not replace is
    removed, as are the temporary files of writes a kill interrupted (only one thread ever writes
    a submission's folder).
    """
    _remove_interrupted_writes(target)
    log_problem = ""
    try:
        if log:
            target.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target / "grader.log", log, errors="replace")
        else:
            (target / "grader.log").unlink(missing_ok=True)
    except OSError as exc:
        log_problem = f"its grader.log could not be written either: {_why(exc)}"
    try:
        write_json_atomic(target / "results.json", document)
    except OSError as exc:
        failure = "; ".join(filter(None, [failure, f"its results.json could not be written: {_why(exc)}"]))
    # Staff notes only: the grade stands without them, but a failure must say where its log went.
    if failure and log_problem:
        failure += f"; {log_problem}"
    return failure


_OUTPUTS = ("results.json", "grader.log")


def _remove_interrupted_writes(target: Path) -> None:
    """Remove what atomic writes of the folder's outputs left when killed (`.results.json.*.tmp`)."""
    try:
        names = os.listdir(target)
    except OSError:
        return  # not made yet: nothing was ever written here
    for name in names:
        if name.endswith(".tmp") and name.startswith(tuple(f".{output}." for output in _OUTPUTS)):
            try:
                (target / name).unlink()
            except OSError:
                pass  # it stays, as it would have without this cleanup


def _grade_report(source: SubmissionSource, rubric: Rubric, options: GradeOptions) -> tuple[GradeReport, str]:
    """The submission's report and, if the grader could not grade it, why (else empty)."""
    try:
        with tempfile.TemporaryDirectory(prefix="grader-", ignore_cleanup_errors=True) as temp:
            submission = open_submission(source.path, dict(rubric.files), Path(temp), name=source.name,
                                         submitters=source.submitters)
            report = grade(submission, rubric, options)
    except Exception:
        # Whatever went wrong (an unreadable folder, a full disk), this submission still gets a
        # complete results.json and the batch goes on.
        error = traceback.format_exc()
        empty = Submission(source.name, source.path, {}, {}, (), tuple(source.submitters))
        report = failed_report(empty, rubric, options, f"grading {source.path} failed\n{error}")
        return report, f"the grader failed: {_last_line(error)}"
    # The engine scores an item 0 with INTERNAL_ERROR when the grader or the machine failed on it
    # (a sandbox that could not start on a full disk costs every notebook item): not a grade.
    broken = [r.item.id for r in report.results if r.feedback.startswith(INTERNAL_ERROR)]
    if not broken:
        return report, ""
    errors = [_last_line(entry) for entry in report.log if "Traceback" in entry]
    shown = ", ".join(broken[:3]) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")
    return report, f"grader internal error on {shown}" + (f" ({errors[0]})" if errors else "")


def _last_line(text: str) -> str:
    """The last non-empty line of a traceback (the exception), shortened."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown error")[:300]


def _why(exc: OSError) -> str:
    """An OSError in a few words: "No space left on device"."""
    return exc.strerror or str(exc) or type(exc).__name__


def _failed_row(source: SubmissionSource, rubric: Rubric, failure: str) -> BatchRow:
    """The row of a submission whose grading raised past `grade_one` (nothing was written)."""
    return BatchRow(source.name, source.submitters, dict.fromkeys(_graded_parts(rubric), 0.0),
                    {item.id: 0.0 for item in rubric.items}, 0.0, rubric.autograded_points, {}, failure)


def _graded_parts(rubric: Rubric) -> list[str]:
    """The parts with autograded items, in rubric order."""
    return [p for p in rubric.parts if p not in {m.part for m in rubric.manual}]


def row_from_results(
    name: str, submitters: tuple[Submitter, ...], document: dict[str, Any], rubric: Rubric,
) -> BatchRow:
    """A gradebook row from a results.json document (fresh or read back from disk)."""
    items = {t["extra_data"]["item"]: float(t["score"]) for t in document["tests"]}
    parts = dict.fromkeys(rubric.parts, 0.0)
    for item in rubric.items:
        parts[item.part] = parts.get(item.part, 0.0) + items.get(item.id, 0.0)
    for part in [m.part for m in rubric.manual]:
        parts.pop(part, None)
    total = float(document.get("score", sum(items.values())))
    extra = document.get("extra_data", {})
    return BatchRow(name, submitters, parts, items, total, rubric.autograded_points, dict(extra))


def run_batch(
    sources: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path, options: GradeOptions, *,
    jobs: int = 1, force: bool = False, progress: Callable[[int, int, float], None] | None = None,
    dask_address: str | None = None, notice: Notice | None = None, min_isolation: str | None = None,
) -> BatchRows:
    """Grade every source (skipping unchanged finished ones unless force), write gradebook and summary.

    Refuses (IsolationRefused, before anything is graded) when the isolation layer is weaker
    than `min_isolation` or the default minimum (`grader.isolation_policy`); a weaker layer
    that is allowed is told to `notice`, and every submission is graded in that very layer.
    With `dask_address`, the submissions to grade are sent to that Dask cluster instead of
    local worker processes (`grader.distributed`). `notice` is told how many were skipped.
    Submissions that could not be graded and output files that could not be written are in the result
    (`BatchRows.failed`, `BatchRows.not_written`): the batch itself always finishes.
    """
    decision = decide(options.isolation, min_isolation)
    if decision.warning and notice is not None:
        notice(f"warning: {decision.warning}")
    options = dataclasses.replace(options, isolation=decision.layer)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = grading_key(rubric, options)
    output = out_dir.resolve()
    sources = [dataclasses.replace(s, fingerprint=results_fingerprint(s.path, key, output))
               for s in sources]
    rows: dict[str, BatchRow] = {}
    if not force:
        rows = {s.name: row for s in sources if (row := finished_row(s, rubric, out_dir)) is not None}
    if rows and notice is not None:
        notice(f"{len(rows)} of {len(sources)} already graded and unchanged, skipped "
               "(use --force to regrade)")
    todo = [source for source in sources if source.name not in rows]
    if dask_address is not None and todo:
        from grader.distributed import grade_on_dask

        graded = grade_on_dask(dask_address, todo, rubric, out_dir, options, progress)
        rows.update((row.name, row) for row in graded)
    elif todo:
        _grade_locally(todo, rubric, out_dir, options, jobs, rows, progress)
    from grader.summary_html import write_summary  # here: summary_html imports this module

    ordered = BatchRows((rows[s.name] for s in sources), sources=sources)
    for name, write in (("gradebook.csv", write_gradebook), ("summary.html", write_summary)):
        try:
            write(out_dir / name, ordered, rubric)
        except OSError as exc:
            ordered.not_written[out_dir / name] = _why(exc)
    return ordered


def finished_row(source: SubmissionSource, rubric: Rubric, out_dir: Path) -> BatchRow | None:
    """The row of the source's results.json if it was graded from these very inputs, else None."""
    try:
        document = json.loads((out_dir / source.name / "results.json").read_text(encoding="utf-8"))
        extra = document["extra_data"]
        if not source.fingerprint or extra.get(FINGERPRINT) != source.fingerprint or GRADING_FAILED in extra:
            return None  # graded from other files, rubric, salt or grader; by an older grader; or not at all
        return row_from_results(source.name, source.submitters, document, rubric)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, or damaged by a run killed mid-write: grade again


def grading_key(rubric: Rubric, options: GradeOptions) -> bytes:
    """What every grade of a batch depends on besides the submission.

    The grader's code and the reference solutions (a fixed reference or check changes grades
    without a new version number), the rubric, the isolation layer (a grade made without
    isolation is not reused by a run with it) and the salt.
    """
    from grader.sandbox.isolation import IsolationError, choose_layer

    digest = hashlib.sha256(f"grader {__version__}\0".encode())
    for package in _code_packages(rubric):
        for source in sorted(package.rglob("*.py")):
            hash_chunk(digest, os.fsencode(source.relative_to(package.parent).as_posix()))
            hash_chunk(digest, source.read_bytes())
    try:
        layer = choose_layer(options.isolation)
    except IsolationError as exc:
        layer = f"unavailable: {exc}"  # the grade then fails the same way, and is not reused
    hash_chunk(digest, layer.encode())
    hash_chunk(digest, rubric.path.read_bytes())
    # Hidden inputs are drawn from the salt; only its hash enters, so results.json reveals nothing.
    salt = options.salt if options.salt is not None else private_salt()[0]
    hash_chunk(digest, hashlib.sha256(salt.encode()).digest())
    return digest.digest()


def _code_packages(rubric: Rubric) -> list[Path]:
    """The folders of the grader package and of the packages holding the rubric's references."""
    import importlib.util

    folders = [Path(__file__).resolve().parent]
    for module in (rubric.written_reference.partition(":")[0], rubric.code_reference):
        spec = importlib.util.find_spec(module.split(".")[0])
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            if Path(location).resolve() not in folders:
                folders.append(Path(location).resolve())
    return folders


def results_fingerprint(path: Path, key: bytes, exclude: Path | None = None) -> str:
    """A hash of `key` (see `grading_key`) and the submission's file names and bytes.

    A zip counts as its own bytes; a folder as every file below it except `exclude` (the
    output folder, which may sit inside a submission graded in place).
    """
    digest = hashlib.sha256(key)
    hash_tree(digest, path.resolve(), exclude=exclude)
    return f"sha256:{digest.hexdigest()}"


def _grade_locally(
    todo: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path, options: GradeOptions,
    jobs: int, rows: dict[str, BatchRow], progress: Callable[[int, int, float], None] | None,
) -> None:
    """Grade `todo` here (`jobs` 1) or on `jobs` worker processes (grader.workers)."""
    if jobs > 1 and len(todo) > 1:
        from grader.workers import grade_in_processes  # here: it imports this module

        grade_in_processes(todo, rubric, out_dir, options, jobs, rows, progress)
        return
    started = time.perf_counter()
    for done, source in enumerate(todo, 1):
        try:
            rows[source.name] = grade_one(source, rubric, out_dir, options)
        except Exception:  # grade_one never raises; should it, the batch still finishes
            rows[source.name] = _failed_row(source, rubric, f"the grader failed: "
                                            f"{_last_line(traceback.format_exc())}")
        if progress:
            progress(done, len(todo), time.perf_counter() - started)


def write_gradebook(path: Path, rows: Sequence[BatchRow], rubric: Rubric) -> None:
    """gradebook.csv: one row per submission, a column per part and per item, the total, the status.

    A submission the grader could not grade has no scores (rather than zeros that could be taken
    for a grade) and its status says why. Every text cell is made inert for spreadsheets
    (`_text`): names, emails and ids are the students' own.
    """
    parts = _graded_parts(rubric)
    items = [item.id for item in rubric.items]
    header = ["submission", "names", "emails", "sids", *parts, *(f"item:{i}" for i in items),
              "late_penalty", "total", "max", "status"]
    lines = [header]
    for row in rows:
        scores = [*(_num(row.part_scores.get(p, 0.0)) for p in parts),
                  *(_num(row.item_scores.get(i, 0.0)) for i in items), _late(row), _num(row.total)]
        if row.failure:
            scores = [""] * len(scores)
        status = f"not graded, run again: {row.failure}" if row.failure else "graded"
        lines.append([
            _text(row.name), _text("; ".join(s.name for s in row.submitters)),
            _text("; ".join(s.email for s in row.submitters)), _text("; ".join(s.sid for s in row.submitters)),
            *scores, _num(row.max_total), _text(status),
        ])
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with temp.open("w", newline="", encoding="utf-8") as stream:
            csv.writer(stream).writerows(lines)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A text cell no spreadsheet runs as a formula: OWASP's CSV injection defence.

    A cell starting with = + - @ (after any spaces), a tab or a carriage return gets a leading
    single quote, which spreadsheets show as text; `=HYPERLINK(...)` as a display name stays a
    name. Numbers are never text cells, so no score is changed.
    """
    if value.startswith(_FORMULA_STARTS) or value.lstrip().startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _late(row: BatchRow) -> str:
    """The late penalty (a fraction) when the results carry one (Gradescope runs), else empty."""
    late = row.extra.get("late")
    return _num(float(late["penalty"])) if isinstance(late, dict) and "penalty" in late else ""


def _num(value: float) -> str:
    return f"{value:g}"


def iter_expected(
    rows: Sequence[BatchRow], sources: Sequence[SubmissionSource],
) -> Iterator[tuple[BatchRow, dict[str, Any] | None]]:
    """Pairs each row with the sample's expected.json, if the source folder has one."""
    by_name = {s.name: s for s in sources}
    for row in rows:
        folder = by_name[row.name].path
        expected_file = folder / "expected.json" if folder.is_dir() else None
        expected = None
        if expected_file is not None and expected_file.is_file():
            expected = json.loads(expected_file.read_text(encoding="utf-8"))
        yield row, expected
