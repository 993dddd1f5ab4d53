"""`grader check`: the students' run of the public checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import RUBRIC, SAMPLES

from grader.cli import main
from grader.rubric import Rubric


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args, "--rubric", str(RUBRIC)])
    return code, capsys.readouterr().out


def _public_points(rubric: Rubric) -> float:
    return sum(item.points for item in rubric.items if item.visibility == "visible")


def test_check_reference_prints_table_and_public_total(
    capsys: pytest.CaptureFixture[str], rubric: Rubric
) -> None:
    """A row per visible item; the public total, isolation layer and written file are reported."""
    code, out = _check(capsys, str(SAMPLES / "reference"))
    assert code == 0
    visible = [item for item in rubric.items if item.visibility == "visible"]
    hidden = [item for item in rubric.items if item.visibility != "visible"]
    assert all(f"\n{item.id} " in out for item in visible)
    assert not any(f"\n{item.id} " in out for item in hidden)
    assert f"of {_public_points(rubric):g} points" in out
    assert "Public total:" in out
    assert "Isolation layer used for your notebook:" in out
    assert "parses and has every expected key" in out


def test_check_template_scores_zero_and_exits_zero(
    capsys: pytest.CaptureFixture[str], rubric: Rubric
) -> None:
    """A student's zero is a result, not a failure of the tool."""
    code, out = _check(capsys, str(SAMPLES / "template"))
    assert code == 0
    assert f"Public total: 0 of {_public_points(rubric):g} points" in out
    assert "FAIL" in out
    assert "hw1_written.yaml was not found" in out


def test_check_defaults_to_current_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without PATH the current folder is checked."""
    shutil.copy2(SAMPLES / "malformed_yaml" / "hw1_written.yaml", tmp_path / "hw1_written.yaml")
    monkeypatch.chdir(tmp_path)
    code, out = _check(capsys)
    assert code == 0
    assert "Written answers: hw1_written.yaml does not parse" in out


def test_check_lists_missing_written_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Missing answers are named (nested keys too), without grading any written item."""
    (tmp_path / "hw1_written.yaml").write_text(
        "q1_1: {W1: [[1]]}\nq1_3_hessian: [[1]]\n", encoding="utf-8"
    )
    code, out = _check(capsys, str(tmp_path))
    assert code == 0
    line = next(line for line in out.splitlines() if "has no answer under" in line)
    missing = [name.strip() for name in line.split("under:")[1].split(",")]
    assert missing == ["q1_2_graph", "q1_3_cost", "q1_3_1_z", "q1_3_1_cost"]


@pytest.mark.parametrize("bad", ["path", "rubric"])
def test_check_cannot_run_exits_two(
    bad: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A wrong path or a broken rubric: a message and exit status 2."""
    rubric = tmp_path / "broken.yaml"
    rubric.write_text("assignment: [\n", encoding="utf-8")
    path = tmp_path / "no-such-folder" if bad == "path" else SAMPLES / "empty"
    code = main(["check", str(path), "--rubric", str(rubric if bad == "rubric" else RUBRIC)])
    out = capsys.readouterr().out
    assert code == 2
    assert "error" in out
