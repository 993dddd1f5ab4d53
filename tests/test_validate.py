"""`grader validate` proves the rubric, and fails when a reference or a total is broken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import RUBRIC

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
