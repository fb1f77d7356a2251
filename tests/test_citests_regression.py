"""RegressionTest (continuous / mixed CI test) and LocalDiscovery on continuous data."""

import warnings

import numpy as np
import pytest

from causalnet import LocalDiscovery, Transitions, compare_graphs
from causalnet.citests import FisherZTest
from causalnet.citests_regression import RegressionTest
from rl.envs.synthetic_continuous import SHIFT_KINDS, SyntheticContinuousEnv
from rl.rollout import collect_transitions


def _domain_data(kind: str, n: int = 3000, seed: int = 0):
    """Columns (y, domain, x): y = x + shift(domain) + noise, with one kind of shift."""
    rng = np.random.default_rng(seed)
    d = np.repeat([0, 1, 2], n)
    x = rng.normal(size=3 * n)
    noise = rng.normal(size=3 * n)
    if kind == "bump":
        y = x + 0.25 * (d == 1) + noise
    elif kind == "variance":
        y = x + noise * np.where(d == 2, 1.4, 1.0)
    elif kind == "slope":
        y = x * (1 + 0.2 * (d == 0)) + noise
    else:
        y = x + noise
    return np.column_stack([y, d, x])


@pytest.mark.parametrize("kind", ["bump", "variance", "slope"])
def test_domain_shifts_are_detected(kind):
    data = _domain_data(kind)
    test = RegressionTest(data, [False, True, False])
    assert test(1, 0, (2,)) < 1e-4
    if kind in ("bump", "variance"):  # the domain label as a number: no linear trace
        assert FisherZTest(data)(1, 0, (2,)) > 1e-3


def test_null_pvalues_are_calibrated():
    """No shift, nonlinear confounding through S: about 5% of p-values below 0.05."""
    rejections = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        s = rng.normal(size=400)
        x = np.tanh(2 * s) + 0.5 * rng.normal(size=400)
        y = np.sin(2 * s) + rng.normal(size=400)
        d = rng.integers(0, 3, 400)
        test = RegressionTest(np.column_stack([y, x, s, d]), [False, False, False, True], basis="spline")
        rejections += [test(1, 0, (2,)) < 0.05, test(3, 0, (2,)) < 0.05]
    assert 0.02 <= np.mean(rejections) <= 0.09


def test_spline_basis_finds_an_even_nonlinearity_that_linear_misses():
    rng = np.random.default_rng(1)
    x = rng.normal(size=5000)
    y = 1 - 2 / (1 + x ** 2) + 0.5 * rng.normal(size=5000)
    data = np.column_stack([y, x])
    assert RegressionTest(data, [False, False], basis="spline")(1, 0) < 1e-10
    assert RegressionTest(data, [False, False], basis="linear")(1, 0) > 1e-3


def test_matches_an_ordinary_least_squares_f_test():
    rng = np.random.default_rng(2)
    x, s = rng.normal(size=(2, 300))
    y = 0.1 * x + s + rng.normal(size=300)
    p = RegressionTest(np.column_stack([y, x, s]), [False] * 3)(1, 0, (2,))
    ones = np.ones(300)
    rss = [np.sum((y - a @ np.linalg.lstsq(a, y, rcond=None)[0]) ** 2)
           for a in (np.column_stack([ones, s]), np.column_stack([ones, s, x]))]
    from scipy.stats import f
    expected = f.sf((rss[0] - rss[1]) / (rss[1] / 297), 1, 297)
    assert p == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("data, categorical, match", [
    (np.array([[1.0, np.nan], [2.0, 3.0], [3.0, 1.0], [0.0, 2.0]]), [False, False], "NaN or infinite"),
    (np.array([[1.0, np.inf], [2.0, 3.0], [3.0, 1.0], [0.0, 2.0]]), [False, False], "NaN or infinite"),
    (np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [0.0, 5.0]]), [False, False], "column 1 is constant"),
    (np.array([[1.0, 0], [2.0, 0], [3.0, 0], [0.0, 0]]), [False, True], "column 1 is constant"),
    (np.ones((4, 2)), [False], "one flag per column"),
])
def test_bad_input_gives_clear_errors(data, categorical, match):
    with pytest.raises(ValueError, match=match):
        RegressionTest(data, categorical)


def test_fewer_rows_than_regressors_is_a_clear_error():
    rng = np.random.default_rng(3)
    data = np.column_stack([rng.normal(size=8), rng.integers(0, 4, 8), rng.normal(size=(8, 2))])
    test = RegressionTest(data, [False, True, False, False], basis="spline")
    with pytest.raises(ValueError, match=r"fewer rows \(8\)"):
        test(1, 0, (2, 3))


def _continuous_data(n_agents: int, episodes: int, seed: int, mechanism: str = "linear"):
    env = SyntheticContinuousEnv.random(n_agents, rng=seed, mechanism=mechanism)
    data = collect_transitions(env, None, episodes=episodes, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=seed)
    return env, data


def test_discovery_on_continuous_data_is_exact_and_finds_every_shift_kind():
    env, data = _continuous_data(10, 400, seed=3, mechanism="mixed")
    assert set(env.shift_kinds().values()) == set(SHIFT_KINDS)
    model = LocalDiscovery(ci_test="auto").fit(data)
    assert set(model.ci_tests_.values()) == {"additive"}
    metrics = compare_graphs(model.graph_, env.true_graph())
    assert metrics["f1"] >= 0.97 and metrics["precision"] >= 0.98
    assert sorted(model.graph_.domain_affected) == sorted(env.shift_kinds())


def test_discrete_test_on_continuous_states_warns():
    _, data = _continuous_data(4, 50, seed=1)
    with pytest.warns(UserWarning, match="ci_test='gsq' is a discrete test"):
        model = LocalDiscovery(ci_test="gsq").fit(data)
    assert set(model.ci_tests_.values()) == {"fisherz"}


def test_auto_uses_gsq_on_discrete_data():
    from rl.envs import SyntheticNetworkEnv
    env = SyntheticNetworkEnv.random(4, rng=0)
    data = collect_transitions(env, None, episodes=200, horizon=5, domain_factors=[0.2, 0.8], rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = LocalDiscovery(ci_test="auto").fit(data)
        gsq = LocalDiscovery(ci_test="gsq").fit(data)
    assert set(auto.ci_tests_.values()) == {"gsq"} and auto.graph_ == gsq.graph_


def test_non_finite_transitions_are_rejected_before_discovery():
    _, data = _continuous_data(3, 5, seed=0)
    bad = data.next_states.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        Transitions(data.spec, data.states, data.actions, data.rewards, bad, data.domain, data.episode, data.time)


def test_global_discovery_resolves_auto_and_refuses_regression_tests():
    from causalnet import GlobalDiscovery
    from rl.envs import SyntheticNetworkEnv
    env = SyntheticNetworkEnv.random(3, rng=0, state_dims=1)
    data = collect_transitions(env, None, episodes=200, horizon=5, domain_factors=[0.2, 0.8], rng=0)
    model = GlobalDiscovery(ci_test="auto").fit(data)
    assert model.ci_test_used_ == "gsq"
    with pytest.raises(ValueError, match="LocalDiscovery only"):
        GlobalDiscovery(ci_test="additive").fit(data)


@pytest.mark.slow
def test_tests_per_agent_do_not_grow_with_the_network():
    """Local search on a ring (identical neighbourhoods): work per agent independent of n."""
    per_agent = []
    for n in (16, 64):
        env = SyntheticContinuousEnv(n_agents=n, topology="ring", rng=0)
        data = collect_transitions(env, None, episodes=300, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=1)
        model = LocalDiscovery(ci_test="auto").fit(data)
        assert all(len(c) <= 3 * 2 + 1 for c in model.candidates_.values())   # 3 agents x (state, action) + domain
        per_agent.append(model.n_tests_ / n)
    assert per_agent[1] == pytest.approx(per_agent[0], rel=0.1)
