"""An autograder for Homework 1 of a neural-networks course.

Student code runs only in an isolated child process (`grader.sandbox`); everything here that
compares, scores and writes results runs in the grader's own process against references it
computes itself (`reference_solutions`). Entry points: the `grader` command (`grader.cli`), the
pytest plugin (`grader.pytest_plugin`) and the library functions below.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
