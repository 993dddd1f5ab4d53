"""The scale benchmark still runs: a few submissions graded, killed once, resumed, every check printed.

tests/benchmarks/bench_scale.py is not collected by pytest (its name does not start with test_);
this runs it end to end with a small --n so that a change in the grader's command line or output
cannot leave it broken unnoticed. Its figures are not checked, nor how long it takes: the measured
ones are in tests/benchmarks/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCRIPT = ROOT / "tests" / "benchmarks" / "bench_scale.py"


def test_bench_scale_reports_figures_and_passes_every_check(tmp_path: Path) -> None:
    """`--n 8 --timeouts 0 --kills 1`: the figures, the throughput table, the kill table and only PASS lines."""
    # No timeout: each costs the rubric's 10 s cell timeout, twice. The work folder is tmp_path, so
    # conftest also validates every results.json written. The timeout only stops a hung run.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "8", "--timeouts", "0", "--kills", "1", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    for line in ("| total wall time |", "| all but the timeouts (until the last of them was written) |",
                 "| peak RSS of the grader process (wait4) |", "| interval (s) | results at its end |",
                 "target: 10,000 submissions, all but the timeouts, under 5 minutes: ",
                 "| start | kept at start | said skipped |",
                 "PASS every submission has exactly one results.json",
                 "PASS gradebook.csv has exactly one row per submission",
                 "PASS every score (each item and the total) equals the uninterrupted run's",
                 "PASS each start skipped exactly the submissions finished before it",
                 "PASS no process of a killed grader outlived it",
                 "PASS no temporary folder left once the resumed batch ended"):
        assert line in out, out
    assert "FAIL" not in out and "checks passed" in out, out
    assert len(list((tmp_path / "out-kill").glob("*/results.json"))) == 8


def test_bench_scale_help_is_printed() -> None:
    """--help (a percent sign in a help text once made argparse fail)."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, check=False)
    assert result.returncode == 0 and "--timeouts" in result.stdout, result.stderr
