"""Tests of analysis.factor_error: target-factor estimation error against the number of trajectories."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from analysis.factor_error import factor_error_curve, loglog_slope
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.graph import FactoredGraph
from rl.adaptation import estimate_target_factor
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions

SOURCES = [0.2, 0.5, 0.8]
TARGET = 0.65
HORIZON = 10


@pytest.fixture(scope="module")
def env():
    return WirelessAccessEnv.from_grid(2)        # 3 x 3 users, deadline 2


@pytest.fixture(scope="module")
def source_data(env):
    return collect_transitions(env, None, episodes=40, horizon=HORIZON, domain_factors=SOURCES, rng=0)


@pytest.fixture(scope="module")
def estimator(env, source_data):
    return DomainFactorEstimator(env.true_graph()).fit(source_data)


@pytest.fixture(scope="module")
def curve(env, estimator):
    return factor_error_curve(estimator, env, TARGET, rng=0)


def _expected_abs_error(n_draws: int, p: float) -> float:
    """E|X/n - p| for X ~ Binomial(n, p): the error of a frequency of n arrivals."""
    k = np.arange(n_draws + 1)
    return float(np.sum(stats.binom.pmf(k, n_draws, p) * np.abs(k / n_draws - p)))


def _graph_without_domain_edges(env, agents) -> FactoredGraph:
    spec = env.spec
    parents = {target: set(pas) for target, pas in env.true_graph().parents.items()}
    for target in parents:
        if target in spec.state_names and spec.owner(target) in agents:
            parents[target].discard(spec.domain_name)
    return FactoredGraph(spec, parents)


def test_error_falls_like_inverse_square_root(curve, env):
    errors = np.array(curve["mean_abs_error"])
    assert curve["trajectories"] == [1, 2, 5, 10, 20, 50, 100]
    assert errors[0] > errors[-1]
    assert -0.8 <= curve["loglog_slope"] <= -0.2
    # on the wireless benchmark w_hat is the arrival frequency of 10 T Bernoulli(p) draws per agent:
    # the mean absolute error must match the binomial expectation (180 errors per point, 20 % ~ 4 s.e.)
    expected = [_expected_abs_error(HORIZON * t, TARGET) for t in curve["trajectories"]]
    np.testing.assert_allclose(errors, expected, rtol=0.2)
    # RMSE >= mean absolute error, and the interval brackets the mean
    assert np.all(np.array(curve["rmse"]) >= errors)
    assert np.all(np.array(curve["ci_low"]) < errors) and np.all(errors < np.array(curve["ci_high"]))
    assert np.array(curve["per_repeat"]).shape == (7, 20)
    assert curve["repeats"] == 20 and curve["horizon"] == HORIZON
    assert curve["target_factor"] == [TARGET] * env.n_agents
    assert curve["estimated_agents"] == list(range(env.n_agents)) and curve["unestimated_agents"] == []
    assert curve["loglog_slope"] == pytest.approx(loglog_slope(curve["trajectories"], errors))
    json.dumps(curve, allow_nan=False)        # JSON-ready, no NaN tokens


def test_same_rng_same_curve_other_rng_differs(env, estimator, curve):
    again = factor_error_curve(estimator, env, TARGET, rng=0)
    assert again == curve
    other = factor_error_curve(estimator, env, TARGET, rng=1)
    assert other["per_repeat"] != curve["per_repeat"]
    small = dict(trajectories=[1, 4], repeats=3)
    a = factor_error_curve(estimator, env, TARGET, rng=np.random.default_rng(5), **small)
    b = factor_error_curve(estimator, env, TARGET, rng=np.random.default_rng(5), **small)
    seq = np.random.SeedSequence(9)
    c = factor_error_curve(estimator, env, TARGET, rng=seq, **small)
    d = factor_error_curve(estimator, env, TARGET, rng=seq, **small)   # the caller's SeedSequence is not consumed
    assert a == b and c == d


def test_unestimable_agents_are_left_out_and_listed(env, source_data):
    est = DomainFactorEstimator(_graph_without_domain_edges(env, {0, 4})).fit(source_data)
    trajectories, repeats, w = [1, 3], 3, np.linspace(0.3, 0.7, env.n_agents)
    out = factor_error_curve(est, env, w, trajectories=trajectories, repeats=repeats, rng=11)
    assert out["unestimated_agents"] == [0, 4]
    assert out["estimated_agents"] == [1, 2, 3, 5, 6, 7, 8]
    # recompute with the documented streams: stream r of child i of SeedSequence(rng)
    kept = np.array(out["estimated_agents"])
    streams = [s.spawn(repeats) for s in np.random.SeedSequence(11).spawn(len(trajectories))]
    per_repeat = np.empty((2, repeats))
    for i, t in enumerate(trajectories):
        for r in range(repeats):
            w_hat, _ = estimate_target_factor(est, env, w, trajectories=t, horizon=HORIZON,
                                              rng=np.random.default_rng(streams[i][r]))
            assert np.isnan(w_hat[[0, 4]]).all()
            per_repeat[i, r] = np.abs(w_hat[kept] - w[kept]).mean()
    np.testing.assert_allclose(out["per_repeat"], per_repeat, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out["mean_abs_error"], per_repeat.mean(axis=1), rtol=1e-14)


def test_no_estimable_agent_raises(env, source_data):
    est = DomainFactorEstimator(_graph_without_domain_edges(env, set(range(env.n_agents)))).fit(source_data)
    with pytest.raises(ValueError, match="no agent's domain factor"):
        factor_error_curve(est, env, TARGET, trajectories=[1], repeats=1, rng=0)


def test_single_repeat_has_no_interval(env, estimator):
    out = factor_error_curve(estimator, env, TARGET, trajectories=[2, 8], repeats=1, rng=3)
    assert out["ci_low"] == [None, None] and out["ci_high"] == [None, None]
    assert out["mean_abs_error"] == [row[0] for row in out["per_repeat"]]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"trajectories": [5, 2]}, ValueError, "strictly increasing"),
    ({"trajectories": []}, ValueError, "trajectories"),
    ({"trajectories": [0, 1]}, ValueError, "positive integers"),
    ({"trajectories": "12"}, ValueError, "trajectories"),
    ({"repeats": 0}, ValueError, "repeats"),
    ({"horizon": 2.5}, ValueError, "horizon"),
    ({"rng": "seed"}, TypeError, "rng"),
])
def test_bad_arguments_are_named(env, estimator, kwargs, error, match):
    with pytest.raises(error, match=match):
        factor_error_curve(estimator, env, TARGET, **kwargs)


def test_bad_estimator_or_target(env):
    with pytest.raises(TypeError, match="estimator"):
        factor_error_curve(object(), env, TARGET)
    with pytest.raises(ValueError, match="fit"):
        factor_error_curve(DomainFactorEstimator(env.true_graph()), env, TARGET)


def test_bad_target_factor(env, estimator):
    with pytest.raises(ValueError, match="target_factor"):
        factor_error_curve(estimator, env, [0.5, 0.5], trajectories=[1], repeats=1)


def test_loglog_slope_of_power_laws():
    t = np.array([1, 2, 5, 10, 50])
    assert loglog_slope(t, 3.0 * t ** -0.5) == pytest.approx(-0.5)
    assert loglog_slope(t, 0.1 * t ** -1.0) == pytest.approx(-1.0)
    assert loglog_slope([1, 2, 3], [0.0, -1.0, 0.5]) is None       # one positive point only
    with pytest.raises(ValueError, match="equal length"):
        loglog_slope([1, 2], [1.0])
