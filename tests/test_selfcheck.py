"""`grader check`: the students' run of the public checks."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import RUBRIC, SAMPLES

from grader.cli import main
from grader.rubric import Rubric
from grader.selfcheck import run_check


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
    assert "Written answers: hw1_written.yaml is not valid YAML: line 3" in out
    assert str(tmp_path.resolve()) in out.splitlines()[0]  # the folder checked, not "."


def test_a_file_that_is_not_a_zip_is_an_error_not_a_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check hw1_code.ipynb` (a student naming a file): exit 2 with what to give instead."""
    shutil.copy2(SAMPLES / "reference" / "hw1_code.ipynb", tmp_path / "hw1_code.ipynb")
    monkeypatch.chdir(tmp_path)
    code, out = _check(capsys, "hw1_code.ipynb")
    assert code == 2
    assert "hw1_code.ipynb is a file, not a folder or a zip: give the folder that holds" in out
    assert "item" not in out  # no table of zeros


def test_check_lists_missing_written_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Missing answers are named, and present ones checked for format, without grading any."""
    (tmp_path / "hw1_written.yaml").write_text(
        "q1_1: {W1: [[1]]}\nq1_3_hessian: [[1]]\n", encoding="utf-8"
    )
    code, out = _check(capsys, str(tmp_path))
    assert code == 0
    assert "Written answers: hw1_written.yaml parses. The format of each answer" in out
    statuses = dict(line.split(None, 1) for line in out.splitlines()[-6:])
    for key in ("q1_2_graph", "q1_3_cost", "q1_3_1_z", "q1_3_1_cost"):
        assert statuses[key] == f"problem: the key {key} is missing; keep every key of the template"
    assert statuses["q1_1"] == "problem: W1 should be 3 x 4 (a list of rows); got shape (1, 1)"
    assert statuses["q1_3_hessian"] == "problem: the answer should be 3 x 3 (a list of rows); got shape (1, 1)"


BROKEN_STEP_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": (
        "def _deep(z, depth):\n"
        "    if depth == 0:\n"
        "        raise ValueError('broken ' + 'x' * 400)\n"
        "    return _deep(z, depth - 1)\n\n\n"
        "def step(z):\n"
        "    return _deep(z, 5)\n")}],
}


@pytest.mark.parametrize("full", [False, True])
def test_check_full_prints_whole_tracebacks(tmp_path: Path, full: bool) -> None:
    """By default a traceback shows its last lines, cut to width; with full=True all of it."""
    (tmp_path / "hw1_code.ipynb").write_text(json.dumps(BROKEN_STEP_NOTEBOOK), encoding="utf-8")
    out = io.StringIO()
    assert run_check(tmp_path, RUBRIC, out, full=full) == 0
    text = out.getvalue()
    assert "Calling step(array(8,) [" in text
    assert ("ValueError: broken " + "x" * 400 in text) == full
    assert ("more lines; --full shows them" in text) != full


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
