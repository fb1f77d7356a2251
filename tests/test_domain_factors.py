"""DomainFactorEstimator: wireless arrival probabilities, multi-parameter summaries, errors."""

import numpy as np
import pytest

from causalnet.data import Transitions
from causalnet.domain_factors import ConfigurationIndex, DomainFactorEstimator, NotFittedError
from causalnet.graph import FactoredGraph, GraphError
from causalnet.spec import default_spec
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions

SOURCES = (0.2, 0.5, 0.8)


@pytest.fixture(scope="module")
def wireless():
    env = WirelessAccessEnv(3, 4)
    tr = collect_transitions(env, None, episodes=200, horizon=10, domain_factors=list(SOURCES), rng=11)
    est = DomainFactorEstimator(env.true_graph()).fit(tr)
    return env, tr, est


def test_wireless_source_domains(wireless):
    env, tr, est = wireless
    assert est.affected_ == [f"s{i}_1" for i in range(24)]
    assert est.w_hat_.shape == est.stderr_.shape == (3, 24)
    n = 200 * 10
    for m, p in enumerate(SOURCES):
        assert np.all(np.abs(est.w_hat_[m] - p) < 4 * est.stderr_[m])
        np.testing.assert_allclose(est.stderr_[m], np.sqrt(p * (1 - p) / n), rtol=0.1)
        # w_hat is exactly the arrival frequency of each agent
        np.testing.assert_allclose(est.w_hat_[m], tr.next_states[tr.domain == m][:, 1::2].mean(axis=0))
    p0 = est.params_[0]["s0_1"]
    assert p0["parents"] == [] and p0["configurations"].shape == (1, 0)
    assert p0["counts"].tolist() == [n]


def test_wireless_new_domain_from_few_trajectories(wireless):
    env, _, est = wireless
    target = collect_transitions(env, None, episodes=20, horizon=10, domain_factors=[0.65], rng=12)
    w, se = est.estimate(target)
    assert w.shape == se.shape == (24,)
    assert np.all(np.abs(w - 0.65) < 4 * se)
    np.testing.assert_allclose(se, np.sqrt(0.65 * 0.35 / 200), rtol=0.15)
    # per-agent heterogeneous factors are recovered too
    p = np.linspace(0.1, 0.9, 24)
    target = collect_transitions(env, None, episodes=100, horizon=10, domain_factors=[p], rng=13)
    w, se = est.estimate(target)
    assert np.all(np.abs(w - p) < 4 * se)


def _two_config_data(ws, n_per, rng):
    """Agent 0: x' with parent s; P(x'=1|s=0) = w, P(x'=1|s=1) = 0.5 + 0.4 w. Agent 1 unaffected."""
    spec = default_spec(2, [(0, 1)], [2, 1], 2, 2)
    parts = []
    for m, w in enumerate(ws):
        s = rng.integers(0, 2, (n_per, 3))
        prob = np.where(s[:, 1] == 0, w, 0.5 + 0.4 * w)
        nxt = s.copy()
        nxt[:, 0] = rng.random(n_per) < prob
        parts.append(Transitions(spec, s, np.zeros((n_per, 2), int), np.zeros((n_per, 2)), nxt,
                                 np.full(n_per, m), np.arange(n_per) // 10 + m * n_per, np.arange(n_per) % 10))
    graph = FactoredGraph(spec, {"s0_0": ["s0_1", "domain"]})
    return graph, Transitions.concatenate(parts)


def test_principal_axis_summary_is_affine_in_w():
    rng = np.random.default_rng(5)
    graph, tr = _two_config_data(SOURCES, 20_000, rng)
    est = DomainFactorEstimator(graph).fit(tr)
    # theta = (w, 0.5 + 0.4 w) lies on a line; the summary is its mean component 0.25 + 0.7 w
    expected = 0.25 + 0.7 * np.array(SOURCES)
    assert np.all(np.abs(est.w_hat_[:, 0] - expected) < 4 * est.stderr_[:, 0])
    assert np.all(np.isnan(est.w_hat_[:, 1])) and np.all(np.isnan(est.stderr_[:, 1]))
    assert est.params_[1]["s0_0"]["probabilities"].shape == (2, 2)
    _, new = _two_config_data([0.65], 5_000, np.random.default_rng(6))
    w, se = est.estimate(new)
    assert abs(w[0] - (0.25 + 0.7 * 0.65)) < 4 * se[0]
    assert np.isnan(w[1])
    # delta method: var = sum_c g_c^2 p_c (1 - p_c) / n_c with g = mean(u) u, u = (1, 0.4) / |(1, 0.4)|
    p = np.array([0.65, 0.5 + 0.4 * 0.65])
    grad = 0.7 * np.array([1.0, 0.4]) / 1.16
    approx = np.sqrt(np.sum(grad ** 2 * p * (1 - p) / 2_500))
    assert se[0] == pytest.approx(approx, rel=0.1)


def test_single_source_domain_uses_mean_of_parameters():
    graph, tr = _two_config_data([0.5], 4_000, np.random.default_rng(7))
    est = DomainFactorEstimator(graph).fit(tr)
    probs = est.params_[0]["s0_0"]["probabilities"][:, 1]
    assert est.w_hat_[0, 0] == pytest.approx(probs.mean())


def test_errors(wireless):
    env, tr, est = wireless
    with pytest.raises(NotFittedError, match="before fit"):
        DomainFactorEstimator(env.true_graph()).estimate(tr)
    other = WirelessAccessEnv(2, 2, users_per_vertex=1)
    with pytest.raises(GraphError, match="spec differs"):
        est.estimate(collect_transitions(other, None, episodes=1, horizon=2, rng=0))
    with pytest.raises(TypeError, match="must be a causalnet.Transitions"):
        est.estimate(np.zeros(3))
    with pytest.raises(ValueError, match="transitions are empty"):
        est.estimate(tr.subset(slice(0, 0)))
    spec = default_spec(1, [], 1, None, 2)
    cont = Transitions(spec, np.zeros((2, 1)), np.zeros((2, 1), int), np.zeros((2, 1)), np.ones((2, 1)),
                       np.zeros(2, int), np.zeros(2, int), np.arange(2))
    with pytest.raises(ValueError, match="needs discrete variables"):
        DomainFactorEstimator(FactoredGraph(spec, {"s0_0": ["domain"]})).fit(cont)


def test_configuration_index_wide_keys():
    # 70 binary parents do not fit a 62-bit mixed-radix key: byte keys are used
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 2, (50, 70))
    idx = ConfigurationIndex([2] * 70)
    inverse = idx.fit(np.vstack([rows, rows[:5]]))
    assert idx.n_configurations == 50
    assert inverse[50:].tolist() == inverse[:5].tolist()
    unseen = np.ones((1, 70), dtype=np.int64)
    assert not (rows == 1).all(axis=1).any()
    found = idx.lookup(np.vstack([rows[[3, 7]], unseen]))
    assert found.tolist() == [*inverse[[3, 7]].tolist(), -1]
