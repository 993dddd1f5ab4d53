"""Comparing numbers and arrays with tolerance, and saying clearly how they differ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_MAX_SHOWN = 6


def as_float_array(value: Any) -> np.ndarray | None:
    """`value` as a float64 array if it is numeric data (lists of numbers included), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return None
        return value.astype(np.float64)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return None
        return array
    return None


def describe(value: Any) -> str:
    """A short description of what a value is, for a student who returned the wrong thing."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:8]}"
    return f"{type(value).__name__} {str(value)[:40]}"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]" if index else "(scalar)"


def mismatch(
    expected: Any, got: Any, *, rtol: float = 1e-6, atol: float = 1e-8, what: str = "the result",
    exact_shape: bool = True,
) -> str | None:
    """None if `got` matches `expected` within tolerance, else a message saying how it differs.

    The message names the shape, the first differing entry with both values, and the
    tolerance, so a student can find the bug; it never prints the whole expected array.
    """
    want = np.asarray(expected, dtype=np.float64)
    have = as_float_array(got)
    if have is None:
        return f"{what} should be a numeric array of shape {want.shape}; got {describe(got)}."
    if have.shape != want.shape:
        if not exact_shape and have.size == want.size:
            have = have.reshape(want.shape)
        else:
            return f"{what} has shape {have.shape}; expected shape {want.shape}."
    finite = np.isfinite(have)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        return f"{what} has a non-finite entry at {_fmt_index(index)}: {have[index]}."
    close = np.isclose(have, want, rtol=rtol, atol=atol)
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
