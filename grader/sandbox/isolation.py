"""Isolating the child that runs student code: the strongest layer this machine allows.

- "namespaces": bubblewrap gives the child an allow-listed read-only filesystem (system dirs, the
  Python installation without its site-packages, numpy and the named extra packages), its own
  /tmp, /proc and /dev, a throwaway copy of the submission, no network and its own PID namespace.
- "uid": as root without namespaces, the child drops to an unprivileged uid; the secret paths are
  made unreadable to it and every process of that uid is killed after the session.
- "rlimits": resource limits only; the report says the run is NOT isolated.
Every layer applies the same resource limits (the child sets them on itself before any student
code runs) and the parent enforces wall-clock deadlines with SIGKILL of the whole process group.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import secrets
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError
from grader.sandbox.cgroups import SessionCgroup
from grader.sandbox.cleanup import ipc_objects, remove_ipc_objects, remove_tree  # noqa: F401  (used by tests)
from grader.sandbox.landlock import landlock_abi
from grader.sandbox.runtime import MirrorError, Runtime, mirror_runtime

if TYPE_CHECKING:
    from grader.sandbox.session import SessionLimits

LAYERS = ("namespaces", "uid", "rlimits")
ENV_LAYER = "GRADER_ISOLATION"
ENV_USER = "GRADER_SANDBOX_USER"  # name or number of the unprivileged user (default: nobody)
SESSION_UIDS = range(2_000_000_000, 3_000_000_000)  # unnamed uids, one per namespaced session
SANDBOX_WORKDIR = "/submission"
SANDBOX_PACKAGES = "/pkgs"
SANDBOX_SEED = "/.submission-files"  # read-only source of a large submission's working copy
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
              "/etc/localtime")
_uid_locks: dict[int, threading.Lock] = {}
_uid_locks_guard = threading.Lock()


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


# ---------------------------------------------------------------- choosing a layer

def available_layers() -> tuple[str, ...]:
    """The layers that work on this machine, strongest first (probed once per process)."""
    return tuple(layer for layer in LAYERS if _unavailable_reason(layer) is None)


def choose_layer(requested: str | None = None) -> str:
    """The layer to use: the argument, else $GRADER_ISOLATION, else the strongest available."""
    wanted = requested or os.environ.get(ENV_LAYER) or None
    if wanted is None:
        return available_layers()[0]
    if wanted not in LAYERS:
        raise IsolationError(f"unknown isolation layer {wanted!r}; "
                             f"choose one of {', '.join(LAYERS)}")
    reason = _unavailable_reason(wanted)
    if reason is not None:
        raise IsolationError(f"isolation layer {wanted!r} cannot be used here: {reason}")
    return wanted


def _unavailable_reason(layer: str) -> str | None:
    root = os.name == "posix" and os.geteuid() == 0
    if layer == "namespaces":
        problem = _namespaces_problem()
        if problem is not None or not root:
            return problem
    elif layer == "uid" and not root:
        return "it needs the grader to run as root (to switch the child to another user)"
    if layer != "rlimits":
        try:
            # As root, both layers switch the child to an unprivileged user.
            session_ids() if layer == "namespaces" else sandbox_ids()
        except IsolationError as exc:
            return str(exc)
    if layer == "uid":
        try:
            mirror_runtime(_packages(()))
        except MirrorError as exc:
            return f"the sandbox user cannot be given a readable Python ({exc})"
    return None


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


def session_ids() -> tuple[int, int]:
    """Namespaces layer as root: a uid and gid for this session alone, when all uids are mapped.

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
    return sandbox_ids()


@functools.lru_cache(maxsize=1)
def _namespaces_problem() -> str | None:
    if not sys.platform.startswith("linux"):
        return "bubblewrap needs Linux"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    probe = Path(tempfile.mkdtemp(prefix="grader-probe-"))
    try:
        argv = _bwrap_argv(probe, _packages(()), [])
        argv += [str(_python_executable()), "-I", "-S", "-c", "pass"]
        result = subprocess.run(argv, capture_output=True, timeout=30, env=_environment("/tmp"),
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not run ({exc})"
    finally:
        remove_tree(probe)
    if result.returncode != 0:
        return "bubblewrap failed: " + result.stderr.decode(errors="replace").strip()[:300]
    return None


# ---------------------------------------------------------------- one session's sandbox

class Sandbox:
    """One session's isolation: its temporary files, how to start children, how to end them."""

    def __init__(self, layer: str, limits: SessionLimits, submission_dir: Path | None,
                 secret_paths: Sequence[Path]) -> None:
        self.layer = layer
        self.limits = limits
        self.submission_dir = submission_dir
        self.notices: list[str] = []
        self.root_user = os.name == "posix" and os.geteuid() == 0
        self.ids: tuple[int, int] | None = None
        if self.root_user and layer == "uid":
            self.ids = sandbox_ids()
        elif self.root_user and layer == "namespaces":
            self.ids = session_ids()
        self.packages = _packages(limits.extra_packages, self.notices)
        self._lock: _UidLock | None = None
        self._protected: list[tuple[Path, int, int]] = []  # (path, mode before, mode set)
        self.cgroup: SessionCgroup | None = None
        self.root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        try:
            if layer == "uid":
                assert self.ids is not None
                self._lock = _UidLock(self.ids[0])
                if landlock_abi() == 0:
                    # Without Landlock the child could read whatever its uid may: hide the secrets
                    # by file mode (a readable copy elsewhere on the disk stays readable).
                    self.notices.append("Landlock is unavailable: secret paths are hidden by file "
                                        "mode only, and any world-readable copy elsewhere is not.")
                    self._protect(secret_paths)
                self.sweep()  # leftovers of an earlier grader that died
            self.masks = [Path(p).resolve() for p in secret_paths]
            # The uid layer's child runs a mirror of the runtime that its user can read; the
            # checkout's own paths then never appear in its sys.path.
            self.runtime = self._runtime()
            self.rlimits = self._rlimits()
            # The whole session's memory and processes, where cgroups can be made (root on Linux).
            # memory_mb then bounds all the session's processes together (and its tmpfs files).
            self.cgroup = (SessionCgroup.create(limits.memory_mb * 2**20, limits.max_processes)
                           if self.root_user and layer != "rlimits" else None)
            if layer == "rlimits" and landlock_abi() == 0:
                self.notices.append(
                    "The notebook ran WITHOUT isolation (resource limits only): its code could "
                    "read and change any file the grader's user can.")
            elif layer == "rlimits":
                self.notices.append(
                    "The notebook ran as the grader's own user, confined by Landlock (it reads only "
                    "Python and numpy and writes only its working copy) and resource limits.")
            for stronger in LAYERS[:LAYERS.index(layer)]:
                # Staff should know why a stronger layer was not used (e.g. a container's seccomp).
                reason = _unavailable_reason(stronger)
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

    def close(self) -> None:
        """Remove the temporary files and the cgroup, and release the uid lock (whatever fails)."""
        try:
            if self.cgroup is not None:
                self.cgroup.close()
                self.cgroup = None
            if not remove_tree(self.root).complete:
                self.notices.append(f"Some files of the session could not be removed from {self.root}.")
            if self._protected:
                self._unprotect()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    # ------------------------------------------------------------ starting a child
    def launch(self, child_source: str) -> Launch:
        """A fresh working copy of the submission and the command that starts a child on it."""
        work = self.root / "work"
        remove_tree(work)
        work.mkdir()
        if self.submission_dir is not None:
            _copy_tree(self.submission_dir, work)
        if self.ids is not None:
            _chown_tree(work, *self.ids)
        executable = self.runtime.executable if self.runtime else _python_executable()
        python = [str(executable), "-I", "-S", "-B", "-c", child_source]
        if self.layer == "namespaces":
            fds: list[int] = []
            try:
                argv = _bwrap_argv(work, self.packages, self.masks, self.limits.file_mb, fds) + python
            except BaseException:
                for fd in fds:
                    os.close(fd)
                raise
            inside = [SANDBOX_PACKAGES, *_system_paths(), str(Path(sys.base_prefix).resolve()),
                      str(_python_executable())]
            seed = SANDBOX_SEED if SANDBOX_SEED in argv else None
            return Launch(argv, _environment("/tmp"), None, [SANDBOX_PACKAGES], SANDBOX_WORKDIR,
                          self.ids, self.rlimits, tuple(fds),
                          _landlock_rules(inside, [SANDBOX_WORKDIR, "/tmp"]), seed)
        env = _environment(str(work))
        if self.runtime is not None:
            packages = self.runtime.packages
            if self.runtime.library_path:
                env["LD_LIBRARY_PATH"] = self.runtime.library_path
        else:
            packages = self.root / "pkgs"
            if not packages.exists():
                packages.mkdir()
                for source in self.packages:
                    (packages / source.name).symlink_to(source)
        if self.ids is not None:
            self.root.chmod(0o711)  # the uid may pass through to work/, not list the folder
        env["TMPDIR"] = str(work)  # the one folder it may write to
        if self.runtime is not None:
            readable = [str(self.runtime.root)]
        else:
            readable = [str(packages), *(str(p.resolve()) for p in self.packages),
                        str(Path(sys.base_prefix).resolve()), str(_python_executable())]
        return Launch(python, env, str(work), [str(packages)], str(work),
                      self.ids if self.layer == "uid" else None, self.rlimits,
                      landlock=_landlock_rules([*readable, *_system_paths()], [str(work)]))

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
        # The sandbox's init (bwrap's child) empties its PID namespace when it dies, but only
        # after it has been signalled; waiting for it makes "after the session" mean "all gone".
        inits = _watch(_children_of(process.pid)) if self.layer == "namespaces" else []
        try:
            # Before reaping: the unreaped leader keeps the group id from being reused.
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        _wait_gone(inits, timeout=10.0)
        if self.cgroup is not None and not self.cgroup.kill_all():
            self.notices.append("Some processes of the session outlived the cleanup of its cgroup.")
        if self.layer == "uid":
            self.sweep()

    def sweep(self) -> None:
        """Kill every process of the sandbox uid (forks and daemons that left the group)."""
        assert self.ids is not None
        uid, gid = self.ids
        linux = sys.platform.startswith("linux")
        for _ in range(5):
            if linux and not _pids_of(uid, zombies=False):
                break
            # kill(-1) as that uid reaches every process it owns and nothing else, in one call
            # that no fork can race; kill(1) is world-executable where the Python may not be.
            kill = shutil.which("kill", path="/usr/bin:/bin")
            argv = ([kill, "-9", "-1"] if kill else
                    [str(_python_executable()), "-I", "-S", "-c", "import os; os.kill(-1, 9)"])
            subprocess.run(argv, user=uid, group=gid, extra_groups=[], env={}, cwd="/",
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
            if not linux:
                return
        # Killed orphans stay zombies until init reaps them, and count against the uid's
        # process limit until then: the next session must not start short of processes.
        deadline = time.monotonic() + 2.0
        while _pids_of(uid, zombies=True) and time.monotonic() < deadline:
            time.sleep(0.01)
        if _pids_of(uid, zombies=True):
            self.notices.append(f"Some processes of uid {uid} outlived the sandbox's cleanup.")
        # Files the uid left in the shared temporary folders would be read by the next
        # submission graded here (the same uid): remove them. So would its SysV IPC objects
        # (where the child could not have an IPC namespace of its own).
        for shared in SHARED_TEMP_DIRS:
            _remove_owned_by(Path(shared), uid)
        left = remove_ipc_objects(uid)
        if left:
            self.notices.append(f"{left} SysV IPC objects of uid {uid} could not be removed.")

    # ------------------------------------------------------------ limits and secrets
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
            out["NPROC"] = len(_pids_of(os.getuid(), zombies=True)) + limits.max_processes
        elif self.root_user:
            self.notices.append("The process-count limit does not apply to root, the user the "
                                "notebook ran as.")
        return out

    def _runtime(self) -> Runtime | None:
        """Uid layer: the mirror of the runtime that the sandbox user can read."""
        if self.layer != "uid":
            return None
        try:
            return mirror_runtime(self.packages)
        except MirrorError as exc:
            raise IsolationError(f"the sandbox user cannot be given a readable Python: {exc}") from exc

    def _protect(self, secret_paths: Sequence[Path]) -> None:
        """Make every secret path unreadable to the sandbox uid (chmod o-rwx, g-rwx if needed)."""
        assert self.ids is not None
        uid, gid = self.ids
        for raw in secret_paths:
            path = Path(raw).resolve()
            if not path.exists() or not _reachable_by(path, uid, gid):
                continue
            info = path.stat()
            mode = stat.S_IMODE(info.st_mode) & ~0o007
            if info.st_gid == gid:
                mode &= ~0o070
            path.chmod(mode)
            self._protected.append((path, stat.S_IMODE(info.st_mode), mode))
            self.notices.append(f"Made {path} unreadable to the sandbox user for the session (chmod o-rwx).")
            if _reachable_by(path, uid, gid):
                raise IsolationError(f"{path} stays readable to uid {uid} (it owns it)")


    def _unprotect(self) -> None:
        """Give the secret paths their modes back once no process of the sandbox uid is left.

        The uid lock is still held, so no other session runs as the uid until it is released
        (the next one protects the paths again). A path whose mode someone changed meanwhile
        is left as it is.
        """
        assert self.ids is not None
        if sys.platform.startswith("linux") and _pids_of(self.ids[0], zombies=False):
            self.sweep()
            if _pids_of(self.ids[0], zombies=False):
                return  # safer to leave them unreadable than to open them to a live process
        for path, before, applied in reversed(self._protected):
            try:
                if stat.S_IMODE(path.stat().st_mode) == applied:
                    path.chmod(before)
            except OSError:
                continue
        self._protected = []


# ---------------------------------------------------------------- helpers

SHARED_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
MAX_COPIED_FILES = 200
"""Submissions with more files than this are bound into the sandbox rather than copied by fd."""


def _remove_owned_by(top: Path, uid: int) -> None:
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
            elif entry.is_dir(follow_symlinks=False) and info.st_mode & stat.S_IWOTH:
                # Only world-writable folders can hold the uid's files among others' files.
                _remove_owned_by(Path(entry.path), uid)
        except OSError:
            continue

def _system_paths() -> list[str]:
    """The system folders and files a child reads: shared libraries and the loader's config."""
    return ["/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", *_ETC_FILES]


def _landlock_rules(read_only: list[str], read_write: list[str]) -> dict[str, list[str]]:
    return {"read_only": list(dict.fromkeys(read_only)), "read_write": read_write,
            "files": ["/dev/null"]}


def _python_executable() -> Path:
    if not sys.executable:
        raise IsolationError("the grader's Python has no executable to start children with")
    return Path(sys.executable).resolve()


def _environment(home: str) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "AUTOGRADER": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    if os.name == "nt":
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
    return env


def _packages(extra: Sequence[str], notices: list[str] | None = None) -> list[Path]:
    """Directories (or files) of numpy and the extra packages, with their bundled `.libs`."""
    found: list[Path] = []
    for name in ("numpy", *extra):
        spec = importlib.util.find_spec(name) if name.isidentifier() else None
        if spec is None or not (spec.submodule_search_locations or spec.origin):
            if notices is not None:
                notices.append(f"Package {name!r} is not installed; the notebook cannot import it.")
            continue
        locations = list(spec.submodule_search_locations or [])
        path = Path(locations[0] if locations else str(spec.origin)).resolve()
        found.append(path)
        libs = path.parent / f"{name}.libs"
        if libs.is_dir():
            found.append(libs.resolve())
    return found


def _site_dirs() -> list[Path]:
    """The base installation's site-packages, hidden inside the sandbox."""
    dirs = set(site.getsitepackages([sys.base_prefix]))
    base_vars = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    for key in ("purelib", "platlib"):
        dirs.add(sysconfig.get_path(key, vars=base_vars))
    return sorted({Path(d).resolve() for d in dirs if Path(d).is_dir()})


def _bwrap_argv(work: Path, packages: list[Path], masks: list[Path],
                file_mb: int = 64, fds: list[int] | None = None) -> list[str]:
    """The bwrap command line; the fds of files it copies are appended to `fds` (pass them on)."""
    if fds is None:
        fds = []
    root_user = os.geteuid() == 0
    if root_user:
        # No user namespace: the child then drops to a real unprivileged uid, which the kernel's
        # process limit counts (uid 0 mapped into a user namespace would be exempt from it).
        argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]
    else:
        argv = ["bwrap", "--unshare-all"]
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in _environment("/tmp").items():
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
    for etc in _ETC_FILES:
        argv += ["--ro-bind-try", etc, etc]
    made: set[Path] = {Path("/"), Path("/usr"), Path("/tmp")}
    for source in (Path(sys.base_prefix).resolve(), _python_executable()):
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
    sized = _bwrap_sizes_tmpfs()
    # bwrap makes a missing mount point's parent 0700: the child, no longer root once numpy is
    # in, could then not load numpy's lazy submodules (numpy.random, numpy.fft, numpy.testing).
    argv += _readable_dir(SANDBOX_PACKAGES, sized)
    for source in packages:
        argv += ["--ro-bind", str(source), f"{SANDBOX_PACKAGES}/{source.name}"]
    argv += [*_tmpfs("/tmp", file_mb * 2**20, sized), "--proc", "/proc", "--dev", "/dev"]
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
def _bwrap_sizes_tmpfs() -> bool:
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


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a submission without following symlinks (a link to a secret stays a link)."""
    for entry in os.scandir(source):
        destination = target / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
        elif entry.is_dir(follow_symlinks=False):
            destination.mkdir()
            _copy_tree(Path(entry.path), destination)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, destination, follow_symlinks=False)
        # FIFOs, sockets and devices are skipped: reading a FIFO could block the grader.


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    os.chown(top, uid, gid)
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def _allows(info: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether uid/gid (no capabilities) has all of `bits` (r=4, w=2, x=1) on the file."""
    mode = info.st_mode
    if info.st_uid == uid:
        granted = (mode >> 6) & 7
    elif info.st_gid == gid:
        granted = (mode >> 3) & 7
    else:
        granted = mode & 7
    return granted & bits == bits


def _reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether uid could read `path`: every parent searchable and the path itself readable."""
    for parent in reversed(path.parents):
        if not _allows(parent.stat(), uid, gid, 1):
            return False
    return _allows(path.stat(), uid, gid, 4)


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _watch(pids: list[int]) -> list[int]:
    """pidfds (Linux 5.3+) for the processes, which become readable when each has exited."""
    fds: list[int] = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except (AttributeError, OSError):
            continue
    return fds


def _wait_gone(pidfds: list[int], timeout: float) -> None:
    import select

    for fd in pidfds:
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)


def _pids_of(uid: int, *, zombies: bool) -> list[int]:
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


class _UidLock:
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
        if self.handle is not None:
            os.close(self.handle)  # closing drops the flock
            self.handle = None
        self.thread_lock.release()
