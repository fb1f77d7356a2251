"""Tests of the synthetic family of random factored networked MDPs."""

from __future__ import annotations

import itertools
import json

import networkx as nx
import numpy as np
import pytest
from scipy.stats import chi2

from rl.envs import SyntheticNetworkEnv, make_interaction_graph
from rl.envs.synthetic import _effect_margins
from rl.rollout import collect_transitions


@pytest.fixture(scope="module")
def hetero_env() -> SyntheticNetworkEnv:
    """Small env with heterogeneous dimensions and cardinalities, many domain-affected coordinates."""
    dims = [1, 2, 3, 2, 1, 2]
    cards = [2, 3, 2, 2, 3, 2, 2, 3, 2, 2, 3]
    return SyntheticNetworkEnv(n_agents=6, topology="ring", state_dims=dims, state_cardinality=cards,
                               action_cardinality=[2, 3, 2, 3, 2, 2], domain_affected_prob=0.6,
                               cross_agent_prob=0.6, max_state_parents=3, domain_factor=0.3, rng=11)


def _g_test(x: np.ndarray, y: np.ndarray, strata: np.ndarray) -> float:
    """p-value of the G-test of x independent of y given the stratum codes."""
    g, dof = 0.0, 0
    for s in np.unique(strata):
        sel = strata == s
        xs, x_codes = np.unique(x[sel], return_inverse=True)
        ys, y_codes = np.unique(y[sel], return_inverse=True)
        counts = np.zeros((xs.size, ys.size))
        np.add.at(counts, (x_codes, y_codes), 1)
        expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / counts.sum()
        nz = counts > 0
        g += 2 * np.sum(counts[nz] * np.log(counts[nz] / expected[nz]))
        dof += (xs.size - 1) * (ys.size - 1)
    return float(chi2.sf(g, dof)) if dof else 1.0


def _codes(columns: np.ndarray) -> np.ndarray:
    """One integer code per row of a (N, k) integer array."""
    if columns.shape[1] == 0:
        return np.zeros(columns.shape[0], dtype=np.int64)
    return np.unique(columns, axis=0, return_inverse=True)[1].ravel()


# ------------------------------------------------------------------------- construction
def test_same_seed_gives_same_graph_and_tables(hetero_env):
    again = SyntheticNetworkEnv(n_agents=6, topology="ring", state_dims=[1, 2, 3, 2, 1, 2],
                                state_cardinality=[2, 3, 2, 2, 3, 2, 2, 3, 2, 2, 3],
                                action_cardinality=[2, 3, 2, 3, 2, 2], domain_affected_prob=0.6,
                                cross_agent_prob=0.6, max_state_parents=3, domain_factor=0.3,
                                rng=np.random.default_rng(11))
    assert again.true_graph() == hetero_env.true_graph()
    for target in hetero_env.true_graph().targets:
        a, b = hetero_env.conditional_table(target), again.conditional_table(target)
        assert a.parents == b.parents
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
    other = SyntheticNetworkEnv(n_agents=6, topology="ring", rng=12)
    first = SyntheticNetworkEnv(n_agents=6, topology="ring", rng=11)
    assert any(not np.array_equal(first.conditional_table(t).probabilities, other.conditional_table(t).probabilities)
               for t in first.true_graph().targets)


def test_random_topology_is_seeded_connected_and_bounded():
    g1 = make_interaction_graph("random", 40, max_degree=3, rng=5)
    g2 = make_interaction_graph("random", 40, max_degree=3, rng=5)
    assert sorted(g1.edges) == sorted(g2.edges)
    assert nx.is_connected(g1) and max(d for _, d in g1.degree()) <= 3
    assert g1.number_of_edges() > 39            # a tree plus extra edges
    assert sorted(d for _, d in make_interaction_graph("ring", 7).degree()) == [2] * 7
    grid = make_interaction_graph("grid", 12)    # 3 x 4 lattice
    assert grid.number_of_edges() == 3 * 3 + 2 * 4


def test_user_graph_is_used_as_given():
    g = nx.star_graph(4)                          # hub 0 with leaves 1..4
    env = SyntheticNetworkEnv(g, rng=0)
    assert env.n_agents == 5 and env.spec.edges == ((0, 1), (0, 2), (0, 3), (0, 4))
    assert env.neighborhood(1) == [0, 1]


# ------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize("seed", [0, 1])
def test_true_parents_are_local_and_follow_the_design(seed):
    env = SyntheticNetworkEnv.random(30, rng=seed, max_state_parents=3, reward_state_parents=2)
    spec, graph = env.spec, env.true_graph()
    for target in graph.targets:
        i = spec.owner(target)
        parents = graph.parents[target]
        local = set(env.neighborhood(i))
        assert all(spec.owner(p) in local for p in parents if p != spec.domain_name)
        states = [p for p in parents if spec.kind(p) == "state"]
        actions = [p for p in parents if spec.kind(p) == "action"]
        assert any(spec.owner(p) == i for p in states)          # always an own coordinate
        if spec.kind(target) == "state":
            assert 1 <= len(states) <= 3
            assert len(actions) <= 2
        else:
            assert len(states) == 2 and f"a{i}" in actions and len(actions) == 1
            assert spec.domain_name not in parents
        table = env.conditional_table(target)
        assert set(table.parents) == parents - {spec.domain_name}
        assert table.probabilities.shape == tuple(spec.cardinality(p) for p in table.parents) + (
            spec.cardinality(target) or 2,)
    # the masks carry the same edges
    assert graph.state_mask.sum() + graph.action_mask.sum() + graph.domain_mask.sum() == sum(
        len(graph.parents[s]) for s in spec.state_names)
    # the family has cross-agent edges of every kind at this size
    cross = [(p, t) for p, t in graph.edges() if p != spec.domain_name and spec.owner(p) != spec.owner(t)]
    assert any(spec.kind(p) == "state" for p, _ in cross) and any(spec.kind(p) == "action" for p, _ in cross)
    assert graph.domain_affected


def test_probabilities_depend_on_exactly_the_true_parents(hetero_env):
    env, spec = hetero_env, hetero_env.spec
    rng = np.random.default_rng(0)
    batch, m = 400, spec.n_state
    states = env.reset(batch, rng)
    actions = np.minimum((rng.random((batch, env.n_agents)) * env.action_counts).astype(int), env.action_counts - 1)
    base = env.probabilities(states, actions)
    graph = env.true_graph()
    inputs = list(spec.state_names) + list(spec.action_names)
    for k, name in enumerate(inputs):
        s2, a2 = states.copy(), actions.copy()
        if k < m:
            s2[:, k] = (s2[:, k] + 1) % spec.state_cardinality[k]
        else:
            a2[:, k - m] = (a2[:, k - m] + 1) % env.action_counts[k - m]
        changed = np.abs(env.probabilities(s2, a2) - base).max(axis=(0, 2)) > 1e-12
        children = {t for t in graph.targets if name in graph.parents[t]}
        assert {t for t, c in zip(graph.targets, changed) if c} == children


def test_parent_effects_reach_the_margin():
    env = SyntheticNetworkEnv.random(20, rng=4, min_effect=0.15)
    effects = env.parent_effects()
    graph = env.true_graph()
    assert {t: set(e) for t, e in effects.items()} == {t: set(graph.parents[t]) for t in graph.targets}
    assert env.min_parent_effect() >= 0.15


def test_effect_margin_of_known_tables():
    noisy_copy = np.array([[0.9, 0.1], [0.1, 0.9]])            # y = x with 10% noise
    np.testing.assert_allclose(_effect_margins(noisy_copy), [0.8])
    xor = np.zeros((2, 2, 2))
    for a, b in itertools.product(range(2), repeat=2):
        xor[a, b] = [0.9, 0.1] if a == b else [0.1, 0.9]
    np.testing.assert_allclose(_effect_margins(xor), [0.0, 0.0], atol=1e-12)   # invisible marginally


# ------------------------------------------------------------------------- dynamics
def test_empirical_conditionals_match_tables(hetero_env):
    env, spec = hetero_env, hetero_env.spec
    w = np.linspace(0.1, 0.9, env.n_agents)
    rng = np.random.default_rng(1)
    batch = 40_000
    states = env.reset(batch, rng)
    actions = np.minimum((rng.random((batch, env.n_agents)) * env.action_counts).astype(int), env.action_counts - 1)
    nxt, rewards = env.step(states, actions, rng, domain_factor=w)
    columns = {**{s: states[:, j] for j, s in enumerate(spec.state_names)},
               **{a: actions[:, i] for i, a in enumerate(spec.action_names)}}
    outcomes = {**{s: nxt[:, j] for j, s in enumerate(spec.state_names)},
                **{r: rewards[:, i].astype(int) for i, r in enumerate(spec.reward_names)}}
    checked = 0
    for target in ["s1_1", "s2_0", "s2_2", "s4_0", "r1", "r3"] + env.true_graph().domain_affected[:2]:
        table = env.conditional_table(target, float(w[spec.owner(target)]))
        probs = table.probabilities
        for config in itertools.product(*(range(c) for c in probs.shape[:-1])):
            sel = np.ones(batch, dtype=bool)
            for name, value in zip(table.parents, config):
                sel &= columns[name] == value
            count = sel.sum()
            freq = np.bincount(outcomes[target][sel], minlength=probs.shape[-1]) / count
            p = probs[config]
            tol = 5 * np.sqrt(p * (1 - p) / count) + 1e-3
            assert np.all(np.abs(freq - p) <= tol), (target, config, freq, p)
            checked += 1
    assert checked > 40


def test_domain_factor_moves_exactly_the_affected_coordinates(hetero_env):
    env, spec = hetero_env, hetero_env.spec
    affected = set(env.true_graph().domain_affected)
    assert affected and len(affected) < spec.n_state
    rng = np.random.default_rng(2)
    batch = 20_000
    states = env.reset(batch, rng)
    actions = np.minimum((rng.random((batch, env.n_agents)) * env.action_counts).astype(int), env.action_counts - 1)
    low, _ = env.with_domain_factor(0.2).step(states, actions, np.random.default_rng(3))
    high, _ = env.with_domain_factor(0.8).step(states, actions, np.random.default_rng(3))
    for j, name in enumerate(spec.state_names):
        if name in affected:
            # distributions differ: compare value frequencies with a two-sample G-test
            x = np.r_[np.zeros(batch, int), np.ones(batch, int)]
            p = _g_test(x, np.r_[low[:, j], high[:, j]], np.zeros(2 * batch, int))
            assert p < 1e-6, name
            assert not np.array_equal(env.conditional_table(name, 0.2).probabilities,
                                      env.conditional_table(name, 0.8).probabilities)
        else:
            np.testing.assert_array_equal(low[:, j], high[:, j])   # same uniforms, same mechanism
            np.testing.assert_array_equal(env.conditional_table(name, 0.2).probabilities,
                                          env.conditional_table(name, 0.8).probabilities)


def test_non_parent_is_independent_given_parents_in_rollouts():
    env = SyntheticNetworkEnv(n_agents=8, topology="ring", cross_agent_prob=0.5, rng=7)
    spec, graph = env.spec, env.true_graph()
    data = collect_transitions(env, None, episodes=400, horizon=20, domain_factors=[0.5], rng=8)
    inputs = {**{s: data.states[:, j] for j, s in enumerate(spec.state_names)},
              **{a: data.actions[:, i] for i, a in enumerate(spec.action_names)}}
    n_checked = 0
    for target in ["s0_0", "s3_1", "s5_0", "r2"]:
        owner = spec.owner(target)
        y = data.next_states[:, spec.index(target)] if spec.kind(target) == "state" \
            else data.rewards[:, owner].astype(int)
        parents = sorted(graph.parents[target] - {spec.domain_name})
        local = [q for k in env.neighborhood(owner) for q in
                 [spec.state_names[j] for j in spec.agent_state_indices(k)] + [spec.action_names[k]]]
        def strata(names):
            return _codes(np.column_stack([inputs[q] for q in names] or [np.zeros((len(y), 0), int)]))
        for candidate in (q for q in local if q not in parents):
            assert _g_test(inputs[candidate], y, strata(parents)) > 1e-4, (target, candidate)
            n_checked += 1
        for parent in parents:
            assert _g_test(inputs[parent], y, strata([q for q in parents if q != parent])) < 1e-6, (target, parent)
    assert n_checked >= 10


def test_batched_step_equals_per_copy_reference(hetero_env):
    env, spec = hetero_env, hetero_env.spec
    rng = np.random.default_rng(4)
    batch = 60
    states = env.reset(batch, rng)
    actions = np.minimum((rng.random((batch, env.n_agents)) * env.action_counts).astype(int), env.action_counts - 1)
    w = rng.random((batch, env.n_agents))
    nxt, rewards = env.step(states, actions, np.random.default_rng(5), domain_factor=w)
    u = np.random.default_rng(5).random((batch, spec.n_state + env.n_agents))   # the draws step makes
    targets = list(spec.state_names) + list(spec.reward_names)
    expected = np.zeros((batch, len(targets)), dtype=np.int64)
    for b in range(batch):
        value_of = {**{s: states[b, j] for j, s in enumerate(spec.state_names)},
                    **{a: actions[b, i] for i, a in enumerate(spec.action_names)}}
        for t, target in enumerate(targets):
            table = env.conditional_table(target, float(w[b, spec.owner(target)]))
            p = table.probabilities[tuple(value_of[q] for q in table.parents)]
            expected[b, t] = int(np.searchsorted(np.cumsum(p), u[b, t], side="right"))
    np.testing.assert_array_equal(nxt, expected[:, :spec.n_state])
    np.testing.assert_array_equal(rewards, expected[:, spec.n_state:].astype(float))


def test_same_seed_gives_same_trajectory(hetero_env):
    def rollout(seed):
        rng = np.random.default_rng(seed)
        s = hetero_env.reset(5, rng)
        out = [s]
        for _ in range(6):
            a = rng.integers(0, 2, size=(5, hetero_env.n_agents))
            s, r = hetero_env.step(s, a, rng)
            out += [s, r]
        return out
    for x, y in zip(rollout(9), rollout(9)):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(rollout(9), rollout(10)))


def test_reset_is_uniform_and_in_range(hetero_env):
    states = hetero_env.reset(30_000, np.random.default_rng(6))
    cards = np.asarray(hetero_env.spec.state_cardinality)
    assert states.min() >= 0 and np.all(states.max(axis=0) == cards - 1)
    np.testing.assert_allclose(states.mean(axis=0), (cards - 1) / 2, atol=0.03)


def test_with_domain_factor_keeps_tables():
    env = SyntheticNetworkEnv(n_agents=5, domain_affected_prob=1.0, rng=3)
    other = env.with_domain_factor(np.linspace(0, 1, 5))
    assert other.true_graph() == env.true_graph()
    np.testing.assert_array_equal(env.domain_factor, np.full(5, 0.5))
    np.testing.assert_array_equal(other.conditional_table("s4_0").probabilities,
                                  env.conditional_table("s4_0", 1.0).probabilities)
    np.testing.assert_array_equal(other.conditional_table("r4").probabilities,
                                  env.conditional_table("r4").probabilities)


def test_collect_transitions_in_several_domains():
    env = SyntheticNetworkEnv.random(12, rng=2, state_cardinality=3, action_cardinality=3)
    data = collect_transitions(env, None, episodes=20, horizon=5, domain_factors=[0.2, 0.5, 0.8], rng=1)
    assert len(data) == 3 * 20 * 5 and data.n_domains == 3
    np.testing.assert_array_equal(data.domain_factors[:, 0], [0.2, 0.5, 0.8])
    assert data.next_states.min() >= 0 and data.next_states.max() == 2
    assert set(np.unique(data.rewards)) == {0.0, 1.0}


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(topology="torus"), ValueError, "topology"),
    (dict(n_agents=0), ValueError, "n_agents"),
    (dict(state_dims=0), ValueError, "state_dims"),
    (dict(state_dims=[1, 2]), ValueError, "state_dims"),
    (dict(state_cardinality=1), ValueError, "state_cardinality"),
    (dict(action_cardinality=[2] * 3), ValueError, "action_cardinality"),
    (dict(max_state_parents=0), ValueError, "max_state_parents"),
    (dict(cross_agent_prob=1.5), ValueError, "cross_agent_prob"),
    (dict(action_parent_prob=-0.1), ValueError, "action_parent_prob"),
    (dict(domain_affected_prob="x"), TypeError, "domain_affected_prob"),
    (dict(reward_state_parents=-1), ValueError, "reward_state_parents"),
    (dict(strength=0.0), ValueError, "strength"),
    (dict(domain_factor=1.2), ValueError, "domain_factor"),
    (dict(domain_factor=[0.5, 0.5]), ValueError, "domain_factor"),
    (dict(min_effect=0.95), ValueError, "min_effect"),
    (dict(topology="random", max_degree=1), ValueError, "max_degree"),
    (dict(rng="seed"), TypeError, "rng"),
])
def test_bad_constructor_input(kwargs, exc, match):
    kwargs = {"n_agents": 4, **kwargs}
    with pytest.raises(exc, match=match):
        SyntheticNetworkEnv(**kwargs)


def test_bad_graph_input():
    with pytest.raises(ValueError, match="0..n-1"):
        SyntheticNetworkEnv(nx.relabel_nodes(nx.path_graph(3), {0: "a"}))
    with pytest.raises(ValueError, match="n_agents"):
        SyntheticNetworkEnv(nx.path_graph(3), n_agents=4)
    with pytest.raises(ValueError, match="topology"):
        SyntheticNetworkEnv(nx.path_graph(3), topology="ring")
    with pytest.raises(TypeError, match="graph"):
        SyntheticNetworkEnv(nx.DiGraph([(0, 1)]))


def test_bad_step_input():
    env = SyntheticNetworkEnv(n_agents=3, rng=0)
    rng = np.random.default_rng(0)
    states = env.reset(2, rng)
    with pytest.raises(ValueError, match="state out of range"):
        env.step(states + 2, np.zeros((2, 3), int), rng)
    with pytest.raises(ValueError, match="action out of range"):
        env.step(states, np.full((2, 3), 5), rng)
    with pytest.raises(ValueError, match="domain_factor"):
        env.step(states, np.zeros((2, 3), int), rng, domain_factor=np.full((2, 3), -0.5))
    with pytest.raises(KeyError, match="unknown target"):
        env.conditional_table("a0")


# ------------------------------------------------------------------------- detectability
def _local_parent_search(data, env, *, alpha: float, max_condition: int) -> dict[str, set[str]]:
    """PC-style parent selection per target with causal-learn's G-square test.

    Candidates of a target owned by agent i: s_{N_i}(t), a_{N_i}(t) and the domain
    index; a candidate is dropped once some subset (up to ``max_condition``) of the
    remaining candidates makes it independent of the target at level ``alpha``.
    """
    from causallearn.utils.cit import CIT

    spec = env.spec
    m, n = spec.n_state, spec.n_agents
    matrix = np.column_stack([data.states, data.actions, data.domain, data.next_states,
                              data.rewards.astype(np.int64)])
    column = {name: k for k, name in enumerate(list(spec.state_names) + list(spec.action_names) + ["domain"])}
    targets = list(spec.state_names) + list(spec.reward_names)
    test = CIT(matrix, "gsq")
    found = {}
    for t, target in enumerate(targets):
        hood = env.neighborhood(spec.owner(target))
        adjacent = [spec.state_names[j] for k in hood for j in spec.agent_state_indices(k)]
        adjacent += [spec.action_names[k] for k in hood] + ["domain"]
        level = 0
        while level <= min(max_condition, len(adjacent) - 1):
            frozen = list(adjacent)
            for x in frozen:
                rest = [z for z in frozen if z != x]
                for cond in itertools.combinations(rest, level):
                    if test(column[x], m + n + 1 + t, [column[z] for z in cond]) > alpha:
                        adjacent.remove(x)
                        break
            level += 1
        found[target] = set(adjacent)
    return found


@pytest.mark.slow
def test_structure_is_detectable_by_g_square_search():
    env = SyntheticNetworkEnv.random(50, rng=0)
    data = collect_transitions(env, None, episodes=2000, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=100)
    found = _local_parent_search(data, env, alpha=0.01, max_condition=3)
    truth = env.true_graph().parents
    tp = sum(len(found[t] & truth[t]) for t in truth)
    precision = tp / sum(len(found[t]) for t in truth)
    recall = tp / sum(len(truth[t]) for t in truth)
    assert 2 * precision * recall / (precision + recall) >= 0.98


def test_config_round_trip_rebuilds_the_same_environment():
    env = SyntheticNetworkEnv.random(15, rng=21, state_cardinality=3, domain_factor=np.linspace(0, 1, 15))
    config = json.loads(json.dumps(env.config()))
    rebuilt = SyntheticNetworkEnv.from_config(config)
    assert rebuilt.true_graph() == env.true_graph()
    np.testing.assert_array_equal(rebuilt.domain_factor, env.domain_factor)
    for target in env.true_graph().targets:
        np.testing.assert_array_equal(rebuilt.conditional_table(target).probabilities,
                                      env.conditional_table(target).probabilities)
    with pytest.raises(ValueError, match="seed"):
        SyntheticNetworkEnv.from_config(SyntheticNetworkEnv(n_agents=3, rng=np.random.default_rng(0)).config())
