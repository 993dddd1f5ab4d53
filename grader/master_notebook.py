"""An assignment's master notebook: one percent-format source gives the reference and the template.

The source is a Python file whose `# %%` lines start code cells and `# %% [markdown]` lines
markdown cells (their lines are `# `-commented); text before the first marker is left out.
Solutions sit between `# BEGIN SOLUTION` and `# END SOLUTION` lines: kept (without the markers)
in the reference, replaced by `raise NotImplementedError` in the template. The grader imports
the same file as the assignment's reference module, so it must also be valid Python.
docs/authoring.md shows one; `python -m reference_solutions.<name>.build` writes the notebooks.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

from grader.notebook import strip_blank_edges

CELL_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")
BEGIN_SOLUTION = "# BEGIN SOLUTION"
END_SOLUTION = "# END SOLUTION"


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
            source = "\n".join(strip_blank_edges(_uncomment_markdown(lines)))
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            code = _process_solutions(lines, strip_solutions)
            cell = nbformat.v4.new_code_cell("\n".join(strip_blank_edges(code)))
        # nbformat draws random cell ids; fixed ones keep the written bytes reproducible.
        cell.id = f"cell-{index:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def notebook_text(source: Path, strip_solutions: bool) -> str:
    """The exact file contents of the reference (False) or template (True) notebook of `source`."""
    nb = percent_to_notebook(source.read_text(encoding="utf-8"), strip_solutions)
    return nbformat.writes(nb, version=4) + "\n"


def build_command(prog: str, generated_texts: Callable[[], dict[Path, str]], train_all: Callable[[], None],
                  repo_root: Path, argv: list[str] | None = None) -> int:
    """An assignment's `build.py` command line: write (or with --check, verify) its generated
    text files; --train also trains and writes weights. Exit 1 with --check if one is stale."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--train", action="store_true", help="also train and write weights")
    parser.add_argument("--check", action="store_true", help="verify only, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_texts().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {path.relative_to(repo_root)}")
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(repo_root)}", file=sys.stderr)
        return 1 if stale else 0
    if args.train:
        train_all()
    return 0
