"""Grading a batch on a Dask cluster (`grader grade --dask ADDRESS`; `pip install grader[dask]`).

Each submission is the same job as in a local run, `batch.grade_one`, sent to a worker: the
worker runs the sandbox exactly as a local run does. Workers need the grader installed and
must see the same file system as this machine (the submissions and the output folder), as on
a cluster with a shared home or scratch file system.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from grader.batch import BatchRow, SubmissionSource, grade_one
from grader.engine import GradeOptions
from grader.errors import GraderError
from grader.rubric import Rubric

__all__ = ["grade_on_dask", "grade_on_worker"]

CONNECT_TIMEOUT = "20s"


def grade_on_worker(
    source: SubmissionSource, rubric: Rubric, out_dir: Path, options: GradeOptions,
) -> BatchRow:
    """The job a worker runs: `grade_one`, with this machine's own secret paths added.

    The grader package and the references may be installed elsewhere on a worker than on the
    machine that sent the job; the student's code must not read the worker's copies either.
    """
    from grader.paths import secret_paths

    local = secret_paths(rubric.path, out_dir)
    merged = tuple(dict.fromkeys((*options.secret_paths, *local)))
    return grade_one(source, rubric, out_dir, dataclasses.replace(options, secret_paths=merged))


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise GraderError("--dask needs dask.distributed, which is not installed: "
                          "pip install 'grader[dask]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise GraderError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def grade_on_dask(
    address: str, sources: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path,
    options: GradeOptions, progress: Callable[[int, int, float], None] | None = None,
) -> list[BatchRow]:
    """Grade each source on the Dask cluster at `address`; rows in the order of `sources`."""
    from grader.seeds import private_salt

    # Fix the salt here: a worker without $GRADER_SALT would otherwise draw other hidden inputs.
    if options.salt is None:
        options = dataclasses.replace(options, salt=private_salt()[0])
    client = _client(address)
    from distributed import as_completed
    started = time.perf_counter()
    rows: dict[str, BatchRow] = {}
    try:
        # Sent once: each worker then keeps one rubric object, so the engine's per-rubric cache
        # of the (slow) written references is computed once per worker, not once per job.
        shared_rubric = client.scatter(rubric, broadcast=True)
        futures = {
            client.submit(grade_on_worker, source, shared_rubric, out_dir.resolve(), options,
                          key=f"grade-{source.name}-{time.time_ns()}", pure=False,
                          retries=1): source
            for source in sources
        }
        for done, future in enumerate(as_completed(futures, loop=client.loop), start=1):
            source = futures[future]
            rows[source.name] = future.result()
            if progress:
                progress(done, len(sources), time.perf_counter() - started)
    finally:
        client.close()
    return [rows[source.name] for source in sources]
