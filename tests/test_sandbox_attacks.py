"""Attacks a review found against this session's sandbox, each with what must hold now.

A seccomp filter refuses the kernel keyrings (a channel between sessions of one uid), changes to
another process's limits or scheduling (the grader shares the rlimits layer's uid), every socket
(pathname unix sockets on the host: D-Bus, docker.sock), and, to a child still running as root,
changes of ownership, mode and attributes. The grader's own explanation of a missing function
stays bounded however the notebook's failures chain.
"""

from __future__ import annotations

import os
import sys

import pytest

from grader.notebook import CodeCell
from grader.sandbox import Call, SessionLimits, available_layers, run_session
from grader.sandbox.diagnosis import CellFacts, bound_names, explain_missing

LAYERS = available_layers()
LINUX_SECCOMP = sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "aarch64")

PROBES = r'''
import ctypes, os, socket, resource
libc = ctypes.CDLL(None, use_errno=True)
ADD_KEY = 248 if os.uname().machine == "x86_64" else 217

def keyring():
    r = libc.syscall(ADD_KEY, b"user", b"note", b"kept for the next submission", 28, -4)
    return [r, ctypes.get_errno()]

def limit_parent():
    try:
        resource.prlimit(os.getppid(), resource.RLIMIT_FSIZE, (0, 0))
        return "changed"
    except OSError as exc:
        return exc.errno

def limit_self():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return "ok"

def renice_parent():
    try:
        os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)
        return "changed"
    except OSError as exc:
        return exc.errno

def unix_socket():
    try:
        socket.socket(socket.AF_UNIX)
        return "made"
    except OSError as exc:
        return exc.errno

def pair():
    a, b = socket.socketpair()
    a.sendall(b"x")
    return b.recv(1).decode()

def clone_namespace():
    # clone(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | SIGCHLD): unshare's twin
    r = libc.syscall(56 if os.uname().machine == "x86_64" else 220, 0x70020000 | 17, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)
    return [r, ctypes.get_errno()]

def mount_api():
    return [libc.syscall(430, b"tmpfs", 0), ctypes.get_errno()]  # fsopen

def file_lock():
    import fcntl
    locked = []
    with open(os.__file__, "rb") as shared:  # a file every session can read
        for lock in (lambda: fcntl.flock(shared, fcntl.LOCK_EX | fcntl.LOCK_NB),
                     lambda: fcntl.lockf(shared, fcntl.LOCK_SH | fcntl.LOCK_NB)):
            try:
                lock()
                locked.append("locked")
            except OSError as exc:
                locked.append(exc.errno)
    return locked

def still_works():
    import subprocess, threading
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    ran = []
    thread = threading.Thread(target=lambda: ran.append(1))
    thread.start()
    thread.join()
    echoed = subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout.decode()
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), ran, echoed]
'''


def _calls(layer: str, *names: str):  # type: ignore[no-untyped-def]
    report = run_session([CodeCell(1, PROBES)], [Call(n, n) for n in names], SessionLimits(),
                         submission_dir=None, isolation=layer)
    return {n: report.calls[n] for n in names}


@pytest.mark.parametrize("layer", LAYERS)
def test_seccomp_refuses_keyrings_other_processes_and_sockets(layer: str) -> None:
    if not LINUX_SECCOMP:
        pytest.skip("the seccomp filter is for Linux on x86_64 and aarch64 only")
    results = _calls(layer, "keyring", "limit_parent", "limit_self", "renice_parent", "unix_socket", "pair")
    for name, result in results.items():
        assert result.status == "ok", (name, result.message)
    assert results["keyring"].value == [-1, 13]
    assert results["limit_parent"].value == 13
    assert results["renice_parent"].value == 13
    assert results["unix_socket"].value == 13
    assert results["limit_self"].value == "ok"  # its own limits stay its own to lower
    assert results["pair"].value == "x"  # socketpair (multiprocessing's pipes) still works


@pytest.mark.parametrize("layer", LAYERS)
def test_seccomp_refuses_namespaces_by_clone_the_mount_api_and_file_locks(layer: str) -> None:
    """A review made user, PID and mount namespaces with clone() and mounted with fsopen(), and
    passed bits between concurrent sessions by locking a standard-library file."""
    if not LINUX_SECCOMP:
        pytest.skip("the seccomp filter is for Linux on x86_64 and aarch64 only")
    results = _calls(layer, "clone_namespace", "mount_api", "file_lock", "still_works")
    for name, result in results.items():
        assert result.status == "ok", (name, result.message)
    assert results["clone_namespace"].value == [-1, 13]
    assert results["mount_api"].value == [-1, 13]
    assert results["file_lock"].value == [13, 13]
    assert results["still_works"].value == [7, [1], "hi\n"]  # fork, threads, subprocess as before


def test_a_root_child_cannot_change_modes_or_owners(tmp_path: os.PathLike[str]) -> None:
    if not LINUX_SECCOMP:
        pytest.skip("the seccomp filter is for Linux on x86_64 and aarch64 only")
    if os.geteuid() != 0:
        pytest.skip("only a child running as root (the rlimits layer as root) is refused these")
    source = ("import os\ndef chmod():\n    open('f', 'w').write('x')\n    try:\n"
              "        os.chmod('f', 0o777)\n        return 'changed'\n    except OSError as exc:\n"
              "        return exc.errno\n")
    report = run_session([CodeCell(1, source)], [Call("c", "chmod")], SessionLimits(),
                         submission_dir=None, isolation="rlimits")
    assert report.calls["c"].value == 13
    assert any("AS ROOT" in notice for notice in report.notices)


def _chain(length: int) -> list[CellFacts]:
    cells = [CellFacts(1, "a0 = undefined\n", "error", "NameError: name 'undefined' is not defined")]
    for k in range(1, length):
        cells.append(CellFacts(k + 1, f"a{k} = a{k - 1}\n", "error",
                               f'File "<cell {k + 1}>", line 1\nNameError: name \'a{k - 1}\' is not defined'))
    cells.append(CellFacts(length + 1, f"x = a{length - 1}\ndef step(z):\n    return z\n", "error",
                           f'File "<cell {length + 1}>", line 1\nNameError: name \'a{length - 1}\' is not defined'))
    return cells


def test_a_long_chain_of_failed_cells_is_explained_briefly() -> None:
    """1,300 chained failures (was: RecursionError in the grader, the submission not graded)."""
    message = explain_missing("step", _chain(1300), {})
    assert message is not None
    assert message.startswith("`step` is not defined: cell 1301, which defines it, stopped at line 1")
    assert "more failed cells" in message and len(message) < 1000


def test_a_short_chain_is_named_to_its_start() -> None:
    message = explain_missing("step", _chain(3), {})
    assert message is not None
    assert "because cell 3 stopped" in message and "because cell 1 stopped (NameError: name 'undefined'" in message


def test_the_names_index_reads_a_bounded_part_of_each_cell() -> None:
    """A 16 MB string of `a, a, ...` lines (was: minutes of regex work in the grader)."""
    from grader.sandbox import diagnosis

    scanned: list[int] = []
    real = diagnosis._BINDING.finditer

    class Counting:
        def finditer(self, text: str, start: int, end: int):  # type: ignore[no-untyped-def]
            scanned.append(min(end, len(text)) - start)
            return real(text, start, end)

    big = CellFacts(1, "s = '''\n" + "a, a, a, a, a, a, b\n" * 800_000 + "'''\n", "ok", "")
    original = diagnosis._BINDING
    diagnosis._BINDING = Counting()  # type: ignore[assignment]
    try:
        names = bound_names([big])
    finally:
        diagnosis._BINDING = original
    assert scanned == [diagnosis._SCANNED_CHARS]
    assert names[1] == frozenset({"s"})


def test_the_names_index_reads_python_bindings() -> None:
    source = ("import numpy as np, os\nfrom x import (a, b as c)\nParams = dict\nx: int = 3\n"
              "W, b2 = 1, 2\ndef step(z):\n    y = 2\nclass Net:\n    pass\nif x == 3:\n    pass\n")
    assert bound_names([CellFacts(1, source, "ok", "")])[1] == frozenset(
        {"np", "os", "a", "c", "Params", "x", "W", "b2", "step", "Net"})


UID_LEAKS = r'''
import os, sys
def leaks(salt_file, checkout):
    found = {}
    try:
        found["cmdline"] = open(f"/proc/{os.getppid()}/cmdline", "rb").read()[:200].decode(errors="replace")
    except OSError as exc:
        found["cmdline"] = exc.errno
    try:
        found["salt"] = open(salt_file).read()
    except OSError as exc:
        found["salt"] = exc.errno
    found["path"] = [p for p in sys.path if p.startswith(checkout)]
    return found
'''


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if layer != "namespaces"])
def test_the_uid_and_rlimits_layers_leak_no_path_salt_or_parent(layer: str, tmp_path: os.PathLike[str]) -> None:
    """The grader's /proc/<ppid>/cmdline, a salt file it names, the checkout on sys.path (issue 10)."""
    from pathlib import Path

    from grader.sandbox.landlock import landlock_abi

    if not landlock_abi():
        pytest.skip("without Landlock the uid and rlimits layers read what their user may (docs/security.md)")
    salt = Path(tmp_path) / "salt.txt"
    salt.write_text("private salt")
    salt.chmod(0o644)
    checkout = str(Path(__file__).resolve().parents[1])
    report = run_session([CodeCell(1, UID_LEAKS)], [Call("l", "leaks", (str(salt), checkout))], SessionLimits(),
                         submission_dir=None, isolation=layer)
    found = report.calls["l"].value
    assert found["cmdline"] == 13 and found["salt"] == 13, found  # EACCES: outside Landlock's allow-list
    assert found["path"] == []
