"""The advantage actor (rl.advantage): scale-free steps, invariance to the rewards' offset and scale."""

from __future__ import annotations

import numpy as np
import pytest

from rl.adaptation import mean_ci
from rl.advantage import AdvantageWeights, RunningMoments, effective_horizon
from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer, train_gsac


class AffineRewards:
    """An environment whose rewards are ``scale * r + shift`` (changes no optimal policy)."""

    def __init__(self, env, *, shift: float = 0.0, scale: float = 1.0) -> None:
        self.env, self.shift, self.scale = env, shift, scale

    def __getattr__(self, name):
        return getattr(self.env, name)

    def with_domain_factor(self, w):
        return AffineRewards(self.env.with_domain_factor(w), shift=self.shift, scale=self.scale)

    def step(self, states, actions, rng, *, domain_factor=None):
        nxt, r = self.env.step(states, actions, rng, domain_factor=domain_factor)
        return nxt, self.scale * r + self.shift


class NoDefaults:
    """A system that declares no discount or horizon of its own."""

    def __init__(self, env) -> None:
        self.env = env

    def __getattr__(self, name):
        if name in ("default_gamma", "default_horizon"):
            raise AttributeError(name)
        return getattr(self.env, name)


SMALL_WIRELESS = WirelessAccessEnv(2, 3, users_per_vertex=1)
SMALL_SYNTHETIC = SyntheticNetworkEnv(n_agents=4, rng=3)


def test_running_moments_match_numpy():
    rng = np.random.default_rng(0)
    m = RunningMoments(2)
    seen = [[], []]
    for _ in range(5):
        block = rng.normal(3.0, 2.0, size=(2, 7))
        m.update(block)
        for r in range(2):
            seen[r].extend(block[r])
    np.testing.assert_allclose(m.mean, [np.mean(s) for s in seen], rtol=1e-12)
    np.testing.assert_allclose(m.std(), [np.std(s) for s in seen], rtol=1e-12)
    x = np.array([[1.0], [2.0]])
    np.testing.assert_allclose(m.normalise(x)[:, 0], (x[:, 0] - m.mean) / m.std(), rtol=1e-12)


def test_baseline_is_the_running_mean_of_q():
    aw = AdvantageWeights([[0], [1]], n_runs=1, window=2)
    q1 = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])
    w1 = aw.weights(q1, discount=np.array([1.0, 0.5]))
    np.testing.assert_allclose(w1[:, 0], [[1.0, 2.0], [1.5, 2.0]])
    np.testing.assert_allclose(aw.baseline, [[2.0, 3.0]])
    w2 = aw.weights(np.array([[[2.0, 3.0]], [[2.0, 3.0]]]), discount=np.ones(2))
    np.testing.assert_allclose(w2[:, 0], [[0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(aw.baseline, [[2.0, 3.0]])      # rate 1/2 after the window


def test_effective_horizon():
    assert effective_horizon(0.7, 10) == pytest.approx((1 - 0.7 ** 11) / 0.3)
    with pytest.raises(ValueError, match="gamma"):
        effective_horizon(1.5, 3)


@pytest.mark.parametrize("shift, scale", [(1.0, 1.0), (-1.0, 1.0), (0.0, 0.1), (0.0, 10.0), (-0.45, 3.0)])
def test_advantage_training_is_invariant_to_reward_offset_and_scale(shift, scale):
    base = GSACTrainer(SMALL_WIRELESS, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=[0, 1],
                       domain_factors=[0.2, 0.8])
    moved_env = AffineRewards(SMALL_WIRELESS, shift=shift, scale=scale)
    moved = GSACTrainer(moved_env, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=[0, 1], domain_factors=[0.2, 0.8])
    base.iterate(60)
    moved.iterate(60)
    assert np.abs(base.theta).max() > 0.1
    np.testing.assert_allclose(moved.theta, base.theta, atol=1e-8)


def test_reference_actor_depends_on_the_offset():
    cfg = GSACConfig(actor="reference")
    base = GSACTrainer(SMALL_WIRELESS, SMALL_WIRELESS.true_graph(), cfg, rng=0)
    moved = GSACTrainer(AffineRewards(SMALL_WIRELESS, shift=1.0), SMALL_WIRELESS.true_graph(), cfg, rng=0)
    base.iterate(30)
    moved.iterate(30)
    assert np.abs(moved.theta - base.theta).max() > 1.0


def test_gamma_and_horizon_come_from_the_system():
    env = NoDefaults(SMALL_WIRELESS)
    with pytest.raises(ValueError, match="GSACConfig.gamma is not set"):
        GSACTrainer(env, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=0)
    with pytest.raises(ValueError, match="GSACConfig.horizon is not set"):
        GSACTrainer(env, SMALL_WIRELESS.true_graph(), GSACConfig(gamma=0.9), rng=0)
    trainer = GSACTrainer(env, SMALL_WIRELESS.true_graph(), GSACConfig(gamma=0.9, horizon=4), rng=0)
    assert (trainer.config.gamma, trainer.config.horizon) == (0.9, 4)
    assert GSACTrainer(SMALL_WIRELESS, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=0).config.gamma == 0.7


def test_checkpoint_resume_with_advantage_actor_is_bit_identical():
    a = GSACTrainer(SMALL_WIRELESS, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=4, domain_factors=[0.2, 0.8])
    a.iterate(15)
    state = a.state_dict()
    b = GSACTrainer(SMALL_WIRELESS, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=99, domain_factors=[0.2, 0.8])
    b.load_state_dict(state)
    a.iterate(10)
    b.iterate(10)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.advantage.baseline, b.advantage.baseline)


def test_greedy_mode_takes_the_most_probable_action():
    trainer = GSACTrainer(SMALL_WIRELESS, SMALL_WIRELESS.true_graph(), GSACConfig(), rng=2)
    trainer.iterate(40)
    policy = trainer.policy(0)
    states = SMALL_WIRELESS.reset(50, np.random.default_rng(0))
    probs = policy.probabilities(states)
    policy.mode = "greedy"
    np.testing.assert_array_equal(policy(states, np.random.default_rng(1)), probs.argmax(axis=-1))
    with pytest.raises(ValueError, match="mode"):
        policy.mode = "argmax"


@pytest.mark.slow
@pytest.mark.parametrize("env", [SMALL_WIRELESS, SMALL_SYNTHETIC], ids=["wireless", "synthetic"])
def test_returns_under_shifted_and_scaled_rewards_lie_in_the_seed_ci(env):
    seeds = [0, 1, 2, 3, 4]

    def final_returns(train_env):
        res = train_gsac(train_env, env.true_graph(), GSACConfig(), iterations=1500, domain_factors=[0.3, 0.7],
                         rng=seeds, eval_every=1500, eval_episodes=1000, eval_env=env.with_domain_factor(0.5))
        return res.eval_returns[:, -1]

    base = final_returns(env)
    mean, low, high = mean_ci(base)
    for shift, scale in [(1.0, 1.0), (-1.0, 1.0), (0.0, 0.1), (0.0, 10.0)]:
        moved = final_returns(AffineRewards(env, shift=shift, scale=scale)).mean()
        assert low <= moved <= high, (shift, scale, moved, (low, high))


def test_configs_saved_before_the_advantage_actor_read_as_reference():
    old = GSACConfig(gamma=0.7, horizon=10).to_dict()
    del old["actor"], old["reward_norm"]
    assert GSACConfig.from_dict(old).actor == "reference"
    assert GSACConfig.from_dict(GSACConfig().to_dict()) == GSACConfig()
