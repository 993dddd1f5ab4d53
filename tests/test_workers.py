"""`--jobs N` grades on N worker processes (grader/workers.py): the same grades as one process,
and a worker killed mid-batch loses nothing and grades nothing twice in the gradebook."""

from __future__ import annotations

import csv
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import RUBRIC, SAMPLES, assert_valid_results

from grader.batch import discover, run_batch
from grader.engine import GradeOptions
from grader.rubric import load_rubric

NAMES = ["reference", "answer_key", "template", "wrong_w4_gradient", "empty", "yaml_python_tags"]


def _sources(tmp_path: Path):
    rubric = load_rubric(RUBRIC)
    return rubric, discover([SAMPLES / name for name in NAMES], dict(rubric.files), tmp_path)


def _gradebook(out: Path) -> list[dict[str, str]]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _scores(out: Path) -> dict[str, str]:
    return {row["submission"]: row["total"] for row in _gradebook(out)}


def test_worker_processes_grade_as_one_process(tmp_path: Path) -> None:
    rubric, sources = _sources(tmp_path)
    options = GradeOptions(salt="workers-test")
    one = run_batch(sources, rubric, tmp_path / "one", options, jobs=1)
    two = run_batch(sources, rubric, tmp_path / "two", options, jobs=2)
    assert not one.failed and not two.failed
    assert _scores(tmp_path / "one") == _scores(tmp_path / "two")
    for name in NAMES:
        assert_valid_results(tmp_path / "two" / name / "results.json")


def _worker_pids() -> list[int]:
    """This test process's worker processes (multiprocessing's spawned children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        if ppid == str(os.getpid()) and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to find the workers")
def test_a_worker_killed_mid_batch_loses_nothing(tmp_path: Path) -> None:
    rubric, sources = _sources(tmp_path)
    sources = sources * 1  # six submissions, two workers: the kill lands mid-batch
    out = tmp_path / "out"
    killed: list[int] = []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pids = _worker_pids()
            if pids and any((out / name / "results.json").exists() for name in NAMES):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    rows = run_batch(sources, rubric, out, GradeOptions(salt="workers-test"), jobs=2)
    killer.join()
    if not killed:
        pytest.skip("the batch finished before a worker could be killed (nothing to check)")
    assert not rows.failed, rows.failed
    book = _gradebook(out)
    assert sorted(row["submission"] for row in book) == sorted(NAMES)  # none lost, none twice
    expected = run_batch(sources, rubric, tmp_path / "again", GradeOptions(salt="workers-test"), jobs=1)
    assert not expected.failed
    assert _scores(out) == _scores(tmp_path / "again")
