"""Acting from PettingZoo observation dicts (rl.observation_policy) on the epidemic test system."""

from __future__ import annotations

import numpy as np
import pytest

from epidemic_env import EpidemicEnv
from rl.envs.pettingzoo_adapter import make_parallel_env
from rl.gsac import GSACConfig, GSACTrainer
from rl.observation_policy import ObservationPolicy, run_parallel_episode

ENV = EpidemicEnv(3, infection=0.4)


@pytest.fixture(scope="module")
def policy():
    trainer = GSACTrainer(ENV, ENV.true_graph(), GSACConfig(gamma=0.9, horizon=10), rng=0)
    trainer.iterate(200)
    return trainer.policy(0, w_hat=np.full(ENV.n_agents, 0.4))


def test_greedy_actions_from_observations_equal_those_from_the_state(policy):
    par = make_parallel_env(ENV, max_steps=6, rng=3)
    obs_policy = ObservationPolicy(policy, ENV.spec, mode="greedy")
    observations, _ = par.reset(seed=5)
    policy.mode = "greedy"
    for _ in range(6):
        actions = obs_policy(observations, None)
        expected = policy(par.state()[None], None)[0]
        assert [actions[f"agent_{i}"] for i in range(ENV.n_agents)] == expected.tolist()
        observations, *_ = par.step(actions)
    policy.mode = "sample"
    # the centre of the 3x3 grid reads its four neighbours' observations
    assert obs_policy.needs[4] == [1, 3, 4, 5, 7]


def test_sampled_actions_follow_the_policy_probabilities(policy):
    obs_policy = ObservationPolicy(policy, ENV.spec, mode="sample")
    state = np.array([1, 0, 0, 0, 0, 0, 0, 0, 1])
    observations = {f"agent_{i}": state[[i]] for i in range(ENV.n_agents)}
    rng = np.random.default_rng(0)
    draws = np.array([[obs_policy(observations, rng)[f"agent_{i}"] for i in range(9)] for _ in range(800)])
    probs = policy.probabilities(state[None])[0, :, 1]
    np.testing.assert_allclose(draws.mean(axis=0), probs, atol=0.06)     # 3.4 binomial SDs


def test_missing_neighbour_observation_is_named(policy):
    obs_policy = ObservationPolicy(policy, ENV.spec, mode="greedy")
    with pytest.raises(KeyError, match="agent_1"):
        obs_policy({"agent_0": np.array([0]), "agent_3": np.array([0])}, None)
    with pytest.raises(ValueError, match="mode"):
        ObservationPolicy(policy, ENV.spec, mode="best")


def test_episode_return_through_the_adapter(policy):
    par = make_parallel_env(ENV, max_steps=10, rng=1)
    totals = run_parallel_episode(par, ObservationPolicy(policy, ENV.spec), seed=2, rng=np.random.default_rng(4),
                                  gamma=0.9)
    assert set(totals) == {f"agent_{i}" for i in range(9)}
    assert all(v <= 0 for v in totals.values())
