"""Model fidelity (causalnet.model_fidelity) and model-based return intervals (rl.model_returns)."""

from __future__ import annotations

import numpy as np
import pytest

from causalnet.model_fidelity import fidelity_report, logged_returns, split_episodes
from epidemic_env import EpidemicEnv, ExpertPolicy
from rl.evaluation import discounted_return
from rl.model_returns import bootstrap_episodes, model_return_interval
from rl.policies import UniformPolicy
from rl.rollout import collect_transitions

ENV = EpidemicEnv(3)
SOURCES = [0.2, 0.35, 0.5]
W = np.repeat(np.array(SOURCES)[:, None], ENV.n_agents, axis=1)


@pytest.fixture(scope="module")
def data():
    return collect_transitions(ENV, None, episodes=120, horizon=10, domain_factors=SOURCES, rng=0)


def test_bootstrap_resamples_whole_episodes(data):
    boot = bootstrap_episodes(data, np.random.default_rng(1))
    assert len(np.unique(boot.episode)) == len(np.unique(data.episode))
    for m in range(3):
        assert np.sum(boot.domain == m) == np.sum(data.domain == m)      # equal-length episodes
    # every resampled episode is a logged one, step for step
    first = boot.episode == boot.episode[0]
    src = data.states[(data.domain == boot.domain[0])]
    assert any(np.array_equal(boot.states[first], src[k:k + 10]) for k in range(0, len(src), 10))


def test_logged_returns_match_a_direct_sum(data):
    ret = logged_returns(data, gamma=0.9, domain=1)
    ep0 = np.unique(data.episode[data.domain == 1])[0]
    rows = data.episode == ep0
    expected = np.sum(data.rewards[rows].mean(axis=1) * 0.9 ** data.time[rows])
    assert ret.size == 120 and ret[0] == pytest.approx(expected)
    train, test = split_episodes(data, 0.25, 0)
    assert len(np.unique(test.episode)) == 90 and len(train) + len(test) == len(data)


def test_fidelity_report_on_the_true_graph(data):
    rep = fidelity_report(ENV.true_graph(), data, domain_factors=W, gamma=0.9, horizon=10, episodes=1000, rng=1)
    # the true graph predicts held-out next states better than their marginals, rewards exactly
    gains = [v["gain"] for k, v in rep["log_likelihood"].items() if k.startswith("s")]
    # measured: 0.18..0.25 nats per transition for 8 agents; the centre agent (6 parents,
    # 90 training episodes) -0.03: its table is too sparse to beat the marginal
    assert np.median(gains) > 0.1 and sum(g > 0 for g in gains) >= 7, gains
    assert all(v["model"] > -1e-9 for k, v in rep["log_likelihood"].items() if k.startswith("r"))
    # measured: model -1.73 / -2.11 / -2.61 against logs -1.76 / -2.07 / -2.72 (all overlapping)
    assert all(row["overlap"] for row in rep["behaviour_returns"])


@pytest.mark.slow
def test_interval_covers_the_true_return_quick(data):
    truth = discounted_return(ENV.with_domain_factor(0.42), ExpertPolicy(ENV), gamma=0.9, horizon=10,
                              episodes=20000, rng=5).mean
    mr = model_return_interval(ENV.true_graph(), data, ExpertPolicy(ENV), domain_factor=np.full(9, 0.42),
                               gamma=0.9, horizon=10, domain_factors=W, n_models=8, episodes=600, rng=3)
    assert mr.covers(truth), (truth, mr)
    assert mr.high - mr.low < 0.5
    with pytest.raises(ValueError, match="n_models"):
        model_return_interval(ENV.true_graph(), data, ExpertPolicy(ENV), domain_factor=0.4, gamma=0.9,
                              horizon=10, n_models=1)


def test_interval_brackets_the_full_model_and_checks_inputs(data):
    mr = model_return_interval(ENV.true_graph(), data, ExpertPolicy(ENV), domain_factor=np.full(9, 0.42),
                               gamma=0.9, horizon=10, domain_factors=W, n_models=3, episodes=200, rng=3)
    assert mr.low <= mr.mean <= mr.high and mr.ensemble.shape == (3,)
    assert np.all((mr.ensemble > -10.0) & (mr.ensemble < 0.0))      # rewards are in [-1.3, 0]
    assert mr.to_dict()["n_models"] == 3 and mr.covers(mr.mean)
    with pytest.raises(ValueError, match="confidence"):
        model_return_interval(ENV.true_graph(), data, ExpertPolicy(ENV), domain_factor=0.4, gamma=0.9,
                              horizon=10, confidence=1.5)


@pytest.mark.slow
def test_interval_coverage_over_policies_and_domains():
    big = collect_transitions(ENV, None, episodes=200, horizon=10, domain_factors=SOURCES, rng=0)
    covered = []
    for policy in (UniformPolicy(ENV.action_counts), ExpertPolicy(ENV)):
        for target in (0.2, 0.42, 0.5):
            truth = discounted_return(ENV.with_domain_factor(target), policy, gamma=0.9, horizon=10,
                                      episodes=20000, rng=5).mean
            mr = model_return_interval(ENV.true_graph(), big, policy, domain_factor=np.full(9, target),
                                       gamma=0.9, horizon=10, domain_factors=W, n_models=20, episodes=1000, rng=3)
            covered.append(mr.covers(truth))
    # measured: 6 of 6 (and 3 of 3 for the uniform policy on the 6-user wireless instance)
    assert np.mean(covered) >= 0.9, covered
