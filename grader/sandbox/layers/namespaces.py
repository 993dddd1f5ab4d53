"""The namespaces layer (Linux with bubblewrap): the strongest.

The child sees a read-only allow-listed filesystem (system libraries, the Python installation
without its site-packages, numpy and the named extra packages), its own /tmp, /proc and /dev, a
size-capped tmpfs copy of the submission, no network, its own PID and IPC namespaces. As root it
runs as a uid of its own for the session.
"""

from __future__ import annotations

import functools
import os
import secrets
import select
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.cleanup import remove_tree
from grader.sandbox.layers import uid as uid_layer
from grader.sandbox.layers.base import IsolationError, Launch, Layer, is_root
from grader.sandbox.layers.common import (
    ETC_FILES,
    environment,
    landlock_rules,
    packages,
    python_executable,
    system_paths,
)

SESSION_UIDS = range(2_000_000_000, 3_000_000_000)  # unnamed uids, one per namespaced session
SANDBOX_WORKDIR = "/submission"
SANDBOX_PACKAGES = "/pkgs"
SANDBOX_SEED = "/.submission-files"  # read-only source of a large submission's working copy
MAX_COPIED_FILES = 200
"""Submissions with more files than this are copied by the child from a read-only view, not by fd."""


class NamespacesLayer(Layer):
    """bubblewrap: an allow-listed filesystem, no network, own PID and IPC namespaces."""

    name = "namespaces"
    summary = "bubblewrap: allow-listed read-only filesystem, no network, own PID/IPC namespaces"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        problem = namespaces_problem()
        if problem is not None or not is_root():
            return problem
        try:
            session_ids()
        except IsolationError as exc:
            return str(exc)
        return None

    def prepare(self, secret_paths: Sequence[Path]) -> None:
        if is_root():
            self.ids = session_ids()
        # Inside the Python installation (bound whole), secrets are covered; elsewhere they
        # are not bound at all.
        self.masks = [Path(p).resolve() for p in secret_paths]

    def launch(self, work: Path, python: list[str]) -> Launch:
        sandbox = self.sandbox
        fds: list[int] = []
        try:
            argv = bwrap_argv(work, sandbox.packages, self.masks, sandbox.limits.file_mb, fds) + python
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        seed = SANDBOX_SEED if SANDBOX_SEED in argv else None
        return Launch(argv, environment("/tmp"), None, [SANDBOX_PACKAGES], SANDBOX_WORKDIR,
                      self.ids, sandbox.rlimits, tuple(fds),
                      sandbox_landlock_rules(), seed)

    def watch(self, pid: int) -> list[int]:
        # The sandbox's init (bwrap's child) empties its PID namespace when it dies, but only
        # after it has been signalled; waiting for it makes "after the session" mean "all gone".
        return _pidfds(_children_of(pid))


def sandbox_landlock_rules() -> dict[str, list[str]]:
    """The child's Landlock allow-list inside bubblewrap: read the runtime, write its two tmpfs."""
    runtime = [SANDBOX_PACKAGES, *system_paths(), str(Path(sys.base_prefix).resolve()), str(python_executable())]
    return landlock_rules(runtime, [SANDBOX_WORKDIR, "/tmp"])


def session_ids() -> tuple[int, int]:
    """As root: a uid and gid for this session alone, when the user namespace maps all uids.

    The kernel counts the process limit per uid, so a uid of its own gives each session its own
    count, and no other session's cleanup (the uid layer kills every process of its uid) can
    reach it. Where the user namespace maps fewer uids, the configured sandbox user is used.
    """
    try:
        with open("/proc/self/uid_map") as handle:
            first = handle.readline().split()
    except OSError:
        first = []
    if first == ["0", "0", "4294967295"]:
        uid = SESSION_UIDS.start + secrets.randbelow(len(SESSION_UIDS))
        return uid, uid
    return uid_layer.sandbox_ids()


@functools.lru_cache(maxsize=1)
def namespaces_problem() -> str | None:
    """Why bubblewrap cannot start a sandbox here (probed once per process), or None."""
    if not sys.platform.startswith("linux"):
        return "bubblewrap needs Linux"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    probe = Path(tempfile.mkdtemp(prefix="grader-probe-"))
    try:
        argv = bwrap_argv(probe, packages(()), [])
        argv += [str(python_executable()), "-I", "-S", "-c", "pass"]
        result = subprocess.run(argv, capture_output=True, timeout=30, env=environment("/tmp"),
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not run ({exc})"
    finally:
        remove_tree(probe)
    if result.returncode != 0:
        return "bubblewrap failed: " + result.stderr.decode(errors="replace").strip()[:300]
    return None


def _site_dirs() -> list[Path]:
    """The base installation's site-packages, hidden inside the sandbox."""
    dirs = set(site.getsitepackages([sys.base_prefix]))
    base_vars = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    for key in ("purelib", "platlib"):
        dirs.add(sysconfig.get_path(key, vars=base_vars))
    return sorted({Path(d).resolve() for d in dirs if Path(d).is_dir()})


def bwrap_argv(work: Path, packages: list[Path], masks: list[Path],
               file_mb: int = 64, fds: list[int] | None = None,
               read_only: Sequence[tuple[Path, str]] = ()) -> list[str]:
    """The bwrap command line; the fds of files it copies are appended to `fds` (pass them on).

    `read_only` binds more host folders, read-only, at the given places (the warm process's seeds).
    """
    if fds is None:
        fds = []
    if is_root():
        # No user namespace: the child then drops to a real unprivileged uid, which the kernel's
        # process limit counts (uid 0 mapped into a user namespace would be exempt from it).
        argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]
    else:
        argv = ["bwrap", "--unshare-all"]
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in environment("/tmp").items():
        argv += ["--setenv", key, value]
    bound: list[Path] = [Path("/usr")]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
            bound.append(top)
    for etc in ETC_FILES:
        argv += ["--ro-bind-try", etc, etc]
    made: set[Path] = {Path("/"), Path("/usr"), Path("/tmp")}
    for source in (Path(sys.base_prefix).resolve(), python_executable()):
        if not any(source.is_relative_to(b) for b in bound):
            argv += [*_parents(source, made), "--ro-bind", str(source), str(source)]
            bound.append(source)
    hidden = _site_dirs() + [m for m in masks if m.exists()]
    for path in hidden:
        if any(path.is_relative_to(b) for b in bound):
            if path.is_dir():
                argv += ["--tmpfs", str(path)]
            else:
                argv += ["--ro-bind", "/dev/null", str(path)]
    sized = bwrap_sizes_tmpfs()
    # bwrap makes a missing mount point's parent 0700: the child, no longer root once numpy is
    # in, could then not load numpy's lazy submodules (numpy.random, numpy.fft, numpy.testing).
    argv += _readable_dir(SANDBOX_PACKAGES, sized)
    for source in packages:
        argv += ["--ro-bind", str(source), f"{SANDBOX_PACKAGES}/{source.name}"]
    argv += [*_tmpfs("/tmp", file_mb * 2**20, sized), "--proc", "/proc", "--dev", "/dev"]
    for source, target in read_only:
        argv += ["--ro-bind", str(source), target]
    # The working folder is a size-capped tmpfs (a disk quota: writes cannot fill the grader's
    # disk) holding writable copies of the submission's files, which bwrap copies from fds.
    copies: list[str] = []
    total = 0
    entries = sorted(work.rglob("*"))
    if len(entries) > MAX_COPIED_FILES:
        # Too many files to hand over as open fds: the child copies them from a read-only view
        # into its capped tmpfs before any student code runs (see child.py, _seed_workdir).
        total = sum(p.lstat().st_size for p in entries)
        argv += ["--ro-bind", str(work), SANDBOX_SEED,
                 *_tmpfs(SANDBOX_WORKDIR, file_mb * 2**20 + total, sized),
                 "--chdir", SANDBOX_WORKDIR, "--"]
        return argv
    for path in entries:
        target = f"{SANDBOX_WORKDIR}/{path.relative_to(work).as_posix()}"
        if path.is_dir() and not path.is_symlink():
            copies += ["--perms", "0777", "--dir", target] if sized else ["--dir", target, "--chmod", "0777", target]
        elif path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            fds.append(fd)
            total += os.fstat(fd).st_size
            copies += ["--perms", "0666", "--file", str(fd), target]
    argv += [*_tmpfs(SANDBOX_WORKDIR, file_mb * 2**20 + total, sized), *copies]
    argv += ["--chdir", SANDBOX_WORKDIR, "--"]
    return argv


def _tmpfs(target: str, size: int, sized: bool) -> list[str]:
    """bwrap options for a world-writable (sticky) tmpfs at `target`, capped at `size` bytes if it can.

    bubblewrap before 0.8 (Ubuntu 22.04, Gradescope's image, has 0.6.1) has neither `--size` nor
    `--perms` for `--tmpfs`/`--dir`: there the tmpfs is uncapped (its pages still count against
    the session's memory cgroup) and `--chmod` sets the mode after it is made.
    """
    if sized:
        return ["--perms", "1777", "--size", str(size), "--tmpfs", target]
    return ["--tmpfs", target, "--chmod", "1777", target]


@functools.lru_cache(maxsize=1)
def bwrap_sizes_tmpfs() -> bool:
    """Whether the installed bwrap knows `--size` (0.8 and later; with it `--perms` for dirs)."""
    try:
        result = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--size" in result.stdout + result.stderr


def _readable_dir(target: str, sized: bool) -> list[str]:
    """bwrap options that make the folder `target` with mode 0755 (bwrap < 0.8 has no --perms)."""
    return ["--perms", "0755", "--dir", target] if sized else ["--dir", target, "--chmod", "0755", target]


def _parents(path: Path, made: set[Path]) -> list[str]:
    # bwrap would create missing parents 0700 (copying /root's mode); readable ones are needed
    # once the child has dropped to an unprivileged uid.
    out: list[str] = []
    for parent in reversed(path.parents):
        if parent not in made:
            made.add(parent)
            out += ["--dir", str(parent)]
    return out


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _pidfds(pids: list[int]) -> list[int]:
    """pidfds (Linux 5.3+) for the processes, which become readable when each has exited."""
    fds: list[int] = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except (AttributeError, OSError):
            continue
    return fds


def wait_gone(pidfds: list[int], timeout: float) -> None:
    """Wait until each watched process has exited (or the timeout), closing the pidfds."""
    for fd in pidfds:
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
