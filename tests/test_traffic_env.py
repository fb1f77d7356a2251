"""Tests of the batched traffic grid against facts computed independently of its tables.

The dynamics are checked against a slow per-intersection loop written from the model's
description (compass geometry, not the environment's destination table); the ground-truth
graph against interventions: change one input, step both copies with the same uniforms,
see which outputs move.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rl.envs import make_parallel_env
from rl.envs.traffic import TrafficGridEnv
from rl.policies.base import UniformPolicy

pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test  # noqa: E402

# travel direction of each turn, for a vehicle travelling `heading` (0 N, 1 E, 2 S, 3 W)
MOVE = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}


def reference_step(env: TrafficGridEnv, states, actions, dis_u, turn_u, arr_u, lam):
    """Per-copy, per-intersection loop of the model, fed the step's three uniform arrays."""
    batch, n, dims, cap = states.shape[0], env.n_agents, 5 if env.has_phase else 4, env.bins - 1
    s_t, l_t, _ = env.turning
    out_states = np.zeros_like(states)
    rewards = np.zeros((batch, n))
    for b in range(batch):
        q = states[b].reshape(n, dims)[:, :4].astype(int)
        new = q.copy()
        for i in range(n):
            r, c = divmod(i, env.cols)
            for d in range(4):
                green = (d in (0, 2)) == (actions[b, i] == 0)
                if not (green and q[i, d] > 0 and dis_u[b, i, d] < env.saturation):
                    continue
                heading = (d + 2) % 4
                u = turn_u[b, i, d]
                go = heading if u < s_t else (heading + 3) % 4 if u < s_t + l_t else (heading + 1) % 4
                rr, cc = r + MOVE[go][0], c + MOVE[go][1]
                if 0 <= rr < env.rows and 0 <= cc < env.cols:
                    k, side = rr * env.cols + cc, (go + 2) % 4
                    if q[k, side] == cap:
                        continue                      # spill-back
                    new[k, side] += 1
                new[i, d] -= 1
            for d in range(4):
                rr, cc = r + MOVE[d][0], c + MOVE[d][1]
                outside = not (0 <= rr < env.rows and 0 <= cc < env.cols)
                if outside and arr_u[b, i, d] < lam[b, i]:
                    new[i, d] += 1
            rewards[b, i] = -q[i].sum() / (4 * cap)
            if env.has_phase:
                rewards[b, i] -= env.switching_cost * (actions[b, i] != states[b].reshape(n, dims)[i, 4])
        new = np.clip(new, 0, cap)
        o = out_states[b].reshape(n, dims)
        o[:, :4] = new
        if env.has_phase:
            o[:, 4] = actions[b]
    return out_states, rewards


@pytest.mark.parametrize("kwargs", [dict(rows=2, cols=3, bins=3),
                                    dict(rows=3, cols=3, bins=2, switching_cost=0.0, turning=(1.0, 0.0, 0.0)),
                                    dict(rows=1, cols=4, bins=4, saturation=0.5, turning=(0.2, 0.5, 0.3))])
def test_step_matches_per_intersection_loop(kwargs):
    env = TrafficGridEnv(**kwargs, arrival=np.linspace(0.1, 0.9, kwargs["rows"] * kwargs["cols"]))
    rng = np.random.default_rng(3)
    states = env.reset(64, rng)
    for _ in range(4):
        actions = rng.integers(0, 2, (64, env.n_agents))
        seed = int(rng.integers(2**31))
        nxt, rew = env.step(states, actions, np.random.default_rng(seed))
        g = np.random.default_rng(seed)
        shape = (64, env.n_agents, 4)
        dis_u, turn_u, arr_u = g.random(shape), g.random(shape), g.random(shape)
        lam = np.broadcast_to(env.domain_factor, (64, env.n_agents))
        ref_s, ref_r = reference_step(env, states, actions, dis_u, turn_u, arr_u, lam)
        np.testing.assert_array_equal(nxt, ref_s)
        np.testing.assert_allclose(rew, ref_r, rtol=0, atol=1e-12)
        states = nxt


def _intervention_graph(env: TrafficGridEnv, samples: int, seed: int) -> dict[str, set[str]]:
    """Parents found by changing one input at a time with shared uniforms."""
    rng = np.random.default_rng(seed)
    spec, n = env.spec, env.n_agents
    states = env.reset(samples, rng)
    actions = rng.integers(0, 2, (samples, n))
    lam = rng.uniform(0.2, 0.8, (samples, n))
    base_s, base_r = env.step(states, actions, np.random.default_rng(seed + 1), domain_factor=lam)
    outputs = list(spec.state_names) + list(spec.reward_names)
    found: dict[str, set[str]] = {name: set() for name in outputs}

    def record(label, s2, a2, lam2):
        ns, nr = env.step(s2, a2, np.random.default_rng(seed + 1), domain_factor=lam2)
        moved = np.concatenate([(ns != base_s).any(axis=0), (nr != base_r).any(axis=0)])
        for name, m in zip(outputs, moved):
            if m:
                found[name].add(label)

    cards = np.asarray(spec.state_cardinality)
    for j, name in enumerate(spec.state_names):
        s2 = states.copy()
        s2[:, j] = (s2[:, j] + rng.integers(1, cards[j], samples)) % cards[j]
        record(name, s2, actions, lam)
    for i, name in enumerate(spec.action_names):
        a2 = actions.copy()
        a2[:, i] = 1 - a2[:, i]
        record(name, states, a2, lam)
    record(spec.domain_name, states, actions, np.where(lam < 0.5, lam + 0.3, lam - 0.3))
    return found


@pytest.mark.parametrize("kwargs", [dict(rows=3, cols=3), dict(rows=2, cols=3, bins=2, switching_cost=0.05, turning=(0.6, 0.2, 0.2)),
                                    dict(rows=2, cols=2, turning=(0.5, 0.5, 0.0))])
def test_true_graph_equals_intervention_oracle(kwargs):
    env = TrafficGridEnv(**kwargs)
    found = _intervention_graph(env, 5_000, seed=11)
    truth = env.true_graph()
    for target, parents in found.items():
        assert parents == set(truth.parents[target]), target


def test_true_graph_shape_of_an_interior_intersection():
    env = TrafficGridEnv(3, 3, switching_cost=0.0, turning=(0.6, 0.2, 0.2))
    g = env.true_graph()
    # north approach of the centre (4): upstream is intersection 1 (north); vehicles leave
    # straight to 7's N approach, left (east) to 5's W approach, right (west) to 3's E approach
    assert set(g.parents["s4_0"]) == {"s4_0", "a4", "s7_0", "s5_3", "s3_1", "a1", "s1_0", "s1_1", "s1_3"}
    assert env.domain_affected == [f"s{i}_{d}" for i in range(9) for d in range(4) if env.boundary[i, d]]
    assert "domain" not in {p for i in range(9) for d in range(4) if not env.boundary[i, d]
                            for p in g.parents[f"s{i}_{d}"]}
    assert set(g.parents["r4"]) == {"s4_0", "s4_1", "s4_2", "s4_3"}
    # the default bans left turns (two-phase signals without a protected left phase): the
    # north approach is fed by 1's N (straight) and W (right turn) queues only, and 1's E
    # queue reaches none of the centre's queues
    default = TrafficGridEnv(3, 3).true_graph()
    assert set(default.parents["s4_0"]) == {"s4_0", "a4", "s7_0", "s3_1", "a1", "s1_0", "s1_3"}
    assert not any("s1_1" in default.parents[f"s4_{d}"] for d in range(4))


def test_determinism_and_bounds():
    env = TrafficGridEnv(3, 4, bins=4, switching_cost=0.1)
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(5)
        s = env.reset(200, rng)
        traj = [s]
        rewards = []
        for _ in range(15):
            s, r = env.step(s, UniformPolicy(env.action_counts)(s, rng), rng)
            traj.append(s)
            rewards.append(r)
        runs.append((np.stack(traj), np.stack(rewards)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    traj, rewards = runs[0]
    q = traj.reshape(16, 200, 12, 5)
    assert q[..., :4].min() == 0 and q[..., :4].max() == 3
    assert set(np.unique(q[..., 4])) == {0, 1}
    assert rewards.min() >= -1.1 - 1e-12 and rewards.max() <= 0.0


def test_arrival_rate_raises_congestion():
    env = TrafficGridEnv(2, 2, switching_cost=0.05)
    means = []
    for lam in (0.1, 0.5, 0.9):
        rng = np.random.default_rng(0)
        s = env.reset(2000, rng, domain_factor=np.full(4, lam))
        for _ in range(20):
            s, _ = env.step(s, UniformPolicy(env.action_counts)(s, rng), rng, domain_factor=np.full(4, lam))
        means.append(s.reshape(2000, 4, 5)[..., :4].mean())
    assert means[0] < means[1] < means[2]


@pytest.mark.parametrize("kwargs, match", [
    (dict(arrival=1.2), "arrival must lie in \\[0, 1\\], got 1.2"),
    (dict(arrival=-0.1), "arrival must lie in \\[0, 1\\]"),
    (dict(saturation=1.5), "saturation must lie in \\[0, 1\\]"),
    (dict(saturation=0.0), "saturation must be one number in \\(0, 1\\]"),
    (dict(rows=0), "rows must be an integer >= 1"),
    (dict(cols=0), "cols must be an integer >= 1"),
    (dict(turning=(0.5, 0.2, 0.2)), "must sum to one"),
    (dict(turning=(0.5, 0.5)), "three probabilities"),
    (dict(bins=1), "bins must be an integer >= 2"),
    (dict(switching_cost=-1.0), "switching_cost must be a finite number >= 0"),
])
def test_bad_parameters_give_one_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrafficGridEnv(**kwargs)


def test_bad_step_inputs():
    env = TrafficGridEnv(2, 2)
    s = env.reset(3, np.random.default_rng(0))
    bad = s.copy()
    bad[0, 0] = 7
    with pytest.raises(ValueError, match="queue levels must lie in 0..2, got 7"):
        env.step(bad, np.zeros((3, 4), dtype=int), np.random.default_rng(0))
    with pytest.raises(ValueError, match="domain_factor \\(arrival rates\\) must lie in \\[0, 1\\]"):
        env.step(s, np.zeros((3, 4), dtype=int), np.random.default_rng(0), domain_factor=np.full(4, 2.0))
    with pytest.raises(ValueError, match="action out of range"):
        env.step(s, np.full((3, 4), 2), np.random.default_rng(0))


def test_pettingzoo_adapter_passes_parallel_api_test():
    env = TrafficGridEnv(2, 3, switching_cost=0.02)
    par = make_parallel_env(env, max_steps=12, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(par, num_cycles=30)
    obs, _ = par.reset(seed=1)
    assert obs["agent_0"].shape == (5,)
    assert par.observation_space("agent_0").nvec.tolist() == [3, 3, 3, 3, 2]
