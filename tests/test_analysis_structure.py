"""analysis.structure: metrics and edge lists of a perturbed true graph, the table, errors."""

import json

import pytest

from analysis.structure import classify_edges, format_structure_table, structure_metrics
from causalnet.graph import FactoredGraph, GraphError
from causalnet.spec import default_spec
from rl.envs import WirelessAccessEnv

REMOVED = ("domain", "s0_1")  # a true domain->state edge the learned graph misses
ADDED = ("a8", "r0")  # a spurious action->reward edge (agent 8 is not a neighbour of agent 0)


def _perturbed():
    truth = WirelessAccessEnv.from_grid(2).true_graph()
    parents = {t: set(p) for t, p in truth.parents.items()}
    parents[REMOVED[1]].remove(REMOVED[0])
    parents[ADDED[1]].add(ADDED[0])
    return FactoredGraph(truth.spec, parents), truth


def test_true_graph_edge_count_matches_its_definition():
    truth = WirelessAccessEnv.from_grid(2).true_graph()
    spec = truth.spec
    assert 8 not in spec.neighborhood(0, 1)
    neighbourhood_sizes = sum(len(spec.neighborhood(i, 1)) for i in range(9))
    # per agent (deadline 2): s_i_0 <- s_i_1 + neighbour actions; s_i_1 <- domain; r_i <- 2 slots + neighbour actions
    assert truth.n_edges() == 9 * (1 + 1 + 2) + 2 * neighbourhood_sizes == 134


def test_metrics_of_one_missing_and_one_extra_edge():
    learned, truth = _perturbed()
    m = structure_metrics(learned, truth)
    assert (m["tp"], m["fp"], m["fn"], m["shd"]) == (133, 1, 1, 2)
    assert m["precision"] == pytest.approx(133 / 134) and m["recall"] == pytest.approx(133 / 134)
    assert m["f1"] == pytest.approx(133 / 134)
    assert (m["n_learned_edges"], m["n_true_edges"]) == (134, 134)
    assert m["false_positives"] == [list(ADDED)] and m["false_negatives"] == [list(REMOVED)]
    assert m["missing"] == m["false_negatives"] and m["extra"] == m["false_positives"]
    assert m["true_positives"] == sorted([list(e) for e in truth.edges() if e != REMOVED])
    assert len(m["true_positives"]) == 133
    bm = m["by_mask"]
    assert (bm["domain->state"]["tp"], bm["domain->state"]["fn"]) == (8, 1)
    assert bm["domain->state"]["recall"] == pytest.approx(8 / 9) and bm["domain->state"]["precision"] == 1.0
    n_action_reward = sum(len(truth.spec.neighborhood(i, 1)) for i in range(9))
    assert (bm["action->reward"]["tp"], bm["action->reward"]["fp"]) == (n_action_reward, 1)
    assert bm["action->reward"]["precision"] == pytest.approx(n_action_reward / (n_action_reward + 1))
    for kind in ("state->state", "action->state", "state->reward"):
        assert (bm[kind]["precision"], bm[kind]["recall"], bm[kind]["shd"]) == (1.0, 1.0, 0)
    assert json.loads(json.dumps(m)) == m


def test_classify_edges_all_and_restricted_to_targets():
    learned, truth = _perturbed()
    classes = classify_edges(learned, truth)
    assert classes["fp"] == [ADDED] and classes["fn"] == [REMOVED]
    assert set(classes["tp"]) == set(truth.edges()) - {REMOVED}
    agent0 = classify_edges(learned, truth, variables=["s0_0", "s0_1", "r0"])
    # s0_0 <- s0_1 + actions of {0, 1, 3, 4}; s0_1 <- domain (missed); r0 <- s0_0, s0_1 + the same actions
    actions = [("a0", "r0"), ("a1", "r0"), ("a3", "r0"), ("a4", "r0"),
               ("a0", "s0_0"), ("a1", "s0_0"), ("a3", "s0_0"), ("a4", "s0_0")]
    assert agent0["tp"] == sorted(actions + [("s0_0", "r0"), ("s0_1", "r0"), ("s0_1", "s0_0")])
    assert agent0 == {"tp": agent0["tp"], "fp": [ADDED], "fn": [REMOVED]}
    assert classify_edges(learned, None, variables=["s0_1"]) == {"learned": []}
    assert classify_edges(learned, None, variables=["r0"])["learned"] == sorted(
        [("a0", "r0"), ("a1", "r0"), ("a3", "r0"), ("a4", "r0"), ("a8", "r0"), ("s0_0", "r0"), ("s0_1", "r0")])


def test_table_rows_and_undefined_cells():
    learned, truth = _perturbed()
    lines = format_structure_table(structure_metrics(learned, truth)).splitlines()
    assert lines[0] == "| edges | precision | recall | F1 | SHD | TP | FP | FN |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| all edges", "| state->state", "| action->state", "| domain->state", "| state->reward",
        "| action->reward", "| domain->reward"]
    assert lines[2] == "| all edges | 0.993 | 0.993 | 0.993 | 2 | 133 | 1 | 1 |"
    assert lines[5] == "| domain->state | 1.000 | 0.889 | 0.941 | 1 | 8 | 0 | 1 |"
    assert lines[8] == "| domain->reward | – | – | – | 0 | 0 | 0 | 0 |"
    empty = FactoredGraph(truth.spec, {})
    row = format_structure_table(structure_metrics(empty, truth)).splitlines()[2]
    assert row == "| all edges | – | 0.000 | 0.000 | 134 | 0 | 0 | 134 |"
    # a compare_graphs-like dict without counts: None values are shown as "–"
    assert format_structure_table({"precision": None, "recall": 0.5, "f1": None, "shd": 3}).splitlines()[2] == \
        "| all edges | – | 0.500 | – | 3 | – | – | – |"


def test_errors():
    learned, truth = _perturbed()
    other = WirelessAccessEnv(2, 3, users_per_vertex=1).true_graph()
    with pytest.raises(GraphError, match="different specs"):
        structure_metrics(learned, other)
    with pytest.raises(GraphError, match="different specs"):
        classify_edges(learned, other)
    with pytest.raises(TypeError, match="learned must be a FactoredGraph"):
        structure_metrics(learned.to_dict(), truth)
    with pytest.raises(TypeError, match="truth must be a FactoredGraph"):
        structure_metrics(learned, None)
    with pytest.raises(ValueError, match=r"variables \['a0'\] are not targets"):
        classify_edges(learned, truth, variables=["a0"])
    with pytest.raises(TypeError, match="single string"):
        classify_edges(learned, truth, variables="r0")
    with pytest.raises(TypeError, match="metrics must be a mapping"):
        format_structure_table([1, 2])
    small = default_spec(1, [], 1, 2, 2)
    with pytest.raises(TypeError, match="by_mask"):
        format_structure_table({"by_mask": {"state->state": 1.0}, "spec": small.to_dict()})
