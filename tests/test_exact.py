"""Tests of rl.exact: the exact joint MDP, its optimum and exact policy values.

Independent references: outcome enumeration through the environment's own ``reset``
and ``step`` (a stub generator feeds chosen uniforms), closed forms for one shared
AP, and Monte Carlo rollouts with the batched environment.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rl.envs.wireless import WirelessAccessEnv
from rl.evaluation import discounted_return
from rl.exact import (MAX_JOINT_STATE_ACTIONS, JointWirelessMDP, LocalTablePolicy, aloha_tables,
                      best_aloha, evaluate_local_policy, local_state_codes, optimal_value,
                      uniform_tables)
from rl.policies import UniformPolicy
from rl.policies.aloha import AlohaPolicy

GAMMA, HORIZON = 0.7, 10


class _ScriptedUniforms:
    """Stands in for a Generator: ``random(shape)`` returns the scripted arrays in turn."""

    def __init__(self, *arrays: np.ndarray) -> None:
        self._arrays = list(arrays)

    def random(self, shape):
        out = self._arrays.pop(0)
        if out.shape != tuple(shape):
            raise RuntimeError(f"scripted uniforms have shape {out.shape}, the env asked for {shape}")
        return out


def _coin_patterns(n: int) -> np.ndarray:
    """All 2^n patterns of n binary coins, shape (2^n, n)."""
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int64)


def _enumerate_step(env: WirelessAccessEnv, mdp: JointWirelessMDP, pairs: np.ndarray, *,
                    arrivals: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``env.step`` on every (state, action, success coins, arrival coins) combination.

    Returns the pair row, the outcome weight, the next joint state index and the mean reward.
    With ``arrivals=False`` no packet arrives (for expected rewards only; weights still sum to 1).
    """
    n = env.n_agents
    success = _coin_patterns(n)
    arrive = _coin_patterns(n) if arrivals else np.zeros((1, n), dtype=np.int64)
    rows = np.arange(len(pairs))
    grid = np.array(list(itertools.product(rows, range(len(success)), range(len(arrive)))))
    pair_row, s_pat, a_pat = grid.T
    states = mdp.states_from_index(pairs[pair_row, 0])
    actions = mdp.joint_actions[pairs[pair_row, 1]]
    ap_of = [np.array([env.decode_action(i, a)[1] for a in range(c)]) for i, c in enumerate(env.action_counts)]
    sending = np.stack([ap_of[i][actions[:, i]] for i in range(n)], axis=1)
    q_used = np.where(sending >= 0, env.transmit[np.maximum(sending, 0)], 0.5)
    win = success[s_pat] == 1
    weight = np.prod(np.where(win, q_used, 1.0 - q_used), axis=1)
    if arrivals:
        came = arrive[a_pat] == 1
        weight = weight * np.prod(np.where(came, env.domain_factor, 1.0 - env.domain_factor), axis=1)
    # uniform 0 passes "u < prob" for any prob > 0; uniform 1 never passes
    rng = _ScriptedUniforms(np.where(win, 0.0, 1.0), np.where(arrive[a_pat] == 1, 0.0, 1.0))
    nxt, rewards = env.step(states, actions, rng)
    return pair_row, weight, mdp.state_index(nxt), rewards.mean(axis=1)


def _enumerate_reset(env: WirelessAccessEnv, mdp: JointWirelessMDP) -> np.ndarray:
    coins = _coin_patterns(env.n_agents)
    weight = np.prod(np.where(coins == 1, env.domain_factor, 1.0 - env.domain_factor), axis=1)
    states = env.reset(len(coins), _ScriptedUniforms(np.where(coins == 1, 0.0, 1.0)))
    return np.bincount(mdp.state_index(states), weights=weight, minlength=mdp.n_states)


@pytest.fixture(scope="module")
def small_env() -> WirelessAccessEnv:
    """4 users on one AP, deadline 2, unequal arrival probabilities."""
    return WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=2, arrival=[0.3, 0.5, 0.6, 0.8],
                             transmit="random")


@pytest.fixture(scope="module")
def two_ap_env() -> WirelessAccessEnv:
    """6 users on two APs (users 1 and 4 reach both), deadline 2."""
    return WirelessAccessEnv(2, 3, users_per_vertex=1, deadline=2, arrival=0.5, transmit="random")


# ------------------------------------------------------------------ the model itself
def test_sizes_and_index_round_trip(two_ap_env):
    mdp = JointWirelessMDP(two_ap_env)
    assert (mdp.n_states, mdp.n_actions) == (4096, 3 ** 4 * 5 ** 2)
    assert mdp.n_classes < mdp.n_actions
    idx = np.array([0, 1, 77, 4095])
    np.testing.assert_array_equal(mdp.state_index(mdp.states_from_index(idx)), idx)
    acts = np.array([[0, 1, 2, 0, 4, 2], [2, 4, 1, 2, 0, 1]])
    np.testing.assert_array_equal(mdp.joint_actions[mdp.action_index(acts)], acts)
    np.testing.assert_array_equal(local_state_codes(np.array([[0, 1, 1, 1]]), 2), [[2, 3]])


def test_initial_distribution_matches_env_reset(small_env):
    mdp = JointWirelessMDP(small_env)
    np.testing.assert_allclose(mdp.initial_distribution(), _enumerate_reset(small_env, mdp), atol=1e-15)


@pytest.mark.parametrize("deadline", [1, 2])
def test_transitions_and_rewards_match_enumerated_env_steps(deadline):
    env = WirelessAccessEnv(2, 3, users_per_vertex=1, deadline=deadline, arrival=[0.2, 0.5, 0.7, 0.4, 0.9, 0.6],
                            transmit="random")
    mdp = JointWirelessMDP(env)
    rng = np.random.default_rng(3)
    pairs = np.stack([rng.integers(mdp.n_states, size=40), rng.integers(mdp.n_actions, size=40)], axis=1)
    # make sure lone senders that hold packets occur: everyone holds every slot, one user per AP sends
    full = mdp.n_states - 1
    pairs = np.vstack([pairs, [[full, mdp.action_index(np.array([[deadline, 0, 0, 0, 0, 1]]))[0]],
                               [full, mdp.action_index(np.array([[0, 2 * deadline, 0, 0, 0, 0]]))[0]]]])
    row, weight, nxt, reward = _enumerate_step(env, mdp, pairs, arrivals=True)
    np.testing.assert_allclose(np.bincount(row, weights=weight), 1.0, atol=1e-12)
    for k, (s, a) in enumerate(pairs):
        here = row == k
        brute = np.bincount(nxt[here], weights=weight[here], minlength=mdp.n_states)
        np.testing.assert_allclose(mdp.next_state_distribution(s, a), brute, atol=1e-12)
        assert mdp.expected_reward(s, a) == pytest.approx(float(weight[here] @ reward[here]), abs=1e-12)
    assert max(mdp.expected_reward(s, a) for s, a in pairs[-2:]) > 0


# ------------------------------------------------------------------ optimum vs brute force
@pytest.mark.parametrize("horizon", [1, 2])
def test_optimum_equals_brute_force_backward_induction(small_env, horizon):
    env, gamma = small_env, 0.6
    mdp = JointWirelessMDP(env)
    all_pairs = np.array(list(itertools.product(range(mdp.n_states), range(mdp.n_actions))))
    row, weight, _, reward = _enumerate_step(env, mdp, all_pairs, arrivals=False)
    expected_r = np.bincount(row, weights=weight * reward).reshape(mdp.n_states, mdp.n_actions)
    mu0 = _enumerate_reset(env, mdp)
    value_to_go = expected_r.max(axis=1)                       # last step: greedy
    if horizon == 2:
        start = np.flatnonzero(mu0)
        pairs = np.array(list(itertools.product(start, range(mdp.n_actions))))
        row, weight, nxt, reward = _enumerate_step(env, mdp, pairs, arrivals=True)
        q0 = np.bincount(row, weights=weight * (reward + gamma * value_to_go[nxt])).reshape(start.size, -1)
        brute = float(mu0[start] @ q0.max(axis=1))
    else:
        brute = float(mu0 @ value_to_go)
    assert optimal_value(mdp, gamma=gamma, horizon=horizon).value == pytest.approx(brute, rel=1e-12)


def test_optimal_actions_achieve_the_optimum_in_simulation(two_ap_env):
    mdp = JointWirelessMDP(two_ap_env)
    opt = optimal_value(mdp, gamma=GAMMA, horizon=HORIZON)
    rng = np.random.default_rng(11)
    episodes = 20000
    states = two_ap_env.reset(episodes, rng)
    total = np.zeros(episodes)
    for t in range(HORIZON):
        actions = mdp.joint_actions[opt.actions[t, mdp.state_index(states)]]
        states, rewards = two_ap_env.step(states, actions, rng)
        total += GAMMA ** t * rewards.mean(axis=1)
    std_err = total.std(ddof=1) / np.sqrt(episodes)
    assert abs(total.mean() - opt.value) < 4 * std_err


def test_values_are_consistent_across_horizons(two_ap_env):
    mdp = JointWirelessMDP(two_ap_env)
    long, short = optimal_value(mdp, gamma=GAMMA, horizon=6), optimal_value(mdp, gamma=GAMMA, horizon=2)
    np.testing.assert_allclose(long.values[4], short.values[0], rtol=1e-12)
    np.testing.assert_array_equal(long.values[6], 0.0)


# ------------------------------------------------------------------ closed forms (one shared AP)
def test_closed_forms_with_deadline_one():
    """Deadline 1: the queue is just this step's arrival, whatever the actions, so every step
    is the same one-shot game on the single AP."""
    p = np.array([0.3, 0.5, 0.6, 0.8])
    env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=p, transmit="random")
    q_ap = env.transmit[0]
    discount = (1 - GAMMA ** HORIZON) / (1 - GAMMA)
    # optimum: exactly one user with a packet sends
    assert optimal_value(env, gamma=GAMMA, horizon=HORIZON).value == pytest.approx(
        discount * q_ap * (1 - np.prod(1 - p)) / 4, rel=1e-12)
    # uniform: send (prob 1/2) while the three others idle (1/8), packet present
    assert evaluate_local_policy(env, uniform_tables(env), gamma=GAMMA, horizon=HORIZON).value == pytest.approx(
        discount * q_ap * p.sum() / 16 / 4, rel=1e-12)
    # ALOHA(x): i sends w.p. p_i x, nobody else does
    x = 0.35
    lone = [p[i] * x * np.prod(np.delete(1 - p * x, i)) for i in range(4)]
    assert evaluate_local_policy(env, aloha_tables(env, x), gamma=GAMMA, horizon=HORIZON).value == pytest.approx(
        discount * q_ap * sum(lone) / 4, rel=1e-12)


def test_one_step_optimum_with_deadline_two(small_env):
    """From reset only the newest slot can be full: T = 1 optimum = q (1 - prod(1 - p_i)) / n."""
    p, q_ap = small_env.domain_factor, small_env.transmit[0]
    assert optimal_value(small_env, gamma=GAMMA, horizon=1).value == pytest.approx(
        q_ap * (1 - np.prod(1 - p)) / 4, rel=1e-12)


def test_best_aloha_refines_to_the_closed_form_optimum():
    """Deadline 1, equal p: the ALOHA value is proportional to x (1 - p x)^3, best at x = 1/(4p)."""
    p = 0.4
    env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=p, transmit="allone")
    res = best_aloha(env, gamma=GAMMA, horizon=HORIZON)
    discount = (1 - GAMMA ** HORIZON) / (1 - GAMMA)
    best = 1 / (4 * p)
    assert res.refined
    assert res.q == pytest.approx(best, abs=1e-3)
    assert res.value == pytest.approx(discount * p * best * (1 - p * best) ** 3, rel=1e-6)
    assert res.value >= res.grid_values.max()
    assert res.grid_values[np.argmax(res.grid_values)] == pytest.approx(
        evaluate_local_policy(env, aloha_tables(env, float(res.grid[np.argmax(res.grid_values)])),
                              gamma=GAMMA, horizon=HORIZON).value, rel=1e-12)
    no_refine = best_aloha(env, gamma=GAMMA, horizon=HORIZON, refine=False)
    assert not no_refine.refined and no_refine.q in (0.6, 0.65)


# ------------------------------------------------------------------ Monte Carlo cross-checks
@pytest.mark.parametrize("policy_name", ["uniform", "aloha"])
def test_exact_policy_values_agree_with_monte_carlo(two_ap_env, policy_name):
    tables = uniform_tables(two_ap_env) if policy_name == "uniform" else aloha_tables(two_ap_env, 0.5)
    exact = evaluate_local_policy(two_ap_env, tables, gamma=GAMMA, horizon=HORIZON).value
    mc = discounted_return(two_ap_env, LocalTablePolicy(two_ap_env, tables), gamma=GAMMA, horizon=HORIZON,
                           episodes=20000, rng=5)
    assert abs(mc.mean - exact) < 4 * mc.std_err
    # the project's own samplers of the same policies
    sampler = UniformPolicy(two_ap_env.action_counts) if policy_name == "uniform" else AlohaPolicy(two_ap_env, 0.5)
    mc_own = discounted_return(two_ap_env, sampler, gamma=GAMMA, horizon=HORIZON, episodes=20000, rng=6)
    assert abs(mc_own.mean - exact) < 4 * mc_own.std_err


def test_local_table_policy_samples_the_tables(small_env):
    tables = aloha_tables(small_env, 0.3)
    states = np.tile(np.array([[1, 1, 0, 1, 0, 0, 1, 0]], dtype=np.int8), (40000, 1))
    actions = LocalTablePolicy(small_env, tables)(states, np.random.default_rng(2))
    for i, code in enumerate([3, 2, 0, 1]):
        freq = np.bincount(actions[:, i], minlength=3) / len(actions)
        np.testing.assert_allclose(freq, tables[i][code], atol=0.01)


# ------------------------------------------------------------------ the optimum bounds localized policies
@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 3, 1)])
def test_optimum_dominates_localized_policies(shape):
    h, w, d = shape
    env = WirelessAccessEnv(h, w, users_per_vertex=1, deadline=d, arrival=0.5, transmit="random")
    mdp = JointWirelessMDP(env)
    opt = optimal_value(mdp, gamma=GAMMA, horizon=HORIZON)
    rng = np.random.default_rng(8)
    candidates = [uniform_tables(env)] + [aloha_tables(env, q) for q in np.linspace(0, 1, 11)]
    for _ in range(10):
        candidates.append([rng.dirichlet(np.full(c, 0.3), size=2 ** d) for c in env.action_counts])
        candidates.append([np.eye(c)[rng.integers(c, size=2 ** d)] for c in env.action_counts])
    values = []
    for tables in candidates:
        ev = evaluate_local_policy(mdp, tables, gamma=GAMMA, horizon=HORIZON)
        assert np.all(ev.values <= opt.values + 1e-12)
        values.append(ev.value)
    assert opt.value > max(values) > 0


# ------------------------------------------------------------------ input errors
def test_too_large_instance_is_refused_with_sizes():
    env = WirelessAccessEnv(2, 4, users_per_vertex=1, deadline=2)
    with pytest.raises(ValueError, match=r"65536 joint states .* 50625 joint actions"):
        JointWirelessMDP(env)
    with pytest.raises(ValueError, match="max_state_actions=100"):
        JointWirelessMDP(WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1), max_state_actions=100)
    # the reference instance (24 users): joint action count beyond int64, still refused cleanly
    with pytest.raises(ValueError, match="too large"):
        JointWirelessMDP(WirelessAccessEnv(3, 4, users_per_vertex=2, deadline=2))
    assert MAX_JOINT_STATE_ACTIONS >= 4096 * 2025


def test_bad_inputs_raise(small_env):
    with pytest.raises(TypeError, match="WirelessAccessEnv"):
        JointWirelessMDP("env")
    good = uniform_tables(small_env)
    with pytest.raises(ValueError, match="one table per agent"):
        evaluate_local_policy(small_env, good[:3], gamma=0.7, horizon=2)
    with pytest.raises(ValueError, match=r"tables\[1\] must have shape \(4, 3\)"):
        evaluate_local_policy(small_env, [good[0], good[1][:, :2], good[2], good[3]], gamma=0.7, horizon=2)
    with pytest.raises(ValueError, match="sum to 1"):
        evaluate_local_policy(small_env, [2 * t for t in good], gamma=0.7, horizon=2)
    with pytest.raises(ValueError, match="non-negative"):
        LocalTablePolicy(small_env, [t - 1 for t in good])
    with pytest.raises(ValueError, match="gamma"):
        optimal_value(small_env, gamma=1.5, horizon=2)
    with pytest.raises(ValueError, match="horizon"):
        optimal_value(small_env, gamma=0.5, horizon=0)
    with pytest.raises(ValueError, match="q must lie"):
        aloha_tables(small_env, -0.1)
    mdp = JointWirelessMDP(small_env)
    with pytest.raises(ValueError, match="joint state index"):
        mdp.next_state_distribution(mdp.n_states, 0)
    with pytest.raises(ValueError, match="joint action index"):
        mdp.expected_reward(0, -1)
    with pytest.raises(ValueError, match="max_state_actions"):
        JointWirelessMDP(small_env, max_state_actions=0)
    with pytest.raises(ValueError, match="grid"):
        best_aloha(small_env, gamma=0.5, horizon=1, grid=[0.2, 1.2])
