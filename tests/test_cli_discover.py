"""``causalnet discover`` run in-process: output files, ground truth, reuse of data, errors."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph
from causalnet.graph_metrics import EDGE_TYPES
from causalnet_cli.main import main
from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv
from rl.rollout import collect_transitions

OUTPUTS = ("graph.json", "acr.json", "domain_factors.json", "discovery_config.json")
# g = 2 wireless (9 agents): 2,500 episodes per domain recover the s->s, domain and reward
# masks exactly (checked on seeds 0, 1, 2); the action->state mask needs more data.
SMALL_WIRELESS = ["--env", "wireless", "--grid", "2", "--domains", "0.2,0.5,0.8", "--trajectories", "2500",
                  "--horizon", "10", "--seed", "0"]


def _discover(*argv: str) -> tuple[int, str, str]:
    """Run ``causalnet discover argv``; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["discover", *argv])
    return status, out.getvalue(), err.getvalue()


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def wireless_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("discover") / "wireless"
    status, stdout, stderr = _discover(*SMALL_WIRELESS, "--out", str(out), "--json", "--no-progress")
    assert status == 0, stderr
    return out, json.loads(stdout), stderr


def test_wireless_outputs_exist_and_name_spec_variables(wireless_run):
    out, summary, stderr = wireless_run
    for name in OUTPUTS + ("structure_metrics.json", "data.npz", "data.json"):
        assert (out / name).is_file(), name
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    data = Transitions.load(out / "data.npz")
    assert len(data) == 3 * 2500 * 10 and data.n_domains == 3
    spec = data.spec
    graph = _read(out / "graph.json")
    assert graph["variables"] == [*spec.state_names, *spec.action_names, *spec.reward_names, "domain"]
    assert set(graph["parents"]) == {*spec.state_names, *spec.reward_names}
    names = set(graph["variables"])
    assert all(set(p) <= names for p in graph["parents"].values())
    assert graph["domain_affected"] == sorted(t for t, p in graph["parents"].items() if "domain" in p)
    assert FactoredGraph.load(out / "graph.json") == FactoredGraph.load(out / "graph.json", spec)
    # summary on stdout, human summary and paths on stderr
    assert summary["n_rows"] == 75000 and summary["n_agents"] == 9
    assert summary["files"]["graph"] == str(out / "graph.json")
    assert f"wrote {out / 'acr.json'}" in stderr and "state->state" in stderr
    config = _read(out / "discovery_config.json")
    assert config["source"]["trajectories_per_domain"] == 2500 and config["source"]["horizon"] == 10
    assert config["source"]["domains"] == [0.2, 0.5, 0.8]
    assert config["discovery"]["method"] == "local" and config["discovery"]["params"]["alpha"] == 0.001
    assert config["seconds"]["total"] >= config["seconds"]["discover"] > 0


def test_wireless_truth_recovered_and_acrs_are_own_queues(wireless_run):
    out, summary, _ = wireless_run
    env = WirelessAccessEnv.from_grid(2)
    learned = FactoredGraph.load(out / "graph.json")
    truth = env.true_graph()
    metrics = _read(out / "structure_metrics.json")
    assert set(metrics["by_mask"]) == set(EDGE_TYPES)
    for kind in ("state->state", "domain->state", "state->reward", "domain->reward"):
        m = metrics["by_mask"][kind]
        assert (m["precision"], m["recall"], m["f1"], m["shd"]) == (1.0, 1.0, 1.0, 0), kind
    for kind in ("state->state", "domain->state"):
        assert (learned.masks()[{"state->state": "state_mask", "domain->state": "domain_mask"}[kind]]
                == truth.masks()[{"state->state": "state_mask", "domain->state": "domain_mask"}[kind]]).all()
    assert metrics["shd"] == metrics["fp"] + metrics["fn"] == len(metrics["missing"]) + len(metrics["extra"])
    assert metrics["precision"] == 1.0 and 0.8 < metrics["f1"] < 1.0   # only weak a->s edges missed
    assert summary["structure_metrics"]["by_mask"]["state->state"]["f1"] == 1.0
    acr = _read(out / "acr.json")
    assert acr["kappa"] == 1 and len(acr["agents"]) == 9 and len(acr["table"]) == 9
    for i, row in enumerate(acr["agents"]):
        assert row["value_acr"] == [f"s{i}_0", f"s{i}_1"] == row["true_value_acr"]
        assert row["policy_acr"] == [f"s{i}_0", f"s{i}_1"]
        assert row["domain_acr"] == [i]
    assert acr["agents_matching_truth"] == 9
    assert [(r["agent"], r["acr_dim"], r["acr_size"], r["full_dim"]) for r in acr["table"]] == \
        [(i, 2, 4, 18) for i in range(9)]


def test_wireless_domain_factors_are_arrival_frequencies(wireless_run):
    out, _, _ = wireless_run
    factors = _read(out / "domain_factors.json")
    assert factors["affected"] == [f"s{i}_1" for i in range(9)]
    assert factors["true_factors_known"] and factors["agents_with_factor"] == list(range(9))
    assert [d["domain"] for d in factors["domains"]] == [0, 1, 2]
    for d, w in zip(factors["domains"], (0.2, 0.5, 0.8)):
        w_hat, se = np.array(d["w_hat"]), np.array(d["stderr"])
        np.testing.assert_allclose(d["true"], [w] * 9)
        # 25,000 arrival draws per agent and domain: stderr = sqrt(w (1 - w) / 25000)
        np.testing.assert_allclose(se, np.sqrt(w * (1 - w) / 25000), rtol=0.05)
        assert np.all(np.abs(w_hat - w) < 4.5 * se)
        assert d["max_abs_error"] == pytest.approx(np.max(np.abs(w_hat - w)))


def test_saved_data_reused_with_truth_gives_same_outputs(wireless_run, tmp_path):
    out, _, _ = wireless_run
    truth_path = WirelessAccessEnv.from_grid(2).true_graph().save(tmp_path / "truth.json")
    status, _, stderr = _discover("--data", str(out / "data.npz"), "--truth", str(truth_path),
                                  "--out", str(tmp_path / "reuse"))
    assert status == 0, stderr
    assert (tmp_path / "reuse" / "graph.json").read_bytes() == (out / "graph.json").read_bytes()
    assert _read(tmp_path / "reuse" / "structure_metrics.json") == _read(out / "structure_metrics.json")
    assert not (tmp_path / "reuse" / "data.npz").exists()
    config = _read(tmp_path / "reuse" / "discovery_config.json")
    assert config["source"]["kind"] == "data" and config["source"]["n_rows"] == 75000


def test_data_file_from_collect_transitions_without_truth(tmp_path):
    env = WirelessAccessEnv(2, 3, users_per_vertex=1)
    data = collect_transitions(env, None, episodes=300, horizon=5, domain_factors=[0.3, 0.7], rng=4)
    data.save(tmp_path / "user" / "mydata.npz")
    out = tmp_path / "out"
    (out).mkdir()
    (out / "structure_metrics.json").write_text("{}")   # stale file of an earlier run
    status, stdout, stderr = _discover("--data", str(tmp_path / "user" / "mydata.npz"), "--out", str(out),
                                       "--kappa", "0", "--json", "--force")
    assert status == 0, stderr
    assert not (out / "structure_metrics.json").exists() and not (out / "data.npz").exists()
    summary = json.loads(stdout)
    assert "structure_metrics" not in summary and summary["n_rows"] == 3000 and summary["n_domains"] == 2
    graph = _read(out / "graph.json")
    assert graph["variables"][:4] == ["s0_0", "s0_1", "s1_0", "s1_1"] and len(graph["parents"]) == 18
    acr = _read(out / "acr.json")
    assert acr["kappa"] == 0 and "true_value_acr" not in acr["agents"][0]
    factors = _read(out / "domain_factors.json")
    assert len(factors["domains"]) == 2 and factors["domains"][1]["true"] == [0.7] * 6


def test_same_seed_gives_byte_identical_graph(tmp_path):
    small = ["--grid", "2", "--trajectories", "300", "--horizon", "5"]
    runs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        status, _, stderr = _discover(*small, "--seed", seed, "--out", str(tmp_path / name))
        assert status == 0, stderr
        runs[name] = Transitions.load(tmp_path / name / "data.npz")
    assert (tmp_path / "a" / "graph.json").read_bytes() == (tmp_path / "b" / "graph.json").read_bytes()
    assert (tmp_path / "a" / "acr.json").read_bytes() == (tmp_path / "b" / "acr.json").read_bytes()
    np.testing.assert_array_equal(runs["a"].next_states, runs["b"].next_states)
    assert not np.array_equal(runs["a"].next_states, runs["c"].next_states)


def test_synthetic_env_matches_its_true_graph(tmp_path):
    out = tmp_path / "syn"
    status, stdout, stderr = _discover("--env", "synthetic", "--agents", "4", "--topology", "ring",
                                       "--env-seed", "1", "--trajectories", "1000", "--seed", "3",
                                       "--out", str(out), "--json")
    assert status == 0, stderr
    env = SyntheticNetworkEnv(n_agents=4, topology="ring", rng=1)
    learned = FactoredGraph.load(out / "graph.json")
    assert learned.spec == env.spec
    assert learned == env.true_graph()     # this instance has strong effects: exact recovery
    assert learned.domain_affected == ["s0_0", "s1_1", "s2_1", "s3_0"]
    assert json.loads(stdout)["structure_metrics"]["f1"] == 1.0
    config = _read(out / "discovery_config.json")
    assert config["source"]["env"]["env"] == "synthetic" and config["source"]["env"]["seed"] == 1
    factors = _read(out / "domain_factors.json")
    assert factors["agents_with_factor"] == [0, 1, 2, 3]
    # w_hat is monotone in the true factor for every agent (its direction follows the table's shift)
    steps = np.diff(np.array([d["w_hat"] for d in factors["domains"]]), axis=0)
    assert np.all((steps > 0).all(axis=0) | (steps < 0).all(axis=0))
    assert np.all(np.abs(steps) > 0.1)


def test_progress_bar_only_when_asked(tmp_path):
    small = ["--grid", "2", "--trajectories", "50", "--horizon", "3"]
    _, _, err_on = _discover(*small, "--progress", "--out", str(tmp_path / "p"))
    _, _, err_off = _discover(*small, "--out", str(tmp_path / "q"))   # not a TTY: off by default
    assert "stage" in err_on and "stage" not in err_off


@pytest.mark.parametrize("argv, flag", [
    (["--alpha", "1.5"], "--alpha"),
    (["--domains", "0.2,x"], "--domains"),
    (["--domains", "0.2,1.4"], "--domains"),
    (["--trajectories", "0"], "--trajectories"),
    (["--kappa", "-1"], "--kappa"),
    (["--grid", "0"], "--grid"),
    (["--arrival", "0.3"], "--arrival"),
    (["--env", "synthetic", "--state-dims", "1,2"], "--state-dims"),
    (["--method", "cdnod", "--jobs", "2"], "--jobs"),
    (["--truth", "g.json"], "--truth"),
    (["--data", "missing.npz"], "--data"),
    (["--data", "missing.npz", "--grid", "3"], "--grid"),
    (["--data", "missing.npz", "--trajectories", "5"], "--trajectories"),
])
def test_bad_flags_exit_2_naming_the_flag(tmp_path, argv, flag):
    out = tmp_path / "never"
    status, stdout, stderr = _discover(*argv, "--out", str(out))
    assert status == 2
    assert stderr.startswith("causalnet discover: error: ") and flag in stderr
    assert not out.exists() and stdout == ""


def test_malformed_data_and_truth_exit_2_and_write_nothing(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    (tmp_path / "bad.json").write_text(json.dumps({"format": "causalnet.transitions", "version": 1,
                                                   "spec": WirelessAccessEnv.from_grid(1).spec.to_dict()}))
    status, _, stderr = _discover("--data", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o1"))
    assert status == 2 and "--data" in stderr and "bad.npz" in stderr and not (tmp_path / "o1").exists()

    data = collect_transitions(WirelessAccessEnv.from_grid(1), None, episodes=20, horizon=3, rng=0)
    data.save(tmp_path / "good.npz")
    other = WirelessAccessEnv.from_grid(2).true_graph().save(tmp_path / "other.json")
    status, _, stderr = _discover("--data", str(tmp_path / "good.npz"), "--truth", str(other),
                                  "--out", str(tmp_path / "o2"))
    assert status == 2 and "--truth" in stderr and not (tmp_path / "o2").exists()

    (tmp_path / "file").write_text("x")
    status, _, stderr = _discover("--data", str(tmp_path / "good.npz"), "--out", str(tmp_path / "file"))
    assert status == 2 and "--out" in stderr


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["discover", "--ci-test", "nope", "--out", "x"])
    assert exc.value.code == 2 and "--ci-test" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["discover", "--grid", "2"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err


@pytest.mark.slow
def test_grid3_acceptance_through_cli(tmp_path):
    """The issue's acceptance on the g = 3 benchmark at the default budget (20,000 episodes per domain)."""
    out = tmp_path / "g3"
    status, stdout, stderr = _discover("--env", "wireless", "--grid", "3", "--domains", "0.2,0.5,0.8",
                                       "--seed", "0", "--jobs", "2", "--out", str(out), "--json")
    assert status == 0, stderr
    metrics = _read(out / "structure_metrics.json")
    for kind in ("state->state", "domain->state", "state->reward", "action->reward", "domain->reward"):
        assert metrics["by_mask"][kind]["shd"] == 0, (kind, metrics["by_mask"][kind])
    assert metrics["f1"] >= 0.95
    acr = _read(out / "acr.json")
    assert all(row["value_acr"] == [f"s{row['agent']}_0", f"s{row['agent']}_1"] for row in acr["agents"])
    assert acr["agents_matching_truth"] == 16
    assert json.loads(stdout)["n_rows"] == 600_000
