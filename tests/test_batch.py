"""Batch grading: exports keep their submitters, finished work is kept, a killed run resumes.

Finished work is kept only while it is still right: a changed submission, a changed rubric or
a results.json without a fingerprint is graded again. Discovery takes only folders and zips.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
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
from grader.batch import FINGERPRINT, discover, run_batch
from grader.cli import main
from grader.engine import GradeOptions
from grader.errors import GraderError
from grader.rubric import Rubric, load_rubric
from grader.sandbox import available_layers

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


def _count_grading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the submissions `grade_one` is called for, from now on."""
    graded: list[str] = []
    real_grade_one = grader.batch.grade_one

    def counting(source: Any, *args: Any) -> Any:
        graded.append(source.name)
        return real_grade_one(source, *args)

    monkeypatch.setattr(grader.batch, "grade_one", counting)
    return graded


def _copy_samples(folder: Path, names: list[str]) -> Path:
    """A folder of submissions: copies of the named samples, free to be changed by a test."""
    for name in names:
        shutil.copytree(SAMPLES / name, folder / name)
    return folder


def _rubric_with_q1_1_points(folder: Path, points: int) -> Path:
    """A copy of the bundled rubric in which item q1_1 (and its part and the total) is worth `points`."""
    text = RUBRIC.read_text(encoding="utf-8")
    text = text.replace("  q1_1: 10\n", f"  q1_1: {points}\n", 1)
    text = text.replace("total_points: 140", f"total_points: {130 + points}", 1)
    text = text.replace('title: "1.1 hard-coded network, k = 2"\n    points: 10',
                        f'title: "1.1 hard-coded network, k = 2"\n    points: {points}', 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hw1.yaml").write_text(text, encoding="utf-8")
    return folder / "hw1.yaml"


def test_changed_submission_is_regraded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rubric: Rubric) -> None:
    """A student's file changed since the last run: that submission gets its new score."""
    subs = _copy_samples(tmp_path / "subs", WRITTEN_ONLY)
    sources = discover([subs], dict(rubric.files), tmp_path)
    out = tmp_path / "out"
    first = {row.name: row.total for row in run_batch(sources, rubric, out, GradeOptions())}
    graded = _count_grading(monkeypatch)
    shutil.copy(SAMPLES / "reference" / "hw1_written.yaml", subs / "answer_key" / "hw1_written.yaml")
    second = {row.name: row.total for row in run_batch(sources, rubric, out, GradeOptions())}
    assert graded == ["answer_key"]
    assert second["answer_key"] > first["answer_key"]
    document = assert_valid_results(out / "answer_key" / "results.json", rubric)
    assert document["extra_data"][FINGERPRINT].startswith("sha256:")


def test_changed_rubric_regrades_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rubric: Rubric) -> None:
    """The rubric changed since the last run: no old result (with its old max_score) is kept."""
    sources = discover([SAMPLES / name for name in WRITTEN_ONLY], dict(rubric.files), tmp_path)
    out = tmp_path / "out"
    run_batch(sources, rubric, out, GradeOptions())
    changed = load_rubric(_rubric_with_q1_1_points(tmp_path / "rubrics", 12))
    graded = _count_grading(monkeypatch)
    run_batch(sources, changed, out, GradeOptions())
    assert sorted(graded) == sorted(WRITTEN_ONLY)
    document = assert_valid_results(out / "answer_key" / "results.json", changed)
    assert {t["extra_data"]["item"]: t["max_score"] for t in document["tests"]}["q1_1"] == 12


def test_changed_code_or_references_or_layer_change_the_grading_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rubric: Rubric
) -> None:
    """A fixed reference or check changes grades without a new version: results are not reused."""
    import grader.batch as batch

    package = tmp_path / "reference_solutions"
    package.mkdir()
    (package / "written.py").write_text("HESSIAN_V = (4, 2, 5)\n", encoding="utf-8")
    monkeypatch.setattr(batch, "_code_packages", lambda rubric: [package])
    options = GradeOptions(isolation="rlimits", salt="s")
    before = batch.grading_key(rubric, options)
    (package / "written.py").write_text("HESSIAN_V = (4, 2, 6)\n", encoding="utf-8")
    assert batch.grading_key(rubric, options) != before
    assert batch.grading_key(rubric, options) == batch.grading_key(rubric, options)
    if "uid" in available_layers() or "namespaces" in available_layers():
        stronger = next(layer for layer in ("namespaces", "uid") if layer in available_layers())
        isolated = GradeOptions(isolation=stronger, salt="s")
        assert batch.grading_key(rubric, isolated) != batch.grading_key(rubric, options)


def test_the_grading_key_covers_the_grader_and_the_references(rubric: Rubric) -> None:
    import grader.batch as batch

    names = {folder.name for folder in batch._code_packages(rubric)}
    assert names == {"grader", "reference_solutions"}


def test_results_without_fingerprint_are_regraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rubric: Rubric
) -> None:
    """A results.json of an older grader (no fingerprint) or a damaged one is not trusted."""
    sources = discover([SAMPLES / name for name in WRITTEN_ONLY], dict(rubric.files), tmp_path)
    out = tmp_path / "out"
    run_batch(sources, rubric, out, GradeOptions())
    old = out / WRITTEN_ONLY[0] / "results.json"
    document = json.loads(old.read_text(encoding="utf-8"))
    del document["extra_data"][FINGERPRINT]
    old.write_text(json.dumps(document), encoding="utf-8")
    (out / WRITTEN_ONLY[1] / "results.json").write_text("[1, 2", encoding="utf-8")
    graded = _count_grading(monkeypatch)
    notices: list[str] = []
    run_batch(sources, rubric, out, GradeOptions(), notice=notices.append)
    assert sorted(graded) == sorted(WRITTEN_ONLY[:2])
    assert notices == ["1 of 3 already graded and unchanged, skipped (use --force to regrade)"]
    graded.clear()
    notices.clear()
    run_batch(sources, rubric, out, GradeOptions(), force=True, notice=notices.append)
    assert sorted(graded) == sorted(WRITTEN_ONLY) and notices == []


def test_output_folder_is_not_discovered(tmp_path: Path, rubric: Rubric) -> None:
    """`grader grade .` with the default --out: the results folder never becomes a submission."""
    subs = _copy_samples(tmp_path / "subs", WRITTEN_ONLY[:2])
    (subs / "out" / "answer_key").mkdir(parents=True)
    (subs / "out" / "gradebook.csv").write_text("submission\n", encoding="utf-8")
    sources = discover([subs], dict(rubric.files), tmp_path, out_dir=subs / "out")
    assert [s.name for s in sources] == WRITTEN_ONLY[:2]
    with pytest.raises(GraderError, match="output folder"):
        discover([subs / "out"], dict(rubric.files), tmp_path, out_dir=subs / "out")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path, rubric: Rubric) -> None:
    """Only folders, zips and exports are inputs; a stray file is an error, not a submission."""
    with pytest.raises(GraderError, match=r"not a folder, a \.zip file or a Gradescope export"):
        discover([ROOT / "README.md"], dict(rubric.files), tmp_path)


def test_an_empty_folder_is_refused(tmp_path: Path, rubric: Rubric) -> None:
    """A folder with nothing in it (hidden files aside) holds no submissions."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(GraderError, match="no submissions found in"):
        discover([tmp_path / "empty"], dict(rubric.files), tmp_path)


def test_a_folder_of_other_files_is_graded_with_a_warning(tmp_path: Path, rubric: Rubric) -> None:
    """Files but none the rubric wants and no submissions: one empty submission, said so."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("grade hw1\n", encoding="utf-8")
    notices: list[str] = []
    sources = discover([tmp_path / "notes"], dict(rubric.files), tmp_path, notice=notices.append)
    assert [s.name for s in sources] == ["notes"]
    assert len(notices) == 1 and "graded as one empty submission" in notices[0]


def test_a_damaged_zip_in_a_folder_is_still_a_submission(tmp_path: Path, rubric: Rubric) -> None:
    """A student's broken .zip is graded (0, with a message), not silently left out."""
    subs = _copy_samples(tmp_path / "subs", WRITTEN_ONLY[:1])
    (subs / "bob.zip").write_bytes(b"not a zip at all")
    sources = discover([subs], dict(rubric.files), tmp_path)
    assert sorted(s.name for s in sources) == sorted([WRITTEN_ONLY[0], "bob"])
