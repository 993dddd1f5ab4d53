"""Local worker processes for `grader grade --jobs N` (N > 1).

The grader's own work on a submission (reading it, planning calls, judging results, the written
and weights checks) is Python: threads of one process would take turns on its one interpreter
lock, so `--jobs 2` would not be twice `--jobs 1`. Each worker is a process of its own instead,
started fresh ("spawn": never a fork of this threaded process), holding the rubric and its
references, and its own warm sandbox process (grader/sandbox/warm.py). A job is the same
`batch.grade_one` a single-process run calls; the worker writes the submission's results.json
itself (atomically) and sends back the gradebook row.

A worker that dies (the OOM killer, a signal) loses nothing: the pool is started again and the
submissions without a row are graded again, a few times; after that they get a "not graded"
row, which a re-run grades again.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from grader.batch import BatchRow, SubmissionSource, _failed_row, _last_line, grade_one
from grader.engine import GradeOptions
from grader.rubric import Rubric

POOL_RESTARTS = 3
"""How many times a pool whose worker died is started again before the rest are left ungraded."""
IN_FLIGHT_PER_WORKER = 4
"""Jobs queued per worker: enough to keep it busy, few enough that a dead pool costs little."""

_rubric: Rubric | None = None  # the worker's own copy, set once by `_start_worker`


def _start_worker(rubric: Rubric, temporary_folder: str) -> None:
    global _rubric
    _rubric = rubric
    # The run's scratch folder (grader/scratch.py), so that a killed run's worker files are
    # removed by the next run as its own are.
    tempfile.tempdir = temporary_folder


def _grade_in_worker(source: SubmissionSource, out_dir: Path, options: GradeOptions) -> BatchRow:
    assert _rubric is not None, "the worker was started without its rubric"
    return grade_one(source, _rubric, out_dir, options)


def grade_in_processes(
    todo: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path, options: GradeOptions, jobs: int,
    rows: dict[str, BatchRow], progress: Callable[[int, int, float], None] | None,
) -> None:
    """Grade `todo` on `jobs` worker processes, filling `rows` (by submission name) as they finish."""
    started = time.perf_counter()
    done: set[str] = set()

    def record(source: SubmissionSource, row: BatchRow) -> None:
        rows[source.name] = row
        done.add(source.name)
        if progress:
            progress(len(done), len(todo), time.perf_counter() - started)

    left = list(todo)
    for _ in range(POOL_RESTARTS + 1):
        if not _one_pool(left, rubric, out_dir, options, jobs, record):
            return  # every job came back
        left = [source for source in left if source.name not in rows]
    for source in left:  # the pool kept dying: these are not graded (a re-run grades them)
        record(source, _failed_row(source, rubric, "the grader failed: its worker process died "
                                   f"{POOL_RESTARTS + 1} times while grading"))


def _one_pool(left: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path, options: GradeOptions,
              jobs: int, record: Callable[[SubmissionSource, BatchRow], None]) -> bool:
    """Grade `left` on one pool of workers; whether the pool broke (a worker died) on the way."""
    queue = iter(left)
    running: dict[Future[BatchRow], SubmissionSource] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(rubric, tempfile.gettempdir())) as pool:

        def refill() -> None:
            while len(running) < jobs * IN_FLIGHT_PER_WORKER:
                source = next(queue, None)
                if source is None:
                    return
                running[pool.submit(_grade_in_worker, source, out_dir, options)] = source

        try:
            refill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    source = running.pop(future)
                    try:
                        row = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception:  # grade_one never raises; should it, the batch still finishes
                        row = _failed_row(source, rubric, f"the grader failed: {_last_line(traceback.format_exc())}")
                    record(source, row)
                refill()
        except BrokenProcessPool:
            return True
    return False
