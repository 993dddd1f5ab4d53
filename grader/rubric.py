"""Loading and validating a rubric (`rubrics/*.yaml`).

The rubric is the instructor's single source of truth: which items exist, their points,
visibility, the check each runs and its parameters. It is validated as it is loaded, and
every error names the file, the key and the line, so that a typo stops the run before any
submission is graded.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, cast

import yaml

from grader.checks.registry import REQUIRED, CheckKind, CheckSpec, InputGenerator, WeightsTask, get_check
from grader.errors import GraderError, RubricError
from grader.plugins import AssignmentPlugin, load_plugin
from grader.yamlio import DuplicateKeyError, LineDict, LineList, parse_yaml_text

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
VISIBILITIES: tuple[str, ...] = ("hidden", "after_due_date", "after_published", "visible")
FILE_ROLES: tuple[CheckKind, ...] = ("written", "notebook", "weights")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Item:
    """One autograded rubric item."""

    id: str
    part: str
    title: str
    points: float
    visibility: Visibility
    check: str
    kind: CheckKind
    params: Mapping[str, Any]
    answer: str | None = None
    feedback: str = ""
    key_note: str = ""
    line: int = 0
    assignment: str | None = None  # whose checks `check` is looked up among (its plugin's first)
    leaderboard: str | None = None  # the column of Gradescope's leaderboard its value goes in

    @property
    def spec(self) -> CheckSpec:
        """The registered check this item runs (the rubric loader made sure there is one)."""
        spec = get_check(self.check, self.assignment)
        assert spec is not None, f"{self.id}: check {self.check!r} vanished from the registry"
        return spec


@dataclass(frozen=True)
class ManualItem:
    """An item graded by hand on Gradescope; it never appears in results.json."""

    id: str
    part: str
    title: str
    points: float


@dataclass(frozen=True)
class Limits:
    """Time and memory given to one submission's code."""

    cell_timeout: float = 10.0
    notebook_timeout: float = 60.0
    call_timeout: float = 5.0
    memory_mb: int = 1536


@dataclass(frozen=True)
class LatePolicyConfig:
    """The rubric's late policy: a penalty per started day late, capped."""

    per_day_penalty: float
    max_penalty: float = 1.0
    grace_minutes: float = 0.0


@dataclass(frozen=True, eq=False)
class Rubric:
    """A validated rubric."""

    path: Path
    assignment: str
    title: str
    total_points: float
    files: Mapping[str, str]
    parts: Mapping[str, float]
    items: tuple[Item, ...]
    manual: tuple[ManualItem, ...]
    limits: Limits
    written_reference: str
    code_reference: str
    late_policy: LatePolicyConfig | None = None
    rate_limit_per_day: int | None = None
    extra_packages: tuple[str, ...] = field(default_factory=tuple)
    plugin: AssignmentPlugin | None = None

    @property
    def input_generators(self) -> Mapping[str, InputGenerator]:
        """The assignment's input generators (its plugin's), by name."""
        return self.plugin.generators if self.plugin else {}

    @property
    def weights_tasks(self) -> Mapping[str, WeightsTask]:
        """The assignment's weights tasks (its plugin's), by name."""
        return self.plugin.tasks if self.plugin else {}

    @property
    def autograded_points(self) -> float:
        """The sum of all autograded items' points."""
        return sum(item.points for item in self.items)

    def items_of(self, kind: CheckKind) -> tuple[Item, ...]:
        """The items whose check is of `kind`."""
        return tuple(item for item in self.items if item.kind == kind)

    def part_of(self, item_id: str) -> str:
        """The part an item belongs to."""
        return next(item.part for item in self.items if item.id == item_id)

    def load_written_reference(self) -> Any:
        """The computed reference answers (calls the rubric's `references.written`)."""
        module_name, _, function_name = self.written_reference.partition(":")
        return getattr(_import_reference(module_name), function_name)()

    def load_code_reference(self) -> ModuleType:
        """The reference implementation of the notebook's functions."""
        return _import_reference(self.code_reference)


def _import_reference(module_name: str) -> ModuleType:
    return importlib.import_module(module_name)


class _Reader:
    """Reads typed values out of LineDicts, raising RubricError with file, key and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str, line: int | None) -> RubricError:
        return RubricError(self.path, key, message, line)

    def mapping(self, value: object, key: str, line: int | None) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.fail(key, f"must be a mapping, got {_kind(value)}", line)
        return value

    def get(
        self, data: LineDict, key: str, types: type | tuple[type, ...], where: str,
        default: Any = REQUIRED,
    ) -> Any:
        full = f"{where}.{key}" if where else key
        if key not in data:
            if default is REQUIRED:
                raise self.fail(full, "is required but missing", data.line)
            return default
        value = data[key]
        if isinstance(value, bool) and bool not in _as_tuple(types):
            raise self.fail(full, f"must be {_type_names(types)}, got a boolean", data.line_of(key))
        if not isinstance(value, types):
            raise self.fail(full, f"must be {_type_names(types)}, got {_kind(value)}", data.line_of(key))
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(full, "must be a finite number", data.line_of(key))
        return value

    def only_keys(self, data: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                hint = ", ".join(allowed)
                raise self.fail(
                    f"{where}.{key}" if where else str(key),
                    f"is not a known key (known: {hint})", data.line_of(key),
                )


def load_rubric(path: Path | str) -> Rubric:
    """Load and validate a rubric file; raise RubricError naming file, key and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(path, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RubricError(path, "(file)", "is not UTF-8 text") from None
    try:
        data = parse_yaml_text(text)
    except DuplicateKeyError as exc:
        raise RubricError(path, "(yaml)", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RubricError(
            path, "(yaml)", f"invalid YAML: {problem}", mark.line + 1 if mark else None
        ) from None
    return _build_rubric(path, data)


def _build_rubric(path: Path, data: object) -> Rubric:
    r = _Reader(path)
    top = r.mapping(data, "(top level)", 1)
    r.only_keys(top, (
        "assignment", "title", "total_points", "references", "plugin", "files", "parts", "limits",
        "late_policy", "rate_limit", "sandbox", "items", "manual",
    ), "")
    assignment = r.get(top, "assignment", str, "")
    title = r.get(top, "title", str, "", default=assignment)
    plugin_target = r.get(top, "plugin", str, "", default=None)
    plugin = None
    if plugin_target is not None:
        if not plugin_target.startswith("reference_solutions."):
            raise r.fail("plugin", "must name a module under reference_solutions", top.line_of("plugin"))
        try:
            plugin = load_plugin(plugin_target, assignment)
        except GraderError as exc:
            raise r.fail("plugin", str(exc), top.line_of("plugin")) from None

    references = r.mapping(r.get(top, "references", LineDict, ""), "references", top.line_of("references"))
    r.only_keys(references, ("written", "code"), "references")
    written_reference = r.get(references, "written", str, "references")
    code_reference = r.get(references, "code", str, "references")
    for key, target in (("written", written_reference), ("code", code_reference)):
        if not target.startswith("reference_solutions."):
            raise r.fail(f"references.{key}", "must name a module under reference_solutions",
                         references.line_of(key))
        if key == "written" and ":" not in target:
            raise r.fail("references.written", "must be 'module:function'", references.line_of(key))
        try:
            module = importlib.import_module(target.partition(":")[0])
        except ImportError as exc:
            raise r.fail(f"references.{key}", f"cannot be imported: {exc}", references.line_of(key)) from None
        if key == "written" and not callable(getattr(module, target.partition(":")[2], None)):
            raise r.fail("references.written", "names no function in that module", references.line_of(key))

    files_node = r.mapping(r.get(top, "files", LineDict, ""), "files", top.line_of("files"))
    r.only_keys(files_node, FILE_ROLES, "files")
    files: dict[str, str] = {str(role): r.get(files_node, role, str, "files") for role in files_node}

    parts_node = r.mapping(r.get(top, "parts", LineDict, ""), "parts", top.line_of("parts"))
    parts: dict[str, float] = {}
    for part in parts_node:
        if not isinstance(part, str) or not _ID.match(part):
            raise r.fail(f"parts.{part}", "a part id is lower-case letters, digits and _", parts_node.line_of(part))
        parts[part] = float(r.get(parts_node, part, (int, float), "parts"))
        if parts[part] <= 0:
            raise r.fail(f"parts.{part}", "points must be positive", parts_node.line_of(part))

    limits = _read_limits(r, top)
    manual = _read_manual(r, top, parts)
    items = _read_items(r, top, parts, files, assignment, plugin)
    late_policy, rate_limit = _read_policies(r, top)
    sandbox = r.mapping(r.get(top, "sandbox", LineDict, "", default=LineDict()), "sandbox", top.line_of("sandbox"))
    r.only_keys(sandbox, ("extra_packages",), "sandbox")
    extra = r.get(sandbox, "extra_packages", list, "sandbox", default=[])

    manual_parts = {m.part for m in manual}
    for part, declared_points in parts.items():
        if part in manual_parts:
            continue
        got = sum(item.points for item in items if item.part == part)
        if not math.isclose(got, declared_points, abs_tol=1e-9):
            raise r.fail(f"parts.{part}", f"declares {declared_points:g} points but its items add up to {got:g}",
                         parts_node.line_of(part))
    total = float(r.get(top, "total_points", (int, float), ""))
    declared = sum(parts.values()) + sum(m.points for m in manual if m.part not in parts)
    if not math.isclose(total, declared, abs_tol=1e-9):
        raise r.fail("total_points", f"is {total:g} but the parts and manual items add up to {declared:g}",
                     top.line_of("total_points"))
    return Rubric(
        path=path, assignment=assignment, title=title, total_points=total, files=files, parts=parts,
        items=tuple(items), manual=tuple(manual), limits=limits, written_reference=written_reference,
        code_reference=code_reference, late_policy=late_policy, rate_limit_per_day=rate_limit,
        extra_packages=tuple(str(p) for p in extra), plugin=plugin,
    )


def _read_limits(r: _Reader, top: LineDict) -> Limits:
    node = r.mapping(r.get(top, "limits", LineDict, "", default=LineDict()), "limits", top.line_of("limits"))
    r.only_keys(node, ("cell_timeout", "notebook_timeout", "call_timeout", "memory_mb"), "limits")
    defaults = Limits()
    values: dict[str, Any] = {}
    for name in ("cell_timeout", "notebook_timeout", "call_timeout", "memory_mb"):
        value = r.get(node, name, (int, float), "limits", default=getattr(defaults, name))
        if value <= 0:
            raise r.fail(f"limits.{name}", "must be positive", node.line_of(name))
        values[name] = int(value) if name == "memory_mb" else float(value)
    return Limits(**values)


def _read_policies(r: _Reader, top: LineDict) -> tuple[LatePolicyConfig | None, int | None]:
    late = None
    if "late_policy" in top:
        node = r.mapping(top["late_policy"], "late_policy", top.line_of("late_policy"))
        r.only_keys(node, ("per_day_penalty", "max_penalty", "grace_minutes"), "late_policy")
        late = LatePolicyConfig(
            per_day_penalty=float(r.get(node, "per_day_penalty", (int, float), "late_policy")),
            max_penalty=float(r.get(node, "max_penalty", (int, float), "late_policy", default=1.0)),
            grace_minutes=float(r.get(node, "grace_minutes", (int, float), "late_policy", default=0.0)),
        )
        for name in ("per_day_penalty", "max_penalty"):
            if not 0.0 <= getattr(late, name) <= 1.0:
                raise r.fail(f"late_policy.{name}", "is a fraction of the score, between 0 and 1", node.line_of(name))
    rate = None
    if "rate_limit" in top:
        node = r.mapping(top["rate_limit"], "rate_limit", top.line_of("rate_limit"))
        r.only_keys(node, ("per_day",), "rate_limit")
        rate = int(r.get(node, "per_day", int, "rate_limit"))
        if rate < 1:
            raise r.fail("rate_limit.per_day", "must be at least 1", node.line_of("per_day"))
    return late, rate


def _read_manual(r: _Reader, top: LineDict, parts: Mapping[str, float]) -> list[ManualItem]:
    node = r.get(top, "manual", LineList, "", default=LineList())
    manual = []
    for index, entry in enumerate(node):
        where = f"manual[{index}]"
        entry = r.mapping(entry, where, node.line)
        r.only_keys(entry, ("id", "part", "title", "points"), where)
        item_id = r.get(entry, "id", str, where)
        manual.append(ManualItem(
            id=item_id, part=r.get(entry, "part", str, where, default=item_id),
            title=r.get(entry, "title", str, where, default=item_id),
            points=float(r.get(entry, "points", (int, float), where)),
        ))
    return manual


_ITEM_KEYS = ("id", "part", "title", "points", "visibility", "check", "answer", "params", "feedback", "key_note",
              "leaderboard")


def _read_items(r: _Reader, top: LineDict, parts: Mapping[str, float], files: Mapping[str, str],
                assignment: str, plugin: AssignmentPlugin | None) -> list[Item]:
    node = r.get(top, "items", LineList, "")
    if not node:
        raise r.fail("items", "must list at least one item", top.line_of("items"))
    items: list[Item] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(node):
        where = f"items[{index}]"
        entry = r.mapping(entry, where, node.line)
        r.only_keys(entry, _ITEM_KEYS, where)
        item_id = r.get(entry, "id", str, where)
        where = f"items[{index}] ({item_id})"
        if not _ID.match(item_id):
            raise r.fail(f"{where}.id", "an id is lower-case letters, digits and _", entry.line_of("id"))
        if item_id in seen:
            raise r.fail(f"{where}.id", f"is used twice (first at line {seen[item_id]})", entry.line_of("id"))
        seen[item_id] = entry.line_of("id")
        part = r.get(entry, "part", str, where)
        if part not in parts:
            raise r.fail(f"{where}.part", f"{part!r} is not declared under parts", entry.line_of("part"))
        points = float(r.get(entry, "points", (int, float), where))
        if points <= 0:
            raise r.fail(f"{where}.points", "must be positive", entry.line_of("points"))
        visibility = r.get(entry, "visibility", str, where)
        if visibility not in VISIBILITIES:
            raise r.fail(f"{where}.visibility", f"must be one of {', '.join(VISIBILITIES)}",
                         entry.line_of("visibility"))
        check_name = r.get(entry, "check", str, where)
        spec = get_check(check_name, assignment)
        if spec is None:
            raise r.fail(f"{where}.check", f"{check_name!r} is not a registered check (`grader checks "
                         "--rubric RUBRIC` lists them)", entry.line_of("check"))
        if spec.kind not in files:
            raise r.fail(f"{where}.check", f"is a {spec.kind} check but files.{spec.kind} is not set",
                         entry.line_of("check"))
        answer = r.get(entry, "answer", str, where, default=None)
        if spec.kind == "written" and answer is None:
            raise r.fail(f"{where}.answer", "a written check needs the answer's key", entry.line)
        params_node = r.mapping(r.get(entry, "params", LineDict, where, default=LineDict()),
                                f"{where}.params", entry.line_of("params"))
        params = _read_params(r, params_node, spec.params, f"{where}.params", check_name)
        leaderboard = r.get(entry, "leaderboard", str, where, default=None)
        if leaderboard is not None and not spec.leaderboard:
            raise r.fail(f"{where}.leaderboard", f"check {check_name} gives no value for a leaderboard",
                         entry.line_of("leaderboard"))
        problem = spec.validate(params) if spec.validate is not None else None
        problem = problem or _names_known(params, plugin)
        if problem:
            raise r.fail(f"{where}.params", problem, entry.line_of("params"))
        items.append(Item(
            id=item_id, part=part, title=r.get(entry, "title", str, where, default=item_id),
            points=points, visibility=cast(Visibility, visibility), check=check_name, kind=spec.kind,
            params=params, answer=answer, feedback=r.get(entry, "feedback", str, where, default=""),
            key_note=r.get(entry, "key_note", str, where, default=""), line=entry.line,
            assignment=assignment, leaderboard=leaderboard,
        ))
    return items


def _names_known(params: Mapping[str, Any], plugin: AssignmentPlugin | None) -> str | None:
    """An `inputs:` or `task:` parameter must name one of the assignment's generators or tasks."""
    for key, kind, known in (("inputs", "input generator", plugin.generators if plugin else {}),
                             ("task", "weights task", plugin.tasks if plugin else {})):
        if key in params and params[key] not in known:
            offered = ", ".join(sorted(known)) or "none: the rubric names no plugin that registers one"
            return f"{key} {params[key]!r} is not an {kind} of this assignment (it has {offered})"
    return None


def _read_params(
    r: _Reader, node: LineDict, accepted: Mapping[str, tuple[type | tuple[type, ...], Any]],
    where: str, check_name: str,
) -> dict[str, Any]:
    for key in node:
        if key not in accepted:
            known = ", ".join(accepted) or "none"
            raise r.fail(f"{where}.{key}", f"is not a parameter of check {check_name!r} (accepted: {known})",
                         node.line_of(key))
    params: dict[str, Any] = {}
    for name, (types, default) in accepted.items():
        if name in node:
            wanted = (float, int) if _as_tuple(types) == (float,) else types
            value = r.get(node, name, wanted, where)
            params[name] = float(value) if _as_tuple(types) == (float,) else _plain(value)
        elif default is REQUIRED:
            raise r.fail(f"{where}.{name}", f"is required by check {check_name!r}", node.line)
        else:
            params[name] = default
    return params


def _plain(value: Any) -> Any:
    """LineDict/LineList to plain dict/list, so checks see ordinary data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: type | tuple[type, ...]) -> str:
    names = {int: "a whole number", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a mapping", LineDict: "a mapping", LineList: "a list"}
    accepted = _as_tuple(types)
    if float in accepted:  # "a whole number or a number" says nothing more than "a number"
        accepted = tuple(t for t in accepted if t is not int)
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in accepted))


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"{type(value).__name__} {value!r}"
