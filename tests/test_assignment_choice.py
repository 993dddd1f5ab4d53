"""Every command names its assignment (--assignment, or the rubric path); with several rubrics
and no choice, a clear error lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import paths
from grader.cli import main
from grader.errors import GraderError


@pytest.fixture
def two_rubrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    for name in ("hw1", "hw2"):
        (folder / f"{name}.yaml").write_text("assignment: x\n", encoding="utf-8")
    monkeypatch.setattr(paths, "RUBRICS", folder)
    return folder


def test_one_rubric_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    (folder / "only.yaml").write_text("assignment: only\n", encoding="utf-8")
    monkeypatch.setattr(paths, "RUBRICS", folder)
    assert paths.choose_rubric() == folder / "only.yaml"


def test_several_rubrics_and_no_choice_is_an_error_listing_them(two_rubrics: Path) -> None:
    with pytest.raises(GraderError, match=r"several assignments here \(hw1, hw2\).*--assignment NAME"):
        paths.choose_rubric()
    assert paths.choose_rubric(assignment="hw2") == two_rubrics / "hw2.yaml"
    assert paths.choose_rubric(Path("elsewhere.yaml")) == Path("elsewhere.yaml")


def test_an_unknown_assignment_names_the_known_ones(two_rubrics: Path) -> None:
    with pytest.raises(GraderError, match=r"no rubric for assignment 'hw9'.*hw1, hw2"):
        paths.choose_rubric(assignment="hw9")


def test_the_command_line_says_so_with_exit_2(two_rubrics: Path, capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    assert main(["build-student-kit", "--out", str(kit)]) == 2
    assert "several assignments here (hw1, hw2)" in capsys.readouterr().err
    assert not kit.exists()


def test_the_samples_follow_the_assignment() -> None:
    assert paths.samples_of("hw1") == paths.SAMPLES / "hw1"


def test_the_submissions_file_names_say_which_assignment(tmp_path: Path) -> None:
    hw2 = tmp_path / "subs" / "alice"
    hw2.mkdir(parents=True)
    (hw2 / "HW2.ipynb").write_text("{}", encoding="utf-8")
    (hw2 / "hw2_model.npz").write_bytes(b"")
    assert paths.infer_assignment([tmp_path / "subs"]) == "hw2"
    assert paths.infer_assignment([paths.SAMPLES / "hw1" / "reference"]) == "hw1"
    assert paths.infer_assignment([tmp_path / "nothing-here"]) is None
