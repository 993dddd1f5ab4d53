"""A pytest plugin that grades a submission: rubric items become test items.

Inert unless `--grade-submission PATH` is given. Then every rubric item is a test item whose
outcome is the engine's (one grading run shared by all of them), and any ordinary test marked
`@pytest.mark.points(N, part="p2", visibility="visible")` is scored too: full points if it
passes, 0 with its failure text if not. results.json is written once, atomically, at the end
of the session, with every item in it, whatever happened (collected, failed, errored, skipped).

Custom checks must not run student code in the pytest process: use the `student_session`
fixture, which runs calls in the sandbox and returns plain data
(`student_session.call("step", x)`). docs/examples/instructor_checks.py is a worked example.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.outcome import Outcome
from grader.paths import choose_rubric
from grader.results import ItemResult, results_document, write_json_atomic
from grader.rubric import Item, Rubric, load_rubric

_PLUGIN_NAME = "grader-results"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the plugin (it does nothing unless --grade-submission is given)."""
    group = parser.getgroup("grader", "grade a submission against a rubric")
    group.addoption("--grade-submission", type=Path, default=None, metavar="PATH",
                    help="grade this submission folder or zip; rubric items become tests")
    group.addoption("--grade-rubric", type=Path, default=None, metavar="FILE",
                    help="rubric file (default: the only one in the checkout's rubrics/)")
    group.addoption("--grade-results", type=Path, default=Path("results.json"), metavar="FILE",
                    help="where to write results.json (default: %(default)s)")
    group.addoption("--grade-visible-only", action="store_true", help="only visible items (self-check)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; build and register the reporter only when asked."""
    config.addinivalue_line("markers", "points(value, part, visibility='visible', name=None, title=None): "
                                       "score this test as a rubric item")
    if config.getoption("--grade-submission", None) is None:
        return
    reporter = GradingReporter(
        load_rubric(choose_rubric(config.getoption("--grade-rubric"))), config.getoption("--grade-submission"),
        config.getoption("--grade-results"), config.getoption("--grade-visible-only"),
    )
    config.pluginmanager.register(reporter, _PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the reporter."""
    reporter = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if reporter is not None:
        reporter.close()
        config.pluginmanager.unregister(reporter)


class RubricItemFailed(Exception):
    """A rubric item that did not earn all its points; the message is its feedback."""


class RubricTestItem(pytest.Item):
    """One rubric item as a pytest test."""

    def __init__(self, *, rubric_item: Item, reporter: GradingReporter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rubric_item = rubric_item
        self.reporter = reporter

    def runtest(self) -> None:
        """Look the item up in the (shared) grading run; fail with its feedback if not full marks."""
        result = self.reporter.result_for(self.rubric_item.id)
        self.user_properties.append(("score", result.score))
        if not result.passed:
            raise RubricItemFailed(f"{result.score:g}/{result.max_score:g}\n{result.feedback}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The feedback alone, not a traceback into the grader."""
        if isinstance(excinfo.value, RubricItemFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the item is defined: the rubric's line."""
        return self.reporter.rubric.path, self.rubric_item.line - 1, f"rubric item {self.rubric_item.id}"


def _title(test: pytest.Item, marker: pytest.Mark) -> str:
    """What students see as the check's name: `title=`, else the test's docstring line, else its name."""
    doc = getattr(getattr(test, "obj", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return str(marker.kwargs.get("title") or first or test.name)


def _failure_message(report: pytest.TestReport) -> str:
    """What a student reads for a failed custom check: the assertion's message, not a traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "").strip()
    if not message:
        lines = report.longreprtext.strip().splitlines()
        return "\n".join(lines[-15:]) or f"The check failed during {report.when}."
    head, _, rest = message.partition(": ")
    if rest and head.rsplit(".", 1)[-1] in ("AssertionError", "StudentCallFailed"):
        message = rest  # the instructor's own words; the class name says nothing to a student
        own_words, explained, _ = message.partition("\nassert ")
        if explained and own_words.strip():
            message = own_words  # pytest's introspection after them names server paths and objects
    return message


@dataclass
class _Custom:
    item: Item
    outcome: Outcome | None = None


class GradingReporter:
    """Turns rubric items and points-marked tests into results.json, written once at the end."""

    def __init__(self, rubric: Rubric, submission_path: Path, results_path: Path, visible_only: bool) -> None:
        self.rubric = rubric
        self.submission_path = submission_path
        self.results_path = results_path
        self.visible_only = visible_only
        self._temp = tempfile.TemporaryDirectory(prefix="grader-pytest-")
        self._report: Any = None
        self._custom: dict[str, _Custom] = {}
        self._submission: Any = None

    def close(self) -> None:
        """Remove the temporary folder."""
        self._temp.cleanup()

    @property
    def submission(self) -> Any:
        """The opened submission (zips extracted once)."""
        if self._submission is None:
            from grader.submission import open_submission

            self._submission = open_submission(self.submission_path, dict(self.rubric.files), Path(self._temp.name))
        return self._submission

    def _grade(self) -> Any:
        if self._report is None:
            from grader.engine import GradeOptions, grade
            from grader.paths import secret_paths

            options = GradeOptions(visible_only=self.visible_only,
                                   secret_paths=secret_paths(self.rubric.path, self.results_path.parent))
            self._report = grade(self.submission, self.rubric, options)
        return self._report

    def result_for(self, item_id: str) -> ItemResult:
        """The engine's result for a rubric item."""
        return next(r for r in self._grade().results if r.item.id == item_id)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Add one test item per rubric item, before the ordinary tests; note points-marked tests."""
        rubric_items: list[pytest.Item] = [
            RubricTestItem.from_parent(session, name=f"rubric::{item.id}", rubric_item=item, reporter=self)
            for item in self.rubric.items if item.visibility == "visible" or not self.visible_only
        ]
        for test in items:
            marker = test.get_closest_marker("points")
            if marker is None:
                continue
            points = float(marker.args[0] if marker.args else marker.kwargs["value"])
            part = str(marker.kwargs.get("part", "custom"))
            custom = Item(
                id=str(marker.kwargs.get("name", test.name)), part=part, title=_title(test, marker), points=points,
                visibility=marker.kwargs.get("visibility", "visible"), check="pytest", kind="notebook",
                params={}, line=0,
            )
            self._custom[test.nodeid] = _Custom(custom)
        items[:0] = rubric_items

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record the outcome of points-marked tests (failures in any phase count)."""
        custom = self._custom.get(report.nodeid)
        if custom is None:
            return
        if report.failed:
            custom.outcome = Outcome.zero(_failure_message(report))
        elif report.skipped:
            custom.outcome = Outcome.zero("This check was skipped.")
        elif report.when == "call" and custom.outcome is None:
            custom.outcome = Outcome.full("Passed.")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write results.json once, with every item, graded or not."""
        report = self._grade()
        results = list(report.results)
        for custom in self._custom.values():
            outcome = custom.outcome or Outcome.zero("This check did not run.")
            results.append(ItemResult(custom.item, custom.item.points * outcome.fraction, outcome.feedback))
        document = results_document(results, output=report.output, execution_time=report.execution_time,
                                    extra_data={"submission": report.submission.name})
        write_json_atomic(self.results_path, document)
        self._written = (sum(r.score for r in results), sum(r.max_score for r in results))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line naming the results file, and a warning if custom checks change the totals."""
        score, total = getattr(self, "_written", (0.0, 0.0))
        for warning in self.custom_point_warnings():
            terminalreporter.write_line(f"grader: warning: {warning}", yellow=True)
        terminalreporter.write_sep("-", f"grader: {score:g}/{total:g} points, wrote {self.results_path}")

    def custom_point_warnings(self) -> list[str]:
        """Parts that points-marked tests push past the rubric's declared totals (or invent)."""
        added: dict[str, float] = {}
        for custom in self._custom.values():
            added[custom.item.part] = added.get(custom.item.part, 0.0) + custom.item.points
        warnings = []
        for part, points in sorted(added.items()):
            declared = self.rubric.parts.get(part)
            if declared is None:
                warnings.append(f"custom checks add {_points(points)} to part {part!r}, which the rubric "
                                f"{self.rubric.path.name} does not declare")
            else:
                warnings.append(f"custom checks add {_points(points)} to part {part!r}: "
                                f"{declared:g} declared in {self.rubric.path.name}, {declared + points:g} now")
        if added:
            total = self.rubric.autograded_points + sum(added.values())
            warnings.append(f"the autograded total is {total:g} points, not the rubric's "
                            f"{self.rubric.autograded_points:g}")
        return warnings


@pytest.fixture
def graded_submission(request: pytest.FixtureRequest) -> Any:
    """The submission being graded (its located files), for custom points-marked checks."""
    reporter = request.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if reporter is None:
        pytest.skip("no --grade-submission given")
    return reporter.submission


def _points(points: float) -> str:
    return f"{points:g} point" + ("" if points == 1 else "s")


class StudentCallFailed(AssertionError):
    """A call of the student's function raised, timed out, was missing or returned bad data."""


class StudentSession:
    """Runs calls of the student's notebook functions in the sandbox; plain data comes back.

    Every use starts a fresh sandboxed child that runs the notebook's cells, then the calls, so
    a check sees the notebook as a student left it and student code never runs in pytest's
    process.
    """

    def __init__(self, reporter: GradingReporter) -> None:
        self._reporter = reporter

    def __call__(self, calls: Sequence[Any]) -> Mapping[str, Any]:
        """Run `grader.sandbox.Call`s in one session; their results by call id."""
        from grader.notebook import load_code_cells
        from grader.paths import secret_paths
        from grader.sandbox.session import SessionLimits, run_session

        reporter = self._reporter
        path = reporter.submission.files.get("notebook")
        if path is None:
            raise StudentCallFailed(reporter.submission.problems.get("notebook", "The notebook is missing."))
        limits = SessionLimits(cell_timeout=reporter.rubric.limits.cell_timeout,
                               notebook_timeout=reporter.rubric.limits.notebook_timeout,
                               memory_mb=reporter.rubric.limits.memory_mb,
                               extra_packages=reporter.rubric.extra_packages)
        return run_session(load_code_cells(path), calls, limits, submission_dir=path.parent,
                           secret_paths=secret_paths(reporter.rubric.path, reporter.results_path.parent)).calls

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """The value `function(*args, **kwargs)` returned in the sandbox, or StudentCallFailed.

        Arguments and results are plain data (numbers, strings, lists, dicts, numpy arrays).
        """
        from grader.sandbox import Call

        timeout = float(self._reporter.rubric.limits.call_timeout)
        result = self([Call("call", function, tuple(args), kwargs, timeout=timeout)])["call"]
        if result.status == "ok":
            return result.value
        if result.status == "timeout":
            raise StudentCallFailed(f"{function} did not return within {timeout:g} s.")
        if result.status == "error":
            raise StudentCallFailed(f"{function} raised an error:\n{result.message}")
        raise StudentCallFailed(result.message or f"{function} could not be called ({result.status}).")


@pytest.fixture
def student_session(request: pytest.FixtureRequest) -> Iterator[StudentSession]:
    """Calls of the student's notebook functions, run in the sandbox (see StudentSession)."""
    reporter = request.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if reporter is None:
        pytest.skip("no --grade-submission given")
    yield StudentSession(reporter)
