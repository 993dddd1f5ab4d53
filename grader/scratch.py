"""One scratch folder per grader process, so that what a killed run leaves behind is removed by the next.

Every temporary folder a run makes (unpacked submissions, each sandbox's working copy, the
namespaces probe) is removed when its work ends, but a grader killed with SIGKILL (or by the OOM
killer, or a reboot of its container) never gets there: each kill left four or five folders in
the temporary folder, a copy of a student's submission among them, for good. So the command line
runs every command inside `scratch_folder()`: a fresh `grader-run-*` folder that is the process's
temporary folder (`tempfile.tempdir`) while the command runs, and on which the process holds an
exclusive `flock` for as long as it lives. The kernel releases that lock however the process
ends; a later run removes every `grader-run-*` folder of its user whose lock it can take.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from grader.sandbox.cleanup import remove_tree

__all__ = ["LOCK_NAME", "RUN_PREFIX", "scratch_folder", "sweep_stale"]

RUN_PREFIX = "grader-run-"
"""How the scratch folders of grader processes are named, in the temporary folder."""
LOCK_NAME = ".owner.lock"
"""The file in a scratch folder that its process holds locked (it holds the process's id, for people)."""
UNLOCKED_GRACE = 60.0
"""Seconds a scratch folder without its lock file is left alone: it is being made right now."""


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path | None]:
    """Make a fresh scratch folder the process's temporary folder for the block; first sweep dead runs'.

    Yields the folder, or None where none can be made (no `fcntl`, a read-only temporary folder):
    temporary files then go where they always went. The folder is removed at the end of the block.
    """
    base = Path(tempfile.gettempdir())
    sweep_stale(base)
    claimed = _claim(base)
    if claimed is None:
        yield None
        return
    folder, lock = claimed
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = previous
        remove_tree(folder)
        os.close(lock)


def sweep_stale(base: Path) -> int:
    """Remove the scratch folders in `base` whose process has ended; how many were removed.

    Only this user's folders are looked at. A folder whose lock is held belongs to a live run
    (another grader, another test) and is left alone, as is one that has no lock file yet and is
    younger than UNLOCKED_GRACE.
    """
    try:
        import fcntl  # noqa: F401  (Windows has none: there is no telling a dead run's folder)

        entries = [e for e in os.scandir(base) if e.name.startswith(RUN_PREFIX)]
    except (ImportError, OSError):
        return 0
    removed = 0
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or info.st_uid != os.geteuid():
            continue
        lock = _take_if_dead(Path(entry.path), info.st_mtime)
        if lock is None:
            continue
        try:
            removed += remove_tree(entry.path).complete
        finally:
            if lock >= 0:
                os.close(lock)
    return removed


def _claim(base: Path) -> tuple[Path, int] | None:
    """A new scratch folder in `base` and the open, locked descriptor of its lock file; None if impossible."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock, so no telling a dead run's folder from a live one
        return None
    try:
        folder = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=base))
    except OSError:
        return None
    try:
        # Searchable, not listable: the uid layer's unprivileged child passes through to its
        # working copy here, as it did through the temporary folder itself.
        folder.chmod(0o711)
        # Locked under another name, then renamed: a sweeper never sees a lock file not yet held.
        making = folder / f"{LOCK_NAME}.new"
        lock = os.open(making, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(lock, f"{os.getpid()}\n".encode())
            os.replace(making, folder / LOCK_NAME)
        except BaseException:
            os.close(lock)
            raise
    except OSError:
        remove_tree(folder)
        return None
    return folder, lock


def _take_if_dead(folder: Path, mtime: float) -> int | None:
    """The lock of a dead run's folder, taken (-1 when it has no lock file to take); None if it is alive."""
    import fcntl

    try:
        lock = os.open(folder / LOCK_NAME, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        # Between mkdtemp and the lock's rename, or a run killed in that instant.
        return -1 if time.time() - mtime > UNLOCKED_GRACE else None
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its process is alive
        os.close(lock)
        return None
    return lock
