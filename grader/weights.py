"""Loading a student's weights file without trusting it.

`.npz` files are zips of `.npy` arrays; they can hold pickled objects, be zip bombs or not be
zips at all. Nothing here unpickles or executes anything: sizes are checked from the zip's
directory and again while reading, arrays are read with allow_pickle=False, and every fault
gets its own message for the student.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from grader.errors import StudentFileError

MAX_FILE_BYTES = 20_000_000
MAX_ARRAY_BYTES = 20_000_000
MAX_ARRAYS = 32


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz (or .safetensors) file, or StudentFileError saying what is wrong."""
    name = path.name
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise StudentFileError(f"{name} is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}.")
    if path.suffix.lower() == ".safetensors":
        return _load_safetensors(path)
    if not zipfile.is_zipfile(path):
        raise StudentFileError(
            f"{name} is not an .npz file (an .npz is a zip archive). Save it with "
            f"np.savez(\"{name}\", W1=W1, b1=b1, W2=W2, b2=b2).")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARRAYS:
                raise StudentFileError(f"{name} holds {len(members)} entries; expected 4 arrays.")
            for member in members:
                key = member.filename.removesuffix(".npy")
                if member.file_size > MAX_ARRAY_BYTES:
                    raise StudentFileError(
                        f"{name}: array {key!r} is {member.file_size:,} bytes uncompressed; too large.")
                with archive.open(member) as stream:
                    data = stream.read(MAX_ARRAY_BYTES + 1)
                if len(data) > MAX_ARRAY_BYTES:
                    raise StudentFileError(f"{name}: array {key!r} is larger than it claims; too large.")
                try:
                    array = np.load(io.BytesIO(data), allow_pickle=False)
                except ValueError as exc:
                    if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                        raise StudentFileError(
                            f"{name}: array {key!r} holds Python objects (it would need pickle to load), "
                            "which the grader never loads. Save plain float arrays.") from None
                    raise StudentFileError(f"{name}: array {key!r} cannot be read: {exc}") from None
                if not isinstance(array, np.ndarray):
                    raise StudentFileError(f"{name}: entry {key!r} is not an array.")
                arrays[key] = array
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise StudentFileError(f"{name} is damaged and cannot be read ({exc}).") from None
    return arrays


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise StudentFileError(
            f"{path.name}: .safetensors files are not supported on this grader; submit an .npz "
            "(np.savez) instead."
        ) from None
    try:
        return dict(load_file(str(path)))
    except Exception as exc:  # safetensors raises its own error types
        raise StudentFileError(f"{path.name} cannot be read as safetensors: {exc}") from None


SHAPES = {"W1": ("D", "H"), "b1": ("H",), "W2": ("H", "C"), "b2": ("C",)}


def validate_weights(arrays: dict[str, np.ndarray], input_dim: int, classes: int, max_hidden: int) -> str | None:
    """None if the arrays are a usable network for the task, else what is wrong with them."""
    missing = [key for key in SHAPES if key not in arrays]
    if missing:
        return f"missing key(s) {', '.join(missing)}; found {', '.join(sorted(arrays)) or 'nothing'}."
    for key in SHAPES:
        array = arrays[key]
        if array.dtype.kind not in "iuf":
            return f"{key} has dtype {array.dtype}; expected floating-point numbers."
    W1 = arrays["W1"]
    if W1.ndim != 2 or W1.shape[0] != input_dim:
        hint = " (transposed? W1 is (D, H): inputs times weights)" if W1.ndim == 2 and W1.shape[1] == input_dim else ""
        return f"W1 has shape {W1.shape}; expected ({input_dim}, H){hint}."
    hidden = W1.shape[1]
    if not 1 <= hidden <= max_hidden:
        return f"H = {hidden}; it must be between 1 and {max_hidden}."
    expected = {"b1": (hidden,), "W2": (hidden, classes), "b2": (classes,)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            hint = " (transposed?)" if arrays[key].shape == shape[::-1] else ""
            return f"{key} has shape {arrays[key].shape}; expected {shape}{hint}."
    for key in SHAPES:
        if not np.isfinite(arrays[key]).all():
            return f"{key} contains NaN or infinite values; training diverged. Lower the learning rate."
    return None
