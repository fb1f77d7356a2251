"""SyntheticContinuousEnv: exact masks, mechanisms, domain shifts, batching and seeding."""

import numpy as np
import pytest

from rl.envs.synthetic_continuous import SHIFT_KINDS, SyntheticContinuousEnv
from rl.rollout import collect_transitions


def test_same_seed_same_environment_and_trajectory():
    a = SyntheticContinuousEnv.random(12, rng=4, mechanism="mixed")
    b = SyntheticContinuousEnv.random(12, rng=4, mechanism="mixed")
    assert a.true_graph() == b.true_graph()
    ta = collect_transitions(a, None, episodes=5, horizon=4, domain_factors=[0.2, 0.8], rng=9)
    tb = collect_transitions(b, None, episodes=5, horizon=4, domain_factors=[0.2, 0.8], rng=9)
    np.testing.assert_array_equal(ta.next_states, tb.next_states)
    np.testing.assert_array_equal(ta.rewards, tb.rewards)
    assert SyntheticContinuousEnv.from_config(a.config()).true_graph() == a.true_graph()


def test_masks_are_local_and_every_shift_kind_occurs():
    env = SyntheticContinuousEnv.random(40, rng=1)
    spec, g = env.spec, env.true_graph()
    assert all(c is None for c in spec.state_cardinality)
    for t, pas in g.parents.items():
        owner = spec.owner(t)
        assert all(spec.owner(p) in env.neighborhood(owner) for p in pas if p != "domain")
        if spec.kind(t) == "state":
            assert t in pas                                  # autoregressive first parent
    kinds = env.shift_kinds()
    assert set(kinds.values()) == set(SHIFT_KINDS)
    assert sorted(kinds) == sorted(g.domain_affected)


def test_step_moments_match_the_exact_mechanism():
    env = SyntheticContinuousEnv.random(6, rng=2, mechanism="nonlinear")
    rng = np.random.default_rng(0)
    s = np.repeat(rng.normal(size=(1, 6)), 40_000, axis=0)
    a = np.repeat(rng.integers(0, 2, (1, 6)), 40_000, axis=0)
    mean, scale = env.mean_and_scale(s, a, domain_factor=0.2)
    nxt, r = env.step(s, a, np.random.default_rng(1), domain_factor=0.2)
    values = np.concatenate([nxt, r], axis=1)
    assert np.all(np.abs(values.mean(axis=0) - mean[0]) < 5 * scale[0] / 200)
    np.testing.assert_allclose(values.std(axis=0), scale[0], rtol=0.03)
    # the mechanism() description gives the same mean
    for t, name in enumerate(list(env.spec.state_names) + list(env.spec.reward_names)):
        mech = env.mechanism(name, 0.2)
        funcs = {"identity": lambda x: x, "tanh": np.tanh, "sin": np.sin, "bump": lambda x: 1 - 2 / (1 + x * x)}
        value = mech["intercept"] + sum(c * funcs[f](s[0, env.spec.index(p)]) for p, f, c in
                                        zip(mech["state_parents"], mech["functions"], mech["coefficients"]))
        value += sum(tab[a[0, env.spec.index(q)]] for q, tab in zip(mech["action_parents"], mech["action_effects"]))
        assert value == pytest.approx(mean[0, t], abs=1e-12)


def test_shift_kinds_change_the_documented_parameter_only():
    env = SyntheticContinuousEnv.random(40, rng=1)
    for target, kind in env.shift_kinds().items():
        lo, mid, hi = (env.mechanism(target, w) for w in (0.2, 0.5, 0.8))
        if kind == "mean-bump":   # non-monotone: equal at 0.2 and 0.8, different at 0.5
            assert lo["intercept"] == pytest.approx(hi["intercept"])
            assert abs(mid["intercept"] - lo["intercept"]) > 1.0
        if kind == "variance":    # variance only
            assert lo["intercept"] == mid["intercept"] == hi["intercept"]
            np.testing.assert_array_equal(lo["coefficients"], hi["coefficients"])
            assert hi["noise_scale"] / lo["noise_scale"] == pytest.approx(np.exp(0.7 * 1.2))
        if kind == "slope":
            assert hi["coefficients"][0] - lo["coefficients"][0] == pytest.approx(np.sign(
                hi["coefficients"][0] - lo["coefficients"][0]) * 0.36)
            assert lo["intercept"] == hi["intercept"] and lo["noise_scale"] == hi["noise_scale"]
        if kind == "mean":
            assert abs(hi["intercept"] - lo["intercept"]) == pytest.approx(1.2)


def test_linear_data_regression_recovers_coefficients():
    env = SyntheticContinuousEnv.random(8, rng=3, action_parent_prob=0.0, cross_agent_prob=0.0)
    tr = collect_transitions(env, None, episodes=4000, horizon=5, domain_factors=[0.5], rng=0)
    for name in env.spec.state_names:
        mech = env.mechanism(name, 0.5)
        x = np.column_stack([np.ones(len(tr))] + [tr.column(p) for p in mech["state_parents"]])
        coef = np.linalg.lstsq(x, tr.column(name, next_step=True), rcond=None)[0]
        np.testing.assert_allclose(coef[1:], mech["coefficients"], atol=0.03)


def test_stationary_in_every_domain():
    env = SyntheticContinuousEnv.random(16, rng=5, slope_shift=0.5)
    tr = collect_transitions(env, None, episodes=200, horizon=60, domain_factors=[0.0, 1.0], rng=0)
    late = tr.time >= 50
    assert np.abs(tr.states[late]).max() < 25


@pytest.mark.parametrize("kwargs, match", [
    ({"mechanism": "cubic"}, "mechanism"), ({"shift_kinds": ["mean", "scale"]}, "shift_kinds"),
    ({"domain_factor": 1.5}, "domain_factor"), ({"coef_range": (0.5, 0.1)}, "coef_range"),
    ({"slope_shift": 0.95}, "slope_shift"), ({"noise_scale": 0}, "noise_scale"),
])
def test_bad_parameters_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticContinuousEnv(n_agents=3, rng=0, **kwargs)


def test_bad_step_inputs():
    env = SyntheticContinuousEnv(n_agents=3, rng=0)
    s = env.reset(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step(np.full_like(s, np.nan), np.zeros((2, 3), int), np.random.default_rng(0))
    with pytest.raises(ValueError, match="action out of range"):
        env.step(s, np.full((2, 3), 5), np.random.default_rng(0))
