"""Value, policy and domain ACRs: ground truth on the wireless env and properties on random graphs."""

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from causalnet.acr import acr_table, domain_acr, policy_acr, traceback_depths, value_acr
from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from rl.envs import WirelessAccessEnv


@pytest.mark.parametrize("env", [WirelessAccessEnv(3, 4), WirelessAccessEnv.from_grid(3)],
                         ids=["3x4", "grid3"])
@pytest.mark.parametrize("kappa", [0, 1, 2])
def test_wireless_acr_is_own_queue(env, kappa):
    g = env.true_graph()
    spec = g.spec
    for i in range(env.n_agents):
        own = [spec.state_names[j] for j in spec.agent_state_indices(i)]
        assert value_acr(g, i, kappa=kappa) == own
        assert policy_acr(g, i, kappa=kappa) == own
        assert domain_acr(g, i, kappa=kappa) == [i]


def test_wireless_acr_table():
    env = WirelessAccessEnv(3, 4)
    table = acr_table(env.true_graph(), kappa=1)
    assert len(table) == 24
    for i, row in enumerate(table):
        hop = env.neighborhood(i, 1)
        assert row["full_dim"] == 48 and row["full_size"] == 2 ** 48
        assert row["kappa_hop_dim"] == 2 * len(hop)
        assert row["kappa_hop_size"] == 2 ** (2 * len(hop))
        assert row["acr_dim"] == 2 and row["acr_size"] == 4 and row["policy_acr_dim"] == 2
        assert row["domain_acr_dim"] == 1
        assert row["kappa_hop_action_dim"] == len(hop)
        assert row["kappa_hop_action_size"] == math.prod(int(env.action_counts[j]) for j in hop)
        assert row["acr_log10_size"] == pytest.approx(math.log10(4))


def test_huge_sizes_are_reported_as_log10():
    spec = default_spec(40, [(i, i + 1) for i in range(39)], 2, 3, 2)
    row = acr_table(FactoredGraph(spec, {}), kappa=1)[0]
    assert row["full_size"] is None
    assert row["full_log10_size"] == pytest.approx(80 * math.log10(3))
    assert row["acr_size"] == 1 and row["acr_dim"] == 0


def test_chain_depths_and_restriction():
    # agents on a path 0-1-2-3; r0 <- s0; s0 <- s1; s1 <- s2; s2 <- s3
    spec = default_spec(4, [(0, 1), (1, 2), (2, 3)], 1, 2, 2)
    g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s1_0"], "s1_0": ["s2_0", "domain"],
                             "s2_0": ["s3_0", "domain"]})
    assert value_acr(g, 0, kappa=0) == ["s0_0"]
    assert value_acr(g, 0, kappa=1) == ["s0_0", "s1_0"]
    assert value_acr(g, 0, kappa=2) == ["s0_0", "s1_0", "s2_0"]
    assert traceback_depths(g, 0, kappa=3) == {"s0_0": 0, "s1_0": 1, "s2_0": 2, "s3_0": 3}
    assert policy_acr(g, 0, kappa=3) == ["s0_0", "s1_0"]
    assert domain_acr(g, 0, kappa=1) == [1]
    assert domain_acr(g, 0, kappa=2) == [1, 2]


def test_path_leaving_the_neighbourhood_is_cut():
    # path 0-1-2-3; r0 <- s1; s1 <- s3 (agent 3, outside N_0^2); s3 <- s0: the only
    # two-step path to s0 leaves N_0^2, so s0 is not in the ACR
    spec = default_spec(4, [(0, 1), (1, 2), (2, 3)], 1, 2, 2)
    g = FactoredGraph(spec, {"r0": ["s1_0"], "s1_0": ["s3_0"], "s3_0": ["s0_0"]})
    assert value_acr(g, 0, kappa=2) == ["s1_0"]
    assert value_acr(g, 0, kappa=3) == ["s0_0", "s1_0", "s3_0"]


@pytest.mark.parametrize("kappa, match", [(-1, "kappa must be an integer >= 0"),
                                          (1.5, "kappa must be an integer >= 0")])
def test_bad_kappa(kappa, match):
    g = WirelessAccessEnv(2, 2, users_per_vertex=1).true_graph()
    with pytest.raises(ValueError, match=match):
        value_acr(g, 0, kappa=kappa)


def test_bad_agent():
    g = WirelessAccessEnv(2, 2, users_per_vertex=1).true_graph()
    with pytest.raises(ValueError, match=r"agent must be an integer in 0..3, got 7"):
        value_acr(g, 7, kappa=1)


# ------------------------------------------------------------------ properties
def _random_graph(seed: int, n_agents: int, density: float) -> FactoredGraph:
    rng = np.random.default_rng(seed)
    inter = nx.gnp_random_graph(n_agents, 0.35, seed=int(rng.integers(2 ** 31)))
    dims = rng.integers(1, 4, n_agents)
    spec = default_spec(n_agents, list(inter.edges()), dims, 2, 2)
    m, n = spec.n_state, n_agents
    return FactoredGraph.from_masks(
        spec, state_mask=rng.random((m, m)) < density, action_mask=rng.random((m, n)) < 0.2,
        domain_mask=rng.random(m) < 0.4, reward_state_mask=rng.random((n, m)) < density,
        reward_action_mask=rng.random((n, n)) < 0.2)


def _oracle_distance(g: FactoredGraph, agent: int, kappa: int) -> dict[str, int]:
    """Shortest traceback distance via networkx on the parent graph restricted to N_i^kappa."""
    spec = g.spec
    allowed = {s for s in spec.state_names if spec.owner(s) in set(spec.neighborhood(agent, kappa))}
    dg = nx.DiGraph()
    dg.add_node("R")
    dg.add_nodes_from(allowed)
    for p in g.parents[spec.reward_names[agent]]:
        if p in allowed:
            dg.add_edge("R", p)
    for child in allowed:
        for p in g.parents[child]:
            if p in allowed:
                dg.add_edge(child, p)
    dist = nx.single_source_shortest_path_length(dg, "R", cutoff=kappa + 1)
    return {k: d - 1 for k, d in dist.items() if k != "R"}


def _check_acr_properties(g: FactoredGraph, kappa: int) -> None:
    spec = g.spec
    for i in range(spec.n_agents):
        depths = traceback_depths(g, i, kappa=kappa)
        acr = value_acr(g, i, kappa=kappa)
        members = set(acr)
        assert acr == [s for s in spec.state_names if s in members]          # spec order
        assert list(depths) == acr
        hop = set(spec.neighborhood(i, kappa))
        assert all(spec.owner(s) in hop for s in acr)
        # same set and depths as an independent shortest-path computation
        assert depths == {k: v for k, v in sorted(_oracle_distance(g, i, kappa).items(),
                                                  key=lambda kv: spec.index(kv[0]))}
        # closed: parents (inside N_i^kappa) of members reached in < kappa steps are members
        for s, d in depths.items():
            if d < kappa:
                for p in g.parents[s]:
                    if spec.kind(p) == "state" and spec.owner(p) in hop:
                        assert p in members
        # minimal: every member is a reward parent or a parent of a member one step closer
        for s, d in depths.items():
            assert 0 <= d <= kappa
            if d == 0:
                assert s in g.parents[spec.reward_names[i]]
            else:
                assert any(s in g.parents[c] for c, dc in depths.items() if dc == d - 1)
        # policy ACR = value ACR within s_{N_i}
        one_hop = set(spec.neighborhood(i, 1))
        assert policy_acr(g, i, kappa=kappa) == [s for s in acr if spec.owner(s) in one_hop]
        # domain ACR: owners of domain-affected members
        assert domain_acr(g, i, kappa=kappa) == sorted({spec.owner(s) for s in acr
                                                        if spec.domain_name in g.parents[s]})
    for row in acr_table(g, kappa=kappa):
        assert row["acr_dim"] <= row["kappa_hop_dim"] <= row["full_dim"]
        assert row["policy_acr_dim"] <= min(row["acr_dim"], row["policy_kappa_hop_dim"])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 100_000), st.integers(1, 7), st.floats(0.05, 0.6), st.integers(0, 4))
def test_acr_closed_and_minimal_on_random_graphs(seed, n_agents, density, kappa):
    _check_acr_properties(_random_graph(seed, n_agents, density), kappa)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kappa", [1, 2])
def test_acr_properties_on_synthetic_env(seed, kappa):
    from rl.envs.synthetic import SyntheticNetworkEnv

    env = SyntheticNetworkEnv(n_agents=8, topology="random", rng=seed)
    g = env.true_graph()
    _check_acr_properties(g, kappa)
    # the synthetic family has cross-agent state parents, so some ACR reaches beyond the own state
    assert any(value_acr(g, i, kappa=kappa) for i in range(env.n_agents))


@pytest.mark.slow
def test_acr_from_learned_graph_equals_ground_truth():
    from causalnet.discovery import LocalDiscovery
    from rl.rollout import collect_transitions

    env = WirelessAccessEnv.from_grid(3)
    tr = collect_transitions(env, None, episodes=2000, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=0)
    learned = LocalDiscovery().fit(tr).graph_
    truth = env.true_graph()
    for kappa in (1, 2):
        for i in range(env.n_agents):
            assert value_acr(learned, i, kappa=kappa) == value_acr(truth, i, kappa=kappa)
            assert policy_acr(learned, i, kappa=kappa) == policy_acr(truth, i, kappa=kappa)
            assert domain_acr(learned, i, kappa=kappa) == [i]
