"""IPython syntax in a notebook cell, turned into plain Python (string processing only).

Nothing is executed here and no shell ever runs: magics that only time code keep the code,
everything else IPython-specific becomes `pass` at its own indentation, so line numbers stay the
student's and magics inside blocks still parse. Only lines that start a logical line are looked at:
a `%` inside brackets or a triple-quoted string is Python's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Cell magics whose body is ordinary Python that Jupyter runs once.
_KEEP_BODY_CELL_MAGICS = frozenset({"time", "capture"})
_NAME = r"[A-Za-z_][\w.]*"
_MAGIC_ASSIGN = re.compile(rf"^(?P<target>{_NAME}(?:\s*,\s*{_NAME})*)\s*=\s*(?P<kind>[!%])")
_HELP = re.compile(r"^(\?{1,2}[\w.]+(\(\))?|[\w.]+(\(\))?\?{1,2})$")
_STRING_START = re.compile(r"(?i)[rbuf]{0,2}('''|\"\"\"|'|\")")


@dataclass(frozen=True)
class Transformed:
    """A cell as plain Python: its source, what was changed, and whether none of it runs."""

    source: str
    notes: tuple[str, ...] = ()
    dropped: bool = False


# A line that could be IPython's: one starting with ! % ? or ending with ?, or `x = !cmd`.
# Cells without any are plain Python and are returned as they are, unscanned (most cells).
_MAYBE_IPYTHON = re.compile(r"^\s*[!%?]|\?\s*$|=\s*[!%]", re.MULTILINE)


def to_python(source: str) -> Transformed:
    """Turn one notebook cell's IPython source into plain Python with the same line numbers."""
    if not _MAYBE_IPYTHON.search(source):
        return Transformed(source)
    return _transform(source)


def _transform(source: str) -> Transformed:
    """`to_python` without its shortcut: every logical line looked at."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()[2:].split(maxsplit=1)
        name = magic[0] if magic else ""
        if name in ("writefile", "file"):
            return _write_file(magic[1] if len(magic) > 1 else "", "\n".join(lines[first + 1:]))
        if name not in _KEEP_BODY_CELL_MAGICS:
            return Transformed("", (f"`%%{name}` cells are not run by the grader",), dropped=True)
        lines[first] = ""
    notes: list[str] = []
    starts = _logical_line_starts(lines)
    for i, line in enumerate(lines):
        if not starts[i]:
            continue
        new, note = _transform_line(line, i + 1)
        if new is not None:
            lines[i] = new
            if note:
                notes.append(note)
    return Transformed("\n".join(lines), tuple(notes))


def _write_file(arguments: str, body: str) -> Transformed:
    """`%%writefile [-a] PATH`: Python that writes the body to PATH, as IPython would.

    It runs in the sandbox like any student code, in the child's working copy and within its
    disk limit, so that a later `import` of the file works.
    """
    words = arguments.split()
    append = bool(words) and words[0] in ("-a", "--append")
    path = " ".join(words[1:] if append else words).strip().strip("'\"")
    if not path:
        return Transformed("", ("`%%writefile` without a file name was not run",), dropped=True)
    mode = "a" if append else "w"
    code = (f"(lambda handle: (handle.write({body!r}), handle.close()))"
            f"(open({path!r}, {mode!r}, encoding='utf-8'))")
    return Transformed(code)


def _transform_line(line: str, number: int) -> tuple[str | None, str]:
    """The replacement of one logical line and a note, or (None, "") to leave it alone."""
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    stripped = body.rstrip()
    if not stripped:
        return None, ""
    shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."
    shown = f"`{shown}` on line {number}"
    if stripped.startswith("!"):
        return indent + "pass", f"{shown} was not run (no shell commands run in the grader)"
    if stripped.startswith("%"):
        name, _, rest = stripped[1:].partition(" ")
        if name == "time" and rest.strip():
            return indent + rest.strip(), ""
        if name in ("matplotlib", "load_ext", "autoreload", "config", "precision"):
            return indent + "pass", ""
        return indent + "pass", f"{shown} was not run"
    assign = _MAGIC_ASSIGN.match(stripped)
    if assign:
        value = "[]" if assign["kind"] == "!" else "None"
        return (f"{indent}{assign['target']} = {value}",
                f"{shown} was not run; `{assign['target']}` was set to {value}")
    if "?" in stripped and _HELP.match(stripped):
        return indent + "pass", ""
    return None, ""


def _logical_line_starts(lines: list[str]) -> list[bool]:
    """For each physical line, whether it begins a new logical line (outside brackets, strings)."""
    starts: list[bool] = []
    depth = 0
    quote: str | None = None  # the open triple quote, if any
    continued = False
    for line in lines:
        starts.append(depth == 0 and quote is None and not continued)
        depth, quote, continued = _scan(line, depth, quote)
    return starts


def _scan(line: str, depth: int, quote: str | None) -> tuple[int, str | None, bool]:
    """Bracket depth, open triple quote and backslash continuation after one physical line."""
    i, n = 0, len(line)
    while i < n:
        if quote is not None:
            end = _find_closing(line, i, quote)
            if end < 0:
                return depth, quote, False
            i, quote = end, None
            continue
        ch = line[i]
        if ch == "#":
            return depth, None, False
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == "\\" and i == n - 1:
            return depth, None, True
        else:
            match = _STRING_START.match(line, i)
            if match and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
                opener = match.group(1)
                start = match.end()
                if len(opener) == 3:
                    quote = opener
                    i = start
                    continue
                end = _find_closing(line, start, opener)
                i = n if end < 0 else end
                continue
        i += 1
    return depth, quote, False


def _find_closing(line: str, i: int, quote: str) -> int:
    """Index just past the closing `quote` at or after i (backslash escapes honoured), or -1."""
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line.startswith(quote, i):
            return i + len(quote)
        i += 1
    return -1
