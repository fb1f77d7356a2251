"""Tests of the linear (one-hot) localized actor-critic on traffic and wireless."""

from __future__ import annotations

import numpy as np
import pytest

from rl.actors_linear import LinearACConfig, LinearActorCritic, LinearSoftmaxPolicy
from rl.envs import TrafficGridEnv, WirelessAccessEnv
from rl.evaluation import discounted_return
from rl.features import PolynomialFeatures
from rl.policies import UniformPolicy


def test_policy_probabilities_by_hand():
    # agent 0 reads column 1, agent 1 reads column 0; input 0 is the bias
    w = np.zeros((2, 2, 2, 3, 2))
    w[0, 0, 1, 2, 1] = 1.0          # agent 0, feature 1, its column value 2 -> +1 on action 1
    w[0, 1, 1, 2, 1] = 2.0          # times w (feature 1)
    w[1, 0, 0, 0, 0] = 0.5          # agent 1 bias on action 0
    pol = LinearSoftmaxPolicy(w, np.array([[2, 1], [2, 0]]), np.ones((2, 2), bool), [2, 2],
                              PolynomialFeatures(2), w_hat=0.25)
    p = pol.probabilities(np.array([[0, 2], [1, 1]]))
    z = 1.0 + 2.0 * 0.25
    np.testing.assert_allclose(p[0, 0], [1 / (1 + np.exp(z)), np.exp(z) / (1 + np.exp(z))])
    np.testing.assert_allclose(p[1, 0], [0.5, 0.5])
    np.testing.assert_allclose(p[:, 1, 0], 1 / (1 + np.exp(-0.5)))


def test_same_seed_same_parameters():
    env = TrafficGridEnv(2, 2)
    a = LinearActorCritic(env, env.true_graph(), LinearACConfig(episodes=4), rng=3, n_runs=2)
    b = LinearActorCritic(env, env.true_graph(), LinearACConfig(episodes=4), rng=3, n_runs=2)
    a.iterate(3)
    b.iterate(3)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.critic, b.critic)
    assert np.abs(a.theta).max() > 0


@pytest.mark.parametrize("make_env", [lambda: TrafficGridEnv(2, 2, arrival=0.25),
                                      lambda: WirelessAccessEnv(2, 3, users_per_vertex=1, arrival=0.5)])
def test_learning_beats_uniform_on_traffic_and_wireless(make_env):
    env = make_env()
    ac = LinearActorCritic(env, env.true_graph(), LinearACConfig(episodes=16), rng=0, n_runs=1)
    ac.iterate(60)
    uniform = discounted_return(env, UniformPolicy(env.action_counts), gamma=0.7, horizon=10, episodes=3000, rng=9)
    for pol in ac.policies(w_hat=env.domain_factor):
        learned = discounted_return(env, pol, gamma=0.7, horizon=10, episodes=3000, rng=9)
        assert learned.ci95[0] > uniform.ci95[1]


def test_truncation_inputs_are_own_coordinates_and_sizes():
    env = TrafficGridEnv(3, 3)
    acr = LinearActorCritic(env, env.true_graph(), LinearACConfig(inputs="acr"))
    trunc = LinearActorCritic(env, env.true_graph(), LinearACConfig(inputs="truncation"))
    assert trunc.inputs.policy_columns[4] == [16, 17, 18, 19]
    assert len(acr.inputs.policy_columns[4]) == 16
    assert acr.sizes()["mean_critic_state_inputs"] < trunc.sizes()["mean_critic_state_inputs"]
    with pytest.raises(ValueError, match="episodes must be an integer >= 1"):
        LinearACConfig(episodes=0)
