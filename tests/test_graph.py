"""FactoredGraph masks, from_masks, save/load and the pgmpy export."""

import json

import numpy as np
import pytest

from causalnet.graph import GRAPH_FORMAT_VERSION, FactoredGraph, GraphError
from causalnet.pgmpy_export import to_dynamic_bayesian_network, to_dynamic_bayesian_networks
from causalnet.spec import default_spec
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions


@pytest.fixture(scope="module")
def wireless_graph():
    return WirelessAccessEnv(3, 4).true_graph()


def test_masks_round_trip_through_from_masks(wireless_graph):
    masks = wireless_graph.masks()
    assert set(masks) == {"state_mask", "action_mask", "domain_mask", "reward_state_mask",
                          "reward_action_mask", "reward_domain_mask"}
    rebuilt = FactoredGraph.from_masks(wireless_graph.spec, **masks)
    assert rebuilt == wireless_graph
    # wireless: 24 arrival coordinates depend on the domain, no reward does
    assert masks["domain_mask"].sum() == 24
    assert not masks["reward_domain_mask"].any()


def test_reward_domain_mask_and_int_masks():
    spec = default_spec(2, [(0, 1)], 1, 2, 2)
    g = FactoredGraph.from_masks(spec, state_mask=np.eye(2, dtype=int), action_mask=np.zeros((2, 2)),
                                 domain_mask=[0, 1], reward_state_mask=np.zeros((2, 2)),
                                 reward_action_mask=np.eye(2), reward_domain_mask=[1, 0])
    assert g.reward_domain_mask.tolist() == [True, False]
    assert g.parents["r0"] == {"a0", "domain"}
    assert g.parents["s1_0"] == {"s1_0", "domain"}


@pytest.mark.parametrize("name, value, match", [
    ("state_mask", np.zeros((2, 3), bool), r"state_mask has shape \(2, 3\), expected \(2, 2\)"),
    ("domain_mask", [0, 2], "domain_mask must be boolean"),
])
def test_from_masks_rejects_bad_masks(name, value, match):
    spec = default_spec(2, [(0, 1)], 1, 2, 2)
    masks = FactoredGraph(spec, {}).masks()
    masks[name] = value
    with pytest.raises(GraphError, match=match):
        FactoredGraph.from_masks(spec, **masks)


def test_save_load_round_trip(tmp_path, wireless_graph):
    path = wireless_graph.save(tmp_path / "sub" / "graph.json")
    data = json.loads(path.read_text())
    assert data["format"] == "causalnet.graph" and data["version"] == GRAPH_FORMAT_VERSION
    assert FactoredGraph.load(path) == wireless_graph
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def _write(tmp_path, data):
    path = tmp_path / "g.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(version=99), "format version 99"),
    (lambda d: d.update(format="other"), "has format 'other'"),
    (lambda d: d.pop("spec"), "no 'spec'"),
    (lambda d: d["spec"].pop("n_agents"), "invalid 'spec'.*n_agents"),
    (lambda d: d.update(parents=[1]), "'parents' must be an object"),
    (lambda d: d["parents"].update(s0_0="s0_1"), "parents of 's0_0' must be a list"),
    (lambda d: d["parents"].update(s0_0=["zz"]), r"'s0_0' has unknown or invalid parent\(s\) \['zz'\]"),
    (lambda d: d["parents"].update(a0=[]), "unknown target 'a0'"),
    (lambda d: d.update(domain_affected=[]), "'domain_affected' .* disagrees"),
])
def test_load_errors_name_the_problem(tmp_path, mutate, match):
    spec = default_spec(2, [(0, 1)], 2, 2, 3)
    data = {"format": "causalnet.graph", "version": 1,
            **FactoredGraph(spec, {"s0_0": ["s0_1", "domain"], "r1": ["a1"]}).to_dict()}
    mutate(data)
    with pytest.raises(GraphError, match=match):
        FactoredGraph.load(_write(tmp_path, data))


def test_load_missing_and_invalid_json(tmp_path):
    with pytest.raises(GraphError, match="missing graph file"):
        FactoredGraph.load(tmp_path / "nope.json")
    with pytest.raises(GraphError, match="not valid JSON"):
        FactoredGraph.load(_write(tmp_path, "{not json"))
    with pytest.raises(GraphError, match="must hold a JSON object"):
        FactoredGraph.load(_write(tmp_path, "[1, 2]"))


# ----------------------------------------------------------------- pgmpy export
@pytest.fixture(scope="module")
def small_wireless_data():
    env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    tr = collect_transitions(env, None, episodes=300, horizon=5, domain_factors=[0.2, 0.8], rng=3)
    return env, tr


def test_dbn_arrival_cpd_equals_empirical_frequency(small_wireless_data):
    env, tr = small_wireless_data
    dbns = to_dynamic_bayesian_networks(env.true_graph(), tr)
    assert sorted(dbns) == [0, 1]
    for m, dbn in dbns.items():
        assert dbn.check_model()
        rows = tr.domain == m
        for i in range(env.n_agents):
            cpd = dbn.get_cpds((f"s{i}_1", 1))
            assert cpd.get_evidence() == []
            freq = tr.next_states[rows, 2 * i + 1].mean()
            np.testing.assert_allclose(cpd.values, [1 - freq, freq], atol=1e-12)
            assert abs(freq - (0.2, 0.8)[m]) < 0.05


def test_dbn_structure_and_conditional_cpd(small_wireless_data):
    env, tr = small_wireless_data
    dbn = to_dynamic_bayesian_network(env.true_graph(), tr, domain=0)
    parents = sorted(tuple(p) for p in dbn.get_parents(("s0_0", 1)))
    assert parents == [("a0", 0), ("a1", 0), ("a2", 0), ("a3", 0), ("s0_1", 0)]
    # reward edges are intra-slice, mirrored in slice 1
    assert ("s0_0", 0) in [tuple(p) for p in dbn.get_parents(("r0", 0))]
    assert ("s0_0", 1) in [tuple(p) for p in dbn.get_parents(("r0", 1))]
    # a column of the s0_0 CPD: s0_1 = 1 and everyone idle -> the packet moves to slot 0
    cpd = dbn.get_cpds(("s0_0", 1))
    assert [tuple(v) for v in cpd.variables[1:]] == [("s0_1", 0), ("a0", 0), ("a1", 0), ("a2", 0), ("a3", 0)]
    values = cpd.values  # axes: s0_0(t+1), s0_1, a0, a1, a2, a3
    rows = (tr.domain == 0) & (tr.states[:, 1] == 1) & np.all(tr.actions == 0, axis=1)
    assert rows.sum() >= 2
    np.testing.assert_allclose(values[1, 1, 0, 0, 0, 0], 1.0)
    # initial-state CPD: slot 0 always empty at reset
    np.testing.assert_allclose(dbn.get_cpds(("s0_0", 0)).values, [1.0, 0.0])


def test_dbn_errors(small_wireless_data):
    env, tr = small_wireless_data
    with pytest.raises(ValueError, match="domain 5 has no rows"):
        to_dynamic_bayesian_network(env.true_graph(), tr, domain=5)
    with pytest.raises(ValueError, match="CPD of 's0_0' would have 162 parent configurations"):
        to_dynamic_bayesian_network(env.true_graph(), tr, domain=0, max_cpd_columns=100)
    spec = default_spec(1, [], 1, None, 2)
    g = FactoredGraph(spec, {})
    from causalnet.data import Transitions
    cont = Transitions(spec, np.zeros((2, 1)), np.zeros((2, 1), int), np.zeros((2, 1)), np.ones((2, 1)),
                       np.zeros(2, int), np.zeros(2, int), np.arange(2))
    with pytest.raises(ValueError, match=r"discrete data; continuous coordinates: \['s0_0'\]"):
        to_dynamic_bayesian_network(g, cont, domain=0)
