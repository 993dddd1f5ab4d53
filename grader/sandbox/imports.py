"""Which imports in a cell a student guards themselves (`try: import torch except ImportError:`).

The child binds a stand-in to a package the grader does not provide, so that one plotting or
Colab import does not stop the rest of its cell. An import the student already guards must
fail as it would in their own kernel, so that their `except` branch runs: the child is told
those imports' line numbers, found here by reading the cell's syntax tree (never running it).
"""

from __future__ import annotations

import ast

# Exceptions whose handler catches a failed import.
_CATCHES_IMPORT_ERROR = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_TRY_NODES: tuple[type, ...] = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t)


def guarded_import_lines(source: str) -> list[int]:
    """1-based line numbers of the import statements inside a `try` that catches ImportError."""
    if "try" not in source or "import" not in source:
        return []  # no `try` statement or no import: nothing to parse (most cells)
    return _from_tree(source)


def _from_tree(source: str) -> list[int]:
    """`guarded_import_lines` without its shortcut: the cell's syntax tree read."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the cell will not compile: nothing of it runs
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _TRY_NODES):
            continue
        attempt: ast.Try = node  # type: ignore[assignment]  # ast.TryStar has the same fields
        if any(_catches_import_error(h) for h in attempt.handlers):
            for statement in attempt.body:
                for inner in ast.walk(statement):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return sorted(lines)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_name(t) in _CATCHES_IMPORT_ERROR for t in types)


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
