"""compare_graphs: counts, scores, per-mask breakdown and edge cases."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from causalnet.graph import FactoredGraph, GraphError
from causalnet.graph_metrics import EDGE_TYPES, compare_graphs
from causalnet.spec import default_spec
from rl.envs import WirelessAccessEnv

SPEC = default_spec(3, [(0, 1), (1, 2)], 2, 2, 3)


def test_identical_graphs_score_perfectly():
    g = WirelessAccessEnv(3, 4).true_graph()
    m = compare_graphs(g, g)
    assert (m["precision"], m["recall"], m["f1"], m["shd"], m["fp"], m["fn"]) == (1.0, 1.0, 1.0, 0, 0, 0)
    assert m["tp"] == g.n_edges()
    assert m["by_mask"]["domain->state"]["tp"] == 24
    assert m["by_mask"]["state->state"]["tp"] == 24
    assert m["by_mask"]["domain->reward"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "shd": 0,
                                              "tp": 0, "fp": 0, "fn": 0}


def test_missing_and_extra_edges_by_mask():
    truth = FactoredGraph(SPEC, {"s0_0": ["s0_1", "a0", "domain"], "r0": ["s0_0", "a1"], "s1_1": ["s2_0"]})
    learned = FactoredGraph(SPEC, {"s0_0": ["s0_1", "a1"], "r0": ["s0_0", "a1", "domain"], "s1_1": ["s2_0"]})
    m = compare_graphs(learned, truth)
    assert (m["tp"], m["fp"], m["fn"], m["shd"]) == (4, 2, 2, 4)
    assert m["precision"] == pytest.approx(4 / 6) and m["recall"] == pytest.approx(4 / 6)
    assert m["missing"] == [["a0", "s0_0"], ["domain", "s0_0"]]
    assert m["extra"] == [["a1", "s0_0"], ["domain", "r0"]]
    bm = m["by_mask"]
    assert (bm["action->state"]["tp"], bm["action->state"]["fp"], bm["action->state"]["fn"]) == (0, 1, 1)
    assert bm["domain->state"]["recall"] == 0.0 and bm["domain->state"]["precision"] == 1.0
    assert bm["domain->reward"]["precision"] == 0.0 and bm["domain->reward"]["f1"] == 0.0
    assert bm["state->state"]["f1"] == 1.0


def test_empty_graph_edge_cases():
    empty = FactoredGraph(SPEC, {})
    truth = FactoredGraph(SPEC, {"s0_0": ["s0_1"]})
    m = compare_graphs(empty, truth)
    assert (m["precision"], m["recall"], m["f1"], m["shd"]) == (1.0, 0.0, 0.0, 1)
    m = compare_graphs(truth, empty)
    assert (m["precision"], m["recall"], m["f1"], m["shd"]) == (0.0, 1.0, 0.0, 1)
    m = compare_graphs(empty, empty)
    assert (m["precision"], m["recall"], m["f1"], m["shd"]) == (1.0, 1.0, 1.0, 0)


def test_errors():
    other = default_spec(3, [(0, 1)], 2, 2, 3)
    with pytest.raises(GraphError, match="different specs"):
        compare_graphs(FactoredGraph(SPEC, {}), FactoredGraph(other, {}))
    with pytest.raises(TypeError, match="learned must be a FactoredGraph"):
        compare_graphs({}, FactoredGraph(SPEC, {}))


def _random_graph(seed: int, density: float) -> FactoredGraph:
    rng = np.random.default_rng(seed)
    m, n = SPEC.n_state, SPEC.n_agents
    return FactoredGraph.from_masks(
        SPEC, state_mask=rng.random((m, m)) < density, action_mask=rng.random((m, n)) < density,
        domain_mask=rng.random(m) < density, reward_state_mask=rng.random((n, m)) < density,
        reward_action_mask=rng.random((n, n)) < density, reward_domain_mask=rng.random(n) < density)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_counts_add_up_for_random_graphs(seed_a, seed_b, density):
    learned, truth = _random_graph(seed_a, density), _random_graph(seed_b, 0.3)
    m = compare_graphs(learned, truth)
    pred, true = set(learned.edges()), set(truth.edges())
    assert m["shd"] == len(pred ^ true)
    assert m["tp"] + m["fp"] == len(pred) and m["tp"] + m["fn"] == len(true)
    for key in ("tp", "fp", "fn", "shd"):
        assert sum(m["by_mask"][k][key] for k in EDGE_TYPES) == m[key]
    assert 0.0 <= m["f1"] <= 1.0
