"""The warm process (grader/sandbox/warm.py): a child forked per session can reach neither the
warm process nor an earlier or later sibling, and keeps nothing for the next session.

Each test runs real sessions in the namespaces layer with the warm process in use, and checks
from outside (the host's /proc, the pool) as well as from inside (what the next child sees).
Where a warm process cannot serve here, the tests skip with the reason computed at run time,
and the fallback test checks that the reason reaches the session's report.
"""

from __future__ import annotations

import ast
import os
import signal
import time
from pathlib import Path

import pytest

from grader.notebook import CodeCell
from grader.sandbox import Call, SessionLimits, run_session
from grader.sandbox import warm as warm_module
from grader.sandbox.isolation import unavailable_reason as layer_unavailable
from grader.sandbox.warm import POOL, WARM, WarmProcess

WHY_NOT = layer_unavailable("namespaces") or warm_module.unavailable_reason("namespaces")
needs_warm = pytest.mark.skipif(WHY_NOT is not None, reason=f"no warm process here: {WHY_NOT}")
LIMITS = SessionLimits(cell_timeout=3.0, notebook_timeout=20.0)
SHM_KEY = 0x5EC2E7


def _session(source: str, calls: tuple[Call, ...] = (), limits: SessionLimits = LIMITS):
    report = run_session([CodeCell(1, source)], list(calls), limits, submission_dir=None,
                         isolation="namespaces")
    assert report.process == WARM, report.process
    return report


def _idle_warm() -> WarmProcess:
    (warm,) = [w for idle in POOL.idle.values() for w in idle]
    return warm


@pytest.fixture(autouse=True)
def _one_warm_process():
    """Each test starts from an empty pool, so it sees the warm process its sessions used."""
    POOL.close_all()
    yield
    POOL.close_all()


def _uids_alive(uid: int) -> list[int]:
    """Host pids of processes running as `uid` (seen from outside every sandbox)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid and (entry / "status").read_text().find("State:\tZ") < 0:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


LEAVE_TRACES = r'''
import ctypes, os, sys, time, numpy, builtins
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
numpy.left_behind = "secret of session one"
builtins.left_behind = "secret of session one"
sys.modules["left_behind"] = numpy
open("/tmp/left_behind", "w").write("secret")
open("/submission/left_behind", "w").write("secret")
shm = libc.shmget(SHM_KEY, 4096, 0o1666)  # IPC_CREAT | 0666: a SysV segment outliving its process
if shm >= 0:
    address = libc.shmat(shm, None, 0)
    ctypes.memmove(address, b"secret", 6)
if os.fork() == 0:  # a process that tries to outlive the session, detached from it
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
print(os.getuid(), shm)
'''.replace("SHM_KEY", str(SHM_KEY))

FIND_TRACES = r'''
import ctypes, os, sys, numpy, builtins
libc = ctypes.CDLL(None, use_errno=True)
found = []
if hasattr(numpy, "left_behind") or hasattr(builtins, "left_behind") or "left_behind" in sys.modules:
    found.append("memory")
for path in ("/tmp/left_behind", "/submission/left_behind"):
    if os.path.exists(path):
        found.append(path)
if libc.shmget(SHM_KEY, 0, 0) >= 0:
    found.append("shm")
print("found:", found, os.getuid())
'''.replace("SHM_KEY", str(SHM_KEY))


@needs_warm
def test_nothing_of_one_session_reaches_the_next() -> None:
    first = _session(LEAVE_TRACES)
    assert first.cells[0].status == "ok", first.cells[0].message
    uid_text, shm = first.cells[0].output.split()
    assert int(shm) >= 0, "the first session could not even make its SysV segment"
    # Outside: nothing of the first session's uid is left running on the host.
    assert _uids_alive(int(uid_text)) == []
    warm = _idle_warm()
    second = _session(FIND_TRACES)
    assert _idle_warm() is warm and warm.sessions == 2  # the same warm process served both
    output = second.cells[0].output
    assert output.startswith("found: []"), output
    assert output.split()[-1] != uid_text  # a uid of its own per session


PROBE_THE_ZYGOTE = r'''
import ctypes, errno, os, signal, socket
libc = ctypes.CDLL(None, use_errno=True)
outcome = {}
outcome["pid"] = os.getpid()
outcome["ppid"] = os.getppid()
try:
    os.kill(-1, signal.SIGKILL)  # every process this child may signal: none outside its namespace
    outcome["kill_all"] = "sent"
except OSError as exc:
    outcome["kill_all"] = errno.errorcode[exc.errno]
try:
    os.kill(1, signal.SIGKILL)
    outcome["kill_init"] = "sent"
except OSError as exc:
    outcome["kill_init"] = errno.errorcode[exc.errno]
PTRACE_ATTACH = 16
outcome["ptrace"] = [libc.ptrace(PTRACE_ATTACH, 1, 0, 0), errno.errorcode.get(ctypes.get_errno())]
for path in ("/proc/1/cmdline", "/proc/self/status", "/.warm-seeds"):
    try:
        os.listdir(path) if path.endswith("seeds") else open(path).read()
        outcome[path] = "read"
    except OSError as exc:
        outcome[path] = errno.errorcode[exc.errno]
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect("\0grader-warm")
    outcome["abstract"] = "connected"
except OSError as exc:
    outcome["abstract"] = errno.errorcode[exc.errno]
fds = {}
for fd in range(256):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        continue
    import stat
    fds[fd] = "socket" if stat.S_ISSOCK(mode) else "pipe" if stat.S_ISFIFO(mode) else "other"
outcome["fds"] = fds
print(repr(outcome))
'''


@needs_warm
def test_a_child_cannot_reach_the_warm_process() -> None:
    report = _session(PROBE_THE_ZYGOTE)
    assert report.cells[0].status == "ok", report.cells[0].message
    outcome = ast.literal_eval(report.cells[0].output)  # the test's own probe printed a dict literal
    # PID 2 of its own namespace, under an init that is not the zygote: nothing else to signal.
    assert (outcome["pid"], outcome["ppid"]) == (2, 1)
    assert outcome["kill_all"] == "ESRCH"
    assert outcome["kill_init"] == "EPERM"  # another uid: not even its own namespace's init
    assert outcome["ptrace"][0] == -1  # refused by seccomp
    assert outcome["/proc/1/cmdline"] == "EACCES" and outcome["/proc/self/status"] == "EACCES"
    assert outcome["/.warm-seeds"] == "EACCES"  # where the grader puts each session's files
    assert outcome["abstract"] == "EACCES"  # no socket at all (seccomp)
    # Inherited descriptors: stdin (/dev/null now), stdout/stderr and the protocol pipe, no socket
    # (the zygote's control socket stays in the zygote).
    assert "socket" not in outcome["fds"].values(), outcome["fds"]
    assert len(outcome["fds"]) <= 5, outcome["fds"]
    warm = _idle_warm()
    assert warm.alive and warm.process is not None and warm.process.poll() is None
    again = _session("print('still served')")
    assert again.cells[0].output == "still served\n" and _idle_warm() is warm


@needs_warm
def test_a_hung_or_killed_child_does_not_cost_the_next_session() -> None:
    hung = _session("while True:\n    pass\n")
    assert hung.cells[0].status == "timeout"
    bomb = _session("import numpy\nx = numpy.ones(10**10)\n")  # far above the memory limit
    assert bomb.cells[0].status in ("error", "crashed"), bomb.cells[0]
    assert "MemoryError" in bomb.cells[0].message or "killed" in bomb.cells[0].message
    warm = _idle_warm()
    fine = _session("def f():\n    return 41 + 1\n", (Call("c", "f", ()),))
    assert fine.calls["c"].value == 42
    assert _idle_warm() is warm


@needs_warm
def test_a_dead_warm_process_is_replaced() -> None:
    _session("pass")
    warm = _idle_warm()
    assert warm.process is not None
    os.killpg(warm.process.pid, signal.SIGKILL)
    warm.process.wait()
    report = _session("print(6 * 7)")
    assert report.cells[0].output == "42\n"
    assert _idle_warm() is not warm


@needs_warm
def test_files_of_a_session_are_its_own() -> None:
    """The submission's files are in the child's own working folder and nowhere after it."""
    submission = Path(os.environ.get("TMPDIR", "/tmp")) / f"warm-test-{os.getpid()}-{time.time_ns()}"
    submission.mkdir()
    try:
        (submission / "data.txt").write_text("the student's data")
        report = run_session([CodeCell(1, "print(open('data.txt').read())")], [], LIMITS,
                             submission_dir=submission, isolation="namespaces")
        assert report.process == WARM
        assert report.cells[0].output == "the student's data\n"
        warm = _idle_warm()
        assert list(warm.seeds.iterdir()) == []  # the grader removed the session's copy
    finally:
        for path in submission.iterdir():
            path.unlink()
        submission.rmdir()


def test_without_a_warm_process_the_report_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warm_module.ENV_WARM, "0")
    report = run_session([CodeCell(1, "print(1)")], [], LIMITS, submission_dir=None)
    assert report.process == "fresh interpreter (turned off ($GRADER_WARM=0))"
    assert report.cells[0].output == "1\n"


def test_a_kernel_below_landlock_abi_6_gets_fresh_interpreters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_module, "_landlock_abi", lambda: 5)
    monkeypatch.setattr(warm_module, "is_root", lambda: True)
    reason = warm_module.unavailable_reason("namespaces")
    assert reason is not None and "Landlock ABI 5" in reason
    assert "uid layer" in (warm_module.unavailable_reason("uid") or "")


SIBLING_A = r'''
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
open("/tmp/mine", "w").write("A's")
shm = libc.shmget(SHM_KEY + 1, 4096, 0o1666)
time.sleep(2)  # meanwhile its sibling attacks
print("alive", open("/tmp/mine").read(), shm >= 0)
'''.replace("SHM_KEY", str(SHM_KEY))

SIBLING_B = r'''
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
hits = []
try:
    os.kill(-1, signal.SIGKILL)
    hits.append("kill -1")
except OSError:
    pass
for pid in range(1, 400):
    try:
        os.kill(pid, signal.SIGKILL) if pid != os.getpid() else None
        if pid != os.getpid():
            hits.append(pid)
    except OSError:
        pass
if os.path.exists("/tmp/mine"):
    hits.append("/tmp/mine")
if libc.shmget(SHM_KEY + 1, 0, 0) >= 0:
    hits.append("shm")
print("hits", hits)
'''.replace("SHM_KEY", str(SHM_KEY))


@needs_warm
def test_concurrent_siblings_cannot_reach_each_other() -> None:
    """Two sessions at once (two grading workers, two warm processes): one attacks the other."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_session, SIBLING_A)
        time.sleep(0.7)  # the first is running its cell (it sleeps 2 s)
        second = pool.submit(_session, SIBLING_B).result()
        survivor = first.result()
    assert second.cells[0].output == "hits []\n", second.cells[0].output
    assert survivor.cells[0].output == "alive A's True\n", survivor.cells[0]


COUNT_PIDS = r'''
import os
for _ in range(300):  # moves a shared PID counter, if there were one
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
'''

READ_PIDS = r'''
import os
print(os.readlink("/proc/self"), [p for p in range(1, 50) if os.path.exists(f"/proc/{p}")],
      os.getsid(0), os.getpgrp())
'''


@needs_warm
def test_the_pid_counter_and_proc_are_the_sessions_own() -> None:
    """A review sent numbers between sessions through the zygote's PID counter (/proc/self)."""
    _session(COUNT_PIDS)
    report = _session(READ_PIDS)
    assert report.cells[0].output == "2 [1, 2] 1 1\n", report.cells[0]


ORPHANS = r'''
import os, time
for _ in range(90):  # each background shell job is orphaned at once, and exits: init must reap it
    os.system("true &")
time.sleep(0.3)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked")
'''


@needs_warm
def test_orphans_are_reaped_as_in_a_fresh_child() -> None:
    report = _session(ORPHANS)  # 90 > max_processes (64): unreaped zombies would stop fork
    assert report.cells[0].status == "ok", report.cells[0].message
    assert report.cells[0].output == "forked\n", report.cells[0].output  # no "Cannot fork" either


MEMFD_BOMB = r'''
import os
chunk = b"x" * (1 << 20)
for _ in range(16):  # memory charged to the cgroup, but to no process's RSS
    fd = os.memfd_create("m")
    for _ in range(32):
        os.write(fd, chunk)
'''


@needs_warm
def test_the_oom_killer_picks_the_session_not_the_warm_process() -> None:
    limits = SessionLimits(cell_timeout=10.0, notebook_timeout=20.0, memory_mb=256)
    _session("pass", limits=limits)
    warm = _idle_warm()
    report = _session(MEMFD_BOMB, limits=limits)  # 512 MB in memfds, against a 352 MB cgroup
    assert report.cells[0].status == "crashed", report.cells[0]
    assert not any("warm process failed" in notice for notice in report.notices), report.notices
    assert _idle_warm() is warm and warm.process is not None and warm.process.poll() is None
