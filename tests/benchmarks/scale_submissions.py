"""Many varied Homework 1 submissions, fast: the generator of bench_scale.py and tests/test_kill_resume.py.

Each kind of submission is a template, built once: a sample of `sample_submissions/hw1/` as it is
(correct in several forms, partly wrong, broken, a cell that never ends), or the reference with one
edit (bench_grading.py's typical mistakes, a syntax error, missing or corrupt files, a cell that
takes about a second). Every copy then gets a unique code cell in its notebook and a unique comment
in its written answers, so no two submissions share a notebook, a YAML file or a fingerprint and
no cache can help; weights are hard links to the template's file (copies across file systems).

A kind taken from a sample unchanged but for those marks keeps the sample's `expected.json`
scores (`Generated.expected`), which checks the generator itself. The file is no test (its name
does not match `test_*.py`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_grading import WRONG_VARIANTS, _code_cell, _code_sources, _one_hit

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_submissions" / "hw1"
NOTEBOOK, WRITTEN, WEIGHTS = "hw1_code.ipynb", "hw1_written.yaml", "hw1_weights.npz"
TIMEOUT_KIND = "timeout"
TIMEOUT_SHARE = 0.002
"""Share of a default batch that hits the cell timeout (10 s each with rubrics/hw1.yaml)."""
MANIFEST = "manifest.json"

Files = dict[str, "bytes | Path"]
"""A submission's files by name: bytes to write, or a file to link (unchanged from a sample)."""


@dataclass(frozen=True)
class Kind:
    """One kind of submission: how it is built, its share of a batch, where its scores are known."""

    name: str
    group: str
    """correct, wrong, broken, slow or timeout."""
    weight: int
    """Per thousand regular (not timing out) submissions of a default batch."""
    build: Callable[[], Files]
    sample: str | None = None
    """The sample it is, marks aside: its expected.json holds this kind's scores."""


@dataclass(frozen=True)
class Generated:
    """One written submission: its folder, its kind and, where known, its expected part scores."""

    name: str
    path: Path
    kind: str
    group: str
    expected: dict[str, Any] | None


# ---------------------------------------------------------------- templates


def _sample(name: str) -> Callable[[], Files]:
    """The sample's files as they are (expected.json, the sample's description, left out)."""

    def build() -> Files:
        return {p.name: p for p in sorted((SAMPLES / name).iterdir()) if p.name != "expected.json"}

    return build


def _reference_with(changes: Mapping[str, bytes | None]) -> Callable[[], Files]:
    """The reference's files with some replaced (bytes) or left out (None)."""

    def build() -> Files:
        files = _sample("reference")()
        for name, content in changes.items():
            if content is None:
                files.pop(name, None)
            else:
                files[name] = content
        return files

    return build


def _edited_reference(edit: Callable[[str], str], extra_cells: Sequence[str] = ()) -> Callable[[], Files]:
    """The reference with its notebook's code edited (all code cells joined) and cells appended."""

    def build() -> Files:
        reference = json.loads((SAMPLES / "reference" / NOTEBOOK).read_text(encoding="utf-8"))
        marker = "\n# ---- cell boundary ----\n"
        cells = edit(marker.join(_code_sources(reference))).split(marker)
        code_cells = [c for c in reference["cells"] if c["cell_type"] == "code"]
        for cell, source in zip(code_cells, cells, strict=True):
            cell["source"] = source
        reference["cells"] += [_code_cell(source, k) for k, source in enumerate(extra_cells)]
        files = _sample("reference")()
        files[NOTEBOOK] = (json.dumps(reference, indent=1) + "\n").encode()
        return files

    return build


def _written_edit(old: str, new: str) -> bytes:
    text = (SAMPLES / "reference" / WRITTEN).read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"scale_submissions: {old!r} found {text.count(old)} times in the written answers")
    return text.replace(old, new).encode()


def _truncated(path: Path, fraction: float) -> bytes:
    data = path.read_bytes()
    return data[: int(len(data) * fraction)]


def _noise(size: int) -> bytes:
    return random.Random(size).randbytes(size)  # fixed: the marks make each copy unique anyway


REFERENCE_NOTEBOOK = SAMPLES / "reference" / NOTEBOOK
# A cell that takes about a second, within the rubric's 10 s cell timeout: sleeping (waiting on a
# "download"), or computing on the CPU for a second of wall time whatever the machine's speed.
SLOW_SLEEP = "import time\ntime.sleep(1.0)  # waiting for the data, as the student wrote it\n"
SLOW_COMPUTE = ("import time\n_start = time.perf_counter()\n_m = np.eye(60)\n"
                "while time.perf_counter() - _start < 1.0:  # a slow training loop of its own\n"
                "    _m = np.linalg.inv(_m @ _m.T + np.eye(60))\n")


def _kinds() -> dict[str, Kind]:
    """Every kind; weights add up to 1000 (the regular share of a batch)."""
    kinds = [
        # Correct, in the forms students really save (each sample's expected.json: full marks).
        *(Kind(name, "correct", weight, _sample(name), name) for name, weight in [
            ("reference", 170), ("correct_different", 60), ("real_colab", 40), ("real_vscode", 40),
            ("real_jupyterlab4", 30), ("real_nbformat3", 20), ("real_nbformat40", 20),
            ("real_jupytext_script", 30), ("real_utf16", 10), ("real_copy_of", 10), ("magics_and_pip", 20),
            ("written_equivalent_forms", 20), ("real_magics_writefile", 10),
            ("real_annotations_missing_params", 10), ("real_written_leading_zeros", 10),
            ("real_big_outputs", 5)]),
        # Partly wrong: samples, bench_grading.py's typical mistakes, a wrong written answer.
        *(Kind(name, "wrong", weight, _sample(name), name) for name, weight in [
            ("hvp_forms_h", 30), ("inplace_sgd", 30), ("wrong_w4_gradient", 30), ("off_by_one_boundary", 30),
            ("real_raw_cell_function", 20), ("public_lookup_table", 20), ("weak_weights", 20),
            ("transposed_weights", 20), ("nan_weights", 20), ("answer_key", 10), ("expression_injection", 10)]),
        *(Kind(name, "wrong", 25, _edited_reference(WRONG_VARIANTS[name])) for name in
          ("step_at_zero", "loss_not_averaged", "unfinished_mlp")),
        Kind("cell_error", "broken", 25, _edited_reference(
            WRONG_VARIANTS["cell_error"],
            ["print(f'accuracy: {acurracy(trained, X_test, y_test)}')  # a typo\n"])),
        Kind("wrong_written", "wrong", 20, _reference_with(
            {WRITTEN: _written_edit("q1_3_1_z: [48, 12, 24]", "q1_3_1_z: [48, 12, 25]")})),
        # Broken: samples, and files missing, empty, cut short or not what they claim to be.
        *(Kind(name, "broken", weight, _sample(name), name) for name, weight in [
            ("malformed_yaml", 15), ("yaml_python_tags", 5), ("empty", 10), ("template", 15)]),
        Kind("syntax_error", "broken", 20, _edited_reference(_one_hit(
            "def mlp_forward(params: Params, X: np.ndarray) -> np.ndarray:",
            "def mlp_forward(params: Params, X: np.ndarray) -> np.ndarray"))),
        Kind("missing_notebook", "broken", 10, _reference_with({NOTEBOOK: None})),
        Kind("missing_weights", "broken", 10, _reference_with({WEIGHTS: None})),
        Kind("corrupt_weights", "broken", 10, _reference_with({WEIGHTS: _noise(10_214)})),
        Kind("truncated_weights", "broken", 5, _reference_with(
            {WEIGHTS: _truncated(SAMPLES / "reference" / WEIGHTS, 0.5)})),
        Kind("empty_notebook", "broken", 10, _reference_with({NOTEBOOK: b""})),
        Kind("notebook_not_json", "broken", 10, _reference_with(
            {NOTEBOOK: _truncated(REFERENCE_NOTEBOOK, 0.6)})),
        Kind("notebook_no_cells", "broken", 5, _reference_with({NOTEBOOK: json.dumps(
            {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()})),
        # Slower than typical, well within the limits: full marks, as the reference.
        Kind("slow_sleep", "slow", 5, _edited_reference(lambda code: code, [SLOW_SLEEP]), "reference"),
        Kind("slow_compute", "slow", 5, _edited_reference(lambda code: code, [SLOW_COMPUTE]), "reference"),
        # Hits the cell timeout: its last cell never ends (a stray training loop).
        Kind(TIMEOUT_KIND, "timeout", 0, _sample("never_ending_cell"), "never_ending_cell"),
    ]
    return {kind.name: kind for kind in kinds}


KINDS = _kinds()
REGULAR = [k for k in KINDS.values() if k.group != "timeout"]
assert sum(k.weight for k in REGULAR) == 1000, sum(k.weight for k in REGULAR)


# ---------------------------------------------------------------- marks


def mark_notebook(data: bytes, filename: str, code: str, cell_id: str) -> bytes:
    """The notebook with `code` as a first cell of its own, its bytes otherwise as they were.

    The cell is inserted as text (encoding, BOM, line endings and layout untouched), in the form
    of the notebook's nbformat; a jupytext script gets it as a last `# %%` cell. A notebook that
    is not JSON or has no cell list is returned unchanged.
    """
    if filename.endswith(".py"):
        text = data.decode("utf-8")
        return (text + ("" if text.endswith("\n") else "\n") + "\n# %%\n" + code).encode("utf-8")
    bom, encoding = _encoding(data)
    try:
        text = data[len(bom):].decode(encoding)
        notebook = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return data
    found = re.search(r'"cells"\s*:\s*\[', text)
    if not isinstance(notebook, dict) or found is None:
        return data
    lines = code.splitlines(keepends=True)
    if notebook.get("nbformat") == 3:
        cell: dict[str, Any] = {"cell_type": "code", "collapsed": False, "input": lines, "language": "python",
                                "metadata": {}, "outputs": []}
    else:
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": lines}
        if notebook.get("nbformat_minor", 0) >= 5:  # cell ids exist from nbformat 4.5 on
            cell["id"] = cell_id
    rest = text[found.end():]
    separator = "" if rest.lstrip().startswith("]") else ", "
    marked = text[:found.end()] + json.dumps(cell) + separator + rest
    return bom + marked.encode(encoding)


def _encoding(data: bytes) -> tuple[bytes, str]:
    """The BOM and the codec of a notebook's bytes."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return bom, encoding
    return b"", "utf-8"


def mark_yaml(data: bytes, comment: str) -> bytes:
    """The YAML file with a comment line at its end (what it means is unchanged)."""
    return data + (b"" if not data or data.endswith(b"\n") else b"\n") + f"# {comment}\n".encode()


# ---------------------------------------------------------------- batches


def mix(n: int, seed: int = 0, timeouts: int | None = None) -> list[str]:
    """The kinds of a batch of n: the weights apportioned (largest remainder), shuffled, timeouts last.

    `timeouts` defaults to TIMEOUT_SHARE of n, at least one. They come last so that a batch's time
    for all the others can be read off as the moment the last of those was graded.
    """
    count = max(1, round(n * TIMEOUT_SHARE)) if timeouts is None else timeouts
    count = min(count, n)
    regular = n - count
    quotas = [(k.name, regular * k.weight / 1000) for k in REGULAR]
    counts = {name: int(q) for name, q in quotas}
    by_remainder = sorted(quotas, key=lambda item: (-(item[1] - int(item[1])), item[0]))
    for name, _ in by_remainder[: regular - sum(counts.values())]:
        counts[name] += 1
    kinds = [name for name, c in counts.items() for _ in range(c)]
    random.Random(seed).shuffle(kinds)
    return kinds + [TIMEOUT_KIND] * count


def make_batch(folder: Path, kinds: Sequence[str], *, start: int = 0) -> list[Generated]:
    """Write one submission per entry of `kinds` under `folder`, named so they sort in that order."""
    templates: dict[str, Files] = {}
    expected: dict[str, dict[str, Any] | None] = {}
    made = []
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(kinds, start):
        kind = KINDS[name]
        if name not in templates:
            templates[name] = kind.build()
            expected[name] = (json.loads((SAMPLES / kind.sample / "expected.json").read_text(encoding="utf-8"))
                              if kind.sample else None)
        # Timeouts sort after all others ("t" > "s"), whatever their index.
        label = f"{'t' if kind.group == 'timeout' else 's'}{index:05d}-{name}"
        target = folder / label
        target.mkdir()
        for filename, content in templates[name].items():
            _write(target / filename, content, label, index)
        made.append(Generated(label, target, name, kind.group, expected[name]))
    return made


def _write(path: Path, content: bytes | Path, label: str, index: int) -> None:
    """One file of a submission: notebooks and YAML marked as this copy's own, other files linked."""
    code = f"# submission {label}: a cell of this copy alone\nSUBMISSION_MARK = {index}\n"
    if path.suffix in (".ipynb", ".py"):
        data = content if isinstance(content, bytes) else content.read_bytes()
        path.write_bytes(mark_notebook(data, path.name, code, f"mark-{index}"))
    elif path.suffix == ".yaml":
        data = content if isinstance(content, bytes) else content.read_bytes()
        path.write_bytes(mark_yaml(data, f"submission {label}"))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        try:
            os.link(content, path)
        except OSError:  # another file system, or links not allowed: a copy
            shutil.copyfile(content, path)


def write_manifest(folder: Path, made: Sequence[Generated]) -> Path:
    """manifest.json beside the submissions: each one's kind, group and expected scores."""
    path = folder / MANIFEST
    path.write_text(json.dumps({g.name: {"kind": g.kind, "group": g.group, "expected": g.expected}
                                for g in made}, indent=1), encoding="utf-8")
    return path


def read_manifest(path: Path, subs: Path) -> list[Generated]:
    """The submissions a manifest describes, in order."""
    entries: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [Generated(name, subs / name, e["kind"], e["group"], e["expected"]) for name, e in entries.items()]
