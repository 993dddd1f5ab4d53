"""`grader build-student-kit`: the files handed to students with the assignment.

The kit holds the notebook template (solutions stripped), a written-answers template with every
key, the public checks (visible items only: their fixed public inputs and the reference's
outputs on them) and a README. Nothing in it may help with a hidden item: no solution code, no
hidden inputs, no salt, no hidden item's id or answer; `tests/test_student_kit.py` proves it.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grader.rubric import Item, Rubric, load_rubric

__all__ = ["WRITTEN_TEMPLATE", "build_student_kit", "public_checks"]

WITHHELD = "withheld: this input is the grader's answer to a hidden item"

WRITTEN_TEMPLATE = """\
# Homework 1: machine-graded answers to the written problems.
# Fill in every value below and keep every key exactly as written: the autograder reads this
# file by key. Numbers are plain integers or decimals (0.25, not 1/4); lists are written
# [a, b, c]. Expressions are strings in quotes: write products as 5*a*b or 5 a b and
# powers as a^2 or a**2 (they are compared by meaning; nothing you type is ever run as code).
# Submit this file as hw1_written.yaml next to hw1_code.ipynb and hw1_weights.npz.

q1_1:                 # problem 1.1 with k = 2: output 1 iff x1 is the 2nd largest of x1..x4
  W1: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]   # 3 x 4: one row per hidden unit
  b1: [0, 0, 0]       # 3 numbers
  w2: [0, 0, 0]       # 3 numbers
  b2: 0               # one number
  phi1: ""            # hidden activation: hard_threshold or indicator
  phi2: ""            # output activation: hard_threshold or indicator

# problem 1.2: the computation graph as a list of edges [from, to], one per line:
#   - [from, to]
# nodes: x t a1 c1 a2 c2 g y y' S J   (y' may also be written y_prime);
# edges from weight nodes (W1, b1, ...) are allowed and ignored.
q1_2_graph: []

q1_3_hessian: [[0, 0, 0], [0, 0, 0], [0, 0, 0]]   # problem 1.3: the 3 x 3 Hessian at the given v

q1_3_cost:            # problem 1.3: cost of forming the Hessian, in big-O of n, e.g. "O(n^3)"
  multiplications: ""
  memory: ""

q1_3_1_z: [0, 0, 0]   # problem 1.3.1: the vector z = H y (3 numbers)

q1_3_1_cost:          # problem 1.3.1: exact counts in n and m (not big-O), e.g. "4*n + m"
  reverse_multiplications: ""
  reverse_memory: ""
  forward_multiplications: ""
  forward_memory: ""
  forward_better_when: ""   # a comparison of n and m, e.g. "n > 2*m"
"""

README_TEMPLATE = """\
# {title}: student kit

| file | what it is |
|---|---|
| `{notebook}` | the notebook: fill in every function that raises `NotImplementedError` |
| `{written}` | your answers to the written problems, in the format explained in its comments |
| `public_checks.json` | the public checks, their inputs and the expected outputs |

Submit `{notebook}`, `{written}` and `{weights}` (your trained weights) on Gradescope.

## Check your work before you submit

In the folder that holds your files, run:

    grader check

or name the folder (or a zip of it): `grader check path/to/my_submission`. The check runs your
notebook in an isolated process on the same public inputs that Gradescope uses and prints, for
each public item, the points earned, PASS or FAIL and the first lines of the feedback, then the
total of the public points ({public_points:g} of the {autograded_points:g} autograded points).
It also says whether `{written}` parses and which answers are missing. The written
answers and the hidden items are graded on Gradescope only (their results appear after the due
date), so the public total is not your final score.

`grader check` exits with status 0 whatever your score; 2 means it could not run at all (for
example a wrong path).

## public_checks.json

For each public notebook item: its `id`, `title` and `points`, the checked `function`, and the
`cases` it calls: `args` (arrays as nested lists; `{{"function": "lambda x: ..."}}` is a test
function the grader builds) and `expected`, the reference's output on those arguments (with
`select` = 0 or 1: only that element of the returned tuple is compared). Arguments marked
"withheld" are values the grader passes itself; your function receives them but they are not
shown here. Numbers are compared with the tolerances listed with each item.
"""


def build_student_kit(out_dir: Path, rubric_path: Path) -> list[Path]:
    """Write the student kit for the rubric at `rubric_path` into `out_dir`; return the files."""
    rubric = load_rubric(rubric_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    build = importlib.import_module(rubric.code_reference.rpartition(".")[0] + ".build")
    public = [item for item in rubric.items if item.visibility == "visible"]
    texts = {
        rubric.files.get("notebook", "hw1_code.ipynb"): build.notebook_text(strip_solutions=True),
        rubric.files.get("written", "hw1_written.yaml"): WRITTEN_TEMPLATE,
        "public_checks.json": json.dumps(public_checks(rubric), indent=1, allow_nan=False) + "\n",
        "README.md": README_TEMPLATE.format(
            title=rubric.title, notebook=rubric.files.get("notebook", "hw1_code.ipynb"),
            written=rubric.files.get("written", "hw1_written.yaml"),
            weights=rubric.files.get("weights", "hw1_weights.npz"),
            public_points=sum(item.points for item in public),
            autograded_points=rubric.autograded_points,
        ),
    }
    written: list[Path] = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def public_checks(rubric: Rubric) -> list[dict[str, Any]]:
    """The visible notebook items with their public inputs and the reference's outputs."""
    reference = rubric.load_code_reference()
    planned = {item.id: _plan(item, rubric, reference) for item in rubric.items_of("notebook")}
    # Answers of hidden items (e.g. the reference's kth_largest_params networks) that a public
    # check passes as an input are withheld; hidden items' own inputs are never planned here
    # with the private salt, so they cannot appear at all.
    secrets = [value for item in rubric.items_of("notebook") if item.visibility != "visible"
               for value in _reference_outputs(planned[item.id], reference, keep_full=True)]
    checks = []
    for item in rubric.items_of("notebook"):
        if item.visibility != "visible":
            continue
        calls = planned[item.id]
        outputs = _reference_outputs(calls, reference, keep_full=False)
        checks.append({
            "id": item.id, "title": item.title, "points": item.points, "check": item.check,
            "tolerance": {k: v for k, v in item.params.items() if k in ("rtol", "atol")},
            "cases": [
                {"function": call.function,
                 "args": [WITHHELD if _matches_any(arg, secrets) else _jsonable(arg)
                          for arg in call.args],
                 "select": call.select, "expected": _jsonable(expected)}
                for call, expected in zip(calls, outputs, strict=True)
            ],
        })
    return checks


def _plan(item: Item, rubric: Rubric, reference: Any) -> Sequence[Any]:
    """The calls the item's check plans on the public inputs (the engine's public seed)."""
    from grader.checks.registry import NotebookContext, get_check
    from grader.seeds import PUBLIC_SALT, derive_seed

    spec = get_check(item.check)
    assert spec is not None  # the rubric loader checked the name
    context = NotebookContext(item.id, spec.with_defaults(item.params),
                              np.random.default_rng(derive_seed(PUBLIC_SALT, item.id)), reference,
                              True, rubric.limits.call_timeout)
    return list(spec.function(context).calls)


def _reference_outputs(calls: Sequence[Any], reference: Any, *, keep_full: bool) -> list[Any]:
    """The reference's output for each planned call (after `select` unless keep_full)."""
    full: dict[str, Any] = {}
    outputs = []
    for call in calls:
        function: Callable[..., Any] = getattr(reference, call.function)
        value = function(*(_resolve(arg, full) for arg in copy.deepcopy(call.args)))
        full[call.id] = value
        outputs.append(value if keep_full or call.select is None else value[call.select])
    return outputs


def _resolve(arg: Any, earlier: Mapping[str, Any]) -> Any:
    """A planned argument as the reference takes it: earlier results and test functions built."""
    from grader.sandbox.wire import Ref, TestFunction

    if isinstance(arg, Ref):
        value = earlier[arg.call_id]
        return value if arg.index is None else value[arg.index]
    if isinstance(arg, TestFunction):
        # The source is one of the grader's own constants (never student input), as in the child.
        return eval(arg.source, {"np": np})  # noqa: S307
    return arg


def _leaves(value: Any) -> list[np.ndarray]:
    """The arrays (of more than one number) inside a value, through dicts, lists and tuples."""
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    if isinstance(value, np.ndarray) and value.size > 1:
        return [value]
    return []


def _matches_any(arg: Any, secrets: Sequence[Any]) -> bool:
    """Whether an input holds an array that some hidden item's answer also holds."""
    hidden = [leaf for secret in secrets for leaf in _leaves(secret)]
    return any(leaf.shape == other.shape and np.array_equal(leaf, other)
               for leaf in _leaves(arg) for other in hidden)


def _jsonable(value: Any) -> Any:
    """Plain JSON data: arrays as nested lists, tuples as lists, non-finite floats as strings."""
    from grader.sandbox.wire import Ref, TestFunction

    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, TestFunction):
        return {"function": value.source}
    if isinstance(value, Ref):
        return {"result_of": value.call_id, "index": value.index}
    return value
