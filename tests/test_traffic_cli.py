"""The traffic environment through the command line, the pipeline configuration, the layout and the claims script."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.layout import network_positions
from causalnet_cli.main import main
from causalnet_cli.pipeline.config import ConfigError, load_config
from causalnet_cli.pipeline.stages import build_environment
from rl.envs.traffic import TrafficGridEnv


def test_simulate_max_pressure_and_fixed_time(capsys):
    out = {}
    for policy in ("max-pressure", "fixed-time:2", "uniform"):
        assert main(["simulate", "--env", "traffic", "--rows", "2", "--cols", "2", "--policy", policy,
                     "--episodes", "1500", "--avg-episodes", "20", "--avg-steps", "5", "--burn-in", "1", "--json"]) == 0
        out[policy] = json.loads(capsys.readouterr().out)
    assert out["max-pressure"]["config"]["env"]["env"] == "traffic"
    assert out["fixed-time:2"]["policy"] == {"name": "fixed-time", "green": 2}
    mp, uni = out["max-pressure"]["discounted_return"], out["uniform"]["discounted_return"]
    assert mp["ci95"][0] > uni["ci95"][1]


def test_bad_traffic_flags_name_the_flag(capsys):
    assert main(["simulate", "--env", "traffic", "--rate", "1.5"]) != 0
    assert "--rate: arrival must lie in [0, 1], got 1.5" in capsys.readouterr().err
    assert main(["simulate", "--env", "traffic", "--turning", "0.5,0.5,0.5"]) != 0
    assert "--turning" in capsys.readouterr().err
    assert main(["simulate", "--env", "wireless", "--policy", "max-pressure"]) != 0
    assert "needs --env traffic" in capsys.readouterr().err


def test_pipeline_config_builds_the_grid():
    cfg = load_config(overrides=["env.kind=traffic", "env.rows=2", "env.cols=4", "env.bins=4",
                                 "env.turning=[0.6, 0.2, 0.2]", "env.switching_cost=0.1"])
    env = build_environment(cfg)
    assert isinstance(env, TrafficGridEnv)
    assert (env.rows, env.cols, env.bins, env.turning.tolist(), env.switching_cost) == (2, 4, 4, [0.6, 0.2, 0.2], 0.1)
    with pytest.raises(ConfigError, match="env.turning"):
        load_config(overrides=["env.turning=[0.6, 0.6, 0.2]"])
    with pytest.raises(ConfigError, match="env.bins"):
        load_config(overrides=["env.bins=1"])


def test_layout_draws_intersections_on_the_grid():
    env = TrafficGridEnv(2, 3)
    pos = network_positions(env.spec, env.config())
    assert pos[0] == (0.0, 0.0) and pos[5] == (2.0, -1.0)
    with pytest.raises(ValueError, match="2 x 3 traffic grid"):
        network_positions(TrafficGridEnv(2, 2).spec, env.config())


@pytest.mark.slow
def test_claims_script_on_a_tiny_grid():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import traffic_claims

    res = traffic_claims.run_grid(1, 2, seeds=2, meta_iterations=4, lfs_iterations=4, eval_episodes=40,
                                  targets=[0.2, 0.3], sources=[0.1, 0.4], curve_points=2)
    assert res["agents"] == 2 and len(res["per_target"]) == 2
    for t in res["per_target"]:
        v = t["values"]
        assert set(v) == {"gsac", "sac-mtl", "sac-lfs-30", "sac-lfs", "max-pressure", "fixed-time", "uniform"}
        for s in v.values():
            assert s["ci95"][0] <= s["mean"] <= s["ci95"][1] and s["n"] == 2
        d = t["claims"]["gsac_minus_uniform"]
        np.testing.assert_allclose(d["mean"], v["gsac"]["mean"] - v["uniform"]["mean"], atol=1e-12)
    assert res["curves"]["gsac"]["iterations"] == [0, 2, 4]
    text = traffic_claims.markdown([res])
    assert "| 1x2 | 0.2 |" in text and "ACR" in text and "truncation" in text


def test_policy_acr_is_smaller_than_the_one_hop_truncation_and_reported():
    from analysis.report import _policy_dims
    from causalnet.acr import acr_table

    table = acr_table(TrafficGridEnv(3, 3).true_graph(), kappa=1)
    assert [r["policy_acr_dim"] for r in table] == [10, 13, 10, 13, 16, 13, 10, 13, 10]
    assert [r["policy_kappa_hop_dim"] for r in table] == [12, 16, 12, 16, 20, 16, 12, 16, 12]
    assert _policy_dims(table) == (" Mean policy-ACR dimension (actor inputs) 12.00 against 14.67 coordinates "
                                   "of the 1-hop neighbourhood s_{N_i}.")


def test_pipeline_traffic_defaults_fit_the_tabular_actor_and_the_guard_names_the_agent():
    from causalnet_cli.pipeline.stages import check_tabular_actor_size

    env = build_environment(load_config(overrides=["env.kind=traffic"]))
    assert (env.rows, env.cols, env.bins) == (2, 2, 2)
    check_tabular_actor_size(env.true_graph(), kappa=1, method="gsac")
    with pytest.raises(ValueError, match=r"train:gsac: the tabular actor of agent 1 would have 3\^13 = 1594323"):
        check_tabular_actor_size(TrafficGridEnv(3, 3).true_graph(), kappa=1, method="gsac")
    check_tabular_actor_size(TrafficGridEnv(3, 3).true_graph(), kappa=1, method="sac-mtl")   # own 4 queues


def test_train_refuses_an_oversized_tabular_actor_before_writing(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["train", "--env", "traffic", "--algo", "gsac", "--iterations", "1", "--out", str(out)]) != 0
    assert "the tabular actor of agent 1 would have 3^13" in capsys.readouterr().err
    assert not out.exists()
