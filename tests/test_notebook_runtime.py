"""What a notebook can use in every isolation layer, as root and as a normal user (issue 9).

numpy's lazily loaded submodules and the standard library must import in every layer: a
notebook that seeds numpy's generator, tests with numpy.testing or saves an .npz earns full
marks wherever it is graded. Imports of packages the grader lacks (plotting, torch, Colab)
cost nothing, annotations are never evaluated at definition, and `%%writefile` modules import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import RUBRIC, SAMPLES

from grader.engine import GradeOptions, grade
from grader.notebook import CodeCell
from grader.rubric import load_rubric
from grader.sandbox import Call, SessionLimits, available_layers, isolation, run_session, warm
from grader.sandbox.landlock import landlock_abi
from grader.sandbox.layers import common
from grader.sandbox.runtime import MirrorError, mirror_runtime
from grader.submission import open_submission

LAYERS = available_layers()
NUMPY_MODULES = ("numpy.random", "numpy.linalg", "numpy.fft", "numpy.testing", "numpy.polynomial",
                 "numpy.ma", "numpy.lib.stride_tricks")
STDLIB_MODULES = ("csv", "pathlib", "zipfile", "json", "math", "itertools", "collections", "functools",
                  "re", "time", "random", "unittest")
IMPORT_EVERYTHING = f"""
import importlib
failed = []
for name in {list(NUMPY_MODULES + STDLIB_MODULES)!r}:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed.append(f"{{name}}: {{exc!r}}")
def failures():
    return failed
"""
NUMPY_IN_USE = """
import numpy as np
rng = np.random.default_rng(0)
np.random.seed(231)
x = rng.normal(size=3) + np.random.rand(3)
np.testing.assert_allclose(x, x)
np.savez("scratch.npz", x=x)
assert np.load("scratch.npz")["x"].shape == (3,)
"""


def _session(sources: list[str], calls: list[Call], layer: str):
    cells = [CodeCell(i + 1, s) for i, s in enumerate(sources)]
    return run_session(cells, calls, SessionLimits(), submission_dir=None, isolation=layer)


@pytest.mark.parametrize("layer", isolation.LAYERS)
def test_numpy_submodules_and_stdlib_import(layer: str) -> None:
    if layer not in LAYERS:
        pytest.skip(f"layer {layer} unavailable here: {isolation._unavailable_reason(layer)}")
    report = _session([IMPORT_EVERYTHING], [Call("c", "failures")], layer)
    assert report.layer == layer
    assert report.cells[0].status == "ok", report.cells[0].message
    assert report.calls["c"].value == []


def _reference_with_first_cell(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "submission"
    shutil.copytree(SAMPLES / "reference", folder)
    (folder / "expected.json").unlink(missing_ok=True)
    notebook = nbformat.read(folder / "hw1_code.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(source))
    nbformat.write(notebook, folder / "hw1_code.ipynb")
    return folder


def _grade(folder: Path, tmp_path: Path, layer: str) -> dict:
    rubric = load_rubric(RUBRIC)
    submission = open_submission(folder, dict(rubric.files), tmp_path / "work")
    report = grade(submission, rubric, GradeOptions(salt="layer-test", isolation=layer))
    return report.document()


@pytest.mark.parametrize("layer", isolation.LAYERS)
def test_a_notebook_using_numpy_submodules_earns_full_marks(tmp_path: Path, layer: str) -> None:
    if layer not in LAYERS:
        pytest.skip(f"layer {layer} unavailable here: {isolation._unavailable_reason(layer)}")
    document = _grade(_reference_with_first_cell(tmp_path, NUMPY_IN_USE), tmp_path, layer)
    assert document["extra_data"]["isolation"] == layer
    confinement = document["extra_data"]["confinement"]
    assert confinement["landlock"].startswith("ABI ") == bool(landlock_abi())
    assert confinement["seccomp"] is (os.uname().machine in ("x86_64", "aarch64"))
    # A warm fork where one can serve this layer, else a fresh interpreter and the reason why.
    why_not = warm.unavailable_reason(layer)
    assert confinement["process"] == (warm.WARM if why_not is None else f"{warm.FRESH} ({why_not})")
    lost = [(t["name"], t.get("output", "")[:300]) for t in document["tests"] if t["score"] < t["max_score"]]
    assert not lost, lost


NORMAL_USER_PROBE = f"""
import json, sys
from grader.notebook import CodeCell
from grader.sandbox import Call, SessionLimits, available_layers, run_session
out = {{}}
for layer in available_layers():
    cells = [CodeCell(1, {IMPORT_EVERYTHING!r}), CodeCell(2, {NUMPY_IN_USE!r})]
    report = run_session(cells, [Call("c", "failures")], SessionLimits(), submission_dir=None, isolation=layer)
    out[layer] = [[c.status for c in report.cells], report.calls["c"].value]
print(json.dumps(out))
"""


NORMAL_UID = 2_999_999_001  # unnamed, unused by anything else


def test_layers_of_a_normal_user(tmp_path: Path) -> None:
    """Run as `nobody` with a readable copy of the runtime and of the grader's sandbox code."""
    if os.geteuid() != 0:
        pytest.skip("this test switches to a normal user, which needs root; run as a normal user, "
                    "the other tests of this file already test the layers a normal user has")
    try:
        runtime = mirror_runtime(common.packages(()))
    except MirrorError as exc:
        pytest.skip(f"no readable runtime for a normal user here: {exc}")
    # A uid of its own: the uid layer's cleanup kills every process of the sandbox user (nobody),
    # which another grader on this machine may be running meanwhile.
    uid = gid = NORMAL_UID
    home = Path(tempfile.mkdtemp(prefix="grader-normal-user-"))
    try:
        home.chmod(0o755)
        shutil.copytree(Path(isolation.__file__).resolve().parents[1], home / "grader",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for folder, _, files in os.walk(home / "grader"):  # readable whatever the checkout's modes
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        os.chown(home, uid, gid)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
               "PYTHONPATH": f"{home}:{runtime.packages}"}
        if runtime.library_path:
            env["LD_LIBRARY_PATH"] = runtime.library_path
        result = subprocess.run([str(runtime.executable), "-I", "-c",
                                 "import sys, os; sys.path[:0] = os.environ['PYTHONPATH'].split(':');"
                                 f"exec({NORMAL_USER_PROBE!r})"],
                                user=uid, group=gid, extra_groups=[], env=env, cwd=home,
                                capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    layers = json.loads(result.stdout.strip().splitlines()[-1])
    assert "rlimits" in layers
    for layer, (statuses, failures) in layers.items():
        assert statuses == ["ok", "ok"], (layer, statuses)
        assert failures == [], (layer, failures)


# ---------------------------------------------------------------- imports the grader lacks

PLOTTING_FIRST = """import matplotlib.pyplot as plt
import torch
import seaborn as sns
from tqdm import tqdm
from google.colab import drive
import numpy as np
Params = dict
"""


@pytest.mark.parametrize("layer", LAYERS)
def test_missing_packages_cost_nothing(layer: str) -> None:
    sources = [
        PLOTTING_FIRST,
        "fig, ax = plt.subplots(1, 2)\nax[0].plot([1, 2])\nplt.savefig('x.png')\nplt.show()\n"
        "total = 0\nfor i in tqdm(range(4)):\n    total += i\n",
        "def step(z: np.ndarray) -> np.ndarray:\n    return (np.asarray(z) > 0).astype(float)\n"
        "def keep(p: Params) -> Params:\n    return p\n",
        "try:\n    import torch\n    HAVE_TORCH = True\nexcept ImportError:\n    HAVE_TORCH = False\n",
        "x = torch.zeros(3)\n",
    ]
    calls = [Call("step", "step", ([-1.0, 2.0],)), Call("total", "total_of"), Call("have", "have_torch")]
    sources.append("def total_of():\n    return total\ndef have_torch():\n    return HAVE_TORCH\n")
    report = _session(sources, calls, layer)
    assert [c.status for c in report.cells] == ["ok", "ok", "ok", "ok", "error", "ok"]
    assert report.calls["step"].value.tolist() == [0.0, 1.0]
    assert report.calls["total"].value == 6  # tqdm(range(4)) still loops
    assert report.calls["have"].value is False  # a guarded import fails as in the student's kernel
    assert "torch is not available to the grader" in report.cells[4].message
    notes = "\n".join(report.student_notes)
    assert "matplotlib.pyplot is not available to the grader: plots" in notes
    assert "cell 1 went on without it" in notes
    assert "google.colab" in notes and "torch" in notes


def test_a_missing_function_says_why(tmp_path: Path) -> None:
    sources = ["1/0\nimport numpy as np\n", "W = np.zeros(3)\ndef step(z):\n    return z\n"]
    report = _session(sources, [Call("s", "step", (1,)), Call("r", "relu", (1,))], LAYERS[0])
    message = report.calls["s"].message
    assert message.startswith("`step` is not defined: cell 2, which defines it, stopped at line 1")
    assert "because cell 1 stopped at `1/0` (ZeroDivisionError: division by zero)" in message
    assert report.calls["r"].message == "`relu` is not defined in the notebook."


def test_defined_only_outside_code_cells() -> None:
    cells = [CodeCell(1, "import numpy as np\n")]
    from grader.sandbox.session import start_session
    pending = start_session(SessionLimits(), submission_dir=None, isolation=LAYERS[0])
    report = pending.run(cells, [Call("s", "step", (1,))], defined_elsewhere={
        "step": "it is defined in raw cell 4, which is not run: make it a Code cell."})
    assert report.calls["s"].message == ("`step` is not defined: it is defined in raw cell 4, which is "
                                         "not run: make it a Code cell.")


@pytest.mark.parametrize("layer", LAYERS)
def test_writefile_modules_import(layer: str) -> None:
    sources = ["%%writefile hw1_lib.py\ndef twice(x):\n    return 2 * x\n",
               "%%writefile -a hw1_lib.py\n\ndef thrice(x):\n    return 3 * x\n",
               "import hw1_lib\ndef both(x):\n    return hw1_lib.twice(x) + hw1_lib.thrice(x)\n"]
    report = _session(sources, [Call("b", "both", (2,))], layer)
    assert [c.status for c in report.cells] == ["ok", "ok", "ok"], [c.message for c in report.cells]
    assert report.calls["b"].value == 10


def test_skipped_shell_lines_are_told_to_the_student() -> None:
    report = _session(["!pip install torch\n%timeit 1 + 1\nx = 1\n"], [], LAYERS[0])
    assert report.student_notes
    assert report.student_notes[0].startswith("The grader skipped lines it does not run")
    assert "`!pip install torch`" in report.student_notes[0]


def test_the_child_keeps_the_checkout_out_of_sys_path() -> None:
    checkout = str(Path(__file__).resolve().parents[1])
    report = _session(["import sys\ndef path():\n    return list(sys.path)\n"], [Call("p", "path")], LAYERS[0])
    assert not [p for p in report.calls["p"].value if p.startswith(checkout)]


def test_a_function_left_in_a_raw_cell_is_named_in_the_feedback(tmp_path: Path) -> None:
    folder = tmp_path / "submission"
    shutil.copytree(SAMPLES / "reference", folder)
    notebook = nbformat.read(folder / "hw1_code.ipynb", as_version=4)
    position = next(i for i, c in enumerate(notebook.cells)
                    if c.cell_type == "code" and c.source.lstrip().startswith("def step("))
    notebook.cells[position] = nbformat.v4.new_raw_cell(notebook.cells[position].source)
    nbformat.write(notebook, folder / "hw1_code.ipynb")
    document = _grade(folder, tmp_path, LAYERS[0])
    step = next(t for t in document["tests"] if t["extra_data"]["item"] == "p1_step")
    assert step["score"] == 0
    assert f"it is defined in raw cell {position + 1}, which is not run: make it a Code cell" in step["output"]


def test_a_helper_left_in_a_raw_cell_is_named_where_it_is_called() -> None:
    """`forward` is defined and calls `helper`, which sits in a raw cell: its NameError says so."""
    from grader.sandbox.session import start_session

    cells = [CodeCell(2, "def forward(x):\n    return helper(x) + 1\n")]
    pending = start_session(SessionLimits(), submission_dir=None, isolation=LAYERS[0])
    report = pending.run(cells, [Call("f", "forward", (1,))], defined_elsewhere={
        "helper": "it is defined in raw cell 1, which is not run: make it a Code cell."})
    message = report.calls["f"].message
    assert "NameError: name 'helper' is not defined" in message
    assert message.rstrip().endswith("`helper` is not defined: it is defined in raw cell 1, which is not run: "
                                     "make it a Code cell.")
