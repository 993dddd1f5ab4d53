"""Written checks judge meaning: networks by behaviour, graphs as edge sets, arrays with tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.checks.arrays import mismatch
from grader.checks.graph import compare_graphs
from grader.checks.network import is_kth_largest, judge_network, read_network
from grader.errors import StudentFileError
from grader.yamlio import load_untrusted_yaml
from reference_solutions.hw1.written import computation_graph, kth_largest_network

ALIASES = {"y_prime": "y'"}
IGNORED = ["W1", "b1", "W2", "b2", "W3", "W4"]


def _net(**overrides: object) -> dict[str, object]:
    net: dict[str, object] = {
        "W1": [[1, -1, 0, 0], [1, 0, -1, 0], [1, 0, 0, -1]],
        "b1": [0, 0, 0],
        "w2": [2, 2, 2],
        "b2": -4,
        "phi1": "hard_threshold",
        "phi2": "indicator",
    }
    net.update(overrides)
    return net


def _judge(value: dict[str, object], k: int = 2) -> tuple[float, str]:
    net = read_network(value)
    assert not isinstance(net, str), net
    outcome = judge_network(net, k, np.random.default_rng(0), label="k")
    return outcome.fraction, outcome.feedback


def test_reference_network_is_right_for_every_k() -> None:
    for k in range(1, 5):
        net = read_network(kth_largest_network(k))
        assert not isinstance(net, str)
        assert judge_network(net, k, np.random.default_rng(k), label="k").passed


def test_a_scaled_network_is_also_right() -> None:
    assert _judge(_net(W1=[[7, -7, 0, 0], [7, 0, -7, 0], [7, 0, 0, -7]], w2=[3, 3, 3], b2=-6.5))[0] == 1


def test_a_network_on_the_indicator_edges_is_wrong_with_an_example() -> None:
    fraction, feedback = _judge(_net(w2=[1, 1, 1], b2=-2))
    assert fraction == 0
    assert "For example x = [" in feedback and "indicator includes its edges" in feedback


def test_a_bias_offset_is_caught_at_small_scales() -> None:
    # Works for inputs a unit apart, fails when the entries differ by less than 0.01.
    fraction, _ = _judge(_net(b1=[-0.01, -0.01, -0.01]))
    assert fraction == 0


def test_a_network_for_another_k_is_wrong() -> None:
    assert _judge(kth_largest_network(3), k=2)[0] == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (_net(W1=[[1, 2]]), "W1 should have shape (3, 4)"),
        (_net(phi1="relu"), "phi1 should be one of"),
        (_net(b2="minus four"), "b2 should be numbers"),
        (_net(b2=float("nan")), "non-finite"),
        ("not a mapping", "should be a mapping"),
    ],
)
def test_a_malformed_network_gets_a_clear_message(value: object, message: str) -> None:
    net = read_network(value)
    assert isinstance(net, str) and message in net


def test_is_kth_largest_matches_the_definition() -> None:
    X = np.array([[3.0, 1.0, 2.0, 4.0], [4.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    assert is_kth_largest(X, 2).tolist() == [1.0, 0.0, 0.0]
    assert is_kth_largest(X, 1).tolist() == [0.0, 1.0, 0.0]
    assert is_kth_largest(X, 4).tolist() == [0.0, 0.0, 1.0]


def test_graph_with_weight_nodes_and_aliases_is_full_marks() -> None:
    edges = [list(e) for e in computation_graph()]
    edges = [[a.replace("y'", "y_prime"), b.replace("y'", "y_prime")] for a, b in edges]
    edges += [["W1", "a1"], ["b2", "a2"]]
    assert compare_graphs(edges, computation_graph(), ALIASES, IGNORED).fraction == 1


def test_graph_partial_credit_counts_wrong_edges_against_right_ones() -> None:
    reference = computation_graph()
    edges = [list(e) for e in reference][:-2]  # two missing
    assert compare_graphs(edges, reference, ALIASES, IGNORED).fraction == pytest.approx(
        (len(reference) - 2) / len(reference)
    )
    reversed_edge = [[b, a] for a, b in list(reference)[:1]]
    outcome = compare_graphs(edges + reversed_edge, reference, ALIASES, IGNORED)
    assert outcome.fraction == pytest.approx((len(reference) - 3) / len(reference))
    assert "wrong way" in outcome.feedback


def test_graph_garbage_scores_zero_without_crashing() -> None:
    for answer in (None, "x -> a1", [[1, 2, 3]], [[None, "x"]], [{"a": 1}]):
        outcome = compare_graphs(answer, computation_graph(), ALIASES, IGNORED)
        assert outcome.fraction == 0


def test_array_mismatch_names_shape_entry_and_tolerance() -> None:
    want = np.array([[16, 8, 20], [8, 4, 10], [20, 10, 25]])
    assert mismatch(want, want.tolist()) is None
    assert "shape (2, 3)" in (mismatch(want, want[:2].tolist()) or "")
    message = mismatch(want, [[16, 8, 20], [8, 5, 10], [20, 10, 25]]) or ""
    assert "[1, 1]" in message and "expected 4" in message and "got 5" in message and "rtol" in message
    assert "numeric array" in (mismatch(want, "16 8 20") or "")
    assert "non-finite" in (mismatch([1.0], [float("inf")]) or "")


def test_untrusted_yaml_refuses_tags_aliases_and_bombs(tmp_path: Path) -> None:
    cases = {
        "tag.yaml": "a: !!python/object/apply:os.system ['echo hi']\n",
        "alias.yaml": "a: &x [1, 2]\nb: [*x, *x, *x]\n",
        "deep.yaml": "a: " + "[" * 50 + "]" * 50 + "\n",
        "dup.yaml": "a: 1\na: 2\n",
        "binary.yaml": "a: 1\x00\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(StudentFileError) as info:
            load_untrusted_yaml(path)
        assert name in str(info.value)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "1" * 300_000, encoding="utf-8")
    with pytest.raises(StudentFileError, match="limit"):
        load_untrusted_yaml(big)
