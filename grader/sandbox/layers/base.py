"""What every isolation layer provides: why it cannot work here, and how it prepares, launches
and stops one session's child. `grader.sandbox.isolation.Sandbox` drives a layer; the layers
themselves are `namespaces.py`, `uid.py` and `rlimits.py`, strongest first.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.sandbox.isolation import Sandbox


class IsolationError(GraderError):
    """A layer that was asked for cannot work here, or the sandbox could not be set up."""


@dataclass(frozen=True)
class Launch:
    """How to start one child: its command, environment and what its request must say."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    path: list[str]          # sys.path entries for the child (where numpy is)
    workdir: str             # the child's working directory, as the child sees it
    drop: tuple[int, int] | None   # uid, gid the child switches to after importing numpy
    rlimits: dict[str, Any]
    pass_fds: tuple[int, ...] = ()  # open files bwrap copies into the sandbox; closed once started
    landlock: dict[str, list[str]] | None = None  # what the child may read and write, as it sees it
    seed: str | None = None  # a folder the child copies into its working folder before starting


class Layer(ABC):
    """One way of isolating the child; an instance serves one session (one `Sandbox`)."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for `--help` and the docs

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.ids: tuple[int, int] | None = None  # the uid and gid the child switches to, if any

    @classmethod
    @abstractmethod
    def unavailable_reason(cls) -> str | None:
        """Why this layer cannot work on this machine, or None if it can."""

    def prepare(self, secret_paths: Sequence[Path]) -> None:
        """Set up before the first child (users, locks, files); notices go to the sandbox."""
        return None  # nothing to do unless a layer says otherwise

    @abstractmethod
    def launch(self, work: Path, python: list[str]) -> Launch:
        """How to start a child on the working copy `work` with the interpreter command `python`."""

    def temp_base(self) -> str | None:
        """The folder the session's temporary files go in (None: the grader's temporary folder)."""
        return None

    def executable(self) -> Path | None:
        """The interpreter the child runs, if not the grader's own."""
        return None

    def watch(self, pid: int) -> list[int]:
        """Before the kill: what to wait for after it (pidfds), so that 'stopped' means all gone."""
        return []

    def after_stop(self) -> None:
        """After the child's process group was killed: whatever else of it must go."""
        return None  # nothing to do unless a layer says otherwise

    def close(self) -> None:
        """The session is over: give back what `prepare` took. Never raises for cleanup."""
        return None  # nothing to do unless a layer says otherwise


def is_root() -> bool:
    """Whether the grader runs as root (the uid and namespaces layers then switch users)."""
    return os.name == "posix" and os.geteuid() == 0
