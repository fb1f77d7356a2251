"""The typed configuration of ``causalnet run``: defaults, TOML, overrides and their errors."""

from __future__ import annotations

import dataclasses
import re
import tomllib

import pytest

from causalnet_cli.pipeline.config import (ConfigError, RunConfig, config_from_dict, config_to_dict, config_to_toml,
                                           describe_config, load_config, parse_override, quick_config)


def test_defaults_are_the_papers_benchmark():
    cfg = RunConfig()
    assert (cfg.env.kind, cfg.env.grid, cfg.env.deadline) == ("wireless", 3, 2)
    assert cfg.domains.sources == (0.2, 0.5, 0.8) and cfg.domains.target == 0.65
    assert cfg.train.methods == ("gsac", "sac-mtl", "sac-ft", "sac-lfs")
    assert cfg.adapt.episodes == 30


def test_config_is_frozen():
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.iterations = 5  # type: ignore[misc]


@pytest.mark.parametrize("data, key", [
    ({"train": {"iterashuns": 5}}, "train.iterashuns"),
    ({"colour": "red"}, "colour"),
    ({"train": {"iterations": "many"}}, "train.iterations"),
    ({"train": {"iterations": 2.5}}, "train.iterations"),
    ({"train": {"iterations": True}}, "train.iterations"),
    ({"train": {"runs": 0}}, "train.runs"),
    ({"domains": {"target": 1.5}}, "domains.target"),
    ({"domains": {"sources": [0.2, -0.1]}}, "domains.sources[1]"),
    ({"domains": {"sources": 0.2}}, "domains.sources"),
    ({"discovery": {"alpha": 1.0}}, "discovery.alpha"),
    ({"discovery": {"ci_test": "kci"}}, "discovery.ci_test"),
    ({"env": {"kind": "highway"}}, "env.kind"),
    ({"env": 3}, "env"),
    ({"train": {"methods": ["gsac", "ppo"]}}, "train.methods"),
    ({"train": {"eval_points": 50, "iterations": 10}}, "train.eval_points"),
    ({"train": {"methods": ["sac-mtl"]}, "domains": {"sources": [0.5]}}, "domains.sources"),
])
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError, match=rf"(^|\s){re.escape(key)}"):
        config_from_dict(data)


def test_ints_are_accepted_for_floats_and_kept_typed():
    cfg = config_from_dict({"domains": {"target": 1, "sources": [0, 1]}, "train": {"actor_lr": 2}})
    assert cfg.domains.target == 1.0 and isinstance(cfg.domains.target, float)
    assert cfg.domains.sources == (0.0, 1.0) and isinstance(cfg.train.actor_lr, float)


def test_overrides_parse_toml_values_and_bare_strings():
    assert parse_override("train.iterations=500") == {"train": {"iterations": 500}}
    assert parse_override("env.kind = synthetic") == {"env": {"kind": "synthetic"}}
    assert parse_override("domains.sources=[0.1, 0.9]") == {"domains": {"sources": [0.1, 0.9]}}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("train.iterations")
    with pytest.raises(ConfigError, match="empty key"):
        parse_override("train.=3")


def test_layering_defaults_quick_file_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("seed = 7\n[train]\niterations = 900\nruns = 4\n")
    cfg = load_config(path, quick=True, overrides=["train.runs=2"])
    assert cfg.seed == 7
    assert cfg.train.iterations == 900                                 # file beats --quick
    assert cfg.train.runs == 2                                         # --set beats the file
    assert cfg.data.episodes == quick_config()["data"]["episodes"]     # --quick beats defaults


def test_file_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\niterations = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[train]\nrunz = 3\n")
    with pytest.raises(ConfigError, match="train.runz"):
        load_config(wrong)


def test_toml_round_trip_and_dict_round_trip():
    cfg = load_config(quick=True, overrides=["env.kind=synthetic", "train.methods=['gsac', 'sac-lfs']"])
    assert config_from_dict(tomllib.loads(config_to_toml(cfg))) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_every_key_is_documented():
    rows = describe_config()
    keys = {k for k, _, _ in rows}
    flat = set()
    for name, value in config_to_dict(RunConfig()).items():
        flat |= {f"{name}.{k}" for k in value} if isinstance(value, dict) else {name}
    assert keys == flat and "train.iterations" in keys
    assert all(help_text for _, _, help_text in rows)


def test_target_phase_keys_of_the_learning_baselines():
    from causalnet_cli.pipeline import load_config

    default = load_config()
    # chosen on a held-out source domain by benchmarks/ft_step_size.py (docs/adaptation.md)
    assert (default.adapt.ft_actor_lr, default.adapt.ft_iterations_per_episode, default.adapt.ft_logit_scale) == (
        1000.0, 1, 1.0)
    assert (default.adapt.lfs_actor_lr, default.adapt.lfs_iterations_per_episode) == (1000.0, 1)
    cfg = load_config(overrides=["adapt.ft_actor_lr=50", "adapt.lfs_iterations_per_episode=3"])
    assert cfg.adapt.ft_actor_lr == 50.0 and cfg.adapt.lfs_iterations_per_episode == 3
    for bad in ("adapt.ft_actor_lr=0", "adapt.ft_iterations_per_episode=0", "adapt.ft_logit_scale=1.5"):
        with pytest.raises(ConfigError, match=bad.split("=")[0].split(".")[1]):
            load_config(overrides=[bad])
