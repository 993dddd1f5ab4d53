"""Warm processes: numpy imported once per grading worker, a fresh confined child per session.

A fresh interpreter per session pays for its start and `import numpy` (about 0.1 s) every time.
Instead, as root in the namespaces layer, each grading worker keeps one warm process (a
"zygote", in its own bubblewrap sandbox and cgroup) that imports numpy before any submission
exists and forks a child per session. The zygote never receives a submission, a reference or a
hidden input: per session it gets the child's header (how to confine it) and the child's pipes.
The child gets new mount, IPC and PID namespaces of its own, its own size-capped /submission
and /tmp, its own uid, its own Landlock domain, rlimits and seccomp filter, all before any
student code runs (child.py, `_keeper`); after the session the zygote kills every process of its
sandbox but itself. Tests: tests/test_warm_process.py.

Where that cannot hold (not root, another layer, Landlock ABI below 6, or $GRADER_WARM=0), each
session starts a fresh interpreter as before, and results.json says which, and why
(`extra_data.confinement.process`).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.sandbox.cgroups import SessionCgroup
from grader.sandbox.child_source import CHILD_SOURCE
from grader.sandbox.cleanup import remove_tree
from grader.sandbox.landlock import landlock_abi
from grader.sandbox.layers.base import IsolationError, is_root
from grader.sandbox.layers.common import (
    copy_tree,
    environment,
    python_executable,
)
from grader.sandbox.layers.namespaces import SANDBOX_PACKAGES, SANDBOX_WORKDIR, bwrap_argv, sandbox_landlock_rules
from grader.sandbox.protocol import WARM_SEEDS
from grader.sandbox.reader import Reader
from grader.sandbox.types import SandboxError, SessionLimits

if TYPE_CHECKING:
    from grader.sandbox.isolation import Sandbox

ENV_WARM = "GRADER_WARM"
"""Set to 0 to start a fresh interpreter per session even where a warm process could serve."""
WARM = "warm fork"
FRESH = "fresh interpreter"
MIN_LANDLOCK_ABI = 6  # signals and abstract sockets scoped to the child's own domain
SANDBOX_SEEDS = WARM_SEEDS  # read-only: each session's files, copied in by its session's init
ZYGOTE_MEMORY = 96 * 2**20  # the zygote's own numpy, on top of the session's memory cap
ZYGOTE_PROCESSES = 4  # bwrap's init, the zygote, a session's keeper and its init
STARTUP_SECONDS = 30.0
CONTROL_SECONDS = 10.0  # for the zygote's answer to a fork or a stop; else it is replaced
MAX_IDLE = 8  # warm processes kept per configuration between sessions


def unavailable_reason(layer: str) -> str | None:
    """Why sessions of `layer` cannot be forked from a warm process here, or None if they can."""
    if os.environ.get(ENV_WARM, "1").strip() == "0":
        return f"turned off (${ENV_WARM}=0)"
    if layer != "namespaces":
        return f"the {layer} layer starts a fresh interpreter for each session"
    if not is_root():
        return "a warm process needs root (each child gets a uid and namespaces of its own)"
    abi = _landlock_abi()
    if abi < MIN_LANDLOCK_ABI:
        return (f"Landlock ABI {abi} is below {MIN_LANDLOCK_ABI}: a forked child could not be kept "
                "from signalling its siblings' processes")
    return None


@functools.lru_cache(maxsize=1)
def _landlock_abi() -> int:
    return landlock_abi()


@dataclass(frozen=True)
class WarmKey:
    """What a warm process's sandbox is made of: sessions that differ here need another one."""

    packages: tuple[str, ...]
    masks: tuple[str, ...]
    file_mb: int
    memory_mb: int
    max_processes: int


class WarmChild:
    """A session's process forked by a zygote, as the reader sees it (see reader.ChildHandle)."""

    def __init__(self, stdin: int, stdout: int, stderr: int, status: int) -> None:
        self.stdin = os.fdopen(stdin, "wb")
        self.stdout = os.fdopen(stdout, "rb")
        self.stderr = os.fdopen(stderr, "rb")
        self.status_fd = status
        os.set_blocking(status, False)
        self.report = b""
        self.ended = False

    def exit_fd(self) -> int | None:
        """The status pipe: its writer (the session's init) reports the end, then closes it."""
        return self.status_fd

    def exit_status(self) -> tuple[str, int] | None:
        """How the session's process ended, once its init has said so (or died)."""
        while not self.ended and self.status_fd >= 0:
            try:
                chunk = os.read(self.status_fd, 64)
            except BlockingIOError:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.ended = True
            self.report = (self.report + chunk)[:64]
        words = self.report.decode("ascii", "replace").split()
        if len(words) == 2 and words[0] in ("exit", "signal") and words[1].isdigit():
            return words[0], int(words[1])
        # The init died without a word: only a SIGKILL (the zygote's cleanup, the OOM killer) does.
        return "signal", int(signal.SIGKILL)

    def close(self) -> None:
        """Release the status pipe and the request pipe (if the session never sent it)."""
        try:
            self.stdin.close()
        except OSError:
            pass
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1


_LIVE: weakref.WeakSet[WarmProcess] = weakref.WeakSet()
_CPU_OF_CLOSED = [0.0]  # seconds, of warm processes already closed (for `cpu_seconds_so_far`)


def cpu_seconds_so_far() -> float:
    """CPU seconds used so far by every warm process of this grader and all their children.

    Read from their cgroups (where there are none, 0): the children are reaped inside their
    sandboxes, so the grader's own rusage never includes them. The benchmark reports it.
    """
    for _ in range(10):
        try:
            live = list(_LIVE)  # another thread may add one meanwhile: then read again
            break
        except RuntimeError:
            continue
    else:
        live = []
    return _CPU_OF_CLOSED[0] + sum(w.cpu_seconds() for w in live)


class WarmProcess:
    """One zygote in its own bubblewrap sandbox and cgroup, serving one session at a time."""

    def __init__(self, key: WarmKey, packages: list[Path], masks: list[Path]) -> None:
        _LIVE.add(self)
        self.key = key
        self.sessions = 0
        self.alive = True
        self.cgroup: SessionCgroup | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.root = Path(tempfile.mkdtemp(prefix="grader-warm-"))
        self.seeds = self.root / "seeds"
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = control
        try:
            self.seeds.mkdir()
            (self.root / "work").mkdir()
            argv = bwrap_argv(self.root / "work", packages, masks, key.file_mb,
                              read_only=[(self.seeds, SANDBOX_SEEDS)])
            argv += [str(python_executable()), "-I", "-S", "-B", "-c", CHILD_SOURCE]
            self.cgroup = SessionCgroup.create(key.memory_mb * 2**20 + ZYGOTE_MEMORY,
                                               key.max_processes + ZYGOTE_PROCESSES)
            if self.cgroup is not None:
                argv = ["/bin/sh", "-c", self.cgroup.join_script() + ' exec "$@"', "grader-warm", *argv]
            self.log = tempfile.TemporaryFile()  # the zygote's own errors, for the message
            self.process = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=subprocess.DEVNULL,
                                            stderr=self.log, env=environment("/tmp"), close_fds=True,
                                            start_new_session=True)
            theirs.close()
            self.control.settimeout(STARTUP_SECONDS)
            self.control.send(json.dumps({"warm": True, "path": [SANDBOX_PACKAGES]}).encode() + b"\n")
            if self._answer().get("t") != "warm":
                raise IsolationError("the warm process did not start")
        except BaseException:
            theirs.close()
            self.close()
            raise
        self.landlock = sandbox_landlock_rules()

    def _answer(self) -> dict[str, Any]:
        try:
            data = self.control.recv(1 << 16)
        except (TimeoutError, OSError) as exc:
            raise IsolationError(f"the warm process did not answer ({exc}){self._log_tail()}") from exc
        if not data:
            raise IsolationError(f"the warm process ended{self._log_tail()}")
        answer = json.loads(data)
        return answer if isinstance(answer, dict) else {}

    def _log_tail(self) -> str:
        try:
            self.log.seek(0)
            text = self.log.read()[-1000:].decode("utf-8", "replace").strip()
        except (AttributeError, OSError, ValueError):
            return ""
        return f": {text}" if text else ""

    # ------------------------------------------------------------ one session's child
    def spawn(self, sandbox: Sandbox, limits: SessionLimits) -> tuple[Reader, Callable[[], None]]:
        """Fork a child for this session: its reader, and how to stop it (kill all it started)."""
        self.sessions += 1
        seed = self.seeds / str(self.sessions)
        seed.mkdir()
        if sandbox.submission_dir is not None:
            copy_tree(sandbox.submission_dir, seed)
        total = sum(p.lstat().st_size for p in seed.rglob("*"))
        mb = 2**20
        header = {"path": [SANDBOX_PACKAGES], "cwd": SANDBOX_WORKDIR, "drop": sandbox.ids,
                  "rlimits": sandbox.rlimits, "landlock": self.landlock,
                  "seed": f"{SANDBOX_SEEDS}/{self.sessions}",
                  "mounts": {SANDBOX_WORKDIR: limits.file_mb * mb + total, "/tmp": limits.file_mb * mb}}
        pipes = [os.pipe() for _ in range(4)]  # request, protocol, raw output, status
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1]]
        try:
            self.control.settimeout(CONTROL_SECONDS)
            socket.send_fds(self.control, [json.dumps({"op": "fork", "header": header}).encode()], theirs)
            for fd in theirs:
                os.close(fd)
            theirs = []
            if self._answer().get("t") != "forked":
                raise SandboxError("the warm process did not fork a child")
        except BaseException:
            for fd in [*theirs, pipes[0][1], pipes[1][0], pipes[2][0], pipes[3][0]]:
                os.close(fd)
            self.kill()
            remove_tree(seed)
            raise
        child = WarmChild(pipes[0][1], pipes[1][0], pipes[2][0], pipes[3][0])
        return Reader(child, limits.output_bytes), lambda: self._stop(seed)

    def _stop(self, seed: Path) -> None:
        """Kill every process of the session (the zygote does, and reaps them), remove its files."""
        try:
            if self.alive:
                self.control.send(json.dumps({"op": "stop"}).encode())
                if self._answer().get("t") != "stopped":
                    self.kill()
        except (OSError, IsolationError):
            self.kill()  # a zygote that cannot say it cleaned up is not used again
        finally:
            remove_tree(seed)

    # ------------------------------------------------------------ the zygote itself
    def kill(self) -> None:
        """End the zygote and its whole sandbox now; it serves no further session."""
        self.alive = False
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def cpu_seconds(self) -> float:
        """CPU seconds used by the zygote and every child it forked, from its cgroup (else 0)."""
        return self.cgroup.cpu_seconds() if self.cgroup is not None else 0.0

    def close(self) -> None:
        """Stop the zygote and remove its files and cgroup. Never raises for cleanup."""
        self.kill()
        self.control.close()
        _LIVE.discard(self)
        if self.cgroup is not None:
            _CPU_OF_CLOSED[0] += self.cgroup.cpu_seconds()
            self.cgroup.close()
            self.cgroup = None
        remove_tree(self.root)
        log = getattr(self, "log", None)
        if log is not None:
            log.close()


class WarmPool:
    """Idle warm processes by configuration; a session checks one out for its whole duration.

    Warm processes are started from one long-lived thread of the pool's own: bubblewrap's
    --die-with-parent follows the thread that started it, and a grading worker's thread may end
    (a batch's pool shutting down) while its warm process is still wanted.
    """

    def __init__(self) -> None:
        self.idle: dict[WarmKey, list[WarmProcess]] = {}
        self.lock = threading.Lock()
        self.starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-warm-start")

    def acquire_async(self, key: WarmKey, packages: list[Path], masks: list[Path]) -> Future[WarmProcess]:
        """An idle warm process for `key`, or a new one starting on the pool's thread."""
        with self.lock:
            idle = self.idle.get(key)
            while idle:
                warm = idle.pop()
                if warm.alive and warm.process is not None and warm.process.poll() is None:
                    ready: Future[WarmProcess] = Future()
                    ready.set_result(warm)
                    return ready
                warm.close()
        return self.starter.submit(WarmProcess, key, packages, masks)

    def release(self, warm: WarmProcess) -> None:
        """Give a warm process back after its session; a dead one, or one too many, is closed."""
        if warm.alive and warm.process is not None and warm.process.poll() is None:
            with self.lock:
                idle = self.idle.setdefault(warm.key, [])
                if len(idle) < MAX_IDLE:
                    idle.append(warm)
                    return
        warm.close()

    def close_all(self) -> None:
        """Stop every idle warm process (at exit; zygotes also die with the grader)."""
        with self.lock:
            everything = [w for idle in self.idle.values() for w in idle]
            self.idle.clear()
        for warm in everything:
            warm.close()


POOL = WarmPool()
atexit.register(POOL.close_all)
