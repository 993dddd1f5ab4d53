"""The grader's calls as the child's request carries them: checked and encoded once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from grader.sandbox import wire
from grader.sandbox.types import Call
from grader.sandbox.wire import Ref


@dataclass(frozen=True)
class Prepared:
    """A call, its wire form, and the earlier calls whose results it uses."""

    call: Call
    wire: dict[str, Any]
    refs: frozenset[str]


def prepare_calls(calls: Sequence[Call]) -> list[Prepared]:
    """Check the calls (the grader's own fault if wrong) and encode their arguments once."""
    seen: set[str] = set()
    refs_of = [frozenset(_refs_in((call.args, tuple(call.kwargs.values())))) for call in calls]
    referenced = set().union(*refs_of)
    out: list[Prepared] = []
    for call, refs in zip(calls, refs_of, strict=True):
        if not isinstance(call.id, str) or not call.id or call.id in seen:
            raise ValueError(f"call ids must be unique non-empty strings: {call.id!r}")
        if call.timeout <= 0:
            raise ValueError(f"call {call.id!r}: the timeout must be positive")
        unknown = refs - seen
        if unknown:
            raise ValueError(f"call {call.id!r} refers to {sorted(unknown)}, not an earlier call")
        seen.add(call.id)
        encoded = {"id": call.id, "function": call.function,
                   "args": [wire.encode(a) for a in call.args],
                   "kwargs": {str(k): wire.encode(v) for k, v in call.kwargs.items()},
                   "select": call.select, "timeout": float(call.timeout),
                   "return_args": bool(call.return_args), "replay": False,
                   "keep": call.id in referenced}
        out.append(Prepared(call, encoded, refs))
    return out


def _refs_in(value: object) -> Iterator[str]:
    if isinstance(value, Ref):
        yield value.call_id
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _refs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs_in(item)
