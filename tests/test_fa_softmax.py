"""Softmax-actor GSAC with function approximation (continuous states, discrete actions)."""

from __future__ import annotations

import numpy as np
import pytest

from rl.algorithms import make_trainer
from rl.envs.synthetic_continuous import SyntheticContinuousEnv
from rl.fa_config import FAGSACConfig
from rl.fa_inputs import build_fa_inputs
from rl.fa_softmax import FASoftmaxTrainer, LinearSoftmaxPolicy

CFG = FAGSACConfig(episodes=8, horizon=30)


def _episode_costs(env, policy, episodes, seed, gamma=CFG.gamma):
    gen = np.random.default_rng(seed)
    s = env.reset(episodes, gen)
    total = np.zeros(episodes)
    for t in range(int(np.ceil(10 / (1 - gamma)))):
        s, rew = env.step(s, policy(s, gen), gen)
        total -= gamma ** t * rew.sum(axis=1)
    return total


def test_trained_softmax_beats_uniform_with_confidence():
    env = SyntheticContinuousEnv.random(4, rng=0)
    tr = make_trainer("gsac", env, env.true_graph(), config=CFG, source_factors=[0.2, 0.8], rng=0, n_runs=3)
    assert isinstance(tr, FASoftmaxTrainer)
    tr.iterate(10)
    target = env.with_domain_factor(0.65)
    uniform = LinearSoftmaxPolicy(np.zeros_like(tr.theta[0]), tr.inputs, tr.cardinality, w_hat=0.65)
    base = _episode_costs(target, uniform, 300, seed=5)
    for r in range(tr.n_runs):
        # same seed: common random numbers for the initial states and the noise
        diff = base - _episode_costs(target, tr.policy(r, np.full(4, 0.65)), 300, seed=5)
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        assert diff.mean() - half > 10.0, (r, diff.mean(), half)   # uniform costs about 11.5, trained about -28
    # a simple reference: the best constant joint action (exhaustive, 16 of them); the
    # trained policy is not worse (measured: -28.8 against -28.5, uniform +11.5)
    best = min((_episode_costs(target, lambda s, g, a=a: np.tile(a, (len(s), 1)), 300, seed=5)
                for a in np.ndindex(2, 2, 2, 2)), key=np.mean)
    for r in range(tr.n_runs):
        diff = best - _episode_costs(target, tr.policy(r, np.full(4, 0.65)), 300, seed=5)
        assert diff.mean() + 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) > 0.0, (r, diff.mean())
    # same seed, same bits
    again = make_trainer("gsac", env, env.true_graph(), config=CFG, source_factors=[0.2, 0.8], rng=0, n_runs=3)
    again.iterate(10)
    np.testing.assert_array_equal(again.theta, tr.theta)


def test_uniform_start_and_natural_step_is_reward_scale_free():
    env = SyntheticContinuousEnv.random(3, rng=1)

    class Scaled:
        def __init__(self, base, c):
            self.base, self.c = base, c
            self.spec, self.n_agents, self.domain_factor = base.spec, base.n_agents, base.domain_factor

        def reset(self, *a, **k):
            return self.base.reset(*a, **k)

        def step(self, *a, **k):
            s, r = self.base.step(*a, **k)
            return s, self.c * r

    one = FASoftmaxTrainer(env, env.true_graph(), FAGSACConfig(episodes=4, horizon=10), rng=3)
    big = FASoftmaxTrainer(Scaled(env, 1000.0), env.true_graph(), FAGSACConfig(episodes=4, horizon=10), rng=3)
    p0 = one.policy(0).probabilities(np.zeros((1, env.spec.n_state)))
    np.testing.assert_allclose(p0, 0.5)
    one.iterate(2)
    big.iterate(2)
    assert np.abs(one.theta).max() > 0.1
    np.testing.assert_allclose(big.theta, one.theta, rtol=1e-5, atol=1e-8)


def test_policy_and_trainer_reject_bad_inputs():
    env = SyntheticContinuousEnv.random(3, rng=0)
    inp = build_fa_inputs(env.true_graph(), kappa=1, mode="acr")
    with pytest.raises(ValueError, match="theta has shape"):
        LinearSoftmaxPolicy(np.zeros((3, 2)), inp, [2, 2, 2], w_hat=0.5)
    with pytest.raises(ValueError, match="epsilon"):
        FASoftmaxTrainer(env, env.true_graph(), epsilon=1.5)
    greedy = LinearSoftmaxPolicy(np.zeros((3, 2, inp.n_policy_parameters)), inp, [2, 2, 2], w_hat=0.5, greedy=True)
    assert greedy(np.zeros((2, env.spec.n_state)), np.random.default_rng(0)).tolist() == [[0, 0, 0], [0, 0, 0]]


def test_make_trainer_routes_continuous_states_with_discrete_actions():
    env = SyntheticContinuousEnv.random(3, rng=0)
    lfs = make_trainer("sac-lfs", env, env.true_graph(), config=CFG, target_factor=0.65, rng=0)
    assert isinstance(lfs, FASoftmaxTrainer) and lfs.inputs.mode == "truncation"
    np.testing.assert_allclose(lfs.domain_factors, [[0.65, 0.65, 0.65]])
    sac = make_trainer("sac", env, env.true_graph(), config=CFG, rng=0)
    assert isinstance(sac, FASoftmaxTrainer) and not sac.config.domain_inputs
    with pytest.raises(ValueError, match="sac-mtl"):
        make_trainer("sac-mtl", env, env.true_graph(), source_factors=[0.2, 0.8], rng=0)
