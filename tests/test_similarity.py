"""The similarity section of summary.html (grader/similarity.py): copied weights (bytes, arrays
saved again, hidden units permuted) and notebooks copied with names, comments and layout changed
are flagged; independent solutions and the template's own code are not; the work is bounded."""

from __future__ import annotations

import ast
import io
import json
import random
import re
import shutil
import tokenize
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from grader import similarity
from grader.cli import main
from grader.notebook import CodeCell
from grader.rubric import Rubric, load_rubric
from grader.similarity import analyse, fingerprint_code, similarity_section

HW1 = ROOT / "sample_submissions" / "hw1"
HW2 = ROOT / "sample_submissions" / "hw2"
PERMUTED = "identical up to a permutation of hidden units"

# An independent solution of Homework 2's graded functions (written for this test, in another
# style than the reference: loops, one-hot matrices, momentum instead of Adam).
INDEPENDENT_HW2 = {
    "softmax": '''def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of Z (N, C), finite for large entries."""
    out = np.empty(np.shape(Z))
    for row_index, row in enumerate(np.array(Z, dtype=float)):
        exps = np.exp(row - row.max())
        out[row_index] = exps / exps.sum()
    return out


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise log of softmax(Z), finite where softmax underflows."""
    A = np.array(Z, dtype=float)
    top = A.max(axis=1)[:, None]
    lse = top + np.log(np.exp(A - top).sum(axis=1))[:, None]
    return A - lse
''',
    "cross_entropy": '''def cross_entropy(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of -log softmax(Z)[i, y[i]]."""
    total = 0.0
    lp = log_softmax(Z)
    for i, label in enumerate(np.array(y).astype(int)):
        total -= lp[i, label]
    return total / len(lp)


def cross_entropy_grad(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient (N, C) of cross_entropy(Z, y) with respect to Z."""
    P = softmax(Z)
    onehot = np.eye(P.shape[1])[np.array(y).astype(int)]
    return (P - onehot) / len(P)
''',
    "conv1d": '''def conv1d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid 1-D cross-correlation: out[i] = sum_j x[i + j] w[j]."""
    xs, ws = np.array(x, dtype=float), np.array(w, dtype=float)
    n_out = len(xs) - len(ws) + 1
    return np.array([float(xs[i:i + len(ws)] @ ws) for i in range(n_out)])


def conv1d_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients (dx, dw) of L given dout = dL/d conv1d(x, w)."""
    xs, ws, g = (np.array(v, dtype=float) for v in (x, w, dout))
    grad_x = np.zeros(len(xs))
    grad_w = np.zeros(len(ws))
    for i, gi in enumerate(g):
        grad_x[i:i + len(ws)] += gi * ws
        grad_w += gi * xs[i:i + len(ws)]
    return grad_x, grad_w
''',
    "train_mlp": '''def train_mlp(hidden: int = 64, steps: int = 1500, n: int = 4000, lr: float = 0.01,
              seed: int = 0) -> Params:
    """Train the Part 4 network on make_spiral data with full-batch Adam; return its parameters."""
    gen = np.random.default_rng(seed + 7)
    data, labels = make_spiral(n, seed=seed)
    net = {"W1": gen.standard_normal((2, hidden)), "b1": np.zeros(hidden),
           "W2": gen.standard_normal((hidden, 3)) * 0.1, "b2": np.zeros(3)}
    velocity = {name: 0.0 * value for name, value in net.items()}
    for _ in range(steps):
        pre = data @ net["W1"] + net["b1"]
        act = np.where(pre > 0, pre, 0.0)
        delta = cross_entropy_grad(act @ net["W2"] + net["b2"], labels)
        back = delta @ net["W2"].T
        back[pre <= 0] = 0.0
        grads = dict(W1=data.T @ back, b1=back.sum(0), W2=act.T @ delta, b2=delta.sum(0))
        for name in net:
            velocity[name] = 0.9 * velocity[name] - 5 * lr * grads[name]
            net[name] = net[name] + velocity[name]
    return net
''',
}


# ------------------------------------------------------------------------------------- helpers
def _cells(notebook: Path) -> list[str]:
    document = json.loads(notebook.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in document["cells"] if c["cell_type"] == "code"]


def _with_code(notebook: Path, target: Path, change: object) -> None:
    """Write `notebook` to `target` with each code cell's source replaced by change(source)."""
    document = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in document["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = change(source).splitlines(keepends=True)  # type: ignore[operator]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=1), encoding="utf-8")


def _write_notebook(target: Path, sources: list[str]) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source.splitlines(keepends=True)} for source in sources]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
                      encoding="utf-8")


def _char_col(line: str, byte_col: int) -> int:
    return len(line.encode("utf-8")[:byte_col].decode("utf-8"))


def _rename(source: str, renamed: dict[str, str], functions: set[str]) -> str:
    """The cell with every variable, parameter and function-local name renamed (graded function
    names kept: the grader calls them), every comment rewritten and comment lines added."""
    lines = source.split("\n")
    edits: list[tuple[int, int, int, str]] = []  # (line index, start, end, text), character columns
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in renamed:
            name, row, col = node.id, node.lineno - 1, node.col_offset
        elif isinstance(node, ast.arg) and node.arg in renamed:
            name, row, col = node.arg, node.lineno - 1, node.col_offset
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions):
            for keyword_node in node.keywords:  # the notebook's own function called with name=value
                if keyword_node.arg in renamed:
                    start = _char_col(lines[keyword_node.lineno - 1], keyword_node.col_offset)
                    edits.append((keyword_node.lineno - 1, start, start + len(keyword_node.arg),
                                  renamed[keyword_node.arg]))
            continue
        else:
            continue
        start = _char_col(lines[row], col)
        assert lines[row][start:start + len(name)] == name
        edits.append((row, start, start + len(name), renamed[name]))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            (row, start), (_, end) = token.start, token.end
            edits.append((row - 1, start, end, "# (my own note) " + token.string[1:].upper()))
    for row, start, end, text in sorted(edits, reverse=True):
        lines[row] = lines[row][:start] + text + lines[row][end:]
    out: list[str] = []
    for line in lines:
        if re.match(r"\s*(def|return|for) ", line):
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}# written by me, step {len(out)}")
        out.append(line)
    return "\n".join(out)


def _renamed_notebook(notebook: Path, target: Path) -> None:
    """The notebook with names renamed consistently across its cells, comments rewritten."""
    functions: set[str] = set()
    names: set[str] = set()
    for source in _cells(notebook):
        tree = ast.parse(source)
        functions |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    renamed = {name: f"my_{index}_{name.lower()}" for index, name in enumerate(sorted(names - functions))}
    _with_code(notebook, target, lambda source: _rename(source, renamed, functions))


def _independent_hw2(target: Path) -> None:
    def change(source: str) -> str:
        key = next((k for k in INDEPENDENT_HW2 if f"def {k}(" in source), None)
        if key == "train_mlp":  # the template's make_spiral, mlp_logits and accuracy stay
            return source[:source.index("def train_mlp")] + INDEPENDENT_HW2[key]
        return INDEPENDENT_HW2[key] if key else source

    _with_code(HW2 / "reference" / "hw2.ipynb", target, change)


def _permuted_weights(source: Path, target: Path, seed: int = 1) -> None:
    arrays = dict(np.load(source))
    order = np.random.default_rng(seed).permutation(arrays["W1"].shape[1])
    assert not (order == np.arange(order.size)).all()
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez(target, W1=arrays["W1"][:, order], b1=arrays["b1"][order], W2=arrays["W2"][order], b2=arrays["b2"])


def _sources(root: Path) -> list[tuple[str, Path]]:
    return [(path.name, path) for path in sorted(root.iterdir())]


@pytest.fixture(scope="module")
def hw2_rubric() -> Rubric:
    return load_rubric(ROOT / "rubrics" / "hw2.yaml")


# ------------------------------------------------------------------------------------- weights
def test_copied_weights_are_flagged_by_file_arrays_and_permutation(tmp_path: Path, rubric: Rubric) -> None:
    weights = HW1 / "reference" / "hw1_weights.npz"
    subs = tmp_path / "subs"
    for name in ("a_reference", "b_byte_copy"):
        (subs / name).mkdir(parents=True)
        shutil.copy(weights, subs / name / "hw1_weights.npz")
    _permuted_weights(weights, subs / "c_permuted" / "hw1_weights.npz")
    arrays = dict(np.load(weights))
    (subs / "d_saved_again").mkdir()
    np.savez_compressed(subs / "d_saved_again" / "hw1_weights.npz", **arrays)
    (subs / "e_other").mkdir()
    shutil.copy(HW1 / "weak_weights" / "hw1_weights.npz", subs / "e_other" / "hw1_weights.npz")
    nudged = {**arrays, "b2": arrays["b2"] + 1e-3}  # one bias changed: another network
    _permuted_weights(weights, subs / "f_permuted_nudged" / "hw1_weights.npz")
    np.savez(subs / "f_permuted_nudged" / "hw1_weights.npz", **{**dict(np.load(
        subs / "f_permuted_nudged" / "hw1_weights.npz")), "b2": nudged["b2"]})
    report = analyse(_sources(subs), rubric)
    groups = {group.how: set(group.names) for group in report.weights}
    assert groups["identical file"] == {"a_reference", "b_byte_copy"}
    assert groups["identical arrays (the same weights saved again)"] == {"a_reference", "b_byte_copy", "d_saved_again"}
    assert groups[PERMUTED] == {"a_reference", "b_byte_copy", "c_permuted", "d_saved_again"}
    flagged = set().union(*groups.values())
    assert "e_other" not in flagged and "f_permuted_nudged" not in flagged
    assert not report.notebooks and not report.skipped


def test_permutation_hash_ignores_unit_order_and_float_noise() -> None:
    rng = np.random.default_rng(0)
    arrays = {"W1": rng.normal(size=(3, 5)), "b1": rng.normal(size=5), "W2": rng.normal(size=(5, 2)),
              "b2": rng.normal(size=2)}
    order = np.array([4, 2, 0, 1, 3])
    permuted = {"W1": arrays["W1"][:, order], "b1": arrays["b1"][order], "W2": arrays["W2"][order],
                "b2": arrays["b2"]}
    content, canonical = similarity.weights_hashes(arrays)
    other_content, other_canonical = similarity.weights_hashes(permuted)
    assert content != other_content and canonical == other_canonical is not None
    noisy = {key: value * (1 + 1e-14) for key, value in permuted.items()}
    assert similarity.weights_hashes(noisy)[1] == canonical
    assert similarity.weights_hashes({**arrays, "W2": arrays["W2"] * 2})[1] != canonical
    assert similarity.weights_hashes({"W": arrays["W1"]})[1] is None  # no MLP: compared by content only


# ------------------------------------------------------------------------------------- notebooks
def test_renamed_copy_of_a_notebook_is_flagged(tmp_path: Path, rubric: Rubric) -> None:
    subs = tmp_path / "subs"
    (subs / "reference").mkdir(parents=True)
    shutil.copy(HW1 / "reference" / "hw1_code.ipynb", subs / "reference")
    _renamed_notebook(HW1 / "reference" / "hw1_code.ipynb", subs / "renamed" / "hw1_code.ipynb")
    renamed_code = "\n".join(_cells(subs / "renamed" / "hw1_code.ipynb"))
    assert "my_" in renamed_code and "(my own note)" in renamed_code and "written by me" in renamed_code
    report = analyse(_sources(subs), rubric)
    assert [(p.a, p.b) for p in report.notebooks] == [("reference", "renamed")]
    pair = report.notebooks[0]
    assert pair.similarity >= similarity.THRESHOLD and pair.shared >= similarity.MIN_FINGERPRINTS
    assert pair.regions is not None
    left, right = pair.regions
    assert left.text.count("\n") >= 10 and "my_" in right.text and "my_" not in left.text
    assert left.where.startswith("cell ")


def test_independent_solutions_and_the_template_are_not_flagged(tmp_path: Path, hw2_rubric: Rubric) -> None:
    subs = tmp_path / "subs"
    (subs / "reference").mkdir(parents=True)
    shutil.copy(HW2 / "reference" / "hw2.ipynb", subs / "reference")
    _independent_hw2(subs / "independent" / "hw2.ipynb")
    (subs / "template").mkdir()
    shutil.copy(HW2 / "template" / "hw2.ipynb", subs / "template")
    # The template with a line added to each function: still nothing beyond the template's code.
    _with_code(HW2 / "template" / "hw2.ipynb", subs / "template_touched" / "hw2.ipynb",
               lambda source: source.replace("raise NotImplementedError", "x = 1\n    raise NotImplementedError"))
    report = analyse(_sources(subs), hw2_rubric)
    assert report.template and report.notebooks == [] and report.comparisons <= 1
    codes = {name: fingerprint_code(similarity.load_notebook(path / "hw2.ipynb").cells,
                                    similarity.template_kgrams(similarity._template_cells(hw2_rubric) or []))
             for name, path in _sources(subs)}
    assert len(codes["template"].kept) == 0 and len(codes["template_touched"].kept) < similarity.MIN_FINGERPRINTS
    shared = codes["reference"].kept & codes["independent"].kept
    assert len(shared) / min(len(codes["reference"].kept), len(codes["independent"].kept)) < 0.25
    # Without the template's code removed, the template's own code would make it look similar.
    bare = {name: fingerprint_code(similarity.load_notebook(path / "hw2.ipynb").cells) for name, path in
            _sources(subs)}
    assert len(bare["template"].kept & bare["reference"].kept) >= similarity.MIN_FINGERPRINTS


def test_normalisation_ignores_names_comments_layout_and_docstrings() -> None:
    first = '''def f(alpha, beta):
    """Docstring one."""
    # a comment
    total = alpha + beta * 2.0  # trailing
    return [total for _ in range(3)]
'''
    second = '''def g(x,
      y):
    "Another docstring" " in two parts"

    s = x + y * 7   # other words
    return [s for k in range(4)]
'''
    third = first.replace("alpha + beta", "alpha - beta")
    cell = similarity._normalised
    tokens_first = cell([CodeCell(1, first)])[0]
    assert tokens_first == cell([CodeCell(2, second)])[0]
    assert tokens_first != cell([CodeCell(1, third)])[0]
    assert "range" in tokens_first and "Docstring" not in " ".join(tokens_first)
    # Attribute names are kept (np.sum is not np.max), magics and broken code do not stop it.
    assert cell([CodeCell(1, "a = np.sum(b)")])[0] != cell([CodeCell(1, "a = np.max(b)")])[0]
    broken = cell([CodeCell(1, "%matplotlib inline\n!pip install x\ny = (1,\nz = 2 +* 3 $\nw = 4\n")])
    assert "V" in broken[0]


def test_a_full_batch_shows_the_section_with_the_flagged_pairs(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    shutil.copytree(HW2 / "reference", subs / "reference")
    copy = subs / "copy"
    copy.mkdir()
    shutil.copy(HW2 / "reference" / "hw2_written.yaml", copy)
    _renamed_notebook(HW2 / "reference" / "hw2.ipynb", copy / "hw2.ipynb")
    _permuted_weights(HW2 / "reference" / "hw2_model.npz", copy / "hw2_model.npz")
    independent = subs / "independent"
    _independent_hw2(independent / "hw2.ipynb")
    shutil.copy(HW2 / "reference" / "hw2_written.yaml", independent)
    shutil.copy(HW2 / "linear_classifier_weights" / "hw2_model.npz", independent)
    out, again = tmp_path / "out", tmp_path / "again"
    main(["grade", str(subs), "--assignment", "hw2", "--out", str(out)])
    page = (out / "summary.html").read_text(encoding="utf-8")
    section = page.split("<h2>Similarity (never changes a grade)</h2>")[1].split("<caption>Submissions")[0]
    weights_rows = [row for row in section.split("<tr>") if PERMUTED in row]
    assert len(weights_rows) == 1 and "reference" in weights_rows[0] and "independent" not in weights_rows[0]
    assert re.search(r"<td>copy \(100 / 100\)</td><td>reference \(100 / 100\)</td><td>\d+%</td>", section)
    assert "independent" not in section.split("Similar notebooks")[1]
    assert section.count("<pre>") == 2 and "my_" in section and "np.max" in section
    # The grades are those of a run without it; --compare rewrites the page and keeps the section.
    for name in ("reference", "copy"):  # flagged, yet graded as any other: full marks
        results = json.loads((out / name / "results.json").read_text(encoding="utf-8"))
        assert sum(test["score"] for test in results["tests"]) == pytest.approx(100)
    main(["grade", str(subs), "--assignment", "hw2", "--out", str(again), "--compare", str(out)])
    rewritten = (again / "summary.html").read_text(encoding="utf-8")
    assert rewritten.count("<h2>Similarity (never changes a grade)</h2>") == 1 and PERMUTED in rewritten


def test_no_pairs_says_so_and_an_unreadable_submission_is_skipped(tmp_path: Path, hw2_rubric: Rubric) -> None:
    subs = tmp_path / "subs"
    shutil.copytree(HW2 / "template", subs / "template")
    lines = similarity_section([type("S", (), {"name": n, "path": p})() for n, p in
                                [*_sources(subs), ("gone", tmp_path / "nowhere")]], hw2_rubric, {})
    text = "\n".join(lines)
    assert "No similar pairs found." in text and "Not compared" in text and "gone" in text


# ------------------------------------------------------------------------------------- bounded work
def _random_program(rng: random.Random, lines: int = 40) -> str:
    """Structurally random code: its normalised tokens differ from any other's."""
    ops = ["+", "-", "*", "/", "//", "%", "**", "&", "|", "^"]
    calls = ["abs", "min", "max", "len", "sum", "round", "sorted", "int", "float"]
    methods = ["mean", "std", "sum", "max", "min", "clip", "dot", "reshape", "ravel", "copy", "cumsum", "argmax"]
    body = []
    for _ in range(lines):
        terms = [rng.choice(["v", f"{rng.choice(calls)}(v)", f"v.{rng.choice(methods)}()", "[v]", "(v, v)"])
                 for _ in range(rng.randint(2, 4))]
        expression = "".join(f" {rng.choice(ops)} {term}" for term in terms[1:])
        body.append(f"    v = {terms[0]}{expression}")
    return "def solve(v):\n" + "\n".join(body) + "\n    return v\n"


def test_work_is_bounded_by_an_inverted_index(tmp_path: Path, hw2_rubric: Rubric,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    subs = tmp_path / "subs"
    template = HW2 / "template" / "hw2.ipynb"
    for number in range(40):  # the untouched template, many times over: nothing to compare
        _with_code(template, subs / f"template_{number:02}" / "hw2.ipynb", lambda source: source)
    report = analyse(_sources(subs), hw2_rubric)
    assert report.notebooks == [] and report.comparisons == 0 and not report.skipped
    rng = random.Random(0)
    for number in range(40):
        _write_notebook(subs / f"own_{number:02}" / "hw2.ipynb", [_random_program(rng)])
    own = json.loads((subs / "own_07" / "hw2.ipynb").read_text(encoding="utf-8"))
    copied = "".join(own["cells"][0]["source"]).replace("solve", "answer")
    _write_notebook(subs / "copy_of_07" / "hw2.ipynb", [copied, _random_program(rng, lines=5)])
    report = analyse(_sources(subs), hw2_rubric)
    assert [(p.a, p.b) for p in report.notebooks] == [("copy_of_07", "own_07")]
    assert report.notebooks[0].similarity == 1.0
    assert report.comparisons <= 5  # of 41 * 40 / 2 = 820 pairs with code beyond the template
    # More submissions than the bound: the rest are named as not compared.
    monkeypatch.setattr(similarity, "MAX_SUBMISSIONS", 10)
    report = analyse(_sources(subs), hw2_rubric)
    assert report.submissions == 10 and len(report.skipped) == len(_sources(subs)) - 10
