"""Isolating the child that runs student code: the strongest layer this machine allows.

The layers themselves live in `grader.sandbox.layers` (one module each, strongest first):
"namespaces" (bubblewrap), "uid" (an unprivileged user) and "rlimits" (limits only, plus
Landlock on Linux). `Sandbox` is one session's isolation, whatever the layer: its temporary
files, its cgroup, the resource limits, and starting and stopping children. Every layer applies
the same resource limits (the child sets them on itself before any student code runs) and the
parent enforces wall-clock deadlines with SIGKILL of the whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.sandbox.cgroups import SessionCgroup
from grader.sandbox.cleanup import remove_tree
from grader.sandbox.layers import LAYERS, IsolationError, Launch, Layer, layer_class
from grader.sandbox.layers.base import is_root
from grader.sandbox.layers.common import chown_tree, copy_tree, packages, python_executable
from grader.sandbox.layers.namespaces import wait_gone
from grader.sandbox.layers.uid import ENV_USER, pids_of
from grader.sandbox.warm import FRESH, POOL, WARM, WarmKey, WarmProcess
from grader.sandbox.warm import unavailable_reason as warm_unavailable_reason

if TYPE_CHECKING:
    from grader.sandbox.session import SessionLimits

ENV_LAYER = "GRADER_ISOLATION"

__all__ = ["ENV_LAYER", "ENV_USER", "LAYERS", "IsolationError", "Launch", "Sandbox", "available_layers",
           "choose_layer", "unavailable_reason"]


# ---------------------------------------------------------------- choosing a layer

def available_layers() -> tuple[str, ...]:
    """The layers that work on this machine, strongest first."""
    return tuple(layer for layer in LAYERS if unavailable_reason(layer) is None)


def choose_layer(requested: str | None = None) -> str:
    """The layer to use: the argument, else $GRADER_ISOLATION, else the strongest available."""
    wanted = requested or os.environ.get(ENV_LAYER) or None
    if wanted is None:
        return available_layers()[0]
    reason = unavailable_reason(layer_class(wanted).name)
    if reason is not None:
        raise IsolationError(f"isolation layer {wanted!r} cannot be used here: {reason}")
    return wanted


def unavailable_reason(layer: str) -> str | None:
    """Why the layer called `layer` cannot work on this machine, or None if it can."""
    return layer_class(layer).unavailable_reason()


_unavailable_reason = unavailable_reason  # the name older callers and tests use


# ---------------------------------------------------------------- one session's sandbox

class Sandbox:
    """One session's isolation: its temporary files, how to start children, how to end them."""

    def __init__(self, layer: str, limits: SessionLimits, submission_dir: Path | None,
                 secret_paths: Sequence[Path]) -> None:
        self.layer = layer
        self.limits = limits
        self.submission_dir = submission_dir
        self.notices: list[str] = []
        self.root_user = is_root()
        self.packages = packages(limits.extra_packages, self.notices)
        self.cgroup: SessionCgroup | None = None
        self.root: Path | None = None
        self.isolation: Layer | None = None
        self.warm: WarmProcess | None = None
        self.warm_pending: Future[WarmProcess] | None = None  # starting meanwhile (warm_process)
        self.process_mode = FRESH  # "warm fork", or "fresh interpreter (why not warm)"
        try:
            isolation = layer_class(layer)(self)
            self.isolation = isolation
            isolation.prepare(secret_paths)
            self.masks = [Path(p).resolve() for p in secret_paths]
            self._take_warm()
            # Where the child's working copy lives: a folder the child's user can reach.
            self.root = Path(tempfile.mkdtemp(prefix="grader-sandbox-", dir=isolation.temp_base()))
            self.ids = isolation.ids
            self.rlimits = self._rlimits()
            # The whole session's memory and processes, where cgroups can be made (root on Linux).
            # memory_mb then bounds all the session's processes together (and its tmpfs files).
            # (A warm process has a cgroup of its own, which its one session at a time shares.)
            self.cgroup = (SessionCgroup.create(limits.memory_mb * 2**20, limits.max_processes)
                           if self.root_user and layer != "rlimits" and self.warm_pending is None else None)
            for stronger in LAYERS[:LAYERS.index(layer)]:
                # Staff should know why a stronger layer was not used (e.g. a container's seccomp).
                reason = unavailable_reason(stronger)
                if reason is not None:
                    self.notices.append(f"The {stronger} layer is unavailable here: {reason}")
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take_warm(self) -> None:
        """Check out a warm process for this session where one can serve (see warm.py).

        A new one starts on the pool's thread meanwhile: its start overlaps the grader's own
        checks, and the first fork (`warm_process`) waits for it.
        """
        reason = warm_unavailable_reason(self.layer)
        if reason is None:
            limits = self.limits
            key = WarmKey(tuple(map(str, self.packages)), tuple(map(str, self.masks)), limits.file_mb,
                          limits.memory_mb, limits.max_processes)
            self.warm_pending = POOL.acquire_async(key, self.packages, self.masks)
            self.process_mode = WARM
        else:
            self.process_mode = f"{FRESH} ({reason})"

    def warm_process(self) -> WarmProcess | None:
        """The session's warm process (waiting for its start), or None: fresh interpreters."""
        if self.warm_pending is not None:
            pending, self.warm_pending = self.warm_pending, None
            try:
                self.warm = pending.result()
            except (IsolationError, OSError) as exc:
                reason = f"the warm process did not start: {exc}"
                self.notices.append(f"A fresh interpreter ran the notebook: {reason}.")
                self.process_mode = f"{FRESH} ({reason})"
                if self.cgroup is None and self.root_user:
                    self.cgroup = SessionCgroup.create(self.limits.memory_mb * 2**20, self.limits.max_processes)
        return self.warm

    def replace_warm(self, why: str) -> None:
        """The warm process failed to fork: a new one, or a fresh interpreter from now on."""
        if self.warm is not None:
            self.warm.kill()
            POOL.release(self.warm)
            self.warm = None
        self.notices.append(f"The warm process failed ({why}); the session went on with a new one.")
        self._take_warm()
        self.warm_process()

    def close(self) -> None:
        """Remove the temporary files and the cgroup, and give back what the layer took."""
        if self.warm_pending is not None:  # started for a session that never forked a child
            try:
                self.warm = self.warm_pending.result()
            except (IsolationError, OSError):
                self.warm = None
            self.warm_pending = None
        if self.warm is not None:
            POOL.release(self.warm)
            self.warm = None
        try:
            if self.cgroup is not None:
                self.cgroup.close()
                self.cgroup = None
            if self.root is not None and not remove_tree(self.root).complete:
                self.notices.append(f"Some files of the session could not be removed from {self.root}.")
        finally:
            if self.isolation is not None:
                self.isolation.close()  # releases the uid lock, whatever failed above
                self.isolation = None

    # ------------------------------------------------------------ starting a child
    def launch(self, child_source: str) -> Launch:
        """A fresh working copy of the submission and the command that starts a child on it."""
        assert self.isolation is not None and self.root is not None
        work = self.root / "work"
        remove_tree(work)
        work.mkdir()
        if self.submission_dir is not None:
            copy_tree(self.submission_dir, work)
        if self.ids is not None:
            chown_tree(work, *self.ids)
        executable = self.isolation.executable() or python_executable()
        return self.isolation.launch(work, [str(executable), "-I", "-S", "-B", "-c", child_source])

    def spawn(self, launch: Launch) -> subprocess.Popen[bytes]:
        """Start the child in its own process group, with pipes for request, protocol and output."""
        extra: dict[str, Any] = {}
        if os.name == "posix":
            extra["start_new_session"] = True
        else:
            extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        argv = launch.argv
        if self.cgroup is not None:
            # The process joins the cgroup itself before exec, so before it can fork: bwrap forks
            # its sandbox at once, and moving a process later would leave its children outside.
            argv = ["/bin/sh", "-c", self.cgroup.join_script() + ' exec "$@"', "grader-sandbox", *argv]
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=launch.env, cwd=launch.cwd,
                                       close_fds=True, pass_fds=launch.pass_fds, **extra)
        except OSError as exc:
            raise IsolationError(f"could not start the sandbox ({exc})") from exc
        finally:
            for fd in launch.pass_fds:  # bwrap has its own copies now
                os.close(fd)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Kill the child and everything it started, whatever signal handlers it installed."""
        if os.name != "posix":
            process.kill()
            process.wait()
            return
        watched = self.isolation.watch(process.pid) if self.isolation else []
        try:
            # Before reaping: the unreaped leader keeps the group id from being reused.
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        wait_gone(watched, timeout=10.0)
        if self.cgroup is not None and not self.cgroup.kill_all():
            self.notices.append("Some processes of the session outlived the cleanup of its cgroup.")
        if self.isolation is not None:
            self.isolation.after_stop()

    # ------------------------------------------------------------ limits
    def _rlimits(self) -> dict[str, Any]:
        limits = self.limits
        mb = 2**20
        out: dict[str, Any] = {"CPU": [limits.cpu_seconds, limits.cpu_seconds + 1],
                               "NOFILE": limits.max_open_files, "FSIZE": limits.file_mb * mb,
                               "CORE": 0}
        if sys.platform != "darwin":  # macOS accepts RLIMIT_AS but does not enforce it
            out["AS"] = limits.memory_mb * mb
        if self.ids is not None or (self.layer == "namespaces" and not self.root_user):
            # Counted per user: the sandbox user, or the user namespace's own count.
            out["NPROC"] = limits.max_processes
        elif sys.platform.startswith("linux") and not self.root_user:
            out["NPROC"] = len(pids_of(os.getuid(), zombies=True)) + limits.max_processes
        elif self.root_user:
            self.notices.append("The process-count limit does not apply to root, the user the "
                                "notebook ran as.")
        return out
