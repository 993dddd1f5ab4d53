"""A batch killed with SIGKILL mid-run and resumed loses nothing, duplicates nothing, leaves nothing behind.

The batch is tests/benchmarks/scale_submissions.py's (correct, partly wrong and broken submissions,
one a second slower than typical; no timeouts), driven by the helpers of bench_scale.py, which
runs the same scenario on thousands. The other tests pin the bugs such kills exposed: a run's
temporary folders left for good, a grader.log written after the results.json a re-run trusts,
temporary files of interrupted writes left in the output folder. Nothing here measures time.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, assert_valid_results

import grader.batch
from grader.results import results_document
from grader.rubric import Rubric
from grader.scratch import LOCK_NAME, RUN_PREFIX, scratch_folder, sweep_stale

sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
import bench_scale  # tests/benchmarks is not a package: found through sys.path
from scale_submissions import KINDS, make_batch

# Every regular kind once, but for a few more forms of correct notebooks (read elsewhere), the
# 3 MB notebook and the CPU-bound slow cell: 37 submissions.
LEFT_OUT = {"real_copy_of", "real_written_leading_zeros", "real_annotations_missing_params",
            "real_magics_writefile", "written_equivalent_forms", "magics_and_pip", "real_nbformat40",
            "real_big_outputs", "slow_compute"}
KINDS_HERE = [name for name, kind in KINDS.items() if kind.group != "timeout" and name not in LEFT_OUT]


def test_a_batch_killed_twice_and_resumed_grades_each_submission_once(tmp_path: Path, rubric: Rubric) -> None:
    """Two SIGKILLs at random points: every submission ends with one valid results.json and one gradebook row,
    scored as an uninterrupted run scores it; each restart skips exactly the finished ones; nothing of the
    killed runs is left running or on disk once the batch has ended."""
    generated = make_batch(tmp_path / "subs", KINDS_HERE)
    tmp = tmp_path / "tmp"  # the grader's temporary folders, so that what it leaves is its own to count
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    names = [g.name for g in generated]

    full = tmp_path / "out-full"
    run = bench_scale.run_grader(bench_scale.grader_command(tmp_path / "subs", full, 2), env, full,
                                 tmp_path / "full")
    assert run.exit_code == 0, run.stderr[-2000:]
    expected = bench_scale.check_expected(full, generated)
    assert expected.ok, expected.line()
    reference = bench_scale.scores(full, names)

    out = tmp_path / "out"
    attempts = bench_scale.kill_and_resume(tmp_path / "subs", out, tmp_path, env, 2, 2, random.Random(13),
                                           len(generated), max_delay=0.05, report=lambda line: None)
    table = "\n" + "\n".join(bench_scale.attempts_table(attempts, len(generated)))
    kills = [a for a in attempts if a.run.kill is not None]
    assert len(kills) == 2 and attempts[-1].run.kill is None, table
    # Each kill left its run's temporary folders (the next run removed them), and what was in flight.
    assert all(a.temp_after for a in kills), table
    for check in [*bench_scale.resume_checks(attempts),
                  *bench_scale.check_output(out, generated, rubric, reference)]:
        assert check.ok, check.line() + table
    assert not list(tmp.iterdir()), table


# ---------------------------------------------------------------- temporary folders of a killed run


def _killed_run_folder(base: Path) -> Path:
    """A scratch folder whose process was killed with SIGKILL inside it."""
    code = ("import os, signal\nfrom grader.scratch import scratch_folder\n"
            "manager = scratch_folder()\nfolder = manager.__enter__()\nprint(folder, flush=True)\n"
            "(folder / 'grader-sandbox-x').mkdir()\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "TMPDIR": str(base)}, check=False, timeout=60)
    assert result.returncode == -9, result.stderr
    folder = Path(result.stdout.strip())
    assert folder.parent == base and (folder / LOCK_NAME).is_file()
    return folder


def test_a_killed_runs_temporary_folders_are_removed_by_the_next_run(tmp_path: Path) -> None:
    """Bug: each SIGKILL left the run's temporary folders (unpacked submissions, sandboxes) for good."""
    dead = _killed_run_folder(tmp_path)
    assert sweep_stale(tmp_path) == 1
    assert not dead.exists()


def test_a_live_runs_scratch_folder_is_kept_and_the_temporary_folder_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run's folder is alive while its process holds the lock; the block's end removes its own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_folder() as folder:
        assert folder is not None and folder.parent == tmp_path and folder.name.startswith(RUN_PREFIX)
        assert tempfile.gettempdir() == str(folder)
        assert Path(tempfile.mkdtemp(prefix="grader-sandbox-")).parent == folder
        assert sweep_stale(tmp_path) == 0 and folder.is_dir()
    assert tempfile.gettempdir() == str(tmp_path)
    assert not folder.exists()


def test_a_scratch_folder_without_its_lock_is_removed_only_once_old(tmp_path: Path) -> None:
    """A folder without a lock file is being made right now, or its run died in that instant."""
    young, old = tmp_path / f"{RUN_PREFIX}young", tmp_path / f"{RUN_PREFIX}old"
    young.mkdir()
    old.mkdir()
    os.utime(old, (0, 0))
    (tmp_path / "grader-unrelated").mkdir()
    assert sweep_stale(tmp_path) == 1
    assert young.is_dir() and not old.exists() and (tmp_path / "grader-unrelated").is_dir()


# ---------------------------------------------------------------- what a grade writes, in what order


def _document() -> dict[str, object]:
    return results_document([], score=0.0, extra_data={"fingerprint": "sha256:x"})


def test_grader_log_is_complete_before_results_json_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: grader.log was written after results.json, not atomically: a kill in between lost it for good
    (the re-run skips a finished grade) or left it cut short."""
    seen: list[str | None] = []
    real = grader.batch.write_json_atomic

    def write_json(path: Path, document: object) -> None:
        log = path.parent / "grader.log"
        seen.append(log.read_text(encoding="utf-8") if log.exists() else None)
        real(path, document)  # type: ignore[arg-type]

    monkeypatch.setattr(grader.batch, "write_json_atomic", write_json)
    assert grader.batch.write_outputs(tmp_path / "sub", _document(), "sandbox: a note\nfor staff") == ""
    assert seen == ["sandbox: a note\nfor staff"]
    assert_valid_results(tmp_path / "sub" / "results.json")


def test_an_older_grades_log_is_removed_when_the_new_grade_has_none(tmp_path: Path) -> None:
    """A log beside a results.json is that grade's: one left from an earlier grade would mislead the staff."""
    grader.batch.write_outputs(tmp_path / "sub", _document(), "an earlier grade's notes")
    grader.batch.write_outputs(tmp_path / "sub", _document(), "")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["results.json"]


def test_temporary_files_of_interrupted_writes_are_removed(tmp_path: Path) -> None:
    """Bug: a kill during write_json_atomic left `.results.json.*.tmp` in the output folder for good."""
    target = tmp_path / "sub"
    target.mkdir()
    for name in (".results.json.k1l2e3d4.tmp", ".grader.log.a1b2c3d4.tmp", "notes.tmp"):
        (target / name).write_text("{cut sho", encoding="utf-8")
    assert grader.batch.write_outputs(target, _document(), "") == ""
    assert sorted(p.name for p in target.iterdir()) == ["notes.tmp", "results.json"]
    assert json.loads((target / "results.json").read_text(encoding="utf-8"))["score"] == 0
