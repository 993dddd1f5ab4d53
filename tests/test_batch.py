"""Batch grading: exports keep their submitters, finished work is kept, a killed run resumes."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, RUBRIC, SAMPLES, assert_valid_results

import grader.batch
from grader.batch import discover, run_batch
from grader.cli import main
from grader.engine import GradeOptions
from grader.rubric import Rubric

WRITTEN_ONLY = ["answer_key", "expression_injection", "yaml_python_tags"]
EXPORT_YAML = """\
submission_101:
  :submitters:
  - :name: Doe, Jane
    :sid: '20231234'
    :email: jdoe@uni.example.edu
  - :name: Li Wei
    :sid: ''
    :email: lwei@uni.example.edu
  :created_at: 2023-12-02 02:52:07.938335000 Z
  :score: 0.0
  :status: processed
submission_102:
  :submitters:
  - :name: O'Brien, "Pat"
    :sid: 20230002
    :email: pat@uni.example.edu
  :created_at: 2023-12-02 03:10:00.000000000 Z
  :score: 0.0
"""


def _export_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("assignment_77_export/submission_metadata.yml", EXPORT_YAML)
        for sub_id, sample in (("101", "reference"), ("102", "answer_key")):
            data = (SAMPLES / sample / "hw1_written.yaml").read_bytes()
            archive.writestr(f"assignment_77_export/submission_{sub_id}/hw1_written.yaml", data)
    return path


def test_export_zip_keeps_submitters_in_gradebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Group members and names with commas or quotes reach gradebook.csv; summary.html too."""
    out = tmp_path / "out"
    main(
        [
            "grade",
            str(_export_zip(tmp_path / "export.zip")),
            "--out",
            str(out),
            "--rubric",
            str(RUBRIC),
        ]
    )
    capsys.readouterr()
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    assert rows["submission_101"]["names"] == "Doe, Jane; Li Wei"
    assert rows["submission_101"]["emails"] == "jdoe@uni.example.edu; lwei@uni.example.edu"
    assert rows["submission_101"]["sids"] == "20231234; "
    assert rows["submission_102"]["names"] == 'O\'Brien, "Pat"'
    assert float(rows["submission_101"]["q1_1"]) == 10
    results = assert_valid_results(out / "submission_101" / "results.json")
    assert [s["name"] for s in results["extra_data"]["submitters"]] == ["Doe, Jane", "Li Wei"]
    assert "Doe, Jane" in (out / "summary.html").read_text(encoding="utf-8")


def test_rerun_regrades_only_missing_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rubric: Rubric
) -> None:
    """Delete one results.json and run again: only that submission is graded again."""
    graded: list[str] = []
    real_grade_one = grader.batch.grade_one

    def counting(source: Any, *args: Any) -> Any:
        graded.append(source.name)
        return real_grade_one(source, *args)

    monkeypatch.setattr(grader.batch, "grade_one", counting)
    sources = discover([SAMPLES / name for name in WRITTEN_ONLY], dict(rubric.files), tmp_path)
    out = tmp_path / "out"
    first = run_batch(sources, rubric, out, GradeOptions())
    assert sorted(graded) == sorted(WRITTEN_ONLY)
    before = {name: (out / name / "results.json").stat().st_mtime_ns for name in WRITTEN_ONLY}
    (out / WRITTEN_ONLY[1] / "results.json").unlink()
    graded.clear()
    second = run_batch(sources, rubric, out, GradeOptions())
    assert graded == [WRITTEN_ONLY[1]]
    for name in (WRITTEN_ONLY[0], WRITTEN_ONLY[2]):
        assert (out / name / "results.json").stat().st_mtime_ns == before[name]
    assert [row.total for row in second] == [row.total for row in first]


def test_killed_run_resumes_to_complete_results(tmp_path: Path, rubric: Rubric) -> None:
    """Kill `grader grade` after its first results.json; a rerun finishes every submission."""
    names = [*WRITTEN_ONLY, "template", "malformed_yaml", "reference"]
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "grader",
        "grade",
        *(str(SAMPLES / n) for n in names),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--rubric",
        str(RUBRIC),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while (
            not list(out.glob("*/results.json"))
            and time.monotonic() < deadline
            and process.poll() is None
        ):
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started, children included
        process.wait()
    finished = len(list(out.glob("*/results.json")))
    assert 1 <= finished < len(names), "the first run should be killed part-way"
    rerun = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode in (0, 1), rerun.stderr  # 1: some sample differs from its expected.json
    for name in names:
        assert_valid_results(out / name / "results.json", rubric)
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        assert [row["submission"] for row in csv.DictReader(stream)] == names
