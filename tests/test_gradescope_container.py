"""The autograder zip, unpacked and run the way Gradescope runs it.

The zip is built once, unpacked into a folder laid out like the container (/autograder ->
tmp_path/"autograder": source/, submission/, results/, submission_metadata.json) and the
unpacked run_autograder script runs each sample with the unpacked source. setup.sh is never
run (it apt-installs); its text is checked instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import RUBRIC, SAMPLES, assert_valid_results

from grader.gradescope.autograder_zip import build_autograder

POLICIES = "\nlate_policy: {per_day_penalty: 0.1, max_penalty: 0.5}\nrate_limit: {per_day: 3}\n"
DUE = "2024-03-01T23:59:00-08:00"


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The autograder zip of the bundled rubric."""
    return build_autograder(tmp_path_factory.mktemp("build") / "autograder.zip", RUBRIC)


def _unpack(archive: Path, target: Path) -> None:
    """Extract like `unzip`: with the Unix permission bits kept in the zip."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def _container(
    tmp_path: Path,
    archive: Path,
    sample: str | None,
    meta: dict[str, Any] | None = None,
    policies: bool = False,
) -> Path:
    """An /autograder folder: the unpacked zip in source/, the sample in submission/."""
    root = tmp_path / "autograder"
    _unpack(archive, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if sample is not None:
        for path in (SAMPLES / sample).iterdir():
            if path.name != "expected.json":
                shutil.copy2(path, root / "submission" / path.name)
    if meta is not None:
        (root / "submission_metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    if policies:
        rubric = root / "source" / "rubrics" / "hw1.yaml"
        rubric.write_text(rubric.read_text(encoding="utf-8") + POLICIES, encoding="utf-8")
    return root


def _run_autograder(root: Path, command: str | None = None) -> tuple[dict[str, Any], str]:
    """Run the unpacked run_autograder with the unpacked source on this interpreter."""
    wrapper = root.parent / "grader-bin"
    command = command or f'exec "{sys.executable}" -m grader "$@"'
    wrapper.write_text(f"#!/bin/sh\n{command}\n", encoding="utf-8")
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "GRADER_BIN": str(wrapper),
        "PYTHONPATH": str(root / "source"),
    }
    env.pop("GRADER_SALT", None)
    done = subprocess.run(
        [str(root / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = assert_valid_results(root / "results" / "results.json")
    return document, done.stdout


def _meta(created_at: str, previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": 99,
        "created_at": created_at,
        "assignment": {
            "due_date": DUE,
            "late_due_date": "2024-03-05T23:59:00-08:00",
            "title": "Homework 1",
            "total_points": "140.0",
        },
        "users": [{"name": "Doe, Jane", "email": "jdoe@example.edu", "sid": "1"}],
        "previous_submissions": previous or [],
    }


def _parts(document: dict[str, Any]) -> dict[str, float]:
    parts: dict[str, float] = {}
    for test in document["tests"]:
        parts[test["tags"][0]] = parts.get(test["tags"][0], 0.0) + test["score"]
    return parts


def _expected_parts(sample: str) -> dict[str, float]:
    return json.loads((SAMPLES / sample / "expected.json").read_text(encoding="utf-8"))["parts"]


@pytest.mark.parametrize("sample", ["reference", "template", "empty", "malformed_yaml"])
def test_container_grades_sample(
    sample: str, tmp_path: Path, autograder_zip: Path, rubric: Any
) -> None:
    """Each sample's results.json is valid, complete and scores what its expected.json says."""
    meta = _meta("2024-03-01T20:00:00-08:00") if sample == "reference" else None  # on time
    document, stdout = _run_autograder(_container(tmp_path, autograder_zip, sample, meta))
    assert_valid_results(tmp_path / "autograder" / "results" / "results.json", rubric)
    assert _parts(document) == pytest.approx(_expected_parts(sample), abs=0.01)
    assert document["score"] == pytest.approx(sum(_expected_parts(sample).values()), abs=0.01)
    assert "isolation layer" in stdout


def test_container_applies_late_penalty(tmp_path: Path, autograder_zip: Path) -> None:
    """1 day 2 h late at 10 % per started day: the top-level score is 80 % of the tests' sum."""
    root = _container(
        tmp_path,
        autograder_zip,
        "malformed_yaml",
        _meta("2024-03-03T02:00:00-08:00"),
        policies=True,
    )
    document, _ = _run_autograder(root)
    tests_total = sum(test["score"] for test in document["tests"])
    assert tests_total > 0
    assert document["score"] == pytest.approx(0.8 * tests_total, abs=0.01)
    assert "20 % penalty" in document["output"]
    assert document["extra_data"]["late"]["days_late"] == 2


def test_container_refuses_over_rate_limit(
    tmp_path: Path, autograder_zip: Path, rubric: Any
) -> None:
    """A 4th submission in 24 h is not graded: tests 0 with the reason, the earlier score kept."""
    previous = [
        {"submission_time": f"2024-03-01T1{h}:00:00-08:00", "score": f"{100 + h}.0"}
        for h in range(3)
    ]
    root = _container(
        tmp_path,
        autograder_zip,
        "reference",
        _meta("2024-03-01T20:00:00-08:00", previous),
        policies=True,
    )
    document, _ = _run_autograder(root)
    assert all(test["score"] == 0 for test in document["tests"])
    assert len(document["tests"]) == len(rubric.items)
    assert "limit is 3" in document["output"]
    assert document["score"] == 102  # the latest earlier submission's
    assert "over the rate limit" in document["tests"][0]["output"]


def test_container_corrupt_rubric_still_writes_results(
    tmp_path: Path, autograder_zip: Path
) -> None:
    """A rubric that does not load: a top-level 0 and one "autograder error" test."""
    root = _container(tmp_path, autograder_zip, "reference")
    (root / "source" / "rubrics" / "hw1.yaml").write_text("items: [\n", encoding="utf-8")
    document, stdout = _run_autograder(root)
    assert document["score"] == 0
    assert [test["name"] for test in document["tests"]] == ["autograder error"]
    assert "not your fault" in document["output"]
    assert "Traceback" in stdout


def test_container_grader_that_cannot_start_still_writes_results(
    tmp_path: Path, autograder_zip: Path
) -> None:
    """Even with no grader at all (a broken venv), run_autograder leaves a valid results.json."""
    root = _container(tmp_path, autograder_zip, "empty")
    document, _ = _run_autograder(
        root, "echo 'ModuleNotFoundError: No module named numpy' >&2; exit 1"
    )
    assert document["score"] == 0
    assert "could not start" in document["output"]


def test_engine_crash_scores_every_item_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rubric: Any
) -> None:
    """The engine raising: every rubric item at 0 with an apology, traceback on stdout."""
    import grader.engine
    from grader.gradescope.entry import APOLOGY, run_gradescope

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom in the engine")

    monkeypatch.setattr(grader.engine, "grade", explode)
    (tmp_path / "submission").mkdir()
    assert run_gradescope(tmp_path, RUBRIC) == 1
    document = assert_valid_results(tmp_path / "results" / "results.json", rubric)
    assert document["score"] == 0
    assert {test["output"] for test in document["tests"]} == {APOLOGY}
    assert "boom in the engine" in capsys.readouterr().out


def test_unreadable_metadata_scores_every_item_zero(tmp_path: Path, rubric: Any) -> None:
    """A metadata file that cannot be parsed is a grader fault: zeros and the apology."""
    from grader.gradescope.entry import run_gradescope

    (tmp_path / "submission").mkdir()
    (tmp_path / "submission_metadata.json").write_text("{not json", encoding="utf-8")
    assert run_gradescope(tmp_path, RUBRIC) == 1
    document = assert_valid_results(tmp_path / "results" / "results.json", rubric)
    assert document["score"] == 0 and "not your fault" in document["output"]


# --- the zip and its scripts --------------------------------------------------------------


def test_zip_holds_scripts_at_root_and_only_what_installs(autograder_zip: Path) -> None:
    """setup.sh and run_autograder at the root (executable), the package sources, no tests."""
    with zipfile.ZipFile(autograder_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        salt = archive.read("salt.txt").decode().strip()
    for script in ("setup.sh", "run_autograder"):
        assert (infos[script].external_attr >> 16) & 0o111 == 0o111, script
        assert stat.S_ISREG(infos[script].external_attr >> 16)
    names = set(infos)
    assert {
        "pyproject.toml",
        "README.md",
        "rubrics/hw1.yaml",
        "grader/cli.py",
        "reference_solutions/hw1/hw1_code.py",
    } <= names
    assert not any(n.startswith(("tests/", "sample_submissions/")) for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert re.fullmatch(r"[0-9a-f]{64}", salt)


def test_each_build_has_a_new_salt(tmp_path: Path, autograder_zip: Path) -> None:
    """A rebuilt autograder never reuses the previous salt."""
    again = build_autograder(tmp_path / "again.zip", RUBRIC)
    with zipfile.ZipFile(autograder_zip) as first, zipfile.ZipFile(again) as second:
        assert first.read("salt.txt") != second.read("salt.txt")


@pytest.mark.parametrize("script", ["setup.sh", "run_autograder"])
def test_scripts_are_bash_with_lf_endings(
    script: str, tmp_path: Path, autograder_zip: Path
) -> None:
    """A bash shebang, LF only, and `bash -n` finds no syntax error."""
    with zipfile.ZipFile(autograder_zip) as archive:
        data = archive.read(script)
    assert data.startswith(b"#!/usr/bin/env bash\n")
    assert b"\r" not in data
    (tmp_path / script).write_bytes(data)
    done = subprocess.run(
        ["bash", "-n", str(tmp_path / script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_setup_keeps_the_system_python(autograder_zip: Path) -> None:
    """Packages go into /autograder/venv; the system python3 is never replaced or touched."""
    with zipfile.ZipFile(autograder_zip) as archive:
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    commands = [
        line.strip()
        for line in setup.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert "python3 -m venv /autograder/venv" in setup
    pip_commands = [
        c for c in commands if re.search(r"\bpip3?\b", c) and not c.startswith("apt-get")
    ]
    assert pip_commands and all(c.startswith("/autograder/venv/bin/") for c in pip_commands)
    assert not re.search(r"update-alternatives|ln -s|/usr/bin/python|rm .*python", setup)
    assert re.search(r"apt-get install .*bubblewrap", setup) and "python3-venv" in setup
    assert "GRADER_SANDBOX_USER=grader-student" in run
    assert "adduser --system --no-create-home --group" in setup and "id -u grader-student" in setup
    assert (
        "GRADER_SALT_FILE" in run and "rubrics/hw1.yaml" in run and run.rstrip().endswith("exit 0")
    )


def test_unpacked_source_builds_a_wheel(tmp_path: Path, autograder_zip: Path) -> None:
    """What setup.sh pip-installs is a buildable project (e.g. README.md is present)."""
    setuptools = pytest.importorskip("setuptools")
    if importlib.util.find_spec("wheel") is None and _version(setuptools.__version__) < (70, 1):
        pytest.skip("building a wheel offline needs the wheel package or setuptools >= 70.1")
    _unpack(autograder_zip, tmp_path / "source")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(tmp_path / "source"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("grader-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert "reference_solutions/hw1/hw1_code.py" in archive.namelist()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


@pytest.mark.parametrize("layer", ["namespaces", "uid"])
def test_student_code_cannot_read_salt_or_metadata(
    layer: str, tmp_path: Path, autograder_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook that tries to print the salt and the metadata gets neither into results.json."""
    import nbformat

    from grader.sandbox.isolation import ENV_LAYER, available_layers

    if layer not in available_layers():
        pytest.skip(f"the {layer} isolation layer is not available here")
    monkeypatch.setenv(ENV_LAYER, layer)
    # Under /tmp and world-traversable, so that only the grader's protection keeps them secret
    # (pytest's own tmp_path is private to root, which would hide them from the uid anyway).
    base = Path(tempfile.mkdtemp(prefix="grader-container-", dir="/tmp"))
    try:
        base.chmod(0o755)
        root = _container(base, autograder_zip, None, _meta("2024-03-01T20:00:00-08:00"))
        targets = [root / "source" / "salt.txt", root / "submission_metadata.json"]
        for path in (root, root / "source", *targets):
            path.chmod(0o755 if path.is_dir() else 0o644)
        cell = (
            "texts = []\n"
            f"for name in {[str(t) for t in targets]!r}:\n"
            "    try:\n"
            "        with open(name) as stream:  # builtins only: the uid may not read stdlib\n"
            "            texts.append(stream.read())\n"
            "    except Exception as exc:\n"
            "        texts.append(repr(exc))\n"
            "raise RuntimeError('LEAK:' + '|'.join(texts))\n"
        )
        notebook = nbformat.v4.new_notebook()
        notebook.cells.append(nbformat.v4.new_code_cell(cell))
        nbformat.write(notebook, str(root / "submission" / "hw1_code.ipynb"))
        document, _ = _run_autograder(root)
        text = (root / "results" / "results.json").read_text(encoding="utf-8")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert document["extra_data"]["isolation"] == layer
    assert "LEAK:" in text, "the cell should have run and reported its error"
    assert re.search(r"[0-9a-f]{64}", text) is None  # the salt
    assert "jdoe@example.edu" not in text
