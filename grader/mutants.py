"""`grader validate --mutants`: proof that each notebook item fails wrong code, not only passes the reference.

For every function the notebook items call, small wrong versions of the reference are made from
its syntax tree (an arithmetic or comparison operator swapped, a constant or an index off by one,
an axis changed, a transpose dropped, a term or a factor dropped, a sign flipped, the value
negated, a constant returned), each put in place of
the reference's definition in the reference notebook, and the notebook graded as a student's is
(in the sandbox). An item kills a mutant if it loses points. A mutant no item kills is either
equivalent (the same values as the reference on many inputs drawn by the items' own generators,
reported as such) or shows a weakness of the items' inputs, reported with its diff.
Mutants are the grader's own code, derived from the reference: they are compared in this process.
"""

from __future__ import annotations

import ast
import copy
import difflib
import inspect
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np

from grader.master_notebook import BEGIN_SOLUTION, END_SOLUTION
from grader.rubric import Rubric

MAX_MUTANTS_PER_FUNCTION = 16
_SWAPS: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                            ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


@dataclass(frozen=True)
class Mutant:
    """One wrong version of a reference function: what was changed, and its source."""

    function: str
    change: str
    source: str
    original: str

    def diff(self) -> str:
        """The change as a unified diff of the function's source."""
        return "".join(difflib.unified_diff(self.original.splitlines(True), self.source.splitlines(True),
                                            "reference", "mutant", n=1))


@dataclass
class Verdict:
    """What the items did to one mutant."""

    mutant: Mutant
    killed_by: list[str] = field(default_factory=list)
    equivalent: bool = False
    items: list[str] = field(default_factory=list)  # the items that call the mutated function


def mutants_of(function: Callable[..., Any]) -> list[Mutant]:
    """Small wrong versions of `function` (at most MAX_MUTANTS_PER_FUNCTION), from its source."""
    original = inspect.getsource(function)
    tree = ast.parse(original)
    name = function.__name__
    out: list[Mutant] = []
    seen: set[str] = {ast.unparse(tree)}
    for change, mutated in _mutations(tree):
        source = ast.unparse(mutated)
        if source not in seen:
            seen.add(source)
            out.append(Mutant(name, change, source + "\n", original))
        if len(out) >= MAX_MUTANTS_PER_FUNCTION:
            break
    return out


def _mutations(tree: ast.Module) -> Iterator[tuple[str, ast.Module]]:
    """Each single change the operators below make, one at a time, on a copy of the tree."""
    nodes = list(ast.walk(tree))
    for index, node in enumerate(nodes):
        for change, edit in _edits(node):
            mutated = copy.deepcopy(tree)
            target = list(ast.walk(mutated))[index]
            if edit(target):
                yield f"line {getattr(node, 'lineno', '?')}: {change}", mutated


def _edits(node: ast.AST) -> Iterator[tuple[str, Callable[[Any], bool]]]:
    if isinstance(node, ast.BinOp) and type(node.op) in _SWAPS:
        new = _SWAPS[type(node.op)]
        yield f"{type(node.op).__name__} -> {new.__name__}", lambda n: _set(n, "op", new())
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _SWAPS:
        new = _SWAPS[type(node.ops[0])]
        yield f"{type(node.ops[0]).__name__} -> {new.__name__}", lambda n: _set(n, "ops", [new()])
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        number: float = node.value  # type: ignore[assignment]  # int or float, checked above
        yield f"constant {number!r} -> {number + 1!r}", lambda n: _set(n, "value", n.value + 1)
    if isinstance(node, ast.keyword) and node.arg == "axis" and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, int):
        yield "axis changed", lambda n: _set(n.value, "value", 1 - n.value.value if n.value.value in (0, 1)
                                              else n.value.value + 1)
    if isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose dropped", lambda n: _set(n, "attr", "real")  # x.real is x for real arrays
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign flipped", lambda n: _set(n, "op", ast.UAdd())
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        yield "a term dropped", lambda n: _set(n, "right", ast.Constant(0))
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        yield "a factor dropped", lambda n: _set(n, "right", ast.Constant(1))
    if isinstance(node, ast.Return) and node.value is not None:
        yield "returns its value negated", lambda n: _set(n, "value", ast.UnaryOp(ast.USub(), n.value))
        yield "returns a constant", lambda n: _set(n, "value", ast.Constant(0.0))


def _set(node: Any, attribute: str, value: Any) -> bool:
    setattr(node, attribute, value)
    return True


# ---------------------------------------------------------------- running them

def run_mutants(rubric: Rubric, samples: Path, *, isolation: str | None = None,
                functions: list[str] | None = None, jobs: int = 2) -> list[Verdict]:
    """Grade every mutant of every graded function (or `functions`) as a submission, `jobs` at once
    (each in its own sandbox, as students' code is)."""
    from concurrent.futures import ThreadPoolExecutor

    reference: ModuleType = rubric.load_code_reference()
    called = _functions_called(rubric, reference)
    planned = [(mutant, called.get(name, []))
               for name in functions or sorted(called)
               if callable(getattr(reference, name, None))
               for mutant in mutants_of(getattr(reference, name))]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = list(pool.map(lambda job: _grade_mutant(job[0], job[1], rubric, samples, isolation), planned))
    verdicts = [verdict for verdict in graded if verdict is not None]
    for verdict, (_, items) in zip(graded, planned, strict=True):
        if verdict is not None and not verdict.killed_by:
            verdict.equivalent = _equivalent(verdict.mutant, reference, rubric, items)
    return verdicts


def _grade_mutant(mutant: Mutant, items: list[str], rubric: Rubric, samples: Path,
                  isolation: str | None) -> Verdict | None:
    """The reference submission with the mutant in place of its function, graded: which items lose points."""
    from grader.engine import GradeOptions, grade
    from grader.submission import open_submission

    with tempfile.TemporaryDirectory(prefix="grader-mutant-") as work:
        folder = Path(work) / "submission"
        shutil.copytree(samples / "reference", folder)
        (folder / "expected.json").unlink(missing_ok=True)
        if not _replace_definition(folder / rubric.files["notebook"], mutant):
            return None
        submission = open_submission(folder, dict(rubric.files), Path(work) / "open")
        report = grade(submission, rubric, GradeOptions(isolation=isolation, salt="mutants"))
    killed = [r.item.id for r in report.results if r.item.id in items and not r.passed]
    return Verdict(mutant, killed, items=list(items))


def _functions_called(rubric: Rubric, reference: ModuleType) -> dict[str, list[str]]:
    """Each function the notebook items call, and the items that call it."""
    from grader.engine import plan_notebook_item

    called: dict[str, list[str]] = {}
    for item in rubric.items_of("notebook"):
        plan = plan_notebook_item(item, rubric, reference, "mutants", "mutants")
        for probe in (plan.probe, plan.retest):
            for call in probe.calls if probe is not None else ():
                called.setdefault(call.function, [])
                if item.id not in called[call.function]:
                    called[call.function].append(item.id)
    return called


def _replace_definition(path: Path, mutant: Mutant) -> bool:
    """Put the mutant where the reference notebook defines the function (its solution markers gone)."""
    original = "\n".join(line for line in mutant.original.strip().splitlines()
                         if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and original in cell.source:
            cell.source = cell.source.replace(original, mutant.source.strip())
            nbformat.write(notebook, path)
            return True
    return False


def _equivalent(mutant: Mutant, reference: ModuleType, rubric: Rubric, items: list[str]) -> bool:
    """Whether the mutant gives the reference's values on the items' inputs under many seeds."""
    from grader.engine import plan_notebook_item

    namespace = dict(vars(reference))
    try:
        exec(compile(mutant.source, f"<mutant {mutant.function}>", "exec"), namespace)  # noqa: S102  (our own code)
    except Exception:
        return False
    wrong, right = namespace[mutant.function], getattr(reference, mutant.function)
    for seed in range(8):
        for item in (i for i in rubric.items_of("notebook") if i.id in items):
            plan = plan_notebook_item(item, rubric, reference, f"equivalence-{seed}", "mutants")
            for call in (plan.retest or plan.probe).calls:
                if call.function != mutant.function or any(not _plain(a) for a in call.args):
                    continue
                try:
                    want = right(*copy.deepcopy(call.args))
                except Exception:
                    continue
                try:
                    got = wrong(*copy.deepcopy(call.args))
                except Exception:
                    return False
                if not _same(want, got):
                    return False
    return True


def _plain(value: Any) -> bool:
    return isinstance(value, (int, float, str, list, tuple, dict, np.ndarray, np.generic)) or value is None


def _same(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-9, atol=1e-12,
                                equal_nan=True))
    except (TypeError, ValueError):
        return False


def item_lines(verdicts: list[Verdict]) -> list[str]:
    """Per item: how many of the mutants of the functions it calls it kills."""
    items = sorted({item for verdict in verdicts for item in verdict.items})
    lines = []
    for item in items:
        mine = [v for v in verdicts if item in v.items]
        lines.append(f"  {item:32} kills {sum(item in v.killed_by for v in mine):3} of {len(mine):3} mutants "
                     f"of {', '.join(sorted({v.mutant.function for v in mine}))}")
    return lines


def report_lines(verdicts: list[Verdict]) -> list[str]:
    """A table per function: killed, equivalent and surviving mutants, each survivor's diff."""
    lines: list[str] = []
    for function in sorted({v.mutant.function for v in verdicts}):
        mine = [v for v in verdicts if v.mutant.function == function]
        killed = sum(bool(v.killed_by) for v in mine)
        equivalent = [v for v in mine if v.equivalent]
        survived = [v for v in mine if not v.killed_by and not v.equivalent]
        lines.append(f"{function:24} {len(mine):3} mutants: {killed} killed, {len(equivalent)} equivalent, "
                     f"{len(survived)} survived")
        for verdict in equivalent:
            lines.append(f"    equivalent ({verdict.mutant.change}): same values on the items' inputs, 8 seeds")
        for verdict in survived:
            lines.append(f"    SURVIVED ({verdict.mutant.change}):")
            lines += ["      " + line for line in verdict.mutant.diff().splitlines()]
    return lines


def whole_notebook_lines(rubric: Rubric, samples: Path, *, isolation: str | None = None) -> list[str]:
    """The two whole-notebook mutants, where the samples have them: the untouched template and a
    table of the public checks' answers (sample `public_lookup_table`); each must earn no notebook point."""
    from grader.engine import GradeOptions, grade
    from grader.submission import open_submission

    lines = []
    for name, what in (("template", "the untouched template"),
                       ("public_lookup_table", "a table of the public checks' answers")):
        folder = samples / name
        if not folder.is_dir():
            lines.append(f"{what}: SKIP (no {name}/ sample)")
            continue
        with tempfile.TemporaryDirectory(prefix="grader-mutant-") as work:
            report = grade(open_submission(folder, dict(rubric.files), Path(work)), rubric,
                           GradeOptions(isolation=isolation, salt="mutants"))
        earned = sum(r.score for r in report.results if r.item.kind == "notebook")
        lines.append(f"{what}: {earned:g} notebook points" + ("" if earned == 0 else "  <- SHOULD BE 0"))
    return lines
