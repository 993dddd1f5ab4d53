"""Reading the code cells of a student's .ipynb, in the grader's process (nothing is run here).

Plain `json` with a size limit; stored outputs are ignored and never trusted. Both the current
layout (nbformat 4, top-level `cells`) and the old one (nbformat 3, `worksheets`) are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grader.errors import StudentFileError

MAX_NOTEBOOK_BYTES = 20 * 2**20
SUPPORTED_NBFORMATS = (3, 4)


@dataclass(frozen=True)
class CodeCell:
    """One code cell: its 1-based position among ALL cells (as a student counts) and its source."""

    index: int
    source: str


def load_code_cells(path: Path, *, max_bytes: int = MAX_NOTEBOOK_BYTES) -> list[CodeCell]:
    """The code cells of the notebook at `path`; StudentFileError says what is wrong with it."""
    name = path.name
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # bounded even if the file grows while read
    except OSError as exc:
        raise StudentFileError(f"{name} could not be read ({exc.strerror or exc}).") from exc
    if len(data) > max_bytes:
        raise StudentFileError(
            f"{name} is larger than {max_bytes // 2**20} MB. Clear the outputs "
            "(Kernel > Restart & Clear Output), save, and submit it again.")
    return parse_code_cells(data, name)


def parse_code_cells(data: bytes, name: str = "The notebook") -> list[CodeCell]:
    """The code cells of a notebook given as the bytes of its .ipynb file."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno})"
        raise StudentFileError(
            f"{name} is not a valid notebook file: it is not valid JSON{where}. It may be "
            "truncated or not saved by Jupyter; open it in Jupyter, save it, and submit it "
            "again.") from exc
    if not isinstance(document, dict) or not ("cells" in document or "worksheets" in document):
        raise StudentFileError(f"{name} is JSON but not a Jupyter notebook (it has no cells).")
    version = document.get("nbformat", 4 if "cells" in document else 3)
    if isinstance(version, bool) or version not in SUPPORTED_NBFORMATS:
        raise StudentFileError(
            f"{name} uses notebook format {version!r}, which the grader cannot read. Open it in a "
            "current Jupyter, save it (format 4), and submit it again.")
    if "cells" in document:
        cells, source_key = document["cells"], "source"
    else:
        cells, source_key = _v3_cells(document, name), "input"
    if not isinstance(cells, list):
        raise StudentFileError(f"{name} is damaged: its cells are not a list.")
    code: list[CodeCell] = []
    for position, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise StudentFileError(f"{name} is damaged: cell {position} is not a cell.")
        if cell.get("cell_type") == "code":
            code.append(CodeCell(position, _source(cell.get(source_key, ""), position, name)))
    if not any(cell.source.strip() for cell in code):
        raise StudentFileError(f"{name} has no code cells with code in them.")
    return code


def _v3_cells(document: dict[str, object], name: str) -> list[object]:
    worksheets = document["worksheets"]
    if not isinstance(worksheets, list):
        raise StudentFileError(f"{name} is damaged: its worksheets are not a list.")
    cells: list[object] = []
    for sheet in worksheets:
        sheet_cells = sheet.get("cells") if isinstance(sheet, dict) else None
        if not isinstance(sheet_cells, list):
            raise StudentFileError(f"{name} is damaged: a worksheet has no list of cells.")
        cells.extend(sheet_cells)
    return cells


def _source(value: object, position: int, name: str) -> str:
    # Jupyter stores a source as a string or as a list of lines that keep their own newlines.
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    raise StudentFileError(f"{name} is damaged: the source of cell {position} is not text.")
