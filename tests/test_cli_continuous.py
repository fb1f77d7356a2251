"""``--env synthetic-continuous`` through simulate, discover and run (which stops after domain factors)."""

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


def test_run_stops_after_domain_factors_with_a_message(tmp_path, capsys):
    config = load_config(overrides=["env.kind=synthetic-continuous", "env.agents=3", "data.episodes=200",
                                    "discovery.n_jobs=1"])
    assert stage_names(config) == ["collect", "discover", "acr", "domain_factors"]
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--no-progress", "--set", "env.kind=synthetic-continuous",
                 "--set", "env.agents=3", "--set", "data.episodes=200", "--set", "discovery.n_jobs=1"]) == 0
    printed = capsys.readouterr().out
    assert "training needs the function-approximation GSAC trainer" in printed
    factors = json.loads((out / "domain_factors.json").read_text())
    assert factors["error_curve"] is None and factors["agents_with_factor"]
    assert not (out / "metrics.json").exists()


def test_bad_pipeline_values_name_the_key():
    from causalnet_cli.pipeline import ConfigError
    with pytest.raises(ConfigError, match="env.mechanism"):
        load_config(overrides=["env.kind=synthetic-continuous", "env.mechanism=cubic"])
