"""`grader grade --dask`: the same per-submission job on a Dask cluster."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RUBRIC, SAMPLES

import grader.distributed
from grader.batch import BatchRow, SubmissionSource, _failed_row, discover, run_batch
from grader.distributed import SubmissionBytes, pack_submission, unpack_submission
from grader.engine import GradeOptions
from grader.errors import GraderError
from grader.paths import secret_paths
from grader.rubric import Rubric
from grader.seeds import submission_fingerprint

NAMES = ["answer_key", "template"]


@pytest.fixture(scope="module")
def cluster_address() -> Iterator[str]:
    """A one-worker in-process cluster (quick to start; the sandbox still forks its own child)."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'grader[dask]')"
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _results(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / name / "results.json").read_text(encoding="utf-8"))


def test_dask_run_matches_local_run(tmp_path: Path, cluster_address: str, rubric: Rubric) -> None:
    """Same scores, same isolation layer, results and gradebook written, as a local run."""
    sources = discover([SAMPLES / n for n in NAMES], dict(rubric.files), tmp_path)
    options = GradeOptions(secret_paths=secret_paths(rubric.path, tmp_path), salt="same-salt")
    local = run_batch(sources, rubric, tmp_path / "local", options)
    remote = run_batch(sources, rubric, tmp_path / "dask", options, dask_address=cluster_address)
    assert [(r.name, r.item_scores) for r in remote] == [(r.name, r.item_scores) for r in local]
    for name in NAMES:
        assert (
            _results(tmp_path / "dask", name)["extra_data"]["isolation"]
            == _results(tmp_path / "local", name)["extra_data"]["isolation"]
        )
    assert (tmp_path / "dask" / "gradebook.csv").is_file() and (
        tmp_path / "dask" / "summary.html"
    ).is_file()


def test_worker_job_keeps_the_senders_options_and_adds_its_own_secrets(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rubric: Rubric,
) -> None:
    """The job's isolation, salt and secret paths travel; the worker adds its local grader paths
    and its own copy of the submission, which it grades from a temporary folder of its own."""
    seen: list[tuple[SubmissionSource, Path, GradeOptions]] = []

    def fake_grade_one(source: SubmissionSource, rub: Rubric, out: Path, options: GradeOptions) -> BatchRow:
        seen.append((source, out, options))
        assert (source.path / "hw1_written.yaml").read_bytes() == (
            SAMPLES / "answer_key" / "hw1_written.yaml"
        ).read_bytes()
        return _failed_row(source, rub, "not graded in this test")

    monkeypatch.setattr(grader.distributed, "grade_one", fake_grade_one)
    sent = GradeOptions(isolation="rlimits", salt="s3cret", secret_paths=(tmp_path / "elsewhere",))
    job = pack_submission(SubmissionSource("answer_key", SAMPLES / "answer_key", fingerprint="sha256:x"))
    graded = grader.distributed.grade_on_worker(job, rubric, sent)
    ((source, out, options),) = seen
    assert options.isolation == "rlimits" and options.salt == "s3cret"
    assert options.secret_paths[0] == tmp_path / "elsewhere"
    assert set(secret_paths(rubric.path, out)) <= set(options.secret_paths)
    assert any(folder in source.path.parents for folder in options.secret_paths)
    assert source.fingerprint == "sha256:x" and source.name == "answer_key"
    assert SAMPLES not in source.path.parents and not source.path.exists()  # its own copy, removed
    assert graded.document is None and graded.failure == "not graded in this test"


def _tree(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry below root: kind and bytes (a link: its target)."""
    found: dict[str, tuple[str, bytes]] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.fsencode(os.readlink(path)))
        elif path.is_dir():
            found[name] = ("folder", b"")
        elif path.is_file():
            found[name] = ("file", path.read_bytes())
        else:
            found[name] = ("special", b"")
    return found


def test_submission_bytes_rebuild_the_same_tree(tmp_path: Path) -> None:
    """Files, nested and empty folders, links (not followed) and FIFOs arrive as they were sent:
    the same tree, so the same hidden inputs (which hash the tree) and the same grade."""
    folder = tmp_path / "sent" / "alice"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "hw1_written.yaml").write_bytes(b"q1_1: 3\n")
    (folder / "nested" / "deeper" / "data.bin").write_bytes(bytes(range(256)) * 10)
    (folder / "nested" / "caf\u00e9 (1).txt").write_text("x", encoding="utf-8")
    (folder / "to_secret").symlink_to("/etc/hostname")
    (folder / "to_folder").symlink_to("nested")
    os.mkfifo(folder / "pipe")
    job = pack_submission(SubmissionSource("alice", folder))
    assert not any(str(tmp_path).encode() in data for _, _, data in job.entries)
    (tmp_path / "got").mkdir()
    rebuilt = unpack_submission(job, tmp_path / "got")
    assert rebuilt.name == "alice" and _tree(rebuilt) == _tree(folder)
    assert submission_fingerprint([rebuilt / "hw1_written.yaml"]) == submission_fingerprint(
        [folder / "hw1_written.yaml"]
    )

    archive = tmp_path / "sent" / "bob.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))
    (tmp_path / "got2").mkdir()
    rebuilt_zip = unpack_submission(pack_submission(SubmissionSource("bob", archive)), tmp_path / "got2")
    assert rebuilt_zip.name == "bob.zip" and rebuilt_zip.read_bytes() == archive.read_bytes()


@pytest.mark.parametrize("name", [b"../escape", b"/etc/passwd", b"a/../../b", b"a/./b", b"a//b"])
def test_unpacking_refuses_names_that_leave_the_submission(tmp_path: Path, name: bytes) -> None:
    job = SubmissionBytes("x", "x", ((name, "file", b"data"),))
    with pytest.raises(ValueError, match="refused entry name"):
        unpack_submission(job, tmp_path)
    assert not (tmp_path.parent / "escape").exists()


def test_unpacking_never_writes_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "in").mkdir()
    job = SubmissionBytes("x", "x", ((b"link", "link", os.fsencode(tmp_path / "outside")),
                                     (b"link/planted", "file", b"data")))
    with pytest.raises(ValueError, match="below a link"):
        unpack_submission(job, tmp_path / "in")
    assert not (tmp_path / "outside" / "planted").exists()


def test_too_large_a_submission_is_not_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "weights.npz").write_bytes(bytes(2048))
    monkeypatch.setattr(grader.distributed, "MAX_SENT_BYTES", 1024)
    with pytest.raises(grader.distributed.TooLargeToSend, match="grade it without --dask"):
        pack_submission(SubmissionSource("big", tmp_path / "big"))


def test_grade_cli_dask_without_dask_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dask without dask.distributed: a clear error naming the extra, exit 2."""
    from grader.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    code = main(
        [
            "grade",
            str(SAMPLES / "answer_key"),
            "--out",
            str(tmp_path / "out"),
            "--rubric",
            str(RUBRIC),
            "--dask",
            "tcp://127.0.0.1:1",
        ]
    )
    assert code == 2
    assert "pip install 'grader[dask]'" in capsys.readouterr().err


def test_unreachable_scheduler_is_a_grader_error(
    tmp_path: Path, rubric: Rubric, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler that does not answer: GraderError naming the address."""
    pytest.importorskip("distributed")
    monkeypatch.setattr(grader.distributed, "CONNECT_TIMEOUT", "1s")
    sources = discover([SAMPLES / "answer_key"], dict(rubric.files), tmp_path)
    with pytest.raises(GraderError, match=re.escape("tcp://127.0.0.1:9")):
        run_batch(
            sources, rubric, tmp_path / "out", GradeOptions(), dask_address="tcp://127.0.0.1:9"
        )
