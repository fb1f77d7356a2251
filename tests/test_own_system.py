"""Your own system end to end: CSV logs (text labels) or a PettingZoo factory in, a report out; bad input refused.

The system is the SIS epidemic of ``tests/sis_system.py``, reached only through its CSV
logs or through ``--env tests.sis_system:make_sis``. The tests that run the whole pipeline are
``slow`` (``pytest -m slow``); the bad-input tests stop before any work and stay in the default run.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalnet.codebook import Codebook
from causalnet.network_file import network_from_dict
from causalnet.tables_write import write_table
from causalnet_cli.main import main
from rl.envs.pettingzoo_env import PettingZooNetworkedEnv, coded_env
from rl.rollout import collect_transitions

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.sis_system import network_dict  # noqa: E402

N = 4
SMALL = ["--no-progress", "--set", "train.iterations=200", "--set", "train.runs=2", "--set", "train.eval_points=2",
         "--set", "train.eval_episodes=40", "--set", "adapt.episodes=2", "--set", "adapt.eval_episodes=40",
         "--set", "train.methods=[\"gsac\", \"sac-lfs\"]"]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Source logs at beta 0.1/0.4 and target logs at beta 0.25, CSV with text labels; the network file."""
    folder = tmp_path_factory.mktemp("own")
    net = network_dict(N)
    net["domain_values"] = {"beta=0.1": 0.1, "beta=0.4": 0.4, "beta=0.25": 0.25}
    (folder / "net.json").write_text(json.dumps(net))
    env = PettingZooNetworkedEnv("tests.sis_system:make_sis", network_from_dict(net),
                                 factory_kwargs={"n_agents": N}, domain_kwarg="beta")
    labels = {**{f"s{i}_0": ["healthy", "sick"] for i in range(N)}, **{f"a{i}": ["wait", "treat"] for i in range(N)}}
    src = collect_transitions(env, None, episodes=400, horizon=10, domain_factors=[0.1, 0.4], rng=0)
    tgt = collect_transitions(env, None, episodes=60, horizon=10, domain_factors=[0.25], rng=1)
    write_table(src, folder / "source.csv", Codebook(labels, ["beta=0.1", "beta=0.4"]))
    write_table(tgt, folder / "target.csv", Codebook(labels, ["beta=0.25"]))
    return folder


@pytest.fixture(scope="module")
def run_folder(logs):
    """One ``causalnet run --data --target-data --network`` on the CSV logs (shared by the tests below)."""
    out = logs / "run"
    code = main(["run", "--data", str(logs / "source.csv"), "--target-data", str(logs / "target.csv"),
                 "--network", str(logs / "net.json"), "--out", str(out), *SMALL])
    assert code == 0
    return out


@pytest.mark.slow
def test_cli_run_from_csv_logs_alone(run_folder):
    out = run_folder
    codebook = Codebook.load(out / "codebook.json")
    assert codebook.variables["s0_0"] == ["healthy", "sick"] and codebook.variables["a1"] == ["treat", "wait"]
    assert codebook.domains == ["beta=0.1", "beta=0.4"]
    factors = json.loads((out / "domain_factors.json").read_text())["coordinates"]
    assert factors["units"] == "user" and factors["sources"] == [0.1, 0.4]
    assert abs(factors["target"] - 0.25) < 0.06          # estimated from 60 target episodes
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["system"]["gamma"] == 0.9 and metrics["system"]["horizon"] == 10
    assert "model-based estimate" in metrics["evaluated_in"]["model_based_estimate"]
    assert metrics["methods"]["gsac"]["simulator"] is None
    report = (out / "report.md").read_text()
    assert report.count("model-based estimate") >= 3 and "beta=0.25" in report
    # the deployed policy acts in codes; "treat" is code 0 of a1 (sorted labels)
    policy = json.loads((out / "policies" / "target" / "gsac" / "policy.json").read_text())
    assert policy["info"]["deployed"] == "zero-shot"


def test_coded_env_maps_labels_to_the_simulator_values():
    net = network_from_dict(network_dict(2))
    sim = PettingZooNetworkedEnv("tests.sis_system:make_sis", net, factory_kwargs={"n_agents": 2},
                                 domain_kwarg="beta", domain_factor=0.9)
    codebook = Codebook({"s0_0": [0, 1], "s1_0": [0, 1], "a0": [1], "a1": [0, 1]}, ["x"])
    spec = net.to_spec([2, 2], [1, 2])
    env = coded_env(sim, codebook, spec)
    rng = np.random.default_rng(0)
    states = env.reset(50, rng)
    _, rewards = env.step(states, np.zeros((50, 2), dtype=np.int64), rng)
    # agent 0's only action code 0 is the label 1 (treat): it pays the cost 0.35; agent 1's code 0 is wait
    np.testing.assert_allclose(rewards[:, 0], -states[:, 0] - 0.35)
    np.testing.assert_allclose(rewards[:, 1], -states[:, 1])


def _run_bad(args, tmp_path, capsys):
    out = tmp_path / "bad_run"
    code = main(["run", *args, "--out", str(out), *SMALL])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err, out


@pytest.mark.parametrize("edit, message", [
    (lambda df: df.drop(columns=["r1"]), "missing column(s) ['r1']"),
    (lambda df: df.assign(colour=1), "column(s) ['colour'] are not in"),
    (lambda df: df.drop(columns=["s2_0_next"]), "column 's2_0_next' (the next value of state 's2_0') is missing"),
    (lambda df: df.assign(t=np.where(np.arange(len(df)) == 5, 7, df["t"])), "which does not follow t = 4"),
    (lambda df: df.assign(s0_0=np.where(np.arange(len(df)) == 3, "3", df["s0_0"]).astype(object)
                          ).astype({"s0_0": object}).pipe(lambda d: d.assign(s0_0=[3 if v == "3" else v
                                                                                   for v in d["s0_0"]])),
     "mixes label types"),
    (lambda df: df.rename(columns=lambda c: c.replace("s", "x", 1) if c.startswith("s") else c),
     "do not match the table"),
])
def test_bad_source_tables_exit_2_with_one_line_and_no_folder(logs, tmp_path, capsys, edit, message):
    df = edit(pd.read_csv(logs / "source.csv"))
    df.to_csv(tmp_path / "bad.csv", index=False)
    code, err, out = _run_bad(["--data", str(tmp_path / "bad.csv"), "--target-data", str(logs / "target.csv"),
                               "--network", str(logs / "net.json")], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_target_reusing_a_source_label_is_refused(logs, tmp_path, capsys):
    df = pd.read_csv(logs / "target.csv").assign(domain="beta=0.1")
    df.to_csv(tmp_path / "target_bad.csv", index=False)
    code, err, out = _run_bad(["--data", str(logs / "source.csv"), "--target-data", str(tmp_path / "target_bad.csv"),
                               "--network", str(logs / "net.json")], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and "'beta=0.1' is already used by a source domain" in err[0]
    assert not out.exists()


def test_edges_naming_unknown_agents_are_refused(logs, tmp_path, capsys):
    net = json.loads((logs / "net.json").read_text())
    net["edges"].append([0, 9])
    (tmp_path / "net.json").write_text(json.dumps(net))
    code, err, out = _run_bad(["--data", str(logs / "source.csv"), "--target-data", str(logs / "target.csv"),
                               "--network", str(tmp_path / "net.json")], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and "names agent 9, but agents are 0..3" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("factory, message", [
    ("tests.missing_module:make", "cannot import module 'tests.missing_module'"),
    ("tests.sis_system:not_a_parallel_env", "not a pettingzoo ParallelEnv"),
    ("tests.sis_system:make_box_sis", "is not discrete"),
])
def test_bad_factories_exit_2_with_one_line(logs, tmp_path, capsys, factory, message):
    code, err, out = _run_bad(["--env", factory, "--network", str(logs / "net.json"),
                               "--set", f"env.factory_kwargs={{n_agents={N}}}", "--set", "env.domain_kwarg=beta"],
                              tmp_path, capsys)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_missing_gamma_is_an_error_not_a_wireless_default(logs, tmp_path, capsys):
    net = json.loads((logs / "net.json").read_text())
    del net["gamma"]
    (tmp_path / "net.json").write_text(json.dumps(net))
    code, err, _ = _run_bad(["--data", str(logs / "source.csv"), "--target-data", str(logs / "target.csv"),
                             "--network", str(tmp_path / "net.json")], tmp_path, capsys)
    assert code == 2 and "no discount factor" in err[0]


@pytest.mark.slow
def test_evaluate_a_deployed_policy_in_the_simulator_from_the_command_line(logs, run_folder, tmp_path, capsys):
    out = run_folder
    # the logs say healthy/sick and wait/treat; the simulator speaks 0/1: a codebook with its values translates
    text = Codebook.load(out / "codebook.json")
    values = {"healthy": 0, "sick": 1, "wait": 0, "treat": 1}
    Codebook({k: [values[v] for v in labels] for k, labels in text.variables.items()},
             text.domains).save(tmp_path / "sim_codebook.json")
    args = ["evaluate", "--policy", str(out / "policies" / "target" / "gsac"), "--env", "tests.sis_system:make_sis",
            "--network", str(logs / "net.json"), "--factory-kwargs", f"{{n_agents = {N}, max_steps = 500}}",
            "--domain-kwarg", "beta", "--domain-factor", "0.25", "--codebook", str(tmp_path / "sim_codebook.json"),
            "--episodes", "50", "--out", str(tmp_path / "eval.json")]
    assert main(args) == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["env"]["factory"] == "tests.sis_system:make_sis" and result["domain_factor"] == [0.25] * N
    # the return is a discounted sum of per-step rewards in [-1.35, 0] over 10 steps
    assert -1.35 * 10 < result["discounted_return"]["mean"] < 0
    bad = main(["evaluate", "--policy", str(out / "policies" / "target" / "gsac"), "--env", "tests.nowhere:make",
                "--network", str(logs / "net.json")])
    assert bad == 2 and "cannot import module 'tests.nowhere'" in capsys.readouterr().err


@pytest.mark.slow
def test_report_command_rebuilds_an_own_system_report(run_folder, capsys):
    (run_folder / "report.md").unlink()
    assert main(["report", str(run_folder)]) == 0
    assert "model-based estimate" in (run_folder / "report.md").read_text()


@pytest.mark.slow
def test_train_inside_the_discovered_model_of_a_run_folder(run_folder, tmp_path, capsys):
    out = tmp_path / "train"
    assert main(["train", "--model", str(run_folder), "--iterations", "40", "--eval-every", "20",
                 "--eval-episodes", "20", "--seeds", "2", "--out", str(out), "--no-progress"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    coords = json.loads((run_folder / "domain_factors.json").read_text())["coordinates"]
    assert cfg["config"]["gamma"] == 0.9 and cfg["config"]["horizon"] == 10     # the run's, not 0.7
    assert cfg["source_factors"] == [[v] * N for v in coords["sources"]] and cfg["env"]["env"] == "model"
    assert cfg["eval_domain_factor"] == [coords["target"]] * N
    assert (out / "policy" / "policy.json").is_file()


@pytest.mark.slow
def test_discover_and_train_on_a_pettingzoo_factory(logs, tmp_path, capsys):
    flags = ["--env", "tests.sis_system:make_sis", "--network", str(logs / "net.json"),
             "--factory-kwargs", f"{{n_agents = {N}, max_steps = 200}}", "--domain-kwarg", "beta"]
    assert main(["discover", *flags, "--domains", "0.05,0.6", "--trajectories", "300",
                 "--out", str(tmp_path / "disc")]) == 0
    from causalnet.graph import FactoredGraph

    graph = FactoredGraph.load(tmp_path / "disc" / "graph.json")
    assert graph.parents["r0"] == {"s0_0", "a0"}                      # reward = -sick - 0.35 * treat
    assert any("domain" in graph.parents[f"s{i}_0"] for i in range(N))  # beta drives the infections
    assert main(["train", *flags, "--graph", str(tmp_path / "disc"), "--domains", "0.05,0.6", "--target", "0.3",
                 "--iterations", "20", "--eval-every", "0", "--eval-episodes", "10", "--gamma", "0.9",
                 "--out", str(tmp_path / "train"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "train" / "config.json").read_text())["env"]["factory"] == "tests.sis_system:make_sis"
    capsys.readouterr()
    assert main(["train", *flags, "--iterations", "5", "--out", str(tmp_path / "t2"), "--no-progress"]) == 2
    assert "no known true graph" in capsys.readouterr().err


def test_domain_coordinates_calibrate_to_user_units_or_standardise():
    from causalnet_cli.pipeline.own_system import domain_coordinates

    # two agents whose w_hat is an affine image of the true factor (different slopes), one agent without estimate
    true = np.array([0.1, 0.2, 0.4])
    w_src = np.stack([0.05 + 0.5 * true, 0.3 + 0.1 * true, np.full(3, np.nan)], axis=1)
    w_tgt = np.array([0.05 + 0.5 * 0.3, 0.3 + 0.1 * 0.3, np.nan])
    c = domain_coordinates(w_src, w_tgt, true)
    assert c["units"] == "user" and c["agents_used"] == [0, 1]
    np.testing.assert_allclose(c["sources"], true)
    np.testing.assert_allclose(c["target"], 0.3)
    s = domain_coordinates(w_src, w_tgt, None)
    z = (true - true.mean()) / true.std()
    np.testing.assert_allclose(s["sources"], z)
    np.testing.assert_allclose(s["target"], (0.3 - true.mean()) / true.std())
    none = domain_coordinates(np.full((3, 2), 0.5), np.full(2, 0.5), None)
    assert none["agents_used"] == [] and none["target"] == 0.0


def test_the_domain_factor_estimator_is_swapped_with_one_line(monkeypatch):
    from causalnet_cli.pipeline import own_system

    calls = []

    def fake(graph, source, target):
        calls.append((graph, len(source), len(target)))
        return np.ones((2, 3)), np.full(3, 2.0), {"estimator": "fake"}

    monkeypatch.setattr(own_system, "DOMAIN_FACTOR_ESTIMATOR", fake)
    w_src, w_tgt, info = own_system.estimate_domain_factors("g", [1, 2], [3])
    assert calls == [("g", 2, 1)] and info == {"estimator": "fake"} and w_tgt.tolist() == [2.0] * 3
