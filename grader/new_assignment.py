"""`grader new-assignment NAME`: the skeleton of an assignment that validates and grades at once.

It writes, beside the grader (never in it): `rubrics/NAME.yaml`; `reference_solutions/NAME/`
with a master notebook (percent source with solution markers), computed written references
with their proofs, a plugin (an input generator, a weights task, the templates students get)
and a build script; then runs the build, which writes `sample_submissions/NAME/reference/`
(full marks) and `template/` (0), each with its `expected.json`. docs/authoring.md explains
every file; replace the example problem (ReLU, sigmoid's slope, nearest-centre weights) with
the assignment's own.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from grader.errors import GraderError

_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")

RUBRIC = '''\
# Rubric of {title} (written by `grader new-assignment {name}`; see docs/authoring.md).
assignment: {name}
title: "{title}"
total_points: 50

references:
  written: reference_solutions.{name}.written:reference_answers
  code: reference_solutions.{name}.{name}_code

# The assignment's own input generators, checks, weights task and templates.
plugin: reference_solutions.{name}.plugin

files:
  written: {name}_written.yaml
  notebook: {name}.ipynb
  weights: {name}_model.npz

parts:
  q1: 5
  p1: 20
  p2: 25

limits:
  cell_timeout: 10
  notebook_timeout: 60
  call_timeout: 5
  memory_mb: 1536

items:
  - id: q1
    part: q1
    title: "1 the slope of the sigmoid at 0"
    points: 5
    visibility: after_due_date
    check: number
    answer: q1_sigmoid_slope

  - id: p1_relu
    part: p1
    title: "relu on public inputs"
    points: 10
    visibility: visible
    check: function_values
    params: {{function: relu, inputs: relu_inputs}}

  - id: p1_relu_hidden
    part: p1
    title: "relu on hidden inputs"
    points: 10
    visibility: hidden
    check: function_values
    params: {{function: relu, inputs: relu_inputs}}

  - id: p2_weights
    part: p2
    title: "trained weights on three blobs"
    points: 25
    visibility: after_due_date
    check: weights_accuracy
    params: {{task: blobs, zero_at: 0.5, full_at: 0.9, test_size: 5000, max_hidden: 64}}
'''

CODE = '''\
"""Reference solution of {title}'s notebook, in percent format (`# %%` starts a cell).

`python -m reference_solutions.{name}.build` makes the reference notebook and the template
(each BEGIN/END SOLUTION region becomes `raise NotImplementedError`). The grader imports this
file as the reference module: its top level holds only definitions.
"""

# %% [markdown]
# # {title}
#
# Fill in every function that raises `NotImplementedError`; keep names and signatures.

# %%
import numpy as np


# %%
def relu(z: np.ndarray) -> np.ndarray:
    """max(z, 0), elementwise."""
    # BEGIN SOLUTION
    return np.maximum(np.asarray(z, dtype=float), 0.0)
    # END SOLUTION


# %%
def network_logits(params: dict, X: np.ndarray) -> np.ndarray:
    """Logits of a one-hidden-layer ReLU network: relu(X W1 + b1) W2 + b2."""
    return np.maximum(X @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]


# %%
CENTRES = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])


def make_blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points around three centres in the plane, and their labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    return CENTRES[y] + rng.normal(scale=0.6, size=(n, 2)), y
'''

WRITTEN = '''\
"""{title}'s written answers, computed (never typed in) and proven."""

from __future__ import annotations

from typing import Any

import sympy


def reference_answers() -> dict[str, Any]:
    """Every written answer, computed: here the sigmoid's slope at 0, by differentiation."""
    z = sympy.symbols("z")
    slope = sympy.diff(1 / (1 + sympy.exp(-z)), z).subs(z, 0)
    return {{"q1_sigmoid_slope": float(sympy.nsimplify(slope))}}


def prove_all() -> list[str]:
    """Each reference checked by another method; what failed (empty if all hold)."""
    import math

    h = 1e-6
    numeric = (1 / (1 + math.exp(-h)) - 1 / (1 + math.exp(h))) / (2 * h)
    slope = reference_answers()["q1_sigmoid_slope"]
    return [] if abs(slope - numeric) < 1e-8 else [f"q1: {{slope}} is not the central difference {{numeric}}"]
'''

PLUGIN = '''\
"""{title}'s plugin: its input generators, weights task and the templates students get."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.registry import WeightsTask
from grader.plugins import AssignmentPlugin
from reference_solutions.{name} import {name}_code

plugin = AssignmentPlugin("{name}")


@plugin.inputs("relu_inputs")
def relu_inputs(rng: np.random.Generator, reference: ModuleType) -> list[tuple[Any, ...]]:
    """The edge values (0, -0.0, tiny ones) and a random batch drawn from the item's rng."""
    edges = np.array([-2.0, -1e-300, -0.0, 0.0, 5e-324, 1.5])
    return [(edges,), (rng.normal(size=(int(rng.integers(2, 6)), 3)),)]


def blobs_test_set(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The hidden test set of the weights item: `size` points drawn from `seed`."""
    return {name}_code.make_blobs(size, seed)


plugin.weights_task(WeightsTask("blobs", inputs=2, classes=3, test_set=blobs_test_set,
                                forward={name}_code.network_logits, student_forward="network_logits"))


def _notebook_template() -> str:
    from reference_solutions.{name} import build

    return build.notebook_text(strip_solutions=True)


def _written_template() -> str:
    return Path(__file__).with_name("{name}_written_template.yaml").read_text(encoding="utf-8")


plugin.notebook_template = _notebook_template
plugin.written_template = _written_template
'''

TEMPLATE = '''\
# {title}: machine-graded answers. Keep every key; numbers may be written as expressions
# such as 1/4 or exp(1)/2 (nothing you type is run as code).
q1_sigmoid_slope: ""   # the slope of the sigmoid 1 / (1 + e^-z) at z = 0
'''

BUILD = '''\
"""Build {title}'s samples: `python -m reference_solutions.{name}.build`.

Writes sample_submissions/{name}/reference/ (the reference notebook, answers and weights: full
marks) and template/ (what students get: 0), each with expected.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import yaml

from grader import master_notebook
from reference_solutions.{name} import {name}_code, written

SOURCE = Path({name}_code.__file__).resolve()
OUT = Path(__file__).resolve().parents[2] / "sample_submissions" / "{name}"


def notebook_text(strip_solutions: bool) -> str:
    """The reference (False) or template (True) notebook's exact text."""
    return master_notebook.notebook_text(SOURCE, strip_solutions)


def nearest_centre_weights() -> dict[str, np.ndarray]:
    """Weights that classify by the nearest centre (no training needed): a linear score per class,
    shifted so that the ReLU never clips it."""
    centres = {name}_code.CENTRES
    return {{"W1": centres.T.copy(), "b1": -0.5 * np.sum(centres**2, axis=1) + 100.0,
             "W2": np.eye(3), "b2": np.zeros(3)}}


def main() -> int:
    """Write both samples."""
    reference, template = OUT / "reference", OUT / "template"
    for folder in (reference, template):
        folder.mkdir(parents=True, exist_ok=True)
    (reference / "{name}.ipynb").write_text(notebook_text(False), encoding="utf-8")
    (template / "{name}.ipynb").write_text(notebook_text(True), encoding="utf-8")
    (reference / "{name}_written.yaml").write_text(yaml.safe_dump(written.reference_answers()), encoding="utf-8")
    (template / "{name}_written.yaml").write_text(
        Path(__file__).with_name("{name}_written_template.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    weights = nearest_centre_weights()
    np.savez(reference / "{name}_model.npz", W1=weights["W1"], b1=weights["b1"], W2=weights["W2"], b2=weights["b2"])
    full, zero = {{"q1": 5, "p1": 20, "p2": 25}}, {{"q1": 0, "p1": 0, "p2": 0}}
    for folder, parts in ((reference, full), (template, zero)):
        (folder / "expected.json").write_text(json.dumps({{"parts": parts}}, indent=1) + "\\n", encoding="utf-8")
    print(f"wrote {{reference}} and {{template}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def create_assignment(name: str, root: Path, title: str | None = None) -> list[Path]:
    """Write the skeleton of assignment `name` under `root` (a course checkout) and build its samples."""
    if not _NAME.fullmatch(name):
        raise GraderError(f"{name!r} is not an assignment name: lower-case letters, digits and _, "
                          "starting with a letter (e.g. hw3)")
    title = title or f"Assignment {name}"
    files = {
        root / "rubrics" / f"{name}.yaml": RUBRIC,
        root / "reference_solutions" / name / "__init__.py": '"""{title}: references, plugin and build."""\n',
        root / "reference_solutions" / name / f"{name}_code.py": CODE,
        root / "reference_solutions" / name / "written.py": WRITTEN,
        root / "reference_solutions" / name / "plugin.py": PLUGIN,
        root / "reference_solutions" / name / "build.py": BUILD,
        root / "reference_solutions" / name / f"{name}_written_template.yaml": TEMPLATE,
    }
    taken = [path for path in files if path.exists()]
    if taken or (root / "sample_submissions" / name).exists():
        where = taken[0] if taken else root / "sample_submissions" / name
        raise GraderError(f"assignment {name!r} exists already ({where}); choose another name")
    if not (root / "reference_solutions" / "__init__.py").is_file():
        raise GraderError(f"{root} holds no reference_solutions/ package (new-assignment writes into the "
                          "checkout the grader is installed from, whatever the current folder)")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=name, title=title), encoding="utf-8")
    importlib.invalidate_caches()
    build = importlib.import_module(f"reference_solutions.{name}.build")
    build.main()
    return [*files, root / "sample_submissions" / name]


if __name__ == "__main__":  # pragma: no cover
    print(create_assignment(sys.argv[1], Path.cwd()))
