"""`grader build-student-kit`: the files handed to students with the assignment.

The kit holds the notebook template (solutions stripped), a written-answers template with every
key, the public checks (visible items only: their fixed public inputs and the expected outputs
on them), a README and a standalone self-check: `check.py` and the package `<assignment>check/`,
made of the kit-side code in grader/kit/ and the grader modules it runs on (the sandbox, the
notebook reader, the array comparisons), copied with their `grader.` imports rewritten to the
package. Students run it instead of `grader check`, whose engine imports the reference
solutions; it needs only numpy and PyYAML.

Nothing in the kit may help with a hidden item: no solution code, no hidden inputs, no salt, no
hidden item's id or answer; `tests/test_student_kit.py` proves it, and runs the self-check where
neither `grader` nor `reference_solutions` can be imported.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import math
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from grader.checks.registry import KitHints
from grader.errors import GraderError
from grader.rubric import Item, Rubric, load_rubric
from grader.sandbox import wire
from grader.seeds import derive_seed, public_salt

__all__ = ["build_student_kit", "public_checks", "written_formats"]

WITHHELD = "withheld: this input is the grader's answer to a hidden item"


README_TEMPLATE = """\
# {title}: student kit

| file | what it is |
|---|---|
| `{notebook}` | the notebook: fill in every function that raises `NotImplementedError` |
| `{written}` | your answers to the written problems, in the format explained in its comments |
| `check.py` | the self-check: runs the public checks on your files (see below) |
| `{package}/` | the self-check's code and data (no need to open it) |
| `public_checks.json` | the public checks, their inputs and the expected outputs |

Submit `{notebook}`, `{written}` and `{weights}` (your trained weights) on Gradescope.

## Check your work before you submit

You need Python 3.10 or newer with numpy and PyYAML (`pip install numpy pyyaml`); nothing
else, and no network. Work in this folder, then run, from this folder:

    python check.py

or name the folder holding your files (or a zip of it): `python check.py path/to/my_submission`.
Your notebook runs, here and on Gradescope, with numpy and the Python standard library only.
Other imports (matplotlib, torch, google.colab, tqdm) are allowed and cost nothing: plots and
progress bars do nothing there (they are not graded), and code that needs another package fails
only where it runs. Shell lines (`!pip install ...`) are skipped.
The check runs your notebook in a separate Python process on the same public inputs that
Gradescope uses. For each public item it prints the points earned, PASS or FAIL and the
feedback: what differs from the expected output, and a hint (a traceback or what your code
printed shows its last lines only; `python check.py --full` prints everything). Then the public
total, out of {public_points:g} points (of {autograded_points:g} autograded points in all), and
for each answer in `{written}`: "OK format", "not answered yet" or "problem: ..." (array shapes,
graph node names, expression syntax; never whether the answer is right). The written answers
and the hidden items are graded on Gradescope only (their results appear after the due date),
so the public total is not your final score.

Gradescope also runs each public function again on other inputs of the same kind, which it
does not show, and counts a public item's points only as far as those tests pass too. A function
that is right only on the inputs of `public_checks.json` (for example one that looks its answers
up) earns nothing there: write each function to compute its result for any input.

{weights_note}The last lines say how your notebook's process was isolated. On most laptops
(macOS, Windows, Linux without bubblewrap) that is "rlimits": resource limits only, so your
notebook runs with your own user's rights, as it does in Jupyter. That is fine here: the kit
holds no secrets. Training cells guarded by `os.environ.get("AUTOGRADER") != "1"` are not run.

`python check.py` exits with status 0 whatever your score; 2 means it could not run at all
(for example a wrong path). `python check.py --help` lists its options.

## public_checks.json

For each public notebook item: its `id`, `title` and `points`, the grader's `check`, the
`tolerance` numbers are compared with (`rtol`, `atol`; 0 and 0 mean exactly equal), and the
`cases` it calls: `args` (arrays as nested lists; `{{"function": "lambda x: ..."}}` is a test
function the grader builds) and `expected`, the value your output is compared with (with
`select` = 0 or 1: only that element of the returned tuple is compared). Arguments marked
"withheld" are values Gradescope passes itself (they would give away a hidden item's answer);
the self-check passes a public stand-in of the same shape instead. Each case's `call` is what
the self-check runs, losslessly encoded (arrays as base64 of their bytes, with dtype and shape),
with the exact expected output and the arguments your function must leave `unchanged`.
"""

WEIGHTS_NOTE = """\
`{weights}` is graded on Gradescope with the grader's own forward pass on a hidden test set.
The self-check cannot do that without giving away `{forward}`, so it marks that item as an
ESTIMATE: it calls YOUR `{forward}` with your weights on a public test set ({test_size:,}
points drawn like the hidden ones). If your `{forward}` is wrong, so is the estimate.

"""

# The public test set the kit's p5 estimate uses: drawn from a public seed, never the hidden one.
KIT_TEST_SIZE = 4000
# Modules of the grader the kit's checker runs on, copied into the kit (paths under grader/).
# None holds a solution or a secret; `_check_imports` proves the copies import nothing else.
VENDORED = ("errors.py", "notebook.py", "outcome.py", "weights.py", "yamlio.py", "safezip.py", "submission.py",
            "checks/__init__.py", "checks/arrays.py", "checks/feedback.py", "checks/graph.py", "checks/judges.py",
            "sandbox/*.py",
            "sandbox/layers/*.py")
GRADER_DIR = Path(__file__).resolve().parent
KIT_SOURCES = GRADER_DIR / "kit"
_GRADER_IMPORT = re.compile(r"^(\s*)from\s+grader(\.kit)?(?=[\s.])", re.MULTILINE)
_ALLOWED_IMPORTS = frozenset({"numpy", "yaml", "safetensors"})


def build_student_kit(out_dir: Path, rubric_path: Path) -> list[Path]:
    """Write the student kit for the rubric at `rubric_path` into `out_dir`; return the files."""
    from grader.kit.checker import KIT_DATA, PUBLIC_CHECKS

    rubric = load_rubric(rubric_path)
    package = f"{rubric.assignment}check"
    if not package.isidentifier():
        raise GraderError(f"assignment {rubric.assignment!r} does not make a package name")
    plugin = rubric.plugin
    if plugin is None or plugin.notebook_template is None or plugin.written_template is None:
        raise GraderError(f"student kit: the rubric's plugin must give the templates handed to students "
                          f"(plugin.notebook_template and plugin.written_template; see "
                          f"docs/authoring.md): {rubric.path}")
    public = [item for item in rubric.items if item.visibility == "visible"]
    kit_data = _kit_data(rubric)
    weights = rubric.files.get("weights", "")
    weights_note = (WEIGHTS_NOTE.format(weights=weights, test_size=KIT_TEST_SIZE,
                                        forward=kit_data["weights"][0]["function"])
                    if kit_data["weights"] else "")
    texts = {
        rubric.files["notebook"]: plugin.notebook_template(),
        rubric.files["written"]: plugin.written_template(),
        PUBLIC_CHECKS: json.dumps(public_checks(rubric), indent=1, allow_nan=False) + "\n",
        "README.md": README_TEMPLATE.format(
            title=rubric.title, notebook=rubric.files["notebook"],
            written=rubric.files["written"], weights=weights,
            package=package, public_points=sum(item.points for item in public),
            autograded_points=rubric.autograded_points, weights_note=weights_note,
        ),
        "check.py": _rewrite((KIT_SOURCES / "check.py").read_text(encoding="utf-8"), package),
        **_package_files(package),
        f"{package}/{KIT_DATA}": json.dumps(kit_data, indent=1, allow_nan=False) + "\n",
    }
    _check_imports(texts, package)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A kit built earlier may hold modules this grader no longer copies: start the package afresh.
    shutil.rmtree(out_dir / package, ignore_errors=True)
    written: list[Path] = []
    for name, text in texts.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def _package_files(package: str) -> dict[str, str]:
    """The kit's package: the copied grader modules and the checker, imports rewritten to it."""
    files: dict[str, str] = {}
    for pattern in VENDORED:
        for source in sorted(GRADER_DIR.glob(pattern)):
            relative = source.relative_to(GRADER_DIR).as_posix()
            files[f"{package}/{relative}"] = _rewrite(source.read_text(encoding="utf-8"), package)
    for source in sorted(KIT_SOURCES.glob("*.py")):
        if source.name != "check.py":  # the launcher goes to the kit's top folder
            files[f"{package}/{source.name}"] = _rewrite(source.read_text(encoding="utf-8"), package)
    return files


def _rewrite(source: str, package: str) -> str:
    """`from grader.kit.x` and `from grader.x` imports made imports of the kit's package."""
    return _GRADER_IMPORT.sub(lambda match: f"{match[1]}from {package}", source)


def _check_imports(texts: Mapping[str, str], package: str) -> None:
    """Every import of the kit's code is the standard library, numpy, PyYAML or a copied module."""
    allowed = set(sys.stdlib_module_names) | _ALLOWED_IMPORTS
    for name, text in texts.items():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise GraderError(f"student kit: {name} has a relative import, which the kit does not support")
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top, _, rest = module.partition(".")
                if top == package and rest:
                    path = f"{package}/{rest.replace('.', '/')}"
                    if f"{path}.py" in texts or f"{path}/__init__.py" in texts:
                        continue
                elif top in allowed:
                    continue
                raise GraderError(
                    f"student kit: {name} imports {module}, which the kit does not hold (copy it via "
                    "VENDORED in grader/student_kit.py if it holds no solution, or stop importing it)")


def _kit_data(rubric: Rubric) -> dict[str, Any]:
    """The checker's own data: file names, limits, written keys and the weights items' test sets."""
    from grader.kit.checker import KIT_FORMAT

    weights = []
    for item in rubric.items_of("weights"):
        if item.visibility != "visible":
            continue
        params = item.spec.with_defaults(item.params)
        task = rubric.weights_tasks.get(params.get("task", ""))
        if task is None:
            raise GraderError(f"student kit: public item {item.id} uses check {item.check}, which the "
                              "kit's checker cannot estimate (it estimates weights_accuracy tasks)")
        # Drawn like the hidden test set, from a public seed; the kit calls the student's own
        # forward function (the reference's is a solution).
        seed = derive_seed(public_salt(rubric.assignment), "student-kit-test-set", item.id)
        X, y = task.test_set(seed, KIT_TEST_SIZE)
        weights.append({
            "id": item.id, "title": item.title, "points": item.points,
            "function": task.student_forward, "zero_at": params["zero_at"],
            "full_at": params["full_at"], "max_hidden": params["max_hidden"], "input_dim": task.inputs,
            "classes": task.classes, "hidden_test_size": params["test_size"],
            "inputs": wire.encode(X), "labels": wire.encode(y.astype(np.uint8)),
        })
    limits = rubric.limits
    return {
        "format": KIT_FORMAT, "assignment": rubric.assignment, "title": rubric.title,
        "files": dict(rubric.files),
        "written_formats": written_formats(rubric),
        "limits": {"cell_timeout": limits.cell_timeout, "notebook_timeout": limits.notebook_timeout,
                   "call_timeout": limits.call_timeout, "memory_mb": limits.memory_mb,
                   "extra_packages": list(rubric.extra_packages)},
        "weights": weights,
    }


def written_formats(rubric: Rubric) -> list[dict[str, Any]]:
    """Per written answer, the format the self-checks hold it to (grader/kit/written_format.py).

    Only what the contract makes public: the shapes of the reference's arrays (never their
    values), the graph's node names, each expression's kind, and the template's value (an
    answer still equal to it is "not answered yet").
    """
    from grader.kit.written_format import lookup

    references = rubric.load_written_reference()
    written_template = rubric.plugin.written_template if rubric.plugin else None
    template = yaml.safe_load(written_template()) if written_template else {}
    formats = []
    for item in rubric.items_of("written"):
        if not item.answer:
            continue
        spec = item.spec
        params, reference = spec.with_defaults(item.params), lookup(references, item.answer)[1]
        entry = {"key": item.answer, **(spec.kit_format(params, reference) if spec.kit_format
                                        else _answer_format(item.check, params, reference))}
        in_template, value = lookup(template, item.answer)
        if in_template:
            entry["template"] = value
        formats.append(entry)
    return formats


def _answer_format(check: str, params: Mapping[str, Any], reference: Any) -> dict[str, Any]:
    """The public format of one written check's answer, from its parameters and the reference's form."""
    from grader.checks.expressions import DEFAULT_VARIABLES

    if check == "array":
        return {"kind": "array", "shape": list(np.shape(reference))}
    if check == "graph_edges":
        return {"kind": "graph", "nodes": sorted({str(node) for edge in reference for node in edge}),
                "aliases": dict(params["aliases"]), "ignored": list(params["ignored_nodes"])}
    if check == "expressions":
        fields = params["fields"] or {key: {"compare": "exact"} for key in reference}
        return {"kind": "expressions", "fields": {key: spec.get("compare", "exact") for key, spec in fields.items()},
                "variables": sorted(params.get("variables") or DEFAULT_VARIABLES)}
    return {"kind": "any"}  # a check the self-checks know no format for: the key must be there


def public_checks(rubric: Rubric) -> list[dict[str, Any]]:
    """The visible notebook items with their public inputs and the expected outputs.

    Each case has a readable form (`args`, `expected`: what Gradescope passes and compares
    with) and, under `call`, what the kit's checker runs: lossless wire-format arguments, where
    a withheld argument is replaced by a public stand-in, and the exact expected output.
    """
    reference = rubric.load_code_reference()
    planned = {item.id: _plan(item, rubric, reference) for item in rubric.items_of("notebook")}
    # Answers of hidden items (e.g. a reference network a hidden item checks) that a public
    # check passes as an input are withheld; hidden items' own inputs are never planned here
    # with the private salt, so they cannot appear at all.
    secrets = [value for item in rubric.items_of("notebook") if item.visibility != "visible"
               for value in _reference_outputs(planned[item.id], reference, keep_full=True)]
    rng = np.random.default_rng(derive_seed(public_salt(rubric.assignment), "student-kit-stand-ins"))
    checks = []
    for item in rubric.items_of("notebook"):
        if item.visibility != "visible":
            continue
        spec = item.spec
        hints = spec.kit
        if hints is None:
            raise GraderError(f"student kit: public item {item.id} uses check {item.check}, which the "
                              "kit's checker cannot run (register it with kit=KitHints(...))")
        params = spec.with_defaults(item.params)
        calls = planned[item.id]
        local = [_with_stand_ins(call, secrets, rng) for call in calls]
        outputs = _reference_outputs(calls, reference, keep_full=False)
        local_outputs = _reference_outputs(local, reference, keep_full=False)
        tolerance = dict(hints.tolerance or {"rtol": params["rtol"], "atol": params["atol"]})
        count = len(calls)
        checks.append({
            "id": item.id, "title": item.title, "points": item.points, "check": item.check, "judge": hints.judge,
            "compared": hints.compared,
            "function": calls[0].function if calls else None, "tolerance": tolerance,
            "partial": bool(params.get("partial", True)),
            "passed_message": hints.passed_message.format(
                function=calls[0].function if calls else "", count=count),
            "hint": item.feedback,
            "cases": [
                {"function": call.function,
                 "args": [WITHHELD if _matches_any(arg, secrets) else _jsonable(arg)
                          for arg in call.args],
                 "select": call.select,
                 "expected": _jsonable(_compared(hints, call, output)),
                 "call": _local_call(hints, stand_in, _compared(hints, stand_in, local_output))}
                for call, stand_in, output, local_output in zip(calls, local, outputs, local_outputs,
                                                                strict=True)
            ],
        })
    return checks


def _compared(hints: KitHints, call: Any, output: Any) -> Any:
    """What the check compares the call's result with: the reference's output, or its own value."""
    return hints.expected(call, output) if hints.expected is not None else output


def _local_call(hints: KitHints, call: Any, expected: Any) -> dict[str, Any]:
    """A call as the kit's checker makes it, in the sandbox's lossless wire format."""
    if call.kwargs:
        raise GraderError(f"student kit: call {call.id} has keyword arguments, which the kit does not support")
    return {"id": call.id, "function": call.function, "args": [wire.encode(arg) for arg in call.args],
            "select": call.select, "timeout": call.timeout, "return_args": call.return_args,
            "unchanged": [list(pair) for pair in hints.unchanged],
            "expected": wire.encode(expected)}


def _with_stand_ins(call: Any, secrets: Sequence[Any], rng: np.random.Generator) -> Any:
    """The call with each withheld argument replaced by a public stand-in of the same form."""
    args = []
    for arg in call.args:
        if _matches_any(arg, secrets):
            for _ in range(100):
                stand_in = _stand_in(arg, rng)
                if not _matches_any(stand_in, secrets):
                    break
            else:
                raise GraderError(f"student kit: no public stand-in found for an argument of {call.id}")
            arg = stand_in
        args.append(arg)
    return dataclasses.replace(call, args=tuple(args))


def _stand_in(value: Any, rng: np.random.Generator) -> Any:
    """Random small integers in place of every float: same keys, shapes and types, no hidden value.

    Integer weights keep the pre-activations of a threshold network on exact values, so the
    edges of step and indicator are still exercised.
    """
    if isinstance(value, Mapping):
        return {key: _stand_in(v, rng) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_stand_in(v, rng) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return rng.integers(-2, 3, size=value.shape).astype(value.dtype)
    if isinstance(value, float):
        return float(rng.integers(-2, 3))
    return value


def _plan(item: Item, rubric: Rubric, reference: Any) -> Sequence[Any]:
    """The calls the item's check plans on the public inputs (the engine's public seed)."""
    from grader.checks.registry import NotebookContext

    spec = item.spec
    context = NotebookContext(item.id, spec.with_defaults(item.params),
                              np.random.default_rng(derive_seed(public_salt(rubric.assignment), item.id)), reference,
                              True, rubric.limits.call_timeout, rubric.input_generators)
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
