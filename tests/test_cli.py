"""The `grader` command's edges: reruns say what they skip, mistakes are one line, pipes close.

Each test pins a problem a new user met: a phantom `out` submission, a stray file graded as a
submission, tracebacks for a wrong --out or a closed pipe, a progress line per submission in
a log, no --isolation for `grader check`.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, RUBRIC, SAMPLES

from grader.cli import main
from grader.report import progress_printer

WRITTEN_ONLY = ["answer_key", "expression_injection", "yaml_python_tags"]
SKIPPED = "already graded and unchanged, skipped (use --force to regrade)"


def _subs(folder: Path, names: list[str] = WRITTEN_ONLY) -> Path:
    """A folder of submissions copied from the samples."""
    for name in names:
        shutil.copytree(SAMPLES / name, folder / name)
    return folder


def _grade(*args: str) -> int:
    return main(["grade", *args, "--rubric", str(RUBRIC)])


def _gradebook_names(out: Path) -> list[str]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
        return [row["submission"] for row in csv.DictReader(stream)]


def _one_line_error(err: str) -> str:
    """The single `grader: error:` line of stderr (and no traceback)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grader: error: "), err
    return lines[0]


def test_rerun_says_how_many_it_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The second run skips all three and says so on stderr; --force regrades and says nothing."""
    subs, out = _subs(tmp_path / "subs"), tmp_path / "out"
    assert _grade(str(subs), "--out", str(out)) in (0, 1)
    assert SKIPPED not in capsys.readouterr().err
    assert _grade(str(subs), "--out", str(out)) in (0, 1)
    assert f"3 of 3 {SKIPPED}" in capsys.readouterr().err
    assert _grade(str(subs), "--out", str(out), "--force") in (0, 1)
    assert SKIPPED not in capsys.readouterr().err


def test_grading_the_current_folder_twice_adds_no_out_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cd subs && grader grade .` (default --out out): the results folder is no submission."""
    subs = _subs(tmp_path / "subs")
    monkeypatch.chdir(subs)
    for _ in range(2):
        _grade(".")
        assert not re.search(r"^out\s", capsys.readouterr().out, re.MULTILINE)
    assert _gradebook_names(subs / "out") == WRITTEN_ONLY
    _grade(str(subs), "--out", str(subs / "out"))
    assert _gradebook_names(subs / "out") == WRITTEN_ONLY


def test_a_submission_graded_in_place_is_skipped_on_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The results folder inside the submission does not change the submission's fingerprint."""
    subs = _subs(tmp_path / "subs", ["answer_key"])
    monkeypatch.chdir(subs / "answer_key")
    _grade(".")
    _grade(".")
    assert f"1 of 1 {SKIPPED}" in capsys.readouterr().err


def test_a_stray_file_is_refused_before_grading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grader grade README.md`: exit 2, one line, and nothing written."""
    out = tmp_path / "o3"
    assert _grade(str(ROOT / "README.md"), str(SAMPLES / "answer_key"), "--out", str(out)) == 2
    assert "not a folder, a .zip file or a Gradescope export" in _one_line_error(capsys.readouterr().err)
    assert not out.exists()


def test_an_empty_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder with no files at all: no submissions, exit 2."""
    (tmp_path / "empty").mkdir()
    assert _grade(str(tmp_path / "empty"), "--out", str(tmp_path / "out")) == 2
    assert "no submissions found in" in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("command", [
    ["grade", str(SAMPLES / "answer_key"), "--out", "{file}"],
    ["grade", str(SAMPLES / "answer_key"), "--out", "{file}/sub"],
    ["build-student-kit", "--out", "{file}"],
    ["build-autograder", "--out", "{file}/some/dir/autograder.zip"],
    ["build-autograder", "--out", "{folder}"],
])
def test_a_wrong_out_is_one_line(command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming a file as a folder (or a folder as the zip): exit 2, no traceback."""
    (tmp_path / "a_file").write_text("keep me\n", encoding="utf-8")
    (tmp_path / "a_folder").mkdir()
    argv = [arg.format(file=tmp_path / "a_file", folder=tmp_path / "a_folder") for arg in command]
    assert main([*argv, "--rubric", str(RUBRIC)]) == 2
    assert "--out" in _one_line_error(capsys.readouterr().err)
    assert (tmp_path / "a_file").read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize("command", [["checks"], ["check", str(SAMPLES / "reference")]])
def test_a_closed_pipe_ends_quietly(command: list[str]) -> None:
    """`grader check ... | head -3`: the reader left; no BrokenPipeError, exit 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every write fails
    try:
        run = subprocess.run([sys.executable, "-m", "grader", *command], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120, check=False,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write_end)
    assert run.stderr == "" and run.returncode == 141, run.stderr


def test_check_takes_an_isolation_layer(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`grader check --isolation rlimits`, as `grader grade`; the choice does not outlive the call."""
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    assert main(["check", str(SAMPLES / "reference"), "--rubric", str(RUBRIC), "--isolation", "rlimits"]) == 0
    assert "Isolation layer used for your notebook: rlimits" in capsys.readouterr().out
    assert "GRADER_ISOLATION" not in os.environ


def test_check_full_prints_feedback_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grader check --full`, as the kit's `check.py --full`: a long traceback is not shortened."""
    import nbformat

    submission = tmp_path / "sub"
    shutil.copytree(SAMPLES / "template", submission)
    notebook = nbformat.read(submission / "hw1_code.ipynb", as_version=4)
    deep = "".join(f"def level{i}(z):\n    return level{i + 1}(z)\n" for i in range(8))
    notebook.cells.append(nbformat.v4.new_code_cell(deep + "def level8(z):\n    raise ValueError('deep')\n"
                                                    "def step(z):\n    return level0(z)\n"))
    nbformat.write(notebook, submission / "hw1_code.ipynb")
    assert main(["check", str(submission), "--rubric", str(RUBRIC)]) == 0
    short = capsys.readouterr().out
    assert main(["check", str(submission), "--rubric", str(RUBRIC), "--full"]) == 0
    full = capsys.readouterr().out
    assert "--full shows them" in short and "--full shows them" not in full
    assert "level3" not in short and "level3" in full


def test_progress_in_a_log_is_a_line_every_five_seconds_and_the_last() -> None:
    """Not a terminal: a line when 5 s have passed since the last one, and the final line."""
    times = iter([0.0, 1.0, 2.0, 6.0, 7.0, 12.0, 13.0])  # the printer's creation, then each update
    stream = io.StringIO()
    show = progress_printer(stream, clock=lambda: next(times))
    for done in range(1, 7):
        show(done, 6, float(done))
    assert re.findall(r"(\d+)/6", stream.getvalue()) == ["3", "5", "6"]


def test_progress_in_a_log_of_a_fast_run_is_one_line() -> None:
    """Ten quick submissions in a log: only the final line, not one per submission."""
    stream = io.StringIO()
    show = progress_printer(stream)
    for done in range(1, 11):
        show(done, 10, done / 100)
    assert stream.getvalue().splitlines() == [stream.getvalue().strip()]
    assert "10/10" in stream.getvalue()
