"""Starting one child: a fresh interpreter (its program and its first line) or a warm fork."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from grader.sandbox.child_source import CHILD_SOURCE
from grader.sandbox.isolation import IsolationError, Sandbox
from grader.sandbox.protocol import HEADER_KEYS
from grader.sandbox.reader import PopenChild, Reader
from grader.sandbox.types import SandboxError, SessionLimits

__all__ = ["CHILD_SOURCE", "Spawned", "spawn_child"]


@dataclass
class Spawned:
    """A started child that has its header, waiting for its body."""

    reader: Reader
    halt: Callable[[], None]  # kills the child and everything it started
    stopped: bool = False

    def stop(self) -> None:
        """Kill the child and everything it started; safe to call again."""
        if not self.stopped:
            self.stopped = True
            try:
                self.halt()
            finally:
                self.reader.close()


def spawn_child(sandbox: Sandbox, limits: SessionLimits) -> Spawned:
    """Start a child: forked from the session's warm process if it has one, else a fresh one."""
    warm = sandbox.warm_process()
    if warm is not None:
        try:
            return Spawned(*warm.spawn(sandbox, limits))
        except (IsolationError, SandboxError, OSError) as exc:
            sandbox.replace_warm(str(exc))
            if sandbox.warm is not None:
                return Spawned(*sandbox.warm.spawn(sandbox, limits))
    launch = sandbox.launch(CHILD_SOURCE)
    header = {"path": launch.path, "cwd": launch.workdir, "drop": launch.drop,
              "rlimits": launch.rlimits, "landlock": launch.landlock, "seed": launch.seed}
    assert tuple(header) == HEADER_KEYS  # the child reads these keys (protocol.py)
    process = sandbox.spawn(launch)
    reader = Reader(PopenChild(process, wrapped=sandbox.layer == "namespaces"), limits.output_bytes)
    reader.send_header(json.dumps(header, allow_nan=False).encode() + b"\n")
    return Spawned(reader, lambda: sandbox.stop(process))
