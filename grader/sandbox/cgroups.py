"""Per-session caps on memory and processes with cgroups, where the machine lets us make them.

RLIMIT_AS bounds one process; a submission that forks can hold that much in each of its
processes. A cgroup bounds them together: memory for the whole session (the kernel's OOM killer
ends a process of the session, never anything else) and a process count. It also finds every
process of the session, however it detached, so none outlives grading. cgroup v1 (memory and
pids controllers) and v2 are both handled; where neither can be written (a container's
read-only /sys/fs/cgroup, a laptop), `SessionCgroup.create` returns None and the per-process
limits stand alone.
"""

from __future__ import annotations

import functools
import os
import secrets
import shlex
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """This process's cgroup per v1 controller ('' for the v2 hierarchy), from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


class SessionCgroup:
    """One session's cgroup folders (one per controller), removed by `close`."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders

    @classmethod
    def create(cls, memory_bytes: int, max_processes: int) -> SessionCgroup | None:
        """A fresh cgroup with the caps, or None where cgroups cannot be made here."""
        if not ROOT.is_dir() or os.name != "posix":
            return None
        _sweep_once()
        own = _own_paths()
        name = f"grader-{secrets.token_hex(6)}"
        made: list[Path] = []
        try:
            v1_memory = ROOT / "memory"
            if (v1_memory / "memory.limit_in_bytes").exists() and "memory" in own:
                memory = v1_memory / own["memory"].lstrip("/") / name
                memory.mkdir()
                made.append(memory)
                (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                _try_write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))  # no swap escape
                pids = ROOT / "pids" / own.get("pids", "/").lstrip("/") / name
                if pids.parent.is_dir():
                    pids.mkdir()
                    made.append(pids)
                    (pids / "pids.max").write_text(str(max_processes))
                # CPU: one equal share per session, however many processes or sessions
                # (setsid) it makes: a spinning submission cannot starve a concurrent one.
                # And its CPU accounting. (cpu and cpuacct may be one hierarchy.)
                for controller, knob in (("cpu", "cpu.shares"), ("cpuacct", "cpuacct.usage")):
                    folder = ROOT / controller / own.get(controller, "/").lstrip("/") / name
                    if (folder.parent / knob).exists() and folder.resolve() not in {m.resolve() for m in made}:
                        folder.mkdir()
                        made.append(folder)
                return cls(made)
            unified = ROOT if (ROOT / "cgroup.controllers").exists() else ROOT / "unified"
            controllers = (unified / "cgroup.controllers").read_text().split()
            if "memory" in controllers and "" in own:
                group = unified / own[""].lstrip("/") / name
                group.mkdir()
                made.append(group)
                (group / "memory.max").write_text(str(memory_bytes))
                _try_write(group / "memory.swap.max", "0")
                if "pids" in controllers:
                    (group / "pids.max").write_text(str(max_processes))
                return cls(made)
        except OSError:
            cls(made).close()
        return None

    def join_script(self) -> str:
        """Shell commands that move the running shell into the session's cgroup (then `exec`)."""
        return " ".join(f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))} 2>/dev/null;"
                        for folder in self.folders)

    def pids(self) -> set[int]:
        """Every process in the session's cgroup."""
        found: set[int] = set()
        for folder in self.folders:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                continue
        return found

    def cpu_seconds(self) -> float:
        """CPU seconds used by every process that ran in the cgroup (0 where it cannot be read)."""
        for folder in self.folders:
            try:
                if (folder / "cpuacct.usage").exists():  # v1: nanoseconds
                    return int((folder / "cpuacct.usage").read_text()) / 1e9
                for line in (folder / "cpu.stat").read_text().splitlines():  # v2: always there
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
            except (OSError, ValueError, IndexError):
                continue
        return 0.0

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process of the session until none is left; whether it emptied in time."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def close(self) -> None:
        """Kill what is left and remove the folders."""
        self.kill_all()
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass  # a zombie not yet reaped by init: the empty folder goes on the next boot
        self.folders = []


STALE_SECONDS = 600.0
"""An empty session cgroup older than this was left by a grader that was killed: removed."""
@functools.lru_cache(maxsize=1)
def _sweep_once() -> None:
    """`sweep_stale`, once per grader process (before its first cgroup)."""
    sweep_stale()


def sweep_stale(min_age: float = STALE_SECONDS) -> int:
    """Remove the empty `grader-*` cgroups (beside this process's) older than `min_age` seconds.

    A grader killed with SIGKILL cannot remove its cgroups. One that still has processes, or
    that another grader made a moment ago and has not joined yet, is left alone (the kernel
    refuses to remove a cgroup with processes; the age covers the moment before joining).
    Returns how many were removed.
    """
    own = _own_paths()
    parents = {ROOT / controller / path.lstrip("/") for controller, path in own.items() if controller}
    unified = ROOT if (ROOT / "cgroup.controllers").exists() else ROOT / "unified"
    if "" in own:
        parents.add(unified / own[""].lstrip("/"))
    removed = 0
    now = time.time()
    for parent in parents:
        try:
            candidates = [p for p in parent.glob("grader-*") if p.is_dir()]
        except OSError:
            continue
        for folder in candidates:
            try:
                if now - folder.stat().st_mtime < min_age or (folder / "cgroup.procs").read_text().strip():
                    continue
                folder.rmdir()
                removed += 1
            except OSError:
                continue  # busy, gone meanwhile, or not ours to remove
    return removed


def _try_write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass  # not every kernel has every knob (memsw needs swap accounting)
