"""Isolation never drops below the instructor's minimum without a word, where there is something to protect.

The machine's layers are pretended (`choose_layer` and root-ness patched in the policy module):
the batch, Gradescope and `grader validate` refuse with the reason and what to do; a weaker
layer that is allowed is said on the console and in summary.html; `grader check` is not held
to it. One test runs the real thing: as root, bubblewrap off the PATH, no sandbox user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, RUBRIC, SAMPLES, assert_valid_results

import grader.isolation_policy as policy
from grader.cli import main
from grader.gradescope.entry import APOLOGY, run_gradescope
from grader.isolation_policy import IsolationRefused, decide
from grader.sandbox.isolation import LAYERS, IsolationError

NO_BWRAP = "bubblewrap (bwrap) is not installed"
NO_USER = "no user 'ghost' to run student code as (set GRADER_SANDBOX_USER)"


def _machine(monkeypatch: pytest.MonkeyPatch, *, root: bool = True, namespaces: str | None = NO_BWRAP,
             uid: str | None = NO_USER) -> None:
    """Pretend the policy runs on a machine where each layer works (None) or not (the reason)."""
    reasons = {"namespaces": namespaces, "uid": uid, "rlimits": None}

    def choose_layer(requested: str | None = None) -> str:
        wanted = requested or os.environ.get("GRADER_ISOLATION") or None
        if wanted is None:
            return next(layer for layer in LAYERS if reasons[layer] is None)
        if reasons[wanted] is not None:
            raise IsolationError(f"isolation layer {wanted!r} cannot be used here: {reasons[wanted]}")
        return wanted

    monkeypatch.setattr(policy, "choose_layer", choose_layer)
    monkeypatch.setattr(policy, "_as_root", lambda: root)
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    monkeypatch.delenv(policy.ENV_MIN, raising=False)


def test_as_root_rlimits_alone_is_refused_with_the_reason_and_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch)
    with pytest.raises(IsolationRefused) as refused:
        decide()
    message = str(refused.value)
    assert "refusing to grade" in message and "rlimits, weaker than the minimum uid" in message
    assert f"namespaces unavailable: {NO_BWRAP}" in message and f"uid unavailable: {NO_USER}" in message
    assert "apt-get install bubblewrap" in message and "pass --isolation rlimits" in message
    assert "GRADER_SANDBOX_USER to an existing unprivileged user" in message


@pytest.mark.parametrize("how", ["--isolation", "$GRADER_ISOLATION", "--min-isolation", "$GRADER_MIN_ISOLATION"])
def test_rlimits_asked_for_by_name_is_allowed_and_said(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch)
    if how == "$GRADER_ISOLATION":
        monkeypatch.setenv("GRADER_ISOLATION", "rlimits")
    if how == "$GRADER_MIN_ISOLATION":
        monkeypatch.setenv(policy.ENV_MIN, "rlimits")
    decision = decide("rlimits" if how == "--isolation" else None,
                      "rlimits" if how == "--min-isolation" else None)
    assert decision.layer == "rlimits"
    assert decision.warning is not None and "WITHOUT isolation" in decision.warning


def test_uid_is_the_default_as_root_without_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `grader grade` as root without bubblewrap: uid, with a warning."""
    _machine(monkeypatch, uid=None)
    decision = decide()
    assert decision.layer == "uid"
    assert decision.warning is not None and NO_BWRAP in decision.warning and "unprivileged user" in decision.warning


def test_the_strongest_layer_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, namespaces=None, uid=None)
    assert decide().layer == "namespaces" and decide().warning is None


@pytest.mark.parametrize("source", ["--min-isolation", "$GRADER_MIN_ISOLATION"])
def test_an_explicit_minimum_is_kept(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, uid=None)
    if source.startswith("$"):
        monkeypatch.setenv(policy.ENV_MIN, "namespaces")
    with pytest.raises(IsolationRefused, match=f"weaker than the minimum namespaces \\({re.escape(source)}\\)"):
        decide(None, "namespaces" if source.startswith("--") else None)
    with pytest.raises(IsolationRefused, match="lower the minimum"):
        decide("rlimits", "namespaces" if source.startswith("--") else None)


def test_a_bad_minimum_names_where_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, uid=None)
    monkeypatch.setenv(policy.ENV_MIN, "chroot")
    with pytest.raises(IsolationRefused, match=r"\$GRADER_MIN_ISOLATION 'chroot' is not an isolation layer"):
        decide()


def test_without_root_the_default_allows_rlimits_but_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, root=False, uid="it needs the grader to run as root")
    decision = decide()
    assert decision.layer == "rlimits" and "WITHOUT isolation" in (decision.warning or "")


def test_a_layer_asked_for_that_cannot_work_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch)
    with pytest.raises(IsolationRefused, match=f"'namespaces' cannot be used here: {re.escape(NO_BWRAP)}"):
        decide("namespaces")


def _answer_key(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLES / "answer_key", tmp_path / "subs" / "answer_key")
    return tmp_path / "subs"


def test_grade_refuses_before_grading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _machine(monkeypatch)
    out = tmp_path / "out"
    assert main(["grade", str(_answer_key(tmp_path)), "--out", str(out), "--rubric", str(RUBRIC)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grader: error: refusing to grade") and "--isolation rlimits" in err
    assert not out.exists()


def test_grade_says_a_weaker_layer_allowed_and_keeps_an_explicit_minimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--isolation rlimits as root: graded, said on stderr; with --min-isolation uid as well: refused."""
    _machine(monkeypatch)
    subs, out = _answer_key(tmp_path), tmp_path / "out"
    args = ["grade", str(subs), "--out", str(out), "--rubric", str(RUBRIC), "--isolation", "rlimits"]
    assert main(args) == 0
    assert "grader: warning: isolation layer rlimits" in capsys.readouterr().err
    assert main([*args, "--min-isolation", "uid", "--force"]) == 2
    assert "weaker than the minimum uid (--min-isolation)" in capsys.readouterr().err


def test_check_is_not_held_to_a_minimum(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The self-check protects nothing: rlimits runs even under a minimum of namespaces."""
    monkeypatch.setenv(policy.ENV_MIN, "namespaces")
    assert main(["check", str(SAMPLES / "reference"), "--rubric", str(RUBRIC), "--isolation", "rlimits"]) == 0
    assert "Isolation layer used for your notebook: rlimits" in capsys.readouterr().out


def test_validate_refuses_before_running_anything(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _machine(monkeypatch)
    assert main(["validate", str(RUBRIC)]) == 2
    assert "refusing to grade" in capsys.readouterr().err


def test_gradescope_refuses_with_the_reason_for_staff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The student gets the apology (a valid results.json), staff the reason on stdout; exit 1."""
    _machine(monkeypatch)
    root = tmp_path / "autograder"
    shutil.copytree(SAMPLES / "reference", root / "submission")
    assert run_gradescope(root, RUBRIC) == 1
    out = capsys.readouterr().out
    assert "grader: refusing to grade" in out and "GRADER_ISOLATION=rlimits" in out
    document = assert_valid_results(root / "results" / "results.json")
    assert document["score"] == 0 and document["output"] == APOLOGY


def test_gradescope_says_a_weaker_layer_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _machine(monkeypatch, uid=None)
    root = tmp_path / "autograder"
    shutil.copytree(SAMPLES / "answer_key", root / "submission")
    assert run_gradescope(root, RUBRIC) == 0
    assert "grader: warning: isolation layer uid" in capsys.readouterr().out


def test_as_root_without_bubblewrap_or_sandbox_user_nothing_runs_unisolated(tmp_path: Path) -> None:
    """The reported hole, for real: bubblewrap off the PATH, GRADER_SANDBOX_USER naming nobody."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("the hole needs root: without it rlimits runs as the grader's own user")
    env = {**os.environ, "PATH": str(tmp_path / "empty-path"), "GRADER_SANDBOX_USER": "no-such-user-here",
           "PYTHONPATH": str(ROOT)}
    env.pop("GRADER_ISOLATION", None)
    env.pop(policy.ENV_MIN, None)
    command = [sys.executable, "-m", "grader", "grade", str(SAMPLES / "reference"), "--out", str(tmp_path / "out"),
               "--rubric", str(RUBRIC)]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refusing to grade" in refused.stderr and "apt-get install bubblewrap" in refused.stderr
    assert "--isolation rlimits" in refused.stderr and not (tmp_path / "out").exists()
    accepted = subprocess.run([*command, "--isolation", "rlimits"], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "warning: isolation layer rlimits" in accepted.stderr and "WITHOUT isolation" in accepted.stderr
    page = (tmp_path / "out" / "summary.html").read_text(encoding="utf-8")
    assert "Weaker isolation: rlimits" in page
