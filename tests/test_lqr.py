"""Networked LQR environment and its exact references (rl.envs.lqr, rl.lqr_reference)."""

import numpy as np
import pytest

from causalnet.data import Transitions
from rl.envs.lqr import NetworkedLQREnv
from rl.lqr_reference import (AffinePolicy, average_cost, best_decentralized_feedback, finite_horizon_cost,
                              finite_horizon_riccati, optimal_average, optimal_discounted, policy_cost)
from rl.rollout import collect_transitions


def _ring_pattern(env: NetworkedLQREnv) -> np.ndarray:
    k = 1 + env.distractors
    pat = np.zeros((env.n_agents, env.spec.n_state), dtype=bool)
    for i in range(env.n_agents):
        for j in [i, *env._nbr[i]]:
            pat[i, j * k] = True
    return pat


def test_step_matches_linear_system_and_cost():
    env = NetworkedLQREnv(5, distractors=2, domain="coupling", load=0.3, domain_factor=0.4, noise_std=0.0)
    rng = np.random.default_rng(1)
    s = env.reset(7, rng)
    u = rng.standard_normal((7, 5))
    nxt, r = env.step(s, u, rng)
    sys = env.linear_system()
    np.testing.assert_allclose(nxt, s @ sys.A.T + u @ sys.B.T + sys.offset, atol=1e-12)
    np.testing.assert_allclose(-r.sum(axis=1), np.einsum("bi,ij,bj->b", s, sys.Q, s)
                               + np.einsum("bi,ij,bj->b", u, sys.R, u), rtol=1e-12)


def test_true_graph_is_exact_for_the_dynamics():
    """Perturbing a non-parent never changes a target; perturbing a parent does."""
    env = NetworkedLQREnv(6, topology="random", env_seed=2, distractors=1, noise_std=0.0)
    g = env.true_graph()
    spec = env.spec
    rng = np.random.default_rng(0)
    s, u = rng.standard_normal((1, spec.n_state)), rng.standard_normal((1, 6))
    base, r0 = env.step(s, u, rng)
    for col, name in enumerate(spec.state_names):
        s2 = s.copy()
        s2[0, col] += 1.0
        nxt, r = env.step(s2, u, rng)
        changed = {spec.state_names[j] for j in np.flatnonzero(np.abs(nxt - base)[0] > 1e-12)}
        changed |= {spec.reward_names[j] for j in np.flatnonzero(np.abs(r - r0)[0] > 1e-12)}
        assert changed == {t for t in g.targets if name in g.parents[t]}
    assert g.domain_affected == [spec.state_names[i * 2] for i in range(6)]


def test_reproducible_and_batched_domains():
    env = NetworkedLQREnv(4)
    a = collect_transitions(env, None, episodes=3, horizon=4, domain_factors=[0.2, 0.8], rng=5)
    b = collect_transitions(env, None, episodes=3, horizon=4, domain_factors=[0.2, 0.8], rng=5)
    assert isinstance(a, Transitions) and a.actions.dtype == np.float64
    np.testing.assert_array_equal(a.next_states, b.next_states)
    s = env.reset(2, np.random.default_rng(0))
    w = np.array([[0.0] * 4, [1.0] * 4])
    nxt, _ = env.with_domain_factor(0.0).step(s, np.zeros((2, 4)), np.random.default_rng(1), domain_factor=w)
    nxt0, _ = env.with_domain_factor(0.0).step(s, np.zeros((2, 4)), np.random.default_rng(1))
    np.testing.assert_allclose(nxt[1] - nxt0[1], env.params["d"])     # load 1 adds d to every x
    np.testing.assert_allclose(nxt[0], nxt0[0])


def test_bad_inputs():
    env = NetworkedLQREnv(3)
    with pytest.raises(ValueError, match="rho"):
        NetworkedLQREnv(3, rho=0.0)
    with pytest.raises(ValueError, match="domain"):
        NetworkedLQREnv(3, domain="wind")
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full((1, 3), np.nan), np.zeros((1, 3)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="actions has shape"):
        env.step(np.zeros((1, 3)), np.zeros((1, 2)), np.random.default_rng(0))
    assert NetworkedLQREnv.from_config(env.config()).config() == env.config()


def test_scalar_dare_closed_form():
    """Scalar discounted problem without load: p solves p = 1 + g a^2 p - (g a c p)^2 / (rho + g c^2 p)."""
    a, c, rho, g = 1.2, 0.7, 0.5, 0.9
    sys = NetworkedLQREnv(1, a=a, coupling=0.0, c=c, rho=rho, noise_std=0.0, init_std=1.0,
                          domain_factor=0.0).linear_system()
    # quadratic g c^2 p^2 + (rho (1 - g a^2) - g c^2) p - rho = 0
    qa, qb, qc = g * c * c, rho * (1 - g * a * a) - g * c * c, -rho
    p = (-qb + np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    opt = optimal_discounted(sys, gamma=g)
    np.testing.assert_allclose(opt.cost, p, rtol=1e-10)
    np.testing.assert_allclose(opt.K[0, 0], -g * a * c * p / (rho + g * c * c * p), rtol=1e-10)


def test_exact_cost_matches_monte_carlo():
    env = NetworkedLQREnv(4, distractors=1, domain_factor=0.6, noise_std=0.3)
    sys = env.linear_system()
    rng = np.random.default_rng(3)
    K = np.where(_ring_pattern(env), -0.3, 0.0) + 0.05 * rng.standard_normal((4, 8)) * _ring_pattern(env)
    pol = AffinePolicy(K, -0.4 * np.ones(4))
    g = 0.8
    exact = policy_cost(sys, pol, gamma=g)
    s = env.reset(20000, rng)
    total = np.zeros(20000)
    for t in range(80):                     # 0.8^80 ~ 2e-8: truncation negligible
        u = pol(s)
        s, r = env.step(s, u, rng)
        total -= g ** t * r.sum(axis=1)
    se = total.std() / np.sqrt(total.size)
    assert abs(total.mean() - exact) < 4 * se
    np.testing.assert_allclose(finite_horizon_cost(sys, pol.K, pol.k, horizon=80, gamma=g), exact, rtol=1e-6)


def test_optimum_beats_perturbations_and_finite_horizon_converges():
    env = NetworkedLQREnv(4, domain_factor=0.7)
    sys = env.linear_system()
    opt = optimal_discounted(sys, gamma=0.95)
    np.testing.assert_allclose(policy_cost(sys, opt, gamma=0.95), opt.cost, rtol=1e-9)
    rng = np.random.default_rng(0)
    for _ in range(5):
        pert = AffinePolicy(opt.K + 0.02 * rng.standard_normal(opt.K.shape), opt.k + 0.02 * rng.standard_normal(4))
        assert policy_cost(sys, pert, gamma=0.95) > opt.cost
    fh = finite_horizon_riccati(sys, horizon=400, gamma=0.95)
    np.testing.assert_allclose(fh.cost, opt.cost, rtol=1e-6)
    short = finite_horizon_riccati(sys, horizon=10, gamma=0.95)
    np.testing.assert_allclose(short.cost, finite_horizon_cost(sys, short.K, short.k, horizon=10, gamma=0.95),
                               rtol=1e-10)
    assert short.cost < finite_horizon_cost(sys, opt.K, opt.k, horizon=10, gamma=0.95)


def test_average_cost_optimum():
    sys = NetworkedLQREnv(3, domain_factor=0.5).linear_system()
    opt = optimal_average(sys)
    np.testing.assert_allclose(average_cost(sys, opt), opt.cost, rtol=1e-9)
    assert average_cost(sys, AffinePolicy(opt.K, opt.k + 0.05)) > opt.cost


def test_best_decentralized_between_optimum_and_start():
    env = NetworkedLQREnv(6, distractors=1, domain_factor=0.65)
    sys = env.linear_system()
    opt = optimal_discounted(sys, gamma=0.95)
    full = best_decentralized_feedback(sys, np.ones((6, 12), dtype=bool), gamma=0.95)
    np.testing.assert_allclose(full.cost, opt.cost, rtol=1e-6)
    dec = best_decentralized_feedback(sys, _ring_pattern(env), gamma=0.95)
    assert opt.cost <= dec.cost <= 1.01 * opt.cost
    assert np.all(dec.K[~_ring_pattern(env)] == 0)
    with pytest.raises(ValueError, match="pattern has shape"):
        best_decentralized_feedback(sys, np.ones((6, 6), dtype=bool), gamma=0.95)
    with pytest.raises(ValueError, match="gamma"):
        policy_cost(sys, dec, gamma=1.0)


def test_doubling_solvers_match_scipy(monkeypatch):
    """The matrix-product solvers used for large systems agree with scipy's Schur/QZ solvers."""
    import rl.lqr_reference as ref

    env = NetworkedLQREnv(12, topology="random", env_seed=1, distractors=1, domain_factor=0.4)
    sys = env.linear_system()
    pol = AffinePolicy(np.where(_ring_pattern(env), -0.2, 0.0), -0.3 * np.ones(12))
    small = (optimal_discounted(sys, gamma=0.95), policy_cost(sys, pol, gamma=0.95), average_cost(sys, pol))
    monkeypatch.setattr(ref, "DOUBLING_MIN_SIZE", 1)
    large = (optimal_discounted(sys, gamma=0.95), policy_cost(sys, pol, gamma=0.95), average_cost(sys, pol))
    np.testing.assert_allclose(large[0].cost, small[0].cost, rtol=1e-9)
    np.testing.assert_allclose(large[0].K, small[0].K, atol=1e-8)
    np.testing.assert_allclose(large[1:], small[1:], rtol=1e-9)
    unstable = AffinePolicy(np.zeros((12, 24)) + np.eye(12, 24) * 2.0, np.zeros(12))
    assert policy_cost(sys, unstable, gamma=0.95) == np.inf


def test_continuous_actions_in_spec_and_data():
    from causalnet.data import TransitionsFormatError
    from causalnet.spec import NetworkSpec, SpecError, default_spec

    spec = default_spec(2, [(0, 1)], 1, None, None)
    assert spec.continuous_actions and NetworkSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="mixes discrete and continuous"):
        default_spec(2, [(0, 1)], 1, None, [None, 3])
    z = np.zeros((3, 2))
    rows = dict(rewards=z, next_states=z, domain=np.zeros(3, int), episode=np.zeros(3, int), time=np.arange(3))
    tr = Transitions(spec, states=z, actions=np.full((3, 2), 0.25), **rows)
    assert tr.actions.dtype == np.float64
    with pytest.raises(TransitionsFormatError, match="actions' holds NaN"):
        Transitions(spec, states=z, actions=np.full((3, 2), np.nan), **rows)
    discrete = default_spec(2, [(0, 1)], 1, None, 2)
    with pytest.raises(TransitionsFormatError, match="must hold integers"):
        Transitions(discrete, states=z, actions=np.full((3, 2), 0.25), **rows)


def test_discovery_recovers_the_lqr_graph():
    """Continuous actions enter the regression test as numbers (not categories): exact rewards' parents."""
    from causalnet.discovery import LocalDiscovery

    env = NetworkedLQREnv(4, distractors=1)
    data = collect_transitions(env, None, episodes=300, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=0)
    graph = LocalDiscovery(alpha=0.001, ci_test="auto", max_cond_size=2, n_jobs=1).fit(data).graph_
    truth = env.true_graph()
    for i in range(4):
        assert graph.parents[f"r{i}"] == truth.parents[f"r{i}"]
        assert graph.parents[f"s{i}_0"] == truth.parents[f"s{i}_0"]
