"""Function-approximation GSAC on the networked LQR benchmark (rl.fa_gsac, rl.fa_inputs, rl.fa_policy)."""

import numpy as np
import pytest

from rl.envs.lqr import NetworkedLQREnv
from rl.fa_gsac import FAGSACConfig, FAGSACTrainer
from rl.fa_inputs import build_fa_inputs, quadratic_features
from rl.fa_policy import LinearGaussianPolicy
from rl.lqr_reference import optimal_discounted, policy_cost


def test_inputs_acr_exclude_distractors_truncation_keeps_them():
    env = NetworkedLQREnv(5, distractors=2)
    m = env.spec.n_state
    acr = build_fa_inputs(env.true_graph(), kappa=1, mode="acr")
    trunc = build_fa_inputs(env.true_graph(), kappa=1, mode="truncation")
    xs = set(env.x_columns.tolist())
    for i in range(5):
        states = {c for c in acr.critic_index[i] if c < m}
        assert states == {int(env.x_columns[j]) for j in env.spec.neighborhood(i, 1)} and states <= xs
        tstates = {c for c in trunc.critic_index[i] if c < m}
        assert tstates == {c for c in range(m) if env.spec.state_owner[c] in env.spec.neighborhood(i, 1)}
    # every agent's action appears in the critic of itself and its neighbours
    pairs = acr.action_pairs
    for i in range(5):
        assert sorted(pairs[pairs[:, 2] == i, 0].tolist()) == env.spec.neighborhood(i, 1)
    with pytest.raises(ValueError, match="mode"):
        build_fa_inputs(env.true_graph(), kappa=1, mode="tabular")


def test_quadratic_features_represent_quadratics_exactly():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 3))
    H = rng.standard_normal((3, 3))
    target = 1.0 + y @ np.array([0.5, -1.0, 2.0]) + np.einsum("bi,ij,bj->b", y, H, y)
    coef, *_ = np.linalg.lstsq(quadratic_features(y), target, rcond=None)
    np.testing.assert_allclose(quadratic_features(y) @ coef, target, atol=1e-9)


def test_policy_affine_form_matches_mean():
    env = NetworkedLQREnv(4, distractors=1)
    inp = build_fa_inputs(env.true_graph(), kappa=1, mode="truncation")
    rng = np.random.default_rng(1)
    pol = LinearGaussianPolicy(rng.standard_normal((4, inp.n_policy_parameters)), inp, w_hat=[0.1, 0.4, 0.7, 0.3])
    s = rng.standard_normal((6, env.spec.n_state))
    aff = pol.affine()
    np.testing.assert_allclose(pol.mean(s), aff(s), atol=1e-12)
    owner = np.asarray(env.spec.state_owner)
    for i in range(4):                       # the gain only reads the 1-hop neighbourhood
        assert np.all(aff.K[i, ~np.isin(owner, env.spec.neighborhood(i, 1))] == 0)


def test_runs_batched_equal_runs_alone():
    env = NetworkedLQREnv(3, distractors=1)
    cfg = FAGSACConfig(episodes=3, horizon=6)
    together = FAGSACTrainer(env, env.true_graph(), cfg, domain_factors=[0.2, 0.8], rng=[4, 9])
    together.iterate(3)
    alone = FAGSACTrainer(env, env.true_graph(), cfg, domain_factors=[0.2, 0.8], rng=[9])
    alone.iterate(3)
    # same random numbers; equal up to the summation order of the batched linear algebra
    np.testing.assert_allclose(together.theta[1], alone.theta[0], rtol=1e-5, atol=1e-7)
    again = FAGSACTrainer(env, env.true_graph(), cfg, domain_factors=[0.2, 0.8], rng=[4, 9])
    again.iterate(3)
    np.testing.assert_array_equal(again.theta, together.theta)          # same seed, same bits


def test_zero_shot_cost_near_riccati_optimum():
    """6 agents: after 8 iterations the zero-shot policy in an unseen domain is within 5% of the optimum."""
    env = NetworkedLQREnv(6, distractors=1)
    target = env.with_domain_factor(0.65)
    opt = optimal_discounted(target.linear_system(), gamma=0.95)
    tr = FAGSACTrainer(env, env.true_graph(), FAGSACConfig(episodes=12), domain_factors=[0.2, 0.5, 0.8], rng=0)
    res = tr.run(8, eval_env=target)
    ratio = res.eval_costs[0] / opt.cost
    assert ratio[0] > 10 and ratio[-1] < 1.05
    np.testing.assert_allclose(res.eval_costs[0, -1],
                               policy_cost(target.linear_system(), res.policies[0].affine(), gamma=0.95))
    mc = tr.evaluate(_NoLinearSystem(target), episodes=400, rng=1)   # Monte Carlo path agrees
    np.testing.assert_allclose(mc[0], res.eval_costs[0, -1], rtol=0.08)


class _NoLinearSystem:
    """The target environment without its exact matrices (forces the Monte Carlo evaluation)."""

    def __init__(self, env):
        self._env = env
        self.domain_factor = env.domain_factor

    def reset(self, *args, **kwargs):
        return self._env.reset(*args, **kwargs)

    def step(self, *args, **kwargs):
        return self._env.step(*args, **kwargs)


def test_bad_configuration():
    env = NetworkedLQREnv(3)
    with pytest.raises(ValueError, match="gamma"):
        FAGSACConfig(gamma=1.0)
    with pytest.raises(ValueError, match="inputs"):
        FAGSACConfig(inputs="tabular")
    with pytest.raises(ValueError, match="w_hat must be finite|must be finite"):
        FAGSACTrainer(env, env.true_graph(), domain_factors=[0.2, 0.8], w_hat=[0.2, np.nan])
    from rl.envs import WirelessAccessEnv
    wl = WirelessAccessEnv(2, 2, users_per_vertex=1)
    with pytest.raises(ValueError, match="continuous actions"):
        FAGSACTrainer(wl, wl.true_graph())


def test_make_trainer_routes_continuous_environments():
    from rl.algorithms import make_trainer

    env = NetworkedLQREnv(4, distractors=1)
    gsac = make_trainer("gsac", env, env.true_graph(), source_factors=[0.2, 0.8], rng=0)
    assert isinstance(gsac, FAGSACTrainer) and gsac.config.inputs == "acr" and gsac.config.domain_inputs
    sac = make_trainer("sac", env, env.true_graph(), rng=0)
    assert sac.config.inputs == "truncation" and not sac.config.domain_inputs
    assert sac.inputs.domain_index.shape[1] == 1                      # phi = [1]
    lfs = make_trainer("sac-lfs", env, env.true_graph(), target_factor=0.65, rng=0)
    np.testing.assert_array_equal(lfs.domain_factors, np.full((1, 4), 0.65))
    with pytest.raises(ValueError, match="not available for continuous actions"):
        make_trainer("sac-mtl", env, env.true_graph(), source_factors=[0.2, 0.8], rng=0)
    with pytest.raises(ValueError, match="target_factor"):
        make_trainer("gsac", env, env.true_graph(), target_factor=0.5, rng=0)
