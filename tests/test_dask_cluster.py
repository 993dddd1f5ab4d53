"""`grader grade --dask` on a real cluster that shares no files with this machine (issue 13 §2).

A `dask scheduler` and two `dask worker` processes (one thread each, no nanny, 127.0.0.1 only),
each started from a folder of its own with a temporary folder of its own. As root, with
util-linux's `unshare`, each worker runs in a mount namespace of its own in which the client's
folder (the submissions and the output folder) and the checkout's sample submissions are covered
by an empty tmpfs: the worker cannot read them at all, and a probe run on every worker checks so.
Elsewhere the tests still run, and prove it by construction only: the jobs carry the submissions'
bytes and no path to read them from (checked on what the client sends, in every case).
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES

import grader.batch
import grader.distributed
from grader.batch import discover, grading_key, results_fingerprint, run_batch
from grader.distributed import GradedJob, SubmissionBytes
from grader.engine import GradeOptions
from grader.expected import mismatches
from grader.paths import secret_paths
from grader.rubric import Rubric
from grader.sandbox.isolation import choose_layer

START_TIMEOUT = 30.0


def _dask_cli() -> tuple[list[str] | None, str]:
    """The `dask` command of this interpreter's environment (else on PATH), or why there is none."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return None, "dask.distributed is not installed (pip install 'grader[dask]')"
    beside = Path(sys.executable).parent / "dask"
    found = str(beside) if beside.is_file() else shutil.which("dask")
    if found is None:
        return None, f"dask's command line is not installed: no `dask` next to {sys.executable} nor on PATH"
    return [found], ""


DASK, NO_DASK = _dask_cli()
pytestmark = pytest.mark.skipif(DASK is None, reason=NO_DASK)
if DASK is not None:
    import cloudpickle

    # The probes below run on the workers, which cannot import this file: send them by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Covers each folder given with an empty, unreadable tmpfs in the process's own mount namespace,
# then runs the command: `sh -c HIDE sh N DIR1 .. DIRN COMMAND...`.
HIDE = ('n=$1; shift; while [ "$n" -gt 0 ]; do mount -t tmpfs -o size=16k,mode=000 grader-hidden "$1" '
        '|| exit 97; shift; n=$((n - 1)); done; exec "$@"')


def _hiding_prefix(folders: list[Path]) -> tuple[list[str], str]:
    """The command prefix that hides `folders` from what it runs, or [] and why it cannot."""
    unshare = shutil.which("unshare")
    if os.name != "posix" or os.geteuid() != 0 or unshare is None:
        return [], "not root with util-linux's unshare: shown by construction only"
    prefix = [unshare, "--mount", "--propagation", "private", "--", "sh", "-c", HIDE, "sh",
              str(len(folders)), *map(str, folders)]
    probe = subprocess.run([*prefix, "sh", "-c", 'for d; do [ -z "$(ls -A "$d")" ] || exit 1; done', "sh",
                            *map(str, folders)], capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        return [], f"unshare could not hide the folders ({probe.stderr.decode(errors='replace').strip()})"
    return prefix, ""


@dataclass
class Cluster:
    address: str
    client: Any
    workers: dict[str, subprocess.Popen[bytes]]  # by worker address
    hidden: list[Path]
    not_hidden_because: str
    temp_folders: dict[str, Path]  # each worker's $TMPDIR, by worker address


def _wait_for(condition: Any, what: str, processes: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"{process.args!r} exited ({process.returncode}) before {what}:\n"
                                     + "\n".join(p.read_text(errors="replace")[-3000:] for p in logs.glob("*.log")))
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {START_TIMEOUT:.0f} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this test started, and whatever it started (its own session), by its id."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(wait)
            if sig == signal.SIGTERM:
                # The group may still hold a child the process left (a sandbox): end it too.
                os.killpg(process.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def real_cluster(tmp_path: Path, hide: list[Path]) -> Iterator[Cluster]:
    """A `dask scheduler` and two `dask worker` processes that cannot see the folders `hide`."""
    from distributed import Client

    assert DASK is not None
    logs = tmp_path / "logs"
    logs.mkdir()
    scheduler_dir = tmp_path / "scheduler"
    scheduler_dir.mkdir()
    scheduler_file = scheduler_dir / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k not in {"GRADER_SALT", "GRADER_SALT_FILE"}}
    processes: list[subprocess.Popen[bytes]] = []
    client = None

    def start(argv: list[str], cwd: Path, name: str, temp: Path) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(argv, cwd=cwd, env={**env, "TMPDIR": str(temp)}, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        processes.append(process)
        return process

    prefix, why_not = _hiding_prefix(hide)
    try:
        start([*DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(scheduler_file)], scheduler_dir, "scheduler", scheduler_dir)
        _wait_for(lambda: scheduler_file.is_file() and "address" in scheduler_file.read_text(errors="replace"),
                  "scheduler file", processes, logs)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:"), address
        for number in (1, 2):
            folder = tmp_path / f"worker-{number}"
            (folder / "tmp").mkdir(parents=True)
            start([*prefix, *DASK, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                   "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"worker-{number}",
                   "--local-directory", str(folder / "scratch"), "--death-timeout", "60"],
                  folder, f"worker-{number}", folder / "tmp")
        client = Client(address, timeout="20s", set_as_default=False)
        _wait_for(lambda: len(client.nthreads()) == 2, "two workers", processes, logs)
        pids = client.run(os.getpid)
        by_pid = {process.pid: process for process in processes}
        workers = {address: by_pid[pid] for address, pid in pids.items()}
        names = client.run(lambda dask_worker: dask_worker.name)
        temp_of = {address: tmp_path / str(names[address]) / "tmp" for address in workers}
        yield Cluster(address, client, workers, hide if prefix else [], why_not, temp_of)
    finally:
        if client is not None:
            client.close()
        for process in reversed(processes):
            _stop(process)


def _copy_samples(copies: dict[str, str], into: Path) -> None:
    """Copy each sample (value) to a submission folder (key) in `into`."""
    into.mkdir(parents=True)
    for name, sample in copies.items():
        shutil.copytree(SAMPLES / sample, into / name)


def _see(folders: list[str]) -> dict[str, list[str]]:
    """Run on a worker: what it can list of each folder, and where it works."""
    seen: dict[str, list[str]] = {}
    for folder in folders:
        try:
            seen[folder] = sorted(os.listdir(folder))
        except OSError as exc:
            seen[folder] = [f"error: {exc.strerror}"]
    seen["cwd"] = [os.getcwd()]
    return seen


def _check_workers_cannot_see(cluster: Cluster, client_folder: Path) -> None:
    """Each worker works in a folder of its own; where hiding is possible, it sees none of the files."""
    seen = cluster.client.run(_see, [str(client_folder), str(SAMPLES.parent)])
    for address, listing in seen.items():
        (cwd,) = listing["cwd"]
        assert client_folder not in Path(cwd).parents and Path(cwd) != client_folder, (address, cwd)
        assert Path(cwd).name.startswith("worker-"), cwd
        if cluster.hidden:
            assert listing[str(client_folder)] == [], (address, listing)
            assert listing[str(SAMPLES.parent)] == [], (address, listing)
        else:  # shown by construction only (see _check_jobs_carry_bytes_not_paths)
            assert listing[str(client_folder)], cluster.not_hidden_because


class _Recorder:
    """What the client sends to the cluster and what it records, for the test to inspect."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from distributed import Client

        self.jobs: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.recorded: list[GradedJob] = []
        submit = Client.submit
        record = grader.distributed._record

        def spy_submit(client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
            if func is grader.distributed.grade_on_worker:
                self.jobs.append((args, kwargs))
            return submit(client, func, *args, **kwargs)

        def spy_record(graded: GradedJob, *args: Any) -> Any:
            self.recorded.append(graded)
            return record(graded, *args)

        monkeypatch.setattr(Client, "submit", spy_submit)
        monkeypatch.setattr(grader.distributed, "_record", spy_record)


def _check_jobs_carry_bytes_not_paths(jobs: list[Any], client_folder: Path, sources: list[Any]) -> None:
    """The jobs hold each submission's bytes and no path of the client's folder to read from.

    Only the options' secret paths (paths a sandbox must hide, never read) may name it.
    """
    assert len(jobs) == len(sources)
    for args, kwargs in jobs:
        job, _rubric_future, options = args
        assert isinstance(job, SubmissionBytes) and isinstance(options, GradeOptions)
        sent = pickle.dumps((job, replace(options, secret_paths=()), kwargs))
        assert os.fsencode(client_folder) not in sent and str(client_folder).encode() not in sent
        assert b"/sample_submissions/" not in sent
        source = next(s for s in sources if s.name == job.name)
        files = {rel: data for rel, kind, data in job.entries if kind == "file"}
        on_disk = ({b"": source.path.read_bytes()} if source.path.is_file() else
                   {os.fsencode(path.relative_to(source.path).as_posix()): path.read_bytes()
                    for path in source.path.rglob("*") if path.is_file()})
        assert files == on_disk
        assert job.fingerprint == source.fingerprint and job.fingerprint.startswith("sha256:")


def _gradebook(out: Path) -> list[dict[str, str]]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _results(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / name / "results.json").read_text(encoding="utf-8"))


def _part_scores(document: dict[str, Any], rubric: Rubric) -> dict[str, float]:
    return grader.batch.row_from_results("x", (), document, rubric).part_scores


def _can_make_cgroups() -> bool:
    from grader.sandbox.cgroups import SessionCgroup

    made = SessionCgroup.create(1 << 30, 64)
    if made is None:
        return False
    made.close()
    return True


def _sandbox_of(pid: int) -> tuple[list[Any], list[Path]]:
    """The processes a worker started (its sandbox) and the session cgroup folders they are in."""
    import psutil

    from grader.sandbox.cgroups import ROOT

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return [], []
    folders: dict[Path, None] = {}
    for child in children:
        try:
            lines = Path(f"/proc/{child.pid}/cgroup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if not path.rpartition("/")[2].startswith("grader-"):
                continue
            relative = path.lstrip("/")
            candidates = ([ROOT / c / relative for c in controllers.split(",")] if controllers
                          else [ROOT / relative, ROOT / "unified" / relative])
            folders.update(dict.fromkeys(f for f in candidates if f.is_dir()))
    return children, list(folders)


SAMPLE_NAMES = ["reference", "template", "wrong_w4_gradient", "empty", "malformed_yaml", "nan_weights"]
ZIPPED = {"wrong_w4_gradient_zipped": "wrong_w4_gradient"}  # a zip is sent as its own bytes
GRADED = {**{name: name for name in SAMPLE_NAMES}, **ZIPPED}  # submission name: its sample


def test_real_cluster_grades_submissions_its_workers_cannot_see(
    tmp_path: Path, rubric: Rubric, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seven samples (six folders, one zip) graded by two `dask worker` processes that cannot read
    the submissions or the output folder: each results.json is written here, scores as the
    sample's expected.json says, the gradebook has each once, and a re-run finds every
    fingerprint unchanged."""
    client_folder = tmp_path / "client"
    subs, out = client_folder / "submissions", client_folder / "out"
    _copy_samples({name: name for name in SAMPLE_NAMES}, subs)
    for name, sample in ZIPPED.items():
        shutil.make_archive(str(subs / name), "zip", SAMPLES / sample)
    recorder = _Recorder(monkeypatch)
    started = time.perf_counter()
    with real_cluster(tmp_path, [client_folder, SAMPLES.parent]) as cluster:
        _check_workers_cannot_see(cluster, client_folder)
        sources = discover([subs], dict(rubric.files), tmp_path, out_dir=out)
        options = GradeOptions(secret_paths=secret_paths(rubric.path, out, (subs,)), salt="cluster-salt")
        key = grading_key(rubric, options)
        rows = run_batch(sources, rubric, out, options, dask_address=cluster.address)
        notices: list[str] = []
        jobs_sent = len(recorder.jobs)
        again = run_batch(sources, rubric, out, options, dask_address=cluster.address, notice=notices.append)
        # Another edit of the grader's code in this checkout meanwhile (it enters every fingerprint).
        code_changed = grading_key(rubric, options) != key
        leftovers = {a: sorted(p.name for p in t.glob("grader-dask-*")) for a, t in cluster.temp_folders.items()}
    print(f"graded {len(sources)} on the cluster in {time.perf_counter() - started:.1f} s "
          f"(hidden: {bool(cluster.hidden) or cluster.not_hidden_because})")

    fingerprints = [results_fingerprint(source.path, key, out.resolve()) for source in sources]
    assert [row.extra["fingerprint"] for row in rows] == fingerprints  # what a re-run compares
    sent = [replace(source, fingerprint=f) for source, f in zip(sources, fingerprints, strict=True)]
    _check_jobs_carry_bytes_not_paths(recorder.jobs[:jobs_sent], client_folder, sent)
    assert {graded.worker for graded in recorder.recorded} == set(cluster.workers)  # both took a share
    layer = choose_layer(None)
    for name, sample in GRADED.items():
        document = _results(out, name)
        expected = json.loads((SAMPLES / sample / "expected.json").read_text(encoding="utf-8"))
        assert mismatches(_part_scores(document, rubric), expected) == [], name
        # The worker's sandbox layer; "none" where nothing ran (no notebook), as in a local run.
        assert document["extra_data"]["isolation"] == ("none" if name == "empty" else layer)
        assert "grading_failed" not in document["extra_data"]
    assert [row.name for row in rows] == sorted(GRADED) and not rows.failed
    assert sorted(r["submission"] for r in _gradebook(out)) == sorted(GRADED)
    assert [(r.name, r.total) for r in again] == [(r.name, r.total) for r in rows]
    if not code_changed:
        # (A weaker isolation layer than the strongest adds its warning first: not this test's concern.)
        assert [n for n in notices if not n.startswith("warning: isolation layer")] == [
            f"{len(GRADED)} of {len(GRADED)} already graded and unchanged, skipped (use --force to regrade)"]
        assert len(recorder.jobs) == jobs_sent  # the re-run sent nothing
    assert leftovers == {address: [] for address in cluster.workers}  # each worker cleaned its copies


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, rubric: Rubric, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL one worker while it grades: its submission is graded again by the other, and every
    submission ends with exactly one results.json and one gradebook row."""
    copies = {f"reference-{number:02d}": "reference" for number in range(1, 13)}
    client_folder = tmp_path / "client"
    subs, out = client_folder / "submissions", client_folder / "out"
    _copy_samples(copies, subs)
    recorder = _Recorder(monkeypatch)
    killed: dict[str, Any] = {}
    cgroups_here = _can_make_cgroups()
    started = time.perf_counter()
    try:
        with real_cluster(tmp_path, [client_folder, SAMPLES.parent]) as cluster:

            def kill_after_first_result(done: int, total: int, elapsed: float) -> None:
                if killed:
                    return
                # The worker that sent the first result has just been given its next job: kill it
                # mid-job, once its sandbox runs (where cgroups can be made: in its session's cgroup).
                victim = recorder.recorded[0].worker
                process = cluster.workers[victim]
                deadline = time.monotonic() + 5
                while not (keys := cluster.client.processing(workers=[victim]).get(victim)):
                    assert time.monotonic() < deadline, "the worker got no second job"
                    time.sleep(0.01)
                deadline = time.monotonic() + 3
                children, cgroups = _sandbox_of(process.pid)
                while not (cgroups if cgroups_here else children) and time.monotonic() < deadline:
                    time.sleep(0.005)
                    children, cgroups = _sandbox_of(process.pid)
                os.kill(process.pid, signal.SIGKILL)
                killed.update(worker=victim, keys=list(keys), at=done, children=children, cgroups=cgroups)

            sources = discover([subs], dict(rubric.files), tmp_path, out_dir=out)
            options = GradeOptions(secret_paths=secret_paths(rubric.path, out, (subs,)), salt="cluster-salt")
            rows = run_batch(sources, rubric, out, options, dask_address=cluster.address,
                             progress=kill_after_first_result)
            stories = cluster.client.run_on_scheduler(
                lambda dask_scheduler, keys: {k: [t[2] for t in dask_scheduler.story(k)] for k in keys},
                keys=killed["keys"])
            assert cluster.workers[killed["worker"]].wait(10) == -signal.SIGKILL
            # Its sandbox died with it (bubblewrap's --die-with-parent, the uid layer's own watch).
            deadline = time.monotonic() + 10
            while any(child.is_running() and child.status() != "zombie" for child in killed["children"]):
                assert time.monotonic() < deadline, f"the killed worker's sandbox survived: {killed['children']}"
                time.sleep(0.05)
    finally:
        # A worker killed mid-session cannot remove its session's cgroup: remove it here (only it).
        from grader.sandbox.cgroups import SessionCgroup

        SessionCgroup(killed.get("cgroups", [])).close()
    print(f"graded {len(sources)} with a worker killed after result {killed['at']} in "
          f"{time.perf_counter() - started:.1f} s; its jobs {killed['keys']}, its sandbox "
          f"{[c.pid for c in killed['children']]} in {[str(f) for f in killed['cgroups']]}; "
          f"their states on the scheduler: {stories}")

    names = [source.name for source in sources]
    assert killed and len(names) == len(copies)
    # Each job the killed worker held went to a worker again, and finished there.
    for key, transitions in stories.items():
        assert transitions.count("processing") >= 2 and transitions[-1] in {"memory", "released", "forgotten"}, (
            key, transitions)
    regraded = [g for g in recorder.recorded if any(k.startswith(f"grade-{g.name}-") for k in killed["keys"])]
    assert regraded and all(g.worker != killed["worker"] for g in regraded)
    # None lost, none twice.
    assert sorted(g.name for g in recorder.recorded) == sorted(names)
    assert [row.name for row in rows] == names and not rows.failed
    assert sorted(r["submission"] for r in _gradebook(out)) == sorted(names)
    assert sorted(p.parent.name for p in out.glob("*/results.json")) == sorted(names)
    assert not list(out.glob("*/.results.json.*"))  # no half-written file left
    expected = json.loads((SAMPLES / "reference" / "expected.json").read_text(encoding="utf-8"))
    for name in names:
        assert mismatches(_part_scores(_results(out, name), rubric), expected) == [], name
