"""Grading many submissions: discovery, parallel workers, resumable output, gradebook.

Each submission is graded on its own (its own sandboxed child process, its own temporary
folder) and its results.json is written atomically as soon as it is done, so a run killed at
any moment loses nothing and a re-run skips what is finished.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.engine import GradeOptions, failed_report, grade
from grader.errors import GraderError
from grader.results import write_json_atomic
from grader.rubric import Rubric
from grader.safezip import is_zip
from grader.submission import Submission, Submitter, looks_like_submission, open_submission


@dataclass(frozen=True)
class SubmissionSource:
    """A submission to grade: where it is, what to call it, who submitted it."""

    name: str
    path: Path
    submitters: tuple[Submitter, ...] = ()


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
    paths: Sequence[Path], wanted: dict[str, str], workdir: Path,
) -> list[SubmissionSource]:
    """Expand command-line paths into submissions: a submission, a folder of them, or an export."""
    from grader.gradescope.export import read_export

    sources: list[SubmissionSource] = []
    for path in paths:
        if not path.exists():
            raise GraderError(f"{path}: no such file or folder")
        if path.is_file() and is_zip(path) and _is_export_zip(path):
            sources += _from_export(read_export(path, workdir / f"export-{len(sources)}"))
        elif path.is_dir() and _is_export_dir(path):
            sources += _from_export(read_export(path, workdir / f"export-{len(sources)}"))
        elif path.is_file() or looks_like_submission(path, wanted):
            sources.append(SubmissionSource(path.stem if path.is_file() else path.name, path))
        else:
            children = sorted(p for p in path.iterdir()
                              if (p.is_dir() or is_zip(p)) and not p.name.startswith("."))
            if children:
                sources += [SubmissionSource(p.stem if p.is_file() else p.name, p) for p in children]
            else:  # a folder with neither files we know nor submissions in it: an (empty) submission
                sources.append(SubmissionSource(path.name, path))
    names: dict[str, int] = {}
    unique = []
    for source in sources:
        base = safe_name(source.name)
        names[base] = names.get(base, 0) + 1
        label = base if names[base] == 1 else f"{base}-{names[base]}"
        unique.append(SubmissionSource(label, source.path, source.submitters))
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
    dask_address: str | None = None,
) -> list[BatchRow]:
    """Grade every source (skipping finished ones unless force), write gradebook and summary.

    With `dask_address`, the submissions to grade are sent to that Dask cluster instead of
    local threads (`grader.distributed`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, BatchRow] = {}
    todo: list[SubmissionSource] = []
    for source in sources:
        existing = out_dir / source.name / "results.json"
        if existing.is_file() and not force:
            try:
                document = json.loads(existing.read_text(encoding="utf-8"))
                rows[source.name] = row_from_results(source.name, source.submitters, document,
                                                     rubric)
                continue
            except (ValueError, KeyError, TypeError):
                pass  # a damaged file from an old run: grade again
        todo.append(source)
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
