"""ALOHA heuristic and Monte Carlo evaluation against the reference figures and exact values."""

from __future__ import annotations

import numpy as np
import pytest

from rl.envs import WirelessAccessEnv
from rl.evaluation import average_reward, discounted_return, evaluate_policy, summarize
from rl.policies import AlohaPolicy, UniformPolicy, aloha_ap_probabilities, aloha_grid_search

# Reference figures of the wireless benchmark (gsac.md section 7; reference code's log).
REFERENCE_UNIFORM = 0.0201
REFERENCE_ALOHA_PEAK = 0.18


@pytest.fixture(scope="module")
def env() -> WirelessAccessEnv:
    """The reference configuration: H=3, W=4, 2 users per vertex, d=2, p=0.5, random q_k."""
    return WirelessAccessEnv(3, 4, users_per_vertex=2, deadline=2, arrival=0.5, transmit="random")


# ------------------------------------------------------------- reference numbers
def test_uniform_policy_matches_reference_figure(env):
    res = discounted_return(env, UniformPolicy(env.action_counts), gamma=0.7, horizon=10,
                            episodes=16000, rng=0)
    assert abs(res.mean - REFERENCE_UNIFORM) < 0.001, (
        f"uniform policy: project {res.mean:.4f} (95% CI {res.ci95[0]:.4f}..{res.ci95[1]:.4f}), "
        f"reference {REFERENCE_UNIFORM}")


def test_aloha_search_peaks_like_reference(env):
    search = aloha_grid_search(env, gamma=0.7, horizon=10, episodes=3000, rng=1)
    means = dict(zip(search.probabilities, (r.mean for r in search.results)))
    table = ", ".join(f"{q:.2f}: {m:.4f}" for q, m in means.items())
    msg = (f"ALOHA: project peak {search.best.mean:.4f} at q={search.best_q}, reference peak "
           f"~{REFERENCE_ALOHA_PEAK} at q~0.35-0.40; table {table}")
    assert len(search.probabilities) == 20 and search.probabilities[0] == 0.0, msg
    assert 0.165 <= search.best.mean <= 0.195, msg
    assert 0.30 <= search.best_q <= 0.45, msg
    assert means[0.1] < search.best.mean - 0.05 and means[0.9] < search.best.mean - 0.05, msg
    assert means[0.0] == 0.0, msg


@pytest.mark.slow
def test_aloha_search_curve_fine(env):
    qs = np.round(np.arange(0.0, 0.96, 0.05), 2)
    search = aloha_grid_search(env, gamma=0.7, horizon=10, episodes=40000, probabilities=qs, rng=2)
    means = np.array([r.mean for r in search.results])
    half = np.array([r.ci95[1] - r.mean for r in search.results])
    msg = (f"ALOHA: project peak {means.max():.4f} at q={search.best_q}, reference ~{REFERENCE_ALOHA_PEAK} "
           f"at q~0.35-0.40; means {np.round(means, 4).tolist()}")
    assert 0.172 <= means.max() <= 0.19, msg
    assert 0.30 <= search.best_q <= 0.45, msg
    assert np.all(half < 0.0015), msg
    # unimodal: increasing up to q=0.3, decreasing from q=0.45
    assert np.all(np.diff(means[qs <= 0.30]) > 0), msg
    assert np.all(np.diff(means[qs >= 0.45]) < 0), msg


@pytest.mark.slow
def test_uniform_policy_reference_figure_tight(env):
    res = discounted_return(env, UniformPolicy(env.action_counts), gamma=0.7, horizon=10,
                            episodes=200000, rng=3)
    assert abs(res.mean - REFERENCE_UNIFORM) < 0.0005, (
        f"uniform policy: project {res.mean:.5f} (95% CI {res.ci95[0]:.5f}..{res.ci95[1]:.5f}), "
        f"reference {REFERENCE_UNIFORM}")


# ------------------------------------------------------------- ALOHA mechanics
def _aloha_by_hand(env: WirelessAccessEnv, q: float, states: np.ndarray, send_u: np.ndarray,
                   ap_u: np.ndarray) -> np.ndarray:
    """Agent-by-agent ALOHA from the same uniform draws, through ``encode_action``."""
    probs = aloha_ap_probabilities(env)
    actions = np.zeros((states.shape[0], env.n_agents), dtype=np.int64)
    for b in range(states.shape[0]):
        for i in range(env.n_agents):
            queue = states[b, i * env.deadline:(i + 1) * env.deadline]
            full = np.flatnonzero(queue)
            if send_u[b, i] >= q or full.size == 0:
                continue
            aps = env.aps_of_user[i]
            cum = np.cumsum(probs[i, :len(aps)])
            k = min(int(np.searchsorted(cum, ap_u[b, i], side="right")), len(aps) - 1)
            actions[b, i] = env.encode_action(i, int(full[0]), int(aps[k]))
    return actions


def test_aloha_policy_matches_agent_by_agent_rule():
    env = WirelessAccessEnv(3, 4, users_per_vertex=2, deadline=3, arrival=0.6)
    rng = np.random.default_rng(5)
    states = (rng.random((50, env.spec.n_state)) < 0.4).astype(np.int8)
    draws = np.random.default_rng(6)
    send_u, ap_u = draws.random((50, env.n_agents)), draws.random((50, env.n_agents))
    got = AlohaPolicy(env, 0.55)(states, np.random.default_rng(6))
    np.testing.assert_array_equal(got, _aloha_by_hand(env, 0.55, states, send_u, ap_u))
    assert np.any(got > 0) and np.any(got == 0)


def test_aloha_ap_probabilities_follow_success_over_load():
    env = WirelessAccessEnv(3, 4, users_per_vertex=2)
    probs = aloha_ap_probabilities(env)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # user 2 (vertex 1, top edge) reaches APs 0 and 1, each serving 8 users
    np.testing.assert_allclose(probs[2, :2], env.transmit[[0, 1]] / env.transmit[[0, 1]].sum())
    # empirical AP choice of a user that always sends its packet
    pol = AlohaPolicy(env, 1.0)
    states = np.ones((20000, env.spec.n_state), dtype=np.int8)
    actions = pol(states, np.random.default_rng(0))
    user = 10  # an interior user with 4 APs
    m = len(env.aps_of_user[user])
    freq = np.bincount(actions[:, user] - 1, minlength=m) / actions.shape[0]
    np.testing.assert_allclose(freq, probs[user, :m], atol=0.015)


def test_aloha_idles_without_packets_or_with_q_zero(env):
    empty = np.zeros((10, env.spec.n_state), dtype=np.int8)
    assert not AlohaPolicy(env, 1.0)(empty, np.random.default_rng(0)).any()
    full = np.ones((10, env.spec.n_state), dtype=np.int8)
    assert not AlohaPolicy(env, 0.0)(full, np.random.default_rng(0)).any()


def test_aloha_rejects_bad_inputs(env):
    with pytest.raises(ValueError, match="transmit_probability"):
        AlohaPolicy(env, 1.2)
    with pytest.raises(TypeError, match="WirelessAccessEnv"):
        AlohaPolicy(object(), 0.3)
    with pytest.raises(ValueError, match="probabilities"):
        aloha_grid_search(env, gamma=0.7, horizon=10, episodes=10, probabilities=[0.2, 1.5])


# ------------------------------------------------------------- evaluation
def test_exact_values_single_sender():
    """One user alone on one AP with q_k = 1 sends every packet: both metrics are known in closed form."""
    env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=0.5, transmit="allone")
    policy = AlohaPolicy(env, np.array([1.0, 0.0, 0.0, 0.0]))
    disc = discounted_return(env, policy, gamma=0.7, horizon=10, episodes=20000, rng=0)
    exact_user0 = 0.5 * (1 - 0.7 ** 10) / (1 - 0.7)
    np.testing.assert_allclose(disc.per_agent[1:], 0.0)
    assert abs(disc.per_agent[0] - exact_user0) < 4 * disc.per_agent_std_err[0]
    assert disc.ci95[0] < exact_user0 / 4 < disc.ci95[1]
    avg = average_reward(env, policy, episodes=2000, steps=50, burn_in=5, rng=1)
    assert avg.ci95[0] < 0.5 / 4 < avg.ci95[1]
    np.testing.assert_allclose(avg.per_agent.mean(), avg.mean)


def test_ci_contains_mean_and_shrinks(env):
    policy = AlohaPolicy(env, 0.35)
    small = discounted_return(env, policy, gamma=0.7, horizon=10, episodes=500, rng=0)
    large = discounted_return(env, policy, gamma=0.7, horizon=10, episodes=8000, rng=1)
    for res in (small, large):
        assert res.ci95[0] < res.mean < res.ci95[1]
        np.testing.assert_allclose(res.per_agent.mean(), res.mean)
        np.testing.assert_allclose(res.per_episode.mean(), res.mean)
    ratio = (small.ci95[1] - small.ci95[0]) / (large.ci95[1] - large.ci95[0])
    assert 3.0 < ratio < 5.3  # sqrt(16) = 4
    assert large.ci95[0] < small.mean + 4 * small.std_err


def test_evaluation_is_deterministic_and_batched(env):
    policy = UniformPolicy(env.action_counts)
    a = evaluate_policy(env, policy, gamma=0.7, horizon=10, episodes=300, steps=20, rng=7)
    b = evaluate_policy(env, policy, gamma=0.7, horizon=10, episodes=300, steps=20,
                        rng=np.random.default_rng(7))
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.discounted_return.per_episode, b.discounted_return.per_episode)
    chunked = discounted_return(env, policy, gamma=0.7, horizon=10, episodes=301, batch_size=100, rng=7)
    assert chunked.episodes == 301 and chunked.per_episode.shape == (301,)
    d = a.to_dict()["discounted_return"]
    assert set(d) == {"mean", "ci95", "std_err", "episodes"} and d["episodes"] == 300


def test_domain_factor_per_episode(env):
    policy = AlohaPolicy(env, 0.4)
    w = np.zeros((400, env.n_agents))
    w[200:] = 0.5
    res = discounted_return(env, policy, gamma=0.7, horizon=10, episodes=400, rng=0,
                            batch_size=150, domain_factor=w)
    assert np.all(res.per_episode[:200] == 0.0) and res.per_episode[200:].mean() > 0.1


def test_summarize_matches_student_t():
    values = np.array([[0.0, 2.0], [1.0, 1.0], [4.0, 2.0], [3.0, 3.0]])
    res = summarize(values)
    per_episode = values.mean(axis=1)
    se = per_episode.std(ddof=1) / 2
    np.testing.assert_allclose(res.std_err, se)
    np.testing.assert_allclose(res.ci95, (per_episode.mean() - 3.182446305 * se,
                                          per_episode.mean() + 3.182446305 * se), rtol=1e-8)


@pytest.mark.parametrize("kwargs, match", [
    (dict(gamma=1.5), "gamma"), (dict(episodes=1), "episodes"), (dict(horizon=0), "horizon"),
    (dict(batch_size=0), "batch_size"),
])
def test_evaluation_rejects_bad_inputs(env, kwargs, match):
    args = dict(gamma=0.7, horizon=10, episodes=10) | kwargs
    with pytest.raises(ValueError, match=match):
        discounted_return(env, UniformPolicy(env.action_counts), rng=0, **args)
