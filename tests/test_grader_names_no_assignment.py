"""The grader knows no homework: nothing under grader/ names an assignment or one of its tasks.

Everything particular to an assignment lives beside it (rubrics/<name>.yaml,
reference_solutions/<name>/). The words below are Homework 1's file names and task names; an
example in a command's help text names an assignment that is not bundled (hw3).
"""

from __future__ import annotations

import re
from pathlib import Path

GRADER = Path(__file__).resolve().parent.parent / "grader"
# Homework 1's tasks and files (reference_solutions/hw1/plugin.py, hw1_code.py, SUBMISSION.md).
TASK_WORDS = ("kth_largest", "gated_backward", "gated_forward", "mlp_grads", "mlp_forward", "mlp_loss",
              "hvp_memory", "hvp_reverse", "sgd_step", "numerical_grad", "threshold_network",
              "hardcoded_forward", "second_largest", "softmax", "conv1d", "spiral", "cross_entropy")


def _hits(pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in sorted(GRADER.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(GRADER.parent)}:{number}: {line.strip()}")
    return hits


def test_grader_names_no_task_of_homework_1() -> None:
    hits = _hits(re.compile("|".join(TASK_WORDS), re.IGNORECASE))
    assert not hits, "grader/ names Homework 1's tasks:\n" + "\n".join(hits)


def test_grader_names_no_assignment_but_in_help_examples() -> None:
    """The bundled assignments (hw1, hw2, "Homework 1") appear nowhere under grader/ (help
    examples name an assignment that does not exist, hw3)."""
    names = sorted(path.stem for path in (GRADER.parent / "rubrics").glob("*.yaml"))
    numbers = [name.removeprefix("hw") for name in names if name.startswith("hw")]
    pattern = re.compile("|".join([*(rf"\b{name}\b" for name in names),
                                   *(rf"Homework {number}\b" for number in numbers)]), re.IGNORECASE)
    hits = _hits(pattern)
    assert not hits, "grader/ names an assignment:\n" + "\n".join(hits)
