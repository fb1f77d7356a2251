"""ContinuousDomainFactorEstimator: exact parameters, changing-parameter filter, w_hat and errors."""

import numpy as np
import pytest

from causalnet import DomainFactorEstimator, Transitions
from causalnet.domain_factors_continuous import ContinuousDomainFactorEstimator, make_domain_factor_estimator
from rl.envs import SyntheticNetworkEnv
from rl.envs.synthetic_continuous import SyntheticContinuousEnv
from rl.rollout import collect_transitions

DOMAINS = [0.2, 0.5, 0.8]
EXPECTED_CHANGE = {"mean": "intercept", "mean-bump": "intercept", "variance": "log_sigma"}


@pytest.fixture(scope="module")
def fitted():
    env = SyntheticContinuousEnv.random(12, rng=3)
    data = collect_transitions(env, None, episodes=600, horizon=10, domain_factors=DOMAINS, rng=1)
    return env, ContinuousDomainFactorEstimator(env.true_graph()).fit(data)


def test_per_domain_parameters_match_the_exact_mechanism(fitted):
    env, est = fitted
    assert est.affected_ == sorted(env.shift_kinds(), key=env.spec.index)
    for m, w in enumerate(DOMAINS):
        for name in est.affected_:
            p = est.params_[m][name]
            exact = env.linear_parameters(name, w)
            assert p["labels"][0] == "intercept" and p["labels"][-1] == "log_sigma"
            assert np.all(np.abs(p["theta"] - exact) < 5 * p["stderr"])


def test_the_changing_parameter_is_the_shifted_one(fitted):
    env, est = fitted
    for name, kind in env.shift_kinds().items():
        expected = EXPECTED_CHANGE.get(kind, env.mechanism(name)["state_parents"][0])
        assert est.changing_[name] == [expected], (name, kind)


def test_new_domain_estimate_is_within_its_standard_error_of_the_exact_value(fitted):
    env, est = fitted
    target = collect_transitions(env, None, episodes=300, horizon=10, domain_factors=[0.65], rng=5)
    w, se = est.estimate(target)
    owners = {env.spec.owner(t) for t in est.affected_}
    for agent in owners:
        exact = est.project(agent, {t: env.linear_parameters(t, 0.65) for t in est.affected_
                                    if env.spec.owner(t) == agent})
        assert abs(w[agent] - exact) < 4 * se[agent]
    assert np.all(np.isnan(w[[i for i in range(env.n_agents) if i not in owners]]))


def test_bad_input_gives_clear_errors(fitted):
    env, est = fitted
    few = collect_transitions(env, None, episodes=1, horizon=2, domain_factors=[0.5], rng=0)
    with pytest.raises(ValueError, match=r"only 2 rows"):
        est.estimate(few)
    data = collect_transitions(env, None, episodes=20, horizon=5, domain_factors=[0.5], rng=0)
    name = est.affected_[0]
    parent = env.mechanism(name)["state_parents"][-1]
    states = data.states.copy()
    states[:, env.spec.index(parent)] = 1.5
    flat = Transitions(data.spec, states, data.actions, data.rewards, data.next_states, data.domain,
                       data.episode, data.time)
    with pytest.raises(ValueError, match="constant"):
        est.estimate(flat)
    with pytest.raises(ValueError, match="alpha"):
        ContinuousDomainFactorEstimator(env.true_graph(), alpha=2.0).fit(data)


def test_dispatch_by_variable_type():
    cont = SyntheticContinuousEnv(n_agents=3, rng=0)
    disc = SyntheticNetworkEnv(n_agents=3, rng=0)
    assert isinstance(make_domain_factor_estimator(cont.true_graph()), ContinuousDomainFactorEstimator)
    assert isinstance(make_domain_factor_estimator(disc.true_graph()), DomainFactorEstimator)
