"""Safe YAML loading that remembers where each key was written.

Used for the instructor's rubric (so an error names file, key and line) and for students'
answer files (hostile input: safe constructors only, bounded size and depth). Students' files
may use aliases (`&id001` / `*id001`, as yaml.dump writes shared lists) as long as the document
they stand for stays small: its size once expanded is counted from the parser's events, without
expanding anything, so an alias bomb ("billion laughs") is refused before a value is built.

Integers are read as a person writes them, not as YAML 1.1 does: `010` is ten (YAML 1.1: eight)
and `048` is 48 (YAML 1.1: the text "048"); `0x1F`, `0o17` and `0b101` keep their bases.
Students' files are parsed by libyaml when PyYAML has it (about 100 times faster, so a file of
a few MB costs milliseconds); a file libyaml refuses is parsed again in Python, whose messages
say where the mistake is.
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


def _construct_mapping(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode) -> LineDict:
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


def _construct_sequence(loader: yaml.constructor.SafeConstructor, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    return sequence


_INT_TAG = "tag:yaml.org,2002:int"
# YAML 1.1's int forms, except that a leading zero means nothing (YAML 1.1: octal) and 0o is octal.
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0o[0-7_]+
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[0-9][0-9_]*
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""", re.X)
_BASES = {"0b": 2, "0o": 8, "0x": 16}


def _construct_int(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> int:
    """An integer, decimal unless 0b, 0o or 0x says otherwise (`010` is 10, `048` is 48)."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text[1:] if text[:1] in "+-" else text
    base = _BASES.get(text[:2].lower())
    if base is not None:
        return sign * int(text[2:], base)
    if ":" in text:  # sexagesimal, as YAML 1.1 reads it: 1:30 is 90
        value = 0
        for part in text.split(":"):
            value = value * 60 + int(part)
        return sign * value
    return sign * int(text)


def _configure(loader: Any) -> None:
    """Line-tracking containers, duplicate keys refused, integers read as decimal."""
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    loader.add_constructor(_INT_TAG, _construct_int)
    loader.yaml_implicit_resolvers = {
        first: [(tag, _INT if tag == _INT_TAG else pattern) for tag, pattern in resolvers]
        for first, resolvers in loader.yaml_implicit_resolvers.items()
    }


_configure(_LineLoader)
_FAST_BASE: Any = getattr(yaml, "CSafeLoader", None)  # None when PyYAML was built without libyaml


if _FAST_BASE is not None:
    class _FastLineLoader(_FAST_BASE):
        """_LineLoader on libyaml's parser (the constructors, resolvers and checks are the same)."""

    _configure(_FastLineLoader)


MAX_EXPANDED_NODES = 10_000
"""Values (scalars, lists, mappings, keys included) a student's file may stand for, aliases expanded."""
SCALAR_CHARS_PER_VALUE = 100
"""Through an alias, a long text counts one value per this many characters."""
MAX_WRITTEN_BYTES = 4 * 2**20
"""The largest answers file read. Long answers cost only their own items: each check bounds its
work (an expression is refused past 200 characters before it is read), and literal text does not
count towards MAX_EXPANDED_NODES, which bounds values and text repeated through aliases."""


class _Open:
    """A collection being parsed: its anchor, and its expanded size and height so far."""

    __slots__ = ("anchor", "height", "size")

    def __init__(self, anchor: str | None) -> None:
        self.anchor = anchor
        self.size = 1  # the collection itself, then its contents, texts weighed by length
        self.height = 1  # its own level of nesting


def _check_events(text: str, max_depth: int, max_nodes: int = MAX_EXPANDED_NODES, *,
                  loader: Any = yaml.SafeLoader) -> None:
    """Refuse deep nesting, and documents of more than `max_nodes` values once aliases are expanded.

    Every value written out counts once as it is parsed, a long text too: the file's size bounds
    those. Each anchored value's expanded size (a text weighing one value per 100 characters) and
    height are recorded when it ends, and an alias adds them where it stands, so one long text
    repeated through aliases cannot stand for gigabytes. Only numbers are kept, nothing is
    copied, and counting stops at the first value past the limit, so a bomb costs no more to
    check than its text is long.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, height)
    stack: list[_Open] = []
    total = 0
    aliased = False

    def count(charge: int, size: int, height: int, line: int, alias: str = "") -> None:
        nonlocal total
        if len(stack) + height > max_depth:
            through = f" through the alias *{alias}" if alias else ""
            raise StudentFileError(f"line {line}: nested more than {max_depth} levels deep{through}.")
        total += charge
        if total > max_nodes:
            if aliased:
                raise StudentFileError(
                    f"line {line}: with its aliases (*name) expanded, the file stands for more than "
                    f"{max_nodes:,} values (a long text counts one per {SCALAR_CHARS_PER_VALUE} "
                    "characters); write the answers out without aliases.")
            raise StudentFileError(f"line {line}: the file holds more than {max_nodes:,} values (numbers, "
                                   "texts, lists); the answers need far fewer.")
        if stack:
            stack[-1].size += size
            stack[-1].height = max(stack[-1].height, height + 1)

    for event in yaml.parse(text, Loader=loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            name = str(event.anchor)
            if any(item.anchor == name for item in stack):
                raise StudentFileError(f"line {line}: the alias *{name} refers to a value that "
                                       "contains it; write the value out in full.")
            if name in anchors:  # else the composer reports the undefined alias
                aliased = True
                size, height = anchors[name]
                count(size, size, height, line, alias=name)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1 + len(event.value) // SCALAR_CHARS_PER_VALUE
            count(1, size, 0, line)
            if event.anchor is not None:
                anchors[str(event.anchor)] = (size, 0)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) + 1 > max_depth:
                raise StudentFileError(f"line {line}: nested more than {max_depth} levels deep.")
            count(1, 0, 0, line)  # the collection's own 1 is in its _Open, added to its parent at its end
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


def _parse_untrusted(text: str, max_depth: int) -> Any:
    """Check the events, then build the values: with libyaml if it reads the file, else in Python."""
    if _FAST_BASE is not None:
        try:
            _check_events(text, max_depth, loader=_FAST_BASE)
            return yaml.load(text, Loader=_FastLineLoader)
        except yaml.YAMLError:
            pass  # libyaml's own words; PyYAML's say where the mistake is, as the student sees it
    _check_events(text, max_depth)
    return parse_yaml_text(text)


def load_untrusted_yaml(path: Path, *, max_bytes: int = MAX_WRITTEN_BYTES, max_depth: int = 20) -> Any:
    """Load a student's YAML file or raise StudentFileError with a message for the student."""
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise StudentFileError(f"{name} is {size:,} bytes; the limit is {max_bytes:,}. Keep only the "
                               "answers in it.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StudentFileError(f"{name} is not UTF-8 text (byte {exc.start}).") from None
    if "\x00" in text:
        raise StudentFileError(f"{name} contains a NUL byte; save it as plain text.")
    try:
        return _parse_untrusted(text, max_depth)
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
