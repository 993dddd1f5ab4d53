"""`grader validate` proves the rubric, and fails when a reference or a total is broken.

It finds the sample submissions the same way wherever the rubric is, and without them still
runs the proofs that do not need them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import RUBRIC, SAMPLES

from grader.cli import main
from grader.validate import validate_rubric


def test_validate_passes_on_the_bundled_rubric() -> None:
    run = subprocess.run([sys.executable, "-m", "grader", "validate", str(RUBRIC)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert "0 failed" in run.stdout
    for item in ("q1_1", "q1_3_hessian", "p3_hvp_memory", "p5_accuracy"):
        assert f"PASS {item}: the reference earns full marks" in run.stdout
        assert f"PASS {item}: an empty submission earns 0" in run.stdout


def test_validate_fails_when_a_point_total_is_broken(tmp_path: Path) -> None:
    broken = tmp_path / "rubrics" / "hw1.yaml"
    broken.parent.mkdir()
    broken.write_text(RUBRIC.read_text().replace("  p3: 20\n", "  p3: 21\n"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "grader", "validate", str(broken)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "parts.p3" in run.stdout and "add up to 20" in run.stdout


def test_validate_fails_when_a_reference_is_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader import engine
    from reference_solutions.hw1 import written

    # A wrong Hessian reference (the seed key's mistake): the proofs and the reference sample both catch it.
    monkeypatch.setattr(written, "hessian", lambda v=None, x=None: np.outer([3.0, 1.0, 4.0], [3.0, 1.0, 4.0]))
    engine._written_reference.cache_clear()
    try:
        report = validate_rubric(RUBRIC)
    finally:
        engine._written_reference.cache_clear()
    assert not report.ok
    failed = [line for line in report.lines if line.startswith("FAIL")]
    assert any("q1_3_hessian: the reference earns full marks" in line for line in failed), failed


def test_validate_finds_the_samples_for_a_rubric_elsewhere(tmp_path: Path) -> None:
    """A rubric outside the checkout is proved against the checkout's samples, all of them."""
    elsewhere = tmp_path / "course" / "rubric.yaml"
    elsewhere.parent.mkdir()
    shutil.copy(RUBRIC, elsewhere)
    report = validate_rubric(elsewhere)
    assert report.ok and report.skipped == 0, report.lines
    assert any("q1_1: the reference earns full marks" in line for line in report.lines)
    assert any("the untouched template earns 0" in line for line in report.lines)


def test_validate_without_samples_says_so_and_runs_the_rest(tmp_path: Path) -> None:
    """No reference/ in the samples folder: two SKIP lines naming it, every other proof runs."""
    report = validate_rubric(RUBRIC, samples=tmp_path)
    skips = [line for line in report.lines if line.startswith("SKIP")]
    assert len(skips) == 2 and str(tmp_path) in skips[0] and "--samples" in skips[0], skips
    assert report.ok and report.skipped == 2
    assert any("each reference satisfies its problem" in line for line in report.lines)
    assert any("q1_1: an empty submission earns 0" in line for line in report.lines)
    assert not any("the reference earns full marks" in line and line.startswith("PASS") for line in report.lines)


def test_validate_takes_the_assignment_folder_or_its_parent(tmp_path: Path) -> None:
    """--samples may name sample_submissions/hw1 or sample_submissions itself."""
    report = validate_rubric(RUBRIC, samples=SAMPLES.parent)
    assert report.ok and report.skipped == 0, report.lines


def test_validate_accepts_the_rubric_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`--rubric FILE`, as every other command; two different rubrics are an error."""
    assert main(["validate", "--rubric", str(RUBRIC), "--samples", str(SAMPLES)]) == 0
    assert "0 failed" in capsys.readouterr().out
    assert main(["validate", str(RUBRIC), "--rubric", str(tmp_path / "other.yaml")]) == 2
    assert capsys.readouterr().err.startswith("grader: error: two rubrics given")
    assert main(["validate", "--samples", str(tmp_path / "missing")]) == 2
    assert "--samples" in capsys.readouterr().err
