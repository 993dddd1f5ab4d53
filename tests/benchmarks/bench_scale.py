"""10,000 varied submissions graded on this machine, then killed with SIGKILL and resumed (issue 13, section 3).

Run from the repository root (tests/benchmarks/README.md holds the figures):

    python tests/benchmarks/bench_scale.py                    # 10,000 submissions, --jobs 2, 3 kills
    python tests/benchmarks/bench_scale.py --n 1000           # a tenth of it (about 10 minutes on 2 cores)
    python tests/benchmarks/bench_scale.py --n 12 --timeouts 1 --kills 1   # the smoke test's run

1. It writes N submissions (scale_submissions.py: correct in several forms, partly wrong, broken,
   about a second slower than typical, and TIMEOUT_SHARE of them with a cell that never ends, which
   costs the rubric's cell timeout; those sort last).
2. It runs `grader grade SUBS --out OUT --jobs J --assignment hw1` once, uninterrupted, and reports
   the total wall time, the time until the last submission that does not time out was graded (the
   target: under 5 minutes for 10,000), the timeouts apart, results per second over time (results
   counted every few seconds), the grader process's peak RSS (wait4) and the largest sandboxed
   child's (sampled), and checks every results.json and the scores of the submissions made from a
   sample against its expected.json.
3. Unless --skip-kill: the same batch into a fresh output folder, its whole process group killed with
   SIGKILL at a random moment (after a random share of the results exist, plus up to 0.4 s), the same
   command run again (no --force: it resumes), --kills times, then run to the end. It checks that
   every submission has exactly one valid results.json and one gradebook row, that every score equals
   the uninterrupted run's, that each restart skipped exactly the finished submissions (one in
   flight at a kill is graded again), that no process outlived a kill and that no temporary folder
   is left (the grader runs with TMPDIR inside the work folder, so only its own are counted).

It prints PASS or FAIL per property and exits 1 if any failed. The file name does not match pytest's
test_*.py; tests/test_bench_scale_smoke.py runs it with a small --n.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_grading import _load
from scale_submissions import (
    KINDS,
    TIMEOUT_SHARE,
    Generated,
    make_batch,
    mix,
    write_manifest,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import assert_valid_results  # noqa: E402  (tests/ is not a package)

RUBRIC = ROOT / "rubrics" / "hw1.yaml"
TARGET_N, TARGET_SECONDS = 10_000, 300.0
RSS_EVERY = 0.25
"""Seconds between samples of the sandboxed children's peak RSS (each child lives about 0.2 s)."""
KILL_POLL = 0.1
"""Seconds between counts of the results while waiting for a kill point."""
SKIPPED = re.compile(r"(\d+) of (\d+) already graded and unchanged, skipped")


# ---------------------------------------------------------------- one grader process


@dataclass
class KillRecord:
    """What one SIGKILL hit and what it left behind."""

    at: float
    """Seconds into the run."""
    in_flight: int
    """Sandboxed interpreters alive at the kill (submissions being graded)."""
    stray: int
    """The grader's descendants still running (not zombies) once the kill had settled."""
    zombies: int
    """Its descendants dead but not yet reaped (their parent died: init reaps them)."""
    cgroups: list[Path]
    """Session cgroups of the killed processes that still exist."""


@dataclass
class Run:
    """One `grader grade` process: its times, memory, results over time, and its kill if it was killed."""

    started: float
    """time.time() at its start (results.json's mtimes are on that clock)."""
    wall: float
    exit_code: int
    samples: list[tuple[float, int, int]]
    """(seconds since start, results written, the grader's peak RSS so far in kB) every few seconds."""
    grader_rss_kb: int
    child_rss_kb: int
    stderr: str
    kill: KillRecord | None = None


def grader_command(subs: Path, out: Path, jobs: int) -> list[str]:
    """`grader grade` as a user types it (the virtual environment's console script where there is one)."""
    script = Path(sys.executable).parent / "grader"
    head = [str(script)] if script.is_file() else [sys.executable, "-m", "grader"]
    return [*head, "grade", str(subs), "--out", str(out), "--jobs", str(jobs), "--assignment", "hw1"]


def results_written(out: Path) -> int:
    """Submissions with output so far: one folder each, made as its results are written (cheap to count)."""
    try:
        return sum(1 for entry in os.scandir(out) if entry.is_dir())
    except OSError:
        return 0


def run_grader(command: Sequence[str], env: dict[str, str], out: Path, logs: Path, *,
               sample_every: float = 2.0, kill_at: int | None = None, kill_delay: float = 0.0) -> Run:
    """Run the grader to its end, or SIGKILL its process group `kill_delay` s after `kill_at` results exist."""
    stdout, stderr = logs.with_suffix(".out"), logs.with_suffix(".err")
    started, t0 = time.time(), time.perf_counter()
    with stdout.open("wb") as out_file, stderr.open("wb") as err_file:
        process = subprocess.Popen(command, stdout=out_file, stderr=err_file, env=env, cwd=ROOT,
                                   start_new_session=True)
    samples, child_rss, kill = [(0.0, results_written(out), 0)], 0, None
    next_sample, next_rss, next_count, kill_time = sample_every, 0.0, 0.0, None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        now = time.perf_counter() - t0
        if pid:
            break
        if now >= next_rss:
            child_rss = max(child_rss, *(_peak_rss_kb(p) for p in _descendants(process.pid)
                                         if _comm(p).startswith("python")), 0)
            next_rss = now + RSS_EVERY
        if now >= next_sample:
            samples.append((now, results_written(out), _peak_rss_kb(process.pid)))
            next_sample = now + sample_every
        if kill_at is not None and kill_time is None and now >= next_count:
            next_count = now + KILL_POLL
            if results_written(out) >= kill_at:
                kill_time = now + kill_delay
        if kill_time is not None and now >= kill_time:
            snapshot = _kill(process)
            pid, status, usage = os.wait4(process.pid, 0)
            kill = _settle(snapshot, now)
            break
        time.sleep(0.02)  # wait4 every 20 ms: the wall time is that precise
    wall = time.perf_counter() - t0
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    samples.append((wall, results_written(out), usage.ru_maxrss))
    return Run(started, wall, process.returncode, samples, usage.ru_maxrss, child_rss,
               stderr.read_text(encoding="utf-8", errors="replace"), kill)


@dataclass
class _Snapshot:
    """The killed grader's descendants (pid: start time, so a reused pid is not taken for one) and cgroups."""

    pids: dict[int, str]
    cgroups: set[Path]
    in_flight: int


def _kill(process: subprocess.Popen[bytes]) -> _Snapshot:
    """SIGKILL the grader's whole process group, noting first which processes and cgroups it had."""
    pids = _descendants(process.pid)
    snapshot = _Snapshot({p: _start_time(p) for p in pids}, {c for p in pids for c in _session_cgroups(p)},
                         sum(_comm(p).startswith("python") for p in pids))
    os.killpg(process.pid, signal.SIGKILL)
    return snapshot


def _settle(snapshot: _Snapshot, at: float, timeout: float = 5.0) -> KillRecord:
    """Wait (up to `timeout` s) for the killed grader's descendants to die; what was left then."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p, start in snapshot.pids.items() if _start_time(p) == start]
        running = [p for p in alive if _state(p) not in ("Z", "X", "")]
        if not running or time.monotonic() > deadline:
            return KillRecord(at, snapshot.in_flight, len(running), len(alive) - len(running),
                              sorted(c for c in snapshot.cgroups if c.is_dir()))
        time.sleep(0.05)


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text(errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (children of all its threads: the grader spawns from worker threads)."""
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            children = [int(c) for c in _proc(parent, f"task/{task}/children").split()]
            found += children
            stack += children
    return found


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (field 3, the state, first)."""
    return _proc(pid, "stat").rpartition(")")[2].split()


def _state(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[0] if fields else ""


def _start_time(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def _comm(pid: int) -> str:
    return _proc(pid, "comm").strip()


def _peak_rss_kb(pid: int) -> int:
    found = re.search(r"^VmHWM:\s+(\d+)", _proc(pid, "status"), re.MULTILINE)
    return int(found.group(1)) if found else 0


def _session_cgroups(pid: int) -> set[Path]:
    """The grader's per-session cgroup folders this process is in (grader/sandbox/cgroups.py names them)."""
    folders = set()
    for line in _proc(pid, "cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if "/grader-" not in path:
            continue
        tops = [c.removeprefix("name=") for c in controllers.split(",")] if controllers else ["unified", ""]
        folders |= {folder for top in tops if (folder := Path("/sys/fs/cgroup", top, path.lstrip("/"))).is_dir()}
    return folders


# ---------------------------------------------------------------- what a run left


def temp_folders(tmp: Path) -> list[str]:
    """The grader's temporary folders in `tmp` and in its run folders (`grader-run-*`) there."""
    names = []
    for entry in sorted(tmp.iterdir()) if tmp.is_dir() else []:
        names.append(entry.name)
        if entry.name.startswith("grader-run-") and entry.is_dir():
            names += [f"{entry.name}/{inner.name}" for inner in sorted(entry.iterdir()) if inner.is_dir()]
    return names


def temp_summary(names: Sequence[str]) -> str:
    """'3 (grader-run- 1, grader-sandbox- 2)': how many, by kind (the name without its random part)."""
    kinds = Counter(re.sub(r"[a-z0-9_]{8}$", "", name.rpartition("/")[2]) for name in names)
    return f"{len(names)}" + (f" ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})" if names else "")


def out_temp_files(out: Path) -> list[Path]:
    """Temporary files of interrupted writes in the output folder (`.results.json.*.tmp`, ...)."""
    return sorted(out.rglob(".*.tmp"))


def finished(out: Path) -> int:
    """Submissions whose results.json a re-run would keep: it parses and carries a fingerprint."""
    count = 0
    for path in out.glob("*/results.json"):
        try:
            extra = json.loads(path.read_text(encoding="utf-8"))["extra_data"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        count += bool(extra.get("fingerprint")) and "grading_failed" not in extra
    return count


# ---------------------------------------------------------------- checking a finished output folder


@dataclass
class Check:
    """One property: whether it holds, what it says, and the evidence."""

    ok: bool
    what: str
    detail: str = ""

    def line(self) -> str:
        """`PASS what (detail)`."""
        return f"{'PASS' if self.ok else 'FAIL'} {self.what}" + (f" ({self.detail})" if self.detail else "")


def scores(out: Path, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each submission's item scores and total ("" key) from its results.json (missing ones left out)."""
    found = {}
    for name in names:
        try:
            document = json.loads((out / name / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found[name] = {t["extra_data"]["item"]: float(t["score"]) for t in document["tests"]}
        found[name][""] = float(document.get("score", 0.0))
    return found


def check_output(out: Path, generated: Sequence[Generated], rubric: Any,
                 reference: dict[str, dict[str, float]] | None = None) -> list[Check]:
    """Every submission graded once, validly, in the gradebook once; no temporary files; the reference's scores."""
    names = [g.name for g in generated]
    invalid = []
    for name in names:
        try:
            assert_valid_results(out / name / "results.json", rubric)
        except (AssertionError, OSError, ValueError) as exc:
            invalid.append(f"{name}: {str(exc)[:200]}")
    every = sorted(p.parent.name for p in out.rglob("results.json"))
    extra = sorted(set(every) - set(names)) + sorted(n for n, c in Counter(every).items() if c > 1)
    checks = [
        Check(not invalid and len(every) == len(names) and not extra,
              "every submission has exactly one results.json, valid against the schema with every rubric item",
              f"{len(names) - len(invalid)} of {len(names)} valid, {len(every)} results.json in all"
              + (f"; invalid: {invalid[:3]}" if invalid else "") + (f"; unexpected: {extra[:3]}" if extra else "")),
        Check(not out_temp_files(out), "no temporary file of an interrupted write in the output folder",
              f"{len(out_temp_files(out))} found"),
    ]
    rows: list[dict[str, str]] = []
    try:
        with (out / "gradebook.csv").open(encoding="utf-8", newline="") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as exc:
        checks.append(Check(False, "gradebook.csv exists", str(exc)))
    listed = Counter(row["submission"] for row in rows)
    duplicates = [n for n, c in listed.items() if c > 1]
    missing = sorted(set(names) - set(listed))
    ungraded = [row["submission"] for row in rows if row["status"] != "graded"]
    checks.append(Check(not duplicates and not missing and len(rows) == len(names) and not ungraded,
                        "gradebook.csv has exactly one row per submission, each graded",
                        f"{len(rows)} rows for {len(names)} submissions, {len(duplicates)} duplicated, "
                        f"{len(missing)} missing, {len(ungraded)} not graded"))
    if reference is not None:
        got = scores(out, names)
        differ = [n for n in names if n not in got or n not in reference
                  or set(got[n]) != set(reference[n])
                  or any(abs(got[n][k] - reference[n][k]) > 1e-9 for k in reference[n])]
        checks.append(Check(not differ, "every score (each item and the total) equals the uninterrupted run's",
                            f"{len(names) - len(differ)} of {len(names)} equal" + (f"; differ: {differ[:5]}"
                                                                                   if differ else "")))
    return checks


def check_expected(out: Path, generated: Sequence[Generated]) -> Check:
    """The submissions made from a sample score as its expected.json says (the generator is sound)."""
    from grader.batch import row_from_results
    from grader.expected import mismatches
    from grader.rubric import load_rubric

    rubric = load_rubric(RUBRIC)
    known = [g for g in generated if g.expected is not None]
    wrong = []
    for g in known:
        try:
            document = json.loads((out / g.name / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            wrong.append(f"{g.name}: no results")
            continue
        problems = mismatches(row_from_results(g.name, (), document, rubric).part_scores, g.expected or {})
        if problems:
            wrong.append(f"{g.name}: {'; '.join(problems)}")
    return Check(not wrong, "the submissions made from a sample score as its expected.json says",
                 f"{len(known) - len(wrong)} of {len(known)}" + (f"; {wrong[:3]}" if wrong else ""))


# ---------------------------------------------------------------- part 1: the uninterrupted run


def throughput_table(samples: Sequence[tuple[float, int, int]], wall: float) -> list[str]:
    """Results per second in about 10 to 20 equal intervals, from the sampled counts."""
    step = next((s for s in (2, 5, 10, 15, 30, 60, 120, 300, 600) if wall / s <= 20), 1200)
    lines = ["| interval (s) | results at its end | graded in it | per second |", "|---|---|---|---|"]
    previous_t, previous_n = 0.0, 0
    bounds = [*(float(b) for b in range(step, int(wall) + 1, step) if wall - b > step / 4), wall]
    for bound in bounds:
        count = max((n for t, n, _ in samples if t <= bound + 1e-9), default=0)
        lines.append(f"| {previous_t:.0f}-{bound:.0f} | {count} | {count - previous_n} | "
                     f"{(count - previous_n) / max(bound - previous_t, 1e-9):.2f} |")
        previous_t, previous_n = bound, count
    return lines


def measure(generated: Sequence[Generated], subs: Path, work: Path, env: dict[str, str], jobs: int,
            sample_every: float) -> tuple[list[Check], dict[str, dict[str, float]]]:
    """Part 1: grade the batch once, report its figures and check its results; the scores."""
    from grader.rubric import load_rubric

    out = work / "out-full"
    print(f"\n## 1. One uninterrupted run\n\n(load average before: {_load()})", flush=True)
    run = run_grader(grader_command(subs, out, jobs), env, out, work / "full", sample_every=sample_every)
    print(f"(load average after: {_load()})\n")
    names = [g.name for g in generated]
    mtimes = {n: (out / n / "results.json").stat().st_mtime - run.started
              for n in names if (out / n / "results.json").exists()}
    regular = [g.name for g in generated if g.group != "timeout"]
    timeouts = [g.name for g in generated if g.group == "timeout"]
    until_regular = max((mtimes[n] for n in regular if n in mtimes), default=float("nan"))
    last_result = max(mtimes.values(), default=float("nan"))
    documents = {n: json.loads((out / n / "results.json").read_text(encoding="utf-8")) for n in mtimes}
    timeout_times = [float(documents[n].get("execution_time", 0.0)) for n in timeouts if n in documents]
    layers = Counter(str(d.get("extra_data", {}).get("isolation", "?")) for d in documents.values())
    first = min(mtimes.values(), default=float("nan"))
    print("| figure | value |\n|---|---|")
    print(f"| submissions | {len(names)} ({len(regular)} + {len(timeouts)} that hit the cell timeout), "
          f"--jobs {jobs}; isolation {', '.join(f'{k} {v}' for k, v in layers.most_common())}"
          f"{' (none: no notebook to run)' if 'none' in layers else ''} |")
    print(f"| total wall time | {run.wall:.1f} s |")
    print(f"| all but the timeouts (until the last of them was written) | {until_regular:.1f} s: "
          f"{len(regular) / until_regular:.2f} submissions/s, {until_regular / max(len(regular), 1):.3f} s each |")
    if timeouts:
        print(f"| the {len(timeouts)} timeout{'s' * (len(timeouts) > 1)}, apart | "
              f"each {_spread(timeout_times)} s (execution_time); "
              f"{last_result - until_regular:.1f} s of wall time after the others |")
    print(f"| start-up (until the first results.json) | {first:.1f} s |")
    print(f"| end of the batch (gradebook, summary.html, table) | {run.wall - last_result:.1f} s |")
    print(f"| all but the timeouts, end of the batch included | {until_regular + run.wall - last_result:.1f} s |")
    grading_rss = max((rss for t, _, rss in run.samples[:-1] if t <= last_result), default=0)
    print(f"| peak RSS of the grader process (wait4) | {run.grader_rss_kb / 1024:.0f} MB; "
          f"{grading_rss / 1024:.0f} MB until the last results.json (sampled) |")
    print(f"| peak RSS of the largest sandboxed child (sampled every {RSS_EVERY} s) | "
          f"{run.child_rss_kb / 1024:.0f} MB |")
    print(f"| grader exit code | {run.exit_code} |")
    print("\nThroughput over time (results.json counted every "
          f"{sample_every:g} s; the timeouts run at the end):\n")
    print("\n".join(throughput_table(run.samples, run.wall)))
    print()
    # The timeouts sort last: the run without them is the time until the last other results.json
    # plus the end of the batch (gradebook and summary.html, whose similarity section reads at most
    # grader.similarity.MAX_SUBMISSIONS submissions, so that part does not grow beyond them).
    end = run.wall - last_result
    per_submission = until_regular / max(len(regular), 1)
    if len(names) >= TARGET_N:
        figure, how = until_regular + end, "measured"
    else:
        figure = per_submission * TARGET_N * (1 - TIMEOUT_SHARE) + end
        how = (f"projected from N = {len(names)}: {per_submission:.3f} s a submission x "
               f"{TARGET_N * (1 - TIMEOUT_SHARE):,.0f} + {end:.0f} s end of the batch")
    verdict = "MET" if figure < TARGET_SECONDS else "MISSED"
    print(f"target: {TARGET_N:,} submissions, all but the timeouts, under {TARGET_SECONDS / 60:.0f} minutes: "
          f"{verdict}: {figure:.0f} s = {figure / 60:.1f} min ({how})")
    if len(names) < TARGET_N:
        timeout_cost = (TARGET_N * TIMEOUT_SHARE) * _mean_or(timeout_times, 10.0) / jobs
        print(f"(the {TARGET_N * TIMEOUT_SHARE:.0f} timeouts of {TARGET_N:,} would add about {timeout_cost:.0f} s "
              f"at --jobs {jobs})")
    checks = [Check(run.exit_code == 0, "the grader exited with 0", f"exit code {run.exit_code}"),
              *check_output(out, generated, load_rubric(RUBRIC)), check_expected(out, generated)]
    for check in checks:
        print(check.line())
    return checks, scores(out, names)


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.1f}" if max(values) - min(values) < 0.05 else f"{min(values):.1f}-{max(values):.1f}"


def _mean_or(values: Sequence[float], default: float) -> float:
    return sum(values) / len(values) if values else default


# ---------------------------------------------------------------- part 2: killed and resumed


@dataclass
class Attempt:
    """One start of the grader in the kill-and-resume run."""

    run: Run
    finished_before: int
    """Results a re-run keeps (valid, with a fingerprint) when it started."""
    skipped: int
    """What it said it skipped (`k of n already graded and unchanged, skipped`)."""
    finished_after: int
    temp_after: list[str] = field(default_factory=list)
    out_temp_after: int = 0


def kill_points(n: int, kills: int, rng: random.Random, low: float = 0.05, high: float = 0.9) -> list[int]:
    """`kills` increasing result counts between `low` and `high` of n, at random."""
    lo, hi = max(1, int(n * low)), max(int(n * high), 2)
    population = range(lo, hi)
    chosen = rng.sample(population, kills) if len(population) >= kills else [lo + i for i in range(kills)]
    return sorted(chosen)


def kill_and_resume(subs: Path, out: Path, work: Path, env: dict[str, str], jobs: int, kills: int,
                    rng: random.Random, n: int, *, max_delay: float = 0.4,
                    report: Callable[[str], None] = print) -> list[Attempt]:
    """Part 2: the batch killed at `kills` random points and restarted each time, then run to its end."""
    command = grader_command(subs, out, jobs)
    tmp = Path(env["TMPDIR"])
    attempts = []
    for index, point in enumerate([*kill_points(n, kills, rng), None]):
        before = finished(out)
        kill_at = None if point is None else max(point, results_written(out) + 1)
        run = run_grader(command, env, out, work / f"kill-{index}", kill_at=kill_at,
                         kill_delay=rng.uniform(0.0, max_delay))
        found = SKIPPED.search(run.stderr)
        attempt = Attempt(run, before, int(found.group(1)) if found else 0, finished(out),
                          temp_folders(tmp), len(out_temp_files(out)))
        attempts.append(attempt)
        what = "killed" if run.kill else f"ran to its end (exit {run.exit_code})"
        report(f"attempt {index + 1}: {what} after {run.wall:.1f} s, {attempt.finished_after} of {n} finished")
        if point is not None and run.kill is None:
            report("  (it finished before its kill point: no more kills)")
            break
    return attempts


def attempts_table(attempts: Sequence[Attempt], n: int) -> list[str]:
    """One row per start of the grader: what it kept, skipped, finished, and what its kill left."""
    lines = ["| start | kept at start | said skipped | end | after s | finished | in flight at the kill | "
             "processes left running | zombies | session cgroups left | temp folders after | temp files in out |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, a in enumerate(attempts, 1):
        k = a.run.kill
        lines.append(
            f"| {i} | {a.finished_before} | {a.skipped} | {'SIGKILL' if k else f'exit {a.run.exit_code}'} | "
            f"{a.run.wall:.1f} | {a.finished_after} of {n} | {k.in_flight if k else '-'} | "
            f"{k.stray if k else '-'} | {k.zombies if k else '-'} | {len(k.cgroups) if k else '-'} | "
            f"{temp_summary(a.temp_after)} | {a.out_temp_after} |")
    return lines


def resume_checks(attempts: Sequence[Attempt]) -> list[Check]:
    """What the attempts themselves must show: real kills mid-run, exact skips, nothing left running or on disk."""
    kills = [a for a in attempts if a.run.kill is not None]
    mid_run = [a for a in kills if 0 < a.finished_after]
    wrong_skips = [(i + 1, a.skipped, a.finished_before) for i, a in enumerate(attempts)
                   if a.skipped != a.finished_before]
    stray = sum(a.run.kill.stray for a in kills if a.run.kill)
    last = attempts[-1]
    return [
        Check(len(mid_run) == len(kills) > 0 and last.run.kill is None,
              "the batch was killed mid-run and then ran to its end",
              f"{len(kills)} kills, at {', '.join(str(a.finished_after) for a in kills)} finished"),
        Check(not wrong_skips, "each start skipped exactly the submissions finished before it; those in flight "
              "at a kill were graded again", "; ".join(f"start {i}: skipped {s}, finished before {f}"
                                                       for i, s, f in wrong_skips) or
              f"skipped {', '.join(str(a.skipped) for a in attempts)}"),
        Check(last.run.exit_code == 0, "the last start exited with 0", f"exit code {last.run.exit_code}"),
        Check(stray == 0, "no process of a killed grader outlived it (bwrap and its children)", f"{stray} left"),
        Check(not last.temp_after, "no temporary folder left once the resumed batch ended",
              temp_summary(last.temp_after)),
    ]


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, grade, report; kill and resume; print PASS or FAIL per property."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=TARGET_N, help="submissions (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="grader --jobs (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep submissions and outputs here (default: a temporary folder, removed)")
    parser.add_argument("--seed", type=int, default=0, help="the mix of kinds and the kill points (default: 0)")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs in the second run (default: %(default)s)")
    parser.add_argument("--skip-kill", action="store_true", help="only the uninterrupted run")
    parser.add_argument("--timeouts", type=int, default=None,
                        help=f"submissions that hit the cell timeout "
                             f"(default: {TIMEOUT_SHARE * 100:.1f}%% of N, at least 1)")
    parser.add_argument("--sample-every", type=float, default=2.0,
                        help="seconds between counts of the results (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.n < 2 or args.kills < 1 or args.jobs < 1:
        parser.error("--n must be at least 2, --kills and --jobs at least 1")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("subs", "out-full", "out-kill", "tmp"):
        shutil.rmtree(work / stale, ignore_errors=True)
    # The grader's temporary folders go here, so what it leaves is its own to count.
    tmp = work / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    print(f"# bench_scale: N = {args.n}, --jobs {args.jobs}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, seed {args.seed}")
    try:
        t0 = time.perf_counter()
        generated = make_batch(work / "subs", mix(args.n, args.seed, args.timeouts))
        write_manifest(work, generated)
        groups = Counter(g.group for g in generated)
        print(f"\n{len(generated)} submissions generated in {time.perf_counter() - t0:.1f} s in {work / 'subs'}: "
              + ", ".join(f"{groups[g]} {g}" for g in ("correct", "wrong", "broken", "slow", "timeout"))
              + f" ({len({g.kind for g in generated})} of {len(KINDS)} kinds; kinds and expected scores "
              f"in {work / 'manifest.json'})", flush=True)
        checks, reference = measure(generated, work / "subs", work, env, args.jobs, args.sample_every)
        if not args.skip_kill:
            checks += kill_part(generated, work, env, args, reference)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} checks passed" + (": FAIL" if failed else ""))
    return 1 if failed else 0


def kill_part(generated: Sequence[Generated], work: Path, env: dict[str, str], args: argparse.Namespace,
              reference: dict[str, dict[str, float]]) -> list[Check]:
    """Part 2 with its report: the attempts' table, what the kills left, the final output's checks."""
    from grader.rubric import load_rubric

    print(f"\n## 2. The same batch killed {args.kills} times with SIGKILL and resumed\n", flush=True)
    out = work / "out-kill"
    attempts = kill_and_resume(work / "subs", out, work, env, args.jobs, args.kills, random.Random(args.seed + 1),
                               len(generated))
    print()
    print("\n".join(attempts_table(attempts, len(generated))))
    cgroups = sorted({c for a in attempts if a.run.kill for c in a.run.kill.cgroups if c.is_dir()})
    print(f"\nsession cgroups of killed sandboxes still there at the end: {len(cgroups)} (empty; "
          "a later grader removes those older than 10 minutes: grader/sandbox/cgroups.py sweep_stale)" if cgroups else
          "\nsession cgroups of killed sandboxes still there at the end: 0")
    checks = [*resume_checks(attempts), *check_output(out, generated, load_rubric(RUBRIC), reference)]
    for check in checks:
        print(check.line())
    return checks


if __name__ == "__main__":
    sys.exit(main())
