"""Landlock: confine this process's file system, TCP and IPC access, without root or namespaces.

STANDALONE: stdlib only, never `grader`. Its text is prepended to the sandboxed child's source
(run by `python -I -S -B -c`), so every module-level name starts with `landlock_` or `_landlock`,
and importing it does nothing but define them (ctypes is imported only when a function runs).

Landlock confines the calling thread and the threads and processes it starts later, never the
threads already running: call `landlock_restrict` before anything starts a thread (numpy's BLAS
starts its threads on `import numpy`). Constants and layouts are those of the kernel's
include/uapi/linux/landlock.h. Since Linux 5.1 a new syscall takes one number on every
architecture (alpha aside): Landlock's are 444-446 on x86_64 and aarch64 alike.
"""

import errno
import os
import sys

# ABI 1 (Linux 5.13): the file system rights.
_landlock_FS_EXECUTE = 1 << 0
_landlock_FS_WRITE_FILE = 1 << 1
_landlock_FS_READ_FILE = 1 << 2
_landlock_FS_READ_DIR = 1 << 3
_landlock_FS_REMOVE_DIR = 1 << 4
_landlock_FS_REMOVE_FILE = 1 << 5
_landlock_FS_MAKE_CHAR = 1 << 6
_landlock_FS_MAKE_DIR = 1 << 7
_landlock_FS_MAKE_REG = 1 << 8
_landlock_FS_MAKE_SOCK = 1 << 9
_landlock_FS_MAKE_FIFO = 1 << 10
_landlock_FS_MAKE_BLOCK = 1 << 11
_landlock_FS_MAKE_SYM = 1 << 12
_landlock_FS_REFER = 1 << 13  # ABI 2
_landlock_FS_TRUNCATE = 1 << 14  # ABI 3
_landlock_FS_IOCTL_DEV = 1 << 15  # ABI 5
_landlock_NET_BIND_TCP = 1 << 0  # ABI 4
_landlock_NET_CONNECT_TCP = 1 << 1  # ABI 4
_landlock_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_landlock_SCOPE_SIGNAL = 1 << 1  # ABI 6

# The file system rights each ABI knows: all of them are handled (denied unless a rule allows).
_landlock_FS_BY_ABI = (
    (1, (1 << 13) - 1),  # EXECUTE to MAKE_SYM
    (2, _landlock_FS_REFER),
    (3, _landlock_FS_TRUNCATE),
    (5, _landlock_FS_IOCTL_DEV),
)
# The only rights a rule on a file that is not a directory may carry (others: EINVAL).
_landlock_FILE_ONLY = (_landlock_FS_EXECUTE | _landlock_FS_WRITE_FILE | _landlock_FS_READ_FILE
                       | _landlock_FS_TRUNCATE | _landlock_FS_IOCTL_DEV)
_landlock_READ_ONLY = _landlock_FS_EXECUTE | _landlock_FS_READ_FILE | _landlock_FS_READ_DIR
# Read, write, create and remove; not execute, and no devices, sockets or device ioctls.
_landlock_READ_WRITE = (_landlock_FS_READ_FILE | _landlock_FS_READ_DIR | _landlock_FS_WRITE_FILE
                        | _landlock_FS_TRUNCATE | _landlock_FS_REMOVE_DIR | _landlock_FS_REMOVE_FILE
                        | _landlock_FS_MAKE_DIR | _landlock_FS_MAKE_REG | _landlock_FS_MAKE_SYM
                        | _landlock_FS_MAKE_FIFO | _landlock_FS_REFER)

# (landlock_create_ruleset, landlock_add_rule, landlock_restrict_self) by `uname -m`.
_landlock_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_landlock_CREATE_RULESET_VERSION = 1 << 0
_landlock_RULE_PATH_BENEATH = 1
_landlock_PR_SET_NO_NEW_PRIVS = 38


def _landlock_syscall(number: int, *args: int) -> int:
    """Make a raw system call with integer arguments; return its result or raise OSError."""
    import ctypes

    call = ctypes.CDLL(None, use_errno=True).syscall
    call.restype = ctypes.c_long
    result = call(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(result)


def _landlock_no_new_privs() -> None:
    """Set no_new_privs (landlock_restrict_self requires it of an unprivileged caller)."""
    import ctypes

    # prctl(int, ...) reads its other arguments as unsigned longs: pass them at that width.
    one, zero = ctypes.c_ulong(1), ctypes.c_ulong(0)
    if ctypes.CDLL(None, use_errno=True).prctl(_landlock_PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _landlock_probe() -> tuple[int, str]:
    """The kernel's Landlock ABI and "", or 0 and why Landlock cannot be used here."""
    if not sys.platform.startswith("linux"):
        return 0, f"not Linux ({sys.platform})"
    machine = os.uname().machine
    if machine not in _landlock_SYSCALLS:
        return 0, f"no Landlock syscall numbers known for {machine}"
    try:
        import ctypes

        if ctypes.sizeof(ctypes.c_void_p) != 8:
            return 0, f"a 32-bit process on {machine}"
        create_ruleset = _landlock_SYSCALLS[machine][0]
        abi = _landlock_syscall(create_ruleset, 0, 0, _landlock_CREATE_RULESET_VERSION)
    except OSError as exc:
        why = {errno.ENOSYS: "the kernel has no Landlock syscalls (ENOSYS)",
               errno.EOPNOTSUPP: "Landlock is not enabled in this kernel (EOPNOTSUPP)",
               errno.EPERM: "the Landlock syscalls are refused, likely by seccomp (EPERM)"}
        return 0, why.get(exc.errno or 0, f"landlock_create_ruleset failed: {exc}")
    except (ImportError, AttributeError) as exc:
        return 0, f"no ctypes or no syscall() in the C library ({exc})"
    if abi < 1:
        return 0, f"the kernel reports Landlock ABI {abi}"
    return abi, ""


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock cannot be used here."""
    return _landlock_probe()[0]


def landlock_restrict(read_only: list[str] | tuple[str, ...], read_write: list[str] | tuple[str, ...],
                      read_write_files: list[str] | tuple[str, ...] = (), *, deny_tcp: bool = True,
                      scope: bool = True) -> dict[str, object]:
    """Confine this thread, and the threads and processes it starts later, to the paths given.

    Beneath each `read_only` path (folder or file): read and execute. Beneath each `read_write`
    folder: read, write, create, rename and remove, not execute. Each `read_write_files` file
    (e.g. /dev/null): read and write. A file's rule keeps only the rights a file can take.
    Every other file system access the kernel's ABI knows is denied; with ABI 4+ and
    `deny_tcp`, every TCP bind and connect; with ABI 6+ and `scope`, signals to and abstract
    unix sockets of processes outside this domain.

    Returns {"abi", "applied": True, "tcp": "denied" | "allowed" | "unavailable", "scoped",
    "skipped": the paths that could not be opened (no rule: denied), "threads": how many threads
    ran at the call (the others stay unconfined)}, or {"abi": 0, "applied": False, "reason"}
    when Landlock cannot be used here. Raises OSError when Landlock can be used but confining
    failed: no_new_privs may be set, the process is not confined; run no untrusted code then.
    """
    abi, reason = _landlock_probe()
    if abi < 1:
        return {"abi": 0, "applied": False, "reason": reason}
    import ctypes

    class RulesetAttr(ctypes.Structure):  # struct landlock_ruleset_attr
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                    ("scoped", ctypes.c_uint64)]

    class PathBeneathAttr(ctypes.Structure):  # struct landlock_path_beneath_attr, packed
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    handled_fs = 0
    for since, rights in _landlock_FS_BY_ABI:
        if abi >= since:
            handled_fs |= rights
    attr = RulesetAttr(handled_fs, 0, 0)
    size = 8  # the struct's size as the ABI knows it: older kernels refuse fields they lack
    tcp = "unavailable"
    if abi >= 4:
        size, tcp = 16, "allowed"
        if deny_tcp:  # handled with no rule allowing any port: all TCP bind and connect denied
            attr.handled_access_net = _landlock_NET_BIND_TCP | _landlock_NET_CONNECT_TCP
            tcp = "denied"
    scoped = False
    if abi >= 6:
        size = 24
        if scope:
            attr.scoped = _landlock_SCOPE_ABSTRACT_UNIX_SOCKET | _landlock_SCOPE_SIGNAL
            scoped = True
    rules = [(path, _landlock_READ_ONLY) for path in read_only]
    rules += [(path, _landlock_READ_WRITE) for path in (*read_write, *read_write_files)]

    create_ruleset, add_rule, restrict_self = _landlock_SYSCALLS[os.uname().machine]
    skipped: list[str] = []
    threads = _landlock_thread_count()
    ruleset, step = -1, "landlock_create_ruleset"
    try:
        ruleset = _landlock_syscall(create_ruleset, ctypes.addressof(attr), size, 0)
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                skipped.append(os.fspath(path))  # no rule only ever denies more
                continue
            try:
                step = f"landlock_add_rule({path!r})"
                allowed = rights & handled_fs
                if os.fstat(fd).st_mode & 0o170000 != 0o040000:  # not S_IFDIR: file rights only
                    allowed &= _landlock_FILE_ONLY
                rule = PathBeneathAttr(allowed, fd)
                _landlock_syscall(add_rule, ruleset, _landlock_RULE_PATH_BENEATH, ctypes.addressof(rule), 0)
            finally:
                os.close(fd)
        step = "prctl(PR_SET_NO_NEW_PRIVS)"
        _landlock_no_new_privs()
        step = "landlock_restrict_self"
        _landlock_syscall(restrict_self, ruleset, 0)
    except OSError as exc:
        raise OSError(exc.errno, f"Landlock ABI {abi} is available but {step} failed: {exc.strerror}; "
                                 "this process is not confined") from exc
    finally:
        if ruleset >= 0:
            os.close(ruleset)
    return {"abi": abi, "applied": True, "tcp": tcp, "scoped": scoped, "skipped": skipped,
            "threads": threads}


def _landlock_thread_count() -> int | None:
    """How many threads this process runs, or None when /proc does not say."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None
