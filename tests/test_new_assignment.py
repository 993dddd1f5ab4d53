"""`grader new-assignment NAME` writes an assignment that validates, grades and builds its kit at once.

Run in a copy of this checkout (its tracked files), so that the suite's own checkout keeps its
assignments: the skeleton is then linted and type-checked as an instructor's would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.new_assignment import create_assignment

ROOT = Path(__file__).resolve().parent.parent


def _copy_checkout(target: Path) -> None:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout here: {listed.stderr.decode(errors='replace').strip()}")
    for name in listed.stdout.decode().split("\0"):
        if name and not name.startswith("sample_submissions/"):
            source = ROOT / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    (target / "sample_submissions").mkdir(exist_ok=True)


def _grader(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_new_assignment_validates_grades_and_builds_its_kit(tmp_path: Path) -> None:
    copy = tmp_path / "course"
    _copy_checkout(copy)
    made = _grader(copy, "new-assignment", "hw9", "--title", "Homework 9")
    assert made.returncode == 0, made.stderr
    assert "grader validate --assignment hw9" in made.stdout
    validated = _grader(copy, "validate", "--assignment", "hw9")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "0 failed" in validated.stdout and "skipped" not in validated.stdout
    graded = _grader(copy, "grade", "--assignment", "hw9", "--out", str(tmp_path / "out"))
    assert graded.returncode == 0, graded.stdout + graded.stderr
    rows = {line.split()[0]: line.split() for line in graded.stdout.splitlines() if line[:1].isalpha()}
    assert rows["reference"][-2:] == ["50", "ok"] and rows["template"][-2:] == ["0", "ok"]
    kit = _grader(copy, "build-student-kit", "--assignment", "hw9", "--out", str(tmp_path / "kit"))
    assert kit.returncode == 0, kit.stderr
    assert (tmp_path / "kit" / "hw9.ipynb").is_file() and (tmp_path / "kit" / "hw9_written.yaml").is_file()
    linted = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "reference_solutions/hw9"],
                            cwd=copy, capture_output=True, text=True)
    if "No module named ruff" in linted.stderr:
        pytest.skip("ruff is not installed here (pip install -e '.[test]')")
    assert linted.returncode == 0, linted.stdout


def test_names_and_existing_assignments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="not an assignment name"):
        create_assignment("Hw 9", tmp_path)
    with pytest.raises(GraderError, match="exists already"):
        create_assignment("hw1", ROOT)
    with pytest.raises(GraderError, match="no reference_solutions/ package"):
        create_assignment("hw9", tmp_path)
