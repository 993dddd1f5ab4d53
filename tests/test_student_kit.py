"""The student kit: what it holds, and that nothing in it helps with a hidden item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import RUBRIC, SAMPLES

from grader.rubric import Rubric
from grader.student_kit import WITHHELD, build_student_kit
from grader.yamlio import load_untrusted_yaml
from reference_solutions.hw1 import hw1_code

SALT = "kit-test-private-salt-5f1c9e"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The kit's files by name, built while the private salt cannot be read at all."""
    import grader.seeds

    def no_salt() -> tuple[str, bool]:
        raise AssertionError("the student kit must never read the private salt")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_SALT", SALT)
        patch.setattr(grader.seeds, "private_salt", no_salt)
        out = tmp_path_factory.mktemp("kit")
        paths = build_student_kit(out, RUBRIC)
    return {path.name: path.read_text(encoding="utf-8") for path in paths}


def test_kit_has_the_four_files(kit: dict[str, str]) -> None:
    """Notebook template, written template, public checks, README."""
    assert set(kit) == {"hw1_code.ipynb", "hw1_written.yaml", "public_checks.json", "README.md"}
    assert "grader check" in kit["README.md"]


def test_notebook_is_the_template(kit: dict[str, str]) -> None:
    """The handed-out notebook is byte for byte the template sample."""
    assert kit["hw1_code.ipynb"] == (SAMPLES / "template" / "hw1_code.ipynb").read_text(
        encoding="utf-8"
    )


def test_kit_holds_no_solution_code(kit: dict[str, str]) -> None:
    """No solution marker, nor any solution line over 25 chars that the template lacks."""
    template = kit["hw1_code.ipynb"]
    text = "\n".join(kit.values())
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    inside, solution_lines = False, []
    for line in Path(hw1_code.__file__).read_text(encoding="utf-8").splitlines():
        if line.strip() == "# BEGIN SOLUTION":
            inside = True
        elif line.strip() == "# END SOLUTION":
            inside = False
        elif inside and len(line.strip()) > 25 and json.dumps(line.strip())[1:-1] not in template:
            solution_lines.append(line.strip())
    assert solution_lines, "the reference should have solution lines to look for"
    for line in solution_lines:
        assert line not in text and json.dumps(line)[1:-1] not in text, line


def test_written_template_parses_with_every_key_and_no_answer(
    kit: dict[str, str], rubric: Rubric, tmp_path: Path
) -> None:
    """Every answer key of the rubric is there, and no value is the reference's answer."""
    path = tmp_path / "hw1_written.yaml"
    path.write_text(kit["hw1_written.yaml"], encoding="utf-8")
    answers = load_untrusted_yaml(path)
    reference = load_untrusted_yaml(SAMPLES / "reference" / "hw1_written.yaml")
    for item in rubric.items_of("written"):
        assert item.answer in answers
        assert answers[item.answer] != reference[item.answer], item.answer
    for value in ("3*m*n", "2*m*n + m", "m*n + 2*n**2", "m > n", "O(n^2)", "[x, a1]", "48, 12, 24"):
        assert value not in kit["hw1_written.yaml"], value


def test_public_checks_cover_only_visible_notebook_items(
    kit: dict[str, str], rubric: Rubric
) -> None:
    """Exactly the visible notebook items; the reference's outputs on the public inputs."""
    checks = json.loads(kit["public_checks.json"])
    visible = [i.id for i in rubric.items_of("notebook") if i.visibility == "visible"]
    assert [c["id"] for c in checks] == visible
    step = next(c for c in checks if c["id"] == "p1_step")
    for case in step["cases"]:
        assert case["expected"] == hw1_code.step(np.array(case["args"][0])).tolist()
    assert all(case["expected"] is not None for c in checks for case in c["cases"])


def test_kit_reveals_no_hidden_item(kit: dict[str, str], rubric: Rubric) -> None:
    """No hidden id, no salt, and the hidden kth_largest_params answers are withheld."""
    text = "\n".join(kit.values())
    for item in rubric.items:
        if item.visibility == "hidden":
            assert item.id not in text, item.id
    assert SALT not in text and "development-salt" not in text
    forward = next(
        c for c in json.loads(kit["public_checks.json"]) if c["id"] == "p1_hardcoded_forward"
    )
    assert all(case["args"][0] == WITHHELD for case in forward["cases"])
    lists = list(_lists(json.loads(kit["public_checks.json"])))
    for k in range(1, 5):
        params: dict[str, Any] = hw1_code.kth_largest_params(k)
        assert np.asarray(params["W1"]).tolist() not in lists


def _lists(value: Any) -> Any:
    """Every list inside a JSON value, outermost first."""
    if isinstance(value, list):
        yield value
        for child in value:
            yield from _lists(child)
    elif isinstance(value, dict):
        for child in value.values():
            yield from _lists(child)
