"""Reading notebooks as their authors saved them: Colab, VS Code, JupyterLab on Windows, jupytext
scripts; outputs that do not count; functions written in cells that are not run (issue 9, §4-§5)."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SAMPLES

from grader import notebook
from grader.engine import GradeOptions, grade
from grader.errors import StudentFileError
from grader.notebook import (
    MAX_NOTEBOOK_BYTES,
    CodeCell,
    load_code_cells,
    load_notebook,
    parse_code_cells,
    parse_notebook,
    script_kind,
)
from grader.rubric import Rubric
from grader.submission import open_submission

DATA = Path(__file__).resolve().parent / "data" / "notebooks"
REFERENCE_NOTEBOOK = SAMPLES / "reference" / "hw1_code.ipynb"
REFERENCE_SCRIPT = ROOT / "reference_solutions" / "hw1" / "hw1_code.py"
CODE_PARTS = ("p1", "p2", "p3", "p4")


def _whole_file_reading(data: bytes) -> list[tuple[int, str]]:
    """The code cells as `json.loads` of the whole file gives them: what streaming must equal."""
    document = json.loads(data)
    cells = document["cells"] if "cells" in document else [
        cell for sheet in document["worksheets"] for cell in sheet["cells"]]
    key = "source" if "cells" in document else "input"
    return [(position, "".join(cell.get(key, "")) if isinstance(cell.get(key, ""), list) else cell.get(key, ""))
            for position, cell in enumerate(cells, 1) if cell.get("cell_type") == "code"]


def _pairs(cells: list[CodeCell]) -> list[tuple[int, str]]:
    return [(cell.index, cell.source) for cell in cells]


def _inflated(source: dict[str, Any], megabytes: float, plot: dict[str, Any]) -> bytes:
    """A notebook whose code cells each carry re-run plot outputs, to `megabytes` MB in all."""
    document = copy.deepcopy(source)
    code = [cell for cell in document["cells"] if cell["cell_type"] == "code"]
    per_output = len(json.dumps(plot))
    count = int(megabytes * 2**20 / per_output / len(code)) + 1
    for cell in code:
        cell["outputs"] = [plot] * count
    return json.dumps(document, indent=1).encode()


def _colab_plot() -> dict[str, Any]:
    """The display_data output of the Colab sample's plot cell (a PNG in base64)."""
    colab = json.loads((DATA / "colab_plot_outputs.ipynb").read_text(encoding="utf-8"))
    return next(output for cell in colab["cells"] for output in cell.get("outputs", [])
                if output["output_type"] == "display_data")


# ------------------------------------------------------------------ notebooks as editors save them
@pytest.mark.parametrize(("name", "expected"), [
    ("colab_plot_outputs.ipynb", [(2, "import numpy as np"), (3, "def indicator(z):"),
                                  (4, "import matplotlib.pyplot as plt"), (5, "losses = []")]),
    ("vscode.ipynb", [(1, "import numpy as np"), (2, "def indicator(z):"), (3, "hardcoded_forward(params, X)"),
                      (5, "")]),
    ("jupyterlab4_windows_bom_crlf.ipynb", [(2, "import numpy as np"), (4, "def indicator(z):")]),
    ("jupytext_percent.py", [(2, "import numpy as np"), (3, "def indicator(z):"), (5, "# %matplotlib inline")]),
])
def test_notebooks_as_editors_save_them_are_read(name: str, expected: list[tuple[int, str]]) -> None:
    """Colab (plot in base64), VS Code (error output, ANSI codes), JupyterLab 4 saved with a BOM and
    CRLF (attachments, HTML output, cell ids), jupytext: each code cell, numbered among all cells."""
    cells = load_code_cells(DATA / name)
    assert [(cell.index, cell.source.split("\n")[0]) for cell in cells] == expected
    if name.endswith(".ipynb"):
        raw = (DATA / name).read_bytes()
        assert _pairs(cells) == _whole_file_reading(raw)
    assert not any("iVBOR" in cell.source or "Traceback" in cell.source for cell in cells)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_streaming_reads_what_the_whole_file_says_at_any_chunk_size(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Strings split anywhere (inside escapes, multi-byte characters, runs of backslashes)."""
    tricky = ['a "quoted" \\" word\n', "\\\\", "\\", "é😀\u2028\t", "[{]}", '\\\\\\"', "x" * 300, "\\n" * 150]
    made = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"k": tricky}, "cells": [
        {"cell_type": "code", "source": tricky, "outputs": [{"text": tricky, "data": {"image/png": "Q" * 900}}]},
        {"cell_type": "markdown", "source": "".join(tricky)},
        {"cell_type": "code", "source": "".join(reversed(tricky)), "outputs": []},
    ]}
    documents = [json.dumps(made).encode(), json.dumps(made, ensure_ascii=False, indent=1).encode(),
                 REFERENCE_NOTEBOOK.read_bytes(), *(path.read_bytes() for path in sorted(DATA.glob("*.ipynb")))]
    monkeypatch.setattr(notebook, "_CHUNK", chunk)
    for data in documents:
        assert _pairs(parse_code_cells(data)) == _whole_file_reading(data.removeprefix(b"\xef\xbb\xbf"))


def test_a_notebook_saved_as_utf16_is_read() -> None:
    """PowerShell's `>` writes UTF-16 with a BOM."""
    data = REFERENCE_NOTEBOOK.read_text(encoding="utf-8").encode("utf-16")
    assert _pairs(parse_code_cells(data)) == _whole_file_reading(REFERENCE_NOTEBOOK.read_bytes())


# ------------------------------------------------------------------ §4: outputs do not count
def test_outputs_do_not_count_against_the_notebook(tmp_path: Path) -> None:
    """26 MB of re-run plots: read (it was "larger than 20 MB. Clear the outputs ..." and p1-p4 0)."""
    colab = json.loads((DATA / "colab_plot_outputs.ipynb").read_text(encoding="utf-8"))
    path = tmp_path / "hw1_code.ipynb"
    path.write_bytes(_inflated(colab, 26, _colab_plot()))
    assert path.stat().st_size > 26 * 2**20
    assert [cell.index for cell in load_code_cells(path)] == [2, 3, 4, 5]


def test_a_notebook_of_26_mb_of_plots_earns_full_marks(rubric: Rubric, tmp_path: Path) -> None:
    """End to end: the reference code with Colab-style plot outputs is graded as its author expects."""
    folder = tmp_path / "sub"
    shutil.copytree(SAMPLES / "reference", folder)
    reference = json.loads(REFERENCE_NOTEBOOK.read_text(encoding="utf-8"))
    (folder / "hw1_code.ipynb").write_bytes(_inflated(reference, 26, _colab_plot()))
    document = grade(open_submission(folder, dict(rubric.files), tmp_path / "work"), rubric,
                     GradeOptions(salt="notebook-reading-salt")).document()
    tests = [test for test in document["tests"] if test["tags"][0] in CODE_PARTS]
    assert tests and all(test["score"] == test["max_score"] for test in tests), document["output"]


@pytest.mark.parametrize("kind", ["plots", "printed lines"])
def test_reading_an_outputs_heavy_notebook_keeps_memory_small(tmp_path: Path, kind: str) -> None:
    """64 MB of outputs cost a few MB of memory, not several times the file (json.loads: 3-5x)."""
    path = tmp_path / "hw1_code.ipynb"
    reference = json.loads(REFERENCE_NOTEBOOK.read_text(encoding="utf-8"))
    if kind == "plots":
        plot = {"output_type": "display_data", "metadata": {},
                "data": {"image/png": base64.b64encode(os.urandom(300_000)).decode(), "text/plain": ["<Figure>"]}}
    else:
        plot = {"output_type": "stream", "name": "stdout", "text": ["epoch 12 step 340 loss 0.693147\n"] * 20_000}
    path.write_bytes(_inflated(reference, 64, plot))
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from grader.notebook import load_code_cells
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cells = load_code_cells(Path({str(path)!r}))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(len(cells), (after - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    count, growth_mb = map(int, done.stdout.split())
    assert count == len(_whole_file_reading(REFERENCE_NOTEBOOK.read_bytes()))
    assert growth_mb < 32, f"reading {path.stat().st_size >> 20} MB of {kind} took {growth_mb} MB more memory"


def test_a_file_over_the_cap_says_how_to_clear_outputs_in_todays_menus(tmp_path: Path) -> None:
    path = tmp_path / "hw1_code.ipynb"
    path.write_bytes(_inflated(json.loads(REFERENCE_NOTEBOOK.read_text(encoding="utf-8")), 0.1, _colab_plot()))
    with pytest.raises(StudentFileError) as info:
        load_code_cells(path, max_bytes=50_000)
    message = str(info.value)
    assert "larger than" in message and "Kernel > Restart" not in message
    assert "JupyterLab: Edit > Clear All Outputs" in message and "Colab: Edit > Clear all outputs" in message


def test_the_limit_is_on_the_code_and_only_the_code() -> None:
    """Code over the limit is refused; the same text in a Markdown cell, or in outputs, is not code."""
    text = "x = 1\n" * 2000
    code_heavy = json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": text}]}).encode()
    with pytest.raises(StudentFileError, match=r"holds more than .* of code in its cells"):
        parse_notebook(code_heavy, "hw1_code.ipynb", max_code_bytes=10_000)
    text_heavy = json.dumps({"nbformat": 4, "cells": [
        {"cell_type": "markdown", "source": "![plot](data:image/png;base64," + "A" * 50_000 + ")"},
        {"cell_type": "code", "source": "y = 2", "outputs": [{"text": text}]}]}).encode()
    assert parse_notebook(text_heavy, max_code_bytes=10_000).cells == [CodeCell(2, "y = 2")]
    assert MAX_NOTEBOOK_BYTES >= 20 * 2**20  # nothing accepted before is refused now


@pytest.mark.parametrize(("data", "words"), [
    (b"", "is empty"),
    (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "x"}', "not valid JSON (line 1, column"),
    (b'{"cells": [], "metadata": {}} trailing', "not valid JSON"),
    (b"Hello, this is my homework.", "not valid JSON (line 1, column 1)"),
    (b'{"cells": [{"cell_type": "code", "source": ["x", 1]}]}', "the source of cell 1 is not text"),
    (b'{"worksheets": 3, "nbformat": 3}', "its worksheets are not a list"),
])
def test_broken_files_keep_their_messages(data: bytes, words: str) -> None:
    with pytest.raises(StudentFileError, match=re.escape(words)):
        parse_code_cells(data, "hw1_code.ipynb")


# ------------------------------------------------------------------ §5: scripts read as notebooks
def test_a_percent_script_is_read_as_its_cells() -> None:
    """jupytext header left out; markdown and raw cells uncommented; `# %%capture` is no marker."""
    notebook_file = load_notebook(DATA / "jupytext_percent.py")
    assert [cell.index for cell in notebook_file.cells] == [2, 3, 5]
    assert "jupytext" not in notebook_file.cells[0].source
    assert notebook_file.defined_elsewhere == {"hardcoded_forward": ("raw", 4)}
    script = b"\xef\xbb\xbf#%%\r\nimport numpy as np\r\n# %%capture\r\nx = 1\r\n# In[ ]:\r\ny = 2\r\n"
    cells = parse_code_cells(script)
    assert _pairs(cells) == [(1, "import numpy as np\n# %%capture\nx = 1"), (2, "y = 2")]


def test_a_script_renamed_to_ipynb_is_read_as_a_script(tmp_path: Path) -> None:
    """It was "not valid JSON (line 1, column 1)"."""
    path = tmp_path / "hw1_code.ipynb"
    shutil.copy(DATA / "jupytext_percent.py", path)
    assert [cell.index for cell in load_code_cells(path)] == [2, 3, 5]
    assert script_kind(path) == "cells"
    path.write_text("import numpy as np\n\ndef step(z):\n    return (z > 0) * 1.0\n", encoding="utf-8")
    assert _pairs(load_code_cells(path)) == [(1, path.read_text(encoding="utf-8").strip())]
    assert script_kind(path) == "one cell"
    assert script_kind(REFERENCE_NOTEBOOK) is None


@pytest.mark.parametrize("name", ["hw1_code.py", "hw1_code.ipynb"])
def test_the_reference_script_earns_full_marks_with_a_note(rubric: Rubric, tmp_path: Path, name: str) -> None:
    """The percent-format source as hw1_code.py, or renamed hw1_code.ipynb: graded, and told so."""
    folder = tmp_path / "sub"
    shutil.copytree(SAMPLES / "reference", folder)
    (folder / "hw1_code.ipynb").unlink()
    shutil.copy(REFERENCE_SCRIPT, folder / name)
    document = grade(open_submission(folder, dict(rubric.files), tmp_path / "work"), rubric,
                     GradeOptions(salt="notebook-reading-salt")).document()
    tests = [test for test in document["tests"] if test["tags"][0] in CODE_PARTS]
    assert tests and all(test["score"] == test["max_score"] for test in tests), document["output"]
    assert "Python script" in document["output"] and "`# %%` line" in document["output"]


# ------------------------------------------------------------------ §5: functions in cells not run
def test_functions_defined_in_raw_and_markdown_cells_are_found() -> None:
    """By `ast` when the cell parses, by `^def NAME(` when it does not (a fenced Markdown cell)."""
    notebook_file = load_notebook(DATA / "defined_in_raw_and_markdown.ipynb")
    assert [cell.index for cell in notebook_file.cells] == [2, 5]
    # kth_largest_params is also in code cell 5, so the raw cell 6's copy is not news.
    assert notebook_file.defined_elsewhere == {"indicator": ("markdown", 3), "step": ("raw", 4)}
    assert notebook_file.not_run_message("step") == (
        "step is defined in raw cell 4, which is not run: make it a Code cell.")
    assert notebook_file.not_run_message("indicator") == (
        "indicator is defined in markdown cell 3, which is not run: make it a Code cell (without its ``` lines).")
    assert notebook_file.not_run_message("kth_largest_params") is None


def test_only_top_level_definitions_count() -> None:
    cells = [{"cell_type": "code", "source": "import numpy as np"},
             {"cell_type": "raw", "source": "class Net:\n    def step(self):\n        pass\n"},
             {"cell_type": "markdown", "source": "Use `def step(z):` here.\n  def indented(z):"},
             {"cell_type": "raw", "source": "def sgd_step(params, grads, lr):\n    return {"}]
    found = parse_notebook(json.dumps({"nbformat": 4, "cells": cells}).encode()).defined_elsewhere
    assert found == {"sgd_step": ("raw", 4)}


def test_a_notebook_whose_code_is_all_in_raw_cells_says_so() -> None:
    cells = [{"cell_type": "markdown", "source": "# HW1"},
             {"cell_type": "raw", "source": "import numpy as np\n\ndef step(z):\n    return z > 0\n"},
             {"cell_type": "raw", "source": "def indicator(z):\n    return abs(z) <= 1\n"}]
    with pytest.raises(StudentFileError) as info:
        parse_code_cells(json.dumps({"nbformat": 4, "cells": cells}).encode(), "hw1_code.ipynb")
    assert str(info.value) == ("hw1_code.ipynb has no code cells with code in them; its functions (step, "
                               "indicator) are in raw cell 2, raw cell 3, which are not run: make them Code cells.")


def test_a_script_over_the_code_limit_is_refused_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "hw1_code.py"
    path.write_text("# %%\nx = 1\n" * 100, encoding="utf-8")
    with pytest.raises(StudentFileError, match="is not a Python script of at most 0 MB"):
        load_notebook(path, max_code_bytes=500)
    assert len(load_notebook(path).cells) == 100
