"""The uid layer (root without namespaces, e.g. Docker's default seccomp profile on Gradescope).

The child runs as an unprivileged user, from a root-owned mirror of the runtime that user can
read. Landlock confines what it reads and writes; where the kernel has no Landlock the secret
paths are hidden by file mode instead. After the session every process of that user is killed,
and its files in the shared temporary folders and its SysV IPC objects are removed. One session
per uid at a time (a lock), since the cleanup reaches everything of the uid.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.cleanup import remove_ipc_objects, remove_tree
from grader.sandbox.landlock import landlock_abi
from grader.sandbox.layers.base import IsolationError, Launch, Layer, is_root
from grader.sandbox.layers.common import (
    environment,
    landlock_rules,
    packages,
    python_executable,
    reachable_by,
    searchable_by,
    system_paths,
)
from grader.sandbox.runtime import MirrorError, Runtime, mirror_runtime

ENV_USER = "GRADER_SANDBOX_USER"  # name or number of the unprivileged user (default: nobody)
SHARED_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_uid_locks: dict[int, threading.Lock] = {}
_uid_locks_guard = threading.Lock()


class UidLayer(Layer):
    """An unprivileged user, a readable mirror of the runtime, Landlock, and a sweep after."""

    name = "uid"
    summary = "an unprivileged user, Landlock where the kernel has it, every process killed after"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not is_root():
            return "it needs the grader to run as root (to switch the child to another user)"
        try:
            sandbox_ids()
            mirror_runtime(packages(()))
        except IsolationError as exc:
            return str(exc)
        except MirrorError as exc:
            return f"the sandbox user cannot be given a readable Python ({exc})"
        return None

    def prepare(self, secret_paths: Sequence[Path]) -> None:
        self.ids = sandbox_ids()
        self.lock: UidLock | None = UidLock(self.ids[0])
        self.protected: list[tuple[Path, int, int]] = []  # (path, mode before, mode set)
        if landlock_abi() == 0:
            # Without Landlock the child could read whatever its uid may: hide the secrets by
            # file mode (a readable copy elsewhere on the disk stays readable). With Landlock
            # they are not touched: a grader killed mid-session would leave the modes changed.
            self.sandbox.notices.append("Landlock is unavailable: secret paths are hidden by file "
                                        "mode only, and any world-readable copy elsewhere is not.")
            self._protect(secret_paths)
        self.after_stop()  # leftovers of an earlier grader that died
        # The child runs a mirror of the runtime that its user can read; the checkout's own
        # paths then never appear in its sys.path.
        try:
            self.runtime: Runtime = mirror_runtime(self.sandbox.packages)
        except MirrorError as exc:
            raise IsolationError(f"the sandbox user cannot be given a readable Python: {exc}") from exc

    def executable(self) -> Path | None:
        return self.runtime.executable

    def temp_base(self) -> str | None:
        # The sandbox user must be able to pass through to its working copy: the grader's own
        # temporary folder may be private (TMPDIR in a 0700 folder); /tmp or /var/tmp then.
        assert self.ids is not None
        for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
            if searchable_by(Path(candidate), *self.ids):
                return candidate
        raise IsolationError(f"no temporary folder that uid {self.ids[0]} can reach: make {tempfile.gettempdir()} "
                             "searchable by others (chmod o+x on it and its parents) or set TMPDIR")

    def launch(self, work: Path, python: list[str]) -> Launch:
        env = environment(str(work))
        if self.runtime.library_path:
            env["LD_LIBRARY_PATH"] = self.runtime.library_path
        env["TMPDIR"] = str(work)  # the one folder it may write to
        assert self.sandbox.root is not None
        self.sandbox.root.chmod(0o711)  # the uid may pass through to work/, not list the folder
        return Launch(python, env, str(work), [str(self.runtime.packages)], str(work), self.ids,
                      self.sandbox.rlimits,
                      landlock=landlock_rules([str(self.runtime.root), *system_paths()], [str(work)]))

    def after_stop(self) -> None:
        """Kill every process of the uid and remove what it left in shared places."""
        self.sandbox.notices.extend(sweep(self.ids))  # type: ignore[arg-type]

    def close(self) -> None:
        try:
            if self.protected:
                self._unprotect()
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    def _protect(self, secret_paths: Sequence[Path]) -> None:
        """Make every secret path unreadable to the sandbox uid (chmod o-rwx, g-rwx if needed)."""
        assert self.ids is not None
        uid, gid = self.ids
        for raw in secret_paths:
            path = Path(raw).resolve()
            if not path.exists() or not reachable_by(path, uid, gid):
                continue
            info = path.stat()
            mode = stat.S_IMODE(info.st_mode) & ~0o007
            if info.st_gid == gid:
                mode &= ~0o070
            path.chmod(mode)
            self.protected.append((path, stat.S_IMODE(info.st_mode), mode))
            self.sandbox.notices.append(
                f"Made {path} unreadable to the sandbox user for the session (chmod o-rwx).")
            if reachable_by(path, uid, gid):
                raise IsolationError(f"{path} stays readable to uid {uid} (it owns it)")

    def _unprotect(self) -> None:
        """Give the secret paths their modes back once no process of the sandbox uid is left.

        The uid lock is still held, so no other session runs as the uid until it is released
        (the next one protects the paths again). A path whose mode someone changed meanwhile
        is left as it is.
        """
        assert self.ids is not None
        if sys.platform.startswith("linux") and pids_of(self.ids[0], zombies=False):
            self.after_stop()
            if pids_of(self.ids[0], zombies=False):
                return  # safer to leave them unreadable than to open them to a live process
        for path, before, applied in reversed(self.protected):
            try:
                if stat.S_IMODE(path.stat().st_mode) == applied:
                    path.chmod(before)
            except OSError:
                continue
        self.protected = []


def sandbox_ids() -> tuple[int, int]:
    """The unprivileged uid and gid the child runs as ($GRADER_SANDBOX_USER, default nobody)."""
    import pwd

    name = os.environ.get(ENV_USER, "nobody")
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        if name.isdigit():
            return int(name), int(name)  # an unnamed uid is fine: nothing else uses it
        raise IsolationError(f"no user {name!r} to run student code as (set {ENV_USER})") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise IsolationError(f"user {name!r} is root; student code must run unprivileged")
    return entry.pw_uid, entry.pw_gid


def sweep(ids: tuple[int, int]) -> list[str]:
    """Kill every process of the uid (forks and daemons that left the group); notices if not all."""
    uid, gid = ids
    notices: list[str] = []
    linux = sys.platform.startswith("linux")
    for _ in range(5):
        if linux and not pids_of(uid, zombies=False):
            break
        # kill(-1) as that uid reaches every process it owns and nothing else, in one call
        # that no fork can race; kill(1) is world-executable where the Python may not be.
        kill = shutil.which("kill", path="/usr/bin:/bin")
        argv = ([kill, "-9", "-1"] if kill else
                [str(python_executable()), "-I", "-S", "-c", "import os; os.kill(-1, 9)"])
        subprocess.run(argv, user=uid, group=gid, extra_groups=[], env={}, cwd="/",
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
        if not linux:
            return notices
    # Killed orphans stay zombies until init reaps them, and count against the uid's process
    # limit until then: the next session must not start short of processes.
    deadline = time.monotonic() + 2.0
    while pids_of(uid, zombies=True) and time.monotonic() < deadline:
        time.sleep(0.01)
    if pids_of(uid, zombies=True):
        notices.append(f"Some processes of uid {uid} outlived the sandbox's cleanup.")
    # Files the uid left in the shared temporary folders would be read by the next submission
    # graded here (the same uid): remove them. So would its SysV IPC objects (where the child
    # could not have an IPC namespace of its own).
    for shared in SHARED_TEMP_DIRS:
        remove_owned_by(Path(shared), uid)
    left = remove_ipc_objects(uid)
    if left:
        notices.append(f"{left} SysV IPC objects of uid {uid} could not be removed.")
    return notices


def remove_owned_by(top: Path, uid: int, depth: int = 0) -> None:
    """Remove every file and folder under `top` owned by `uid` (without following links)."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_uid == uid:
                if entry.is_dir(follow_symlinks=False):
                    remove_tree(entry.path)
                else:
                    os.unlink(entry.path)
            elif entry.is_dir(follow_symlinks=False) and info.st_mode & stat.S_IWOTH and depth < 16:
                # Only world-writable folders can hold the uid's files among others' files.
                remove_owned_by(Path(entry.path), uid, depth + 1)
        except OSError:
            continue


def pids_of(uid: int, *, zombies: bool) -> list[int]:
    """Linux: processes whose real, effective or saved uid is `uid` (zombies too if asked)."""
    pids: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        uids = fields.get("Uid", "").split()[:3]
        if str(uid) in uids and (zombies or not fields.get("State", "").strip().startswith("Z")):
            pids.append(int(entry.name))
    return pids


class UidLock:
    """One session per sandbox uid at a time: its cleanup kills every process of that uid."""

    def __init__(self, uid: int) -> None:
        with _uid_locks_guard:
            self.thread_lock = _uid_locks.setdefault(uid, threading.Lock())
        self.thread_lock.acquire()
        self.handle: int | None = None
        try:
            import fcntl

            # In root's home, where no sandboxed process can create or hold the file first.
            folder = Path.home() / ".cache" / "grader-sandbox"
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            flags = os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW
            self.handle = os.open(folder / f"uid-{uid}.lock", flags, 0o600)
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        except OSError:
            if self.handle is not None:
                os.close(self.handle)
            self.handle = None  # other grader processes are then not excluded; this one still is

    def release(self) -> None:
        """Let the next session of this uid start."""
        if self.handle is not None:
            os.close(self.handle)  # closing drops the flock
            self.handle = None
        self.thread_lock.release()
