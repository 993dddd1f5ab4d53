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


def explain_missing(function: str, cells: Sequence[CellFacts], elsewhere: Mapping[str, str],
                    index: Mapping[int, frozenset[str]] | None = None) -> str | None:
    """Why `function` is not defined, traced through failed cells; None if nothing explains it.

    `index` (from `bound_names`, made once per session) says which names each cell binds.
    """
    index = index if index is not None else bound_names(cells)
    defining = [c for c in cells if function in index.get(c.index, ())]
    if not defining:
        if function in elsewhere:
            return f"`{function}` is not defined: {elsewhere[function]}"
        return None
    cell = defining[-1]
    if cell.status == "ok":
        return None  # defined, then deleted or rebound: the plain message is right
    what = f"`{function}` is not defined: cell {cell.index}, which defines it, {_how(cell)}"
    causes = _causes(cell, cells, index)
    return what + "".join(f", because {cause}" if not cause.startswith("...") else f" {cause}"
                          for cause in causes) + "."


MAX_CHAIN = 500
"""Earlier failed cells followed back in one explanation (each step a scan of the cells)."""
_SHOWN_CAUSES = 3
_SCANNED_CHARS = 200_000
"""Characters of a cell read for the names it binds (a cell's definitions come early)."""
_BINDING = re.compile(
    r"^(?:(?:async\s+)?def\s+(?P<def>\w+)|class\s+(?P<cls>\w+)|import\s+(?P<imp>[^#\n]*)"
    r"|from\s+\S+\s+import\s+(?P<frm>[^#\n]*)|(?P<targets>\w[ \t\w,]*?)[ \t]*(?::[^=\n]*)?=(?!=))",
    re.MULTILINE)


def bound_names(cells: Sequence[CellFacts]) -> dict[int, frozenset[str]]:
    """For each cell, the names its top-level lines bind (def, class, import, assignment)."""
    index: dict[int, frozenset[str]] = {}
    for cell in cells:
        names: set[str] = set()
        for match in _BINDING.finditer(cell.source, 0, _SCANNED_CHARS):
            if match["def"] or match["cls"]:
                names.add(match["def"] or match["cls"])
            elif match["imp"] is not None:
                for part in match["imp"].split(","):
                    words = part.split()
                    if words:
                        names.add(words[-1] if "as" in words else words[0].split(".")[0])
            elif match["frm"] is not None:
                for part in match["frm"].strip("() \\").split(","):
                    words = part.split()
                    if words:
                        names.add(words[-1])
            elif match["targets"] is not None:
                names.update(t.strip() for t in match["targets"].split(",") if t.strip().isidentifier())
        index[cell.index] = frozenset(names)
    return index


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


def _causes(cell: CellFacts, cells: Sequence[CellFacts], index: Mapping[int, frozenset[str]]) -> list[str]:
    """The chain of earlier failed cells that should have defined the names the errors name."""
    causes: list[str] = []
    seen = {cell.index}
    while len(causes) < MAX_CHAIN:
        match = _NAME_ERROR.search(cell.message)
        if match is None:
            break
        name = match["name"]
        earlier = next((c for c in reversed(cells) if c.index < cell.index and c.index not in seen
                        and c.status != "ok" and name in index.get(c.index, ())), None)
        if earlier is None:
            break
        seen.add(earlier.index)
        line = _failing_line(earlier)
        text = _source_line(earlier, line)
        at = f" at `{text}`" if text else (f" at line {line}" if line else "")
        causes.append(f"cell {earlier.index} stopped{at} ({_last_line(earlier.message)})")
        cell = earlier
    if len(causes) > _SHOWN_CAUSES:  # the first link and where it all started matter most
        causes = [causes[0], f"... ({len(causes) - 2} more failed cells) ...", causes[-1]]
    return causes


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
