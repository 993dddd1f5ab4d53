"""Similar submissions of a batch, for the course staff: it never changes a grade.

Two kinds of evidence, each read from the submissions' own files (nothing is run):

- **Weights.** Files with the same bytes ("identical file"), the same arrays saved again
  ("identical arrays"), or the same network up to a permutation of its hidden units (an MLP
  `W1 (D, H)`, `b1 (H,)`, `W2 (H, C)`, `b2 (C,)`: the units are sorted by their own weights,
  values quantised to about 1e-9 relative, then hashed).
- **Notebooks.** The code of the notebook's code cells, tokenised with the standard library's
  `tokenize`: comments, blank lines, indentation and docstrings are dropped, every name that is
  not a keyword, a builtin or an attribute (`np.asarray` keeps `asarray`) becomes `V`, every
  number `N` and every string `S`, so renaming variables and rewriting comments change nothing.
  Hashes of k-grams of these tokens are winnowed (Schleimer, Wilkerson and Aiken, SIGMOD 2003:
  the fingerprints MOSS uses); every k-gram of the assignment's template notebook is removed, so
  code handed to every student never counts. A pair's similarity is |A ∩ B| / min(|A|, |B|) over
  what is left; pairs at or above `THRESHOLD` with at least `MIN_FINGERPRINTS` fingerprints each
  are flagged and shown with their longest matching region side by side.

The work is bounded: at most `MAX_SUBMISSIONS` submissions and `MAX_CODE_CHARS` of code each;
candidate pairs come from an inverted index (fingerprint -> submissions, fingerprints shared by
more than `MAX_POSTING` distinct notebooks skipped as common idiom), never from all pairs, and
notebooks with the same fingerprints are compared once. A submission whose files cannot be read
is skipped.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import html
import io
import keyword
import tempfile
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from grader.notebook import CodeCell, load_notebook, parse_notebook
from grader.paths import SAMPLES
from grader.rubric import Rubric
from grader.submission import open_submission
from grader.weights import load_weights

__all__ = ["MAX_POSTING", "MAX_SUBMISSIONS", "MIN_FINGERPRINTS", "THRESHOLD", "WINDOW", "K", "NotebookPair",
           "SimilarityReport", "WeightsGroup", "analyse", "fingerprint_code", "similarity_section",
           "weights_hashes"]

K = 12
"""Tokens per k-gram: a dozen normalised tokens is about one line of code."""
WINDOW = 8
"""Winnowing window: any match of WINDOW + K - 1 tokens (about two lines) is always found."""
THRESHOLD = 0.8
"""Flag a pair when this share of the smaller notebook's fingerprints is in the other."""
MIN_FINGERPRINTS = 15
"""Fingerprints (beyond the template's code) each notebook of a flagged pair must have."""
MAX_SUBMISSIONS = 1000
MAX_CODE_CHARS = 500_000
MAX_POSTING = 50
"""A fingerprint in more distinct notebooks than this is common idiom: it finds no candidates
(it still counts in the similarity of the candidates found by others)."""
MIN_CANDIDATE = 5
"""Uncommon fingerprints two notebooks must share to be compared at all."""
MAX_PAIRS_SHOWN = 30
"""Flagged pairs shown with their code; further ones are listed by name."""
MAX_PAIRS_LISTED = 300
MAX_LINES_SHOWN = 60
_QUANTUM_BITS = 30  # mantissas rounded to 2**-30, about 1e-9 relative

_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))  # `_` may be there
_KEYWORDS = frozenset(keyword.kwlist)  # soft keywords (match, case, _) are names students use
_SKIPPED_TYPES = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+: f-strings are split
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)
_MAX_RESTARTS = 50  # per cell, after tokenize errors
_MOD = (1 << 61) - 1
_BASE = 1_000_003


# ------------------------------------------------------------------------------------- weights
def _quantised(array: np.ndarray) -> np.ndarray:
    """The values of `array` (float64) as integers: mantissa to ~1e-9 relative, and exponent."""
    mantissa, exponent = np.frexp(np.asarray(array, dtype=np.float64))
    scaled = np.round(mantissa * (1 << _QUANTUM_BITS)).astype(np.int64)
    return np.stack([scaled, np.where(scaled == 0, 0, exponent).astype(np.int64)], axis=-1)


def weights_hashes(arrays: Mapping[str, np.ndarray]) -> tuple[str, str | None]:
    """The hash of the arrays' names, shapes and values (however the file was saved), and the hash
    of the network up to a permutation of its hidden units (None when it is no finite W1 b1 W2 b2 MLP)."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    content = digest.hexdigest()
    try:
        W1, b1, W2, b2 = (np.asarray(arrays[key], dtype=np.float64) for key in ("W1", "b1", "W2", "b2"))
    except (KeyError, TypeError, ValueError):
        return content, None
    if (W1.ndim != 2 or b1.shape != (W1.shape[1],) or W2.ndim != 2 or W2.shape[0] != W1.shape[1]
            or b2.shape != (W2.shape[1],) or set(arrays) != {"W1", "b1", "W2", "b2"}):
        return content, None
    if not all(np.isfinite(a).all() for a in (W1, b1, W2, b2)):
        return content, None
    # Each hidden unit j is the column W1[:, j], the bias b1[j] and the row W2[j, :]: sorting the
    # units by those values (quantised) gives the same order for every permutation of them.
    units = np.concatenate([_quantised(W1.T).reshape(W1.shape[1], -1), _quantised(b1).reshape(-1, 2),
                            _quantised(W2).reshape(W2.shape[0], -1)], axis=1)
    order = np.lexsort(units.T[::-1]) if units.size else np.arange(W1.shape[1])
    canonical = hashlib.sha256(f"mlp {W1.shape} {W2.shape}\0".encode())
    for part in (units[order], _quantised(b2)):
        canonical.update(np.ascontiguousarray(part).tobytes())
    return content, canonical.hexdigest()


@dataclass(frozen=True)
class WeightsGroup:
    """Submissions whose weights are the same: `how` says in what sense."""

    how: str
    names: tuple[str, ...]


# ------------------------------------------------------------------------------------- notebooks
@dataclass
class CodeFingerprints:
    """A notebook's normalised code: winnowed fingerprints and where each token came from."""

    fingerprints: list[tuple[int, int]]  # (hash, index of the k-gram's first token), in order
    token_lines: list[int]  # per token: its line in `lines` (0-based)
    lines: list[str]  # the code cells' lines, one after the other
    line_cells: list[tuple[int, int]]  # per line: the cell's number and the line's number in it
    kept: set[int] = field(default_factory=set)  # the fingerprints' hashes beyond the template's


def _blank_magics(source: str) -> str:
    """The cell with IPython magics and shell lines (`%...`, `!...`) blanked, line numbers kept."""
    lines = source.split("\n")
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _cell_tokens(source: str) -> Iterable[tokenize.TokenInfo]:
    """The cell's tokens; after a tokenize error it goes on from the next line (a few times)."""
    lines = source.split("\n")
    start = 0
    for _ in range(_MAX_RESTARTS):
        text = "\n".join(lines[start:]) + "\n"
        last = 0
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                last = token.start[0]
                # (Most cells tokenize at once: their tokens need no new line numbers.)
                yield token._replace(start=(token.start[0] + start, token.start[1])) if start else token
            return
        except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
            start += max(last, 1)
            if start >= len(lines):
                return


def _normalised(cells: Sequence[CodeCell]) -> tuple[list[str], list[int], list[str], list[tuple[int, int]]]:
    """The code's normalised tokens with their lines, and the lines themselves."""
    tokens: list[str] = []
    token_lines: list[int] = []
    all_lines: list[str] = []
    line_cells: list[tuple[int, int]] = []
    budget = MAX_CODE_CHARS
    for cell in cells:
        source = cell.source[:budget]
        budget -= len(source)
        offset = len(all_lines)
        cell_lines = source.split("\n")
        all_lines += cell_lines
        line_cells += [(cell.index, number) for number in range(1, len(cell_lines) + 1)]
        previous = tokenize.NEWLINE  # the type of the last significant token
        previous_text = ""
        statement_start = len(tokens)  # where the current logical line's tokens begin
        strings_only = True
        fstring_depth = 0
        for token in _cell_tokens(_blank_magics(source)):
            kind = token.type
            if fstring_depth:  # inside an f-string (3.12+): it is one string token
                if kind == _FSTRING_START:
                    fstring_depth += 1
                elif kind == _FSTRING_END:
                    fstring_depth -= 1
                continue
            if kind in (tokenize.NEWLINE, tokenize.ENDMARKER) or (kind == tokenize.OP and token.string == ";"):
                if strings_only and len(tokens) > statement_start:
                    del tokens[statement_start:], token_lines[statement_start:]  # a docstring
                statement_start, strings_only = len(tokens), True
                previous = tokenize.NEWLINE
                continue
            if kind in _SKIPPED_TYPES or (kind == tokenize.ERRORTOKEN and not token.string.strip()):
                continue
            if kind == tokenize.STRING or kind == _FSTRING_START:
                if kind == _FSTRING_START:
                    fstring_depth = 1
                if previous == tokenize.STRING:
                    continue  # implicit concatenation: one string
                text = "S"
                kind = tokenize.STRING
            else:
                strings_only = False
                if kind == tokenize.NUMBER:
                    text = "N"
                elif kind == tokenize.NAME:
                    keep = (token.string in _KEYWORDS or token.string in _BUILTINS
                            or previous_text == ".")
                    text = token.string if keep else "V"
                else:
                    text = token.string
            tokens.append(text)
            token_lines.append(offset + token.start[0] - 1)
            previous, previous_text = kind, token.string
        if strings_only and len(tokens) > statement_start:
            del tokens[statement_start:], token_lines[statement_start:]
        if budget <= 0:
            break
    return tokens, token_lines, all_lines, line_cells


@functools.lru_cache(maxsize=65536)
def _token_id(token: str) -> int:
    """A token's number for the rolling hash (normalised tokens repeat: V, N, S, operators)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big") % _MOD


def _kgram_hashes(tokens: Sequence[str], k: int = K) -> list[int]:
    """A rolling hash of every k consecutive tokens (stable across runs: no `hash()`)."""
    ids = [_token_id(t) for t in tokens]
    if len(ids) < k:
        return []
    top = pow(_BASE, k - 1, _MOD)
    value = 0
    for i in range(k):
        value = (value * _BASE + ids[i]) % _MOD
    hashes = [value]
    for i in range(k, len(ids)):
        value = ((value - ids[i - k] * top) * _BASE + ids[i]) % _MOD
        hashes.append(value)
    return hashes


def _winnow(hashes: Sequence[int], window: int = WINDOW) -> list[tuple[int, int]]:
    """Robust winnowing: the rightmost minimum of each window of hashes, each position once."""
    if not hashes:
        return []
    if len(hashes) <= window:
        position = min(range(len(hashes)), key=lambda i: (hashes[i], -i))
        return [(hashes[position], position)]
    chosen: list[tuple[int, int]] = []
    last = -1
    for start in range(len(hashes) - window + 1):
        position = start
        for i in range(start + 1, start + window):
            if hashes[i] <= hashes[position]:
                position = i
        if position != last:
            chosen.append((hashes[position], position))
            last = position
    return chosen


def fingerprint_code(cells: Sequence[CodeCell], template: frozenset[int] = frozenset()) -> CodeFingerprints:
    """The winnowed fingerprints of the cells' code; `kept` are those no template k-gram has."""
    tokens, token_lines, lines, line_cells = _normalised(cells)
    fingerprints = _winnow(_kgram_hashes(tokens))
    return CodeFingerprints(fingerprints, token_lines, lines, line_cells,
                            {h for h, _ in fingerprints if h not in template})


def template_kgrams(cells: Sequence[CodeCell]) -> frozenset[int]:
    """Every k-gram hash of the template's code (not only its winnowed ones)."""
    return frozenset(_kgram_hashes(_normalised(cells)[0]))


@dataclass(frozen=True)
class Region:
    """Matching code in one notebook: its lines and where they are."""

    first: int  # 0-based line in CodeFingerprints.lines
    last: int
    text: str
    where: str


@dataclass(frozen=True)
class NotebookPair:
    """Two notebooks whose code beyond the template is near identical."""

    a: str
    b: str
    similarity: float
    shared: int
    sizes: tuple[int, int]
    regions: tuple[Region, Region] | None


def _region(code: CodeFingerprints, first_token: int, last_token: int) -> Region:
    first, last = code.token_lines[first_token], code.token_lines[last_token]
    shown_last = min(last, first + MAX_LINES_SHOWN - 1)
    text = "\n".join(code.lines[first:shown_last + 1])
    if shown_last < last:
        text += f"\n… ({last - shown_last} more lines)"
    (cell_a, line_a), (cell_b, line_b) = code.line_cells[first], code.line_cells[last]
    where = (f"cell {cell_a}, lines {line_a}-{line_b}" if cell_a == cell_b
             else f"cell {cell_a} line {line_a} to cell {cell_b} line {line_b}")
    return Region(first, last, text, where)


def longest_match(a: CodeFingerprints, b: CodeFingerprints) -> tuple[Region, Region] | None:
    """The longest run of shared fingerprints (beyond the template) in the same order in both."""
    shared = a.kept & b.kept
    in_b: dict[int, int] = {}
    for value, position in b.fingerprints:
        if value in shared:
            in_b.setdefault(value, position)
    matches = []
    seen: set[int] = set()
    for value, position in a.fingerprints:
        if value in in_b and value not in seen:
            seen.add(value)
            matches.append((position, in_b[value]))
    if not matches:
        return None
    gap = 2 * (WINDOW + K)
    best = (0, 0, 0)  # (tokens covered in a, first match, last match)
    start = 0
    for i in range(1, len(matches) + 1):
        if i < len(matches):
            (pa, pb), (qa, qb) = matches[i - 1], matches[i]
            if 0 < qa - pa <= gap and 0 < qb - pb <= gap:
                continue
        covered = matches[i - 1][0] - matches[start][0] + K
        if covered > best[0]:
            best = (covered, start, i - 1)
        start = i
    _, first, last = best
    (a0, b0), (a1, b1) = matches[first], matches[last]
    return _region(a, a0, a1 + K - 1), _region(b, b0, b1 + K - 1)


# ------------------------------------------------------------------------------------- a batch
@dataclass
class SimilarityReport:
    """What the similarity section shows."""

    weights: list[WeightsGroup] = field(default_factory=list)
    notebooks: list[NotebookPair] = field(default_factory=list)
    submissions: int = 0
    skipped: list[str] = field(default_factory=list)
    comparisons: int = 0  # pairs of notebooks whose fingerprint sets were intersected
    unlisted: int = 0  # flagged notebook pairs beyond MAX_PAIRS_LISTED
    template: bool = False  # whether the template's code was removed


def _template_cells(rubric: Rubric) -> list[CodeCell] | None:
    """The code cells of the notebook handed to students: the plugin's, else the sample's."""
    plugin = rubric.plugin
    if plugin is not None and plugin.notebook_template is not None:
        try:
            return parse_notebook(plugin.notebook_template().encode("utf-8")).cells
        except Exception:  # a template that cannot be built: try the sample
            pass
    notebook = rubric.files.get("notebook")
    if notebook:
        path = SAMPLES / rubric.assignment / "template" / notebook
        try:
            return load_notebook(path).cells
        except Exception:
            return None
    return None


def _read_submission(path: Path, rubric: Rubric, name: str,
                     template: frozenset[int]) -> tuple[tuple[str, str, str | None] | None, CodeFingerprints | None]:
    """The submission's weights hashes (file, arrays, permutation) and its notebook's fingerprints."""
    weights: tuple[str, str, str | None] | None = None
    code: CodeFingerprints | None = None
    with tempfile.TemporaryDirectory(prefix="grader-similarity-", ignore_cleanup_errors=True) as temp:
        submission = open_submission(path, dict(rubric.files), Path(temp), name=name)
        if "weights" in submission.files:
            try:
                file = submission.files["weights"]
                file_hash = hashlib.sha256(file.read_bytes()).hexdigest()
                weights = (file_hash, *weights_hashes(load_weights(file)))
            except Exception:
                weights = None
        if "notebook" in submission.files:
            try:
                code = fingerprint_code(load_notebook(submission.files["notebook"]).cells, template)
            except Exception:
                code = None
    return weights, code


def _weights_groups(weights: Mapping[str, tuple[str, str, str | None]]) -> list[WeightsGroup]:
    """Groups of two or more submissions with the same weights, each pair in its strongest sense."""
    groups: list[WeightsGroup] = []
    claimed: set[frozenset[str]] = set()  # pairs already in a stronger group
    for level, how in enumerate(("identical file", "identical arrays (the same weights saved again)",
                                 "identical up to a permutation of hidden units")):
        by_hash: dict[str, list[str]] = defaultdict(list)
        for name, hashes in weights.items():
            if hashes[level] is not None:
                by_hash[str(hashes[level])].append(name)
        for names in by_hash.values():
            if len(names) < 2:
                continue
            pairs = {frozenset(pair) for pair in combinations(names, 2)}
            if pairs <= claimed:
                continue  # every pair already shown as a stronger match
            claimed |= pairs
            groups.append(WeightsGroup(how, tuple(names)))
    return groups


def analyse(sources: Sequence[tuple[str, Path]], rubric: Rubric) -> SimilarityReport:
    """Compare the submissions (name, folder or zip) of a batch; never raises for one submission."""
    report = SimilarityReport(submissions=min(len(sources), MAX_SUBMISSIONS))
    if len(sources) > MAX_SUBMISSIONS:
        report.skipped += [name for name, _ in sources[MAX_SUBMISSIONS:]]
    template_cells = _template_cells(rubric)
    report.template = template_cells is not None
    template = template_kgrams(template_cells) if template_cells is not None else frozenset()
    weights: dict[str, tuple[str, str, str | None]] = {}
    codes: dict[str, CodeFingerprints] = {}
    for name, path in sources[:MAX_SUBMISSIONS]:
        try:
            hashes, code = _read_submission(path, rubric, name, template)
        except Exception:
            report.skipped.append(name)
            continue
        if hashes is not None:
            weights[name] = hashes
        if code is not None:
            codes[name] = code
    report.weights = _weights_groups(weights)
    report.notebooks = _notebook_pairs(codes, report)
    return report


def _notebook_pairs(codes: Mapping[str, CodeFingerprints], report: SimilarityReport) -> list[NotebookPair]:
    """The flagged pairs: candidates from an inverted index, then their fingerprint sets compared."""
    # Notebooks with the same fingerprints are one entry of the index (compared once).
    same: dict[frozenset[int], list[str]] = defaultdict(list)
    for name, code in codes.items():
        if len(code.kept) >= MIN_FINGERPRINTS:
            same[frozenset(code.kept)].append(name)
    entries = list(same)
    postings: dict[int, list[int]] = defaultdict(list)
    for number, kept in enumerate(entries):
        for value in kept:
            postings[value].append(number)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for numbers in postings.values():
        if len(numbers) <= MAX_POSTING:
            for pair in combinations(numbers, 2):
                counts[pair] += 1
    flagged: list[tuple[float, int, str, str]] = []
    for kept, names in same.items():
        flagged += [(1.0, len(kept), a, b) for a, b in combinations(names, 2)]
    for (i, j), count in counts.items():
        if count < MIN_CANDIDATE:
            continue  # too little uncommon code in common to be a candidate
        smaller = min(len(entries[i]), len(entries[j]))
        report.comparisons += 1
        shared = len(entries[i] & entries[j])
        if shared >= MIN_FINGERPRINTS and shared / smaller >= THRESHOLD:
            flagged += [(shared / smaller, shared, min(a, b), max(a, b))
                        for a in same[entries[i]] for b in same[entries[j]]]
    flagged.sort(key=lambda item: (-item[0], -item[1], item[2], item[3]))
    pairs = []
    for rank, (score, shared, a, b) in enumerate(flagged[:MAX_PAIRS_LISTED]):
        regions = longest_match(codes[a], codes[b]) if rank < MAX_PAIRS_SHOWN else None
        pairs.append(NotebookPair(a, b, score, shared, (len(codes[a].kept), len(codes[b].kept)), regions))
    report.unlisted = max(0, len(flagged) - MAX_PAIRS_LISTED)
    return pairs


# ------------------------------------------------------------------------------------- HTML
_CACHE: dict[Any, SimilarityReport] = {}


def _cached_analysis(sources: Sequence[Any], rubric: Rubric) -> SimilarityReport:
    """`analyse`, remembered for the same fingerprinted sources (summary.html may be written twice
    in one run, the second time after a Gradescope export's temporary folder is gone)."""
    pairs = [(str(s.name), Path(s.path)) for s in sources]
    fingerprints = tuple(str(getattr(s, "fingerprint", "")) for s in sources)
    key = (str(rubric.path), tuple((n, str(p)) for n, p in pairs), fingerprints)
    if all(fingerprints) and key in _CACHE:
        return _CACHE[key]
    report = analyse(pairs, rubric)
    if all(fingerprints):
        _CACHE.clear()
        _CACHE[key] = report
    return report


def similarity_section(sources: Sequence[Any], rubric: Rubric, totals: Mapping[str, str]) -> list[str]:
    """The summary page's section: `sources` have `name` and `path` (SubmissionSource), `totals`
    each submission's total as shown. It reads files only; an error leaves a note, not a failure."""
    lines = ["<h2>Similarity (never changes a grade)</h2>"]
    try:
        report = _cached_analysis(sources, rubric)
    except Exception as exc:
        return [*lines, f"<p>The similarity check failed: {html.escape(type(exc).__name__)}: "
                        f"{html.escape(str(exc)[:300])}</p>"]
    template = ("the template's code is left out" if report.template
                else "no template notebook was found, so code handed to students counts too")
    lines.append(f"<p>{report.submissions} submissions read; notebooks compared by winnowed fingerprints of "
                 f"their normalised code ({K}-token k-grams, window {WINDOW}; {template}); a pair is shown at "
                 f"{THRESHOLD:.0%} or more of the smaller notebook's fingerprints, with at least "
                 f"{MIN_FINGERPRINTS} each. Weights are compared by file, by arrays and up to a permutation "
                 "of hidden units.</p>")
    if not report.weights and not report.notebooks:
        lines.append("<p>No similar pairs found.</p>")

    def who(name: str) -> str:
        total = totals.get(name)
        return html.escape(name) + (f" ({html.escape(total)})" if total else "")

    if report.weights:
        lines.append("<table><caption>Same weights</caption><tr><th>submissions (total)</th><th>how</th></tr>")
        lines += [f"<tr><td>{', '.join(who(n) for n in group.names)}</td><td>{html.escape(group.how)}</td></tr>"
                  for group in report.weights]
        lines.append("</table>")
    if report.notebooks:
        lines.append("<table><caption>Similar notebooks (code beyond the template)</caption>"
                     "<tr><th>submission (total)</th><th>submission (total)</th><th>similarity</th>"
                     "<th>shared fingerprints</th></tr>")
        lines += [f"<tr><td>{who(p.a)}</td><td>{who(p.b)}</td><td>{p.similarity:.0%}</td>"
                  f"<td>{p.shared} of {p.sizes[0]} / {p.sizes[1]}</td></tr>" for p in report.notebooks]
        lines.append("</table>")
        if report.unlisted:
            lines.append(f"<p>And {report.unlisted} more similar pairs, not listed.</p>")
        for pair in report.notebooks:
            if pair.regions is None:
                continue
            left, right = pair.regions
            lines.append(f'<details class="similar"><summary>{html.escape(pair.a)} and {html.escape(pair.b)}: '
                         f"{pair.similarity:.0%}, longest matching code</summary>"
                         '<table class="side-by-side"><tr>'
                         f"<th>{html.escape(pair.a)}: {html.escape(left.where)}</th>"
                         f"<th>{html.escape(pair.b)}: {html.escape(right.where)}</th></tr><tr>"
                         f"<td><pre>{html.escape(left.text)}</pre></td>"
                         f"<td><pre>{html.escape(right.text)}</pre></td></tr></table></details>")
    if report.skipped:
        shown = ", ".join(html.escape(name) for name in report.skipped[:20])
        more = f" and {len(report.skipped) - 20} more" if len(report.skipped) > 20 else ""
        lines.append(f"<p>Not compared (unreadable, or beyond {MAX_SUBMISSIONS} submissions): {shown}{more}.</p>")
    return lines
