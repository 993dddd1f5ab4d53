"""`grader grade --dask`: the same per-submission job on a Dask cluster."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RUBRIC, SAMPLES

import grader.distributed
from grader.batch import discover, run_batch
from grader.engine import GradeOptions
from grader.errors import GraderError
from grader.paths import secret_paths
from grader.rubric import Rubric

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
    """The job's isolation, salt and secret paths travel; the worker adds its local grader paths."""
    seen: list[GradeOptions] = []
    monkeypatch.setattr(
        grader.distributed, "grade_one", lambda source, rub, out, options: seen.append(options)
    )
    sent = GradeOptions(isolation="rlimits", salt="s3cret", secret_paths=(tmp_path / "elsewhere",))
    grader.distributed.grade_on_worker(None, rubric, tmp_path, sent)  # type: ignore[arg-type]
    (options,) = seen
    assert options.isolation == "rlimits" and options.salt == "s3cret"
    assert options.secret_paths[0] == tmp_path / "elsewhere"
    assert set(secret_paths(rubric.path, tmp_path)) <= set(options.secret_paths)


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
