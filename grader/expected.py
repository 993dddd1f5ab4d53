"""Comparing graded scores with a sample submission's `expected.json`.

expected.json: {"description": "...", "parts": {"q1_1": 10, "p5": [20, 25], ...}, "tolerance": 0.01}
A part's expectation is a number (within `tolerance`) or an inclusive [low, high] range (for
scores that depend on a random test set, such as p5's accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def mismatches(part_scores: Mapping[str, float], expected: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between the scores and the expectation; empty if they agree."""
    tolerance = float(expected.get("tolerance", 0.01))
    problems = []
    for part, want in expected.get("parts", {}).items():
        if part not in part_scores:
            problems.append(f"{part}: not graded")
            continue
        got = part_scores[part]
        if isinstance(want, list):
            low, high = float(want[0]), float(want[1])
            if not low - 1e-9 <= got <= high + 1e-9:
                problems.append(f"{part}: got {got:g}, expected between {low:g} and {high:g}")
        elif abs(got - float(want)) > tolerance:
            problems.append(f"{part}: got {got:g}, expected {float(want):g}")
    return problems
