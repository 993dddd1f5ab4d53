"""Tests of reference_solutions/hw1: proofs of the computed answers and the generated artefacts."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import runpy
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np
import pytest
import yaml

from grader import master_notebook
from reference_solutions.hw1 import build, hw1_code, written

# The answer key's wrong answers, transcribed from hw1_written_with_answer_key.md.
KEY_HESSIAN = [[9, 3, 12], [3, 1, 4], [12, 4, 16]]
KEY_SUPERINCREASING_NET: dict[str, Any] = {
    "W1": np.array([[-1.0, 1.0, 0.0, 0.0], [-1.0, -1.0, 1.0, 0.0], [-1.0, -1.0, -1.0, 1.0]]),
    "b1": np.zeros(3),
    "w2": np.ones(3),
    "b2": -3.5,
    "phi1": "hard_threshold",
    "phi2": "indicator",
}

GRADED_FUNCTIONS = [
    "step", "indicator", "kth_largest_params", "hardcoded_forward", "gated_forward",
    "gated_backward", "numerical_grad", "quadratic_hessian", "hvp_reverse", "hvp_forward",
    "mult_count", "memory_count", "mlp_forward", "mlp_loss_and_grads", "sgd_step",
]


def _code_of(nb: nbformat.NotebookNode) -> str:
    """The notebook's code cells joined into one module source."""
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "code") + "\n"


def _import_source(source: str, path: Path) -> ModuleType:
    """Import source as a module from a file (as the grader imports a notebook's code)."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _accuracy(weights_path: Path, seed: int) -> float:
    """Test accuracy of an npz on fresh p5 data, with a forward pass written out here."""
    with np.load(weights_path, allow_pickle=False) as data:
        p = {key: data[key] for key in data.files}
    assert set(p) == {"W1", "b1", "W2", "b2"}
    H = p["W1"].shape[1]
    assert 1 <= H <= 256
    shapes = {"W1": (4, H), "b1": (H,), "W2": (H, 4), "b2": (4,)}
    for key, shape in shapes.items():
        assert p[key].shape == shape and p[key].dtype == np.float64
        assert np.all(np.isfinite(p[key]))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(20_000, 4))
    labels = np.argsort(X, axis=1)[:, -2]
    logits = np.maximum(X @ p["W1"] + p["b1"], 0.0) @ p["W2"] + p["b2"]
    return float(np.mean(np.argmax(logits, axis=1) == labels))


# ---------------------------------------------------------------------------------------------
# Proofs of the computed answers
# ---------------------------------------------------------------------------------------------


def test_prove_all_passes() -> None:
    """Every reference answer and the notebook's reference code pass their proofs."""
    assert written.prove_all() == []


def test_reference_answers_shape() -> None:
    """The answers have exactly the keys of hw1_written.yaml and survive a YAML round trip."""
    answers = written.reference_answers()
    assert list(answers) == [
        "q1_1", "q1_2_graph", "q1_3_hessian", "q1_3_cost", "q1_3_1_z", "q1_3_1_cost",
    ]
    assert set(answers["q1_3_cost"]) == {"multiplications", "memory"}
    assert set(answers["q1_3_1_cost"]) == {
        "reverse_multiplications", "reverse_memory", "forward_multiplications",
        "forward_memory", "forward_better_when",
    }
    assert yaml.safe_load(yaml.safe_dump(answers)) == answers


def test_key_hessian_is_rejected() -> None:
    """The key's v v^T for v = [3, 1, 4] is not the Hessian for v = [4, 2, 5]."""
    assert written.hessian() != KEY_HESSIAN
    assert written.prove_hessian(KEY_HESSIAN) != []


def test_key_superincreasing_network_is_rejected() -> None:
    """The key's 1.1 network answers "is x superincreasing", so it fails "x1 is 2nd largest"."""
    X = written.kth_largest_test_inputs()
    superincreasing = (
        (X[:, 1] > X[:, 0])
        & (X[:, 2] > X[:, 0] + X[:, 1])
        & (X[:, 3] > X[:, 0] + X[:, 1] + X[:, 2])
    )
    # Transcribed faithfully: it does compute what the key says it computes...
    assert np.array_equal(written.network_output(KEY_SUPERINCREASING_NET, X), superincreasing)
    # ...which is not the question asked.
    assert written.prove_kth_largest(KEY_SUPERINCREASING_NET, 2) != []


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_unscaled_counting_network_is_rejected(k: int) -> None:
    """w2 = 1, b2 = k - 4 puts neighbouring counts on the indicator's closed edges ±1."""
    net = {**written.kth_largest_network(k), "w2": np.ones(3), "b2": float(k - 4)}
    assert written.prove_kth_largest(net, k) != []


def test_kth_largest_network_only_fits_its_own_k() -> None:
    """The network for k proves only for k: the proof tells the four functions apart."""
    for k, other in itertools.permutations(range(1, 5), 2):
        assert written.prove_kth_largest(written.kth_largest_network(k), other) != []


@pytest.mark.parametrize(("key", "value"), [
    ("W1", np.array([[1.0001, -1, 0, 0], [1, 0, -1, 0], [1, 0, 0, -1]])),
    ("W1", np.array([[1, -0.9999, 0, 0], [1, 0, -1, 0], [1, 0, 0, -1]])),
    ("b1", np.array([2.0**-37, 0, 0])),
    ("b1", np.array([-1e-13, -1e-13, -1e-13])),
])
def test_a_network_wrong_only_on_a_thin_set_is_not_proven(key: str, value: np.ndarray) -> None:
    """The proof's samples pass every one of these; its exact part does not."""
    failures = written.prove_kth_largest({**written.kth_largest_network(2), key: value}, 2)
    assert any("not constant where" in failure for failure in failures), failures


@pytest.mark.parametrize("scale", [1e-300, 7.0, 1e300])
def test_the_proof_holds_at_any_scale_of_the_hidden_layer(scale: float) -> None:
    net = written.kth_largest_network(2)
    assert written.prove_kth_largest({**net, "W1": net["W1"] * scale}, 2) == []


def test_graph_is_derived_and_wrong_graphs_are_rejected() -> None:
    """The graph has the 12 edges of 1.2; dropping or adding an edge breaks its proof."""
    graph = written.computation_graph()
    assert len(graph) == 12
    assert ("x", "y") in graph and ("t", "S") in graph and ("y'", "S") in graph
    assert written.prove_graph(graph) == []
    for edge in graph:
        assert written.prove_graph(graph - {edge}) != []
    assert written.prove_graph(graph | {("a1", "g")}) != []


def test_wrong_z_and_costs_are_rejected() -> None:
    """Off-by-something z, counts, big-O and region answers fail their proofs."""
    answers = written.reference_answers()
    assert answers["q1_3_1_z"] == [48, 12, 24]
    assert written.prove_z([48, 12, 25]) != []
    wrong_costs: list[tuple[str, str, str]] = [
        ("q1_3_1_cost", "reverse_memory", "2*m*n"),
        ("q1_3_1_cost", "forward_multiplications", "n**2 + m*n"),
        ("q1_3_1_cost", "forward_memory", "n**2 + m*n"),
        ("q1_3_1_cost", "forward_better_when", "m < n"),
        ("q1_3_1_cost", "forward_better_when", "m >= n"),
        ("q1_3_cost", "multiplications", "O(n)"),
        ("q1_3_cost", "memory", "O(n^3)"),
    ]
    for part, key, value in wrong_costs:
        changed = {**answers, part: {**answers[part], key: value}}
        assert written.prove_costs(changed) != [], (part, key, value)


def test_forward_better_when_is_a_relation() -> None:
    """The region is derived as the sympy relation m > n, and as its string."""
    text, relation = written.forward_better_when()
    assert text == "m > n"
    assert relation == (written.m > written.n)


# ---------------------------------------------------------------------------------------------
# Notebook generation
# ---------------------------------------------------------------------------------------------


def test_generated_files_are_up_to_date() -> None:
    """The notebooks and the YAML on disk equal what build.py generates now."""
    for path, text in build.generated_texts().items():
        assert path.exists(), f"missing {path}; run python -m reference_solutions.hw1.build"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale; run python -m reference_solutions.hw1.build"
        )


def test_generation_is_deterministic() -> None:
    """Two generations give identical bytes (fixed cell ids, no outputs)."""
    assert build.notebook_text(False) == build.notebook_text(False)
    assert build.notebook_text(True) == build.notebook_text(True)
    nb = nbformat.reads(build.notebook_text(True), as_version=4)
    assert all(
        cell.outputs == [] and cell.execution_count is None
        for cell in nb.cells
        if cell.cell_type == "code"
    )


def test_percent_to_notebook_cells_and_markers() -> None:
    """Markdown is uncommented; markers vanish; stripping keeps the region's indentation."""
    source = (
        '"""Header, not part of the notebook."""\n'
        "# %% [markdown]\n# # Title\n#\n# Some *text*.\n\n"
        "# %%\ndef f(x):\n"
        '    """Doc."""\n'
        "    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n"
    )
    kept = master_notebook.percent_to_notebook(source, strip_solutions=False)
    stripped = master_notebook.percent_to_notebook(source, strip_solutions=True)
    assert [c.cell_type for c in kept.cells] == ["markdown", "code"]
    assert kept.cells[0].source == "# Title\n\nSome *text*."
    assert kept.cells[1].source == 'def f(x):\n    """Doc."""\n    y = x + 1\n    return y'
    assert stripped.cells[1].source == 'def f(x):\n    """Doc."""\n    raise NotImplementedError'
    for broken in ("# BEGIN SOLUTION\n", "# END SOLUTION\n", "# BEGIN SOLUTION\n" * 2):
        with pytest.raises(ValueError):
            master_notebook.percent_to_notebook("# %%\n" + broken, strip_solutions=True)


def test_template_has_no_solution_code(tmp_path: Path) -> None:
    """No marker and no solution line survives; every graded function raises NotImplemented."""
    template = nbformat.read(build.TEMPLATE_NOTEBOOK, as_version=4)
    text = _code_of(template)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    # A line found only inside solution regions of the source must not reach the template.
    solution_lines: set[str] = set()
    given_lines: set[str] = set()
    inside = False
    for line in build.SOURCE.read_text(encoding="utf-8").splitlines():
        if line.strip() in (master_notebook.BEGIN_SOLUTION, master_notebook.END_SOLUTION):
            inside = line.strip() == master_notebook.BEGIN_SOLUTION
        else:
            (solution_lines if inside else given_lines).add(line.strip())
    solution_only = {line for line in solution_lines - given_lines if len(line) > 8}
    assert len(solution_only) > 50
    assert solution_only & {line.strip() for line in text.splitlines()} == set()

    module = _import_source(text, tmp_path / "hw1_template.py")
    v = np.ones(3)
    args: dict[str, tuple[Any, ...]] = {
        "step": (v,), "indicator": (v,), "kth_largest_params": (2,),
        "hardcoded_forward": (hw1_code.kth_largest_params(2), np.ones((2, 4))),
        "gated_forward": ({}, np.ones((2, 3)), np.zeros(2, dtype=int)),
        "gated_backward": ({}, {}), "numerical_grad": (lambda x: 0.0, v),
        "quadratic_hessian": (v,), "hvp_reverse": (v, v), "hvp_forward": (v, v),
        "mult_count": (3, 2, "reverse"), "memory_count": (3, 2, "forward"),
        "mlp_forward": ({}, np.ones((2, 4))), "mlp_loss_and_grads": ({}, np.ones((2, 4)), v),
        "sgd_step": ({}, {}, 0.1), "adam_step": ({}, {}, {}, 1, 0.1), "train_mlp": (),
    }
    assert set(GRADED_FUNCTIONS) <= set(args)
    for name, call_args in args.items():
        function = getattr(module, name)
        # The signature and docstring are kept for the student.
        assert inspect.signature(function) == inspect.signature(getattr(hw1_code, name))
        assert function.__doc__ == getattr(hw1_code, name).__doc__
        with pytest.raises(NotImplementedError):
            function(*call_args)


def test_training_cell_is_guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as __main__ with AUTOGRADER=1, the reference notebook code trains nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOGRADER", "1")
    nb = nbformat.read(build.REFERENCE_NOTEBOOK, as_version=4)
    script = tmp_path / "hw1_code_as_main.py"
    script.write_text(_code_of(nb), encoding="utf-8")
    runpy.run_path(str(script), run_name="__main__")
    assert not (tmp_path / "hw1_weights.npz").exists()


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------


def test_reference_weights_reach_the_bar() -> None:
    """The reference weights beat 95 % (the grader gives full p5 marks at 92 %)."""
    assert _accuracy(build.REFERENCE_WEIGHTS, seed=777) >= 0.95


def test_weak_weights_land_in_between() -> None:
    """The weak weights earn partial p5 credit: between 60 % and 80 %."""
    assert 0.60 <= _accuracy(build.WEAK_WEIGHTS, seed=778) <= 0.80


def test_training_is_deterministic() -> None:
    """Training with a seed gives the same weights twice."""
    first = hw1_code.train_mlp(hidden=16, steps=30)
    second = hw1_code.train_mlp(hidden=16, steps=30)
    assert all(np.array_equal(first[key], second[key]) for key in first)
