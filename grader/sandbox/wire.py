"""Plain-data values on the wire between the grader and the sandboxed child (JSON, never pickle).

A value is JSON with tagged single-key objects for what JSON lacks:
`{"$array": {"dtype", "shape", "data"}}` (base64 of raw little-endian bytes), `{"$scalar": {"dtype",
"data"}}`, `{"$tuple": [...]}`, `{"$dict": [[key, value], ...]}` (str or int keys),
`{"$float": "nan" | "inf" | "-inf"}`, `{"$complex": [re, im]}`; and, from the grader only,
`{"$ref": id, "index": ...}` and `{"$fn": source}`. `child.py` holds the child's side of the same
format (it may not import this module). Everything the child sends is decoded here strictly.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.sandbox.protocol import WIRE_DTYPES

# Little-endian numeric and boolean dtypes whose meaning is the same on every platform; long
# doubles, objects, strings, structured and datetime dtypes never cross the wire.
ALLOWED_DTYPES = WIRE_DTYPES
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
MAX_INT_BITS = 1024
"""Integers past a float's range (about 1.8e308) are refused: no answer is one, and comparing
one with a float raises OverflowError in the checks."""


@dataclass(frozen=True)
class TestFunction:
    """A scalar function the grader defines and the child builds: a lambda over `np` (trusted)."""

    __test__ = False  # not a pytest test class, despite its name

    source: str


@dataclass(frozen=True)
class Ref:
    """An argument that is the full result of an earlier call (optionally `result[index]`)."""

    call_id: str
    index: int | str | None = None


@dataclass(frozen=True)
class Caps:
    """Bounds on one decoded value: what an honest child never exceeds and the parent enforces."""

    max_depth: int = 32
    max_items: int = 1_000_000
    max_array_bytes: int = 32 * 2**20
    max_str: int = 1_000_000
    max_ndim: int = 32

    def as_dict(self) -> dict[str, int]:
        """The caps as plain data, for the child's request."""
        return {"max_depth": self.max_depth, "max_items": self.max_items,
                "max_array_bytes": self.max_array_bytes, "max_str": self.max_str,
                "max_ndim": self.max_ndim}


DEFAULT_CAPS = Caps()


class WireError(ValueError):
    """A value from the child that breaks the wire format or exceeds its caps."""


def loads_line(line: bytes) -> Any:
    """Parse one protocol line as JSON, rejecting the non-standard NaN/Infinity literals."""
    return json.loads(line, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise WireError(f"non-standard JSON constant {name}")


# ---------------------------------------------------------------- encoding (grader -> child)

def encode(value: object) -> object:
    """Encode a grader-side argument; raises TypeError for anything but plain data."""
    return _encode(value, 0)


def _encode(value: object, depth: int) -> object:
    if depth > DEFAULT_CAPS.max_depth:
        raise TypeError("argument nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _encode_float(float(value))
    if isinstance(value, complex):
        return {"$complex": [_encode_float(value.real), _encode_float(value.imag)]}
    if isinstance(value, np.ndarray):
        dtype, raw = _array_bytes(value)
        return {"$array": {"dtype": dtype, "shape": list(value.shape),
                           "data": base64.b64encode(raw).decode("ascii")}}
    if isinstance(value, np.generic):
        dtype, raw = _array_bytes(np.asarray(value))
        return {"$scalar": {"dtype": dtype, "data": base64.b64encode(raw).decode("ascii")}}
    if isinstance(value, Ref):
        return {"$ref": value.call_id, "index": value.index}
    if isinstance(value, TestFunction):
        return {"$fn": value.source}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"dict keys must be str or int, not {type(key).__name__}")
        return {"$dict": [[k, _encode(v, depth + 1)] for k, v in value.items()]}
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def _encode_float(x: float) -> object:
    if math.isfinite(x):
        return x
    return {"$float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _array_bytes(array: np.ndarray) -> tuple[str, bytes]:
    little = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if little.str not in ALLOWED_DTYPES:
        raise TypeError(f"arrays of dtype {array.dtype} cannot cross the wire")
    return little.str, np.ascontiguousarray(array, dtype=little).tobytes()


# ---------------------------------------------------------------- decoding (child -> grader)

class _Budget:
    """What is left of one value's caps while it is decoded."""

    def __init__(self, caps: Caps) -> None:
        self.caps = caps
        self.items = caps.max_items
        self.array_bytes = caps.max_array_bytes

    def take_item(self) -> None:
        self.items -= 1
        if self.items < 0:
            raise WireError(f"more than {self.caps.max_items:,} items")


def decode(obj: object, caps: Caps = DEFAULT_CAPS) -> object:
    """Decode a value the child sent; raises WireError for anything outside the format or caps.

    Nothing else may leave: the child is student code and may forge any line, and an exception
    other than WireError would end the whole notebook stage instead of the one call. The checks
    below name what is wrong; the conversions Python itself refuses (an integer too large for a
    float, say) are caught here as a last resort, whichever tag they hide in.
    """
    try:
        return _decode(obj, 0, _Budget(caps))
    except WireError:
        raise
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise WireError(f"a malformed value ({type(exc).__name__}: {str(exc)[:100]})") from None


def _decode(obj: object, depth: int, budget: _Budget) -> object:
    if depth > budget.caps.max_depth:
        raise WireError(f"nested deeper than {budget.caps.max_depth} levels")
    budget.take_item()
    kind = type(obj)
    if obj is None or kind is bool:
        return obj
    if kind is int:
        assert isinstance(obj, int)
        return _small_int(obj)
    if kind is float:
        assert isinstance(obj, float)
        if not math.isfinite(obj):
            raise WireError("a non-finite float outside its tag")
        return obj
    if kind is str:
        assert isinstance(obj, str)
        if len(obj) > budget.caps.max_str:
            raise WireError(f"a string longer than {budget.caps.max_str:,} characters")
        return obj
    if kind is list:
        assert isinstance(obj, list)
        return [_decode(v, depth + 1, budget) for v in obj]
    if kind is dict:
        assert isinstance(obj, dict)
        if len(obj) != 1:
            raise WireError("an object that is not a single tag")
        ((tag, body),) = obj.items()
        return _decode_tagged(tag, body, depth, budget)
    raise WireError(f"unexpected JSON type {kind.__name__}")


def _decode_tagged(tag: str, body: object, depth: int, budget: _Budget) -> object:
    if tag == "$float":
        if not isinstance(body, str) or body not in _SPECIAL_FLOATS:
            raise WireError("a bad $float")
        return _SPECIAL_FLOATS[body]
    if tag == "$complex":
        if type(body) is not list or len(body) != 2:
            raise WireError("a bad $complex")
        real, imag = (_real(_decode(v, depth + 1, budget)) for v in body)
        return complex(real, imag)
    if tag == "$tuple":
        if type(body) is not list:
            raise WireError("a bad $tuple")
        return tuple(_decode(v, depth + 1, budget) for v in body)
    if tag == "$dict":
        return _decode_dict(body, depth, budget)
    if tag == "$array":
        return _decode_array(body, budget)
    if tag == "$scalar":
        return _decode_scalar(body, budget)
    raise WireError(f"unknown tag {tag[:40]!r}")


def _small_int(value: int) -> int:
    """An integer a float can hold: the checks compare numbers as floats, and no answer is bigger."""
    if value.bit_length() > MAX_INT_BITS:
        digits = int(value.bit_length() * math.log10(2)) + 1  # str() refuses over 4300 digits
        raise WireError(f"an integer of about {digits} digits, too large to compare (larger than "
                        "any float)")
    return value


def _real(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WireError("a bad $complex: its parts must be numbers")
    try:
        return float(value)
    except OverflowError:
        raise WireError("a bad $complex: a part too large for a float") from None


def _decode_dict(body: object, depth: int, budget: _Budget) -> dict[object, object]:
    if type(body) is not list:
        raise WireError("a bad $dict")
    out: dict[object, object] = {}
    for pair in body:
        if type(pair) is not list or len(pair) != 2:
            raise WireError("a bad $dict entry")
        key, value = pair
        if type(key) not in (str, int):
            raise WireError("a $dict key that is not str or int")
        if type(key) is int:
            _small_int(key)
        if key in out:
            raise WireError("a repeated $dict key")
        budget.take_item()
        out[key] = _decode(value, depth + 1, budget)
    return out


def _fields(body: object, names: set[str], tag: str) -> dict[str, Any]:
    if type(body) is not dict or set(body) != names:
        raise WireError(f"a {tag} without exactly the fields {sorted(names)}")
    return body


def _raw_bytes(dtype: object, data: object, count: int,
               budget: _Budget) -> tuple[np.dtype[Any], bytes]:
    """Check dtype and payload length before decoding anything, then decode base64 strictly."""
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        shown = repr(dtype[:20]) if isinstance(dtype, str) else f"of type {type(dtype).__name__}"
        raise WireError(f"dtype {shown} is not a plain numeric or boolean dtype")
    np_dtype = np.dtype(dtype)
    nbytes = count * np_dtype.itemsize
    if nbytes > budget.array_bytes:
        raise WireError(f"arrays larger than {budget.caps.max_array_bytes:,} bytes in all")
    budget.array_bytes -= nbytes
    if not isinstance(data, str) or len(data) != 4 * ((nbytes + 2) // 3):
        raise WireError("array data whose length does not match its dtype and shape")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError("array data that is not base64") from exc
    if len(raw) != nbytes:
        raise WireError("array data whose length does not match its dtype and shape")
    return np_dtype, raw


def _decode_array(body: object, budget: _Budget) -> np.ndarray:
    fields = _fields(body, {"dtype", "shape", "data"}, "$array")
    shape = fields["shape"]
    if type(shape) is not list or len(shape) > budget.caps.max_ndim:
        raise WireError(f"a shape that is not a list of at most {budget.caps.max_ndim} sizes")
    count = 1
    for size in shape:
        # Python ints cannot overflow, and the product is checked against the byte cap below.
        if type(size) is not int or size < 0 or size > budget.caps.max_array_bytes:
            raise WireError("a shape with a size that is not a small non-negative int")
        count *= size
        if count > budget.caps.max_array_bytes:
            raise WireError(f"arrays larger than {budget.caps.max_array_bytes:,} bytes in all")
    np_dtype, raw = _raw_bytes(fields["dtype"], fields["data"], count, budget)
    return np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()


def _decode_scalar(body: object, budget: _Budget) -> np.generic:
    fields = _fields(body, {"dtype", "data"}, "$scalar")
    np_dtype, raw = _raw_bytes(fields["dtype"], fields["data"], 1, budget)
    scalar: np.generic = np.frombuffer(raw, dtype=np_dtype)[0]
    return scalar
