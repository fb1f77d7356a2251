"""``causalnet run`` on the networked LQR benchmark (env.kind = "lqr")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from causalnet_cli.pipeline.config import load_config
from causalnet_cli.pipeline.lqr_stages import RegressionFactors
from causalnet_cli.pipeline.runner import run_pipeline
from causalnet_cli.pipeline.stages import stage_names
from rl.envs.lqr import NetworkedLQREnv
from rl.rollout import collect_transitions

TINY_LQR = ["env.kind=lqr", "env.agents=4", "env.topology=ring", "env.distractors=1", "data.episodes=150",
            "train.runs=2", "train.fa_iterations=4", "train.eval_points=2", "train.fa_episodes=8",
            "train.methods=['gsac', 'sac-lfs', 'sac-mtl']", "adapt.trajectories=10",
            "analysis.error_trajectories=[3, 12]", "analysis.error_repeats=3"]


@pytest.mark.slow
def test_lqr_run_end_to_end(tmp_path):
    config = load_config(overrides=TINY_LQR)
    out = tmp_path / "run"
    summary = run_pipeline(config, out, progress=False)
    assert summary.ran == tuple(stage_names(config))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmark"]["env"] == "lqr"
    assert metrics["skipped_methods"] == ["sac-mtl"]
    gsac = metrics["methods"]["gsac"]
    assert 1.0 <= gsac["mean"] < 1.3                     # a few iterations already close to the optimum
    assert metrics["reference"]["zero_policy_ratio"] > 5
    assert 1.0 <= metrics["reference"]["best_decentralized_ratio"] < 1.01
    assert (out / "report.html").exists() and "gsac" in (out / "report.md").read_text()


def test_regression_factors_track_the_load():
    env = NetworkedLQREnv(3)
    data = collect_transitions(env, None, episodes=100, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=0)
    est = RegressionFactors(env.true_graph()).fit(data)
    # one principal direction, the intercept: w_hat is the load, centred (d = 1)
    np.testing.assert_allclose(est.w_hat_, np.array([[-0.3], [0.0], [0.3]]) * np.ones(3), atol=0.03)
    target = collect_transitions(env, None, episodes=100, horizon=10, domain_factors=[0.65], rng=1)
    np.testing.assert_allclose(est.estimate(target), 0.15, atol=0.03)
