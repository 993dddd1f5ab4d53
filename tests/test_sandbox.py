"""The sandbox: notebooks run in an isolated child; hostile code cannot hurt the grader."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.errors import StudentFileError
from grader.notebook import CodeCell, load_code_cells, parse_code_cells
from grader.sandbox import (
    Call,
    IsolationError,
    Ref,
    SessionLimits,
    SessionReport,
    TestFunction,
    WireError,
    available_layers,
    choose_layer,
    isolation,
    run_session,
)
from grader.sandbox.ipython import to_python
from grader.sandbox.landlock import landlock_abi
from grader.sandbox.layers import namespaces
from grader.sandbox.layers import uid as uid_layer
from grader.sandbox.wire import decode, encode

LAYERS = available_layers()
DEFINE_F = "def f():\n    return 42\n"
DEFINE_G = "def g():\n    return 7\n"


def run(sources: Sequence[str], calls: Sequence[Call] = (), *, layer: str | None = None,
        secret_paths: Sequence[Path] = (), submission_dir: Path | None = None,
        **limits: object) -> SessionReport:
    cells = [CodeCell(i + 1, source) for i, source in enumerate(sources)]
    return run_session(cells, calls, SessionLimits(**limits),  # type: ignore[arg-type]
                       submission_dir=submission_dir, secret_paths=secret_paths, isolation=layer)


def statuses(report: SessionReport) -> list[str]:
    return [cell.status for cell in report.cells]


def need(layer: str) -> None:
    if layer not in LAYERS:
        pytest.skip(f"isolation layer {layer!r} is not available here "
                    f"({isolation._unavailable_reason(layer)})")


SESSION_UID = 2_000_000_123


@pytest.fixture
def fixed_session_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known uid for namespaced sessions (each otherwise gets a random one of its own)."""
    monkeypatch.setattr(namespaces, "session_ids", lambda: (SESSION_UID, SESSION_UID))


def processes_left(layer: str) -> list[int]:
    """Processes of the session's uid still alive after it.

    The uid layer's lock is held meanwhile, so no other grader's session (another developer's
    tests on this machine) runs as that uid during the look.
    """
    uid = SESSION_UID if layer == "namespaces" else uid_layer.sandbox_ids()[0]
    lock = uid_layer.UidLock(uid)
    try:
        return uid_layer.pids_of(uid, zombies=False)
    finally:
        lock.release()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may write to (the pytest tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


NOTEBOOK = '''
import numpy as np

def double(x):
    print("doubling", x.shape)
    return x * 2

def forward(x, t):
    loss = float(np.sum(x) + t)
    return loss, {"x": x, "t": t}

def backward(cache):
    return {"x": np.ones_like(cache["x"]), "t": cache["t"] * 2}

def numerical_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g

def bump(x):
    x += 1
    return None

def odd_values():
    return [1, 2.5, None, "s", (np.int32(3), np.bool_(True)), float("nan"), 1 + 2j,
            {"k": np.arange(6, dtype=np.int16).reshape(2, 3)}]
'''


# ---------------------------------------------------------------- a normal notebook

@pytest.mark.parametrize("layer", ["namespaces", "uid", "rlimits"])
def test_normal_notebook_round_trips_values(layer: str) -> None:
    need(layer)
    x = np.arange(6.0).reshape(2, 3)
    calls = [
        Call("dbl", "double", (x,)),
        Call("fwd", "forward", (x, 3), select=0),
        Call("bwd", "backward", (Ref("fwd", 1),)),
        Call("grad", "numerical_grad", (TestFunction("lambda v: float(np.sum(v ** 2))"), x)),
        Call("bump", "bump", (np.zeros(3),), return_args=True),
        Call("odd", "odd_values"),
        Call("kw", "double", kwargs={"x": np.float32(1.5)}),
    ]
    report = run([NOTEBOOK], calls, layer=layer)
    assert report.layer == layer
    assert statuses(report) == ["ok"]
    results = report.calls
    assert all(r.status == "ok" for r in results.values()), results
    values: dict[str, Any] = {key: result.value for key, result in results.items()}
    assert np.array_equal(values["dbl"], x * 2)
    assert results["dbl"].output == "doubling (2, 3)\n"
    assert values["fwd"] == pytest.approx(18.0)
    grads = values["bwd"]
    assert grads["t"] == 6
    assert np.array_equal(grads["x"], np.ones_like(x))
    assert np.allclose(values["grad"], 2 * x, atol=1e-4)
    after: Any = results["bump"].args_after
    assert np.array_equal(after[0], np.ones(3))  # in-place mutation seen
    odd = values["odd"]
    assert odd[:4] == [1, 2.5, None, "s"]
    assert odd[4] == (np.int32(3), np.bool_(True)) and isinstance(odd[4][0], np.int32)
    assert np.isnan(odd[5]) and odd[6] == 1 + 2j
    assert odd[7]["k"].dtype == np.int16 and odd[7]["k"].shape == (2, 3)
    assert values["kw"] == np.float32(3.0)


def test_empty_session_starts_no_further_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to run: only the child started ahead (while the grader plans) and never sent work."""
    spawned: list[object] = []
    real_spawn = isolation.Sandbox.spawn

    def counting(self: isolation.Sandbox, launch: isolation.Launch) -> Any:
        spawned.append(launch)
        return real_spawn(self, launch)

    monkeypatch.setattr(isolation.Sandbox, "spawn", counting)
    report = run([])
    assert report.cells == () and report.calls == {}
    assert len(spawned) <= 1


def test_autograder_flag_and_main_name_let_the_template_skip_training() -> None:
    source = ('import os\ntrained = False\n'
              'if __name__ == "__main__" and os.environ.get("AUTOGRADER") != "1":\n'
              '    trained = True\n'
              'def was_trained():\n    return trained\n')
    report = run([source], [Call("t", "was_trained")])
    assert report.calls["t"].value is False


def test_cell_error_reports_the_students_line_and_later_cells_still_run() -> None:
    report = run([DEFINE_F, "y = 1\nz = undefined_name + 1\n", "raise SystemExit(3)",
                  "def broken(:\n", DEFINE_G], [Call("f", "f"), Call("g", "g")])
    assert statuses(report) == ["ok", "error", "error", "error", "ok"]
    message = report.cells[1].message
    assert 'File "<cell 2>", line 2' in message and "z = undefined_name + 1" in message
    assert "NameError" in message and "child" not in message and "<string>" not in message
    assert "SystemExit: 3" in report.cells[2].message
    assert "SyntaxError" in report.cells[3].message
    assert report.calls["f"].value == 42 and report.calls["g"].value == 7


def test_replaced_builtins_do_not_trip_the_harness() -> None:
    sabotage = ("import builtins\n"
                "builtins.isinstance = lambda obj, kind: True\n"
                "builtins.len = lambda obj: 0\n"
                "builtins.any = lambda iterable: True\n"
                "builtins.max = builtins.min = lambda *args, **kwargs: 0\n"
                "builtins.callable = lambda obj: True\n")
    x = np.arange(6.0).reshape(2, 3)
    report = run([NOTEBOOK, sabotage], [Call("dbl", "double", (x,)), Call("odd", "odd_values")])
    assert statuses(report) == ["ok", "ok"]
    assert np.array_equal(report.calls["dbl"].value, x * 2)
    assert report.calls["odd"].status == "ok" and report.calls["odd"].value[:4] == [1, 2.5, None, "s"]


def test_call_errors_missing_names_and_bad_values_are_told_apart() -> None:
    source = ("import numpy as np\n"
              "def fails(x):\n    return x[10]\n"
              "def objects():\n    return np.array([object()])\n"
              "class Thing:\n    pass\n"
              "def thing():\n    return Thing()\n"
              "def cyclic():\n    a = []\n    a.append(a)\n    return a\n"
              "def pair():\n    return 1.0\n"
              "not_a_function = 3\n")
    calls = [Call("fails", "fails", ([1, 2],)), Call("missing", "nowhere"),
             Call("number", "not_a_function"), Call("objects", "objects"), Call("thing", "thing"),
             Call("cyclic", "cyclic"), Call("select", "pair", select=0),
             Call("dependent", "pair", (Ref("fails"),))]
    results = run([source], calls).calls
    assert results["fails"].status == "error" and "IndexError" in results["fails"].message
    assert 'File "<cell 1>", line 3, in fails' in results["fails"].message
    assert results["missing"].status == "missing" and "nowhere" in results["missing"].message
    assert results["number"].status == "missing" and "int" in results["number"].message
    assert results["objects"].status == "bad_value" and "object" in results["objects"].message
    assert results["thing"].status == "bad_value" and "Thing" in results["thing"].message
    assert results["cyclic"].status == "bad_value" and "itself" in results["cyclic"].message
    assert results["select"].status == "bad_value" and "float" in results["select"].message
    assert results["dependent"].status == "not_run"


def test_input_reads_end_of_file() -> None:
    report = run(["try:\n    input()\nexcept EOFError:\n    eof = True\n"
                  "def saw_eof():\n    return eof\n"], [Call("e", "saw_eof")])
    assert report.calls["e"].value is True


def test_ipython_magics_run_as_plain_python() -> None:
    source = "%matplotlib inline\n!pip install numpy\nfiles = !ls\n%time value = 5\n" \
             "def get():\n    %timeit value\n    return value, files\n"
    report = run([source, "%%bash\nrm -rf /\n"], [Call("v", "get")])
    assert statuses(report) == ["ok", "skipped"]
    assert report.calls["v"].value == (5, [])
    assert any("pip install" in note for note in report.notices)


# ---------------------------------------------------------------- time limits and crashes

def test_infinite_loop_cell_stops_softly_and_keeps_the_namespace() -> None:
    report = run([DEFINE_F, "x = 1\nwhile True:\n    pass\n", "def g():\n    return x\n"],
                 [Call("f", "f"), Call("g", "g")], cell_timeout=0.5)
    assert statuses(report) == ["ok", "timeout", "ok"]
    assert "<cell 2>" in report.cells[1].message and "while True" in report.cells[1].message
    assert report.calls["g"].value == 1  # set before the loop, kept: no restart was needed


def test_loop_that_ignores_the_alarm_is_killed_and_the_other_cells_rerun() -> None:
    stubborn = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n")
    report = run([DEFINE_F, stubborn, DEFINE_G], [Call("f", "f"), Call("g", "g")], cell_timeout=0.5)
    assert statuses(report) == ["ok", "timeout", "ok"]
    assert "ended its Python process" in report.cells[1].message
    assert report.calls["f"].value == 42 and report.calls["g"].value == 7


def test_os_exit_and_segfault_in_cells_are_crashes_and_the_rest_still_answers() -> None:
    report = run([DEFINE_F, "import os\nos._exit(0)\n",
                  "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", DEFINE_G],
                 [Call("f", "f"), Call("g", "g")])
    assert statuses(report) == ["ok", "crashed", "crashed", "ok"]
    assert "exited with code 0" in report.cells[1].message
    assert "segmentation fault" in report.cells[2].message
    assert report.calls["f"].value == 42 and report.calls["g"].value == 7


def test_hanging_calls_time_out_and_the_remaining_calls_still_answer() -> None:
    source = DEFINE_F + ("import os, signal\n"
                         "def spin():\n    while True:\n        pass\n"
                         "def stubborn():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                         "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    while True:\n"
                         "        pass\n"
                         "def vanish():\n    os._exit(1)\n")
    calls = [Call("spin", "spin", timeout=0.5), Call("a", "f"),
             Call("stubborn", "stubborn", timeout=0.5), Call("b", "f"),
             Call("vanish", "vanish"), Call("c", "f")]
    results = run([source], calls).calls
    assert results["spin"].status == "timeout" and "in spin" in results["spin"].message
    assert results["stubborn"].status == "timeout"
    assert results["vanish"].status == "crashed"
    assert [results[k].value for k in "abc"] == [42, 42, 42]


def test_ref_to_an_answered_call_survives_a_restart() -> None:
    source = ("import os\ndef make():\n    return {'w': [1, 2]}\n"
              "def use(d):\n    return sum(d['w'])\n"
              "def die():\n    os._exit(9)\n")
    calls = [Call("make", "make"), Call("die", "die"), Call("use", "use", (Ref("make"),))]
    results = run([source], calls).calls
    assert results["die"].status == "crashed" and results["use"].value == 3


def test_restarts_are_bounded() -> None:
    crash = "import os\nos._exit(1)\n"
    report = run([crash, crash, DEFINE_F], [Call("f", "f")], max_restarts=1)
    assert statuses(report) == ["crashed", "crashed", "skipped"]
    assert report.calls["f"].status == "not_run"


def test_notebook_budget_skips_the_cells_left() -> None:
    loop = "while True:\n    pass\n"
    report = run([loop, loop, DEFINE_F], [Call("f", "f")], cell_timeout=0.6, notebook_timeout=1.0)
    assert statuses(report) == ["timeout", "timeout", "skipped"]
    assert report.calls["f"].status == "missing"


# ---------------------------------------------------------------- output and memory

def test_print_flood_is_capped_in_the_child_and_the_parent() -> None:
    flood = "for i in range(200_000):\n    print('x' * 500)\n"  # 100 MB through print
    raw = "import os\nfor i in range(100):\n    os.write(1, b'y' * 1_000_000)\n"  # past print
    tracemalloc.start()
    try:
        report = run([flood, raw, DEFINE_F], [Call("f", "f")], output_bytes=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20
    assert statuses(report)[0] == "ok" and statuses(report)[2] == "ok"
    assert all(len(cell.output) < 12_000 for cell in report.cells)
    assert "not shown" in report.cells[0].output and report.cells[1].output.startswith("yyy")
    assert report.calls["f"].value == 42


def test_memory_bombs_are_reported_and_the_notebook_goes_on() -> None:
    report = run(["import numpy as np\nx = np.ones((1024, 1024, 1024))\n",
                  "a = []\nwhile True:\n    a.append(bytearray(10**7))\n", "del a\n" + DEFINE_F],
                 [Call("f", "f")], memory_mb=512)
    assert statuses(report)[:2] == ["error", "error"]
    assert "Unable to allocate" in report.cells[0].message
    assert "MemoryError" in report.cells[1].message
    assert report.calls["f"].value == 42


# ---------------------------------------------------------------- processes left behind

@pytest.mark.parametrize("layer", ["namespaces", "uid"])
def test_fork_bomb_is_bounded_and_gone_after_the_session(layer: str,
                                                         fixed_session_uid: None) -> None:
    need(layer)
    if os.geteuid() != 0:
        pytest.skip("the process limit is checked as root, where the child switches uid")
    bomb = ("import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass\n")
    report = run([bomb, DEFINE_F], [Call("f", "f")], layer=layer, cell_timeout=1.0)
    assert report.cells[0].status == "timeout" and report.calls["f"].value == 42
    assert processes_left(layer) == []


@pytest.mark.parametrize("layer", ["namespaces", "uid"])
def test_double_forking_daemon_does_not_survive(layer: str, shared_dir: Path,
                                                fixed_session_uid: None) -> None:
    need(layer)
    go, sentinel = shared_dir / "go", shared_dir / "sentinel"
    # The daemon acts only once the session is over and the test says so: no race with the
    # session's own speed (the machine may be busy with other tests).
    daemon = (f"import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              f"        while not os.path.exists({str(go)!r}):\n            time.sleep(0.02)\n"
              f"        open({str(sentinel)!r}, 'w').write('alive')\n    os._exit(0)\n")
    report = run([daemon, DEFINE_F], [Call("f", "f")], layer=layer)
    assert report.calls["f"].value == 42
    go.touch()
    time.sleep(0.5)
    assert not sentinel.exists()
    if os.geteuid() == 0:
        assert processes_left(layer) == []


# ---------------------------------------------------------------- secrets and network

def test_child_cannot_read_secrets_or_the_grader_in_namespaces(shared_dir: Path) -> None:
    need("namespaces")
    secret = shared_dir / "salt.txt"
    secret.write_text("private salt")
    secret.chmod(0o644)
    repo = Path(__file__).resolve().parent.parent
    source = ("import sys, os\n"
              f"sys.path[:0] = [{str(repo)!r}, {str(repo / 'grader')!r}]\n"
              "def read(path):\n    return open(path).read()\n"
              "def load(name):\n    __import__(name)\n    return name\n"
              "def visible(path):\n    return os.path.exists(path)\n")
    calls = [Call("secret", "read", (str(secret),)), Call("grader", "load", ("grader",)),
             Call("refs", "load", ("reference_solutions",)), Call("outcome", "load", ("outcome",)),
             Call("repo", "visible", (str(repo),)), Call("numpy", "load", ("numpy",))]
    results = run([source], calls, layer="namespaces", secret_paths=[secret]).calls
    assert results["secret"].status == "error" and "private" not in results["secret"].message
    for name in ("grader", "refs", "outcome"):
        assert results[name].status == "error" and "ModuleNotFoundError" in results[name].message
    assert results["repo"].value is False and results["numpy"].value == "numpy"


@pytest.mark.parametrize("landlock", [True, False], ids=["landlock", "file-modes"])
def test_secret_paths_are_unreadable_in_the_uid_layer_and_given_back_after(
        shared_dir: Path, landlock: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    need("uid")
    if landlock and not landlock_abi():
        pytest.skip("Landlock is unavailable on this kernel")
    if not landlock:  # the grader's fallback where the kernel has no Landlock
        monkeypatch.setattr(uid_layer, "landlock_abi", lambda: 0)
    secret = shared_dir / "salt.txt"
    secret.write_text("private salt")
    secret.chmod(0o644)
    report = run(["def read(path):\n    return open(path).read()\n"],
                 [Call("secret", "read", (str(secret),))], layer="uid", secret_paths=[secret])
    assert report.calls["secret"].status == "error"
    assert "PermissionError" in report.calls["secret"].message
    assert any("unreadable" in note for note in report.notices) is not landlock  # modes: only the fallback
    assert any("Landlock is unavailable" in note for note in report.notices) is not landlock
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644  # the instructor's file as it was


@pytest.mark.parametrize("layer", ["uid", "rlimits"])
def test_a_readable_copy_of_the_solutions_elsewhere_is_out_of_reach(shared_dir: Path, layer: str) -> None:
    """Another clone of the repository, world-readable, that nobody listed as secret."""
    need(layer)
    clone = shared_dir / "other-clone" / "reference_solutions"
    clone.mkdir(parents=True)
    (clone / "written.py").write_text("ANSWER = 42\n")
    for path in (clone.parent, clone, clone / "written.py"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    report = run(["import os\ndef read(path):\n    return open(path).read()\n"
                  "def listing(path):\n    return os.listdir(path)\n"],
                 [Call("read", "read", (str(clone / "written.py"),)), Call("list", "listing", (str(clone),))],
                 layer=layer)
    if not landlock_abi():
        pytest.xfail("without Landlock (this kernel has none) a world-readable file is readable by "
                     "the sandbox user; only the namespaces layer hides it")
    assert report.landlock.startswith("ABI ")
    for call in ("read", "list"):
        assert report.calls[call].status == "error" and "PermissionError" in report.calls[call].message


def test_a_mode_changed_during_the_session_is_not_overwritten(shared_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    need("uid")
    monkeypatch.setattr(uid_layer, "landlock_abi", lambda: 0)  # file modes: the fallback


    secret = shared_dir / "salt.txt"
    secret.write_text("private salt")
    secret.chmod(0o644)
    with isolation.Sandbox("uid", SessionLimits(), None, [secret]):
        assert secret.stat().st_mode & 0o007 == 0
        secret.chmod(0o600)  # the instructor tightened it meanwhile
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_no_network_in_namespaces() -> None:
    need("namespaces")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        source = ("import socket\ndef connect(port):\n"
                  "    socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
                  "    return 'connected'\n")
        result = run([source], [Call("net", "connect", (port,))], layer="namespaces").calls["net"]
    # Refused by the seccomp filter (Permission denied) or, without it, by the empty network
    # namespace (Connection refused): never connected.
    assert result.status == "error"
    assert "Permission denied" in result.message or "Connection refused" in result.message


def test_submission_files_are_a_writable_throwaway_copy(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("original")
    source = ("def read_and_scribble():\n    text = open('data.txt').read()\n"
              "    open('data.txt', 'w').write('changed')\n    return text\n")
    report = run([source], [Call("r", "read_and_scribble")], submission_dir=tmp_path)
    assert report.calls["r"].value == "original"
    assert (tmp_path / "data.txt").read_text() == "original"


# ---------------------------------------------------------------- the protocol channel

FORGE = '''import os, stat
def pipes():
    return [fd for fd in range(3, 64) if _is_pipe(fd)]
def _is_pipe(fd):
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False
'''


def test_garbage_and_forged_lines_on_the_channel_are_survived() -> None:
    junk = (b"junk\n\x00\xff{{\n" + b"z" * 300_000 + b"\n[1]\n"
            b'{"t": "cell", "index": 99}\n{"t": "call", "id": "f"}\n')
    garbage = f"for fd in pipes():\n    os.write(fd, {junk!r})\n"
    bad_array = json.dumps({"t": "call", "id": "forged", "status": "ok", "message": "",
                            "output": "", "args_after": None, "value": {"$array": {
                                "dtype": "|O", "shape": [1],
                                "data": base64.b64encode(bytes(8)).decode()}}})
    forge = (f"def forge():\n    for fd in pipes():\n        os.write(fd, {bad_array!r}.encode() + "
             "b'\\n')\n    return 1\n")
    report = run([FORGE, garbage, DEFINE_F + forge],
                 [Call("f", "f"), Call("forged", "forge"), Call("after", "f")])
    assert statuses(report) == ["ok", "ok", "ok"]
    assert report.calls["f"].value == 42 and report.calls["after"].value == 42
    assert report.calls["forged"].status == "bad_value"  # the forged array was refused
    assert any("malformed" in note for note in report.notices)


def test_closing_the_channel_is_a_crash_of_that_cell_only() -> None:
    report = run([FORGE, DEFINE_F, "for fd in pipes():\n    os.close(fd)\n", DEFINE_G],
                 [Call("f", "f"), Call("g", "g")])
    assert statuses(report) == ["ok", "ok", "crashed", "ok"]
    assert report.calls["f"].value == 42 and report.calls["g"].value == 7


# ---------------------------------------------------------------- the strict decoder

def _array(dtype: str, shape: list[object], data: bytes) -> dict[str, object]:
    return {"$array": {"dtype": dtype, "shape": shape, "data": base64.b64encode(data).decode()}}


@pytest.mark.parametrize("wire", [
    _array("|O", [1], bytes(8)),                       # object array
    _array("<U1", [1], bytes(4)),                      # strings
    _array(">f8", [1], bytes(8)),                      # big-endian
    _array("<f8", [2], bytes(8)),                      # too few bytes for the shape
    _array("<f8", [1], bytes(9)),                      # too many
    _array("<f8", [10**9, 10**9], b""),                # absurd shape
    _array("<f8", [-1], b""),                          # negative size
    _array("<f8", [True], bytes(8)),                   # bool as a size
    _array("<f8", [1] * 40, bytes(8)),                 # too many dimensions
    {"$array": {"dtype": "<f8", "shape": [1], "data": "!!!!!!!!!!!!"}},  # not base64
    {"$array": {"dtype": "<f8", "shape": [1]}},        # missing data
    {"$scalar": {"dtype": "<f8", "data": "AA=="}},     # short scalar
    {"$pickle": "gASVAAAA"},                           # unknown tag
    {"$ref": "x", "index": None},                      # parent-only tags are refused
    {"$fn": "lambda: 0"},
    {"a": 1},                                          # untagged object
    {"$dict": [[1.5, 1]]},                             # float key
    {"$dict": [["a", 1], ["a", 2]]},                   # repeated key
    {"$float": "1e999"},
    {"$complex": [True, 0]},
    "x" * 1_000_001,                                   # oversized string
])
def test_strict_decoder_rejects(wire: object) -> None:
    with pytest.raises(WireError):
        decode(wire)


def test_strict_decoder_rejects_deep_nesting_and_huge_counts() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(WireError):
        decode(deep)
    with pytest.raises(WireError):
        decode([0] * 1_000_001)
    with pytest.raises(WireError):  # two arrays that are each small but too big together
        decode([_array("|u1", [20 * 2**20], bytes(20 * 2**20))] * 2)


def test_wire_round_trip_of_plain_data() -> None:
    value = {"a": (1, 2.5, None, True, "s", float("inf"), 2j),
             "b": [np.arange(4, dtype=np.uint8), np.float64(1.5), np.zeros((0, 3))]}
    back = decode(json.loads(json.dumps(encode(value))))
    assert isinstance(back, dict) and back["a"] == value["a"]
    assert np.array_equal(back["b"][0], value["b"][0]) and back["b"][0].dtype == np.uint8
    assert back["b"][1] == 1.5 and back["b"][2].shape == (0, 3)
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(TypeError):
        encode(np.array([object()]))


# ---------------------------------------------------------------- choosing a layer

def test_layer_override_by_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    assert "rlimits" in LAYERS and choose_layer() == LAYERS[0]
    monkeypatch.setenv("GRADER_ISOLATION", "rlimits")
    report = run([DEFINE_F], [Call("f", "f")])
    assert report.layer == "rlimits" and report.calls["f"].value == 42
    said = "confined by Landlock" if landlock_abi() else "WITHOUT isolation"
    assert any(said in note for note in report.notices)
    with pytest.raises(IsolationError, match="unknown"):
        choose_layer("chroot")


def test_forcing_a_layer_that_cannot_work_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(namespaces, "namespaces_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(IsolationError, match="bubblewrap is not installed"):
        choose_layer("namespaces")
    assert "namespaces" not in available_layers()
    if os.geteuid() != 0:
        with pytest.raises(IsolationError, match="root"):
            choose_layer("uid")


# ---------------------------------------------------------------- IPython syntax

@pytest.mark.parametrize(("source", "python"), [
    ("%matplotlib inline\nx = 1", "pass\nx = 1"),
    ("%time y = f()", "y = f()"),
    ("%timeit f()", "pass"),
    ("!pip install numpy", "pass"),
    ("files = !ls -la", "files = []"),
    ("np.sum?\n??np.dot", "pass\npass"),
    ("for i in range(3):\n    %time x = i\n    !echo hi",
     "for i in range(3):\n    x = i\n    pass"),
    ("%%time\nx = 1\ny = 2", "\nx = 1\ny = 2"),
    ("%%capture out\nx = 1", "\nx = 1"),
    ("y = (a\n     % b)", "y = (a\n     % b)"),                          # modulo, not a magic
    ('s = """\n%not a magic\n!nor this\n"""', 's = """\n%not a magic\n!nor this\n"""'),
    ("x = a != b", "x = a != b"),
    ("z = 1 \\\n  % 2", "z = 1 \\\n  % 2"),
])
def test_ipython_syntax_becomes_python(source: str, python: str) -> None:
    done = to_python(source)
    assert done.source == python and not done.dropped
    compile(done.source.replace("f()", "0").replace("np.", "0 and "), "<test>", "exec")


def test_other_cell_magics_drop_the_cell_with_a_note() -> None:
    for magic in ("%%bash\nrm -rf /", "%%script sh\nls", "\n%%html\n<b>"):
        done = to_python(magic)
        assert done.dropped and done.source == "" and "not run" in done.notes[0]


# ---------------------------------------------------------------- reading notebooks

def _notebook(cells: list[dict[str, object]], version: int = 4) -> bytes:
    return json.dumps({"nbformat": version, "nbformat_minor": 5, "metadata": {},
                       "cells": cells}).encode()


def test_notebook_code_cells_keep_their_position_among_all_cells() -> None:
    data = _notebook([{"cell_type": "markdown", "source": "# Title"},
                      {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "outputs": [1]},
                      {"cell_type": "raw", "source": ""},
                      {"cell_type": "code", "source": "z = 3"}])
    assert parse_code_cells(data) == [CodeCell(2, "x = 1\ny = 2"), CodeCell(4, "z = 3")]


def test_old_worksheet_notebooks_are_read() -> None:
    data = json.dumps({"nbformat": 3, "worksheets": [{"cells": [
        {"cell_type": "heading", "source": "T"},
        {"cell_type": "code", "input": ["a = 1\n", "b = 2"]}]}]}).encode()
    assert parse_code_cells(data) == [CodeCell(2, "a = 1\nb = 2")]


@pytest.mark.parametrize(("data", "words"), [
    (b'{"nbformat": 4, "cells": [', "not valid JSON"),
    (b"\x89PNG\r\n", "not valid JSON"),
    (b'{"hello": "world"}', "not a Jupyter notebook"),
    (b"[1, 2]", "not a Jupyter notebook"),
    (_notebook([{"cell_type": "markdown", "source": "only text"}]), "no code cells"),
    (_notebook([{"cell_type": "code", "source": "  \n"}]), "no code cells"),
    (_notebook([{"cell_type": "code", "source": "x"}], version=2), "format 2"),
    (_notebook([{"cell_type": "code", "source": 5}]), "not text"),
])
def test_bad_notebooks_get_a_message_for_the_student(data: bytes, words: str) -> None:
    with pytest.raises(StudentFileError, match=words):
        parse_code_cells(data, "hw1_code.ipynb")


def test_oversized_notebook_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "hw1_code.ipynb"
    path.write_bytes(_notebook([{"cell_type": "code", "source": "x = 1"}]) + b" " * 2000)
    with pytest.raises(StudentFileError, match="larger than"):
        load_code_cells(path, max_bytes=1000)
    assert load_code_cells(path)[0].source == "x = 1"


def test_a_submission_of_thousands_of_files_still_runs(tmp_path: Path) -> None:
    # More files than open-file limits allow to hand over one fd each (regression: every item 0).
    for i in range(2000):
        (tmp_path / f"f{i}.txt").write_text("x")
    source = "import os\ndef count():\n    return len(os.listdir('.'))\n"
    report = run([source], [Call("n", "count")], submission_dir=tmp_path)
    assert report.calls["n"].status == "ok" and report.calls["n"].value == 2000


@pytest.mark.xfail(not namespaces.bwrap_sizes_tmpfs(), strict=True,
                   reason="bubblewrap before 0.8 (Ubuntu 22.04 has 0.6.1) cannot cap a tmpfs's size")
def test_writes_in_the_working_folder_are_capped(tmp_path: Path) -> None:
    need("namespaces")
    (tmp_path / "given.txt").write_text("data")
    source = ("def fill():\n    written = 0\n    try:\n        for i in range(100):\n"
              "            with open(f'big{i}', 'wb') as f:\n                f.write(b'0' * 2**20)\n"
              "            written += 1\n    except OSError:\n        pass\n    return written\n")
    report = run([source], [Call("fill", "fill", timeout=20)], submission_dir=tmp_path, file_mb=8,
                 layer="namespaces")
    assert report.calls["fill"].status == "ok"
    assert report.calls["fill"].value <= 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.txt"]


RAW_SOCKET = '''import ctypes
def raw_socket():
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM, straight through libc
    return [fd, ctypes.get_errno()]
'''


@pytest.mark.parametrize("layer", ["namespaces", "uid", "rlimits"])
def test_no_internet_socket_can_be_made_in_any_layer(layer: str) -> None:
    need(layer)
    if not sys.platform.startswith("linux"):
        pytest.skip("the seccomp filter is Linux-only")
    report = run([RAW_SOCKET], [Call("s", "raw_socket")], layer=layer)
    result = report.calls["s"]
    if result.status != "ok":  # e.g. ctypes unreadable for the uid: no socket either way
        pytest.skip(f"ctypes not importable in this layer here: {result.message[:80]}")
    assert result.value[0] == -1 and result.value[1] == 13  # EACCES from the filter
