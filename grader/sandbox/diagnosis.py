"""What a student reads about their notebook as a whole: skipped lines, missing packages, and
why a graded function is not defined (tracing the chain of failed cells back to its start).

Pure functions of the cells' sources and reports: nothing here runs student code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PROVIDED = "numpy and the Python standard library"
DISPLAY_PACKAGES = frozenset({"matplotlib", "pylab", "seaborn", "IPython", "ipywidgets", "tqdm",
                              "google", "plotly", "bokeh", "altair", "wandb", "tensorboard"})
_NAME_ERROR = re.compile(r"NameError: name '(?P<name>\w+)' is not defined")
_CELL_LINE = re.compile(r'File "<cell (?P<cell>\d+)>", line (?P<line>\d+)')


@dataclass(frozen=True)
class CellFacts:
    """One code cell as the diagnosis needs it: its source, how it ended and its error."""

    index: int
    source: str
    status: str
    message: str


def absent_package_note(package: str, cell: int) -> str:
    """One line on a package the grader does not provide, imported in `cell`."""
    if package.split(".", 1)[0] in DISPLAY_PACKAGES:
        return (f"{package} is not available to the grader: plots, displays and progress bars are "
                f"not graded and do nothing there; cell {cell} went on without it.")
    return (f"{package} is not available to the grader (it provides {PROVIDED}); cell {cell} went "
            f"on without it, and code that uses {package} fails where it runs.")


def skipped_lines_note(notes_by_cell: Mapping[int, Sequence[str]]) -> str | None:
    """One short paragraph on the IPython lines the grader did not run, or None."""
    parts = [f"cell {cell}: {notes[0]}" + (f" (and {len(notes) - 1} more)" if len(notes) > 1 else "")
             for cell, notes in sorted(notes_by_cell.items()) if notes]
    if not parts:
        return None
    return "The grader skipped lines it does not run (shell commands and most magics): " + "; ".join(parts) + "."


def explain_missing(function: str, cells: Sequence[CellFacts], elsewhere: Mapping[str, str]) -> str | None:
    """Why `function` is not defined, traced through failed cells; None if nothing explains it."""
    defining = [c for c in cells if _defines(c.source, function)]
    if not defining:
        if function in elsewhere:
            return f"`{function}` is not defined: {elsewhere[function]}"
        return None
    cell = defining[-1]
    if cell.status == "ok":
        return None  # defined, then deleted or rebound: the plain message is right
    what = f"`{function}` is not defined: cell {cell.index}, which defines it, {_how(cell)}"
    cause = _cause(cell, cells, seen={cell.index})
    return what + (f", because {cause}" if cause else "") + "."


def _how(cell: CellFacts) -> str:
    if cell.status == "timeout":
        return "ran out of time before defining it"
    if cell.status == "skipped":
        return "was not run"
    if cell.status == "crashed":
        return "crashed"
    line = _failing_line(cell)
    where = f" at line {line}" if line else ""
    return f"stopped{where} ({_last_line(cell.message)})"


def _cause(cell: CellFacts, cells: Sequence[CellFacts], seen: set[int]) -> str | None:
    """The earlier failed cell that should have defined the name this cell's NameError names."""
    match = _NAME_ERROR.search(cell.message)
    if match is None:
        return None
    name = match["name"]
    for earlier in reversed([c for c in cells if c.index < cell.index and c.index not in seen]):
        if earlier.status != "ok" and _defines(earlier.source, name):
            seen.add(earlier.index)
            line = _failing_line(earlier)
            text = _source_line(earlier, line)
            at = f" at `{text}`" if text else (f" at line {line}" if line else "")
            deeper = _cause(earlier, cells, seen)
            found = f"cell {earlier.index} stopped{at} ({_last_line(earlier.message)})"
            return found + (f", because {deeper}" if deeper else "")
    return None


def _defines(source: str, name: str) -> bool:
    """Whether a cell binds `name` at its top level: def, class, import or assignment."""
    n = re.escape(name)
    patterns = (rf"^(async\s+)?def\s+{n}\s*\(", rf"^class\s+{n}\b", rf"^{n}\s*(:[^=]*)?=(?!=)",
                rf"^import\s+.*\bas\s+{n}\b", rf"^import\s+{n}\b", rf"^from\s+\S+\s+import\s+.*\b{n}\b",
                rf"^(\w+\s*,\s*)*{n}\s*(,\s*\w+\s*)*=(?!=)")
    return any(re.search(p, source, re.MULTILINE) for p in patterns)


def _failing_line(cell: CellFacts) -> int | None:
    """The line of the cell's own code where its error was raised (its outermost frame)."""
    for match in _CELL_LINE.finditer(cell.message):
        if int(match["cell"]) == cell.index:
            return int(match["line"])
    return None


def _source_line(cell: CellFacts, line: int | None) -> str:
    if line is None:
        return ""
    lines = cell.source.split("\n")
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return text if len(text) <= 60 else text[:57] + "..."


def _last_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else "an error"
    return text if len(text) <= 200 else text[:197] + "..."
