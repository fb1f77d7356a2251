"""``--env synthetic-continuous`` through simulate, discover and run (softmax-actor GSAC end to end)."""

from __future__ import annotations

import json

import pytest

from causalnet_cli.main import main
from causalnet_cli.pipeline import load_config, run_pipeline, stage_names


def test_discover_on_continuous_env_recovers_the_truth(tmp_path, capsys):
    out = tmp_path / "disc"
    assert main(["discover", "--env", "synthetic-continuous", "--agents", "4", "--state-dims", "1",
                 "--trajectories", "300", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["structure_metrics"]["f1"] >= 0.97
    factors = json.loads((out / "domain_factors.json").read_text())
    assert factors["estimator"] == "continuous"
    assert sorted(factors["changing_parameters"]) == sorted(summary["domain_affected"])
    config = json.loads((out / "discovery_config.json").read_text())
    assert config["discovery"]["params"]["ci_test"] == "auto"


def test_state_cardinality_flag_is_rejected(tmp_path, capsys):
    code = main(["discover", "--env", "synthetic-continuous", "--state-cardinality", "3",
                 "--trajectories", "10", "--out", str(tmp_path / "x")])
    assert code == 2 and "--state-cardinality" in capsys.readouterr().err


def test_simulate_uniform_policy(capsys):
    assert main(["simulate", "--env", "synthetic-continuous", "--agents", "3", "--episodes", "20", "--json",
                 "--avg-episodes", "5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["env"]["env"] == "synthetic-continuous"
    assert result["config"]["env"]["n_agents"] == 3


def test_run_trains_the_softmax_actor_end_to_end(tmp_path, capsys):
    sets = ["env.kind=synthetic-continuous", "env.agents=3", "data.episodes=200", "discovery.n_jobs=1",
            "train.runs=3", "train.fa_iterations=6", "train.eval_points=2", "train.fa_episodes=8",
            "train.methods=['gsac', 'sac-mtl']", "adapt.trajectories=10"]
    config = load_config(overrides=sets)
    assert stage_names(config) == ["collect", "discover", "acr", "domain_factors", "train:gsac", "adapt",
                                   "metrics", "report"]
    out = tmp_path / "run"
    argv = ["run", "--out", str(out), "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    factors = json.loads((out / "domain_factors.json").read_text())
    assert factors["error_curve"] is None and factors["agents_with_factor"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmark"]["env"] == "synthetic-continuous"
    assert metrics["skipped_methods"] == ["sac-mtl"]
    gsac = metrics["methods"]["gsac"]
    # zero-shot softmax policy beats the uniform policy (about -6.0 against -0.26 with these seeds)
    assert gsac["gain_ci95"][0] > 3.0
    assert gsac["mean"] < metrics["reference"]["uniform_cost"] - 3.0
    assert "gsac" in (out / "report.md").read_text() and (out / "report.html").exists()


def test_bad_pipeline_values_name_the_key():
    from causalnet_cli.pipeline import ConfigError
    with pytest.raises(ConfigError, match="env.mechanism"):
        load_config(overrides=["env.kind=synthetic-continuous", "env.mechanism=cubic"])
