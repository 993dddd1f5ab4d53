"""The realistic samples (sample_submissions/hw1/real_*, written by tests/make_real_samples.py).

test_samples.py grades them with every other sample against their expected.json. Here: the committed
folders are exactly what the generator writes; each notebook is a valid notebook of the format it
claims and has the shape its sample is named for; the raw-cell sample's feedback names the raw
cell; and the plot-heavy notebook, at the 30 MB a student really submitted (too big to commit),
still earns full marks.
"""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path
from typing import Any

import make_real_samples
import nbformat
import pytest
import yaml
from conftest import SAMPLES, assert_valid_results

from grader.engine import GradeOptions, grade
from grader.rubric import Rubric
from grader.submission import open_submission

NAMES = sorted(make_real_samples.SPEC)
NOTEBOOKS = {name: next(iter(sorted((SAMPLES / name).glob("*.ipynb"))), None) for name in NAMES}


def _text(path: Path) -> str:
    """A notebook file's text, whatever encoding its BOM says (UTF-8 without one)."""
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _load(name: str) -> dict[str, Any]:
    path = NOTEBOOKS[name]
    assert path is not None, name
    return json.loads(_text(path))


def _cells(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "worksheets" in document:
        return [cell for sheet in document["worksheets"] for cell in sheet["cells"]]
    return list(document["cells"])


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", cell.get("input", ""))
    return value if isinstance(value, str) else "".join(value)


def _code(document: dict[str, Any]) -> list[str]:
    return [_source(cell) for cell in _cells(document) if cell["cell_type"] == "code"]


def _images(document: dict[str, Any]) -> int:
    return sum(1 for cell in _cells(document) for output in cell.get("outputs", [])
               if "image/png" in output.get("data", {}) or "png" in output)


def _grade(folder: Path, rubric: Rubric, tmp_path: Path) -> dict[str, Any]:
    """Grade the submission in `folder`; write its results.json under tmp_path and read it back."""
    submission = open_submission(folder, dict(rubric.files), tmp_path / "work")
    report = grade(submission, rubric, GradeOptions(salt="real-samples-test-salt"))
    results = tmp_path / "results.json"
    results.write_text(json.dumps(report.document(), indent=1), encoding="utf-8")
    return assert_valid_results(results, rubric)


# ------------------------------------------------------------------ the committed files
def test_committed_real_samples_are_what_make_real_samples_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "samples"
    assert make_real_samples.write_all(fresh) == list(make_real_samples.SPEC)
    assert sorted(p.name for p in SAMPLES.glob("real_*")) == NAMES, "run `python tests/make_real_samples.py`"
    for name in NAMES:
        committed = {p.relative_to(SAMPLES / name) for p in (SAMPLES / name).rglob("*")}
        written = {p.relative_to(fresh / name) for p in (fresh / name).rglob("*")}
        assert committed == written, f"{name}: run `python tests/make_real_samples.py`"
        for relative in written:
            new, old = fresh / name / relative, SAMPLES / name / relative
            assert old.read_bytes() == new.read_bytes(), f"{name}/{relative}: run `python tests/make_real_samples.py`"


def test_real_samples_expect_full_marks_except_the_raw_cell() -> None:
    for name in NAMES:
        expected = json.loads((SAMPLES / name / "expected.json").read_text(encoding="utf-8"))
        assert set(expected) == {"description", "parts", "tolerance"}
        lost = {part: points - expected["parts"][part] for part, points in make_real_samples.FULL.items()
                if expected["parts"][part] != points}
        assert lost == ({"p1": 5} if name == "real_raw_cell_function" else {}), name


# ------------------------------------------------------------------ the shapes
@pytest.mark.parametrize("name", [name for name in NAMES if NOTEBOOKS[name] is not None])
def test_real_notebook_is_valid_in_its_own_format(name: str) -> None:
    path = NOTEBOOKS[name]
    assert path is not None
    notebook = nbformat.reads(_text(path), as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)


def test_real_colab_is_a_colab_export() -> None:
    document = _load("real_colab")
    assert list(document) == ["nbformat", "nbformat_minor", "metadata", "cells"]
    metadata = document["metadata"]
    assert metadata["colab"]["provenance"] and metadata["accelerator"] == "GPU"
    assert metadata["kernelspec"]["name"] == "python3"
    assert "application/vnd.jupyter.widget-state+json" in metadata["widgets"]
    assert all("id" in cell["metadata"] for cell in document["cells"])
    assert any("outputId" in cell["metadata"] for cell in document["cells"])
    first = _code(document)[0]
    for line in ("!pip install torch", "from google.colab import drive", "drive.mount('/content/drive')",
                 "%matplotlib inline", "from tqdm.notebook import tqdm"):
        assert line in first, line
    assert first.index("import matplotlib.pyplot as plt") < first.index("import numpy as np")
    training = next(source for source in _code(document) if "for i in tqdm(range(" in source)
    assert "plt.plot(" in training and "plt.show()" in training
    path = NOTEBOOKS["real_colab"]
    assert path is not None and 2**20 < path.stat().st_size < 2 * 2**20
    assert _images(document) >= 5


def test_real_vscode_is_a_vscode_save() -> None:
    document = _load("real_vscode")
    assert (document["nbformat"], document["nbformat_minor"]) == (4, 2)
    assert len(document["metadata"]["vscode"]["interpreter"]["hash"]) == 64
    assert document["metadata"]["language_info"]["version"]
    counts = [cell["execution_count"] for cell in document["cells"] if cell["cell_type"] == "code"]
    assert counts != sorted(counts) and len(set(counts)) == len(counts)
    assert not any("id" in cell for cell in document["cells"])
    assert any(output["output_type"] == "stream" for cell in document["cells"] for output in cell.get("outputs", []))
    code = "\n".join(_code(document))
    assert "import torch\n" in code and "import seaborn as sns\n" in code


def test_real_jupyterlab4_is_a_windows_jupyterlab_save() -> None:
    path = NOTEBOOKS["real_jupyterlab4"]
    assert path is not None
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(b"\n") == data.count(b"\r\n") > 100
    document = _load("real_jupyterlab4")
    assert (document["nbformat"], document["nbformat_minor"]) == (4, 5)
    assert all(cell["id"] for cell in document["cells"])
    assert document["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(cell.get("attachments") for cell in document["cells"] if cell["cell_type"] == "markdown")
    assert any(cell["cell_type"] == "raw" for cell in document["cells"])


def test_real_nbformat3_and_40_are_in_the_old_formats() -> None:
    old = _load("real_nbformat3")
    assert old["nbformat"] == 3 and "cells" not in old and len(old["worksheets"]) == 1
    code = [cell for cell in _cells(old) if cell["cell_type"] == "code"]
    assert all("input" in cell and "source" not in cell and cell["language"] == "python" for cell in code)
    assert any(cell["cell_type"] == "heading" for cell in _cells(old))
    four_oh = _load("real_nbformat40")
    assert (four_oh["nbformat"], four_oh["nbformat_minor"]) == (4, 0)
    assert all(isinstance(cell["source"], str) and "id" not in cell for cell in four_oh["cells"])
    assert any("\n" in cell["source"] for cell in four_oh["cells"])


def test_real_utf16_is_what_a_powershell_redirect_writes() -> None:
    path = NOTEBOOKS["real_utf16"]
    assert path is not None
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF16_LE) and b"\r\0\n\0" in data
    assert "Zoë" in _text(path)


def test_real_magics_writefile_imports_the_file_it_writes() -> None:
    code = _code(_load("real_magics_writefile"))
    assert code[1].startswith("%%writefile hw1_lib.py\n")
    joined = "\n".join(code)
    for line in ("import hw1_lib", "%timeit ", "%%time\n", "!nvidia-smi", "?np.dot"):
        assert line in joined, line
    graded = next(source for source in code if "def mlp_forward" in source)
    assert "hw1_lib.relu(" in graded and "hw1_lib.softmax_minus_onehot(" in graded


def test_real_annotations_missing_params_cell_fails_before_params() -> None:
    first = _code(_load("real_annotations_missing_params"))[0]
    assert first.index("torch.set_default_dtype(") < first.index("Params = ")
    assert "params: Params" in "\n".join(_code(_load("real_annotations_missing_params")))


def test_real_file_names() -> None:
    assert sorted(p.name for p in (SAMPLES / "real_jupytext_script").iterdir()) == [
        "expected.json", "hw1_code.py", "hw1_weights.npz", "hw1_written.yaml"]
    script = (SAMPLES / "real_jupytext_script" / "hw1_code.py").read_text(encoding="utf-8")
    assert script.startswith("# ---\n# jupyter:\n#   jupytext:\n") and "\n# %%\n" in script
    assert (SAMPLES / "real_copy_of" / "Copy of hw1_code.ipynb").is_file()
    assert not (SAMPLES / "real_copy_of" / "hw1_code.ipynb").exists()


def test_real_raw_cell_function_has_step_only_in_a_raw_cell() -> None:
    cells = _cells(_load("real_raw_cell_function"))
    assert [c["cell_type"] for c in cells if "def step(" in _source(c)] == ["raw"]


def test_real_big_outputs_is_about_3_mb_of_plots() -> None:
    path = NOTEBOOKS["real_big_outputs"]
    assert path is not None
    assert 2.5 * 2**20 < path.stat().st_size < 4 * 2**20
    assert _images(_load("real_big_outputs")) > 30


def test_real_written_leading_zeros_would_be_misread_as_yaml_1_1() -> None:
    text = (SAMPLES / "real_written_leading_zeros" / "hw1_written.yaml").read_text(encoding="utf-8")
    assert "[16, 08, 20]" in text and "[048, 012, 024]" in text and "Θ(n^2)" in text and "Θ(n²)" in text
    reference = yaml.safe_load((SAMPLES / "reference" / "hw1_written.yaml").read_text(encoding="utf-8"))
    as_yaml_1_1 = yaml.safe_load(text)  # PyYAML: 012 is octal ten, 048 and 08 are strings
    assert as_yaml_1_1["q1_3_1_z"] != reference["q1_3_1_z"]
    assert as_yaml_1_1["q1_3_hessian"] != reference["q1_3_hessian"]


# ------------------------------------------------------------------ grading
def test_real_raw_cell_function_feedback_names_the_raw_cell(rubric: Rubric, tmp_path: Path) -> None:
    cells = _cells(_load("real_raw_cell_function"))
    number = next(i for i, cell in enumerate(cells, 1) if cell["cell_type"] == "raw" and "def step(" in _source(cell))
    document = _grade(SAMPLES / "real_raw_cell_function", rubric, tmp_path)
    by_item = {test["extra_data"]["item"]: test for test in document["tests"]}
    assert by_item["p1_step"]["score"] == 0
    assert f"it is defined in raw cell {number}, which is not run" in by_item["p1_step"]["output"]
    assert by_item["p1_hardcoded_forward"]["score"] == 0
    assert by_item["p1_kth_largest"]["score"] == by_item["p1_kth_largest"]["max_score"]


def test_real_big_outputs_at_30_mb_scores_full_marks(rubric: Rubric, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    notebook = make_real_samples.big_outputs_notebook(30)
    assert len(notebook) > 30 * 10**6
    (folder / "hw1_code.ipynb").write_bytes(notebook)
    del notebook
    for name in ("hw1_written.yaml", "hw1_weights.npz"):
        shutil.copyfile(SAMPLES / "reference" / name, folder / name)
    document = _grade(folder, rubric, tmp_path)
    lost = {test["name"]: test["output"][:300] for test in document["tests"] if test["score"] < test["max_score"]}
    assert not lost
    assert sum(test["score"] for test in document["tests"]) == sum(make_real_samples.FULL.values()) == 135
