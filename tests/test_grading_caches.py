"""What the grader works out once per process, not once per submission, and what it still draws per submission.

Each remembered value is keyed on everything it depends on, so one submission's value is never
served to another unless it is the same for all: the weights test set (salt and item), the
1.1 verdict (the network), the exact part of a network's judgement, a written reference's value.
Hidden inputs and p1's probes depend on the submission and are drawn for each. The shortcuts
(the weights labels, the isclose, the probe inputs) must give exactly what the slower code gave.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SAMPLES

from grader import engine
from grader.checks import expressions
from grader.checks.arrays import _isclose
from grader.checks.registry import WeightsContext, WeightsTask
from grader.checks.weights import relu_hidden_layer_labels, shared_test_set, weights_accuracy
from grader.errors import GraderError
from grader.outcome import Outcome
from grader.rubric import Rubric
from grader.submission import open_submission
from reference_solutions.hw1 import hw1_code, network, plugin
from reference_solutions.hw1.written import kth_largest_network

# ---------------------------------------------------------------- the weights test set


def test_the_weights_test_set_is_drawn_once_per_seed_and_handed_out_read_only() -> None:
    X, y = shared_test_set(plugin.hidden_test_set, 11, 700)
    assert shared_test_set(plugin.hidden_test_set, 11, 700)[0] is X
    fresh_X, fresh_y = plugin.hidden_test_set(11, 700)
    assert np.array_equal(X, fresh_X) and np.array_equal(y, fresh_y)
    other_X, _ = shared_test_set(plugin.hidden_test_set, 12, 700)
    assert not np.array_equal(other_X, X)
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0] = 5.0  # a forward pass that wrote into it would change the next submission's set


def test_the_weights_test_set_depends_on_the_salt_and_item_never_on_the_submission(
        rubric: Rubric, monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.checks.weights as weights_module

    seeds: list[tuple[str, str, int]] = []
    real = weights_module.shared_test_set

    def spy(test_set: Any, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        seeds.append((salt, name, seed))
        return real(test_set, seed, size)

    monkeypatch.setattr(weights_module, "shared_test_set", spy)
    items = rubric.items_of("weights")
    for salt in ("salt-a", "salt-b"):
        for name in ("reference", "weak_weights"):
            with tempfile.TemporaryDirectory() as work:
                submission = open_submission(SAMPLES / name, dict(rubric.files), Path(work))
                engine._grade_weights(submission, rubric, items, salt, {}, [], [])
    by_salt = {salt: {seed for s, _, seed in seeds if s == salt} for salt in ("salt-a", "salt-b")}
    assert len(seeds) == 4 and all(len(found) == 1 for found in by_salt.values())
    assert by_salt["salt-a"] != by_salt["salt-b"]


# ---------------------------------------------------------------- the weights labels shortcut


def _mlp(rng: np.random.Generator, hidden: int, scale: float) -> dict[str, np.ndarray]:
    return {"W1": rng.normal(size=(4, hidden)) * scale, "b1": rng.normal(size=hidden) * scale,
            "W2": rng.normal(size=(hidden, 4)) * scale, "b2": rng.normal(size=4) * scale}


def _reference_labels(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return np.argmax(hw1_code.mlp_forward(params, X), axis=1)


def test_the_labels_shortcut_picks_the_classes_of_the_reference_forward_pass() -> None:
    X, _ = plugin.hidden_test_set(5, 3000)  # several blocks of rows, the last one partial
    rng = np.random.default_rng(0)
    for trial in range(120):
        params = _mlp(rng, int(rng.integers(1, 257)), float(10.0 ** rng.uniform(-4, 4)))
        labels = relu_hidden_layer_labels(params, X)
        assert labels is not None, trial
        assert np.array_equal(labels, _reference_labels(params, X)), trial
    X, _ = plugin.hidden_test_set(6, 20_000)
    for folder in sorted(SAMPLES.iterdir()):
        path = folder / "hw1_weights.npz"
        if path.is_file():
            with np.load(path) as data:
                params = {key: data[key].astype(np.float64) for key in data.files}
            if params["W1"].shape[0] == 4 and all(np.isfinite(value).all() for value in params.values()):
                labels = relu_hidden_layer_labels(params, X)
                assert labels is not None and np.array_equal(labels, _reference_labels(params, X)), folder.name


def test_the_labels_shortcut_gives_way_where_the_winner_is_not_certain() -> None:
    X, _ = plugin.hidden_test_set(7, 2000)
    params = _mlp(np.random.default_rng(1), 16, 1.0)
    assert relu_hidden_layer_labels(params, X) is not None
    tied = dict(params, W2=params["W2"][:, [0, 0, 2, 3]], b2=np.array([9.0, 9.0, 0.0, 0.0]))
    assert relu_hidden_layer_labels(tied, X) is None  # classes 0 and 1 tie exactly in every row
    close = dict(params, W2=np.zeros_like(params["W2"]), b2=np.array([1.0, 1.0 + 2.0**-50, 0.0, 0.0]))
    assert relu_hidden_layer_labels(close, X) is None  # a lead of 1e-15: within the rounding bound
    huge = {key: value * 1e160 for key, value in params.items()}
    assert relu_hidden_layer_labels(huge, X) is None  # magnitudes beyond 1e300: the reference decides
    assert relu_hidden_layer_labels(dict(params, W2=params["W2"][:, :1], b2=params["b2"][:1]), X) is None  # one class


def _accuracy(task: WeightsTask, path: Path) -> Outcome:
    params = {"task": task.name, "zero_at": 0.5, "full_at": 0.92, "test_size": 4000, "max_hidden": 256}
    return weights_accuracy(path, WeightsContext("p5", params, hw1_code, 99, {task.name: task}))


def test_weights_score_the_same_with_and_without_the_labels_shortcut(rubric: Rubric, tmp_path: Path) -> None:
    task = rubric.weights_tasks["second_largest"]
    assert task.labels is relu_hidden_layer_labels
    slow = dataclasses.replace(task, labels=None)
    files = sorted(SAMPLES.glob("*/hw1_weights.npz"))
    rng = np.random.default_rng(2)
    base = _mlp(rng, 8, 1.0)
    written = {  # where the shortcut gives way: exact ties, overflow
        "tied": dict(base, W2=base["W2"][:, [1, 1, 2, 3]], b2=np.array([0.0, 50.0, 0.0, 0.0])),
        "overflow": {key: value * 1e200 for key, value in base.items()},
        "random": _mlp(rng, 64, 3.0),
    }
    for name, params in written.items():
        np.savez(tmp_path / f"{name}.npz", **params)
        files.append(tmp_path / f"{name}.npz")
    for path in files:
        assert _accuracy(task, path) == _accuracy(slow, path), path


# ---------------------------------------------------------------- threshold networks (1.1 and p1)


def _network(k: int = 2, **changes: Any) -> network.ThresholdNetwork:
    net = network.read_network({**kth_largest_network(k), **changes})
    assert not isinstance(net, str), net
    return net


def test_a_remembered_1_1_verdict_is_always_that_networks_own() -> None:
    nets = [_network(), _network(b2=-3.0), _network(), _network(phi2="hard_threshold"), _network(b2=-3.0)]
    for net in nets:  # right, wrong, right again, wrong another way, wrong again: each its own verdict
        for seed in (1, 2):
            fresh = network.judge_network(net, 2, np.random.default_rng(seed), label="k = 2")
            assert network.judge_network_seeded(net, 2, seed, label="k = 2") == fresh
    assert network.judge_network_seeded(nets[0], 2, 1, label="k = 2").passed
    assert not network.judge_network_seeded(nets[1], 2, 1, label="k = 2").passed


def test_networks_equal_as_floats_but_written_differently_are_judged_apart() -> None:
    third = {"b1": ["1/3", 0, 0]}
    decimal = {"b1": [0.3333333333333333, 0, 0]}
    a, b = (network.read_network({**kth_largest_network(2), **change}) for change in (third, decimal))
    assert not isinstance(a, str) and not isinstance(b, str)
    assert np.array_equal(a.b1, b.b1) and a.exact != b.exact
    assert network._Keyed.of(a) != network._Keyed.of(b)


def test_a_remembered_verdict_hands_out_its_own_copy_of_the_staff_details(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "judge_network", lambda *args, **kwargs: Outcome(0.0, "no", {"unchecked": "why"}))
    net, seed = _network(), 987_654_321  # a seed no other test uses: nothing remembered for it
    first = network.judge_network_seeded(net, 2, seed, label="k = 2")
    assert first.details is not None
    first.details["unchecked"] = "changed by the caller"
    assert network.judge_network_seeded(net, 2, seed, label="k = 2").details == {"unchecked": "why"}


def test_p1_probes_are_drawn_for_every_submission_and_the_exact_part_once(monkeypatch: pytest.MonkeyPatch) -> None:
    network._exact_judgement.cache_clear()
    drawn: list[np.ndarray] = []
    exact_forms: list[object] = []
    real_probes, real_of = network.probe_inputs, network._Exact.of
    monkeypatch.setattr(network, "probe_inputs", lambda net, rng: drawn.append(real_probes(net, rng)) or drawn[-1])
    monkeypatch.setattr(network._Exact, "of", staticmethod(lambda net: exact_forms.append(net) or real_of(net)))
    wrong = _network(b2=-3.0)
    verdicts = [network.judge_network(wrong, 2, np.random.default_rng(seed), label="k = 2") for seed in (1, 2)]
    assert len(drawn) == 2 and not np.array_equal(drawn[0], drawn[1])  # each submission's own probes
    assert len(exact_forms) == 1  # the exact judgement depends on the network alone
    assert all(not verdict.passed for verdict in verdicts)


def _probe_inputs_as_before(net: network.ThresholdNetwork, rng: np.random.Generator) -> np.ndarray:
    """probe_inputs as it was written before it was made faster: the same rows must come out."""
    base = np.array([1.0, 2.0, 3.0, 4.0])
    batches = []
    for scale in network.SCALES:
        perms = np.array(list(itertools.permutations(base)))
        batches += [perms * scale, (perms - 2.5) * scale, (perms * 1e-3 + 7.0) * scale]
    batches.append(network._near_ties(rng))
    for scale in network.SCALES:
        batches.append(rng.uniform(-1, 1, size=(4000 // len(network.SCALES), 4)) * scale)
    batches.append(network._edge_inputs(net, rng))
    X = np.concatenate(batches)
    return X[(np.diff(np.sort(X, axis=1), axis=1) != 0).all(axis=1)]


def test_the_probe_inputs_are_the_same_rows_as_before() -> None:
    rng = np.random.default_rng(3)
    nets = [_network(k) for k in range(1, 5)] + [_network(phi1="indicator")]
    for trial in range(20):  # small-integer networks, some with a unit of zero weights
        W1 = rng.integers(-2, 3, size=(3, 4)).astype(float)
        W1[trial % 3] *= trial % 2
        nets.append(dataclasses.replace(nets[0], W1=W1, exact=None))
    for index, net in enumerate(nets):
        got = network.probe_inputs(net, np.random.default_rng(index))
        assert got.tobytes() == _probe_inputs_as_before(net, np.random.default_rng(index)).tobytes(), index


# ---------------------------------------------------------------- hidden inputs stay per submission


def test_two_submissions_get_different_hidden_inputs_and_the_same_public_ones(rubric: Rubric) -> None:
    reference = rubric.load_code_reference()
    plans = [{item.id: engine.plan_notebook_item(item, rubric, reference, "salt", fingerprint)
              for item in rubric.items_of("notebook")} for fingerprint in ("submission-1", "submission-2")]

    def args(probe: Any) -> bytes:
        return repr([(call.function, [np.asarray(a).tobytes() if isinstance(a, np.ndarray) else repr(a)
                                      for a in call.args]) for call in probe.calls]).encode()

    for item in rubric.items_of("notebook"):
        first, second = plans[0][item.id], plans[1][item.id]
        if item.visibility == "visible":
            assert args(first.probe) == args(second.probe), item.id  # public: the self-check's inputs
            assert first.retest is not None and second.retest is not None
            assert args(first.retest) != args(second.retest), item.id
        elif item.id != "p1_kth_largest":  # its calls take only k; its probes' seed is hidden (above)
            assert args(first.probe) != args(second.probe), item.id


# ---------------------------------------------------------------- written references, tolerances


def test_a_remembered_reference_expression_is_always_its_own() -> None:
    m, n = (expressions.parse_expression(name) for name in ("m", "n"))
    assert expressions.equal_expressions("3mn", "3*m*n").passed
    assert not expressions.equal_expressions("3mn", "2*m*n").passed
    assert expressions.equal_expressions("3mn", 3 * m * n).passed
    assert not expressions.equal_expressions("3mn", 3 * m * n + n).passed
    assert expressions.equal_big_o("O(n^2)", "O(n^2 + n)").passed
    assert not expressions.equal_big_o("O(n^2)", "O(n^3)").passed
    for _ in range(2):  # an invalid reference is refused every time, never remembered as a value
        with pytest.raises(GraderError):
            expressions.equal_expressions("n", "n +")


def test_isclose_shortcut_is_numpys_isclose() -> None:
    values = np.array([0.0, -0.0, 1.0, -1.0, 1.0 + 1e-9, 1e-300, 5e-324, 1e300, -1e300, 3.5, np.inf, -np.inf, np.nan])
    have, want = (grid.ravel() for grid in np.meshgrid(values[:-3], values))  # have is always finite
    for rtol, atol in [(1e-6, 1e-8), (0.0, 0.0), (1e-9, 1e-12), (0.5, 0.0), (0.0, 2.0), (-1e-6, 1e-8)]:
        assert np.array_equal(_isclose(have, want, rtol, atol), np.isclose(have, want, rtol=rtol, atol=atol))
    assert _isclose(np.array(1.0), np.array(1.0 + 1e-12), 1e-9, 0.0) == np.isclose(1.0, 1.0 + 1e-12, rtol=1e-9, atol=0)


def test_exact_fractions_in_a_network_key_are_bounded_in_size() -> None:
    # A key holds the numbers as written; read_network refuses numbers longer than 48 characters.
    long_number = "1" * 60
    assert isinstance(network.read_network({**kth_largest_network(2), "b2": long_number}), str)
    exact = network._Keyed.of(_network(b1=["1/3", 0, 0])).key[-3]
    assert isinstance(exact, tuple) and Fraction(1, 3) in exact
