"""summary.html: one self-contained page summarising a batch run for the course staff.

No JavaScript and no external assets (it is opened from disk and mailed around): inline CSS, a
histogram drawn as inline SVG. Submission and student names come from students and exports, so
every one of them is escaped. It says which isolation layer the submissions ran in, with what a
layer weaker than the strongest leaves open, and lists the submissions the grader could not
grade; the statistics count only the graded ones.
"""

from __future__ import annotations

import html
import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from grader.batch import BatchRow, BatchRows, SubmissionSource, safe_name
from grader.isolation_policy import layer_warning
from grader.rubric import Rubric
from grader.sandbox.isolation import LAYERS

__all__ = ["histogram_svg", "write_summary"]

BINS = 10
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-weight: bold; margin-bottom: 0.3em; }
svg text { font-size: 11px; }
.warning { background: #fff3cd; border: 1px solid #e0b000; padding: 0.5em 0.8em; }
.side-by-side td { text-align: left; vertical-align: top; }
.side-by-side pre { margin: 0; font-size: 12px; white-space: pre-wrap; }
.parts { display: flex; flex-wrap: wrap; gap: 0 1.5em; }
.parts figure { margin: 0 0 1em; }
"""


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def histogram_svg(totals: Sequence[float], maximum: float, bins: int = BINS, what: str = "total score",
                  height: int = 200) -> str:
    """An inline SVG bar chart of totals in `bins` equal bins over [0, maximum]."""
    counts = [0] * bins
    for total in totals:
        index = int(total / maximum * bins) if maximum > 0 else 0
        counts[min(max(index, 0), bins - 1)] += 1  # the top score falls in the last bin
    width, bar, top = 40 * bins + 40, 36, max([*counts, 1])
    margin = 16  # room above the tallest bar for its count
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + margin + 40}" '
             f'role="img" aria-label="histogram of {what}s"><g transform="translate(0 {margin})">']
    for i, count in enumerate(counts):
        bar_height = round(height * count / top)
        x, y = 20 + 40 * i, height - bar_height
        low, high = maximum * i / bins, maximum * (i + 1) / bins
        parts.append(f'<rect x="{x}" y="{y}" width="{bar}" height="{bar_height}" fill="#4a78b5">'
                     f"<title>{low:g}-{high:g}: {count}</title></rect>")
        parts.append(f'<text x="{x + bar / 2}" y="{y - 3}" text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{x}" y="{height + 15}" text-anchor="middle">{low:g}</text>')
    parts.append(f'<text x="{20 + 40 * bins}" y="{height + 15}" text-anchor="middle">'
                 f"{maximum:g}</text>")
    parts.append(f'<text x="20" y="{height + 35}">'
                 f"{what} (bins of {maximum / bins:g} points)</text>")
    parts.append("</g></svg>")
    return "".join(parts)


def _item_table(rows: Sequence[BatchRow], rubric: Rubric) -> list[str]:
    lines = ["<table><caption>Per item</caption>",
             "<tr><th>item</th><th>part</th><th>points</th><th>full marks</th><th>mean</th></tr>"]
    for item in rubric.items:
        scores = [row.item_scores.get(item.id, 0.0) for row in rows]
        passed = sum(score >= item.points - 1e-9 for score in scores)
        rate = 100 * passed / len(rows) if rows else 0.0
        lines.append(f"<tr><td>{html.escape(item.id)}</td><td>{html.escape(item.part)}</td>"
                     f"<td>{item.points:g}</td><td>{rate:.0f} %</td>"
                     f"<td>{_mean(scores):.2f}</td></tr>")
    lines.append("</table>")
    return lines


def _part_table(rows: Sequence[BatchRow], rubric: Rubric) -> list[str]:
    manual = {m.part for m in rubric.manual}
    lines = ["<table><caption>Per part</caption>",
             "<tr><th>part</th><th>points</th><th>mean</th></tr>"]
    for part, points in rubric.parts.items():
        if part in manual:
            continue
        mean = _mean([row.part_scores.get(part, 0.0) for row in rows])
        lines.append(f"<tr><td>{html.escape(part)}</td><td>{points:g}</td><td>{mean:.2f}</td></tr>")
    lines.append("</table>")
    return lines


def _part_histograms(rows: Sequence[BatchRow], rubric: Rubric) -> list[str]:
    """A histogram of each part's scores (the totals' one is above)."""
    manual = {m.part for m in rubric.manual}
    lines = ['<h2>Scores per part</h2><div class="parts">']
    for part, points in rubric.parts.items():
        if part not in manual:
            scores = [row.part_scores.get(part, 0.0) for row in rows]
            lines.append(f"<figure><figcaption>{html.escape(part)}</figcaption>"
                         f"{histogram_svg(scores, points, bins=5, what='score', height=90)}</figure>")
    lines.append("</div>")
    return lines


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_SHOWN_GROUPS = 5


def _failure_groups(out_dir: Path, rows: Sequence[BatchRow], rubric: Rubric) -> list[str]:
    """Per item, its most frequent failure messages (the same message with other numbers is one
    group), each with how many submissions and links to a few of their results.json."""
    feedback: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        try:
            document = json.loads((out_dir / safe_name(row.name) / "results.json").read_text(encoding="utf-8"))
            tests = document["tests"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for test in tests:
            try:
                item, output = str(test["extra_data"]["item"]), str(test.get("output", ""))
                lost = float(test["score"]) < float(test["max_score"]) - 1e-9
            except (KeyError, TypeError, ValueError):
                continue
            if lost:
                # The first line that says what is wrong (a mapping's fields may start with a right one).
                lines = [line.strip() for line in output.splitlines() if line.strip()]
                first = next((line for line in lines if not line.lower().endswith(("correct.", ": ok."))),
                             lines[0] if lines else "(no message)")
                group = _NUMBER.sub("#", first.strip())[:200]
                feedback.setdefault(item, {}).setdefault(group, []).append(row.name)
    if not feedback:
        return []
    lines = ["<h2>Most frequent failure messages</h2>"]
    for rubric_item in rubric.items:
        groups = feedback.get(rubric_item.id)
        if not groups:
            continue
        lines.append(f"<table><caption>{html.escape(rubric_item.id)}</caption>"
                     "<tr><th>message (numbers as #)</th><th>submissions</th><th>for example</th></tr>")
        for group, names in sorted(groups.items(), key=lambda pair: -len(pair[1]))[:_SHOWN_GROUPS]:
            links = ", ".join(f'<a href="{html.escape(safe_name(name))}/results.json">{html.escape(name)}</a>'
                              for name in names[:3])
            lines.append(f"<tr><td>{html.escape(group)}</td><td>{len(names)}</td><td>{links}</td></tr>")
        lines.append("</table>")
    return lines


def _submission_table(rows: Sequence[BatchRow]) -> list[str]:
    lines = ["<table><caption>Submissions</caption>",
             "<tr><th>submission</th><th>submitters</th><th>total</th></tr>"]
    for row in rows:
        names = "; ".join(s.name for s in row.submitters)
        total = "not graded" if row.failure else f"{row.total:g} / {row.max_total:g}"
        lines.append(f"<tr><td>{html.escape(row.name)}</td><td>{html.escape(names)}</td>"
                     f"<td>{total}</td></tr>")
    lines.append("</table>")
    return lines


def _failed_table(rows: Sequence[BatchRow]) -> list[str]:
    """The submissions the grader could not grade, and why: a re-run grades them again."""
    failed = [row for row in rows if row.failure]
    if not failed:
        return []
    lines = ['<table class="warning"><caption>Not graded: the grader or the machine failed '
             "(run the same command again to grade them)</caption>",
             "<tr><th>submission</th><th>why</th></tr>"]
    lines += [f"<tr><td>{html.escape(row.name)}</td><td>{html.escape(row.failure)}</td></tr>" for row in failed]
    lines.append("</table>")
    return lines


def _isolation(rows: Sequence[BatchRow]) -> list[str]:
    """The isolation layers the submissions' code ran in, and what each weaker layer leaves open."""
    layers = Counter(str(row.extra.get("isolation") or "none") for row in rows if not row.failure)
    if not layers:
        return []
    shown = ", ".join(f"{html.escape(layer)} ({count})" for layer, count in layers.most_common())
    lines = [f"<p>Isolation layer of the notebooks (submissions): {shown}. The strongest is {LAYERS[0]}"
             + ("; none means no notebook code ran" if "none" in layers else "") + ".</p>"]
    for layer in LAYERS[1:]:
        if layer in layers:  # every layer but the strongest
            lines.append(f'<p class="warning"><strong>Weaker isolation: {html.escape(layer)}</strong> '
                         f"({layers[layer]} submission{'s' if layers[layer] != 1 else ''}): "
                         f"{html.escape(layer_warning(layer))}.</p>")
    return lines


def _similarity(rows: Sequence[BatchRow], rubric: Rubric, sources: Sequence[SubmissionSource] | None) -> list[str]:
    """The similarity section (grader/similarity.py) when the submissions' files are known: `sources`,
    else those of a batch's rows (`BatchRows.sources`)."""
    if sources is None:
        sources = rows.sources if isinstance(rows, BatchRows) else ()
    if not sources:
        return []
    from grader.similarity import similarity_section

    totals = {row.name: "not graded" if row.failure else f"{row.total:g} / {row.max_total:g}" for row in rows}
    return similarity_section(sources, rubric, totals)


def write_summary(path: Path, rows: Sequence[BatchRow], rubric: Rubric, extra_sections: Sequence[str] = (),
                  sources: Sequence[SubmissionSource] | None = None) -> None:
    """Write the batch summary page: isolation, item pass rates and means, part means, histograms,
    the most frequent failure messages per item, `extra_sections` (HTML, e.g. a regrade diff), and
    the similar submissions among `sources` (by default a batch's own, `BatchRows.sources`)."""
    graded = [row for row in rows if not row.failure]
    totals = [row.total for row in graded]
    failed = len(rows) - len(graded)
    title = html.escape(f"{rubric.title}: {len(rows)} submission{'s' if len(rows) != 1 else ''}"
                        + (f", {failed} not graded" if failed else ""))
    body = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>", *_failed_table(rows), *_isolation(rows),
        f"<p>Mean total {_mean(totals):.2f} of {rubric.autograded_points:g} autograded points"
        + (f", median {statistics.median(totals):.4g}" if totals else "")
        + (f" (over the {len(graded)} graded)" if failed else "") + ".</p>",
        histogram_svg(totals, rubric.autograded_points), *extra_sections,
        *_part_table(graded, rubric), *_part_histograms(graded, rubric), *_item_table(graded, rubric),
        *_failure_groups(path.parent, graded, rubric), *_similarity(rows, rubric, sources),
        *_submission_table(rows),
        "</body></html>",
    ]
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_text("\n".join(body) + "\n", encoding="utf-8")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk leaves no half-written page behind
        raise
