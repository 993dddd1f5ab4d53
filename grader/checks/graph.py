"""Comparing a student's computation graph (a list of edges) with the reference graph."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from grader.outcome import Outcome


def normalise_node(name: Any, aliases: Mapping[str, str]) -> str | None:
    """A node name in canonical form (`y_prime` -> `y'`), or None if it is not a string."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        return None
    text = str(name).strip().replace("’", "'").replace("′", "'")
    key = text.lower() if text.lower() in aliases else text
    return aliases.get(key, text)


def read_edges(
    answer: Any, aliases: Mapping[str, str], ignored: Iterable[str]
) -> tuple[set[tuple[str, str]], list[str]]:
    """The student's edges as a set of (from, to) pairs, and notes on entries that were skipped."""
    ignored_set = set(ignored)
    notes: list[str] = []
    edges: set[tuple[str, str]] = set()
    if not isinstance(answer, list):
        return edges, ["q1_2_graph should be a list of [from, to] pairs."]
    for position, entry in enumerate(answer, start=1):
        if not isinstance(entry, list) or len(entry) != 2:
            notes.append(f"entry {position} is not a [from, to] pair: {str(entry)[:40]}")
            continue
        source, target = (normalise_node(node, aliases) for node in entry)
        if source is None or target is None:
            notes.append(f"entry {position} has a node that is not a name: {str(entry)[:40]}")
            continue
        if source in ignored_set or target in ignored_set:
            continue  # weight and bias nodes are allowed and ignored
        edges.add((source, target))
    return edges, notes


def compare_graphs(
    answer: Any, reference: Iterable[tuple[str, str]], aliases: Mapping[str, str], ignored: Iterable[str]
) -> Outcome:
    """Partial credit: (correct edges - wrong edges) / reference edges, never below 0."""
    want = {(str(a), str(b)) for a, b in reference}
    got, notes = read_edges(answer, aliases, ignored)
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
    if missing:
        lines.append(f"{len(missing)} edge(s) are missing: check what each quantity is computed from.")
    lines.extend(notes)
    return Outcome(min(1.0, fraction), "\n".join(lines))
