"""Grading many submissions: discovery, parallel workers, resumable output, gradebook.

Each submission is graded on its own (its own sandboxed child process, its own temporary
folder) and its results.json is written atomically as soon as it is done, so a run killed at
any moment loses nothing. A re-run skips a submission only when its results.json carries the
same fingerprint (grader code and version, references, rubric, isolation layer, salt and the
submission's files): anything changed is graded again.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import __version__
from grader.engine import GradeOptions, failed_report, grade
from grader.errors import GraderError
from grader.results import write_json_atomic
from grader.rubric import Rubric
from grader.safezip import is_zip
from grader.seeds import private_salt
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


def safe_name(name: str) -> str:
    """A folder name that is safe on every platform for a submission label."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"
    return cleaned[:100]


def discover(
    paths: Sequence[Path], wanted: dict[str, str], workdir: Path, *,
    out_dir: Path | None = None, notice: Notice | None = None,
) -> list[SubmissionSource]:
    """Expand command-line paths into submissions: a submission, a folder of them, or an export.

    Raises GraderError, before anything is graded, for a path that is neither a folder nor a zip,
    a folder with nothing in it, or a path inside `out_dir` (which is never a submission).
    """
    from grader.gradescope.export import read_export

    sources: list[SubmissionSource] = []
    output = out_dir.resolve() if out_dir is not None else None
    for path in paths:
        _check_input(path, out_dir)
        if path.is_file() and is_zip(path) and _is_export_zip(path):
            sources += _from_export(read_export(path, workdir / f"export-{len(sources)}"))
        elif path.is_dir() and _is_export_dir(path):
            sources += _from_export(read_export(path, workdir / f"export-{len(sources)}"))
        elif path.is_file() or looks_like_submission(path, wanted):
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


def _is_export_zip(path: Path) -> bool:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("submission_metadata.yml") for name in archive.namelist()[:5000])


def _is_export_dir(path: Path) -> bool:
    return (path / "submission_metadata.yml").is_file() or any(
        (child / "submission_metadata.yml").is_file() for child in path.iterdir() if child.is_dir()
    )


def _from_export(exported: Sequence[Any]) -> list[SubmissionSource]:
    return [
        SubmissionSource(f"submission_{item.id}", item.folder, tuple(item.submitters))
        for item in exported
    ]


def grade_one(
    source: SubmissionSource, rubric: Rubric, out_dir: Path, options: GradeOptions,
) -> BatchRow:
    """Grade one submission and write its results.json; never raises for its content."""
    target = out_dir / source.name
    with tempfile.TemporaryDirectory(prefix="grader-") as temp:
        try:
            submission = open_submission(source.path, dict(rubric.files), Path(temp), name=source.name,
                                         submitters=source.submitters)
            report = grade(submission, rubric, options)
            document = report.document()
            document["extra_data"]["submitters"] = [
                {"name": s.name, "email": s.email, "sid": s.sid} for s in source.submitters]
            if source.fingerprint:  # only a grade that went through may be reused by a re-run
                document["extra_data"][FINGERPRINT] = source.fingerprint
            write_json_atomic(target / "results.json", document)
        except Exception:
            # Whatever went wrong (an unreadable folder, a file system error), this submission
            # still gets a complete results.json and the batch goes on.
            empty = Submission(source.name, source.path, {}, {}, (), tuple(source.submitters))
            report = failed_report(empty, rubric, options, f"grading {source.path} failed\n{traceback.format_exc()}")
            document = report.document()
            write_json_atomic(target / "results.json", document)
        if report.log:
            (target / "grader.log").write_text("\n\n".join(report.log), encoding="utf-8", errors="replace")
    return row_from_results(source.name, source.submitters, document, rubric)


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
    dask_address: str | None = None, notice: Notice | None = None,
) -> list[BatchRow]:
    """Grade every source (skipping unchanged finished ones unless force), write gradebook and summary.

    With `dask_address`, the submissions to grade are sent to that Dask cluster instead of
    local threads (`grader.distributed`). `notice` is told how many were skipped.
    """
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
    ordered = [rows[s.name] for s in sources]
    write_gradebook(out_dir / "gradebook.csv", ordered, rubric)
    from grader.summary_html import write_summary  # here: summary_html imports this module

    write_summary(out_dir / "summary.html", ordered, rubric)
    return ordered


def finished_row(source: SubmissionSource, rubric: Rubric, out_dir: Path) -> BatchRow | None:
    """The row of the source's results.json if it was graded from these very inputs, else None."""
    try:
        document = json.loads((out_dir / source.name / "results.json").read_text(encoding="utf-8"))
        if not source.fingerprint or document["extra_data"].get(FINGERPRINT) != source.fingerprint:
            return None  # graded from other files, rubric, salt or grader; or by an older grader
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
            _add_chunk(digest, os.fsencode(source.relative_to(package.parent).as_posix()))
            _add_chunk(digest, source.read_bytes())
    try:
        layer = choose_layer(options.isolation)
    except IsolationError as exc:
        layer = f"unavailable: {exc}"  # the grade then fails the same way, and is not reused
    _add_chunk(digest, layer.encode())
    _add_chunk(digest, rubric.path.read_bytes())
    # Hidden inputs are drawn from the salt; only its hash enters, so results.json reveals nothing.
    salt = options.salt if options.salt is not None else private_salt()[0]
    _add_chunk(digest, hashlib.sha256(salt.encode()).digest())
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
    for name, file in _submission_files(path.resolve(), exclude):
        _add_chunk(digest, os.fsencode(name))
        _add_file(digest, file)
    return f"sha256:{digest.hexdigest()}"


def _submission_files(root: Path, exclude: Path | None) -> Iterator[tuple[str, Path]]:
    """Each file (and symlink) below root with its relative name, in a stable order; a zip is itself."""
    if not root.is_dir():
        yield "", root
        return
    for folder, dirs, files in os.walk(root):  # never follows symlinked folders: a student's links
        here = Path(folder)
        links = [d for d in dirs if (here / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links and (here / d) != exclude)
        for name in sorted([*files, *links]):
            yield (here / name).relative_to(root).as_posix(), here / name


def _add_file(digest: hashlib._Hash, path: Path) -> None:
    """Hash a regular file's bytes or a symlink's target; never read a device, pipe or link."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            _add_chunk(digest, b"link:" + os.fsencode(os.readlink(path)))
        elif stat.S_ISREG(info.st_mode):
            digest.update(b"file:" + info.st_size.to_bytes(8, "little"))
            with path.open("rb") as stream:
                while block := stream.read(1 << 20):
                    digest.update(block)
        else:
            _add_chunk(digest, b"special")
    except OSError:
        _add_chunk(digest, b"unreadable")


def _add_chunk(digest: hashlib._Hash, data: bytes) -> None:
    """Hash `data` with its length first, so that no two sequences of chunks hash alike."""
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def _grade_locally(
    todo: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path, options: GradeOptions,
    jobs: int, rows: dict[str, BatchRow], progress: Callable[[int, int, float], None] | None,
) -> None:
    """Grade `todo` on `jobs` local threads (each submission runs in its own child process)."""
    started = time.perf_counter()
    done = 0
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_one, source, rubric, out_dir, options): source
                   for source in todo}
        for future in as_completed(futures):
            source = futures[future]
            rows[source.name] = future.result()
            with lock:
                done += 1
                if progress:
                    progress(done, len(todo), time.perf_counter() - started)


def write_gradebook(path: Path, rows: Sequence[BatchRow], rubric: Rubric) -> None:
    """gradebook.csv: one row per submission, a column per part and per item, the total."""
    parts = [p for p in rubric.parts if p not in {m.part for m in rubric.manual}]
    items = [item.id for item in rubric.items]
    header = ["submission", "names", "emails", "sids", *parts, *(f"item:{i}" for i in items),
              "late_penalty", "total", "max"]
    temp = path.with_suffix(".csv.tmp")
    with temp.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row in rows:
            writer.writerow([
                row.name, "; ".join(s.name for s in row.submitters),
                "; ".join(s.email for s in row.submitters),
                "; ".join(s.sid for s in row.submitters),
                *(_num(row.part_scores.get(p, 0.0)) for p in parts),
                *(_num(row.item_scores.get(i, 0.0)) for i in items),
                _late(row), _num(row.total), _num(row.max_total),
            ])
    shutil.move(str(temp), path)


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
