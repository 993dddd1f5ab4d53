"""The student kit: what it holds, that nothing in it helps with a hidden item, and that its
own checker runs where neither the grader nor the reference solutions can be imported."""

from __future__ import annotations

import ast
import base64
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, RUBRIC, SAMPLES

from grader.checks.feedback import QUOTE, show_value
from grader.cli import main as grader_main
from grader.errors import GraderError
from grader.kit.expression_syntax import Mode, expression_problem
from grader.kit.report import RETEST_NOTE, feedback_lines
from grader.kit.written_format import check_written
from grader.rubric import Rubric
from grader.sandbox.landlock import landlock_abi
from grader.student_kit import WITHHELD, _check_imports, _rewrite, build_student_kit, written_formats
from grader.yamlio import load_untrusted_yaml
from reference_solutions.hw1 import hw1_code

SALT = "kit-test-private-salt-5f1c9e"
PACKAGE = "hw1check"
KIT_TIMEOUT = 300


@pytest.fixture(scope="module")
def kit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit, built while the private salt cannot be read at all, in a folder outside the repo."""
    import grader.seeds

    def no_salt() -> tuple[str, bool]:
        raise AssertionError("the student kit must never read the private salt")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_SALT", SALT)
        patch.setattr(grader.seeds, "private_salt", no_salt)
        out = tmp_path_factory.mktemp("kit")
        build_student_kit(out, RUBRIC)
    assert not out.resolve().is_relative_to(ROOT)
    return out


@pytest.fixture(scope="module")
def kit(kit_dir: Path) -> dict[str, str]:
    """Every file of the kit, by its path relative to the kit's folder."""
    # Running the checker may leave bytecode caches in the kit; they are not part of it.
    return {path.relative_to(kit_dir).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(kit_dir.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def test_kit_has_its_files(kit: dict[str, str], kit_dir: Path) -> None:
    """Notebook and written templates, public checks, README, the checker and its package."""
    top = {name for name in kit if "/" not in name}
    assert top == {"hw1_code.ipynb", "hw1_written.yaml", "public_checks.json", "README.md", "check.py"}
    for name in ("checker.py", "report.py", "kit.json", "sandbox/child.py", "sandbox/session.py",
                 "sandbox/isolation.py", "sandbox/wire.py", "notebook.py", "checks/arrays.py"):
        assert f"{PACKAGE}/{name}" in kit, name
    assert "python check.py" in kit["README.md"]
    assert "grader check" not in kit["README.md"]
    assert "ESTIMATE" in kit["README.md"]


def test_notebook_is_the_template(kit: dict[str, str]) -> None:
    """The handed-out notebook is byte for byte the template sample."""
    assert kit["hw1_code.ipynb"] == (SAMPLES / "template" / "hw1_code.ipynb").read_text(
        encoding="utf-8"
    )


def test_kit_holds_no_solution_code(kit: dict[str, str]) -> None:
    """No solution marker, nor any solution line over 25 chars that the template lacks."""
    template = kit["hw1_code.ipynb"]
    text = "\n".join(kit.values())  # every file of the kit, the checker's code included
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "reference_solutions" not in text
    inside, solution_lines = False, []
    for line in Path(hw1_code.__file__).read_text(encoding="utf-8").splitlines():
        if line.strip() == "# BEGIN SOLUTION":
            inside = True
        elif line.strip() == "# END SOLUTION":
            inside = False
        elif inside and len(line.strip()) > 25 and json.dumps(line.strip())[1:-1] not in template:
            solution_lines.append(line.strip())
    assert solution_lines, "the reference should have solution lines to look for"
    for line in solution_lines:
        assert line not in text and json.dumps(line)[1:-1] not in text, line


def test_written_template_parses_with_every_key_and_no_answer(
    kit: dict[str, str], rubric: Rubric, tmp_path: Path
) -> None:
    """Every answer key of the rubric is there, and no value is the reference's answer."""
    path = tmp_path / "hw1_written.yaml"
    path.write_text(kit["hw1_written.yaml"], encoding="utf-8")
    answers = load_untrusted_yaml(path)
    reference = load_untrusted_yaml(SAMPLES / "reference" / "hw1_written.yaml")
    for item in rubric.items_of("written"):
        assert item.answer in answers
        assert answers[item.answer] != reference[item.answer], item.answer
    for value in ("3*m*n", "2*m*n + m", "m*n + 2*n**2", "m > n", "O(n^2)", "[x, a1]", "48, 12, 24"):
        assert value not in kit["hw1_written.yaml"], value


def test_public_checks_cover_only_visible_notebook_items(
    kit: dict[str, str], rubric: Rubric
) -> None:
    """Exactly the visible notebook items; the reference's outputs on the public inputs."""
    checks = json.loads(kit["public_checks.json"])
    visible = [i.id for i in rubric.items_of("notebook") if i.visibility == "visible"]
    assert [c["id"] for c in checks] == visible
    step = next(c for c in checks if c["id"] == "p1_step")
    for case in step["cases"]:
        assert case["expected"] == hw1_code.step(np.array(case["args"][0])).tolist()
    assert all(case["expected"] is not None for c in checks for case in c["cases"])


def test_kit_reveals_no_hidden_item(kit: dict[str, str], rubric: Rubric) -> None:
    """No hidden id (in any file), no salt, and the hidden kth_largest_params answers are withheld."""
    text = "\n".join(kit.values())
    for item in rubric.items:
        if item.visibility == "hidden":
            assert item.id not in text, item.id
    assert SALT not in text and "development-salt" not in text
    forward = next(
        c for c in json.loads(kit["public_checks.json"]) if c["id"] == "p1_hardcoded_forward"
    )
    # Its public inputs are random integer networks, never the hidden item's answers.
    assert all(case["args"][0] != WITHHELD for case in forward["cases"])
    lists = list(_lists(json.loads(kit["public_checks.json"])))
    arrays = [array for name in kit if name.endswith(".json") for array in _wire_arrays(json.loads(kit[name]))]
    assert arrays, "the kit's calls should hold wire-encoded arrays"
    for k in range(1, 5):
        params: dict[str, Any] = hw1_code.kth_largest_params(k)
        assert np.asarray(params["W1"]).tolist() not in lists
        for key in ("W1", "w2"):
            hidden = np.asarray(params[key])
            assert not any(a.shape == hidden.shape and np.array_equal(a, hidden) for a in arrays), (k, key)


def _wire_arrays(value: Any) -> Iterator[np.ndarray]:
    """Every array in the sandbox's wire format (base64 of its bytes) inside a JSON value."""
    if isinstance(value, dict):
        body = value.get("$array")
        if isinstance(body, dict) and set(body) == {"dtype", "shape", "data"}:
            raw = base64.b64decode(body["data"])
            yield np.frombuffer(raw, dtype=np.dtype(body["dtype"])).reshape(body["shape"])
        for child in value.values():
            yield from _wire_arrays(child)
    elif isinstance(value, list):
        for child in value:
            yield from _wire_arrays(child)


def _lists(value: Any) -> Any:
    """Every list inside a JSON value, outermost first."""
    if isinstance(value, list):
        yield value
        for child in value:
            yield from _lists(child)
    elif isinstance(value, dict):
        for child in value.values():
            yield from _lists(child)


# ---------------------------------------------------------------- the checker's data and code

def test_public_calls_are_lossless(kit: dict[str, str]) -> None:
    """The checker's arguments and expected outputs keep every bit: -0.0, denormals, dtypes."""
    step = next(c for c in json.loads(kit["public_checks.json"]) if c["id"] == "p1_step")
    first = step["cases"][0]["call"]
    edges = next(_wire_arrays(first["args"]))
    assert edges.dtype == np.float64 and 5e-324 in edges
    assert np.signbit(edges[edges == 0]).tolist() == [True, False]
    expected = next(_wire_arrays(first["expected"]))
    assert expected.tobytes() == hw1_code.step(edges).tobytes()
    assert step["tolerance"] == {"rtol": 0.0, "atol": 0.0}


def test_checker_semantics_are_data(kit: dict[str, str]) -> None:
    """Tolerances per item; select, return_args and unchanged inputs per call; stand-ins public."""
    checks = {c["id"]: c for c in json.loads(kit["public_checks.json"])}
    assert checks["p3_quadratic_hessian"]["tolerance"] == {"rtol": 1e-6, "atol": 1e-8}
    assert all(case["call"]["select"] == 0 for case in checks["p4_loss"]["cases"])
    grad = checks["p2_numerical_grad"]["cases"][0]["call"]
    assert grad["return_args"] and grad["unchanged"] == [[1, "x"]]
    assert grad["args"][0] == {"$fn": "lambda x: float(np.sum(np.sin(x) * x**2))"}
    sgd = checks["p4_sgd_step"]
    assert sgd["tolerance"] == {"rtol": 1e-9, "atol": 1e-12}
    assert all(case["call"]["unchanged"] == [[0, "params"], [1, "grads"]] for case in sgd["cases"])
    for k, case in zip(range(1, 5), checks["p1_hardcoded_forward"]["cases"], strict=True):
        stand_in = case["call"]["args"][0]["$dict"]
        assert [key for key, _ in stand_in] == list(hw1_code.kth_largest_params(k))


def test_kit_code_imports_only_itself_numpy_yaml_and_stdlib(kit: dict[str, str]) -> None:
    """No module of the kit imports grader or reference_solutions, even under TYPE_CHECKING."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "yaml", "safetensors", PACKAGE}
    for name, text in kit.items():
        if name.endswith(".py"):
            for node in ast.walk(ast.parse(text, name)):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                    for module in modules:
                        assert module and module.split(".")[0] in allowed, (name, module)


def test_rewrite_and_import_check() -> None:
    """Imports of copied modules are rewritten; one of a module not copied stops the build."""
    source = "from grader.kit.checker import main\n    from grader.sandbox import wire\nimport graderx\n"
    assert _rewrite(source, PACKAGE) == (
        f"from {PACKAGE}.checker import main\n    from {PACKAGE}.sandbox import wire\nimport graderx\n")
    copied = {f"{PACKAGE}/sandbox/__init__.py": "", f"{PACKAGE}/sandbox/wire.py": "import numpy\n"}
    _check_imports({**copied, f"{PACKAGE}/a.py": f"from {PACKAGE}.sandbox import wire\n"}, PACKAGE)
    for bad in (f"from {PACKAGE}.paths import secret_paths\n", "import reference_solutions\n",
                "from grader.engine import grade\n", "from . import wire\n"):
        with pytest.raises(GraderError):
            _check_imports({**copied, f"{PACKAGE}/a.py": bad}, PACKAGE)


# ---------------------------------------------------------------- the checker, run as a student would

class CleanPython:
    """A Python where only numpy and PyYAML are importable: no grader, no reference solutions.

    `-S` skips site-packages and its .pth files (which is how the editable install of the grader
    is found); PYTHONPATH names a folder holding only links to numpy and yaml.
    """

    def __init__(self, folder: Path) -> None:
        site = folder / "site"
        site.mkdir()
        for name in ("numpy", "yaml"):
            spec = importlib.util.find_spec(name)
            assert spec is not None and spec.submodule_search_locations
            package = Path(next(iter(spec.submodule_search_locations))).resolve()
            for source in (package, package.parent / f"{name}.libs"):
                if source.exists():
                    try:
                        (site / source.name).symlink_to(source, target_is_directory=True)
                    except OSError:
                        shutil.copytree(source, site / source.name)
        home = folder / "home"
        home.mkdir()
        self.env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site), "HOME": str(home),
                    "PYTHONNOUSERSITE": "1", "PYTHONIOENCODING": "utf-8",
                    "PYTHONDONTWRITEBYTECODE": "1"}
        if os.name == "nt":
            self.env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")

    def run(self, *args: str, cwd: Path, isolation: str | None = None) -> subprocess.CompletedProcess[str]:
        """`python -S ARGS` in `cwd`, optionally forcing the sandbox's isolation layer."""
        env = dict(self.env, **({"GRADER_ISOLATION": isolation} if isolation else {}))
        return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, encoding="utf-8", timeout=KIT_TIMEOUT, check=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> CleanPython:
    """The student's laptop: numpy and PyYAML only."""
    return CleanPython(tmp_path_factory.mktemp("laptop"))


def _sample(name: str, tmp_path: Path) -> Path:
    """A copy of a sample submission, outside the repository."""
    return Path(shutil.copytree(SAMPLES / name, tmp_path / name))


def _rows(out: str) -> dict[str, str]:
    """The table's item lines (between its two rules), by item id."""
    lines = out.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    assert len(rules) == 2, out
    table = lines[rules[0] + 1:rules[1]]
    return {line.split()[0]: line for line in table if not line.startswith(" ")}


def test_clean_python_has_no_grader(clean: CleanPython, kit_dir: Path) -> None:
    """Where the checker runs, numpy and yaml import; grader and reference_solutions do not."""
    assert clean.run("-c", "import numpy, yaml", cwd=kit_dir).returncode == 0
    for module in ("grader", "reference_solutions"):
        result = clean.run("-c", f"import {module}", cwd=kit_dir)
        assert result.returncode != 0 and f"No module named '{module}'" in result.stderr, result.stderr


@pytest.mark.parametrize("isolation", ["rlimits", None])
def test_kit_check_reference_earns_every_public_point(
    isolation: str | None, clean: CleanPython, kit_dir: Path, rubric: Rubric, tmp_path: Path
) -> None:
    """Every public item passes; p5 is an estimate; rlimits (a laptop's layer) says so."""
    result = clean.run("check.py", str(_sample("reference", tmp_path)), cwd=kit_dir, isolation=isolation)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    visible = [item for item in rubric.items if item.visibility == "visible"]
    rows = _rows(out)
    assert list(rows) == [item.id for item in visible]
    for item in visible:
        assert f" {item.points:g}/{item.points:g}  PASS" in rows[item.id], out
    assert "PASS (estimate)" in rows["p5_accuracy"]
    assert f"Public total: {sum(i.points for i in visible):g} of {sum(i.points for i in visible):g} points" in out
    assert RETEST_NOTE in out  # the public total is not what Gradescope gives
    assert "parses and has every expected key" in out
    if isolation == "rlimits":
        assert "Isolation layer used for your notebook: rlimits" in out
        assert ("confined by Landlock" if landlock_abi() else "WITHOUT isolation") in out
    else:
        assert "Isolation layer used for your notebook: " in out


def test_kit_check_template_scores_zero(clean: CleanPython, kit_dir: Path, rubric: Rubric) -> None:
    """The handed-out kit itself, checked from its folder with no PATH: 0 public points, exit 0."""
    result = clean.run("check.py", cwd=kit_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    public = sum(item.points for item in rubric.items if item.visibility == "visible")
    assert f"Public total: 0 of {public:g} points" in result.stdout
    assert all("FAIL" in row for row in _rows(result.stdout).values())
    assert "not implemented yet" in result.stdout
    assert "hw1_weights.npz was not found" in result.stdout
    assert "hw1_written.yaml parses and has every expected key" in result.stdout
    # The untouched template parses, but nothing in it is an answer yet.
    written = _written_lines(result.stdout)
    assert len(written) == 11 and all(status == "not answered yet" for status in written.values()), written


def test_kit_check_inplace_sgd_fails_like_grader_check(
    clean: CleanPython, kit_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An in-place sgd_step loses half of p4_sgd_step, with the same feedback as `grader check`."""
    sample = _sample("inplace_sgd", tmp_path)
    result = clean.run("check.py", str(sample), cwd=kit_dir, isolation="rlimits")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1.5/3  FAIL" in _rows(result.stdout)["p4_sgd_step"]
    assert "sgd_step changed its inputs (params['W1']" in result.stdout
    assert grader_main(["check", str(sample), "--rubric", str(RUBRIC)]) == 0
    staff = capsys.readouterr().out
    assert _block(staff, "p4_sgd_step") == _block(result.stdout, "p4_sgd_step")


def test_kit_check_cannot_tell_a_lookup_table_and_says_so(
    clean: CleanPython, kit_dir: Path, rubric: Rubric, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table of the public answers passes every public check (the kit has no hidden inputs), and
    the report says that Gradescope re-tests on other inputs; `grader check` prints the same."""
    sample = _sample("public_lookup_table", tmp_path)
    result = clean.run("check.py", str(sample), cwd=kit_dir, isolation="rlimits")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    notebook = [item.id for item in rubric.items_of("notebook") if item.visibility == "visible"]
    assert all(" PASS" in rows[item_id] for item_id in notebook), result.stdout
    assert RETEST_NOTE in result.stdout
    assert grader_main(["check", str(sample), "--rubric", str(RUBRIC)]) == 0
    staff = capsys.readouterr().out
    assert all(" PASS" in _rows(staff)[item_id] for item_id in notebook) and RETEST_NOTE in staff
    assert "runs each public function again" in (kit_dir / "README.md").read_text(encoding="utf-8")


def test_kit_check_weights_problems(clean: CleanPython, kit_dir: Path, tmp_path: Path) -> None:
    """A weights file with transposed arrays: p5 scores 0 and says why, before any estimate."""
    result = clean.run("check.py", str(_sample("transposed_weights", tmp_path)), cwd=kit_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0/25  FAIL (estimate)" in _rows(result.stdout)["p5_accuracy"]
    assert "hw1_weights.npz: W1 has shape (128, 4); expected (4, H) (transposed?" in result.stdout


def test_kit_check_cannot_run_exits_two(clean: CleanPython, kit_dir: Path, tmp_path: Path) -> None:
    """A wrong path: a message and exit status 2."""
    result = clean.run("check.py", str(tmp_path / "no-such-folder"), cwd=kit_dir)
    assert result.returncode == 2
    assert "error" in result.stdout and "no such folder" in result.stdout


def test_kit_check_on_a_file_is_an_error_and_a_closed_pipe_is_quiet(
    clean: CleanPython, kit_dir: Path, tmp_path: Path
) -> None:
    """`check.py hw1_code.ipynb`: exit 2 saying what to give; `check.py | head`: no traceback."""
    result = clean.run("check.py", "hw1_code.ipynb", cwd=kit_dir)
    assert result.returncode == 2 and "is a file, not a folder or a zip" in result.stdout
    sample = _sample("reference", tmp_path)
    # The reader is gone before anything is printed (as `| head` is once it has its lines).
    process = subprocess.Popen([sys.executable, "-S", "check.py", str(sample)], cwd=kit_dir, env=clean.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read().decode(errors="replace")
    assert process.wait(timeout=KIT_TIMEOUT) == 0
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors


def _block(out: str, item_id: str) -> list[str]:
    """An item's line of the table and its feedback lines."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{item_id} "))
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    return lines[start:end]


_WITHOUT_WAITID = """\
import os, runpy, sys
# macOS before Python 3.13 has neither os.waitid nor os.pidfd_open.
del os.waitid, os.pidfd_open
sys.argv = ["check.py", *sys.argv[1:]]
runpy.run_path("check.py", run_name="__main__")
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="emulates macOS by removing Linux calls")
def test_kit_check_runs_without_waitid(clean: CleanPython, kit_dir: Path, tmp_path: Path) -> None:
    """A macOS laptop's Python: the checker still runs (under rlimits) and prints the table."""
    result = clean.run("-c", _WITHOUT_WAITID, str(_sample("inplace_sgd", tmp_path)), cwd=kit_dir,
                       isolation="rlimits")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1.5/3  FAIL" in _rows(result.stdout)["p4_sgd_step"]


# ---------------------------------------------------------------- what the report shows (new-user trial)

# The trial's written answers that parse but score 0 for their format.
BAD_FORMATS = {"q1_3_cost.multiplications": ('O(n^2)', 'O(n^2'),
               "q1_3_1_cost.forward_better_when": ("m > n", "m bigger than n"),
               "q1_3_1_z": ("[48, 12, 24]", "[48, 12]"),
               "q1_2_graph": ("- [x, a1]", "- [x, z9]")}
# A step that fails deep down (a long traceback, long lines) after printing a lot.
BROKEN_STEP = '''
def _deep(z, depth):
    if depth == 0:
        raise ValueError("deliberately broken step " + "x" * 300)
    return _deep(z, depth - 1)


def step(z):
    print("debug\\n" * 10)
    return _deep(z, 6)
'''


def _trial_submission(folder: Path) -> Path:
    """The reference with the trial's faults: a wrong indicator's edges, a step that raises, the
    written answers of BAD_FORMATS, and the notebook saved by a browser as `hw1_code (1).ipynb`."""
    reference = SAMPLES / "reference"
    folder.mkdir()
    notebook = json.loads((reference / "hw1_code.ipynb").read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        cell["source"] = source.replace("(z >= -1.0) & (z <= 1.0)", "(z > -1.0) & (z < 1.0)")
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                              "source": BROKEN_STEP})
    (folder / "hw1_code (1).ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    written = (reference / "hw1_written.yaml").read_text(encoding="utf-8")
    for right, wrong in BAD_FORMATS.values():
        assert right in written
        written = written.replace(right, wrong, 1)
    (folder / "hw1_written.yaml").write_text(written, encoding="utf-8")
    shutil.copy2(reference / "hw1_weights.npz", folder / "hw1_weights.npz")
    return folder


def _written_lines(out: str) -> dict[str, str]:
    """The written-answers report: status by answer key."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Written answers:"))
    rows = [line.split(None, 1) for line in lines[start + 1:] if line.startswith("  ")]
    return {key: status for key, status in rows if key.startswith("q")}


def test_kit_report_shows_verdicts_hints_and_formats(
    clean: CleanPython, kit_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The trial's submission: verdict and hint in full, inputs short, tracebacks cut, answers' formats."""
    sample = _trial_submission(tmp_path / "trial")
    result = clean.run("check.py", str(sample), cwd=kit_dir, isolation="rlimits")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    indicator = "\n".join(_block(out, "p1_indicator"))
    assert ("returned a result that differs: 2 of 9 entries differ (tolerance rtol=0, atol=0); first at [2]: "
            "expected 1, got 0.") in indicator
    assert "indicator(array(9,) [-1.505, -1.000000000001, -1.0," in indicator
    assert "Hint: The indicator is 1 on the closed interval [-1, 1]: both edges count." in indicator
    step = _block(out, "p1_step")
    assert any("more lines; --full shows them" in line for line in step)
    assert any(line.strip().startswith("ValueError: deliberately broken step") and line.endswith("…")
               for line in step)
    assert "Used hw1_code (1).ipynb as hw1_code.ipynb" in out
    written = _written_lines(out)
    assert set(BAD_FORMATS) <= set(written)
    for key, status in written.items():
        assert status.startswith("problem: ") == (key in BAD_FORMATS), (key, status)
    assert "missing ')'" in written["q1_3_cost.multiplications"]
    assert "unknown name 'bigger'" in written["q1_3_1_cost.forward_better_when"]
    assert "should be a list of 3 numbers; got shape (2,)" in written["q1_3_1_z"]
    assert "unknown node(s) z9" in written["q1_2_graph"]
    # `grader check` prints the same blocks and the same written report.
    assert grader_main(["check", str(sample), "--rubric", str(RUBRIC)]) == 0
    staff = capsys.readouterr().out
    assert _block(staff, "p1_indicator") == _block(out, "p1_indicator")
    assert _written_lines(staff) == written


def test_kit_check_full_prints_every_line(clean: CleanPython, kit_dir: Path, tmp_path: Path) -> None:
    """`check.py --full`: the whole traceback, the long line uncut, what the code printed."""
    result = clean.run("check.py", "--full", str(_trial_submission(tmp_path / "trial")), cwd=kit_dir,
                       isolation="rlimits")
    assert result.returncode == 0, result.stdout + result.stderr
    step = "\n".join(_block(result.stdout, "p1_step"))
    assert "more lines" not in step
    assert "ValueError: deliberately broken step " + "x" * 300 in step
    assert step.count("debug") >= 10 and "Traceback (most recent call last):" in step


def test_feedback_lines_keep_the_graders_lines_whole() -> None:
    """Unquoted lines (verdicts, hints) in full however long; quoted blocks cut to their last lines."""
    verdict = "f(" + "a" * 300 + ") returned a result that differs: 1 of 3 entries differ; first at [2]."
    traceback = [f"{QUOTE}line {i}" for i in range(9)] + [f"{QUOTE}" + "w" * 150, f"{QUOTE}ValueError: " + "v" * 400]
    text = "\n".join(["2 of 3 cases passed.", verdict, "It printed:", *traceback, "Hint: look at the edges."])
    lines = feedback_lines(text)
    assert lines[:3] == ["2 of 3 cases passed.", verdict, "It printed:"]
    assert lines[3] == f"{QUOTE}… (7 more lines; --full shows them)"
    assert lines[4:6] == [f"{QUOTE}line 7", f"{QUOTE}line 8"]
    assert lines[6].endswith("…") and len(lines[6]) == 100  # a line of the traceback: the table's width
    assert lines[7].endswith("…") and len(lines[7]) == 300  # its error message: three times that
    assert lines[8] == "Hint: look at the edges."
    assert feedback_lines(text, full=True) == text.splitlines()


def test_the_same_traceback_under_several_inputs_is_shown_once() -> None:
    """Three inputs, one error: the traceback once, the other inputs named; more cases counted."""
    from grader.checks.feedback import score_cases

    trace = "  Traceback (most recent call last):\n  ValueError: matmul mismatch"
    failures = [f"Calling f(input {i}) raised an error:\n{trace}" for i in range(5)]
    outcome = score_cases("ok", failures, 5, partial=True)
    lines = outcome.feedback.splitlines()
    assert lines[0] == "0 of 5 cases passed."
    assert outcome.feedback.count("ValueError: matmul mismatch") == 1
    assert lines[-3:] == ["Calling f(input 1) raised an error (the same error as above).",
                          "Calling f(input 2) raised an error (the same error as above).",
                          "(2 more failing cases not shown.)"]


def test_show_value_is_one_short_line() -> None:
    """Small inputs exactly, large ones as shape and first entries, big dicts as shapes."""
    assert show_value(np.array([-1 - 1e-12, 5e-324, -0.0])) == "array(3,) [-1.000000000001, 5e-324, -0.0]"
    big = show_value(np.arange(128.0).reshape(32, 4) / 3)
    assert big == "array(32, 4) starting 0, 0.333333, 0.666667, 1, …"
    params = {key: np.ones((5, 4)) for key in ("W1", "b1", "W2", "b2", "W3", "W4")}
    assert show_value(params) == "{" + ", ".join(f"'{key}': array(5, 4)" for key in params) + "}"
    assert "\n" not in show_value(np.ones((4, 4)))


# ---------------------------------------------------------------- written answers' formats

@pytest.fixture(scope="module")
def formats(rubric: Rubric) -> list[dict[str, Any]]:
    """The formats the kit checks the written answers against."""
    return written_formats(rubric)


def _formats_of(text: str, formats: list[dict[str, Any]], tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "hw1_written.yaml"
    path.write_text(text, encoding="utf-8")
    check = check_written("hw1_written.yaml", path, "not found", formats)
    assert not check.problems, check.problems
    return {answer.key: answer.text() for answer in check.answers}


def test_reference_answers_have_the_right_format(formats: list[dict[str, Any]], tmp_path: Path) -> None:
    """Every answer of the reference (and of the answer key's forms) is OK."""
    statuses = _formats_of((SAMPLES / "reference" / "hw1_written.yaml").read_text(encoding="utf-8"), formats,
                           tmp_path)
    assert len(statuses) == 11 and set(statuses.values()) == {"OK format"}


def test_template_is_not_answered_yet(formats: list[dict[str, Any]], kit: dict[str, str], tmp_path: Path) -> None:
    """The handed-out template: every answer "not answered yet"."""
    statuses = _formats_of(kit["hw1_written.yaml"], formats, tmp_path)
    assert set(statuses.values()) == {"not answered yet"}


@pytest.mark.parametrize(("answer", "key", "expected"), [
    ('q1_3_cost: {multiplications: "O(n^2", memory: O(n)}', "q1_3_cost.multiplications",
     "problem: missing ')' for the '(' at position 2"),
    ("q1_3_cost: {multiplications: n^2 + n, memory: O(n)}", "q1_3_cost.multiplications", "OK format"),
    ("q1_3_cost: {multiplications: 2 O(n^2), memory: O(n)}", "q1_3_cost.multiplications",
     "problem: O(...) must wrap the whole answer, as in O(n^2 + m)"),
    ("q1_3_cost: {multiplications: O(n²), memory: ''}", "q1_3_cost.memory", "not answered yet"),
    ("q1_3_1_cost: {forward_better_when: m bigger than n}", "q1_3_1_cost.forward_better_when",
     "problem: unknown name 'bigger' at position 3; the only variables are m and n"),
    ("q1_3_1_cost: {forward_better_when: m + n}", "q1_3_1_cost.forward_better_when",
     "problem: write a comparison such as m > n"),
    ("q1_3_1_cost: {reverse_multiplications: O(mn)}", "q1_3_1_cost.reverse_multiplications",
     "problem: O(...) at position 1: write the exact expression, not a big-O bound"),
    ("q1_3_1_cost: {reverse_multiplications: 3 m n *}", "q1_3_1_cost.reverse_multiplications",
     "problem: the answer ends too early: something is missing after '*' at position 7"),
    ("q1_3_1_cost: {reverse_multiplications: 4}", "q1_3_1_cost.reverse_multiplications", "OK format"),
    ("q1_3_1_cost: {reverse_multiplications: true}", "q1_3_1_cost.reverse_multiplications",
     "problem: write the expression as text in quotes, not true/false"),
    ("q1_3_1_z: [48, 12]", "q1_3_1_z", "problem: the answer should be a list of 3 numbers; got shape (2,)"),
    ("q1_3_1_z: [[1], [2], [3]]", "q1_3_1_z", "OK format"),
    ("q1_3_hessian: [1, 2, 3, 4, 5, 6, 7, 8, 9]", "q1_3_hessian",
     "problem: the answer should be 3 x 3 (a list of rows); got shape (9,)"),
    ("q1_3_hessian: [[1, 2, 3], [4, 5], [6, 7, 8]]", "q1_3_hessian", "problem: "),
    ("q1_2_graph: [[x, a_1], [W1, a1], [y_prime, S]]", "q1_2_graph", "OK format"),
    ("q1_2_graph: [[x, a1], [x]]", "q1_2_graph", "problem: entry 2 is not a [from, to] pair"),
    ("q1_2_graph: [[x, hidden]]", "q1_2_graph", "problem: unknown node(s) hidden; the nodes are "),
    ("q1_1: {W1: [[1, 2, 3, 4]], b1: [0, 0, 0], w2: [1, 1, 1], b2: 0, phi1: indicator, phi2: indicator}", "q1_1",
     "problem: W1 should be 3 x 4 (a list of rows); got shape (1, 4)"),
    ("q1_1: {W1: [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], b1: [0, 0, 0], w2: [0, 0, 0], b2: 0, phi1: '',"
     " phi2: ''}", "q1_1", "problem: phi1 is empty; write one of hard_threshold, indicator"),
    ("q1_1: {W1: [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], b1: [0, 0, 0], w2: [0, 0, 0], b2: 0, "
     "phi1: Hard threshold, phi2: relu}", "q1_1", "problem: phi2 should be one of hard_threshold, indicator"),
    # The problem's hard threshold is I(z > 0), the notebook's step: grading reads both names.
    ("q1_1: {W1: [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], b1: [0, 0, 0], w2: [0, 0, 0], b2: 0, "
     "phi1: step, phi2: Indicator}", "q1_1", "OK format"),
])
def test_answer_formats(formats: list[dict[str, Any]], tmp_path: Path, answer: str, key: str, expected: str) -> None:
    """Each kind of answer: OK, not answered yet, or the problem with its format."""
    statuses = _formats_of(answer + "\n", formats, tmp_path)
    assert statuses[key].startswith(expected), statuses[key]


def test_missing_keys_and_unreadable_files(formats: list[dict[str, Any]], tmp_path: Path) -> None:
    """A missing key is a problem of its own; a file that does not parse is one problem."""
    statuses = _formats_of("q1_1: {}\n", formats, tmp_path)
    assert statuses["q1_3_1_z"] == "problem: the key q1_3_1_z is missing; keep every key of the template"
    path = tmp_path / "hw1_written.yaml"
    path.write_text("q1_1: [\n", encoding="utf-8")
    check = check_written("hw1_written.yaml", path, "not found", formats)
    assert len(check.problems) == 1 and check.problems[0].startswith("hw1_written.yaml is not valid YAML: line 2")
    assert check_written("hw1_written.yaml", None, "not found", formats).problems == ("not found",)


SYNTAX_CORPUS = ["3*m*n", "3mn", "3 m n", "n^2", "n**2", "n²", "2*m*n + m", "m*n + 2*n**2", "n(m+1)",
                 "(n+1)(m+1)", "n^-1", "n^(2)", "n^(-2)", "−n + m", "m·n", "n × m", "O(n^2)", "O(n^2 + n)",
                 "O(1)", "m > n", "n < m", "m >= 2*n", "m ≥ n", "m == n", "m = n", "m => n", "O(n^2",
                 "n^2)", "()", "O()", "n^m", "n^2.5", "2 3", "n2", "m bigger than n", "n > m > 1", "> n",
                 "n +", "*n", "x", "o(n)", "O n", "n O(n)", "1.", ".5", "n{2}", "n,m", "1/2n", "n^2^3"]


@pytest.mark.parametrize("mode", ["expression", "big_o", "comparison"])
def test_syntax_check_is_never_stricter_than_the_grader(mode: Mode) -> None:
    """Whatever grading reads, the kit's syntax check accepts (over a corpus and random text)."""
    from grader.checks import expressions

    # Grading reads a big-O answer with or without its O(...) (equal_big_o: require_o=False).
    parse = {"expression": expressions.parse_expression,
             "big_o": functools.partial(expressions.parse_big_o, require_o=False),
             "comparison": expressions.parse_comparison}[mode]
    rng = np.random.default_rng(7)
    pieces = ["n", "m", "2", "0.5", "+", "-", "*", "/", "^", "**", "(", ")", " ", "O", "²", "=", ">", "mn"]
    random = ["".join(rng.choice(pieces, size=int(rng.integers(1, 8)))) for _ in range(3000)]
    wrapped = {"expression": "{}", "big_o": "O({})", "comparison": "{} > n"}[mode]  # most random text would fail
    texts = SYNTAX_CORPUS + random + [wrapped.format(text) for text in random]
    agreed = 0
    for text in texts:
        try:
            parse(text)
        except expressions.ParseError:
            continue
        assert expression_problem(text, mode, ["m", "n"]) is None, text
        agreed += 1
    assert agreed > 20


def test_kit_holds_no_written_reference_answer(kit: dict[str, str], rubric: Rubric) -> None:
    """The formats in kit.json: shapes, node names, kinds; no reference value or edge."""
    data = json.loads(kit[f"{PACKAGE}/kit.json"])
    text = json.dumps(data["written_formats"])
    reference = rubric.load_written_reference()
    for key, value in reference.items():
        leaves = [value] if not isinstance(value, dict) else list(value.values())
        for leaf in leaves:
            if isinstance(leaf, str) and leaf in ("hard_threshold", "indicator"):
                continue  # the contract's two choices for phi1 and phi2
            assert json.dumps(leaf) not in text, (key, leaf)
    for source, target in reference["q1_2_graph"]:
        assert json.dumps([source, target]) not in text


def test_public_checks_do_not_reveal_a_written_answer(kit: dict[str, str], rubric: Rubric) -> None:
    """No visible item's input or expected output is a written reference array (the 1.3 Hessian, z)."""
    reference = rubric.load_written_reference()
    answers = [np.asarray(value, dtype=float) for value in reference.values()
               if isinstance(value, list) and np.asarray(value).dtype.kind in "iuf"]
    assert answers, "the written reference has arrays to look for"

    def arrays(node: Any) -> Iterator[np.ndarray]:
        if isinstance(node, dict):
            for value in node.values():
                yield from arrays(value)
        elif isinstance(node, list):
            candidate = np.asarray(node, dtype=object)
            if candidate.size and all(isinstance(v, (int, float)) for v in candidate.ravel().tolist()):
                yield candidate.astype(float)
            for value in node:
                yield from arrays(value)

    for found in arrays(json.loads(kit["public_checks.json"])):
        for answer in answers:
            same = found.shape == answer.shape and np.allclose(found, answer)
            assert not same, f"public_checks.json holds a written answer: {answer.tolist()}"


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if (p / "hw1_written.yaml").is_file()))
def test_answers_with_full_marks_have_the_right_format(
    sample: str, formats: list[dict[str, Any]], rubric: Rubric
) -> None:
    """No answer that earns its part's full points in a sample is flagged (e.g. equivalent forms)."""
    parts = json.loads((SAMPLES / sample / "expected.json").read_text(encoding="utf-8"))["parts"]
    full = {item.answer for item in rubric.items_of("written") if parts.get(item.part) == item.points}
    check = check_written("hw1_written.yaml", SAMPLES / sample / "hw1_written.yaml", "not found", formats)
    flagged = [answer.text() for answer in check.answers
               if answer.key.split(".")[0] in full and answer.status != "OK format"]
    assert not flagged, flagged
