"""Tests of rl.adaptation: zero-shot deployment, adaptation curves and curve summaries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from causalnet.domain_factors import DomainFactorEstimator
from rl.adaptation import (AdaptationCurves, adaptation_curves, deploy_zero_shot, estimate_target_factor, mean_ci,
                           summarize_training, zero_shot)
from rl.algorithms import make_trainer
from rl.envs import WirelessAccessEnv
from rl.evaluation import discounted_return
from rl.gsac import GSACConfig, train_gsac
from rl.policies import UniformPolicy
from rl.rollout import collect_transitions

SOURCES = [0.2, 0.5, 0.8]
TARGET = 0.65


@pytest.fixture(scope="module")
def env():
    return WirelessAccessEnv(2, 3, users_per_vertex=1)


@pytest.fixture(scope="module")
def estimator(env):
    data = collect_transitions(env, None, episodes=20, horizon=10, domain_factors=SOURCES, rng=0)  # T_e = 20
    return DomainFactorEstimator(env.true_graph()).fit(data)


@pytest.fixture(scope="module")
def gsac(env, estimator):
    trainer = make_trainer("gsac", env, env.true_graph(), source_factors=SOURCES, source_w_hat=estimator.w_hat_,
                           rng=10, n_runs=2)
    trainer.iterate(1500)
    return trainer


# ------------------------------------------------------------------ statistics
def test_mean_ci_matches_student_t():
    values = np.array([[0.1, 1.0], [0.3, 1.0], [0.2, 1.0], [0.6, 1.0]])
    mean, lo, hi = mean_ci(values)
    half = stats.t.ppf(0.975, 3) * np.std(values[:, 0], ddof=1) / 2.0
    np.testing.assert_allclose(mean, [0.3, 1.0])
    np.testing.assert_allclose(hi - mean, [half, 0.0], atol=1e-15)
    np.testing.assert_allclose(mean - lo, [half, 0.0], atol=1e-15)
    m1, lo1, hi1 = mean_ci(values[:1])
    assert m1.tolist() == [0.1, 1.0] and np.isnan(lo1).all() and np.isnan(hi1).all()
    with pytest.raises(ValueError, match="confidence"):
        mean_ci(values, confidence=1.5)


def test_summarize_training_pools_runs(env):
    cfg = GSACConfig.reference_sac()
    a = train_gsac(env, env.true_graph(), cfg, iterations=20, rng=0, n_runs=2, eval_every=10, eval_episodes=20)
    b = train_gsac(env, env.true_graph(), cfg, iterations=20, rng=1, n_runs=3, eval_every=10, eval_episodes=20)
    summary = summarize_training([a, b])
    assert summary.iterations.tolist() == [0, 10, 20]
    np.testing.assert_array_equal(summary.per_run, np.vstack([a.eval_returns, b.eval_returns]))
    mean, lo, hi = mean_ci(summary.per_run)
    np.testing.assert_array_equal(summary.mean, mean)
    np.testing.assert_array_equal(summary.ci_low, lo)
    assert json.loads(json.dumps(summary.to_dict()))["iterations"] == [0, 10, 20]
    c = train_gsac(env, env.true_graph(), cfg, iterations=20, rng=1, eval_every=5, eval_episodes=20)
    with pytest.raises(ValueError, match="different iterations"):
        summarize_training([a, c])
    with pytest.raises(ValueError, match="no evaluations"):
        summarize_training(train_gsac(env, env.true_graph(), cfg, iterations=2, rng=0))


# ------------------------------------------------------------------ zero shot
def test_estimate_target_factor(env, estimator):
    w, se = estimate_target_factor(estimator, env, TARGET, trajectories=20, rng=3)
    w2, se2 = estimate_target_factor(estimator, env, TARGET, trajectories=20, rng=3)
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(se, se2)
    assert w.shape == se.shape == (6,)
    # 200 arrivals per agent: standard error about sqrt(0.65 * 0.35 / 200) = 0.034
    np.testing.assert_allclose(se, 0.034, atol=0.006)
    assert np.all(np.abs(w - TARGET) < 4 * se)
    assert abs(w.mean() - TARGET) < 0.03
    with pytest.raises(ValueError, match="trajectories must be an integer >= 1"):
        estimate_target_factor(estimator, env, TARGET, trajectories=0)
    with pytest.raises(ValueError, match="fitted"):
        estimate_target_factor(DomainFactorEstimator(env.true_graph()), env, TARGET, trajectories=2)


def test_zero_shot_copies_without_update(gsac):
    policy = gsac.policy(0)
    deployed = zero_shot(policy, [0.6, 0.7, 0.65, 0.62, 0.66, 0.7])
    np.testing.assert_array_equal(deployed.theta, policy.theta)
    assert deployed.w_hat.tolist() == [0.6, 0.7, 0.65, 0.62, 0.66, 0.7]
    np.testing.assert_array_equal(policy.w_hat, gsac.w_hat[0])     # the original is untouched
    deployed.theta[...] = 0.0
    assert np.abs(policy.theta).max() > 0.0
    filled = zero_shot(policy, [np.nan, 0.7, 0.65, 0.62, 0.66, 0.7], fill=0.5)
    assert filled.w_hat[0] == 0.5
    with pytest.raises(ValueError, match=r"no estimate for agent\(s\) \[0\]"):
        zero_shot(policy, [np.nan, 0.7, 0.65, 0.62, 0.66, 0.7])
    with pytest.raises(TypeError, match="LocalizedSoftmaxPolicy"):
        zero_shot(UniformPolicy([2, 2]), 0.5)


def test_zero_shot_gsac_close_to_true_factor(env, estimator, gsac):
    target = env.with_domain_factor(TARGET)
    uniform = discounted_return(target, UniformPolicy(env.action_counts), gamma=0.7, horizon=10,
                                episodes=1000, rng=9).mean
    for run in range(2):
        w_hat, _ = estimate_target_factor(estimator, env, TARGET, trajectories=20, rng=100 + run)
        estimated = discounted_return(target, zero_shot(gsac.policy(run), w_hat), gamma=0.7, horizon=10,
                                      episodes=1000, rng=9)
        true_w = discounted_return(target, zero_shot(gsac.policy(run), TARGET), gamma=0.7, horizon=10,
                                   episodes=1000, rng=9)
        # measured (seeds 10/100-101): |difference| <= 0.0002 with common random numbers, returns 0.36-0.48
        assert estimated.mean == pytest.approx(true_w.mean, abs=0.01)
        assert estimated.mean > uniform + 0.2
    assert uniform == pytest.approx(0.076, abs=0.006)
    # the policy does depend on w_hat: a far-off estimate changes the action probabilities
    states = env.reset(50, np.random.default_rng(0))
    assert not np.allclose(zero_shot(gsac.policy(0), 0.65).probabilities(states),
                           zero_shot(gsac.policy(0), 0.0).probabilities(states))


def test_deploy_zero_shot_per_run_estimates(env, estimator, gsac):
    policies, w_hat = deploy_zero_shot(gsac, estimator, env, TARGET, trajectories=10, rng=4)
    seeds = np.random.SeedSequence(4).spawn(2)
    for run in range(2):
        expected, _ = estimate_target_factor(estimator, env, TARGET, trajectories=10,
                                             rng=np.random.default_rng(seeds[run]))
        np.testing.assert_array_equal(w_hat[run], expected)
        np.testing.assert_array_equal(policies[run].w_hat, expected)
        np.testing.assert_array_equal(policies[run].theta, gsac.theta[run])
    assert not np.array_equal(w_hat[0], w_hat[1])      # independent trajectories per run
    again, w_again = deploy_zero_shot(gsac, estimator, env, TARGET, trajectories=10, rng=4)
    np.testing.assert_array_equal(w_again, w_hat)


# ------------------------------------------------------------------ curves
def _methods(env, estimator, gsac, seed=0):
    graph = env.true_graph()
    mtl = make_trainer("sac-mtl", env, graph, source_factors=SOURCES, source_w_hat=estimator.w_hat_, rng=seed,
                       n_runs=2)
    mtl.iterate(100)
    pre = make_trainer("sac-ft", env, graph, source_factors=SOURCES, rng=seed + 1, n_runs=2)
    pre.iterate(100)
    w_hats = [estimate_target_factor(estimator, env, TARGET, trajectories=10, rng=seed + 2 + r)[0] for r in range(2)]
    return {"gsac": [zero_shot(gsac.policy(r), w_hats[r]) for r in range(2)],
            "sac-mtl": [zero_shot(mtl.policy(r), w_hats[r]) for r in range(2)],
            "sac-ft": make_trainer("sac-ft", env, graph, target_factor=TARGET, initial_policy=pre.policies(),
                                   rng=seed + 3, n_runs=2),
            "sac-lfs": make_trainer("sac-lfs", env, graph, target_factor=TARGET, rng=seed + 4, n_runs=2)}, pre


def test_adaptation_curves_shapes_flatness_and_start(env, estimator, gsac):
    methods, pre = _methods(env, estimator, gsac)
    curves = adaptation_curves(methods, env, TARGET, episodes=6, eval_episodes=100, rng=1, average_steps=20)
    assert isinstance(curves, AdaptationCurves)
    assert curves.episodes.tolist() == list(range(7))
    for name, curve in curves.methods.items():
        assert curve.per_run.shape == (2, 7) and curve.mean.shape == curve.ci_low.shape == (7,)
        assert curve.curve_average.shape == curve.final_average_reward.shape == (2,)
        assert np.all(curve.ci_low <= curve.mean) and np.all(curve.mean <= curve.ci_high)
        assert curve.learning == (name in ("sac-ft", "sac-lfs"))
    # frozen policies: exactly constant curves (common random numbers)
    for name in ("gsac", "sac-mtl"):
        assert np.ptp(curves.methods[name].per_run, axis=1).tolist() == [0.0, 0.0]
    # learning methods: one outer iteration per episode, and their curves move
    assert methods["sac-ft"].iteration == methods["sac-lfs"].iteration == 6
    for name in ("sac-ft", "sac-lfs"):
        assert np.ptp(curves.methods[name].per_run, axis=1).min() > 0.0
    # episode 0 is the policy before adaptation: SAC-FT starts at the pre-trained policy, evaluated
    # with the same random numbers as at the other episodes
    pre_eval = adaptation_curves({"pre": pre.policies()}, env, TARGET, episodes=1, eval_episodes=100, rng=1,
                                 average_steps=20)
    np.testing.assert_array_equal(pre_eval.methods["pre"].per_run[:, 0], curves.methods["sac-ft"].per_run[:, 0])
    # uniform policy before learning: SAC-LFS's episode 0 is the uniform policy's value
    uniform = adaptation_curves({"u": UniformPolicy(env.action_counts)}, env, TARGET, episodes=1, eval_episodes=100,
                                rng=1, n_runs=2, average_steps=20)
    np.testing.assert_allclose(curves.methods["sac-lfs"].per_run[:, 0], uniform.methods["u"].per_run[:, 0],
                               atol=0.03)
    assert curves.methods["gsac"].mean[-1] > curves.methods["sac-lfs"].mean[-1] + 0.1
    data = json.loads(json.dumps(curves.to_dict()))
    assert data["settings"]["n_runs"] == 2 and len(data["methods"]["gsac"]["mean"]) == 7


def test_adaptation_curves_deterministic(env, estimator, gsac):
    first = adaptation_curves(_methods(env, estimator, gsac, seed=5)[0], env, TARGET, episodes=3, eval_episodes=50,
                              rng=2, average_steps=10)
    second = adaptation_curves(_methods(env, estimator, gsac, seed=5)[0], env, TARGET, episodes=3, eval_episodes=50,
                               rng=2, average_steps=10)
    for name in first.methods:
        np.testing.assert_array_equal(first.methods[name].per_run, second.methods[name].per_run)
        np.testing.assert_array_equal(first.methods[name].final_average_reward,
                                      second.methods[name].final_average_reward)
    other = adaptation_curves(_methods(env, estimator, gsac, seed=5)[0], env, TARGET, episodes=3, eval_episodes=50,
                              rng=3, average_steps=10)
    assert not np.array_equal(first.methods["gsac"].per_run, other.methods["gsac"].per_run)


def test_adaptation_curves_input_errors(env, gsac):
    wrong_domain = make_trainer("sac-ft", env, env.true_graph(), source_factors=SOURCES, rng=0, n_runs=2)
    with pytest.raises(ValueError, match="must train in the target domain only"):
        adaptation_curves({"ft": wrong_domain}, env, TARGET, episodes=1, eval_episodes=10)
    lfs3 = make_trainer("sac-lfs", env, env.true_graph(), target_factor=TARGET, rng=0, n_runs=3)
    with pytest.raises(ValueError, match=r"methods \['gsac'\] have \[2\] runs, expected 3"):
        adaptation_curves({"lfs": lfs3, "gsac": gsac.policies()}, env, TARGET, episodes=1, eval_episodes=10)
    with pytest.raises(TypeError, match="method 'x' must be a GSACTrainer"):
        adaptation_curves({"x": 3}, env, TARGET, episodes=1, eval_episodes=10)
    with pytest.raises(ValueError, match="episodes must be an integer >= 1"):
        adaptation_curves({"u": UniformPolicy(env.action_counts)}, env, TARGET, episodes=0)


@pytest.mark.slow
def test_thirty_episode_comparison(env, estimator):
    """The paper's protocol on the 6-user instance: zero-shot GSAC beats SAC-MTL, SAC-FT and SAC-LFS."""
    graph = env.true_graph()
    runs, iterations = 4, 3000
    trained = {}
    for algo, kwargs in (("gsac", {"source_w_hat": estimator.w_hat_}), ("sac-mtl", {"source_w_hat": estimator.w_hat_}),
                         ("sac-ft", {})):
        trainer = make_trainer(algo, env, graph, source_factors=SOURCES, rng=10, n_runs=runs, **kwargs)
        trainer.iterate(iterations)
        trained[algo] = trainer
    w_hats = [estimate_target_factor(estimator, env, TARGET, trajectories=20, rng=np.random.default_rng(s))[0]
              for s in np.random.SeedSequence(5).spawn(runs)]
    methods = {
        "gsac": [zero_shot(trained["gsac"].policy(r), w_hats[r]) for r in range(runs)],
        "gsac-true-w": [zero_shot(trained["gsac"].policy(r), TARGET) for r in range(runs)],
        "sac-mtl": [zero_shot(trained["sac-mtl"].policy(r), w_hats[r]) for r in range(runs)],
        "sac-ft": make_trainer("sac-ft", env, graph, target_factor=TARGET, initial_policy=trained["sac-ft"].policies(),
                               rng=20, n_runs=runs),
        "sac-lfs": make_trainer("sac-lfs", env, graph, target_factor=TARGET, rng=30, n_runs=runs),
        "uniform": UniformPolicy(env.action_counts)}
    curves = adaptation_curves(methods, env, TARGET, episodes=30, eval_episodes=400, rng=7, n_runs=runs)
    final = {name: c.mean[-1] for name, c in curves.methods.items()}
    # measured: gsac 0.4004, gsac-true-w 0.4000, sac-ft 0.3357, sac-mtl 0.1769, sac-lfs 0.0804, uniform 0.0759
    assert final["gsac"] == pytest.approx(final["gsac-true-w"], abs=0.005)
    assert final["gsac"] > final["sac-ft"] > final["sac-mtl"] > final["sac-lfs"] > final["uniform"] - 0.01
    assert final["gsac"] == pytest.approx(0.40, abs=0.05)
    assert final["sac-lfs"] < 0.1


def test_iterations_per_episode_advance_learners_k_times_per_point():
    env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    one = make_trainer("sac-lfs", env, env.true_graph(), target_factor=0.6, rng=0, n_runs=2)
    three = make_trainer("sac-lfs", env, env.true_graph(), target_factor=0.6, rng=0, n_runs=2)
    curves = adaptation_curves({"one": one, "three": three}, env, 0.6, episodes=4, eval_episodes=10, rng=1,
                               average_steps=5, iterations_per_episode={"three": 3})
    assert (one.iteration, three.iteration) == (4, 12)
    assert curves.settings["iterations_per_episode"] == {"one": 1, "three": 3}
    # same streams: after 3 iterations per point, point 1 of "three" is point 3 of a 1-per-point learner
    ref = make_trainer("sac-lfs", env, env.true_graph(), target_factor=0.6, rng=0, n_runs=2)
    ref_curves = adaptation_curves({"three": ref}, env, 0.6, episodes=3, eval_episodes=10, rng=1, average_steps=5)
    np.testing.assert_array_equal(curves.methods["three"].per_run[:, 1], ref_curves.methods["three"].per_run[:, 3])
    with pytest.raises(ValueError, match="iterations_per_episode"):
        adaptation_curves({"one": one}, env, 0.6, episodes=1, eval_episodes=10, iterations_per_episode=0)
