"""Tests of the traffic baselines: fixed-time cycling and max-pressure (Varaiya 2013)."""

from __future__ import annotations

import numpy as np
import pytest

from rl.envs.traffic import TrafficGridEnv
from rl.evaluation import discounted_return
from rl.policies import UniformPolicy
from rl.policies.traffic import FixedTimePolicy, MaxPressurePolicy, phase_pressures


def pressures_by_hand(env: TrafficGridEnv, state: np.ndarray) -> np.ndarray:
    """Pressure from compass geometry: upstream queue minus turning-weighted downstream queues."""
    n = env.n_agents
    q = state.reshape(n, -1)[:, :4]
    move = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}
    out = np.zeros((n, 2))
    for i in range(n):
        r, c = divmod(i, env.cols)
        for d in range(4):
            heading = (d + 2) % 4
            down = 0.0
            for prob, go in zip(env.turning, (heading, (heading + 3) % 4, (heading + 1) % 4)):
                rr, cc = r + move[go][0], c + move[go][1]
                if 0 <= rr < env.rows and 0 <= cc < env.cols:
                    down += prob * q[rr * env.cols + cc, (go + 2) % 4]
            out[i, d % 2] += q[i, d] - down
    return out


def test_pressures_match_geometry():
    env = TrafficGridEnv(3, 4, bins=4, turning=(0.5, 0.3, 0.2))
    states = env.reset(20, np.random.default_rng(0))
    got = phase_pressures(env, states)
    for b in range(20):
        np.testing.assert_allclose(got[b], pressures_by_hand(env, states[b]), atol=1e-12)


def test_max_pressure_serves_the_larger_pressure_and_breaks_ties_evenly():
    env = TrafficGridEnv(2, 2, switching_cost=0.0)
    states = env.reset(500, np.random.default_rng(1))
    p = phase_pressures(env, states)
    actions = MaxPressurePolicy(env)(states, np.random.default_rng(2))
    clear = np.abs(p[:, :, 1] - p[:, :, 0]) > 1e-12
    np.testing.assert_array_equal(actions[clear], (p[:, :, 1] > p[:, :, 0])[clear].astype(int))
    ties = np.zeros((4000, 16), dtype=np.int8)
    share = MaxPressurePolicy(env)(ties, np.random.default_rng(3)).mean()
    assert 0.48 < share < 0.52


def test_fixed_time_cycle_and_offsets():
    env = TrafficGridEnv(2, 3)
    s = env.reset(2, np.random.default_rng(0))
    pol = FixedTimePolicy(env, green=2, offset=[0, 1, 2, 3, 0, 1], period=6)
    seen = np.stack([pol(s, None)[0] for _ in range(7)])
    expected = np.array([[((t + o) // 2) % 2 for o in (0, 1, 2, 3, 0, 1)] for t in (0, 1, 2, 3, 4, 5, 0)])
    np.testing.assert_array_equal(seen, expected)
    wave = FixedTimePolicy(env, green=1, offset="wave")
    np.testing.assert_array_equal(wave.offsets, [0, 1, 2, 1, 2, 3])
    with pytest.raises(ValueError, match="green must be an integer >= 1"):
        FixedTimePolicy(env, green=0)
    with pytest.raises(ValueError, match="offset must be an integer, an array of 6 integers or 'wave'"):
        FixedTimePolicy(env, offset="diagonal")
    with pytest.raises(TypeError, match="env must be a TrafficGridEnv"):
        MaxPressurePolicy(object())


def test_max_pressure_beats_fixed_time_beats_uniform():
    env = TrafficGridEnv(3, 3, arrival=0.25)
    res = {name: discounted_return(env, pol, gamma=0.7, horizon=10, episodes=2000, rng=7)
           for name, pol in [("uniform", UniformPolicy(env.action_counts)),
                             ("fixed", FixedTimePolicy(env, green=2)), ("mp", MaxPressurePolicy(env))]}
    assert res["mp"].ci95[0] > res["fixed"].ci95[1]
    assert res["fixed"].mean > res["uniform"].mean
