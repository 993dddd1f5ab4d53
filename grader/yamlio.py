"""Safe YAML loading that remembers where each key was written.

Used for the instructor's rubric (so an error names file, key and line) and for students'
answer files (hostile input: safe constructors only, bounded size and depth). Students' files
may use aliases (`&id001` / `*id001`, as yaml.dump writes shared lists) as long as the document
they stand for stays small: its size once expanded is counted from the parser's events, without
expanding anything, so an alias bomb ("billion laughs") is refused before a value is built.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from grader.errors import StudentFileError


class LineDict(dict):  # type: ignore[type-arg,unused-ignore]
    """A mapping loaded from YAML that knows the line of each of its keys."""

    line: int = 0
    lines: dict[object, int]

    def __init__(self) -> None:
        super().__init__()
        self.lines = {}

    def line_of(self, key: object) -> int:
        """The 1-based line where `key` was written, else the mapping's own line."""
        return self.lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg,unused-ignore]
    """A sequence loaded from YAML that knows its line."""

    line: int = 0


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that names one key twice: YAML would silently keep the last one."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building LineDict/LineList and refusing duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in mapping:
            raise DuplicateKeyError(
                f"line {key_node.start_mark.line + 1}: the key {key!r} appears twice "
                f"(first on line {mapping.lines[key]})"
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


MAX_EXPANDED_NODES = 10_000
SCALAR_CHARS_PER_VALUE = 100
"""Values (scalars, lists, mappings, keys included) a student's file may stand for, aliases expanded."""


class _Open:
    """A collection being parsed: its anchor, and its expanded size and height so far."""

    __slots__ = ("anchor", "height", "size")

    def __init__(self, anchor: str | None) -> None:
        self.anchor = anchor
        self.size = 1  # the collection itself
        self.height = 1  # its own level of nesting


def _check_events(text: str, max_depth: int, max_nodes: int = MAX_EXPANDED_NODES) -> None:
    """Refuse deep nesting and documents whose aliases expand past `max_nodes` values.

    Every value is counted once as it is parsed; each anchored value's expanded size and height
    are recorded when it ends, and an alias adds them where it stands. Only numbers are kept,
    nothing is copied, and counting stops at the first value past the limit, so a bomb costs
    no more to check than its text is long.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, height)
    stack: list[_Open] = []
    total = 0

    def count(size: int, height: int, line: int, alias: str = "") -> None:
        nonlocal total
        if len(stack) + height > max_depth:
            through = f" through the alias *{alias}" if alias else ""
            raise StudentFileError(f"line {line}: nested more than {max_depth} levels deep{through}.")
        total += size
        if total > max_nodes:
            raise StudentFileError(
                f"line {line}: with its aliases (*name) expanded, the file stands for more than "
                f"{max_nodes:,} values (a long text counts one per {SCALAR_CHARS_PER_VALUE} characters); "
                "write the answers out without aliases."
            )
        if stack:
            stack[-1].size += size
            stack[-1].height = max(stack[-1].height, height + 1)

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            name = str(event.anchor)
            if any(item.anchor == name for item in stack):
                raise StudentFileError(f"line {line}: the alias *{name} refers to a value that "
                                       "contains it; write the value out in full.")
            if name in anchors:  # else the composer reports the undefined alias
                count(*anchors[name], line, alias=name)
        elif isinstance(event, yaml.ScalarEvent):
            # A long text counts as one value per 100 characters: one 200 KB string repeated
            # through aliases must not stand for gigabytes of expanded text.
            size = 1 + len(event.value) // SCALAR_CHARS_PER_VALUE
            count(size, 0, line)
            if event.anchor is not None:
                anchors[str(event.anchor)] = (size, 0)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) + 1 > max_depth:
                raise StudentFileError(f"line {line}: nested more than {max_depth} levels deep.")
            count(0, 0, line)  # checks the total so far; the collection's own 1 follows
            total += 1
            stack.append(_Open(None if event.anchor is None else str(event.anchor)))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            if done.anchor is not None:
                anchors[done.anchor] = (done.size, done.height)
            if stack:
                stack[-1].size += done.size
                stack[-1].height = max(stack[-1].height, done.height + 1)


def parse_yaml_text(text: str) -> Any:
    """Parse trusted-shape YAML text with line tracking (SafeLoader semantics)."""
    return yaml.load(text, Loader=_LineLoader)  # _LineLoader is a SafeLoader


def load_untrusted_yaml(path: Path, *, max_bytes: int = 256_000, max_depth: int = 20) -> Any:
    """Load a student's YAML file or raise StudentFileError with a message for the student."""
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise StudentFileError(f"{name} is {size:,} bytes; the limit is {max_bytes:,}.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StudentFileError(f"{name} is not UTF-8 text (byte {exc.start}).") from None
    if "\x00" in text:
        raise StudentFileError(f"{name} contains a NUL byte; save it as plain text.")
    try:
        _check_events(text, max_depth)
        return parse_yaml_text(text)
    except StudentFileError as exc:
        raise StudentFileError(f"{name}: {exc}") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        if exc.problem and "tag" in exc.problem:
            found = re.search(r"tag '?([^'\s]+)", exc.problem)
            shown = found.group(1) if found else "?"
            raise StudentFileError(
                f"{name}, {where}: uses a YAML tag ({shown}) that is not allowed; write plain "
                "numbers, lists and strings."
            ) from None
        raise StudentFileError(f"{name}, {where}: {exc.problem}") from None
    except DuplicateKeyError as exc:
        raise StudentFileError(f"{name}, {exc}") from None
    except yaml.YAMLError as exc:
        raise StudentFileError(_syntax_message(name, exc)) from None
    except RecursionError:
        raise StudentFileError(f"{name} is nested too deeply.") from None
    except (ValueError, OverflowError) as exc:
        # PyYAML's constructors raise these for values it parses but cannot build (a date
        # 2024-13-45, an integer of thousands of digits).
        reason = "an integer with too many digits" if "int_max_str_digits" in str(exc) else str(exc)[:200]
        raise StudentFileError(f"{name} has a value that cannot be read ({reason}); "
                               "quote it if it is meant as text.") from None


_TOKENS = {"scalar": "a value", "stream end": "the end of the file", "block end": "the end of an indented block",
           "block mapping start": "a new key", "block sequence start": "a new list item", "document start": "---"}


def _syntax_message(name: str, exc: yaml.YAMLError) -> str:
    """Where a YAML syntax error is and, for an unclosed [ or {, where that bracket opened."""
    problem = str(getattr(exc, "problem", None) or exc)
    problem = re.sub(r"'<([a-z ]+)>'", lambda m: _TOKENS.get(m.group(1), m.group(1)), problem)
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    text = f"{name} is not valid YAML: {where}{problem}"
    context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and opened is not None and (mark is None or opened.line != mark.line):
        # PyYAML notices an unclosed bracket lines later; the student's mistake is where it opened.
        what = str(context).replace("while parsing a ", "")
        what = {"flow sequence": "list [", "flow mapping": "mapping {"}.get(what, what)
        text += f" (the {what} that opens at line {opened.line + 1}, column {opened.column + 1} is not closed)"
    return text + "."
