"""Landlock confinement (grader/sandbox/landlock.py), checked on the kernel the tests run on.

Every confined property runs in a child process (a fork, or a fresh `python -I -S -B -c` as the
sandboxed child is run) that reports back through a pipe: the pytest process is never confined.
A property is skipped, with the reason found at run time, when the kernel's Landlock ABI is too
old for it. The module is loaded from its file, not through `grader.sandbox`: it is standalone,
and its text is what gets prepended to the child's source.
"""

from __future__ import annotations

import ast
import errno
import importlib.util
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

SOURCE = Path(__file__).resolve().parent.parent / "grader" / "sandbox" / "landlock.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("landlock_under_test", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


landlock: Any = _load()  # Any: the tests replace its functions
# numpy's site folder, not only numpy/: importing needs to list the folder on sys.path, and
# numpy's wheels keep their BLAS beside it, in numpy.libs/.
NUMPY_SITE = str(Path(np.__file__).resolve().parent.parent)
READ_ONLY = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, NUMPY_SITE,
             "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]


def need_abi(version: int, what: str) -> int:
    """The kernel's Landlock ABI, or skip the test when it is below `version`."""
    abi, reason = landlock._landlock_probe()
    if abi < version:
        why = reason or f"the kernel offers Landlock ABI {abi}"
        pytest.skip(f"{what} needs Landlock ABI {version}+: {why}")
    return int(abi)


@pytest.fixture
def folders(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A work folder (read-write in the child) and another folder with a secret (not allowed)."""
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    (other / "secret.txt").write_text("secret")
    (other / "allowed.txt").write_text("allowed")
    yield {"work": work, "other": other}


def run_forked(action: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Run `action` in a forked child and return what it returned (JSON), or fail with its error."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            try:
                message = {"ok": True, "value": action()}
            except BaseException:
                message = {"ok": False, "error": traceback.format_exc()}
            data = json.dumps(message).encode()
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"the forked child did not answer within {timeout:g} s")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    assert chunks, "the forked child died without a report"
    message = json.loads(b"".join(chunks))
    assert message["ok"], f"in the forked child:\n{message['error']}"
    return message["value"]


def attempt(operation: Callable[[], object]) -> str:
    """'ok', or the errno name of the OSError the operation raised."""
    try:
        operation()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))
    return "ok"


def confine(work: Path, extra_read_only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Restrict the calling (forked) process to the standard allow-list."""
    return landlock.landlock_restrict([*READ_ONLY, *extra_read_only], [str(work)], ["/dev/null"])


# ---------------------------------------------------------------- a fresh confined interpreter
PROBE = r'''
import json, os, sys
config = json.loads(sys.argv[1])
report = {"restrict": landlock_restrict(config["read_only"], [config["work"]], ["/dev/null"])}
sys.path[:0] = [config["site"]]
import numpy as np
import numpy.random, numpy.linalg, numpy.fft, numpy.testing, csv, zipfile, pathlib, unittest
np.savez(os.path.join(config["work"], "arrays.npz"), a=np.arange(5), b=np.eye(3))
with np.load(os.path.join(config["work"], "arrays.npz")) as saved:
    report["saved"] = int(saved["a"].sum())
report["rng"] = float(np.random.default_rng().random())
report["urandom"] = len(os.urandom(16))
report["inverse"] = float(np.linalg.inv(np.eye(200) * 4.0)[0, 0])
report["fft"] = float(abs(np.fft.fft(np.ones(8))[0]))
report["cpu_count"] = os.cpu_count()
with open("/dev/null", "w") as null:
    null.write("x")
report["denied"] = {}
for path in ("/proc/self/status", "/sys/devices/system/cpu/online", "/dev/urandom"):
    try:
        open(path, "rb").close()
        report["denied"][path] = False
    except PermissionError:
        report["denied"][path] = True
print(json.dumps(report))
'''


def test_confined_fresh_interpreter_imports_numpy_and_saves_in_its_work_folder(
        folders: dict[str, Path]) -> None:
    need_abi(1, "confinement")
    config = {"read_only": READ_ONLY, "work": str(folders["work"]), "site": NUMPY_SITE}
    # As the sandbox runs its child: the module's text first, then the code that uses it.
    source = SOURCE.read_text(encoding="utf-8") + "\n" + PROBE
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", source, json.dumps(config)],
                          cwd=folders["work"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    restrict = report["restrict"]
    assert restrict["applied"] is True and restrict["abi"] >= 1
    assert set(restrict["skipped"]) == {p for p in READ_ONLY if not os.path.exists(p)}
    assert restrict["threads"] == 1  # confined before numpy started BLAS threads: all confined
    assert report["saved"] == 10 and (folders["work"] / "arrays.npz").is_file()
    assert 0.0 <= report["rng"] < 1.0 and report["urandom"] == 16
    assert report["inverse"] == 0.25 and report["fft"] == 8.0
    assert report["cpu_count"] >= 1  # glibc falls back to the affinity mask without /sys, /proc
    # Python and numpy needed none of these: getrandom(2) serves os.urandom and default_rng.
    assert report["denied"] == {"/proc/self/status": True, "/sys/devices/system/cpu/online": True,
                                "/dev/urandom": True}


# ---------------------------------------------------------------- file system
def test_reading_outside_the_allow_list_is_denied_but_an_allowed_file_reads(
        folders: dict[str, Path]) -> None:
    need_abi(1, "file system confinement")
    other = folders["other"]
    # A rule on a lone file carries file rights only (a folder right on it would be EINVAL).
    allowed = str(other / "allowed.txt")

    def child() -> dict[str, Any]:
        before = attempt(lambda: (other / "secret.txt").read_text())
        result = confine(folders["work"], (allowed, "/nonexistent-landlock-test-path"))
        return {"before": before, "result": result,
                "secret": attempt(lambda: (other / "secret.txt").read_text()),
                "listing": attempt(lambda: os.listdir(other)),
                "allowed": attempt(lambda: Path(allowed).read_text())}

    report = run_forked(child)
    assert report["before"] == "ok"
    assert report["result"]["applied"] is True
    assert "/nonexistent-landlock-test-path" in report["result"]["skipped"]
    assert report["secret"] == "EACCES" and report["listing"] == "EACCES"
    assert report["allowed"] == "ok"


def test_writing_to_tmp_outside_the_work_folder_is_denied(folders: dict[str, Path]) -> None:
    need_abi(1, "file system confinement")
    target = Path("/tmp") / f"landlock-test-{uuid.uuid4().hex}"

    def child() -> dict[str, str]:
        confine(folders["work"])
        return {"tmp": attempt(lambda: target.write_text("x")),
                "work": attempt(lambda: (folders["work"] / "ok.txt").write_text("x")),
                "read_only": attempt(lambda: open(os.path.join(NUMPY_SITE, target.name), "w"))}

    try:
        report = run_forked(child)
    finally:
        target.unlink(missing_ok=True)
        Path(NUMPY_SITE, target.name).unlink(missing_ok=True)
    assert report == {"tmp": "EACCES", "work": "ok", "read_only": "EACCES"}


# ---------------------------------------------------------------- network and IPC
def test_tcp_connect_and_bind_are_denied() -> None:
    need_abi(4, "denying TCP")
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = server.getsockname()

        def child() -> dict[str, Any]:
            before = attempt(lambda: socket.create_connection(address, timeout=5).close())
            result = landlock.landlock_restrict(READ_ONLY, [])
            with socket.socket() as s:
                bound = attempt(lambda: s.bind(("127.0.0.1", 0)))
            return {"before": before, "tcp": result["tcp"], "bind": bound,
                    "connect": attempt(lambda: socket.create_connection(address, timeout=5).close())}

        report = run_forked(child)
    assert report == {"before": "ok", "tcp": "denied", "bind": "EACCES", "connect": "EACCES"}


def test_signals_to_processes_outside_the_domain_are_denied() -> None:
    need_abi(6, "signal scoping")

    def child() -> dict[str, Any]:
        before = attempt(lambda: os.kill(os.getppid(), 0))
        result = landlock.landlock_restrict(READ_ONLY, [])
        return {"before": before, "scoped": result["scoped"],
                "parent": attempt(lambda: os.kill(os.getppid(), 0)),
                "itself": attempt(lambda: os.kill(os.getpid(), 0))}

    assert run_forked(child) == {"before": "ok", "scoped": True, "parent": "EPERM", "itself": "ok"}


def test_abstract_unix_sockets_outside_the_domain_are_denied() -> None:
    need_abi(6, "abstract unix socket scoping")
    name = f"\0landlock-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(name)
        server.listen(4)

        def child() -> dict[str, str]:
            def connect() -> None:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(name)

            before = attempt(connect)
            landlock.landlock_restrict(READ_ONLY, [])
            return {"before": before, "after": attempt(connect)}

        report = run_forked(child)
    assert report == {"before": "ok", "after": "EPERM"}


@pytest.mark.parametrize("pretend", range(1, 8))
def test_an_older_abi_gets_a_ruleset_its_kernel_accepts(folders: dict[str, Path], pretend: int) -> None:
    """The struct size and rights chosen for each ABI are accepted (kernels take older sizes)."""
    need_abi(pretend, f"pretending ABI {pretend}")

    def child() -> dict[str, Any]:
        landlock._landlock_probe = lambda: (pretend, "")  # this forked child's copy only
        result = confine(folders["work"])
        return {"tcp": result["tcp"], "scoped": result["scoped"],
                "secret": attempt(lambda: (folders["other"] / "secret.txt").read_text()),
                "work": attempt(lambda: (folders["work"] / "w.txt").write_text("x"))}

    expected = {"tcp": "denied" if pretend >= 4 else "unavailable", "scoped": pretend >= 6,
                "secret": "EACCES", "work": "ok"}
    assert run_forked(child) == expected


# ---------------------------------------------------------------- without Landlock
@pytest.fixture
def no_real_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record prctl calls instead of making them: these tests run in the pytest process."""
    calls: list[str] = []
    monkeypatch.setattr(landlock, "_landlock_no_new_privs", lambda: calls.append("no_new_privs"))
    return calls


@pytest.mark.parametrize(("code", "words"), [
    (errno.ENOSYS, "no Landlock syscalls"),
    (errno.EOPNOTSUPP, "not enabled"),
    (errno.EPERM, "seccomp"),
    (errno.EINVAL, "landlock_create_ruleset failed"),
])
def test_unavailable_syscall_reports_abi_0_without_touching_the_process(
        monkeypatch: pytest.MonkeyPatch, no_real_calls: list[str], code: int, words: str) -> None:
    def refuse(number: int, *args: int) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(landlock, "_landlock_syscall", refuse)
    assert landlock.landlock_abi() == 0
    result = landlock.landlock_restrict(["/usr"], ["/tmp"], ["/dev/null"])
    assert result["abi"] == 0 and result["applied"] is False and words in result["reason"]
    assert no_real_calls == []


def test_unknown_platform_or_architecture_reports_abi_0(
        monkeypatch: pytest.MonkeyPatch, no_real_calls: list[str]) -> None:
    def never(number: int, *args: int) -> int:
        raise AssertionError("no syscall may be tried here")

    monkeypatch.setattr(landlock, "_landlock_syscall", never)
    monkeypatch.setattr(landlock, "sys", type(sys)("fake_sys"))
    landlock.sys.platform = "darwin"
    assert landlock.landlock_restrict(["/usr"], []) == {
        "abi": 0, "applied": False, "reason": "not Linux (darwin)"}
    monkeypatch.setattr(landlock, "sys", sys)
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, real.release, real.version, "riscv64"))
    monkeypatch.setattr(os, "uname", lambda: fake)
    result = landlock.landlock_restrict(["/usr"], [])
    assert result["applied"] is False and "riscv64" in result["reason"]
    assert no_real_calls == []


def test_a_rule_failing_half_way_raises_and_never_restricts(
        monkeypatch: pytest.MonkeyPatch, no_real_calls: list[str]) -> None:
    create, add, restrict = 444, 445, 446
    seen: list[int] = []
    fake_ruleset = os.open(os.devnull, os.O_RDONLY)  # closed by landlock_restrict

    def kernel(number: int, *args: int) -> int:
        seen.append(number)
        if number == create:
            return 7 if args[0] == 0 else fake_ruleset
        if number == add:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        raise AssertionError(f"syscall {number} must not be reached")

    monkeypatch.setattr(landlock, "_landlock_syscall", kernel)
    monkeypatch.setitem(landlock._landlock_SYSCALLS, os.uname().machine, (create, add, restrict))
    with pytest.raises(OSError, match=r"landlock_add_rule.*not confined") as raised:
        landlock.landlock_restrict(["/usr"], [])
    assert raised.value.errno == errno.EINVAL
    assert restrict not in seen and no_real_calls == []
    with pytest.raises(OSError):
        os.fstat(fake_ruleset)  # the ruleset's descriptor was closed


# ---------------------------------------------------------------- fit to be prepended
def test_module_text_is_fit_to_prepend_to_the_child() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    for node in tree.body[1:]:  # after the docstring
        if isinstance(node, ast.Import):
            assert {alias.name for alias in node.names} <= {"os", "sys", "errno", "ctypes", "platform"}
        elif isinstance(node, (ast.Assign, ast.FunctionDef, ast.ClassDef)):
            names = ([t.id for t in node.targets if isinstance(t, ast.Name)]
                     if isinstance(node, ast.Assign) else [node.name])
            assert names and all(n.startswith(("_landlock", "landlock_")) for n in names), names
        else:
            raise AssertionError(f"line {node.lineno}: {type(node).__name__} at module level")
