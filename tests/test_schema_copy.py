"""The vendored copy of Gradescope's results schema stays identical to the shared spec."""

from __future__ import annotations

import pytest
from conftest import SHARED_SCHEMA, VENDORED_SCHEMA


def test_vendored_schema_matches_the_shared_spec() -> None:
    if not SHARED_SCHEMA.is_file():
        pytest.skip("../shared/spec is not beside this checkout")
    assert VENDORED_SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes()
