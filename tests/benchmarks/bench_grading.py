"""Benchmark of `grader grade` against a floor and against kernel-based grading (issue "Fast grading, measured").

Run from the repository root (see tests/benchmarks/README.md for the figures and the profile):

    python tests/benchmarks/bench_grading.py --n 10 --n 100          # grader, floor, kernel
    python tests/benchmarks/bench_grading.py --n 2 --skip-kernel     # the smoke test's run
    python tests/benchmarks/bench_grading.py --n 20 --profile        # + where the time goes

For each N it writes N different hw1 submissions (half correct, half typically wrong, each with a
unique cell so no cache can help) and measures, on the same submissions:
- `grader grade --jobs 1` and `--jobs 2` (a subprocess each, fresh --out, --force);
- (a) the floor: one fresh plain `python` per submission that imports numpy, runs the code cells
  and calls each graded function once with small inputs;
- (b) kernel-based grading: the notebook run by nbclient in a fresh ipykernel per submission, as
  otter-grader and nbgrader do, with the same calls appended as a cell (first min(N, 20) only).
It prints Markdown tables (per N, and time against N) and the ratio lines the targets refer to.

The file name does not match pytest's test_*.py, so the default test run does not collect it;
tests/test_benchmark_smoke.py runs it with `--n 2 --skip-kernel`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "sample_submissions" / "hw1" / "reference"
# The interpreter running the benchmark, never a pyenv/conda shell shim (a shim alone costs tens
# of milliseconds, which would inflate the floor). Not resolved through a virtual environment's
# symlink either: its base interpreter may not have numpy (a venv made from Debian's python3).
PYTHON = sys.executable if Path(sys.executable).name.startswith("python") else str(Path(sys.executable).resolve())
# Inside bubblewrap only the real interpreter exists (as for the grader's own children).
REAL_PYTHON = str(Path(sys.executable).resolve())
TIME_BIN = Path("/usr/bin/time")
KERNEL_MAX_DEFAULT = 20
# Same as the grader's child environment: one BLAS thread (numpy's import otherwise starts a
# pool per core) and AUTOGRADER=1, which the notebook's training cell checks to skip training.
CHILD_ENV = {"AUTOGRADER": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
TARGETS = {"floor": 1.5, "kernel": 25.0, "jobs": 1.8, "linear": 1.2, "memory": 1.2, "cpu": 0.05,
           "throughput": 3 * 10.3}
# Issue 13's: CPU per Homework 1 submission (the grading process and its sandboxed child) at
# most 0.05 s; --jobs 2 at least 3x the 10.3 submissions/s measured before it; the kernel-based
# baseline at least 25x slower per submission.

# ---------------------------------------------------------------- the calls of both baselines

# Each graded function once, small inputs; runs in the notebook's namespace (the floor execs it
# there, the kernel runs it as an appended cell). A failing function does not stop the others.
CALLS_SRC = '''
def _bench_calls():
    import numpy as np
    rng = np.random.default_rng(0)
    done = {"ok": 0, "failed": []}
    names = globals()

    def call(name, *args):
        try:
            result = names[name](*args)
        except Exception:
            done["failed"].append(name)
            return None
        done["ok"] += 1
        return result

    z = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])
    call("step", z)
    call("indicator", z)
    p1 = call("kth_largest_params", 2)
    if not isinstance(p1, dict):
        p1 = {"W1": np.eye(3, 4), "b1": np.zeros(3), "w2": np.ones(3), "b2": -1.0}
    call("hardcoded_forward", p1, rng.normal(size=(8, 4)))
    B, D, K, C = 5, 3, 4, 3
    gp = {"W1": rng.normal(size=(K, D)), "b1": rng.normal(size=K), "W2": rng.normal(size=(K, D)),
          "b2": rng.normal(size=K), "W3": rng.normal(size=(C, K)), "W4": rng.normal(size=(C, D))}
    out = call("gated_forward", gp, rng.normal(size=(B, D)), rng.integers(0, C, size=B))
    call("gated_backward", gp, out[1] if isinstance(out, tuple) and len(out) == 2 else {})
    call("numerical_grad", lambda x: float(np.sum(x ** 2)), rng.normal(size=(2, 3)))
    v, y = np.array([4.0, 2.0, 5.0]), rng.normal(size=3)
    call("quadratic_hessian", v)
    call("hvp_reverse", v, y)
    call("hvp_forward", v, y)
    call("mult_count", 3, 4, "reverse")
    call("memory_count", 3, 4, "forward")
    mp = {"W1": rng.normal(size=(4, 6)), "b1": np.zeros(6), "W2": rng.normal(size=(6, 3)),
          "b2": np.zeros(3)}
    X, labels = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    call("mlp_forward", mp, X)
    lg = call("mlp_loss_and_grads", mp, X, labels)
    grads = lg[1] if isinstance(lg, tuple) and len(lg) == 2 and isinstance(lg[1], dict) else {}
    call("sgd_step", mp, {k: grads.get(k, np.zeros_like(p)) for k, p in mp.items()}, 0.1)
    return done
'''

# The floor's whole program: the least any per-submission-process grader must do. Phases are
# timed inside; interpreter start and exit are the rest of the wall time the parent sees.
FLOOR_SRC = '''
import time
_t0 = time.perf_counter()
import json, sys
import numpy
_t1 = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as handle:
    _nb = json.load(handle)
_ns = {"__name__": "__main__", "__builtins__": __builtins__}
_errors = 0
for _cell in _nb["cells"]:
    if _cell.get("cell_type") != "code":
        continue
    _src = _cell["source"] if isinstance(_cell["source"], str) else "".join(_cell["source"])
    # IPython magics and shell escapes are not Python: skip those lines, as the grader does.
    _src = "\\n".join(l for l in _src.splitlines() if not l.lstrip().startswith(("%", "!")))
    try:
        exec(compile(_src, "<cell>", "exec"), _ns)
    except BaseException:
        _errors += 1
_t2 = time.perf_counter()
exec(compile(sys.argv[2], "<calls>", "exec"), _ns)
_done = _ns["_bench_calls"]()
_t3 = time.perf_counter()
# VmHWM: this program's own peak; ru_maxrss would count the parent's pages before exec too.
_rss = 0
try:
    with open("/proc/self/status") as handle:
        _rss = next((int(l.split()[1]) for l in handle if l.startswith("VmHWM:")), 0)
except OSError:
    pass
print(json.dumps({"numpy": _t1 - _t0, "cells": _t2 - _t1, "calls": _t3 - _t2, "inside": _t3 - _t0,
                  "cell_errors": _errors, "calls_ok": _done["ok"], "rss_kb": _rss}))
'''

# Runs `grader grade` through the same function as the `grader` console script (grader.cli:main),
# with hooks that only observe: around grader.batch.grade_one (each submission's wall time and its
# worker thread's CPU), and on each message the parent reads from a sandboxed child (that child's
# CPU). Measured here: the child's CPU never reaches the grader's rusage (it runs under bwrap in
# its own PID namespace, and is killed when done), so /proc/<pid>/stat of the child's process tree
# is read whenever it reports, and the largest value per process is kept (about 20 us a message;
# the CPU the child spends after its last message, on exiting, is not counted).
DRIVER_SRC = '''
import json, os, resource, sys, threading, time
import grader.batch
from grader.cli import main

_hook_path = os.environ.get("BENCH_HOOK_OUT")
_lock = threading.Lock()
_local = threading.local()
_tick = os.sysconf("SC_CLK_TCK")
_totals = {"sandbox_cpu": 0.0, "messages": 0, "child_rss_kb": 0}

def _thread_cpu():
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime

def _process_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

def _tree(pid):
    pids, stack = [], [pid]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as handle:
                stack += [int(child) for child in handle.read().split()]
        except OSError:
            pass
    return pids

def _sample(reader):
    seen = reader.__dict__.setdefault("_bench_cpu", {})
    first = "_bench_pids" not in reader.__dict__
    if not hasattr(reader.process, "process"):
        return  # forked from a warm process: its CPU is read from the warm process's cgroup
    if first:
        reader._bench_pids = _tree(reader.process.process.pid)  # bwrap, its init, the child's Python
        reader._bench_messages = 0
    reader._bench_messages += 1
    # bwrap only sets up and waits: read it once; the child's Python (last) at every message.
    for pid in reader._bench_pids if first else reader._bench_pids[-1:]:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if pid == reader._bench_pids[-1] and reader._bench_messages % 8 == 1:
                with open(f"/proc/{pid}/status") as handle:  # peak RSS, now and then: it moves slowly
                    for line in handle:
                        if line.startswith("VmHWM:"):
                            reader._bench_rss = max(getattr(reader, "_bench_rss", 0), int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue  # gone: its last sample stands
        seen[pid] = max(seen.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / _tick)

def _observe_next_message(original):
    def next_message(self, deadline):
        message = original(self, deadline)
        if isinstance(message, dict):
            _sample(self)
        return message
    return next_message

def _observe_close(original):
    def close(self, *args, **kwargs):
        cpu = sum(getattr(self, "_bench_cpu", {}).values())
        acc = getattr(_local, "acc", None)
        with _lock:
            _totals["sandbox_cpu"] += cpu
            _totals["messages"] += getattr(self, "_bench_messages", 0)
            _totals["child_rss_kb"] = max(_totals["child_rss_kb"], getattr(self, "_bench_rss", 0))
            if acc is not None:
                acc["sandbox_cpu"] += cpu
                acc["messages"] += getattr(self, "_bench_messages", 0)
        return original(self, *args, **kwargs)
    return close

def _warm_cpu():
    try:
        from grader.sandbox.warm import cpu_seconds_so_far
    except ImportError:
        return 0.0
    return cpu_seconds_so_far()

def _observe_grade_one(original):
    def grade_one(source, *args, **kwargs):
        _local.acc = acc = {"sandbox_cpu": 0.0, "messages": 0}
        w0, t0, p0, z0 = time.perf_counter(), _thread_cpu(), _process_cpu(), _warm_cpu()
        try:
            return original(source, *args, **kwargs)
        finally:
            # Children forked by warm processes: their cgroups' CPU meanwhile (with --jobs 1 only
            # this submission's; with more jobs the others' overlap, so it is not counted there).
            if _totals.get("jobs") == 1:
                acc["sandbox_cpu"] += _warm_cpu() - z0
            # Thread CPU is this submission's own; process CPU also holds helper threads (BLAS),
            # and with --jobs 1 nothing else runs meanwhile, so it is this submission's too.
            record = {"name": source.name, "wall": time.perf_counter() - w0,
                      "parent_cpu": _thread_cpu() - t0, "process_cpu": _process_cpu() - p0, **acc}
            _local.acc = None
            with _lock, open(_hook_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\\n")
    return grade_one

hooked = False
if _hook_path and sys.platform.startswith("linux") and hasattr(grader.batch, "grade_one"):
    try:
        from grader.sandbox.reader import Reader
        Reader.next_message = _observe_next_message(Reader.next_message)
        Reader.close = _observe_close(Reader.close)
        grader.batch.grade_one = _observe_grade_one(grader.batch.grade_one)
        hooked = True
    except (ImportError, AttributeError):
        pass
_totals["jobs"] = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 1
code = main(sys.argv[1:])
if hooked:
    _totals["sandbox_cpu"] += _warm_cpu()  # all warm processes' children, whatever the jobs
    own = resource.getrusage(resource.RUSAGE_SELF)
    with open(_hook_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"final": True, "self_cpu": own.ru_utime + own.ru_stime,
                                 "self_rss_kb": own.ru_maxrss, **_totals}) + "\\n")
sys.exit(code)
'''

# ---------------------------------------------------------------- submissions


def _one_hit(old: str, new: str) -> Callable[[str], str]:
    """An edit of the notebook's code (all cells joined) that must match exactly once."""

    def edit(code: str) -> str:
        if code.count(old) != 1:
            raise SystemExit(f"bench: {old!r} found {code.count(old)} times in the reference notebook")
        return code.replace(old, new)

    return edit


# Typical mistakes, each in one place of the reference; the rest of the notebook stays right.
WRONG_VARIANTS: dict[str, Callable[[str], str]] = {
    "wrong_w4_gradient": _one_hit('"W4": dy.T @ X,', '"W4": (X.T @ dy).T * 0.5,'),
    "hvp_forms_h": _one_hit("return v * float(v @ np.asarray(y, dtype=np.float64))",
                            "return np.outer(v, v) @ np.asarray(y, dtype=np.float64)"),
    "inplace_sgd": _one_hit(
        "return {k: (p - lr * grads[k]) if k in grads else p.copy() for k, p in params.items()}",
        "for k in params:\n        params[k] -= lr * grads[k]\n    return params"),
    "step_at_zero": _one_hit("(np.asarray(z, dtype=np.float64) > 0)", "(np.asarray(z, dtype=np.float64) >= 0)"),
    "loss_not_averaged": _one_hit("    dz /= N\n", "    # forgot: dz /= N\n"),
    "unfinished_mlp": _one_hit('"""Mean softmax cross-entropy of the MLP on (X, y) and its gradients."""',
                               '"""Mean softmax cross-entropy of the MLP on (X, y) and its gradients."""\n'
                               "    raise NotImplementedError"),
    "cell_error": lambda code: code,  # plus a cell that raises NameError, added below
}


@dataclass(frozen=True)
class Submission:
    """One generated submission: its folder and the variant it was derived as."""

    path: Path
    variant: str


def _code_sources(notebook: dict[str, Any]) -> list[str]:
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]


def _code_cell(source: str, index: int) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "id": f"bench-{index}", "metadata": {},
            "outputs": [], "source": source}


def make_submissions(folder: Path, n: int) -> list[Submission]:
    """Write n different submissions under folder: even ones correct, odd ones a wrong variant."""
    reference = json.loads((REFERENCE / "hw1_code.ipynb").read_text(encoding="utf-8"))
    sources = _code_sources(reference)
    marker = "\n# ---- bench cell boundary ----\n"
    joined = marker.join(sources)  # edits see all cells at once; each must still hit one place
    wrong = list(WRONG_VARIANTS)
    made = []
    for i in range(n):
        variant = "correct" if i % 2 == 0 else wrong[(i // 2) % len(wrong)]
        code = joined if variant == "correct" else WRONG_VARIANTS[variant](joined)
        cells = code.split(marker)
        # A unique comment and constant: every notebook (and so its fingerprint, seeds and any
        # content hash a cache could use) differs, even between submissions of one variant.
        cells[0] = f"# bench submission {i:05d} ({variant})\n{cells[0]}"
        extra = [f"BENCH_SUBMISSION_ID = {i}  # unique per submission\n"]
        if variant == "cell_error":
            extra.insert(0, "print(f'accuracy: {acurracy(trained, X_test, y_test)}')  # a typo\n")
        notebook = json.loads(json.dumps(reference))
        code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        for cell, source in zip(code_cells, cells, strict=True):
            cell["source"] = source
        notebook["cells"] += [_code_cell(source, k) for k, source in enumerate(extra)]
        target = folder / f"sub{i:05d}_{variant}"
        target.mkdir(parents=True)
        (target / "hw1_code.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
        shutil.copyfile(REFERENCE / "hw1_written.yaml", target / "hw1_written.yaml")
        shutil.copyfile(REFERENCE / "hw1_weights.npz", target / "hw1_weights.npz")
        made.append(Submission(target, variant))
    return made


# ---------------------------------------------------------------- measurements


@dataclass
class RunFigures:
    """One method on one set of submissions: per-submission figures and whole-run totals."""

    label: str
    subs: int
    total_wall: float
    walls: list[float]
    cpus: list[float] = field(default_factory=list)   # per submission, where it can be known
    parent_cpus: list[float] = field(default_factory=list)  # the grading process's part of `cpus`
    total_cpu: float | None = None
    peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Submissions per second over the whole run."""
        return self.subs / self.total_wall if self.total_wall > 0 else float("nan")

    @property
    def median_wall(self) -> float:
        """Median per-submission wall time."""
        return statistics.median(self.walls) if self.walls else float("nan")


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _wait_with_usage(process: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
    """Reap the process with wait4: its exit code and the rusage of it and all it waited for."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return process.returncode, usage


def _accounting_group(label: str) -> Path | None:
    """A cgroup v1 `cpuacct` group for one run (as root): the CPU of every process the run starts,
    its worker processes and their sandboxes included, however they are reaped. None elsewhere."""
    base = Path("/sys/fs/cgroup/cpuacct")
    if os.geteuid() != 0 or not (base / "cpuacct.usage").exists():
        return None
    own = "/"
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            own = path
    folder = base / own.lstrip("/") / f"bench-{os.getpid()}-{label}"
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    return folder


def _group_cpu(folder: Path | None) -> float | None:
    """CPU seconds the group's processes used, then the group removed (None if there is none)."""
    if folder is None:
        return None
    try:
        usage = int((folder / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError):
        return None
    for _ in range(100):  # its last processes may still be exiting
        try:
            folder.rmdir()
            break
        except OSError:
            time.sleep(0.05)
    return usage


def run_grader(subs_dir: Path, out_dir: Path, jobs: int, work: Path) -> tuple[RunFigures, RunFigures]:
    """`grader grade --jobs J --force` on subs_dir: the run's figures and results.json's execution_time."""
    hook = work / f"hook-{out_dir.name}.jsonl"
    hook.unlink(missing_ok=True)
    command = [PYTHON, "-c", DRIVER_SRC, "grade", str(subs_dir), "--out", str(out_dir),
               "--jobs", str(jobs), "--force"]
    time_file = work / f"time-{out_dir.name}.txt"
    if TIME_BIN.exists():
        command = [str(TIME_BIN), "-v", "-o", str(time_file), *command]
    env = {**os.environ, "BENCH_HOOK_OUT": str(hook)}
    group = _accounting_group(out_dir.name)
    if group is not None:
        command = ["/bin/sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "bench", *command]
    stdout, stderr = work / f"stdout-{out_dir.name}.txt", work / f"stderr-{out_dir.name}.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT)
        code, usage = _wait_with_usage(process)
        wall = time.perf_counter() - started
    group_cpu = _group_cpu(group)
    if code not in (0, 1):  # 1 = a sample's expected.json disagrees; ours have none
        tail = stderr.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SystemExit(f"bench: grader --jobs {jobs} exited with {code}:\n{tail}")
    rss_kb = float(usage.ru_maxrss)  # Linux: kilobytes, the largest process reaped in the tree
    if time_file.exists():
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text())
        rss_kb = float(found.group(1)) if found else rss_kb
    lines = hook.read_text().splitlines() if hook.exists() else []
    records = [r for r in map(json.loads, lines) if not r.get("final")]
    final = next((r for r in map(json.loads, lines) if r.get("final")), None)
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out_dir.glob("*/results.json"))]
    layers = sorted({d.get("extra_data", {}).get("isolation", "?") for d in documents})
    run = RunFigures(f"grader --jobs {jobs}", len(documents), wall, [], total_cpu=_cpu(usage),
                     peak_rss_mb=rss_kb / 1024, notes=[f"isolation: {', '.join(layers)}"])
    if records and final is not None:
        run.walls = [r["wall"] for r in records]
        # --jobs 1: the whole parent process's CPU meanwhile (its helper threads too); with more
        # jobs that overlaps, so only the grading thread's own CPU can be told apart.
        parent = "process_cpu" if jobs == 1 else "parent_cpu"
        run.cpus = [r[parent] + r["sandbox_cpu"] for r in records]
        run.parent_cpus = [r[parent] for r in records]
        # wait4 misses the killed sandbox children: the parent's own CPU plus theirs from /proc.
        run.total_cpu = final["self_cpu"] + final["sandbox_cpu"]
        run.notes.append(f"peak RSS of the parent {final['self_rss_kb'] / 1024:.0f} MB, of a sandbox "
                         f"child {final['child_rss_kb'] / 1024:.0f} MB; {final['messages'] / max(len(records), 1):.0f} "
                         "messages from the child per submission")
    else:
        run.notes.append("no per-submission hook (grader internals changed?): wall per submission is "
                         "results.json execution_time; CPU is wait4's, which misses killed children")
        run.walls = [float(d.get("execution_time", 0.0)) for d in documents]
    if group_cpu is not None:
        # Exact: every process of the run, sandboxes and worker processes included.
        run.total_cpu = group_cpu
        if jobs > 1 or not run.cpus:
            # Worker processes are not hooked: the mean per submission, from the total.
            run.cpus = [group_cpu / max(len(documents), 1)] * len(documents)
            run.notes.append("CPU per submission: the run's total CPU (its cgroup) / N")
    execution = RunFigures(f"grader --jobs {jobs}, results.json execution_time", len(documents),
                           float("nan"), [float(d.get("execution_time", 0.0)) for d in documents])
    return run, execution


@dataclass
class FloorPhases:
    """Median seconds of the floor's phases: start+exit of the interpreter, numpy, cells, calls."""

    start_exit: float
    numpy: float
    cells: float
    calls: float


def run_floor(submissions: Sequence[Submission]) -> tuple[RunFigures, FloorPhases]:
    """Baseline (a): one fresh plain `python` per submission: numpy, the cells, each function once."""
    env = {**os.environ, **CHILD_ENV}
    walls, cpus, rss, phases = [], [], [], []
    started = time.perf_counter()
    for sub in submissions:
        t0 = time.perf_counter()
        process = subprocess.Popen([PYTHON, "-c", FLOOR_SRC, str(sub.path / "hw1_code.ipynb"), CALLS_SRC],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=sub.path)
        assert process.stdout is not None
        output = process.stdout.read()
        process.stdout.close()
        code, usage = _wait_with_usage(process)
        wall = time.perf_counter() - t0
        if code != 0:
            raise SystemExit(f"bench: the floor process failed on {sub.path.name} (exit {code})")
        inside = json.loads(output.decode().strip().splitlines()[-1])
        walls.append(wall)
        cpus.append(_cpu(usage))
        rss.append((inside["rss_kb"] or usage.ru_maxrss) / 1024)
        phases.append((wall - inside["inside"], inside["numpy"], inside["cells"], inside["calls"]))
    total = time.perf_counter() - started
    run = RunFigures("(a) floor: python + numpy + cells + 15 calls", len(submissions), total, walls, cpus,
                     total_cpu=sum(cpus), peak_rss_mb=max(rss, default=0.0))
    medians = [statistics.median(p[k] for p in phases) for k in range(4)]
    return run, FloorPhases(*medians)


def kernel_missing() -> str | None:
    """Why baseline (b) cannot run here, or None if nbclient and ipykernel are importable."""
    import importlib.util

    missing = [name for name in ("nbclient", "ipykernel", "nbformat") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"{', '.join(missing)} not installed: pip install nbclient ipykernel "
                "(or pip install -e '.[bench]')")
    return None


def run_kernel(submissions: Sequence[Submission]) -> RunFigures:
    """Baseline (b): nbclient runs each notebook in a fresh ipykernel, plus the calls as a last cell."""
    import logging

    import nbformat
    from nbclient import NotebookClient

    logging.getLogger("traitlets").setLevel(logging.ERROR)  # nbclient warns per kernel otherwise
    env = {**os.environ, **CHILD_ENV}

    def execute(sub: Submission) -> str:
        notebook = nbformat.read(sub.path / "hw1_code.ipynb", as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(
            CALLS_SRC + "\nimport json as _json\nprint('BENCH ' + _json.dumps(_bench_calls()))"))
        client = NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(sub.path)}})
        # The kernel's own stderr (a warning per start about unencrypted TCP) is noise here.
        client.execute(env=env, stderr=subprocess.DEVNULL)
        outputs = notebook.cells[-1].get("outputs", [])
        return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")

    # One untimed kernel first: IPython's first start writes its profile and history database,
    # a cost a grading server pays once, not per submission.
    execute(submissions[0])
    walls, cpus = [], []
    started = time.perf_counter()
    for sub in submissions:
        t0 = time.perf_counter()
        s0 = _cpu(resource.getrusage(resource.RUSAGE_SELF))
        c0 = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
        text = execute(sub)
        walls.append(time.perf_counter() - t0)
        # The kernel is our child (reaped at shutdown); nbclient's own work is in this process.
        cpus.append(_cpu(resource.getrusage(resource.RUSAGE_SELF)) - s0
                    + _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - c0)
        if "BENCH " not in text:
            raise SystemExit(f"bench: the kernel did not run the calls cell of {sub.path.name}")
    total = time.perf_counter() - started
    return RunFigures("(b) kernel: nbclient + fresh ipykernel", len(submissions), total, walls, cpus,
                      total_cpu=sum(cpus))


# ---------------------------------------------------------------- reporting


@dataclass
class NResult:
    """Everything measured for one N."""

    n: int
    jobs1: RunFigures
    execution1: RunFigures
    jobs2: RunFigures
    floor: RunFigures
    phases: FloorPhases
    kernel: RunFigures | None
    kernel_note: str


def _f(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.{digits}f}"


def detail_table(result: NResult) -> str:
    """A Markdown table of every method at one N."""
    rows = ["| run | subs | total wall s | wall/sub median s | wall/sub max s | CPU/sub median s "
            "| CPU/sub max s | CPU total s | subs/s | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    runs = [result.jobs1, result.execution1, result.jobs2, result.floor]
    runs += [result.kernel] if result.kernel else []
    for run in runs:
        cpu_median = statistics.median(run.cpus) if run.cpus else None
        cpu_max = max(run.cpus) if run.cpus else None
        total = run.total_wall
        rows.append(f"| {run.label} | {run.subs} | {_f(total, 2)} | {_f(run.median_wall)} | "
                    f"{_f(max(run.walls) if run.walls else None)} | {_f(cpu_median)} | {_f(cpu_max)} | "
                    f"{_f(run.total_cpu, 2)} | {_f(run.throughput if total == total else None, 2)} | "
                    f"{_f(run.peak_rss_mb, 0)} |")
    return "\n".join(rows)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ratio_lines(result: NResult) -> list[str]:
    """The ratio lines of one N, each with its target and whether it is met."""
    floor_ratio = result.jobs1.median_wall / result.floor.median_wall
    lines = [f"ratio grader/floor (median wall per submission, --jobs 1): {floor_ratio:.2f} "
             f"(target <= {TARGETS['floor']}: {_verdict(floor_ratio <= TARGETS['floor'])})"]
    if result.kernel is not None:
        kernel_ratio = result.kernel.median_wall / result.jobs1.median_wall
        lines.append(f"ratio kernel/grader (median wall per submission, first {result.kernel.subs}): "
                     f"{kernel_ratio:.2f} (target >= {TARGETS['kernel']}: "
                     f"{_verdict(kernel_ratio >= TARGETS['kernel'])})")
    else:
        lines.append(f"ratio kernel/grader: skipped ({result.kernel_note})")
    jobs_ratio = result.jobs2.throughput / result.jobs1.throughput
    lines.append(f"ratio jobs2/jobs1 throughput: {jobs_ratio:.2f} "
                 f"(target >= {TARGETS['jobs']}: {_verdict(jobs_ratio >= TARGETS['jobs'])})")
    lines += issue_13_lines(result)
    return lines


def issue_13_lines(result: NResult) -> list[str]:
    """Issue 13's targets (CPU per submission, --jobs 2 throughput), and what stands in their way."""
    lines = []
    one = result.jobs1
    if one.cpus:
        cpu = statistics.median(one.cpus)
        parent = statistics.median(one.parent_cpus) if one.parent_cpus else float("nan")
        lines.append(f"CPU per submission (--jobs 1 median, the grading process and its sandboxed child): "
                     f"{cpu:.3f} s (target <= {TARGETS['cpu']}: {_verdict(cpu <= TARGETS['cpu'])}); "
                     f"of it the grading process {parent:.3f} s, the sandbox's processes {cpu - parent:.3f} s")
    two = result.jobs2
    lines.append(f"--jobs 2 throughput: {two.throughput:.2f} submissions/s over the whole run, start-up and "
                 f"summary.html included (target >= {TARGETS['throughput']:.1f}: "
                 f"{_verdict(two.throughput >= TARGETS['throughput'])})")
    if two.total_cpu and two.subs:
        per_sub = two.total_cpu / two.subs
        lines.append(f"  in the way: {per_sub:.3f} s of CPU per submission in that run (its cgroup: every "
                     f"process, start-up and summary.html included) on 2 CPUs allows at most "
                     f"{2 / per_sub:.1f} submissions/s; the target needs at most "
                     f"{2 / TARGETS['throughput']:.3f} s")
    return lines


def scaling_table(results: Sequence[NResult]) -> str:
    """A Markdown table of time (and memory) against N."""
    rows = ["| N | --jobs 1 total s | --jobs 1 s/sub (total/N) | --jobs 1 wall/sub median s | --jobs 1 subs/s "
            "| --jobs 2 total s | --jobs 2 subs/s | jobs2/jobs1 | floor (a) wall/sub median s "
            "| kernel (b) wall/sub median s | peak RSS MB (-j1 / -j2) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        kernel = f"{_f(r.kernel.median_wall)} (first {r.kernel.subs})" if r.kernel else "skipped"
        rows.append(f"| {r.n} | {_f(r.jobs1.total_wall, 2)} | {_f(r.jobs1.total_wall / r.n)} | "
                    f"{_f(r.jobs1.median_wall)} | {_f(r.jobs1.throughput, 2)} | {_f(r.jobs2.total_wall, 2)} | "
                    f"{_f(r.jobs2.throughput, 2)} | {_f(r.jobs2.throughput / r.jobs1.throughput, 2)} | "
                    f"{_f(r.floor.median_wall)} | {kernel} | "
                    f"{_f(r.jobs1.peak_rss_mb, 0)} / {_f(r.jobs2.peak_rss_mb, 0)} |")
    return "\n".join(rows)


def scaling_lines(results: Sequence[NResult]) -> list[str]:
    """Linearity in N and flat memory, comparing the largest N with the smallest."""
    small, large = min(results, key=lambda r: r.n), max(results, key=lambda r: r.n)
    per_sub = large.jobs1.median_wall / small.jobs1.median_wall
    # The marginal cost of one more submission: total time is about fixed + slope * N.
    slope = (large.jobs1.total_wall - small.jobs1.total_wall) / (large.n - small.n)
    memory = (large.jobs1.peak_rss_mb or 0.0) / (small.jobs1.peak_rss_mb or 1.0)
    return [
        f"linear in N: --jobs 1 median wall/sub at N={large.n} / N={small.n}: {per_sub:.2f} "
        f"(target <= {TARGETS['linear']}: {_verdict(per_sub <= TARGETS['linear'])}); "
        f"marginal cost {slope:.3f} s/sub, fixed cost {small.jobs1.total_wall - slope * small.n:.2f} s",
        f"memory flat in N: --jobs 1 peak RSS at N={large.n} / N={small.n}: {memory:.2f} "
        f"(target <= {TARGETS['memory']}: {_verdict(memory <= TARGETS['memory'])})",
    ]


def phase_line(result: NResult) -> str:
    """Where the floor's time goes (medians), to read against the grader's profile."""
    p = result.phases
    return (f"floor phases (median s): interpreter start+exit {p.start_exit:.3f}, numpy import "
            f"{p.numpy:.3f}, cells {p.cells:.3f}, calls {p.calls:.4f}")


# ---------------------------------------------------------------- profile (--profile)

# Runs `grader grade --jobs 1` with observing wrappers: each phase of grading one submission is
# timed (on the worker thread; nested phases are subtracted to give an additive breakdown), the
# child's phases are read off the messages it sends, and cProfile follows the worker thread.
PROFILE_DRIVER_SRC = '''
import cProfile, io, json, os, pstats, sys, threading, time
from collections import defaultdict
import grader.batch
import grader.engine
import grader.sandbox.isolation as isolation
import grader.sandbox.session as session
from grader.cli import main

current = {}
records = []
failures = []
# cProfile slows Python-heavy phases a lot: phases are timed in a run without it.
profile = cProfile.Profile() if os.environ.get("BENCH_CPROFILE") == "1" else None

def wrap(owner, name, label):
    original = getattr(owner, name)
    def timed(*args, **kwargs):
        rec = current.get(threading.get_ident())
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            if rec is not None:
                rec[label] += time.perf_counter() - t0
                rec[label + "@cpu"] += time.thread_time() - c0  # this thread's CPU, not its waits
    setattr(owner, name, timed)

original_grade_one = grader.batch.grade_one
def grade_one(source, *args, **kwargs):
    rec = defaultdict(float)
    current[threading.get_ident()] = rec
    t0, c0 = time.perf_counter(), time.thread_time()
    if profile:
        profile.enable()  # cProfile follows only the thread that enables it: the worker's
    try:
        row = original_grade_one(source, *args, **kwargs)
        if row.failure:  # a wrapper that breaks grading must not pass for a fast grader
            failures.append(f"{source.name}: {row.failure}")
        return row
    finally:
        if profile:
            profile.disable()
        rec["grade_one"] = time.perf_counter() - t0
        rec["grade_one@cpu"] = time.thread_time() - c0
        records.append(dict(rec))
grader.batch.grade_one = grade_one

wrap(grader.batch, "open_submission", "open")
wrap(grader.batch, "write_json_atomic", "write")
wrap(grader.engine, "_grade_written", "written")
wrap(grader.engine, "_grade_weights", "weights")
wrap(grader.engine, "_grade_notebook", "notebook")
wrap(grader.engine, "load_notebook", "read_notebook")
wrap(grader.engine, "start_session", "start")
wrap(session.PendingSession, "run", "session")
wrap(session.PendingSession, "close", "close")
wrap(isolation.Sandbox, "__init__", "sandbox_setup")
wrap(isolation.Sandbox, "launch", "launch")
wrap(isolation.Sandbox, "stop", "stop")

# The child's phases as the parent sees them: spawn -> "ready" (bwrap, interpreter, numpy
# import, privilege drop) -> its last cell result -> its last call result.
original_spawn = isolation.Sandbox.spawn
def spawn(self, launch):
    rec = current.get(threading.get_ident())
    if rec is not None:
        rec["_spawned"] = time.perf_counter()
    return original_spawn(self, launch)
isolation.Sandbox.spawn = spawn
try:  # a child forked from a warm process (grader/sandbox/warm.py) starts here instead
    import grader.sandbox.warm as warm_module
    original_warm_spawn = warm_module.WarmProcess.spawn
    def warm_spawn(self, sandbox, limits):
        rec = current.get(threading.get_ident())
        if rec is not None:
            rec["_spawned"] = time.perf_counter()
        return original_warm_spawn(self, sandbox, limits)
    warm_module.WarmProcess.spawn = warm_spawn
except (ImportError, AttributeError):
    pass
import grader.sandbox.reader as reader_module
original_next = reader_module.Reader.next_message
def next_message(self, deadline):
    message = original_next(self, deadline)
    rec = current.get(threading.get_ident())
    if rec is not None and isinstance(message, dict):
        rec["_" + str(message.get("t"))] = time.perf_counter()
    return message
reader_module.Reader.next_message = next_message
original_run = session.PendingSession.run
def run(self, cells, calls, **kwargs):
    rec = current.get(threading.get_ident())
    if rec is not None:
        rec["_run"] = time.perf_counter()
    return original_run(self, cells, calls, **kwargs)
session.PendingSession.run = run

wall0 = time.perf_counter()
code = main(sys.argv[1:])
wall = time.perf_counter() - wall0
rows = []
for r in records:
    for key in ("start", "session", "notebook", "read_notebook", "written", "weights", "open", "write",
                "sandbox_setup", "launch", "stop"):
        r.setdefault(key, 0.0)
    spawned = r.get("_spawned", 0.0)
    ready = r.get("_ready", spawned)
    began = r.get("_run", ready)  # the grader hands the child its cells and calls
    cells_end = r.get("_cell", max(ready, began))
    calls_end = r.get("_call", cells_end)
    rows.append({
        "child: start (a warm fork, or bwrap + interpreter + numpy import), overlapping the checks below":
            ready - spawned,
        "parent: read notebook (nbformat)": r["read_notebook"],
        "parent: start the sandbox (dir, copy, spawn)": r["start"],
        "parent: written checks (YAML + 1.1 network probe + expressions)": r["written"],
        "parent: weights check (p5, 20,000-point test set)": r["weights"],
        "parent: plan probes + judge call results (notebook checks)": r["notebook"] - r["session"],
        "parent: wait for the child's start (not hidden by the checks)": max(0.0, ready - began),
        "child: run the cells": cells_end - max(ready, began),
        "child: the graded calls (incl. decoding args, encoding results)": calls_end - cells_end,
        "parent: stop the child and clean up": r["session"] - (calls_end - began),
        "parent: open submission + write results.json": r["open"] + r["write"],
        "parent: rest of grade_one (temp dirs, report, rows)":
            r["grade_one"] - r["read_notebook"] - r["start"] - r["written"] - r["notebook"] - r["weights"]
            - r["open"] - r["write"],
        "_total": r["grade_one"],
        "_cpu": {"all": r["grade_one@cpu"],
                 "sandbox": sum(r.get(key + "@cpu", 0.0) for key in ("start", "session", "close"))},
        "_sub": {"sandbox_setup": r["sandbox_setup"], "launch": r["launch"], "stop": r["stop"]},
    })
stream = io.StringIO()
if profile:
    stats = pstats.Stats(profile, stream=stream)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)
print(json.dumps({"wall": wall, "rows": rows, "profile": stream.getvalue()}))
if failures:
    print("grading failed under the profile's wrappers:\\n" + "\\n".join(failures[:5]), file=sys.stderr)
    sys.exit(3)
sys.exit(0 if code in (0, 1) else code)
'''


def _sandbox_start_costs(work: Path, repeat: int = 15) -> dict[str, float]:
    """Median wall of starting an interpreter (and numpy) plain and inside the grader's bwrap."""
    env = {**os.environ, **CHILD_ENV}
    import importlib.util

    spec = importlib.util.find_spec("numpy")
    numpy_dir = str(Path(spec.origin if spec and spec.origin else ".").resolve().parent.parent)
    commands: dict[str, list[str]] = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "python -I -S -B -c pass (the child's flags)": [PYTHON, "-I", "-S", "-B", "-c", "pass"],
        "python -c 'import numpy'": [PYTHON, "-c", "import numpy"],
        "python -I -S -B + numpy": [PYTHON, "-I", "-S", "-B", "-c",
                                    f"import sys; sys.path.insert(0, {numpy_dir!r}); import numpy"],
    }
    try:  # a private helper of the grader: only for this profile, skipped if it changes
        from grader.sandbox import isolation
        from grader.sandbox.layers import common, namespaces

        if isolation.choose_layer() == "namespaces":
            scratch = work / "bwrap-start"  # inside the benchmark's folder, removed with it
            scratch.mkdir(exist_ok=True)
            argv = namespaces.bwrap_argv(scratch, common.packages(()), [])
            commands["bwrap + python -I -S -B -c pass"] = [*argv, REAL_PYTHON, "-I", "-S", "-B", "-c", "pass"]
            commands["bwrap + python -I -S -B + numpy"] = [
                *argv, REAL_PYTHON, "-I", "-S", "-B", "-c",
                f"import sys; sys.path.insert(0, {namespaces.SANDBOX_PACKAGES!r}); import numpy"]
    except Exception as exc:
        print(f"(bwrap start costs skipped: {exc})")
    out: dict[str, float] = {}
    for label, argv in commands.items():
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[label] = statistics.median(times)
    return out


def _kernel_phases(submissions: Sequence[Path], env: dict[str, str]) -> dict[str, float]:
    """Median seconds of baseline (b)'s phases: kernel start, running the cells, shutdown."""
    import nbformat
    from nbclient import NotebookClient

    phases: dict[str, list[float]] = {"kernel start (until ready)": [], "run cells + calls": [],
                                      "kernel shutdown": []}
    for path in submissions:
        notebook = nbformat.read(path / "hw1_code.ipynb", as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(CALLS_SRC + "\n_bench_calls()"))
        client = NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(path)}})
        t0 = time.perf_counter()
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
            t1 = time.perf_counter()
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            phases[name].append(seconds)
    return {name: statistics.median(values) for name, values in phases.items()}


def _profile_run(subs_dir: Path, out: Path, cprofile: bool) -> dict[str, Any] | None:
    """One `grader grade --jobs 1` under PROFILE_DRIVER_SRC: its phases, and cProfile if asked."""
    env = {**os.environ, "BENCH_CPROFILE": "1" if cprofile else "0"}
    result = subprocess.run([PYTHON, "-c", PROFILE_DRIVER_SRC, "grade", str(subs_dir), "--out", str(out),
                             "--jobs", "1", "--force"], capture_output=True, text=True, cwd=ROOT, env=env,
                            check=False)
    if result.returncode != 0 or not result.stdout.strip():
        print(f"profile run failed ({result.returncode}):\n{result.stderr[-2000:]}")
        return None
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def run_profile(subs_dir: Path, work: Path, *, skip_kernel: bool) -> bool:
    """Print where the grader's time goes: imports, per-phase breakdown, child start, cProfile.

    Returns whether the profiled runs worked (the benchmark then exits non-zero if not).
    """
    print("\n## Profile (--jobs 1)\n")
    out = work / "out-profile"
    importtime = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", DRIVER_SRC, "grade", str(next(subs_dir.iterdir())),
         "--out", str(out), "--force"], capture_output=True, text=True, cwd=ROOT, check=False)
    top = []
    for line in importtime.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if found:  # no leading spaces in the name: a top-level import of the process
            top.append((int(found.group(1)) / 1e6, found.group(2)))
    print("Top-level imports of the parent, once per run (cumulative s, `python -X importtime`):")
    for seconds, name in sorted(top, reverse=True)[:6]:
        print(f"  {seconds:.3f}  {name}")
    data, profiled = (_profile_run(subs_dir, out, cprofile) for cprofile in (False, True))
    if data is None or profiled is None:
        return False
    rows = data["rows"][1:] or data["rows"]  # the first pays once-per-run costs (probe, references)
    total = statistics.mean(r["_total"] for r in rows)
    print(f"\nOne submission's wall time, ranked (mean over {len(rows)} submissions after the first; "
          f"grade_one {total:.3f} s; run wall {data['wall']:.2f} s):\n")
    print("| phase | mean s | median s | share |\n|---|---|---|---|")
    names = [k for k in rows[0] if not k.startswith("_")]
    means = {k: statistics.mean(r[k] for r in rows) for k in names}
    for name in sorted(names, key=lambda k: -means[k]):
        print(f"| {name} | {means[name]:.4f} | {statistics.median(r[name] for r in rows):.4f} | "
              f"{means[name] / total:.0%} |")
    first = data["rows"][0]
    print(f"\nFirst submission: {first['_total']:.3f} s (once per run: the namespaces probe, the written "
          "references; see cProfile below)")
    sub = {k: statistics.mean(r["_sub"][k] for r in rows) for k in rows[0]["_sub"]}
    print("Session bookkeeping in detail (mean s): " + ", ".join(f"{k} {v:.4f}" for k, v in sub.items()))
    cpu = {k: [r["_cpu"][k] for r in rows] for k in ("all", "sandbox")}
    rest = [a - b for a, b in zip(cpu["all"], cpu["sandbox"], strict=True)]
    print("Parent grading thread CPU per submission (thread_time, mean / median s): all of grade_one "
          f"{statistics.mean(cpu['all']):.4f} / {statistics.median(cpu['all']):.4f}; the sandbox's parent side "
          f"(start_session, PendingSession.run and close) {statistics.mean(cpu['sandbox']):.4f} / "
          f"{statistics.median(cpu['sandbox']):.4f}; the rest (files, checks, results) "
          f"{statistics.mean(rest):.4f} / {statistics.median(rest):.4f}")
    print("\nStarting an interpreter (median of 15 runs, s):")
    for name, seconds in _sandbox_start_costs(work).items():
        print(f"  {seconds:.4f}  {name}")
    if not skip_kernel and kernel_missing() is None:
        print("\nBaseline (b), nbclient + ipykernel, per submission (median of 5, s):")
        for name, seconds in _kernel_phases(sorted(subs_dir.iterdir())[:5], {**os.environ, **CHILD_ENV}).items():
            print(f"  {seconds:.4f}  {name}")
    print("\ncProfile of the parent's grading thread (a second run, all submissions):")
    print(profiled["profile"])
    return True


# ---------------------------------------------------------------- main


def _load() -> str:
    """The 1-minute load average, or '?' where the platform has none."""
    try:
        return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    except OSError:
        return "?"


def measure(n: int, work: Path, *, skip_kernel: bool, kernel_max: int) -> NResult:
    """Make N submissions and measure every method on them."""
    subs_dir = work / f"subs-{n}"
    submissions = make_submissions(subs_dir, n)
    print(f"\n## N = {n}\n", flush=True)
    # Other work on the machine slows every method; the load average says how much there was.
    print(f"(load average before: {_load()})", flush=True)
    print(f"({n} submissions in {subs_dir}: "
          f"{sum(s.variant == 'correct' for s in submissions)} correct, the rest wrong in "
          f"{len({s.variant for s in submissions} - {'correct'})} kinds of mistake)", flush=True)
    floor, phases = run_floor(submissions)
    jobs1, execution1 = run_grader(subs_dir, work / f"out-{n}-j1", 1, work)
    jobs2, _ = run_grader(subs_dir, work / f"out-{n}-j2", 2, work)
    kernel, note = None, ""
    if skip_kernel:
        note = "--skip-kernel"
    elif (why := kernel_missing()) is not None:
        note = why
        print(f"kernel baseline (b) skipped: {why}")
    else:
        count = min(n, kernel_max)
        print(f"kernel baseline (b) limited to the first {count} of {n} submissions (it is slow)", flush=True)
        kernel = run_kernel(submissions[:count])
    result = NResult(n, jobs1, execution1, jobs2, floor, phases, kernel, note)
    print(f"(load average after: {_load()})")
    print()
    print(detail_table(result))
    print("\n(CPU/sub: --jobs 1 = the grader process + the sandboxed child; --jobs 2 = the grading thread + "
          "the child, the parent's helper threads being only in CPU total. Peak RSS: the largest process.)")
    print()
    for note_line in jobs1.notes:
        print(f"grader: {note_line}")
    print(phase_line(result))
    for line in ratio_lines(result):
        print(line)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print Markdown tables and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, action="append", metavar="N",
                        help="number of submissions (repeat for a table against N; default 10)")
    parser.add_argument("--skip-kernel", action="store_true", help="skip baseline (b), nbclient + ipykernel")
    parser.add_argument("--kernel-max", type=int, default=KERNEL_MAX_DEFAULT,
                        help="submissions run by baseline (b) at most (default: %(default)s)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the grader on the smallest N (imports, phases, cProfile)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep submissions and outputs here (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.n or [10]))
    if sizes[0] < 1:
        parser.error("--n must be at least 1")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-grading-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench_grading: python {sys.version.split()[0]}, {os.cpu_count()} CPUs, N = "
          f"{', '.join(map(str, sizes))}")
    try:
        results = [measure(n, work, skip_kernel=args.skip_kernel, kernel_max=args.kernel_max) for n in sizes]
        print("\n## Time against N\n")
        print(scaling_table(results))
        print()
        if len(results) > 1:
            for line in scaling_lines(results):
                print(line)
        if args.profile and not run_profile(work / f"subs-{sizes[0]}", work, skip_kernel=args.skip_kernel):
            return 1
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
