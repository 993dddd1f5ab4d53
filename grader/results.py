"""Gradescope results: building the document and writing it once, atomically.

The document is what Gradescope reads from /autograder/results/results.json (format in
`../shared/spec/gradescope-results.schema.json`). Every autograded item appears, always with
its max_score, whatever happened to the submission; numbers are finite; text is UTF-8.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.rubric import Item, Visibility

MAX_OUTPUT_CHARS = 8_000
"""Per-test output cap: Gradescope shows it in a <pre>; more only buries the message."""


@dataclass(frozen=True)
class ItemResult:
    """The graded outcome of one rubric item."""

    item: Item
    score: float
    feedback: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def max_score(self) -> float:
        """The item's points."""
        return self.item.points

    @property
    def passed(self) -> bool:
        """Whether the item earned all its points."""
        return self.score >= self.item.points - 1e-9


def test_entry(result: ItemResult) -> dict[str, Any]:
    """One entry of results.json's `tests`."""
    item = result.item
    entry: dict[str, Any] = {
        "name": f"{item.id}: {item.title}" if item.title != item.id else item.id,
        "score": _round(result.score),
        "max_score": _round(item.points),
        "status": "passed" if result.passed else "failed",
        "output": _clip(result.feedback),
        "tags": [item.part],
        "visibility": item.visibility,
        "extra_data": {"item": item.id, "check": item.check},
    }
    return entry


def results_document(
    results: Sequence[ItemResult],
    *,
    output: str = "",
    execution_time: float | None = None,
    extra_data: Mapping[str, Any] | None = None,
    score: float | None = None,
    visibility: Visibility = "visible",
) -> dict[str, Any]:
    """The whole results.json document for one submission."""
    document: dict[str, Any] = {
        "tests": [test_entry(result) for result in results],
        "output": _clip(output),
        "output_format": "text",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": dict(extra_data or {}),
    }
    if score is not None:
        document["score"] = _round(score)
    if execution_time is not None:
        document["execution_time"] = _round(execution_time)
    return document


def write_json_atomic(path: Path, document: Mapping[str, Any]) -> None:
    """Write `document` as UTF-8 JSON to `path` at once: readers see the old file or the new one."""
    write_text_atomic(path, json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def write_text_atomic(path: Path, text: str, errors: str = "strict") -> None:
    """Write `text` as UTF-8 to `path` at once (through `.NAME.*.tmp` beside it): the old file or the new one.

    `errors` is the encoder's (`replace` for text that may hold lone surrogates, like a log).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors=errors) as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _round(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    rounded = round(value, 4)
    return float(int(rounded)) if rounded == int(rounded) else rounded


def _clip(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be written
    text = text.replace("\r\n", "\n").replace("\x00", "")
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[: MAX_OUTPUT_CHARS - 40] + "\n… (output shortened by the grader)"
