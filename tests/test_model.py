"""DiscoveredModel: the wireless env's return and arrival rates, back-off, interface and errors."""

import numpy as np
import pytest

from causalnet.data import Transitions
from causalnet.domain_factors import NotFittedError
from causalnet.graph import FactoredGraph, GraphError
from causalnet.model import DiscoveredModel
from causalnet.spec import default_spec
from rl.envs import WirelessAccessEnv
from rl.policies.base import UniformPolicy
from rl.rollout import collect_transitions

GAMMA, HORIZON = 0.7, 10


@pytest.fixture(scope="module")
def wireless():
    env = WirelessAccessEnv(3, 4)
    tr = collect_transitions(env, None, episodes=1000, horizon=HORIZON, domain_factors=[0.2, 0.5, 0.8], rng=21)
    model = DiscoveredModel(env.true_graph()).fit(tr)
    return env, tr, model


def _uniform_return(sim, w, batch, seed):
    rng = np.random.default_rng(seed)
    policy = UniformPolicy(sim.action_counts)
    states = sim.reset(batch, rng, domain_factor=w)
    total = np.zeros(batch)
    for t in range(HORIZON):
        states, rewards = sim.step(states, policy(states, rng), rng, domain_factor=w)
        total += GAMMA ** t * rewards.mean(axis=1)
    return total.mean(), total.std() / np.sqrt(batch)


def test_uniform_return_matches_env(wireless):
    env, _, model = wireless
    w = np.full(24, 0.5)
    model_ret, model_se = _uniform_return(model, w, 4000, seed=1)
    env_ret, env_se = _uniform_return(env, w, 4000, seed=2)
    # reference code's uniform policy: 0.0201 (400 rollouts)
    assert abs(model_ret - 0.0201) < 0.0015
    assert abs(model_ret - env_ret) < 4 * np.hypot(model_se, env_se)


def test_unseen_domain_factor_arrival_and_reset(wireless):
    env, _, model = wireless
    rng = np.random.default_rng(3)
    target = model.with_domain_factor(0.65)
    np.testing.assert_allclose(target.domain_factor, 0.65)
    states = target.reset(4000, rng)
    assert np.all(states[:, 0::2] == 0)                               # slot 0 empty at reset
    assert abs(states[:, 1::2].mean() - 0.65) < 0.01
    actions = UniformPolicy(model.action_counts)(states, rng)
    nxt, rewards = target.step(states, actions, rng)
    assert abs(nxt[:, 1::2].mean() - 0.65) < 0.01
    assert set(np.unique(rewards)) <= {0.0, 1.0}
    # per-copy domain factors: half the copies at 0.3, half at 0.9
    w = np.repeat([[0.3], [0.9]], 2000, axis=0) * np.ones((1, 24))
    nxt, _ = model.step(states, actions, rng, domain_factor=w)
    assert abs(nxt[:2000, 1::2].mean() - 0.3) < 0.01 and abs(nxt[2000:, 1::2].mean() - 0.9) < 0.01


def test_interface_and_determinism(wireless):
    env, _, model = wireless
    assert model.true_graph() == env.true_graph()
    assert model.spec == env.spec and model.n_agents == 24
    np.testing.assert_array_equal(model.action_counts, env.action_counts)
    assert model.neighborhood(5, 1) == env.neighborhood(5, 1)
    np.testing.assert_allclose(model.domain_factor, 0.5)
    np.testing.assert_allclose(model.source_domain_factors_[:, 0], [0.2, 0.5, 0.8])
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(9)
        s = model.reset(50, rng)
        nxt, r = model.step(s, np.zeros((50, 24), dtype=np.int64), rng)
        runs.append((s, nxt, r))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_stacked_step_equals_per_target_loop(wireless):
    env, _, model = wireless
    assert model._stacks is not None
    loop = model.with_domain_factor(0.65)
    loop._force_loop = True
    states = model.reset(500, np.random.default_rng(4), domain_factor=np.full(24, 0.65))
    actions = np.random.default_rng(5).integers(0, env.action_counts, (500, 24))
    w = np.random.default_rng(6).random((500, 24))
    fast = model.step(states, actions, np.random.default_rng(7), domain_factor=w)
    slow = loop.step(states, actions, np.random.default_rng(7), domain_factor=w)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


def test_domain_factors_from_estimator_when_unknown(wireless):
    env, tr, _ = wireless
    bare = Transitions(tr.spec, tr.states, tr.actions, tr.rewards, tr.next_states, tr.domain, tr.episode, tr.time)
    model = DiscoveredModel(env.true_graph()).fit(bare)
    np.testing.assert_allclose(model.source_domain_factors_, tr.next_states.reshape(3, -1, 48)[:, :, 1::2].mean(1))
    np.testing.assert_allclose(model.source_domain_factors_, [[0.2] * 24, [0.5] * 24, [0.8] * 24], atol=0.03)


def test_back_off_to_own_parents_then_marginal():
    # s0_0' = s0_0 (copy); data only ever shows a1 = 0 and s0_0 = 0 or 1 with s1_0 = 0
    spec = default_spec(2, [(0, 1)], 1, 3, 2)
    rng = np.random.default_rng(0)
    n = 400
    s = np.column_stack([rng.integers(0, 2, n), np.zeros(n, int)])
    tr = Transitions(spec, s, np.zeros((n, 2), int), s.astype(float), s.copy(), np.zeros(n, int),
                     np.arange(n) // 4, np.arange(n) % 4)
    graph = FactoredGraph(spec, {"s0_0": ["s0_0", "a1"], "r0": ["s0_0"]})
    model = DiscoveredModel(graph).fit(tr)
    query = np.array([[1, 0], [0, 0], [2, 0]] * 200)
    acts = np.tile([[0, 1]], (600, 1))                 # a1 = 1 never seen
    nxt, r = model.step(query, acts, rng)
    # seen own-parent configurations (s0_0 = 0, 1) are copied; s0_0 = 2 falls back to the marginal
    assert np.all(nxt[0::3, 0] == 1) and np.all(nxt[1::3, 0] == 0)
    frac_one = nxt[2::3, 0].mean()
    assert abs(frac_one - s[:, 0].mean()) < 0.1 and set(np.unique(nxt[2::3, 0])) <= {0, 1}
    np.testing.assert_array_equal(r[0::3, 0], 1.0)
    # min_count: a configuration seen fewer times is not trusted
    sparse = DiscoveredModel(graph, min_count=10_000).fit(tr)
    nxt, _ = sparse.step(query, np.zeros((600, 2), int), rng)
    assert 0.2 < nxt[0::3, 0].mean() < 0.8


def test_errors(wireless):
    env, tr, model = wireless
    graph = env.true_graph()
    with pytest.raises(NotFittedError, match="before fit"):
        DiscoveredModel(graph).reset(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="min_count must be an integer >= 1"):
        DiscoveredModel(graph, min_count=0).fit(tr)
    with pytest.raises(GraphError, match="spec differs"):
        DiscoveredModel(WirelessAccessEnv(2, 2, users_per_vertex=1).true_graph()).fit(tr)
    with pytest.raises(ValueError, match=r"domain_factors has shape \(2, 24\); expected \(3, 24\)"):
        DiscoveredModel(graph).fit(tr, domain_factors=np.zeros((2, 24)))
    rng = np.random.default_rng(0)
    s = model.reset(2, rng)
    with pytest.raises(ValueError, match=r"value out of range: 'a0' \(copy 0\) is 7; valid values are 0..2"):
        model.step(s, np.full((2, 24), 7), rng)
    with pytest.raises(ValueError, match=r"actions has shape \(2, 3\)"):
        model.step(s, np.zeros((2, 3), int), rng)
    with pytest.raises(ValueError, match=r"domain_factor has shape \(5,\)"):
        model.step(s, np.zeros((2, 24), int), rng, domain_factor=np.zeros(5))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.reset(0, rng)


@pytest.mark.slow
def test_model_from_learned_graph_reproduces_env_returns():
    from causalnet.discovery import LocalDiscovery

    env = WirelessAccessEnv.from_grid(3)
    tr = collect_transitions(env, None, episodes=2000, horizon=HORIZON, domain_factors=[0.2, 0.5, 0.8], rng=0)
    model = DiscoveredModel(LocalDiscovery().fit(tr).graph_).fit(tr)
    for w in (0.5, 0.65):                     # 0.65 was not a source domain
        model_ret, model_se = _uniform_return(model, np.full(16, w), 4000, seed=1)
        env_ret, env_se = _uniform_return(env, np.full(16, w), 4000, seed=2)
        assert abs(model_ret - env_ret) < 4 * np.hypot(model_se, env_se)
