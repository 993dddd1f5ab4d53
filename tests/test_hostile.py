"""The hostile corpus (sample_submissions/hostile/): every attack and fault, graded end to end.

The whole corpus is graded once per isolation mode, through `run_batch` with two workers as a
real batch is: "default" (the strongest layer here: namespaces when root with bubblewrap) and
"uid" (the first layer switched off: root drops the child to an unprivileged uid; skipped when
not root). Then, per submission and mode:
- complete: its results.json exists, is schema-valid and lists every rubric item with its points;
- scores: every part equals its expectation, i.e. the honest part of the submission (no part
  above it, and the honest parts reach it);
- must_not: the attack left no trace (sentinel files, leaked text, connections, files in its
  own folder; see make_hostile.py for the forms);
- time: it ended within the notebook budget plus a margin (time spent waiting for the uid
  layer's per-user lock, which serialises sessions, is not the submission's).
And per mode: the batch did not crash; a few seconds later no process of any submission is
alive and no sentinel has appeared (daemons sleep before they write).

Known holes are marked `xfail(strict=True)` with the reason (file, attack, what happens): such
a test passes only while the hole is there, so fixing one flags the mark for removal. The test
rubric is a copy of the real one with smaller limits (same points), so the file runs in about
two minutes on two cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import make_hostile
import pytest
from conftest import RUBRIC, assert_valid_results

from grader.batch import SubmissionSource, run_batch
from grader.engine import GradeOptions
from grader.notebook import MAX_NOTEBOOK_BYTES
from grader.paths import secret_paths
from grader.rubric import Rubric, load_rubric
from grader.sandbox import isolation
from grader.sandbox.landlock import landlock_abi
from grader.sandbox.layers import namespaces
from grader.sandbox.layers import uid as uid_layer

HOSTILE = make_hostile.HOSTILE
NAMES = sorted(p.name for p in HOSTILE.iterdir() if (p / "expected.json").is_file())
EXPECTED: dict[str, dict[str, Any]] = {
    name: json.loads((HOSTILE / name / "expected.json").read_text(encoding="utf-8")) for name in NAMES}
# Smaller limits than the real rubric keep this file fast (the memory attacks touch less memory);
# the points are unchanged.
TEST_LIMITS = {"cell_timeout": ("10", "4"), "notebook_timeout": ("60", "8"), "call_timeout": ("5", "1"),
               "memory_mb": ("1536", "512")}
TIME_MARGIN = 10.0  # seconds over notebook_timeout: start-up, one restart, the calls of a sane notebook
LATER = 4.0         # seconds after the batch for the "later" checks; the daemon writes after 3 s
SURVIVOR_GRACE = 5.0
SALT_ENV = "GRADER_SALT"


def _default_layer() -> str | None:
    try:
        return isolation.choose_layer()
    except Exception:  # no layer works here: the default mode then fails loudly in its fixture
        return None


MODES: dict[str, str | None] = {"default": None, "uid": "uid"}
LAYER_OF_MODE = {"default": _default_layer(), "uid": "uid"}


# ------------------------------------------------------------------ known holes
def _world_reachable(path: Path) -> bool:
    """Whether a user who is neither owner nor group (the sandbox uid) can read `path`."""
    try:
        folders_ok = all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)
        return folders_ok and bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def _cgroups_available() -> bool:
    """Whether the sandbox can cap a session's memory as a whole here (a cgroup per session)."""
    from grader.sandbox.cgroups import SessionCgroup

    group = SessionCgroup.create(64 * 2**20, 8) if os.name == "posix" and os.geteuid() == 0 else None
    if group is None:
        return False
    group.close()
    return True


@dataclass(frozen=True)
class Hole:
    """A known hole: which checks of which submission fail in which layers, and why."""

    name: str
    checks: tuple[str, ...]
    layers: tuple[str, ...]
    reason: str
    applies: Callable[[], bool] = lambda: True


ALL_LAYERS = ("namespaces", "uid", "rlimits")
HOLES = [
    Hole("disk_fill", ("must_not",), ("uid", "rlimits"),
         "No disk quota outside the namespaces layer: RLIMIT_FSIZE (file_mb) bounds each file, not "
         "their number, and the uid layer's work dir is on the grader's disk (the namespaces layer "
         "gives the child a size-capped tmpfs instead)."),
    Hole("disk_fill", ("must_not",), ("namespaces",),
         "bubblewrap before 0.8 (Ubuntu 22.04 has 0.6.1) has no --size: the namespaces layer's "
         "working folder is then an uncapped tmpfs (its pages count against the session's memory "
         "cgroup where there is one, which the test's limit leaves room for).",
         applies=lambda: not namespaces.bwrap_sizes_tmpfs()),
    Hole("memory_bomb_forked", ("must_not",), ALL_LAYERS,
         "Where no cgroup can be made (not root, a read-only /sys/fs/cgroup, not Linux), memory_mb is "
         "RLIMIT_AS of each process: with max_processes 64 a submission can hold up to 64 x memory_mb.",
         applies=lambda: not _cgroups_available()),
    Hole("network", ("must_not",), ("uid", "rlimits"),
         "Outside Linux on x86_64/aarch64 the child cannot install its seccomp filter (every socket "
         "refused), so the uid and rlimits layers have no network isolation there.",
         applies=lambda: not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64"))),
    Hole("tmp_persistence", ("must_not",), ("rlimits",),
         "Without Landlock the rlimits layer (a student's own laptop) leaves what the notebook wrote to "
         "/tmp (with Landlock it may write only its working copy); the uid layer removes the sandbox "
         "user's files from /tmp, /var/tmp and /dev/shm after each session.",
         applies=lambda: not landlock_abi()),
    Hole("filesystem_solution_search", ("scores", "must_not"), ("rlimits",),
         "Without Landlock the rlimits layer (a student's own laptop) hides nothing: the notebook can "
         "read any file the user can. With Landlock it reads only Python, numpy and its working copy.",
         applies=lambda: not landlock_abi()),
]


def _marks(check: str, name: str, mode: str) -> list[pytest.MarkDecorator]:
    layer = LAYER_OF_MODE[mode]
    for hole in HOLES:
        if hole.name == name and check in hole.checks and layer in hole.layers and hole.applies():
            return [pytest.mark.xfail(strict=True, reason=hole.reason)]
    return []


def _cases(check: str) -> list[Any]:
    return [pytest.param(mode, name, marks=_marks(check, name, mode), id=f"{mode}-{name}")
            for mode in MODES for name in NAMES]


def _modes(check: str) -> list[Any]:
    marks: dict[str, list[pytest.MarkDecorator]] = {mode: [] for mode in MODES}
    for mode in MODES:
        for name in NAMES:
            marks[mode] = marks[mode] or _marks(check, name, mode)
    return [pytest.param(mode, marks=marks[mode], id=mode) for mode in MODES]


def _holes_of(check: str, mode: str) -> set[str]:
    return {name for name in NAMES if _marks(check, name, mode)}


# ------------------------------------------------------------------ what the attacks may leave
def _must_not(name: str, kind: str) -> list[str]:
    prefix = kind + ":"
    return [entry[len(prefix):] for entry in EXPECTED[name].get("must_not", []) if entry.startswith(prefix)]


def _all_sentinels() -> list[Path]:
    return [Path(path) for name in NAMES for path in _must_not(name, "sentinel")]


def _traces() -> dict[str, list[str]]:
    """Per submission, the sentinels and files in its own folder that exist now."""
    found: dict[str, list[str]] = {}
    for name in NAMES:
        paths = [Path(p) for p in _must_not(name, "sentinel")]
        paths += [HOSTILE / name / relative for relative in _must_not(name, "in_submission")]
        found[name] = [str(path) for path in paths if path.exists() or path.is_symlink()]
    return found


def _remove_traces() -> None:
    """Sentinels and files in the submissions' own folders, from an earlier run."""
    for path in _all_sentinels():
        path.unlink(missing_ok=True)
    for name in NAMES:
        for relative in _must_not(name, "in_submission"):
            (HOSTILE / name / relative).unlink(missing_ok=True)


class Listener:
    """Accepts connections on 127.0.0.1:port in a thread and records who connected."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.hits: list[str] = []
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, peer = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(0.5)
                try:
                    data = connection.recv(64)
                except OSError:
                    data = b""
            self.hits.append(f"{peer[0]}:{peer[1]} sent {data!r}")

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self.server.close()


def _is_sandbox_uid(layer: str | None) -> Callable[[int], bool]:
    """Which uids are the sandbox's in this layer (as root; otherwise only process names count)."""
    if os.geteuid() != 0 or layer not in ("namespaces", "uid"):
        return lambda uid: False
    try:
        fixed = uid_layer.sandbox_ids()[0]
    except Exception:
        fixed = -1
    if layer == "uid":
        return lambda uid: uid == fixed
    return lambda uid: uid in namespaces.SESSION_UIDS or uid == fixed


def _submission_processes(is_sandbox_uid: Callable[[int], bool]) -> list[str]:
    """Live processes named by an attack (`hostile-*`) or running as a sandbox uid."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(entry.path, "comm").read_text().strip()
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            continue  # already dead, waiting to be reaped
        uids = {int(u) for u in fields.get("Uid", "").split()}
        if comm.startswith("hostile") or any(is_sandbox_uid(uid) for uid in uids):
            found.append(f"pid {entry.name} ({comm}), uids {sorted(uids)}")
    return found


# ------------------------------------------------------------------ grading the corpus
def short_rubric(folder: Path) -> Rubric:
    """The real rubric with the short TEST_LIMITS, written into `folder`."""
    text = RUBRIC.read_text(encoding="utf-8")
    for key, (old, new) in TEST_LIMITS.items():
        before = f"  {key}: {old} "
        assert text.count(before) == 1, f"the rubric's limits changed: no {before!r}"
        text = text.replace(before, f"  {key}: {new} ")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUBRIC.name).write_text(text, encoding="utf-8")
    rubric = load_rubric(folder / RUBRIC.name)
    real = load_rubric(RUBRIC)
    assert [(i.id, i.points) for i in rubric.items] == [(i.id, i.points) for i in real.items]
    return rubric



@dataclass
class CorpusRun:
    """One mode's batch over the whole corpus, and what was observed around it."""

    mode: str
    layer: str | None
    rubric: Rubric
    out: Path
    sources: dict[str, Path]
    error: BaseException | None
    ended: float
    listener_hits: dict[int, list[str]]
    listen_failures: dict[int, str]
    lock_waits: dict[str, float]
    salt: str
    traces: dict[str, list[str]] = field(default_factory=dict)        # right after the batch
    traces_later: dict[str, list[str]] = field(default_factory=dict)  # LATER seconds after it
    survivors: list[str] = field(default_factory=list)                # processes alive then

    def results(self, name: str) -> dict[str, Any] | None:
        path = self.out / name / "results.json"
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def observe_later(self) -> None:
        """LATER seconds after the batch: traces again, and the submissions' processes still alive."""
        time.sleep(max(0.0, self.ended + LATER - time.monotonic()))
        self.traces_later = _traces()
        is_sandbox_uid = _is_sandbox_uid(self.layer)
        deadline = time.monotonic() + SURVIVOR_GRACE  # another test run's live session may be ending
        self.survivors = _submission_processes(is_sandbox_uid)
        while self.survivors and time.monotonic() < deadline:
            time.sleep(0.2)
            self.survivors = _submission_processes(is_sandbox_uid)


@contextlib.contextmanager
def _timed_uid_locks(waits: dict[str, float]) -> Iterator[None]:
    """Record, per submission, the time its session waited for the uid layer's per-user lock.

    The lock serialises sessions of one sandbox uid, so with two workers one submission's
    execution_time includes another's session; that wait is not the submission's own time.
    """
    import grader.batch as batch

    original_lock = getattr(uid_layer, "UidLock", None)
    original_grade_one = batch.grade_one
    current = threading.local()
    if original_lock is None:
        yield
        return

    class TimedLock(original_lock):  # type: ignore[misc,valid-type]
        def __init__(self, uid: int) -> None:
            started = time.monotonic()
            super().__init__(uid)
            name = getattr(current, "name", None)
            if name is not None:
                waits[name] = waits.get(name, 0.0) + time.monotonic() - started

    def grade_one(source: SubmissionSource, *args: Any, **kwargs: Any) -> Any:
        current.name = source.name
        try:
            return original_grade_one(source, *args, **kwargs)
        finally:
            current.name = None

    uid_layer.UidLock = TimedLock  # type: ignore[attr-defined]
    batch.grade_one = grade_one  # type: ignore[assignment]
    try:
        yield
    finally:
        uid_layer.UidLock = original_lock  # type: ignore[attr-defined]
        batch.grade_one = original_grade_one  # type: ignore[assignment]


def _sources(work: Path) -> dict[str, Path]:
    """Where each submission is: its folder, its zip, or a copy with the test-made files."""
    sources = {}
    for name in NAMES:
        folder = HOSTILE / name
        if "generated_in_test" in EXPECTED[name]:
            copy = work / "generated" / name
            shutil.copytree(folder, copy, symlinks=True)
            make_hostile.generate(name, copy)
            folder = copy
        sources[name] = folder / "submission.zip" if (folder / "submission.zip").is_file() else folder
    return sources


def _grade_corpus(mode: str, work: Path) -> CorpusRun:
    if mode == "uid":
        if os.name != "posix" or os.geteuid() != 0:
            pytest.skip("the uid layer needs the grader to run as root (to switch the child's user)")
        try:
            isolation.choose_layer("uid")
        except isolation.IsolationError as exc:
            pytest.skip(str(exc))
    layer = LAYER_OF_MODE[mode]
    if layer is None:
        pytest.fail("no isolation layer works on this machine")
    _remove_traces()
    rubric = short_rubric(work / "rubric")
    out = work / "out"
    sources = _sources(work)
    ports = {int(port) for name in NAMES for port in _must_not(name, "listen")}
    listeners: dict[int, Listener] = {}
    failures: dict[int, str] = {}
    for port in ports:
        try:
            listeners[port] = Listener(port)
        except OSError as exc:
            failures[port] = str(exc)
    salt = "hostile-salt-" + secrets.token_hex(16)
    options = GradeOptions(isolation=MODES[mode],
                           secret_paths=(*secret_paths(rubric.path, out), RUBRIC.resolve().parent))
    waits: dict[str, float] = {}
    error: BaseException | None = None
    previous_salt = os.environ.get(SALT_ENV)
    os.environ[SALT_ENV] = salt  # a secret the attacks look for; the grader uses it as its salt
    try:
        with _timed_uid_locks(waits):
            run_batch([SubmissionSource(name, path) for name, path in sources.items()], rubric, out,
                      options, jobs=2)
    except Exception as exc:  # the batch must not crash; the test says so, the others still check
        error = exc
    finally:
        if previous_salt is None:
            os.environ.pop(SALT_ENV, None)
        else:
            os.environ[SALT_ENV] = previous_salt
        ended = time.monotonic()
        for listener in listeners.values():
            listener.close()
    run = CorpusRun(mode, layer, rubric, out, sources, error, ended,
                    {port: listener.hits for port, listener in listeners.items()}, failures, waits, salt,
                    traces=_traces())
    run.observe_later()
    return run


class Runs:
    """Each mode's corpus run, made the first time a test asks for it."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.done: dict[str, CorpusRun] = {}

    def get(self, mode: str) -> CorpusRun:
        if mode not in self.done:
            self.done[mode] = _grade_corpus(mode, self.factory.mktemp(f"hostile-{mode}"))
        return self.done[mode]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """The corpus runs of this module; traces of the attacks are removed afterwards."""
    yield Runs(tmp_path_factory)
    _remove_traces()


# ------------------------------------------------------------------ the corpus itself
def test_corpus_has_at_least_25_submissions_each_with_a_full_expectation(rubric: Any) -> None:
    assert len(NAMES) >= 25
    autograded = [p for p in rubric.parts if p not in {m.part for m in rubric.manual}]
    kinds = ("sentinel:", "text:", "env:", "listen:", "in_submission:")
    for name in NAMES:
        expected = EXPECTED[name]
        assert expected["description"].strip(), name
        assert sorted(expected["parts"]) == sorted(autograded), name
        for part, points in expected["parts"].items():
            assert 0 <= points <= rubric.parts[part], (name, part)
        assert all(entry.startswith(kinds) for entry in expected["must_not"]), name
        for path in _must_not(name, "sentinel"):
            assert Path(path).is_absolute() and "hostile" in path, (name, path)


def test_committed_corpus_is_what_make_hostile_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "corpus"
    make_hostile.write_all(fresh)
    assert sorted(p.name for p in fresh.iterdir()) == NAMES
    for name in NAMES:
        committed = {p.relative_to(HOSTILE / name) for p in (HOSTILE / name).rglob("*")}
        written = {p.relative_to(fresh / name) for p in (fresh / name).rglob("*")}
        assert committed == written, f"{name}: run `python tests/make_hostile.py`"
        for relative in written:
            new, old = fresh / name / relative, HOSTILE / name / relative
            if new.is_symlink():
                assert old.is_symlink() and os.readlink(old) == os.readlink(new), (name, relative)
            elif new.is_file():
                assert old.read_bytes() == new.read_bytes(), f"{name}/{relative}: run `python tests/make_hostile.py`"


def test_generated_notebooks_are_the_sizes_they_claim(tmp_path: Path) -> None:
    make_hostile.generate("huge_notebook", tmp_path)
    assert (tmp_path / "hw1_code.ipynb").stat().st_size > 2 * MAX_NOTEBOOK_BYTES
    make_hostile.generate("large_notebook_under_limit", tmp_path)
    assert 10 * 2**20 < (tmp_path / "hw1_code.ipynb").stat().st_size < MAX_NOTEBOOK_BYTES


# ------------------------------------------------------------------ per mode
@pytest.mark.parametrize("mode", _modes("batch"))
def test_batch_never_crashes(mode: str, runs: Runs) -> None:
    run = runs.get(mode)
    assert run.error is None, f"run_batch raised {run.error!r}"
    assert (run.out / "gradebook.csv").is_file()


@pytest.mark.parametrize("mode", list(MODES))
def test_the_mode_used_the_layer_it_names(mode: str, runs: Runs) -> None:
    run = runs.get(mode)
    used = {(run.results(n) or {}).get("extra_data", {}).get("isolation") for n in NAMES} - {None, "none"}
    assert used == {run.layer}, used


@pytest.mark.parametrize("mode", list(MODES))
def test_no_process_of_a_submission_survives(mode: str, runs: Runs) -> None:
    run = runs.get(mode)
    assert not run.survivors, f"alive {LATER:g} s after grading: " + "; ".join(run.survivors[:20])


@pytest.mark.parametrize("mode", list(MODES))
def test_no_sentinel_appears_later(mode: str, runs: Runs) -> None:
    run = runs.get(mode)
    known = _holes_of("must_not", mode)
    appeared = {name: paths for name, paths in run.traces_later.items() if paths and name not in known}
    assert not appeared, f"{LATER:g} s after grading: {appeared}"


# ------------------------------------------------------------------ per submission and mode
@pytest.mark.parametrize(("mode", "name"), _cases("complete"))
def test_results_are_complete_and_valid(mode: str, name: str, runs: Runs) -> None:
    run = runs.get(mode)
    path = run.out / name / "results.json"
    assert path.is_file(), f"{name}: no results.json"
    document = assert_valid_results(path, run.rubric)
    by_item = {t["extra_data"]["item"]: t for t in document["tests"]}
    for item in run.rubric.items:
        test = by_item[item.id]
        assert test["max_score"] == item.points and item.part in test["tags"], (name, item.id)
        if test["score"] < test["max_score"]:
            assert test["output"].strip(), f"{name}: {item.id} lost points without saying why"


@pytest.mark.parametrize(("mode", "name"), _cases("scores"))
def test_scores_are_the_honest_part(mode: str, name: str, runs: Runs) -> None:
    run = runs.get(mode)
    document = run.results(name)
    assert document is not None, f"{name}: no results.json"
    scores = dict.fromkeys(EXPECTED[name]["parts"], 0.0)
    for test in document["tests"]:
        part = run.rubric.part_of(test["extra_data"]["item"])
        scores[part] = scores.get(part, 0.0) + float(test["score"])
    tolerance = float(EXPECTED[name].get("tolerance", 0.01))
    above = {p: (scores[p], want) for p, want in EXPECTED[name]["parts"].items() if scores[p] > want + tolerance}
    below = {p: (scores[p], want) for p, want in EXPECTED[name]["parts"].items() if scores[p] < want - tolerance}
    feedback = {t["extra_data"]["item"]: t["output"][:400] for t in document["tests"] if t["score"] < t["max_score"]}
    assert not above, f"{name}: parts above the honest part (got, expected): {above}\n{document['output'][:2000]}"
    assert not below, f"{name}: honest parts lost (got, expected): {below}\n" + json.dumps(feedback, indent=1)[:3000]


@pytest.mark.parametrize(("mode", "name"), _cases("must_not"))
def test_the_attack_left_no_trace(mode: str, name: str, runs: Runs) -> None:
    run = runs.get(mode)
    problems = [f"{path} existed after grading" for path in run.traces[name]]
    for port in _must_not(name, "listen"):
        if int(port) in run.listen_failures:
            continue  # the port was taken; the text marker below still shows a connection
        problems += [f"connection to 127.0.0.1:{port} from {hit}" for hit in run.listener_hits[int(port)]]
    path = run.out / name / "results.json"
    if path.is_file():  # a missing file is test_results_are_complete_and_valid's failure
        text = path.read_text(encoding="utf-8")
        salts = {f"env:{key}": run.salt for key in _must_not(name, "env") if key == SALT_ENV}
        markers = {f"text:{marker}": marker for marker in _must_not(name, "text")} | salts
        for label, marker in markers.items():
            if marker in text:
                where = text.index(marker)
                problems.append(f"{label} in results.json: ...{text[max(0, where - 200):where + 300]}...")
    if "hostile-forged" in _must_not(name, "text"):  # the forger guesses other submissions' folders too
        problems += [f"a forged results.json at {other}" for other in run.out.glob("*/results.json")
                     if "hostile-forged" in other.read_text(encoding="utf-8")]
    assert not problems, f"{name}: " + "\n".join(problems)


@pytest.mark.parametrize(("mode", "name"), _cases("time"))
def test_ends_within_its_limits(mode: str, name: str, runs: Runs) -> None:
    run = runs.get(mode)
    document = run.results(name)
    assert document is not None, f"{name}: no results.json"
    own = float(document["execution_time"]) - run.lock_waits.get(name, 0.0)
    limit = run.rubric.limits.notebook_timeout + TIME_MARGIN
    assert own <= limit, f"{name}: {own:.1f} s of its own grading, over {limit:g} s"
