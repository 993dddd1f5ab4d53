"""The grading benchmark still runs: two submissions, no kernel baseline, every ratio line printed.

tests/benchmarks/bench_grading.py is not collected by pytest (its name does not start with
test_); this runs it end to end so a change in the grader's command line or output cannot
leave it broken unnoticed. Its figures are not checked here, nor how long it takes: timing on a
shared test machine says nothing; tests/benchmarks/README.md holds the measured ones.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCRIPT = ROOT / "tests" / "benchmarks" / "bench_grading.py"


def test_benchmark_runs_and_prints_ratios(tmp_path: Path) -> None:
    """`--n 2 --skip-kernel --profile` grades its two submissions and prints the ratio and table lines."""
    # The work folder is tmp_path, so conftest also validates the results.json files it writes. The
    # timeout only stops a hung run; it asserts nothing about speed.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "2", "--skip-kernel", "--profile", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "ratio grader/floor (median wall per submission, --jobs 1): " in out, out
    assert "ratio jobs2/jobs1 throughput: " in out, out
    assert "ratio kernel/grader: skipped (--skip-kernel)" in out, out
    assert "--jobs 2 throughput: " in out and "(target >= 30.9: " in out, out  # issue 13's targets
    assert "CPU per submission (--jobs 1 median" in out, out
    assert "| grader --jobs 1 | 2 |" in out and "| (a) floor:" in out, out
    assert "## Time against N" in out, out
    assert len(list((tmp_path / "out-2-j1").glob("*/results.json"))) == 2
    assert "One submission's wall time, ranked" in out and "| child: run the cells |" in out, out
