"""Comparing a student's computation graph (a list of edges) with the reference graph.

Node names are matched leniently but never ambiguously: the rubric's aliases (`y_prime` ->
`y'`), then the name with the problem's notation stripped (`^ _ { } ( )` and spaces, so
`a_1` is `a1` and `W^{(1)}` is `W1`), case-insensitively, against the reference's own nodes
and the ignored weight and bias names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from grader.outcome import Outcome, brief

IGNORED = "\0ignored"
"""What `normalise_node` returns for a weight or bias node (allowed, and left out)."""

# Notation around a name: sub/superscripts and their braces, parentheses, spaces. A `^` at the
# end of a name (`y^`, a hat typed in ASCII) is kept: stripping it would turn it into `y`.
_NOTATION = re.compile(r"[\s_{}()]|\^(?=.)")
_QUOTES = str.maketrans({"’": "'", "′": "'", "‘": "'", "`": "'"})


def _compact(name: str) -> str:
    return _NOTATION.sub("", name).lower()


class NodeTable:
    """Canonical node (or IGNORED) by spelling: exact (lower-cased) first, then compacted.

    A node's own spelling always means that node (the alias `y_` compacts to `y`, which stays
    the node y); any other spelling that two different targets would claim is left out of its
    table, so nothing is guessed.
    """

    def __init__(self, nodes: Iterable[str], aliases: Mapping[str, str], ignored: Iterable[str]) -> None:
        own = [(n, n) for n in nodes]
        others = [*aliases.items(), *((w, IGNORED) for w in ignored)]
        self.tables = [self._unambiguous([(key.strip().lower(), target) for key, target in own],
                                         [(key.strip().lower(), target) for key, target in others]),
                       self._unambiguous([(_compact(key), target) for key, target in own],
                                         [(_compact(key), target) for key, target in others])]

    @staticmethod
    def _unambiguous(own: list[tuple[str, str]], others: list[tuple[str, str]]) -> dict[str, str]:
        def claimed(pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
            claims: dict[str, set[str]] = {}
            for key, target in pairs:
                claims.setdefault(key, set()).add(target)
            return claims

        nodes, everything = claimed(own), claimed([*own, *others])
        table = {key: next(iter(targets)) for key, targets in everything.items() if len(targets) == 1}
        # A node's own name wins over aliases that compact to it (unless two nodes share it).
        table.update({key: next(iter(targets)) for key, targets in nodes.items() if len(targets) == 1})
        return table

    def lookup(self, text: str) -> str | None:
        """The canonical node for `text`, or None if it is not a known spelling."""
        for table, key in zip(self.tables, (text.lower(), _compact(text)), strict=True):
            if key in table:
                return table[key]
        return None


def normalise_node(name: Any, table: NodeTable) -> str | None:
    """A node name in canonical form (`y_prime` -> `y'`, `W^(1)` -> IGNORED), None if not a name."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        return None
    text = unicodedata.normalize("NFC", str(name)).strip().translate(_QUOTES)
    found = table.lookup(text)
    return text if found is None else found


def read_edges(
    answer: Any, table: NodeTable
) -> tuple[set[tuple[str, str]], list[str]]:
    """The student's edges as a set of (from, to) pairs, and notes on entries that were skipped."""
    notes: list[str] = []
    edges: set[tuple[str, str]] = set()
    if not isinstance(answer, list):
        return edges, ["q1_2_graph should be a list of [from, to] pairs."]
    for position, entry in enumerate(answer, start=1):
        if not isinstance(entry, list) or len(entry) != 2:
            notes.append(f"entry {position} is not a [from, to] pair: {brief(entry)}")
            continue
        source, target = (normalise_node(node, table) for node in entry)
        if source is None or target is None:
            notes.append(f"entry {position} has a node that is not a name: {brief(entry)}")
            continue
        if IGNORED in (source, target):
            continue  # weight and bias nodes are allowed and ignored
        edges.add((source, target))
    return edges, notes


def compare_graphs(
    answer: Any, reference: Iterable[tuple[str, str]], aliases: Mapping[str, str], ignored: Iterable[str]
) -> Outcome:
    """Partial credit: (correct edges - wrong edges) / reference edges, never below 0."""
    want = {(str(a), str(b)) for a, b in reference}
    nodes = sorted({node for edge in want for node in edge})
    got, notes = read_edges(answer, NodeTable(nodes, aliases, ignored))
    if not got and not notes and not answer:
        return Outcome.zero("No edges were given for q1_2_graph.")
    correct = got & want
    wrong = got - want
    missing = want - got
    fraction = max(0.0, (len(correct) - len(wrong)) / len(want))
    lines = [f"{len(correct)} of {len(want)} edges are right."]
    if wrong:
        reversed_edges = sorted(edge for edge in wrong if (edge[1], edge[0]) in want)
        others = sorted(wrong - set(reversed_edges))
        if reversed_edges:
            lines.append("These edges point the wrong way: " + ", ".join(f"{a} -> {b}" for a, b in reversed_edges))
        if others:
            lines.append("These edges are not in the graph (each costs one correct edge): "
                         + ", ".join(f"{a} -> {b}" for a, b in others))
        unknown = sorted({node for edge in wrong for node in edge} - set(nodes))
        if unknown:
            lines.append(f"Not a node of the problem: {', '.join(unknown[:8])}. The nodes are "
                         f"{' '.join(nodes)} (weights and biases such as W1, b1 may appear and are ignored).")
    if missing:
        lines.append(f"{len(missing)} edge(s) are missing: check what each quantity is computed from.")
    lines.extend(notes)
    return Outcome(min(1.0, fraction), "\n".join(lines))
