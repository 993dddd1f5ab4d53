"""The rubric loads, adds up to the contract, and every mistake names file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RUBRIC

from grader.errors import RubricError
from grader.rubric import load_rubric

CONTRACT = {"q1_1": 10, "q1_2_graph": 5, "q1_3_hessian": 5, "q1_3_cost": 5, "q1_3_1_z": 4,
            "q1_3_1_cost": 6, "p1": 15, "p2": 25, "p3": 20, "p4": 15, "p5": 25}


def test_bundled_rubric_matches_the_contract(rubric) -> None:
    assert dict(rubric.parts) == CONTRACT
    assert rubric.autograded_points == 135
    assert [(m.id, m.points) for m in rubric.manual] == [("q1_2_derivation", 5)]
    assert rubric.total_points == 140
    for part, points in CONTRACT.items():
        assert sum(i.points for i in rubric.items if i.part == part) == points


def test_written_items_say_where_the_key_is_wrong(rubric) -> None:
    notes = {item.id: item.key_note for item in rubric.items}
    assert "superincreasing" in notes["q1_1"]
    assert "[3, 1, 4]" in notes["q1_3_hessian"]


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = RUBRIC.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "hw1.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("old", "new", "key", "line_marker", "message"), [
    ("    points: 10\n", "    points: 11\n", "parts.q1_1", "  q1_1: 10", "add up to 11"),
    ("total_points: 140", "total_points: 150", "total_points", "total_points:", "add up to 140"),
    ("total_points: 140", "total_points: lots", "total_points", "total_points:", "must be a number, got"),
    ("check: threshold_network", "check: threshold_netwrk", "check", "threshold_netwrk", "not a registered check"),
    ("params: {k: 2}", "params: {k: 2, kk: 3}", "params.kk", "kk: 3", "not a parameter"),
    ("params: {k: 2}", "params: {k: two}", "params.k", "k: two", "whole number"),
    ("    visibility: after_due_date\n    check: graph_edges", "    visibility: sometimes\n    check: graph_edges",
     "visibility", "visibility: sometimes", "must be one of"),
    ("  - id: q1_2_graph\n    part: q1_2_graph", "  - id: q1_2_graph\n    part: q1_9", "part", "part: q1_9",
     "not declared"),
    ("    answer: q1_3_1_z\n", "", "answer", "id: q1_3_1_z", "needs the answer"),
    ("  - id: p1_indicator", "  - id: p1_step", ".id", "id: q1_3_1_z", "used twice (first at line"),
    ("limits:\n", "limits:\n  cpu_fraction: 2\n", "limits.cpu_fraction", "cpu_fraction", "not a known key"),
    ("memory: {compare: big_o, weight: 1}", "memory: {compare: bigo, weight: 1}", "params",
     "params:\n      fields:\n        multiplications",
     "compare must be one of"),
    ("params: {function: step, inputs: step,", "params: {function: step, inputs: steps,", "params",
     "inputs: steps", "is not an input generator of this assignment"),
    ("params: {function: step, inputs: step,", "params: {inputs: step,", "params.function", "inputs: step,",
     "is required"),
])
def test_invalid_rubric_names_file_key_and_line(tmp_path, old, new, key, line_marker, message) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    error = info.value
    assert error.path == path
    assert key in error.key, error
    assert message in str(error), error
    text = path.read_text()
    marker_line = text[: text.index(line_marker)].count("\n") + 1 if line_marker in text else None
    assert error.line is not None
    if marker_line is not None and line_marker not in ("id: q1_3_1_z",):
        assert error.line == marker_line, (error.line, marker_line, str(error))
    assert str(path) in str(error)


def test_invalid_yaml_is_reported_with_its_line(tmp_path) -> None:
    path = _broken(tmp_path, "title: \"Homework 1\"", "title: [unclosed")
    with pytest.raises(RubricError, match=r"hw1\.yaml:\d+: \(yaml\): invalid YAML"):
        load_rubric(path)


def test_duplicate_key_is_an_error_not_a_silent_overwrite(tmp_path) -> None:
    path = _broken(tmp_path, "assignment: hw1\n", "assignment: hw1\nassignment: hw2\n")
    with pytest.raises(RubricError, match="appears twice"):
        load_rubric(path)


def test_python_tag_in_rubric_is_refused(tmp_path) -> None:
    sentinel = tmp_path / "pwned"
    path = _broken(tmp_path, "title: \"Homework 1\"", f"title: !!python/object/apply:os.system ['touch {sentinel}']")
    with pytest.raises(RubricError):
        load_rubric(path)
    assert not sentinel.exists()


def test_reference_outside_reference_solutions_is_refused(tmp_path) -> None:
    path = _broken(tmp_path, "code: reference_solutions.hw1.hw1_code", "code: os")
    with pytest.raises(RubricError, match=r"references\.code"):
        load_rubric(path)


def test_missing_rubric_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(RubricError, match="cannot be read"):
        load_rubric(tmp_path / "nope.yaml")
