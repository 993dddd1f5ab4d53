"""What an instructor sees after a run: a regrade diff (--compare), failure messages grouped per
item, a histogram per part; and the page as a browser renders it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from grader.cli import main

HW2 = ROOT / "sample_submissions" / "hw2"


def _changed_rubric(tmp_path: Path) -> Path:
    text = (ROOT / "rubrics" / "hw2.yaml").read_text(encoding="utf-8")
    assert "full_at: 0.95" in text
    path = tmp_path / "hw2.yaml"
    path.write_text(text.replace("full_at: 0.95", "full_at: 0.999"), encoding="utf-8")
    return path


def test_compare_lists_what_changed_per_student_and_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subs = tmp_path / "subs"
    for name in ("reference", "softmax_no_max_shift", "template"):
        shutil.copytree(HW2 / name, subs / name)
    old, new = tmp_path / "old", tmp_path / "new"
    assert main(["grade", str(subs), "--assignment", "hw2", "--out", str(old)]) == 0
    capsys.readouterr()
    code = main(["grade", str(subs), "--rubric", str(_changed_rubric(tmp_path)), "--out", str(new),
                 "--compare", str(old)])
    out = capsys.readouterr().out
    assert code == 1  # the samples' expected.json no longer hold: the comparison does not change that
    assert f"Compared with {old}: 2 item score(s) changed for 2 submission(s):" in out
    assert "reference  p4_accuracy  25 -> 24.7" in out and "template" not in out.split("Compared with")[1]
    page = (new / "summary.html").read_text(encoding="utf-8")
    assert "Changes since" in page and "p4_accuracy" in page


def test_compare_with_no_change_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert main(["grade", str(HW2 / "reference"), "--assignment", "hw2", "--out", str(out_dir)]) == 0
    assert main(["grade", str(HW2 / "reference"), "--assignment", "hw2", "--out", str(tmp_path / "again"),
                 "--compare", str(out_dir)]) == 0
    assert "no item score changed" in capsys.readouterr().out
    assert main(["grade", str(HW2 / "reference"), "--assignment", "hw2", "--out", str(tmp_path / "x"),
                 "--compare", str(tmp_path / "nowhere")]) == 2


def test_summary_groups_failure_messages_and_draws_each_part(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    main(["grade", str(HW2), "--assignment", "hw2", "--out", str(out_dir)])
    page = (out_dir / "summary.html").read_text(encoding="utf-8")
    assert "Most frequent failure messages" in page
    assert page.count("<figure><figcaption>") == 7  # one histogram per autograded part of hw2
    assert 'href="template/results.json"' in page  # a few submissions per message, linked
    assert "not implemented yet" in page  # the template's message, grouped


def test_the_page_renders_in_a_browser(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (Debian's chromium package) to render summary.html with")
    out_dir = tmp_path / "out"
    main(["grade", str(HW2), "--assignment", "hw2", "--out", str(out_dir)])
    shot = tmp_path / "summary.png"
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                             "--window-size=1200,2400", (out_dir / "summary.html").as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_a_hostile_old_run_reads_as_no_results(tmp_path: Path) -> None:
    """Deep nesting, a link to /dev/zero, NaN and odd item ids in OLD_OUT: no crash, no odd values."""
    from grader.compare import _item_scores

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert _item_scores(deep) is None
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    assert _item_scores(zero) is None
    odd = tmp_path / "odd.json"
    odd.write_text('{"tests": [{"extra_data": {"item": "p1"}, "score": NaN},'
                   ' {"extra_data": {"item": "\\u001b[31mred"}, "score": 1},'
                   ' {"extra_data": {"item": "p2"}, "score": 2}]}', encoding="utf-8")
    assert _item_scores(odd) == {"p2": 2.0}
