"""Writes the behaviour-named sample submissions in sample_submissions/hw1/.

Each sample is derived from the reference (a notebook edited in one place, an answers file
written another way) so it stays in step when the reference changes. Run
`python tests/make_samples.py` after changing reference_solutions/; test_samples.py checks
the committed files are up to date.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_submissions" / "hw1"
REFERENCE = SAMPLES / "reference"

WRITTEN_OK = {"q1_1": 10, "q1_2_graph": 5, "q1_3_hessian": 5, "q1_3_cost": 5, "q1_3_1_z": 4, "q1_3_1_cost": 6}
WRITTEN_ZERO = dict.fromkeys(WRITTEN_OK, 0)
CODE_OK = {"p1": 15, "p2": 25, "p3": 20, "p4": 15}
CODE_ZERO = dict.fromkeys(CODE_OK, 0)
P5_FULL = {"p5": 25}

ANSWER_KEY_YAML = """\
# The seed's answer key, typed in as a submission. Its 1.1 answers another problem
# (superincreasing sequences) and its 1.3 Hessian is v v^T for v = [3, 1, 4].
q1_1:
  W1: [[-1, 1, 0, 0], [-1, -1, 1, 0], [-1, -1, -1, 1]]
  b1: [0, 0, 0]
  w2: [1, 1, 1]
  b2: -3.5
  phi1: hard_threshold
  phi2: indicator
q1_2_graph:
  - [x, a1]
  - [a1, c1]
  - [x, a2]
  - [a2, c2]
  - [c1, g]
  - [c2, g]
  - [g, y]
  - [x, y]
  - [y, y']
  - [y', S]
  - [t, S]
  - [S, J]
q1_3_hessian: [[9, 3, 12], [3, 1, 4], [12, 4, 16]]
q1_3_cost: {multiplications: "O(n^2)", memory: "O(n^2)"}
q1_3_1_z: [48, 12, 24]
q1_3_1_cost:
  reverse_multiplications: "mn + mn + mn"
  reverse_memory: "2mn + m"
  forward_multiplications: "n^2 + n^2 + mn"
  forward_memory: "n^2 + n + mn"
  forward_better_when: "m > n"
"""

CORRECT_DIFFERENT_YAML = """\
# Right answers in other forms: another network (scaled weights, a margin in b2), weight
# nodes and y_prime in the graph, floats, other notations for every expression.
q1_1:
  W1: [[5, -5, 0, 0], [5, 0, -5, 0], [5, 0, 0, -5]]
  b1: [0, 0, 0]
  w2: [-3, -3, -3]
  b2: 6.5
  phi1: hard_threshold
  phi2: indicator
q1_2_graph:
  - [x, a1]
  - [W1, a1]
  - [b1, a1]
  - [a1, c1]
  - [x, a2]
  - [W2, a2]
  - [a2, c2]
  - [c1, g]
  - [c2, g]
  - [g, y]
  - [W3, y]
  - [x, y]
  - [W4, y]
  - [y, y_prime]
  - [y_prime, S]
  - [t, S]
  - [S, J]
q1_3_hessian: [[16.0, 8.0, 20.0], [8.0, 4.0, 10.0], [20.0, 10.0, 25.0]]
q1_3_cost: {multiplications: "O(n² + n)", memory: "O(3n^2)"}
q1_3_1_z: [48.0, 12.0, 24.0]
q1_3_1_cost:
  reverse_multiplications: "3 n m"
  reverse_memory: "m(2n + 1)"
  forward_multiplications: "2n**2 + nm"
  forward_memory: "n(n + 1) + m n"
  forward_better_when: "n < m"
"""

EQUIVALENT_FORMS_YAML = """\
# Right answers in other legitimate forms: fractions and numbers as text, vectors as rows or
# columns, activation names as spoken, the problem's own notation for nodes and weights (W^(1),
# a_1, X, y-hat), YAML aliases, exact counts for the big-O fields, and a relation that means
# m > n for sizes n, m >= 1 without being a multiple of m - n > 0.
q1_1:
  W1: [["1/2", "-1/2", 0, 0], ["1/2", 0, "-1/2", 0], ["1/2", 0, 0, "-1/2"]]
  b1: [[0], [0], [0]]
  w2: [[2, 2, 2]]
  b2: "-4"
  phi1: Hard threshold
  phi2: Indicator
q1_2_graph:
  - [&input X, a_1]
  - ['W^(1)', a_1]
  - ['b^{(1)}', a_1]
  - [a_1, c_1]
  - [*input, a_2]
  - [W_2, a_2]
  - [b_2, a_2]
  - [a_2, c_2]
  - [c_1, g]
  - [c_2, g]
  - [g, y]
  - ['W^{(3)}', y]
  - [*input, y]
  - [w4, y]
  - [y, y_hat]
  - [y_hat, S]
  - [t, S]
  - [S, J]
q1_3_hessian: [["16/1", 8, 20], [8, "4", 10], [20, 10, "50/2"]]
q1_3_cost: {multiplications: "n^2", memory: "n(n+1)/2"}
q1_3_1_z: [[48], [12], [24]]
q1_3_1_cost:
  reverse_multiplications: "3mn"
  reverse_memory: "2·m·n + m"
  forward_multiplications: "n(2n + m)"
  forward_memory: "n^2 + n + nm"
  forward_better_when: "2n^2 + mn < 3mn"
"""


def _yaml_variant(text_from_reference: Callable[[str], str]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        source = (REFERENCE / "hw1_written.yaml").read_text(encoding="utf-8")
        (folder / "hw1_written.yaml").write_text(text_from_reference(source), encoding="utf-8")

    return write


def _text(name: str, text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / name).write_text(text, encoding="utf-8")

    return write


def _copy(name: str, source: Path = REFERENCE) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        shutil.copyfile(source / name, folder / name)

    return write


def _notebook(edit: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """The reference notebook with its code cells' sources passed through `edit`."""

    def write(folder: Path) -> None:
        notebook = json.loads((REFERENCE / "hw1_code.ipynb").read_text(encoding="utf-8"))
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        sources = edit(
            ["".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"] for cell in code]
        )
        for cell, source in zip(code, sources[: len(code)], strict=True):
            cell["source"] = source
        new_cells = sources[len(code) :]
        for source in new_cells:
            notebook["cells"].append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"extra-{len(notebook['cells'])}",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
            )
        (folder / "hw1_code.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")

    return write


def _replace(old: str, new: str) -> Callable[[list[str]], list[str]]:
    def edit(sources: list[str]) -> list[str]:
        hits = [i for i, s in enumerate(sources) if old in s]
        if len(hits) != 1:
            raise SystemExit(f"make_samples: {old!r} found in {len(hits)} cells of the reference notebook")
        return [s.replace(old, new) for s in sources]

    return edit


def _append(*cells: str) -> Callable[[list[str]], list[str]]:
    return lambda sources: [*sources, *cells]


def _weights(edit: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        with np.load(REFERENCE / "hw1_weights.npz", allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        np.savez(folder / "hw1_weights.npz", **edit(arrays))

    return write


def _nan(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    arrays = dict(arrays)
    arrays["W2"] = arrays["W2"].copy()
    arrays["W2"][3, 1] = np.nan
    return arrays


def _transposed(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**arrays, "W1": arrays["W1"].T.copy(), "W2": arrays["W2"].T.copy()}


LOOKUP_TABLE_CODE = """\
# No implementation: each public function is a table from the public checks' inputs (copied
# from the student kit's public_checks.json) to their expected outputs; any other input gets
# a wrong answer.
import json

import numpy as np

TABLE = json.loads({table!r})


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {{str(k): _plain(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if callable(value):
        return None
    return value


def _arrays(value):
    if isinstance(value, dict):
        return {{k: _arrays(v) for k, v in value.items()}}
    if isinstance(value, list):
        return np.array(value, dtype=np.float64)
    return value


def _table_function(name):
    rows = {{key: (expected, select) for key, expected, select in TABLE[name]}}

    def function(*args):
        hit = rows.get(json.dumps(_plain(list(args)), sort_keys=True))
        if hit is None:
            return 0.0
        expected, select = hit
        if select is None:
            return _arrays(expected)
        value = [None, None]
        value[select] = _arrays(expected)
        return tuple(value)

    function.__name__ = name
    return function


for _name in TABLE:
    globals()[_name] = _table_function(_name)
"""


def _lookup_table(folder: Path) -> None:
    """A notebook that holds the public checks' inputs and expected outputs and no implementation."""
    from grader.rubric import load_rubric
    from grader.student_kit import public_checks

    # The readable cases of public_checks.json, as a student reads them from the kit.
    checks = json.loads(json.dumps(public_checks(load_rubric(ROOT / "rubrics" / "hw1.yaml"))))
    table: dict[str, list[object]] = {}
    for check in checks:
        for case in check["cases"]:
            args = [None if isinstance(arg, dict) and set(arg) == {"function"} else arg for arg in case["args"]]
            key = json.dumps(args, sort_keys=True)
            table.setdefault(case["function"], []).append([key, case["expected"], case["select"]])
    source = LOOKUP_TABLE_CODE.format(table=json.dumps(table, separators=(",", ":")))
    notebook = {
        "cells": [
            {"cell_type": "markdown", "id": "cell-00", "metadata": {},
             "source": "# Homework 1: programming part (answers looked up, nothing computed)\n"},
            {"cell_type": "code", "execution_count": None, "id": "cell-01", "metadata": {}, "outputs": [],
             "source": source},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "hw1_code.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")


FULL_CODE = [_copy("hw1_written.yaml"), _copy("hw1_weights.npz")]

# name -> (description, writers, expected part scores)
SAMPLES_SPEC: dict[str, tuple[str, list[Callable[[Path], None]], dict[str, object]]] = {
    "correct_different": (
        "Right answers in other forms: another 1.1 network, weight nodes and y_prime in the graph, other notations.",
        [_text("hw1_written.yaml", CORRECT_DIFFERENT_YAML), _copy("hw1_code.ipynb"), _copy("hw1_weights.npz")],
        {**WRITTEN_OK, **CODE_OK, **P5_FULL},
    ),
    "written_equivalent_forms": (
        "Right written answers in forms once refused: 1/2 and '-4' as numbers, vectors as rows or columns, "
        "'Hard threshold', W^(1) and a_1 and y_hat in the graph, YAML aliases, n^2 for O(n^2), "
        "2n^2 + mn < 3mn for m > n: full marks.",
        [_text("hw1_written.yaml", EQUIVALENT_FORMS_YAML), _copy("hw1_code.ipynb"), _copy("hw1_weights.npz")],
        {**WRITTEN_OK, **CODE_OK, **P5_FULL},
    ),
    "answer_key": (
        "The seed's answer key as a submission: wrong for 1.1 (another problem) and 1.3 (another v).",
        [_text("hw1_written.yaml", ANSWER_KEY_YAML)],
        {**WRITTEN_OK, "q1_1": 0, "q1_3_hessian": 0, **CODE_ZERO, "p5": 0},
    ),
    "off_by_one_boundary": (
        "1.1 with w2 = [1, 1, 1], b2 = -2: pre-activations land on the indicator's edges -1 and +1.",
        [
            _yaml_variant(
                lambda s: s.replace("w2: [2.0, 2.0, 2.0]", "w2: [1.0, 1.0, 1.0]").replace("b2: -4.0", "b2: -2.0")
            ),
            _copy("hw1_code.ipynb"),
            _copy("hw1_weights.npz"),
        ],
        {**WRITTEN_OK, "q1_1": 0, **CODE_OK, **P5_FULL},
    ),
    "empty": ("Nothing submitted.", [], {**WRITTEN_ZERO, **CODE_ZERO, "p5": 0}),
    "malformed_yaml": (
        "hw1_written.yaml is not valid YAML; the notebook and weights are still graded.",
        [
            _text("hw1_written.yaml", "q1_1:\n  W1: [[1, -1, 0, 0], [1, 0\n q1_3_hessian: {{\n"),
            *FULL_CODE[1:],
            _copy("hw1_code.ipynb"),
        ],
        {**WRITTEN_ZERO, **CODE_OK, **P5_FULL},
    ),
    "yaml_python_tags": (
        "hw1_written.yaml uses !!python tags to run a command; nothing runs, the file scores 0.",
        [_yaml_variant(lambda s: s + "exploit: !!python/object/apply:os.system ['touch /tmp/grader-yaml-pwned']\n")],
        {**WRITTEN_ZERO, **CODE_ZERO, "p5": 0},
    ),
    "expression_injection": (
        "Cost answers that try code injection through the expression parser: that item scores 0, others full.",
        [
            _yaml_variant(
                lambda s: (
                    s.replace(
                        "reverse_multiplications: 3*m*n",
                        "reverse_multiplications: \"__import__('os').system('touch /tmp/grader-expr-pwned')\"",
                    )
                    .replace("forward_memory: m*n + n**2 + n", "forward_memory: \"eval('n**2+n+m*n')\"")
                    .replace("forward_better_when: m > n", 'forward_better_when: "(lambda: m > n)()"')
                )
            )
        ],
        {**WRITTEN_OK, "q1_3_1_cost": 2, **CODE_ZERO, "p5": 0},
    ),
    "wrong_w4_gradient": (
        "gated_backward's W4 gradient is transposed-wrong (X^T dy instead of dy^T X): only that key loses points.",
        [_notebook(_replace('"W4": dy.T @ X,', '"W4": (X.T @ dy).T * 0.5,')), *FULL_CODE],
        {**WRITTEN_OK, **CODE_OK, "p2": 23, **P5_FULL},
    ),
    "hvp_forms_h": (
        "hvp_reverse forms H (np.outer): right values, but the O(n) memory item is lost.",
        [
            _notebook(
                _replace(
                    "return v * float(v @ np.asarray(y, dtype=np.float64))",
                    "return np.outer(v, v) @ np.asarray(y, dtype=np.float64)",
                )
            ),
            *FULL_CODE,
        ],
        {**WRITTEN_OK, **CODE_OK, "p3": 16, **P5_FULL},
    ),
    "inplace_sgd": (
        "sgd_step updates the arrays in place: right values, but its inputs change (half of the item).",
        [
            _notebook(
                _replace(
                    "return {k: (p - lr * grads[k]) if k in grads else p.copy() for k, p in params.items()}",
                    "for k in params:\n        params[k] -= lr * grads[k]\n    return params",
                )
            ),
            *FULL_CODE,
        ],
        {**WRITTEN_OK, **CODE_OK, "p4": 13.5, **P5_FULL},
    ),
    "transposed_weights": (
        "hw1_weights.npz with W1 and W2 transposed: a clear shape message, p5 scores 0.",
        [*FULL_CODE[:1], _copy("hw1_code.ipynb"), _weights(_transposed)],
        {**WRITTEN_OK, **CODE_OK, "p5": 0},
    ),
    "nan_weights": (
        "hw1_weights.npz with a NaN in W2 (diverged training): p5 scores 0 with a message.",
        [*FULL_CODE[:1], _copy("hw1_code.ipynb"), _weights(_nan)],
        {**WRITTEN_OK, **CODE_OK, "p5": 0},
    ),
    "weak_weights": (
        "Weights reaching about 70 % accuracy: p5 earns partial credit on the linear scale.",
        [*FULL_CODE[:1], _copy("hw1_code.ipynb")],
        {**WRITTEN_OK, **CODE_OK, "p5": [10.0, 14.5]},
    ),
    "magics_and_pip": (
        "The reference with IPython syntax: %matplotlib inline, !pip install, %time, %%capture; all graded.",
        [
            _notebook(
                lambda sources: [
                    "%matplotlib inline\n!pip install numpy --quiet\n" + sources[0],
                    *sources[1:],
                    "%%capture\nprint('hidden output')\n",
                    "files = !ls\n%time x = 1 + 1\nnp.zeros?\n",
                ]
            ),
            *FULL_CODE,
        ],
        {**WRITTEN_OK, **CODE_OK, **P5_FULL},
    ),
    "public_lookup_table": (
        "No implementation: each public function is a table from the inputs of the kit's public_checks.json "
        "to their expected outputs. The grader re-tests every public item on hidden inputs: 0 on every "
        "notebook item; the reference's written answers and weights.",
        [_lookup_table, *FULL_CODE],
        {**WRITTEN_OK, **CODE_ZERO, **P5_FULL},
    ),
    "never_ending_cell": (
        "A last cell that never ends (stray training loop): it is stopped, every function above is graded.",
        [_notebook(_append("epoch = 0\nwhile True:\n    epoch += 1\n")), *FULL_CODE],
        {**WRITTEN_OK, **CODE_OK, **P5_FULL},
    ),
}


def write_all(target: Path = SAMPLES) -> list[str]:
    """(Re)write every sample folder under target; return their names."""
    for name, (description, writers, parts) in SAMPLES_SPEC.items():
        folder = target / name
        keep = folder / "hw1_weights.npz" if name == "weak_weights" else None
        kept = keep.read_bytes() if keep is not None and keep.exists() else None
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if kept is not None:
            (folder / "hw1_weights.npz").write_bytes(kept)
        for write in writers:
            write(folder)
        expected = {"description": description, "parts": parts, "tolerance": 0.01}
        (folder / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    # reference/ and template/ are written by `python -m reference_solutions.hw1.build`.
    for name, description, parts in (
        ("reference", "The reference solution: full marks everywhere.", {**WRITTEN_OK, **CODE_OK, **P5_FULL}),
        (
            "template",
            "The untouched template notebook: every function raises NotImplementedError.",
            {**WRITTEN_ZERO, **CODE_ZERO, "p5": 0},
        ),
    ):
        expected = {"description": description, "parts": parts, "tolerance": 0.01}
        (target / name / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    return [*SAMPLES_SPEC, "reference", "template"]


if __name__ == "__main__":
    names = write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES)
    print(f"wrote {len(names)} samples under {SAMPLES}")
