"""The parent's wire decoder: whatever the child sends, a bad value is one call's failure.

The child is student code: it can write any line on the protocol channel, so every tagged form
is fed values that break Python's own conversions (a 400-digit integer where a float belongs,
wrong types in every field). Each must raise `WireError` (which the session turns into that
call's `bad_value` with the message), never another exception, which would end the whole
notebook stage ("grader internal error" on every notebook item, isolation "none").
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from conftest import SAMPLES

from grader.engine import GradeOptions, grade
from grader.notebook import CodeCell
from grader.rubric import Rubric
from grader.sandbox import Call, SessionLimits, WireError, run_session
from grader.sandbox.wire import decode, encode
from grader.submission import open_submission

HUGE = 10**400
MALFORMED: dict[str, Any] = {
    "complex_huge_int_real": {"$complex": [HUGE, 0]},
    "complex_huge_int_imag": {"$complex": [0, -HUGE]},
    "complex_nested_huge_int": {"$tuple": [{"$complex": [1.5, HUGE]}]},
    "complex_string": {"$complex": ["1", 0]},
    "complex_bool": {"$complex": [True, 0]},
    "complex_three_parts": {"$complex": [1, 2, 3]},
    "complex_not_a_list": {"$complex": {"re": 1}},
    "complex_nan_literal_in_tag": {"$complex": [{"$float": "NaN"}, 0]},
    "plain_huge_int": HUGE,
    "negative_huge_int_in_list": [1, 2, -HUGE],
    "dict_huge_int_key": {"$dict": [[HUGE, 1]]},
    "dict_float_key": {"$dict": [[1.5, 1]]},
    "dict_list_key": {"$dict": [[[1], 1]]},
    "dict_entry_not_pair": {"$dict": [[1]]},
    "dict_body_not_list": {"$dict": {"a": 1}},
    "float_unknown": {"$float": "infinity"},
    "float_not_str": {"$float": [1]},
    "float_unhashable": {"$float": {"nan": 1}},
    "tuple_not_list": {"$tuple": "ab"},
    "array_huge_int_dtype": {"$array": {"dtype": HUGE, "shape": [1], "data": "AA=="}},
    "array_huge_int_size": {"$array": {"dtype": "<f8", "shape": [HUGE], "data": ""}},
    "array_negative_size": {"$array": {"dtype": "<f8", "shape": [-1], "data": ""}},
    "array_float_size": {"$array": {"dtype": "<f8", "shape": [1.0], "data": "AAAAAAAAAAA="}},
    "array_bool_size": {"$array": {"dtype": "<f8", "shape": [True], "data": "AAAAAAAAAAA="}},
    "array_shape_not_list": {"$array": {"dtype": "<f8", "shape": 3, "data": ""}},
    "array_too_many_dims": {"$array": {"dtype": "<f8", "shape": [1] * 33, "data": "AAAAAAAAAAA="}},
    "array_object_dtype": {"$array": {"dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="}},
    "array_dtype_list": {"$array": {"dtype": ["<f8"], "shape": [1], "data": "AAAAAAAAAAA="}},
    "array_data_not_base64": {"$array": {"dtype": "<f8", "shape": [1], "data": "!!!!!!!!!!!="}},
    "array_data_short": {"$array": {"dtype": "<f8", "shape": [2], "data": "AAAAAAAAAAA="}},
    "array_data_int": {"$array": {"dtype": "<f8", "shape": [1], "data": HUGE}},
    "array_extra_field": {"$array": {"dtype": "<f8", "shape": [1], "data": "AAAAAAAAAAA=", "x": 1}},
    "array_body_list": {"$array": ["<f8", [1], "AAAAAAAAAAA="]},
    "scalar_huge_dtype": {"$scalar": {"dtype": -HUGE, "data": "AAAAAAAAAAA="}},
    "scalar_data_none": {"$scalar": {"dtype": "<f8", "data": None}},
    "scalar_body_str": {"$scalar": "<f8"},
    "unknown_tag": {"$pickle": "gASV"},
    "two_keys": {"$float": "nan", "$tuple": []},
    "ref_from_the_child": {"$ref": "c1"},
    "fn_from_the_child": {"$fn": "lambda x: x"},
    "non_finite_float": float("inf"),
    "set": {1, 2},
    "bytes": b"raw",
    "deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_every_malformed_value_is_a_wire_error(value: object) -> None:
    """Nothing but WireError leaves the decoder, with a message a student can read."""
    with pytest.raises(WireError) as caught:
        decode(value)
    assert str(caught.value) and len(str(caught.value)) < 300


@pytest.mark.parametrize("value", [
    0, -(2**1000), 2**1000, 1.5, "text", None, True, [1, [2.5, None]], (1, "a"), {"a": 1, 2: (3,)},
    complex(1.5, -2), complex(float("nan"), float("inf")), float("-inf"), 2**63 + 1,
    np.arange(6, dtype="<i8").reshape(2, 3), np.float32(1.25), np.zeros((0, 3)),
])
def test_plain_data_round_trips(value: object) -> None:
    """What an honest child sends (its encoder is the same format) still decodes."""
    decoded = decode(encode(value))
    if isinstance(value, np.ndarray):
        assert isinstance(decoded, np.ndarray)
        assert decoded.dtype == value.dtype and np.array_equal(decoded, value)
    elif isinstance(value, (float, complex)) and value != value:  # nan: compare the text
        assert repr(decoded) == repr(value)
    elif isinstance(value, complex) and not (value.real == value.real):
        assert repr(decoded) == repr(value)
    else:
        assert decoded == value or repr(decoded) == repr(value)


def _forging_cell(value: str) -> str:
    """A cell whose `f` writes a forged "ok" reply carrying `value` to every fd, then returns."""
    return (
        "import os\n"
        "def f():\n"
        f"    line = ('{{\"t\": \"call\", \"id\": \"c1\", \"status\": \"ok\", \"message\": \"\", '\n"
        f"            '\"output\": \"\", \"value\": ' + {value!r} + ', \"args_after\": null}}\\n')\n"
        "    for fd in range(1, 64):\n"
        "        try:\n"
        "            os.write(fd, line.encode())\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 1\n"
        "def g():\n"
        "    return 2\n"
    )


def test_a_forged_complex_is_one_calls_failure() -> None:
    """A 400-digit integer in a forged $complex fails that call; the next call still runs."""
    forged = '{"$complex": [' + "9" * 400 + ", 0]}"
    report = run_session([CodeCell(1, _forging_cell(forged))],
                         [Call("c1", "f"), Call("c2", "g")], SessionLimits(),
                         submission_dir=None)
    first, second = report.calls["c1"], report.calls["c2"]
    assert first.status == "bad_value", first
    assert "could not be read by the grader" in first.message and "float" in first.message
    assert second.status == "ok" and second.value == 2


FORGE_STEP = """
import os as _os
_honest_step = step
_forged = []


def step(z):
    if not _forged:  # the first call: a forged reply for each of the item's calls, on every fd
        _forged.append(True)
        value = '{"$complex": [' + "9" * 400 + ', 0]}'
        lines = "".join('{"t": "call", "id": "p1_step:%d", "status": "ok", "message": "", '
                        '"output": "", "value": %s, "args_after": null}\\n' % (i, value)
                        for i in range(12))
        for fd in range(1, 64):
            try:
                _os.write(fd, lines.encode())
            except OSError:
                pass
    return _honest_step(z)
"""


def test_a_forged_complex_costs_only_its_item(tmp_path: Path, rubric: Rubric) -> None:
    """Graded end to end: the other notebook items keep their points and the layer is reported."""
    submission = tmp_path / "forger"
    shutil.copytree(SAMPLES / "reference", submission)
    notebook = nbformat.read(submission / "hw1_code.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(FORGE_STEP))
    nbformat.write(notebook, submission / "hw1_code.ipynb")
    opened = open_submission(submission, dict(rubric.files), tmp_path / "work")
    report = grade(opened, rubric, GradeOptions(salt="s"))
    parts = report.part_scores()
    assert report.isolation is not None, report.log
    for part in ("p2", "p3", "p4"):
        assert parts[part] == rubric.parts[part], (part, parts, report.log)
    results = {r.item.id: r for r in report.results}
    assert "could not be read by the grader" in results["p1_step"].feedback
    assert not any("internal error" in r.feedback for r in report.results)
