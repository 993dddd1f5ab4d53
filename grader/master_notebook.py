"""An assignment's master notebook: one percent-format source gives the reference and the template.

The source is a Python file whose `# %%` lines start code cells and `# %% [markdown]` lines
markdown cells (their lines are `# `-commented); text before the first marker is left out.
Solutions sit between `# BEGIN SOLUTION` and `# END SOLUTION` lines: kept (without the markers)
in the reference, replaced by `raise NotImplementedError` in the template. The grader imports
the same file as the assignment's reference module, so it must also be valid Python.
docs/authoring.md shows one; `python -m reference_solutions.<name>.build` writes the notebooks.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

CELL_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")
BEGIN_SOLUTION = "# BEGIN SOLUTION"
END_SOLUTION = "# END SOLUTION"


def _strip_blank_edges(lines: list[str]) -> list[str]:
    """Lines without leading and trailing blank lines."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _uncomment_markdown(lines: list[str]) -> list[str]:
    """Markdown lines from `# `-commented source lines (a bare `#` is an empty line)."""
    out = []
    for line in lines:
        if line == "#" or line.startswith("# "):
            out.append(line[2:])
        elif not line.strip():
            out.append("")
        else:
            raise ValueError(f"markdown cell line is not a comment: {line!r}")
    return out


def _process_solutions(lines: list[str], strip_solutions: bool) -> list[str]:
    """Code lines with solution markers removed, and solution regions replaced if stripping."""
    out: list[str] = []
    inside = False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise ValueError("nested # BEGIN SOLUTION")
            inside = True
            if strip_solutions:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}raise NotImplementedError")
        elif marker == END_SOLUTION:
            if not inside:
                raise ValueError("# END SOLUTION without # BEGIN SOLUTION")
            inside = False
        elif not (inside and strip_solutions):
            out.append(line)
    if inside:
        raise ValueError("# BEGIN SOLUTION without # END SOLUTION")
    return out


def percent_to_notebook(source_text: str, strip_solutions: bool) -> nbformat.NotebookNode:
    """A v4 notebook from percent-format source; text before the first `# %%` is left out."""
    cells: list[tuple[str, list[str]]] = []
    for line in source_text.splitlines():
        header = CELL_MARKER.match(line)
        if header:
            cells.append(("markdown" if header.group("markdown") else "code", []))
        elif cells:
            cells[-1][1].append(line)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, (kind, lines) in enumerate(cells):
        if kind == "markdown":
            source = "\n".join(_strip_blank_edges(_uncomment_markdown(lines)))
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            code = _process_solutions(lines, strip_solutions)
            cell = nbformat.v4.new_code_cell("\n".join(_strip_blank_edges(code)))
        # nbformat draws random cell ids; fixed ones keep the written bytes reproducible.
        cell.id = f"cell-{index:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def notebook_text(source: Path, strip_solutions: bool) -> str:
    """The exact file contents of the reference (False) or template (True) notebook of `source`."""
    nb = percent_to_notebook(source.read_text(encoding="utf-8"), strip_solutions)
    return nbformat.writes(nb, version=4) + "\n"
