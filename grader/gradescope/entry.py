"""The Gradescope entry point: grade /autograder/submission into /autograder/results/results.json.

Gradescope shows "The autograder failed to execute correctly" when results.json is missing or
malformed, and the student then sees nothing at all. So `run_gradescope` writes a schema-valid
file in every case: a fault anywhere (rubric, metadata, engine) becomes every rubric item at
score 0 with an apology, and the traceback goes to stdout, which only instructors see.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.gradescope.metadata import SubmissionMetadata, load_metadata
from grader.gradescope.policy import LatePolicy, RateLimit, late_decision, rate_decision

if TYPE_CHECKING:
    from grader.rubric import Rubric

# The rubric, results and engine modules are imported inside the guarded code below: if even
# importing them fails (a broken install), the student must still get a results.json.

__all__ = ["APOLOGY", "run_gradescope"]

APOLOGY = ("The autograder hit an internal error and could not grade this submission. This is not "
           "your fault: your instructor can see the error and will regrade it. Every item shows 0 "
           "until then.")
SALT_FILE_NAME = "salt.txt"
"""The private salt's file inside /autograder/source, written by `build_autograder`."""
ACCEPT_RLIMITS = ("set GRADER_ISOLATION=rlimits (or GRADER_MIN_ISOLATION=rlimits) in run_autograder to "
                  "accept running student code unisolated")
"""How to accept the rlimits layer on Gradescope, where there is no command line to pass it on."""


def run_gradescope(root: Path = Path("/autograder"), rubric_path: Path | None = None) -> int:
    """Grade root/submission and write root/results/results.json; 0 if graded, 1 after a fault.

    Late policy (rubric `late_policy`): the penalty scales the top-level `score` (the sum of
    the tests' scores times 1 - penalty); the tests keep their earned points so students see
    what they got right, and the top-level output says why the total is lower.

    Rate limit (rubric `rate_limit`): a refused submission is not graded at all (its code does
    not run). Its tests all show 0 with the reason, but its top-level `score` carries over the
    latest earlier submission's score: Gradescope counts the most recent submission, and a
    refusal must neither earn new points nor wipe out the ones already earned.
    """
    started = time.perf_counter()
    target = root / "results" / "results.json"
    rubric: Rubric | None = None
    try:
        rubric = _load_rubric(rubric_path)
        document = _grade_container(root, rubric)
        code = 0
    except Exception:
        print("grader: grading failed; every item scores 0 until a regrade.", flush=True)
        print(traceback.format_exc(), flush=True)
        try:
            document = _failure_document(rubric)
        except Exception:
            print(traceback.format_exc(), flush=True)
            document = _failure_document(None)
        code = 1
    document["execution_time"] = round(time.perf_counter() - started, 3)
    _write(target, document)
    print(f"grader: wrote {target} (score {document.get('score', 0):g})", flush=True)
    return code


def _load_rubric(rubric_path: Path | None) -> Rubric:
    from grader.paths import choose_rubric
    from grader.rubric import load_rubric

    return load_rubric(choose_rubric(rubric_path))


def _grade_container(root: Path, rubric: Rubric) -> dict[str, Any]:
    """Grade the container's submission under the rubric's policies."""
    meta_path = root / "submission_metadata.json"
    meta = load_metadata(meta_path) if meta_path.is_file() else None
    if meta is None:
        print(f"grader: no {meta_path}; late and rate-limit policies are not applied.", flush=True)
    elif rubric.rate_limit_per_day is not None:
        decision = rate_decision(meta, RateLimit(rubric.rate_limit_per_day))
        print(f"grader: rate limit: {decision.message}", flush=True)
        if not decision.allowed:
            return _refused_document(rubric, meta, decision.message)

    from grader.engine import GradeOptions, grade
    from grader.isolation_policy import IsolationRefused, decide
    from grader.paths import secret_paths
    from grader.submission import open_submission

    # The container holds the salt, the references and earlier results: never graded unisolated
    # as root unless asked for by name. The student sees the apology; the reason is for staff.
    try:
        isolation = decide(accept=ACCEPT_RLIMITS)
    except IsolationRefused as exc:
        print(f"grader: {exc}", flush=True)
        raise
    if isolation.warning:
        print(f"grader: warning: {isolation.warning}", flush=True)
    # Besides the grader's own: the unpacked zip (salt, rubric) and the metadata, which holds the
    # previous submission's results, hidden items' feedback included.
    secrets = (*secret_paths(rubric.path, root / "results"), (root / "source").resolve(),
               meta_path.resolve())
    options = GradeOptions(salt=_salt(root), secret_paths=tuple(dict.fromkeys(secrets)),
                           isolation=isolation.layer)
    with tempfile.TemporaryDirectory(prefix="grader-") as workdir:
        submission = open_submission(root / "submission", dict(rubric.files), Path(workdir),
                                     name=meta.id if meta and meta.id else "submission",
                                     submitters=meta.users if meta else ())
        report = grade(submission, rubric, options)
    for entry in report.log:
        print(entry, flush=True)  # internal errors on single items: instructor-only stdout
    print(f"grader: isolation layer {report.isolation or 'none'}; "
          f"{report.score:g}/{report.max_score:g} before policies", flush=True)

    messages = [report.output] if report.output else []
    score = report.score
    extra: dict[str, Any] = {}
    if meta is not None and rubric.late_policy is not None:
        config = rubric.late_policy
        late = late_decision(meta, LatePolicy(config.per_day_penalty, config.max_penalty,
                                              config.grace_minutes))
        score = report.score * (1.0 - late.penalty_fraction)
        # The penalised total only: the sum before it would reveal points of hidden items.
        applied = (" It is applied to your total score; each item below shows the points before it."
                   if late.penalty_fraction else "")
        messages.insert(0, late.message + applied)
        extra["late"] = {"days_late": late.days_late, "penalty": late.penalty_fraction,
                         "score_before_penalty": report.score}
    document = dataclasses.replace(report, output="\n\n".join(messages)).document(score=score)
    document["extra_data"].update(extra)
    return document


def _salt(root: Path) -> str | None:
    """The private salt: $GRADER_SALT / $GRADER_SALT_FILE, else the zip's salt file."""
    from grader.seeds import private_salt

    value, secret = private_salt()
    if secret:
        return value
    bundled = root / "source" / SALT_FILE_NAME
    if bundled.is_file() and bundled.read_text(encoding="utf-8").strip():
        return bundled.read_text(encoding="utf-8").strip()
    # Hidden inputs then come from the public development salt: still graded, but guessable.
    print("grader: warning: no private salt found; hidden inputs use the development salt.",
          flush=True)
    return None


def _refused_document(rubric: Rubric, meta: SubmissionMetadata, reason: str) -> dict[str, Any]:
    """Results for a submission refused by the rate limit: nothing run, no new points."""
    from grader.results import ItemResult, results_document

    earlier = [p for p in meta.previous_submissions if p.score is not None
               and not p.autograder_error and p.submission_time <= meta.created_at]
    kept = max(earlier, key=lambda p: p.submission_time).score if earlier else None
    carried = (f"Your score stays at {kept:g}, the score of your previous submission."
               if kept is not None else "You have no earlier graded submission, so the score is 0.")
    note = "Not graded: this submission is over the rate limit (see the top of the page)."
    results = [ItemResult(item, 0.0, note) for item in rubric.items]
    return results_document(results, output=f"{reason}\n\n{carried}", score=kept or 0.0,
                            extra_data={"rate_limited": True, "carried_score": kept or 0.0})


def _failure_document(rubric: Rubric | None) -> dict[str, Any]:
    """Every rubric item at 0 with the apology; one "autograder error" test without a rubric."""
    if rubric is not None:
        from grader.results import ItemResult, results_document

        results = [ItemResult(item, 0.0, APOLOGY) for item in rubric.items]
        return results_document(results, output=APOLOGY, score=0.0,
                                extra_data={"grader_error": True})
    return {
        "score": 0,
        "output": APOLOGY,
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [{"name": "autograder error", "score": 0, "max_score": 0, "status": "failed",
                   "output": APOLOGY, "visibility": "visible"}],
        "extra_data": {"grader_error": True},
    }


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write results.json atomically, even when the grader's own modules cannot be imported."""
    try:
        from grader.results import write_json_atomic
    except Exception:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(json.dumps(document, allow_nan=False), encoding="utf-8")
        os.replace(temp, path)
        return
    write_json_atomic(path, document)
