"""Hidden inputs come from everything a submission's code can read, not only the graded files.

Otherwise a student submits once, lets a cell print the hidden inputs, and submits again with
the same three graded files and a table of answers beside them: same inputs, all answered.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES

import grader.engine
import grader.seeds
from grader.engine import GradeOptions, grade
from grader.rubric import Rubric
from grader.seeds import submission_fingerprint
from grader.submission import open_submission


def _fingerprint(folder: Path, rubric: Rubric, work: Path) -> str:
    """The per-submission part of the hidden seeds, for the files the grader locates in `folder`."""
    submission = open_submission(folder, dict(rubric.files), work)
    assert submission.files, submission.problems
    return submission_fingerprint(submission.all_files())


@pytest.mark.parametrize("nested", [False, True], ids=["top", "in_a_folder"])
def test_any_file_beside_the_graded_ones_changes_the_hidden_inputs(
    tmp_path: Path, rubric: Rubric, nested: bool
) -> None:
    """A new file, a changed file, a renamed file, a file deeper down: each changes the seed."""
    folder = tmp_path / "sub" / ("hw1" if nested else "")
    shutil.copytree(SAMPLES / "reference", folder)
    seen = [_fingerprint(tmp_path / "sub", rubric, tmp_path / "w0")]
    steps = [
        lambda: (folder / "answers.json").write_text('{"0.5": 1}', encoding="utf-8"),
        lambda: (folder / "answers.json").write_text('{"0.5": 0}', encoding="utf-8"),
        lambda: (folder / "answers.json").rename(folder / "table.json"),
        lambda: (folder / "deep" / "er").mkdir(parents=True),
        lambda: (folder / "deep" / "er" / "x.npy").write_bytes(b"\x93NUMPY"),
        lambda: os.symlink("table.json", folder / "link"),
    ]
    for number, step in enumerate(steps, start=1):
        step()
        seen.append(_fingerprint(tmp_path / "sub", rubric, tmp_path / f"w{number}"))
    assert len(set(seen)) == len(seen), seen


def test_the_same_files_give_the_same_hidden_inputs(tmp_path: Path, rubric: Rubric) -> None:
    """Stable: a copy elsewhere, or a zip of the same files, draws the same inputs."""
    shutil.copytree(SAMPLES / "reference", tmp_path / "a")
    shutil.copytree(SAMPLES / "reference", tmp_path / "b")
    (tmp_path / "a" / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "b" / "notes.txt").write_text("x", encoding="utf-8")
    archive = shutil.make_archive(str(tmp_path / "c"), "zip", tmp_path / "a")
    prints = {_fingerprint(tmp_path / n, rubric, tmp_path / f"w{n}") for n in ("a", "b")}
    prints.add(_fingerprint(Path(archive), rubric, tmp_path / "wc"))
    assert len(prints) == 1


def test_reading_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the byte budget a file enters by its size: its bytes are not read."""
    (tmp_path / "a.txt").write_bytes(b"a" * 100)
    (tmp_path / "big.bin").write_bytes(b"b" * 1000)
    monkeypatch.setattr(grader.seeds, "MAX_BYTES", 500)
    before = submission_fingerprint([tmp_path / "a.txt"])
    (tmp_path / "big.bin").write_bytes(b"c" * 1000)  # same size, other bytes: past the budget
    assert submission_fingerprint([tmp_path / "a.txt"]) == before
    (tmp_path / "big.bin").write_bytes(b"c" * 1001)
    assert submission_fingerprint([tmp_path / "a.txt"]) != before


def test_the_engine_seeds_hidden_items_from_the_whole_submission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rubric: Rubric
) -> None:
    """Graded twice, the second time with an extra file: the hidden items' seeds differ."""
    seeds: list[Any] = []
    real = grader.engine.derive_seed

    def spy(*parts: Any) -> int:
        seeds.append(parts)
        return real(*parts)

    monkeypatch.setattr(grader.engine, "derive_seed", spy)
    folder = tmp_path / "sub"
    shutil.copytree(SAMPLES / "reference", folder)
    drawn = []
    for extra in (None, "answers.json"):
        if extra:
            (folder / extra).write_text("{}", encoding="utf-8")
        seeds.clear()
        submission = open_submission(folder, dict(rubric.files), tmp_path / f"w{extra}")
        grade(submission, rubric, GradeOptions(salt="salt"))
        drawn.append({parts for parts in seeds if parts[0] == "salt" and parts[1] != "weights-test-set"})
    assert drawn[0] and drawn[1] and not drawn[0] & drawn[1]
