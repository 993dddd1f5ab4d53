"""The sandbox's housekeeping against hostile leftovers: deep trees, many files, the disk cap."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from grader.notebook import CodeCell
from grader.sandbox import Call, SessionLimits, available_layers, cleanup, isolation, run_session
from grader.sandbox.layers import common, namespaces
from grader.sandbox.layers import uid as uid_layer
from grader.sandbox.runtime import mirror_runtime

LAYERS = available_layers()
DEEP_TREE = """
import os
def grow(top, depth):
    os.makedirs(top, exist_ok=True)
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    return depth
"""


def _run(sources: list[str], calls: list[Call], layer: str, submission_dir: Path | None = None,
         **limits: object):
    cells = [CodeCell(i + 1, s) for i, s in enumerate(sources)]
    return run_session(cells, calls, SessionLimits(**limits),  # type: ignore[arg-type]
                       submission_dir=submission_dir, isolation=layer)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_deep_tree_in_the_working_folder_costs_no_later_session(layer: str) -> None:
    before = set(Path(tempfile.gettempdir()).glob("grader-sandbox-*"))
    report = _run([DEEP_TREE], [Call("g", "grow", ("tree", 3000))], layer)
    assert report.calls["g"].value == 3000, report.calls["g"].message
    assert set(Path(tempfile.gettempdir()).glob("grader-sandbox-*")) <= before  # all removed
    again = _run(["def f():\n    return 1\n"], [Call("f", "f")], layer)
    assert again.calls["f"].value == 1


def test_a_deep_tree_in_shared_tmp_costs_no_later_session() -> None:
    if "uid" not in LAYERS:
        pytest.skip(f"the uid layer is unavailable here: {isolation._unavailable_reason('uid')}")
    report = _run([DEEP_TREE], [Call("g", "grow", ("/tmp/grader-test-deep-tree", 3000))], "uid")
    if report.calls["g"].status == "ok":  # without Landlock the uid may write /tmp: swept after
        assert not Path("/tmp/grader-test-deep-tree").exists()
    else:
        assert "PermissionError" in report.calls["g"].message  # Landlock: /tmp is not its to write
    again = _run(["def f():\n    return 1\n"], [Call("f", "f")], "uid")
    assert again.calls["f"].value == 1


def test_a_submission_of_many_files_still_has_a_disk_cap(tmp_path: Path) -> None:
    if "namespaces" not in LAYERS:
        pytest.skip(f"the namespaces layer is unavailable here: {isolation._unavailable_reason('namespaces')}")
    if not namespaces.bwrap_sizes_tmpfs():
        pytest.xfail("bubblewrap < 0.8 cannot cap a tmpfs (no --size): no disk cap in this layer here")
    submission = tmp_path / "submission"
    submission.mkdir()
    for i in range(namespaces.MAX_COPIED_FILES + 50):
        (submission / f"part_{i}.txt").write_text(f"{i}\n")
    fill = ("import os\ndef fill():\n    written = 0\n    try:\n        for i in range(64):\n"
            "            with open(f'fill_{i}.bin', 'wb') as handle:\n"
            "                handle.write(b'x' * (4 << 20))\n            written += 4\n"
            "    except OSError as exc:\n        return [written, exc.errno]\n    return [written, 0]\n"
            "def count():\n    return len([n for n in os.listdir('.') if n.startswith('part_')])\n"
            "def edit():\n    open('part_0.txt', 'a').write('more')\n    return open('part_0.txt').read()\n")
    report = _run([fill], [Call("n", "count"), Call("e", "edit"), Call("f", "fill")], "namespaces",
                  submission_dir=submission, file_mb=16)
    assert report.calls["n"].value == namespaces.MAX_COPIED_FILES + 50  # every file is there
    assert report.calls["e"].value == "0\nmore"  # and writable, as in the student's own folder
    written, error = report.calls["f"].value
    assert written <= 16 + 4 and error != 0, report.calls["f"]  # the cap, not 256 MB
    assert (submission / "part_0.txt").read_text() == "0\n"  # the grader's copy is untouched


def test_cleanup_failure_never_keeps_the_uid_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    if "uid" not in LAYERS:
        pytest.skip(f"the uid layer is unavailable here: {isolation._unavailable_reason('uid')}")

    def broken(*args: object, **kwargs: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    sandbox = isolation.Sandbox("uid", SessionLimits(), None, [])
    monkeypatch.setattr(isolation, "remove_tree", broken)
    with pytest.raises(RecursionError):
        sandbox.close()
    monkeypatch.undo()
    assert not uid_layer._uid_locks[uid_layer.sandbox_ids()[0]].locked()  # the next session may start
    isolation.remove_tree(sandbox.root)


SYSV_IPC = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def make():
    return [libc.shmget(0x5eed, 1 << 20, 0o1666), libc.msgget(0x5eed, 0o1666)]
def find():
    return [libc.shmget(0x5eed, 0, 0o666), libc.msgget(0x5eed, 0o666)]
"""


def test_sysv_ipc_does_not_outlive_the_session() -> None:
    if "uid" not in LAYERS:
        pytest.skip(f"the uid layer is unavailable here: {isolation._unavailable_reason('uid')}")
    uid = uid_layer.sandbox_ids()[0]
    report = _run([SYSV_IPC], [Call("m", "make")], "uid")
    made = report.calls["m"].value
    assert made is not None and min(made) >= 0, report.calls["m"].message
    assert cleanup.ipc_objects(uid) == []  # removed, or never in the host's namespace
    later = _run([SYSV_IPC], [Call("f", "find")], "uid")
    assert later.calls["f"].value == [-1, -1]  # the next submission finds nothing of it


def test_leftover_ipc_objects_of_the_uid_are_removed() -> None:
    """Where the child cannot have its own IPC namespace (a container), the sweep removes them."""
    if "uid" not in LAYERS:
        pytest.skip(f"the uid layer is unavailable here: {isolation._unavailable_reason('uid')}")
    import subprocess

    uid, gid = uid_layer.sandbox_ids()
    runtime = mirror_runtime(common.packages(()))  # a Python the uid can read
    env = {"LD_LIBRARY_PATH": runtime.library_path or ""}
    made = subprocess.run([str(runtime.executable), "-I", "-S", "-c",
                           "import ctypes; libc = ctypes.CDLL(None); print(libc.shmget(0, 4096, 0o1600))"],
                          user=uid, group=gid, capture_output=True, text=True, cwd="/", env=env)
    if made.returncode != 0:
        pytest.skip(f"the sandbox user cannot run this Python here: {made.stderr.strip()[-200:]}")
    assert ("shm", int(made.stdout)) in cleanup.ipc_objects(uid)
    assert cleanup.remove_ipc_objects(uid) == 0
    assert cleanup.ipc_objects(uid) == []


# ---------------------------------------------------------------- the grader's own memory

def _peak_while(function):  # type: ignore[no-untyped-def]
    import tracemalloc

    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_many_noisy_cells_keep_a_bounded_report() -> None:
    """5,000 cells, each printing 64 KB and raising a 64 KB error (was: 1.8 GB kept)."""
    from grader.sandbox.session import SESSION_TEXT_BUDGET

    cell = "print('o' * 64_000)\nraise ValueError('e' * 64_000)\n"
    cells = [CodeCell(i + 1, cell) for i in range(5000)] + [CodeCell(5001, "def f():\n    return 42\n")]
    report, peak = _peak_while(lambda: run_session(cells, [Call("f", "f")], SessionLimits(notebook_timeout=120),
                                                   submission_dir=None, isolation=LAYERS[0]))
    kept = sum(len(c.output) + len(c.message) for c in report.cells)
    assert kept <= SESSION_TEXT_BUDGET + 5001 * 200
    assert report.calls["f"].value == 42  # the notebook still runs to the end
    assert "not kept" in report.cells[-2].message
    assert peak < 200 * 2**20, f"the grader held {peak / 2**20:.0f} MB for one session"


def test_a_protocol_line_of_a_million_objects_is_refused_before_parsing() -> None:
    """A forged line `{"t": "cell", "a": [{}, {}, ...]}` of 60 MB (was: 6.4 GB as Python dicts)."""
    forge = ("import os\nline = b'{\"t\":\"cell\",\"a\":[' + b'{},' * 20_000_000 + b'{}]}\\n'\n"
             "for fd in range(3, 12):\n    try:\n        os.write(fd, line)\n    except OSError:\n        pass\n"
             "del line\n")
    report, peak = _peak_while(lambda: run_session(
        [CodeCell(1, forge), CodeCell(2, "def f():\n    return 42\n")], [Call("f", "f")],
        SessionLimits(memory_mb=1024), submission_dir=None, isolation=LAYERS[0]))
    assert report.calls["f"].value == 42  # the forged line is dropped unparsed; the rest goes on
    assert peak < 300 * 2**20, f"the grader held {peak / 2**20:.0f} MB for one session"


def test_messages_for_another_item_count_toward_the_flood_cap() -> None:
    from grader.sandbox.session import MAX_GARBAGE_BYTES

    forge = ("import os, json\nline = (json.dumps({'t': 'call', 'id': 'nope', 'status': 'ok', 'message': "
             "'x' * 1_000_000, 'output': ''}) + '\\n').encode()\n"
             f"for _ in range({MAX_GARBAGE_BYTES // 1_000_000 + 8}):\n"
             "    for fd in range(3, 12):\n        try:\n            os.write(fd, line)\n"
             "        except OSError:\n            pass\n")
    report = run_session([CodeCell(1, forge), CodeCell(2, "x = 1\n")], [], SessionLimits(),
                         submission_dir=None, isolation=LAYERS[0])
    assert report.cells[0].status == "crashed"
    assert "too much malformed data" in report.cells[0].message
    assert report.cells[1].status == "ok"  # the other cells were run again without it


def test_stale_session_cgroups_are_swept() -> None:
    """A grader killed with SIGKILL leaves its cgroups: the next one removes the empty ones only."""
    import subprocess

    from grader.sandbox.cgroups import SessionCgroup, sweep_stale

    stale = SessionCgroup.create(2**30, 16)
    if stale is None:
        pytest.skip("no cgroup can be made here (not root, or /sys/fs/cgroup is read-only)")
    busy = SessionCgroup.create(2**30, 16)
    assert busy is not None
    sleeper = subprocess.Popen(["/bin/sh", "-c", busy.join_script() + " exec sleep 60"])
    try:
        def joined() -> bool:  # every controller's folder, not just the first
            return all((folder / "cgroup.procs").read_text().strip() for folder in busy.folders)

        for _ in range(500):
            if joined():
                break
            time.sleep(0.01)
        assert joined(), "the sleeper never joined its cgroup"
        assert sweep_stale(min_age=3600) == 0 or all(f.exists() for f in stale.folders)  # too young
        sweep_stale(min_age=0)
        assert not any(folder.exists() for folder in stale.folders)
        assert all(folder.exists() for folder in busy.folders)  # it has a process: kept
    finally:
        sleeper.kill()
        sleeper.wait()
        busy.close()
        stale.folders = []


def test_a_session_has_a_cpu_share_of_its_own() -> None:
    """A review slowed a concurrent session 4.6x with 60 processes that each called setsid (the
    kernel's autogroups then gave each its own share): a session's processes share one."""
    import subprocess

    from grader.sandbox.cgroups import ROOT, SessionCgroup

    if not (ROOT / "cpu" / "cpu.shares").exists():
        pytest.skip("no cgroup v1 cpu controller here (with v2 the share follows its parent's controllers)")
    group = SessionCgroup.create(2**30, 16)
    if group is None:
        pytest.skip("no cgroup can be made here (not root, or /sys/fs/cgroup is read-only)")
    sleeper = subprocess.Popen(["/bin/sh", "-c", group.join_script() + " exec sleep 60"])
    try:
        for _ in range(500):
            if group.pids():
                break
            time.sleep(0.01)
        lines = Path(f"/proc/{sleeper.pid}/cgroup").read_text().splitlines()
        name = group.folders[0].name
        cpu = [line for line in lines if "cpu" in line.split(":")[1].split(",")]
        assert cpu and all(line.endswith(name) for line in cpu), lines
    finally:
        sleeper.kill()
        sleeper.wait()
        group.close()
