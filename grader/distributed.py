"""Grading a batch on a Dask cluster (`grader grade --dask ADDRESS`; `pip install grader[dask]`).

Each submission is the same job as in a local run, `batch.grade_one`, run on a worker, but
nothing travels through a shared file system: the client reads each submission's bytes
(`pack_submission`) and sends them with the job; the worker rebuilds the submission in a
temporary folder of its own (`unpack_submission`), grades it there with the same sandbox as a
local run, and sends back the results.json document and the staff log; the client writes them
into the output folder (results.json atomically, as a local run does) and the gradebook once.
So workers need the grader (and the references) installed, and nothing else of this machine:
cloud or Kubernetes workers that cannot see the submissions or the output folder work.

A worker that dies mid-batch loses nothing: Dask runs its jobs again elsewhere. Each submission
is one job, and the client writes its results.json and gradebook row once, from the first result
it receives (should Dask ever deliver another, it is dropped).
At most a few jobs per worker thread are in flight (`_Window`), so neither this machine nor the
scheduler holds the whole class's files at once.

The salt travels as it always has, in the job's `GradeOptions` (a worker without $GRADER_SALT
would otherwise draw other hidden inputs), like the students' files: on a network that others
share, configure Dask's TLS.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.batch import (
    BatchRow,
    SubmissionSource,
    _failed_row,
    _last_line,
    _why,
    grade_one,
    row_from_results,
    write_outputs,
)
from grader.engine import GradeOptions
from grader.errors import GraderError
from grader.rubric import Rubric
from grader.submission import Submitter

__all__ = ["GradedJob", "SubmissionBytes", "grade_on_dask", "grade_on_worker", "pack_submission",
           "unpack_submission"]

CONNECT_TIMEOUT = "20s"

MAX_SENT_BYTES = 512 * 1024 * 1024
"""The most a submission may hold to be sent to a worker (a zip may expand to as much)."""
MAX_SENT_FILES = 20_000
"""The most entries (files, folders, links) a submission folder may hold to be sent."""

# An entry's kind: a regular file (data: its bytes), a folder, a symbolic link (data: its target,
# recreated as is, never followed, as the sandbox copies it), or any other special file (a FIFO,
# socket or device: recreated as an empty FIFO, which the grader never reads and the sandbox
# never copies, so hidden inputs, which count special files by a mark, are drawn as at home).
FILE, FOLDER, LINK, SPECIAL = "file", "folder", "link", "special"


@dataclass(frozen=True)
class SubmissionBytes:
    """A submission as sent to a worker: its files' names and bytes, never a path of this machine.

    `entries` are (path relative to the submission, kind, data); the path b"" is the submission
    itself when it is a file (a zip). `root_name` is the folder's or the file's own name, which
    messages to the student may show.
    """

    name: str
    root_name: str
    entries: tuple[tuple[bytes, str, bytes], ...]
    submitters: tuple[Submitter, ...] = ()
    fingerprint: str = ""


@dataclass(frozen=True)
class GradedJob:
    """What a worker sends back: the results.json document (None if it has none), the log, why not graded."""

    name: str
    document: dict[str, Any] | None
    log: str = ""
    failure: str = ""
    worker: str = ""
    """The address of the worker that graded it (for logs and tests; never written to results)."""


class TooLargeToSend(Exception):
    """A submission over `MAX_SENT_BYTES` or `MAX_SENT_FILES`: it is graded without --dask."""


def pack_submission(source: SubmissionSource) -> SubmissionBytes:
    """Read the submission at `source.path` (a folder or a file) into a `SubmissionBytes`.

    Links are read as links, never followed (a folder linked from the submission is not sent);
    raises OSError when something cannot be read, TooLargeToSend past the limits.
    """
    root = source.path.resolve()
    entries: list[tuple[bytes, str, bytes]] = []
    size = 0
    for relative, path in _walk(root):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            size += info.st_size
        if size > MAX_SENT_BYTES or len(entries) >= MAX_SENT_FILES:
            raise TooLargeToSend(
                f"too large to send to a Dask worker (more than {MAX_SENT_BYTES // 2**20} MB or "
                f"{MAX_SENT_FILES} files): grade it without --dask")
        if stat.S_ISLNK(info.st_mode):
            entries.append((relative, LINK, os.fsencode(os.readlink(path))))
        elif stat.S_ISDIR(info.st_mode):
            entries.append((relative, FOLDER, b""))
        elif stat.S_ISREG(info.st_mode):
            entries.append((relative, FILE, path.read_bytes()))
        else:
            entries.append((relative, SPECIAL, b""))
    return SubmissionBytes(source.name, root.name, tuple(entries), tuple(source.submitters),
                           source.fingerprint)


def _walk(root: Path) -> Iterator[tuple[bytes, Path]]:
    """Each entry below root (a file: itself, as b""), by relative name, folders before their contents."""
    if not root.is_dir():
        yield b"", root
        return
    for folder, dirs, names in os.walk(root):  # never follows links to folders: a student's links
        here = Path(folder)
        dirs.sort()
        for name in sorted([*names, *dirs]):
            yield os.fsencode((here / name).relative_to(root).as_posix()), here / name


def unpack_submission(job: SubmissionBytes, folder: Path) -> Path:
    """Rebuild the submission below `folder` (which must be empty); its path (a folder or a file)."""
    root = folder / (_safe_component(os.fsencode(job.root_name)) or "submission")
    if not any(relative == b"" for relative, _, _ in job.entries):
        root.mkdir()
    seen: set[bytes] = set()
    links: set[bytes] = set()
    for relative, kind, data in job.entries:
        target = root if relative == b"" else root / _relative_path(relative)
        parts = relative.split(b"/")
        if relative in seen or any(b"/".join(parts[:end]) in links for end in range(1, len(parts))):
            raise ValueError(f"refused entry name {relative!r}: sent twice, or below a link")
        seen.add(relative)
        if kind == LINK:
            links.add(relative)
        if kind == FOLDER:
            target.mkdir()
        elif kind == FILE:
            with open(target, "xb") as stream:  # never through a link planted there
                stream.write(data)
        elif kind == LINK:
            os.symlink(os.fsdecode(data), target)
        elif kind == SPECIAL:
            try:
                os.mkfifo(target)
            except (OSError, AttributeError):  # no FIFOs here (Windows, some file systems)
                continue
        else:
            raise ValueError(f"unknown kind of entry {kind!r} for {relative!r}")
    return root


def _relative_path(relative: bytes) -> Path:
    """A relative name from the client as a path that stays inside the submission (else ValueError)."""
    parts = os.fsdecode(relative).split("/")
    if any(not part or _safe_component(os.fsencode(part)) != part for part in parts):
        raise ValueError(f"refused entry name {relative!r}: not a plain relative path")
    return Path(*parts)


def _safe_component(part: bytes) -> str:
    """The component itself if it is a plain name (no separator, not . or ..), else empty."""
    name = os.fsdecode(part)
    if not name or name in {".", ".."} or "/" in name or "\0" in name or os.sep in name:
        return ""
    return name


def grade_on_worker(job: SubmissionBytes, rubric: Rubric, options: GradeOptions) -> GradedJob:
    """The job a worker runs: rebuild the submission in a folder of its own and `grade_one` it there.

    The grader package and the references may be installed elsewhere on a worker than on the
    machine that sent the job; the student's code must not read the worker's copies (nor its
    temporary folder) either, so they are added to the secret paths. Raises only if the worker
    cannot unpack the submission (its disk): Dask then retries the job.
    """
    from grader.paths import secret_paths

    with tempfile.TemporaryDirectory(prefix="grader-dask-", ignore_cleanup_errors=True) as temp:
        top = Path(temp).resolve()
        (top / "in").mkdir()
        path = unpack_submission(job, top / "in")
        out_dir = top / "out"
        local = (*secret_paths(rubric.path, out_dir), top)
        merged = tuple(dict.fromkeys((*options.secret_paths, *local)))
        source = SubmissionSource(job.name, path, job.submitters, job.fingerprint)
        row = grade_one(source, rubric, out_dir, dataclasses.replace(options, secret_paths=merged))
        document: dict[str, Any] | None = None
        log = ""
        try:
            document = json.loads((out_dir / job.name / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # not written: the row's failure says why
        try:
            log = (out_dir / job.name / "grader.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass  # none: nothing to say to the staff
    return GradedJob(job.name, document, log, row.failure if document is None else _grading_failure(document),
                     _worker_address())


def _grading_failure(document: dict[str, Any]) -> str:
    """Why the grader could not grade it, as recorded in the document (empty if graded)."""
    from grader.batch import GRADING_FAILED

    return str(document.get("extra_data", {}).get(GRADING_FAILED, ""))


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""  # called outside a Dask worker (tests)


def _record(graded: GradedJob, source: SubmissionSource, rubric: Rubric, out_dir: Path) -> BatchRow:
    """Write a worker's results into the output folder as `grade_one` would have; the row."""
    if graded.document is None:
        return _failed_row(source, rubric, graded.failure or "the worker sent back no results")
    row = row_from_results(source.name, source.submitters, graded.document, rubric)  # raises if malformed
    row.failure = write_outputs(out_dir / source.name, graded.document, graded.log, graded.failure)
    return row


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


class _Window:
    """How many jobs may be in flight: two per worker thread (at least 4), looked up every few seconds."""

    MINIMUM = 4
    EVERY = 5.0

    def __init__(self, client: Any) -> None:
        self.client = client
        self.size = self.MINIMUM
        self.checked = -self.EVERY

    def __call__(self) -> int:
        now = time.monotonic()
        if now - self.checked >= self.EVERY:
            self.checked = now
            try:
                self.size = max(self.MINIMUM, 2 * sum(self.client.nthreads().values()))
            except Exception:  # the scheduler busy or briefly away: keep the last size
                pass
        return self.size


def grade_on_dask(
    address: str, sources: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path,
    options: GradeOptions, progress: Callable[[int, int, float], None] | None = None,
) -> list[BatchRow]:
    """Grade each source on the Dask cluster at `address`; rows in the order of `sources`.

    Each submission's results.json (and grader.log) is written here, in `out_dir`, once.
    """
    from grader.seeds import private_salt

    # Fix the salt here: a worker without $GRADER_SALT would otherwise draw other hidden inputs.
    if options.salt is None:
        options = dataclasses.replace(options, salt=private_salt()[0])
    client = _client(address)
    try:
        rows = _grade_all(client, sources, rubric, out_dir, options, progress)
    finally:
        client.close()
    return [rows[source.name] for source in sources]


def _grade_all(
    client: Any, sources: Sequence[SubmissionSource], rubric: Rubric, out_dir: Path,
    options: GradeOptions, progress: Callable[[int, int, float], None] | None,
) -> dict[str, BatchRow]:
    from distributed import as_completed

    started = time.perf_counter()
    rows: dict[str, BatchRow] = {}
    window = _Window(client)
    # Sent once to every worker: each then keeps one rubric object, so the engine's per-rubric
    # cache of the (slow) written references is computed once per worker, not once per job.
    shared_rubric = client.scatter(rubric, broadcast=True)
    waiting = iter(sources)
    in_flight: dict[Any, SubmissionSource] = {}
    finished = as_completed(loop=client.loop)

    def done(source: SubmissionSource, row: BatchRow) -> None:
        rows[source.name] = row
        if progress:
            progress(len(rows), len(sources), time.perf_counter() - started)

    def send_more() -> None:
        while len(in_flight) < window():
            source = next(waiting, None)
            if source is None:
                return
            try:
                job = pack_submission(source)
            except (OSError, TooLargeToSend) as exc:
                reason = str(exc) if isinstance(exc, TooLargeToSend) else f"could not be read: {_why(exc)}"
                done(source, _failed_row(source, rubric, reason))
                continue
            future = client.submit(grade_on_worker, job, shared_rubric, options,
                                   key=f"grade-{source.name}-{time.time_ns()}", pure=False, retries=1)
            in_flight[future] = source
            finished.add(future)

    send_more()
    for future in finished:  # as_completed takes more futures while it is iterated
        source = in_flight.pop(future)
        if source.name not in rows:  # one row, one results.json per submission, whatever happens
            try:
                row = _record(future.result(), source, rubric, out_dir)
            except Exception:  # the job failed on every try, or its worker died too often
                row = _failed_row(source, rubric, f"the Dask job failed: {_last_line(traceback.format_exc())}")
            done(source, row)
        future.release()
        send_more()
    return rows
