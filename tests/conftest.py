"""Shared fixtures: the results schema, the bundled rubric, and a check on every results file.

Every results.json that any test writes under its tmp_path is validated against Gradescope's
schema after the test, so no test can produce an invalid file unnoticed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SCHEMA = ROOT.parent / "shared" / "spec" / "gradescope-results.schema.json"
VENDORED_SCHEMA = Path(__file__).resolve().parent / "data" / "gradescope-results.schema.json"
SAMPLES = ROOT / "sample_submissions" / "hw1"
RUBRIC = ROOT / "rubrics" / "hw1.yaml"


def _schema() -> dict[str, Any]:
    path = SHARED_SCHEMA if SHARED_SCHEMA.is_file() else VENDORED_SCHEMA
    return json.loads(path.read_text(encoding="utf-8"))


_VALIDATOR = jsonschema.Draft202012Validator(_schema())


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def assert_valid_results(path: Path, rubric: Any = None) -> dict[str, Any]:
    """Parse a results.json strictly (no NaN) and validate it against the schema."""
    document = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{path}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    for test in document.get("tests", []):
        for key in ("score", "max_score"):
            if key in test:
                assert math.isfinite(test[key])
        assert test["score"] <= test["max_score"] + 1e-9, test
    if rubric is not None:
        ids = {t["extra_data"]["item"] for t in document["tests"]}
        missing = {item.id for item in rubric.items} - ids
        assert not missing, f"{path}: items missing from results: {missing}"
    return document


@pytest.fixture
def schema_validator() -> jsonschema.Draft202012Validator:
    """The results.json schema validator."""
    return _VALIDATOR


@pytest.fixture(scope="session")
def rubric() -> Any:
    """The bundled Homework 1 rubric."""
    from grader.rubric import load_rubric

    return load_rubric(RUBRIC)


@pytest.fixture(autouse=True)
def _validate_every_results_file(tmp_path: Path) -> Iterator[None]:
    yield
    for path in tmp_path.rglob("results.json"):
        assert_valid_results(path)
pytest_plugins = ["pytester"]
