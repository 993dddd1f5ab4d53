"""Comparing numbers and arrays with tolerance, and saying clearly how they differ."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from grader.outcome import brief

_MAX_SHOWN = 6


# Numbers a student may type as text: decimals ("-4", "0.5", "1e-3") and simple fractions
# ("1/2", "-3/4", "16/1"). Read with these patterns and `fractions.Fraction`, never eval.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_FRACTION_TEXT = re.compile(r"([+-]?\d{1,20})\s*/\s*(\d{1,20})")
_MAX_NUMBER_TEXT = 48


def number_from_text(text: str) -> float | None:
    """The value of a number written as text ("-4", "2.5", "1/2"), or None if it is not one."""
    stripped = text.strip().replace("\u2212", "-")  # U+2212 is the typographic minus
    if len(stripped) > _MAX_NUMBER_TEXT:
        return None
    if _DECIMAL_TEXT.fullmatch(stripped):
        return float(stripped)
    parts = _FRACTION_TEXT.fullmatch(stripped)
    if parts is None or int(parts[2]) == 0:
        return None
    return float(Fraction(int(parts[1]), int(parts[2])))


class _BadNumbers(ValueError):
    """Numeric data with one bad entry or ragged rows; the message names where."""


def _entry_name(what: str, index: tuple[int, ...]) -> str:
    """`W1[0][2]` for a name, `entry [0][2] of the result` for a description."""
    suffix = "".join(f"[{i}]" for i in index)
    if re.fullmatch(r"[\w.'\[\]]+", what):
        return what + suffix
    return f"entry {suffix} of {what}" if suffix else what[:1].upper() + what[1:]


def _scalar(value: Any, what: str, index: tuple[int, ...]) -> float:
    """One entry as a float, or _BadNumbers saying why it is not a number."""
    if isinstance(value, (bool, np.bool_)):
        problem = f"is {str(value).lower()}, not a number"
    elif isinstance(value, (int, np.integer)):
        try:
            return float(value)
        except OverflowError:
            problem = "is too large"
    elif isinstance(value, (float, np.floating)):
        return float(value)
    elif isinstance(value, str):
        number = number_from_text(value)
        if number is not None:
            return number
        shown = value if len(value) <= 30 else value[:27] + "..."
        problem = f"is {shown!r}, not a number"
    elif value is None:
        problem = "is empty, not a number"
    elif isinstance(value, dict):
        problem = "is a mapping, not a number"
    else:
        problem = "is not a number"
    raise _BadNumbers(f"{_entry_name(what, index)} {problem}.")


def _nested(value: Any, what: str, index: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """Nested lists of floats and their shape, checking every entry and that rows agree."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return _scalar(value, what, index), ()
    children = [_nested(child, what, (*index, i)) for i, child in enumerate(value)]
    if not children:
        return [], (0,)
    first = children[0][1]
    for i, (_, shape) in enumerate(children[1:], start=1):
        if shape == first:
            continue
        row = f"{_entry_name(what, index)}: " if index else f"{what}: "
        if shape and first:
            if shape[0] != first[0]:
                raise _BadNumbers(f"{row}row {i + 1} has {shape[0]} entries, row 1 has {first[0]}; "
                                  "every row needs the same number of entries.")
            raise _BadNumbers(f"{row}row {i + 1} is nested differently from row 1.")
        kinds = ("a list", "a number")
        raise _BadNumbers(f"{row}entry {i + 1} is {kinds[not shape]} but entry 1 is {kinds[not first]}.")
    return [child for child, _ in children], (len(children), *first)


def read_numbers(value: Any, what: str) -> tuple[np.ndarray | None, str | None]:
    """`value` as a float64 array, or (None, message naming the bad entry or ragged row).

    Accepts numbers, numeric text ("-4", "1/2"), nested lists of those and numeric numpy
    arrays. (None, None) means `value` is not numeric data at all (text, a mapping, None):
    the caller says what was expected.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return None, None
        return value.astype(np.float64), None
    if isinstance(value, str):
        number = number_from_text(value)
        return (None, None) if number is None else (np.asarray(number, dtype=np.float64), None)
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (list, tuple, int, float, np.integer, np.floating)
    ):
        return None, None
    try:
        nested, _ = _nested(value, what, ())
    except _BadNumbers as problem:
        return None, str(problem)
    except RecursionError:
        return None, f"{what} is nested too deeply."
    return np.asarray(nested, dtype=np.float64), None


def as_float_array(value: Any) -> np.ndarray | None:
    """`value` as a float64 array if it is numeric data (lists of numbers included), else None."""
    return read_numbers(value, "value")[0]


def describe(value: Any) -> str:
    """A short description of what a value is, for a student who returned the wrong thing.

    Never names a class of the grader's own (the YAML loader's list and mapping types).
    """
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, tuple):
        return f"a tuple of length {len(value)}"
    if isinstance(value, list):
        return f"a list of length {len(value)}"
    if isinstance(value, dict):
        return f"a mapping with keys {sorted(map(str, value))[:8]}"
    return f"{type(value).__name__} {brief(value)}"


def squeeze_to(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`array` reshaped to a vector or scalar `shape` if it only differs by singleton axes.

    A vector written as a column [[1], [2]] or a row [[1, 2]] is the vector [1, 2]; a matrix
    is never reshaped (a flat list of 9 numbers is not a 3 x 3 matrix).
    """
    if len(shape) <= 1 and array.shape != shape and (
        tuple(d for d in array.shape if d != 1) == tuple(d for d in shape if d != 1)
    ):
        return array.reshape(shape)
    return array


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]" if index else "(scalar)"


def _isclose(have: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> Any:
    """`np.isclose(have, want, rtol=rtol, atol=atol)` for float64 arrays, in a fifth of its time.

    numpy 2's own formula (and numpy 1's result, for tolerances >= 0) without its checks of the
    arguments: every case of every notebook check comes through here, some 170 a submission.
    """
    if not (0.0 <= rtol < math.inf and 0.0 <= atol < math.inf):
        return np.isclose(have, want, rtol=rtol, atol=atol)
    with np.errstate(invalid="ignore"):
        close = (np.abs(have - want) <= atol + rtol * np.abs(want)) & np.isfinite(want) | (have == want)
    return close[()]


def mismatch(
    expected: Any, got: Any, *, rtol: float = 1e-6, atol: float = 1e-8, what: str = "the result",
    exact_shape: bool = True, vector: bool = False,
) -> str | None:
    """None if `got` matches `expected` within tolerance, else a message saying how it differs.

    The message names the shape, the first differing entry with both values, and the
    tolerance, so a student can find the bug; it never prints the whole expected array.
    With `vector`, an expected vector (or scalar) also matches a row or column of it.
    """
    want = np.asarray(expected, dtype=np.float64)
    have, problem = read_numbers(got, what)
    if have is None:
        return problem or f"{what} should be a numeric array of shape {want.shape}; got {describe(got)}."
    if vector:
        have = squeeze_to(have, want.shape)
    if have.shape != want.shape:
        if not exact_shape and have.size == want.size:
            have = have.reshape(want.shape)
        else:
            return f"{what} has shape {have.shape}; expected shape {want.shape}."
    finite = np.isfinite(have)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        return f"{what} has a non-finite entry at {_fmt_index(index)}: {have[index]}."
    close = _isclose(have, want, rtol, atol)
    if close.all():
        return None
    bad = np.argwhere(~close)
    index = tuple(int(i) for i in bad[0])
    count = len(bad)
    return (
        f"{what}: {count} of {want.size} entries differ (tolerance rtol={rtol:g}, atol={atol:g}); "
        f"first at {_fmt_index(index)}: expected {_fmt(want[index])}, got {_fmt(have[index])}."
    )


def dict_mismatches(
    expected: Mapping[str, Any], got: Any, *, rtol: float, atol: float, what: str
) -> dict[str, str | None]:
    """Per-key comparison of a dict of arrays: key -> None (match) or a message."""
    if not isinstance(got, dict):
        return {key: f"{what} should be a dict with keys {sorted(expected)}; got {describe(got)}."
                for key in expected}
    out: dict[str, str | None] = {}
    for key, want in expected.items():
        if key not in got:
            out[key] = f"{what} has no key {key!r}."
        else:
            out[key] = mismatch(want, got[key], rtol=rtol, atol=atol, what=f"{what}[{key!r}]")
    return out
