"""Reading the cells of a student's notebook, in the grader's process (nothing is run here).

A notebook is JSON, read as a stream: only the cells' types and sources are kept, so stored
outputs (plots, printed text) are skipped while they are read and never count against a limit
but the file's own generous one (`MAX_NOTEBOOK_FILE_BYTES`); the code that runs is limited
separately (`MAX_NOTEBOOK_BYTES`). Memory is a chunk of the file plus the sources, whatever the
outputs hold. Both the current layout (nbformat 4, top-level `cells`) and the old one
(nbformat 3, `worksheets`) are read. A Python script in percent format (`# %%` starts a cell,
as jupytext, VS Code and Spyder write it), submitted as `.py` or under the notebook's name, is
read as a notebook too.

Functions a student defined in a Markdown or Raw cell are found without running anything
(`NotebookFile.defined_elsewhere`), so that feedback can say which cell to turn into code.
"""

from __future__ import annotations

import ast
import codecs
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from grader.errors import StudentFileError

__all__ = ["MAX_NOTEBOOK_BYTES", "MAX_NOTEBOOK_FILE_BYTES", "SUPPORTED_NBFORMATS", "CodeCell", "NotebookFile",
           "load_code_cells", "load_notebook", "parse_code_cells", "parse_notebook", "script_kind"]

MAX_NOTEBOOK_BYTES = 20 * 2**20
"""The most code (cell sources, as stored) a notebook may hold; outputs do not count."""
MAX_NOTEBOOK_FILE_BYTES = 256 * 2**20
"""The largest notebook file read at all (outputs included: they are skipped, not kept)."""
MAX_NOT_RUN_TEXT_BYTES = 20 * 2**20
"""Text of Markdown and Raw cells kept to look for definitions; beyond it, such text is skipped."""
SUPPORTED_NBFORMATS = (3, 4)
CLEAR_OUTPUTS = ("Clear all outputs (JupyterLab: Edit > Clear All Outputs; Colab: Edit > Clear all "
                 "outputs), save, and submit it again.")


@dataclass(frozen=True)
class CodeCell:
    """One code cell: its 1-based position among ALL cells (as a student counts) and its source."""

    index: int
    source: str


@dataclass(frozen=True)
class NotebookFile:
    """A notebook's code cells, and the functions defined only in cells that are not run.

    `defined_elsewhere` maps a function name to the kind of cell (`markdown`, `raw`, ...) and
    its 1-based number among all cells, for each top-level `def` in a non-code cell whose name
    no code cell defines at its top level (the first such cell if several do).
    """

    cells: list[CodeCell]
    defined_elsewhere: dict[str, tuple[str, int]] = field(default_factory=dict)
    fenced: frozenset[int] = frozenset()  # non-code cells whose code is inside ``` fences

    def not_run_message(self, function: str) -> str | None:
        """`step is defined in raw cell 4, which is not run: make it a Code cell.`, or None."""
        where = self.not_run_reasons().get(function)
        return None if where is None else f"{function} {where.removeprefix('it ')}"

    def not_run_reasons(self) -> dict[str, str]:
        """For each function defined only outside code cells: `it is defined in raw cell 4, ...`."""
        reasons = {}
        for function, (kind, number) in self.defined_elsewhere.items():
            fences = " (without its ``` lines)" if number in self.fenced else ""
            reasons[function] = (f"it is defined in {kind} cell {number}, which is not run: "
                                 f"make it a Code cell{fences}.")
        return reasons


def load_code_cells(path: Path, *, max_bytes: int = MAX_NOTEBOOK_FILE_BYTES) -> list[CodeCell]:
    """The code cells of the notebook at `path`; StudentFileError says what is wrong with it."""
    return load_notebook(path, max_bytes=max_bytes).cells


def parse_code_cells(data: bytes, name: str = "The notebook") -> list[CodeCell]:
    """The code cells of a notebook given as the bytes of its .ipynb file."""
    return parse_notebook(data, name).cells


def load_notebook(path: Path, *, max_bytes: int = MAX_NOTEBOOK_FILE_BYTES,
                  max_code_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookFile:
    """The notebook (or percent-format script) at `path`; StudentFileError says what is wrong."""
    name = path.name
    try:
        with open(path, "rb") as handle:
            return _read(handle, name, max_bytes, max_code_bytes, script=path.suffix.lower() == ".py")
    except OSError as exc:
        raise StudentFileError(f"{name} could not be read ({exc.strerror or exc}).") from exc


def parse_notebook(data: bytes, name: str = "The notebook", *,
                   max_code_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookFile:
    """The notebook given as the bytes of its file."""
    return _read(io.BytesIO(data), name, len(data), max_code_bytes, script=False)


def script_kind(path: Path) -> str | None:
    """How the file at `path` is read if it is a Python script: "cells" when `# %%` lines mark its
    cells, "one cell" when none do; None when it is read as a notebook (JSON)."""
    try:
        with open(path, "rb") as handle:
            if path.suffix.lower() == ".py":
                text = _decode_script(handle.read(MAX_NOTEBOOK_BYTES + 1))
            else:
                text = _script_text(handle, MAX_NOTEBOOK_BYTES)
    except OSError:
        return None
    if text is None:
        return None  # the loader says what is wrong with it
    return "cells" if any(_cell_marker(line) for line in text.splitlines()) else "one cell"


# ------------------------------------------------------------------ which reader
_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_JSON_START = frozenset(b"{[")  # a script may start with a docstring's quote
_MAX_UNMARKED_SCRIPT = 2 * 2**20


def _read(handle: BinaryIO, name: str, max_bytes: int, max_code_bytes: int, *, script: bool) -> NotebookFile:
    """Dispatch on content: a Python script, JSON in UTF-8 (streamed), or JSON in UTF-16/32."""
    if script:
        data = handle.read(max_code_bytes + 1)
        text = _decode_script(data)
        if text is None or len(data) > max_code_bytes:
            raise StudentFileError(f"{name} is not a Python script of at most {max_code_bytes // 2**20} MB "
                                   "in UTF-8; submit the notebook (.ipynb) instead.")
        return _script_notebook(text, name)
    head = handle.read(4)
    handle.seek(0)
    if not head:
        raise StudentFileError(f"{name} is empty (0 bytes). Open the notebook, save it, and submit it again.")
    wide = not head.startswith(codecs.BOM_UTF8) and (head.startswith(_BOMS) or b"\0" in head[:4])
    if wide:  # UTF-16 or UTF-32 (a PowerShell redirect writes UTF-16): small, so read whole
        data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_large(name, max_bytes)
        try:
            handle = io.BytesIO(data.decode(json.detect_encoding(data)).encode("utf-8"))
        except UnicodeError:
            handle = io.BytesIO(data)  # reported as not JSON below
    text = _script_text(handle, max_code_bytes)
    if text is not None:
        return _script_notebook(text, name)
    if handle.read(3) != codecs.BOM_UTF8:
        handle.seek(0)
    return _json_notebook(_JsonStream(handle, name, max_bytes), name, max_code_bytes)


def _too_large(name: str, max_bytes: int) -> StudentFileError:
    return StudentFileError(
        f"{name} is larger than {max_bytes // 2**20} MB, almost all of it stored outputs (plots, printed "
        f"text) the grader does not use. {CLEAR_OUTPUTS}")


def _decode_script(data: bytes) -> str | None:
    """The text of a script (UTF-8, BOM allowed, no NUL), else None."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def _script_text(handle: BinaryIO, max_code_bytes: int) -> str | None:
    """The text of a file under a notebook's name that is a Python script rather than JSON, else None.

    A script is text that does not start as JSON does and either marks cells (`# %%`) or parses
    as Python; anything else is left to the JSON reader, which says it is not valid JSON.
    """
    start = handle.read(4096).lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1]
    handle.seek(0)
    if not start or start[0] in _JSON_START:
        return None
    text = _decode_script(handle.read(max_code_bytes + 1))
    handle.seek(0)
    if text is None or len(text) > max_code_bytes:
        return None
    if any(_cell_marker(line) for line in text.splitlines()):
        return text
    if len(text) > _MAX_UNMARKED_SCRIPT:
        return None  # a script without cells is a page of code, not megabytes
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return text


# ------------------------------------------------------------------ percent-format scripts
# "# %%", "#%%", "# %% [markdown]", "# %% Title"; not "# %%capture" (a cell magic, commented out).
_MARKER = re.compile(r"#\s*%%(?:\s+(.*))?")
_NBCONVERT_MARKER = re.compile(r"# In\[[\d ]*\]:\s*")  # `jupyter nbconvert --to script`
_KIND = re.compile(r"\[(markdown|md|raw)\]")
_HEADER_LINE = "# ---"


def _cell_marker(line: str) -> str | None:
    """The kind of cell a marker line starts (`code`, `markdown`, `raw`), or None if it is no marker."""
    marker = _MARKER.fullmatch(line.rstrip())
    if marker is None:
        return "code" if _NBCONVERT_MARKER.fullmatch(line) else None
    kind = _KIND.search(marker[1] or "")
    return "code" if kind is None else {"md": "markdown"}.get(kind[1], kind[1])


def _script_notebook(text: str, name: str) -> NotebookFile:
    """Cells of a percent-format script: each marker starts a cell; no marker, one code cell."""
    lines = text.splitlines()
    if lines and lines[0].rstrip() == _HEADER_LINE:  # jupytext's YAML header, all comments
        end = next((i for i, line in enumerate(lines[1:], 1) if not line.startswith("#")), len(lines))
        closing = [i for i, line in enumerate(lines[1:end], 1) if line.rstrip() == _HEADER_LINE]
        if closing:
            lines = lines[closing[0] + 1:]
    cells: list[tuple[str, list[str]]] = [("code", [])]
    for line in lines:
        kind = _cell_marker(line)
        if kind is None:
            cells[-1][1].append(line)
        else:
            cells.append((kind, []))
    if not any(line.strip() for line in cells[0][1]):
        cells.pop(0)  # nothing before the first marker
    kinds, sources = [], []
    for kind, body in cells:
        body = strip_blank_edges(body)
        if kind != "code":
            body = [line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
                    for line in body]
        kinds.append(kind)
        sources.append("\n".join(body))
    return _notebook(kinds, sources, name)


def strip_blank_edges(lines: list[str]) -> list[str]:
    """Lines without leading and trailing blank lines."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


# ------------------------------------------------------------------ JSON, streamed
_CHUNK = 2**18
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
# What a skipped value holds besides brackets: anything but brackets and quotes, and whole short
# strings (as printed lines are), all in one call. A long string (a plot in base64) stops the run
# at its quote and is skipped by searching for its end, which is faster for long text.
_SKIP_RUN = re.compile(rb'[^"\[\]{}]*(?:"[^"\\]{0,200}(?:\\.[^"\\]{0,200})*"[^"\[\]{}]*)*', re.S)
_SCALAR_TOKEN = re.compile(rb"[^\s,:\[\]{}\"]{1,1024}")
_SCALAR = re.compile(rb"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")
_MAX_KEY = 64


def _trailing_backslashes(buf: bytes, start: int) -> int:
    """How many backslashes end `buf[start:]`."""
    return len(buf) - max(len(buf.rstrip(b"\\")), start)


class _NotJson(Exception):
    """The file is not valid JSON at this offset."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line, self.column = line, column


class _Skipped:
    """A value that was skipped (too long, or not of the kind kept)."""


SKIPPED = _Skipped()


class _JsonStream:
    """JSON read in chunks: small values are built, any other value is skipped as it is read.

    Only what the caller asks for is kept (keys, short scalars, strings up to a limit); a skipped
    value costs time in proportion to its length, and no memory beyond one chunk.
    """

    def __init__(self, handle: BinaryIO, name: str, max_bytes: int) -> None:
        self.handle, self.name, self.max_bytes = handle, name, max_bytes
        self.buf = b""
        self.pos = 0
        self.offset = 0  # file offset of buf[0]
        self.lines = 0  # newlines before buf[0]
        self.line_start = 0  # file offset just after the last newline before buf[0]
        self.eof = False
        self.read = 0  # bytes read from the file
        self.used = 0  # bytes of the last string read, as stored

    # -------------------------------------------------------------- the buffer
    def _more(self) -> bool:
        """Read another chunk (dropping what was consumed); False at the end of the file."""
        if self.eof:
            return False
        consumed = self.buf[:self.pos]
        newlines = consumed.count(b"\n")
        if newlines:
            self.lines += newlines
            self.line_start = self.offset + consumed.rindex(b"\n") + 1
        self.offset += self.pos
        chunk = self.handle.read(_CHUNK)
        self.read += len(chunk)
        if self.read > self.max_bytes:
            raise _too_large(self.name, self.max_bytes)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def fail(self) -> _NotJson:
        """The error for invalid JSON at the current position (line and column, 1-based)."""
        before = self.buf[:self.pos]
        line = self.lines + before.count(b"\n") + 1
        start = before.rindex(b"\n") + 1 if b"\n" in before else self.line_start - self.offset
        if start >= 0:
            column = len(before[start:].decode("utf-8", "replace")) + 1
        else:  # the line began in a chunk already dropped: count its bytes
            column = self.offset + self.pos - self.line_start + 1
        return _NotJson(line, column)

    def peek(self) -> int | None:
        """The next byte that is not whitespace (not consumed), or None at the end of the file."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return None

    def expect(self, char: bytes) -> None:
        if self.peek() != char[0]:
            raise self.fail()
        self.pos += 1

    def end(self) -> None:
        """Nothing but whitespace may follow the document."""
        if self.peek() is not None:
            raise self.fail()

    # -------------------------------------------------------------- values
    def string(self, limit: int) -> str | None:
        """At a `"`: the string, or None if it is stored in more than `limit` bytes (then skipped)."""
        self.expect(b'"')
        pieces: list[bytes] | None = [] if limit >= 0 else None
        size = 0
        while True:
            end = self._closing_quote()
            # Without its closing quote, the string goes on in the next chunk; an odd backslash
            # at the end escapes what comes next, so it stays for the next search.
            stop = end if end >= 0 else len(self.buf) - (_trailing_backslashes(self.buf, self.pos) % 2)
            size += stop - self.pos
            if pieces is not None:
                if size > limit:
                    pieces = None
                else:
                    pieces.append(self.buf[self.pos:stop])
            self.pos = stop
            if end >= 0:
                self.pos += 1
                break
            if not self._more():
                raise self.fail()
        self.used = size
        if pieces is None:
            return None
        try:
            value = json.loads(b'"' + b"".join(pieces) + b'"')
        except ValueError:
            self.pos -= 1
            raise self.fail() from None
        assert isinstance(value, str)
        return value

    def _closing_quote(self) -> int:
        """Where the string whose text goes on at `pos` ends in the buffer (its quote), else -1."""
        buf, start = self.buf, self.pos
        at = buf.find(b'"', start)
        while at >= 0:
            escapes = at
            while escapes > start and buf[escapes - 1] == 0x5C:  # the backslashes before it
                escapes -= 1
            if (at - escapes) % 2 == 0:
                return at
            at = buf.find(b'"', at + 1)
        return -1

    def scalar(self) -> object:
        """A number, true, false, null or a short string; SKIPPED for anything else (skipped)."""
        char = self.peek()
        if char == ord('"'):
            value = self.string(_MAX_KEY)
            return SKIPPED if value is None else value
        if char is None:
            raise self.fail()
        if char in b"[{":
            self.skip()
            return SKIPPED
        while len(self.buf) - self.pos <= 1024 and self._more():
            pass
        token = _SCALAR_TOKEN.match(self.buf, self.pos)
        if token is None or not _SCALAR.fullmatch(token[0]):
            raise self.fail()
        self.pos = token.end()
        return json.loads(token[0])

    def skip(self) -> None:
        """Skip one value, reading it in chunks: strings, numbers and brackets are all it looks at."""
        char = self.peek()
        if char == ord('"'):
            self.string(-1)
            return
        if char is None:
            raise self.fail()
        if char not in b"[{":
            self.scalar()
            return
        self.pos += 1
        depth = 1
        while True:
            self.pos = _SKIP_RUN.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos >= len(self.buf):
                if not self._more():
                    raise self.fail()
                continue
            char = self.buf[self.pos]
            if char == ord('"'):  # a string that goes on past what is read so far
                self.string(-1)
                continue
            self.pos += 1
            depth += 1 if char in b"[{" else -1
            if depth == 0:
                return

    def members(self) -> Iterator[str | None]:
        """At a `{`: each key (None if too long to be one the grader reads); the caller reads its value."""
        self.expect(b"{")
        if self.peek() == ord("}"):
            self.pos += 1
            return
        while True:
            if self.peek() != ord('"'):
                raise self.fail()
            key = self.string(_MAX_KEY)
            self.expect(b":")
            yield key
            char = self.peek()
            self.pos += 1
            if char == ord("}"):
                return
            if char != ord(","):
                self.pos -= 1
                raise self.fail()

    def items(self) -> Iterator[int]:
        """At a `[`: the 1-based position of each item; the caller reads the item."""
        self.expect(b"[")
        if self.peek() == ord("]"):
            self.pos += 1
            return
        position = 0
        while True:
            position += 1
            yield position
            char = self.peek()
            self.pos += 1
            if char == ord("]"):
                return
            if char != ord(","):
                self.pos -= 1
                raise self.fail()


class _CodeTooLarge(Exception):
    """The cells' sources pass the limit on code."""


@dataclass
class _Budget:
    """Bytes of source still allowed: code, and the text of other cells (skipped beyond it)."""

    code: int
    text: int = MAX_NOT_RUN_TEXT_BYTES


@dataclass
class _RawCell:
    """A cell as read: its type and its source fields, before they are checked."""

    kind: object = None
    fields: dict[str, object] = field(default_factory=dict)


def _json_notebook(stream: _JsonStream, name: str, max_code_bytes: int) -> NotebookFile:
    """Read the notebook's structure; damage is reported only once the whole file is valid JSON."""
    budget = _Budget(max_code_bytes)
    damage: list[str] = []
    cells: list[_RawCell] | None = None
    version: object = None
    keys: set[str | None] = set()
    try:
        if stream.peek() != ord("{"):
            stream.skip()
            stream.end()
            raise StudentFileError(f"{name} is JSON but not a Jupyter notebook (it has no cells).")
        for key in stream.members():
            keys.add(key)
            if key == "cells":
                cells = _cell_list(stream, budget, damage, "its cells are not a list")
            elif key == "worksheets":
                worksheets = _worksheets(stream, budget, damage)
                if "cells" not in keys:
                    cells = worksheets
            elif key == "nbformat":
                version = stream.scalar()
            else:
                stream.skip()
        stream.end()
    except _NotJson as exc:
        raise StudentFileError(
            f"{name} is not a valid notebook file: it is not valid JSON (line {exc.line}, column "
            f"{exc.column}). It may be truncated or not saved by Jupyter; open it in Jupyter, save it, "
            "and submit it again.") from None
    except _CodeTooLarge:
        raise StudentFileError(
            f"{name} holds more than {max_code_bytes // 2**20} MB of code in its cells (outputs do not "
            "count). Submit the notebook of this homework only.") from None
    if "cells" not in keys and "worksheets" not in keys:
        raise StudentFileError(f"{name} is JSON but not a Jupyter notebook (it has no cells).")
    if version is None:
        version = 4 if "cells" in keys else 3
    if isinstance(version, bool) or version not in SUPPORTED_NBFORMATS:
        raise StudentFileError(
            f"{name} uses notebook format {version!r}, which the grader cannot read. Open it in a "
            "current Jupyter, save it (format 4), and submit it again.")
    if damage:
        raise StudentFileError(f"{name} is damaged: {damage[0]}.")
    assert cells is not None
    source_key = "source" if "cells" in keys else "input"
    kinds, sources = [], []
    for position, cell in enumerate(cells, start=1):
        kind = cell.kind if isinstance(cell.kind, str) else ""
        value = cell.fields.get(source_key if kind == "code" else "source", cell.fields.get(source_key, ""))
        if kind == "code" and value is SKIPPED:
            raise StudentFileError(f"{name} is damaged: the source of cell {position} is not text.")
        kinds.append(kind)
        sources.append(value if isinstance(value, str) else "")
    return _notebook(kinds, sources, name)


def _worksheets(stream: _JsonStream, budget: _Budget, damage: list[str]) -> list[_RawCell]:
    """The cells of an nbformat 3 notebook, all worksheets in order."""
    cells: list[_RawCell] = []
    if stream.peek() != ord("["):
        damage.append("its worksheets are not a list")
        stream.skip()
        return cells
    for _ in stream.items():
        if stream.peek() != ord("{"):
            damage.append("a worksheet has no list of cells")
            stream.skip()
            continue
        found = False
        for key in stream.members():
            if key == "cells":
                found = True
                cells.extend(_cell_list(stream, budget, damage, "a worksheet has no list of cells"))
            else:
                stream.skip()
        if not found:
            damage.append("a worksheet has no list of cells")
    return cells


def _cell_list(stream: _JsonStream, budget: _Budget, damage: list[str], not_a_list: str) -> list[_RawCell]:
    """The cells of a list, each as read; what is not a cell is recorded as damage."""
    cells: list[_RawCell] = []
    if stream.peek() != ord("["):
        damage.append(not_a_list)
        stream.skip()
        return cells
    for position in stream.items():
        if stream.peek() != ord("{"):
            damage.append(f"cell {position} is not a cell")
            stream.skip()
            cells.append(_RawCell())
            continue
        cells.append(_cell(stream, budget))
    return cells


def _cell(stream: _JsonStream, budget: _Budget) -> _RawCell:
    """One cell's type and sources; outputs, attachments and metadata are skipped unread."""
    cell = _RawCell()
    charged = 0
    for key in stream.members():
        if key == "cell_type":
            cell.kind = stream.scalar()
        elif key in ("source", "input"):
            text_only = isinstance(cell.kind, str) and cell.kind != "code"
            value, size = _source(stream, budget.text if text_only else budget.code)
            if text_only:
                budget.text -= size
            elif value is SKIPPED and size > budget.code:
                raise _CodeTooLarge
            else:
                budget.code -= size
                charged += size
            cell.fields[key] = value
        else:
            stream.skip()
    if cell.kind != "code" and charged:  # read before its type said it is no code cell
        budget.code += charged
        budget.text -= charged
        if budget.text < 0:
            cell.fields = {}
    return cell


def _source(stream: _JsonStream, limit: int) -> tuple[object, int]:
    """A source as stored: a string, or a list of lines that keep their own newlines.

    Returns the text (SKIPPED if it is not text, or longer than `limit` bytes as stored) and
    its stored size.
    """
    char = stream.peek()
    if char == ord('"'):
        text = stream.string(max(limit, 0))
        return (SKIPPED if text is None else text), stream.used
    if char != ord("["):
        stream.skip()
        return SKIPPED, 0
    parts: list[str] = []
    size = 0
    whole = True
    for _ in stream.items():
        if stream.peek() != ord('"'):
            stream.skip()
            whole = False
            continue
        part = stream.string(limit - size if whole else -1)  # once one part is dropped, all are
        size += stream.used
        if part is None:
            whole = False
        elif whole:
            parts.append(part)
    return ("".join(parts) if whole else SKIPPED), size


# ------------------------------------------------------------------ definitions in cells not run
_DEF_LINE = re.compile(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_MAX_AST_TEXT = 100_000


def _top_level_functions(text: str) -> list[str]:
    """Names a cell's text defines at its top level: by `ast` if it parses, else by `^def NAME(`."""
    if len(text) <= _MAX_AST_TEXT:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
        else:
            return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return _DEF_LINE.findall(text)


def _notebook(kinds: list[str], sources: list[str], name: str) -> NotebookFile:
    """The code cells, and where functions are defined outside them."""
    code = [CodeCell(position, source) for position, (kind, source) in enumerate(zip(kinds, sources, strict=True), 1)
            if kind == "code"]
    in_code = {function for cell in code for function in _DEF_LINE.findall(cell.source)}
    elsewhere: dict[str, tuple[str, int]] = {}
    fenced: set[int] = set()
    for position, (kind, source) in enumerate(zip(kinds, sources, strict=True), 1):
        if kind == "code" or "def" not in source:
            continue
        for function in _top_level_functions(source):
            if function not in in_code:
                elsewhere.setdefault(function, (kind or "unknown", position))
                if "```" in source:
                    fenced.add(position)
    notebook = NotebookFile(code, elsewhere, frozenset(fenced))
    if not any(cell.source.strip() for cell in code):
        message = f"{name} has no code cells with code in them"
        if elsewhere:
            where = sorted({(position, kind) for kind, position in elsewhere.values()})
            cells = ", ".join(f"{kind} cell {position}" for position, kind in where)
            shown = ", ".join(list(elsewhere)[:4]) + (", …" if len(elsewhere) > 4 else "")
            message += (f"; its functions ({shown}) are in {cells}, which {'is' if len(where) == 1 else 'are'} "
                        "not run: make them Code cells")
        raise StudentFileError(message + ".")
    return notebook
