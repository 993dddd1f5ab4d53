"""An autograder for the assignments of a neural-networks course.

Student code runs only in an isolated child process (`grader.sandbox`); everything here that
compares, scores and writes results runs in the grader's own process against references it
computes itself (`reference_solutions`). Entry points: the `grader` command (`grader.cli`), the
pytest plugin (`grader.pytest_plugin`) and the library functions below.
"""

from __future__ import annotations

import os

# The grader's own numpy work is small (checks on a few arrays); parallelism comes from grading
# several submissions at once. Multi-threaded BLAS here only spins idle threads: measured at
# 35 % of the parent's CPU per submission (tests/benchmarks/README.md). Must be set before
# numpy is first imported; a value the user set wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

__version__ = "0.1.0"

__all__ = ["__version__"]
