"""Your own system, end to end: a policy learned from CSV logs alone, evaluated in the true simulator.

The system is the SIS epidemic of ``tests/sis_system.py`` (a PettingZoo ParallelEnv the
causal package never sees). Two routes:

* ``logs``: source logs (uniform policy, one CSV per run: ``--sources`` betas) and target
  logs (``--target-episodes`` episodes at the unseen ``--target`` beta) are written to CSV;
  ``causalnet run --data SRC --network NET --target-data TGT`` alone (subprocess) learns
  the graph, the model and the policies; the deployed zero-shot GSAC policy is then
  evaluated in the true simulator at the target beta.
* ``env``: ``causalnet run --env tests.sis_system:make_sis --network NET`` with no logs;
  the run evaluates in the simulator itself (``simulator_evaluation.json``).

References in the simulator at the target beta, all with the same evaluation episodes:
the uniform policy, the hand-written expert heuristic (treat when infected or when a
neighbour is infected), and a policy trained directly in the simulator at the target
(``--direct-iterations``). Reported: the share of the margin
over uniform that GSAC recovers, against the direct policy (target >= 0.5) and against
the heuristic; the direct reference is the better of SAC (kappa-hop inputs) and the same
GSAC inputs (the learned graph's ACRs), both trained in the simulator at the target. Prints a table and writes ``benchmarks/results/own_system.json``.

Usage::

    python benchmarks/own_system.py [--agents 8] [--iterations 3000] [--routes logs env]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from causalnet.codebook import Codebook  # noqa: E402
from causalnet.io import atomic_write_json  # noqa: E402
from causalnet.network_file import network_from_dict  # noqa: E402
from causalnet.tables_write import write_table  # noqa: E402
from rl.envs.pettingzoo_env import PettingZooNetworkedEnv, coded_env  # noqa: E402
from rl.evaluation import discounted_return  # noqa: E402
from rl.persistence import load_policy  # noqa: E402
from rl.rollout import collect_transitions  # noqa: E402
from tests.sis_system import expert_actions, network_dict  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FACTORY = "tests.sis_system:make_sis"


def _cli(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "causalnet_cli.main", "run", "--no-progress", *args],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    if proc.returncode != 0:
        raise RuntimeError(f"causalnet run failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def _evaluate(env, policies, gamma, horizon, episodes, seed) -> tuple[float, list[float]]:
    values = [discounted_return(env, p, gamma=gamma, horizon=horizon, episodes=episodes,
                                rng=np.random.default_rng([seed, k]), batch_size=episodes).mean
              for k, p in enumerate(policies)]
    return float(np.mean(values)), values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--sources", type=float, nargs="+", default=[0.05, 0.2, 0.4])
    parser.add_argument("--target", type=float, default=0.3)
    parser.add_argument("--episodes", type=int, default=1500, help="source episodes per domain")
    parser.add_argument("--target-episodes", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=8000, help="meta-training iterations")
    parser.add_argument("--direct-iterations", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=1000)
    parser.add_argument("--routes", nargs="+", choices=["logs", "env"], default=["logs", "env"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["gsac"], help="methods the runs train (gsac needed)")
    args = parser.parse_args(argv)

    n, gamma, horizon = args.agents, 0.9, 10
    labels = {args.target: f"beta={args.target}", **{b: f"beta={b}" for b in args.sources}}
    net = network_dict(n, gamma=gamma, horizon=horizon)
    net["domain_values"] = {labels[b]: b for b in [*args.sources, args.target]}
    network = network_from_dict(net)
    sim = PettingZooNetworkedEnv(FACTORY, network, factory_kwargs={"n_agents": n}, domain_kwarg="beta")
    target_sim = sim.with_domain_factor(args.target)
    edges = network.edges
    train = ["--set", f"train.iterations={args.iterations}", "--set", f"train.runs={args.runs}",
             "--set", "train.eval_points=5", "--set", "train.eval_episodes=200", "--set", "adapt.episodes=5",
             "--set", "adapt.eval_episodes=200", "--set", f"seed={args.seed}",
             "--set", f"train.methods={json.dumps(args.methods)}"]
    results: dict = {"system": {"agents": n, "sources": args.sources, "target": args.target, "gamma": gamma,
                                "horizon": horizon, "source_episodes": args.episodes,
                                "target_episodes": args.target_episodes, "meta_iterations": args.iterations,
                                "runs": args.runs, "eval_episodes": args.eval_episodes}, "routes": {}}

    # references in the simulator at the target
    uniform = lambda states, rng: rng.integers(0, 2, size=states.shape)  # noqa: E731
    expert = lambda states, rng: expert_actions(states, list(edges))  # noqa: E731
    ref = {"uniform": _evaluate(target_sim, [uniform], gamma, horizon, args.eval_episodes, 99)[0],
           "expert heuristic": _evaluate(target_sim, [expert], gamma, horizon, args.eval_episodes, 99)[0]}
    from causalnet.graph import FactoredGraph
    from rl.algorithms import make_trainer
    from rl.gsac import GSACConfig

    start = time.perf_counter()
    direct = make_trainer("sac", target_sim, FactoredGraph(target_sim.spec, {}),
                          config=GSACConfig(gamma=gamma, horizon=horizon), rng=args.seed + 5, n_runs=args.runs)
    direct.iterate(args.direct_iterations)
    ref["SAC trained in the simulator"] = _evaluate(target_sim, direct.policies(), gamma, horizon, args.eval_episodes,
                                                99)[0]
    results["direct_seconds"] = round(time.perf_counter() - start, 1)
    results["references"] = ref

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "net.json").write_text(json.dumps(net))
        if "logs" in args.routes:
            cb = {f"s{i}_0": [0, 1] for i in range(n)} | {f"a{i}": [0, 1] for i in range(n)}
            src = collect_transitions(sim, None, episodes=args.episodes, horizon=horizon,
                                      domain_factors=args.sources, rng=args.seed)
            tgt = collect_transitions(sim, None, episodes=args.target_episodes, horizon=horizon,
                                      domain_factors=[args.target], rng=args.seed + 1)
            write_table(src, tmp / "source.csv", Codebook(cb, [labels[b] for b in args.sources]))
            write_table(tgt, tmp / "target.csv", Codebook(cb, [labels[args.target]]))
            seconds = _cli(["--data", str(tmp / "source.csv"), "--target-data", str(tmp / "target.csv"),
                            "--network", str(tmp / "net.json"), "--out", str(tmp / "logs"), *train])
            out = tmp / "logs"
            codebook = Codebook.load(out / "codebook.json")
            spec = json.loads((out / "network.json").read_text())
            bundle = load_policy(out / "policies" / "target" / "gsac")
            coded = coded_env(target_sim, codebook, bundle.graph.spec)
            mean, per_run = _evaluate(coded, bundle.policies, gamma, horizon, args.eval_episodes, 99)
            factors = json.loads((out / "domain_factors.json").read_text())["coordinates"]
            model = json.loads((out / "metrics.json").read_text())["methods"]["gsac"]["model_based_estimate"]
            results["routes"]["logs"] = {"gsac_in_simulator": mean, "per_run": per_run, "cli_seconds": round(seconds, 1),
                                         "target_estimate": factors["target"], "gamma": spec["gamma"],
                                         "model_based_estimate": model["zero_shot"]["mean"]}
            # the same algorithm and inputs (ACRs of the learned graph) trained directly in the simulator at the target
            start = time.perf_counter()
            same = make_trainer("gsac", target_sim, bundle.graph, config=GSACConfig(gamma=gamma, horizon=horizon),
                                source_factors=np.full((1, n), args.target), rng=args.seed + 6, n_runs=args.runs)
            same.iterate(args.direct_iterations)
            ref["GSAC inputs trained in the simulator"] = _evaluate(
                target_sim, same.policies(w_hat=np.full(n, args.target)), gamma, horizon, args.eval_episodes, 99)[0]
            results["direct_gsac_seconds"] = round(time.perf_counter() - start, 1)
        if "env" in args.routes:
            seconds = _cli(["--env", FACTORY, "--network", str(tmp / "net.json"), "--out", str(tmp / "env"),
                            "--set", f"env.factory_kwargs={{n_agents={n}}}", "--set", "env.domain_kwarg=beta",
                            "--set", f"domains.sources={args.sources}", "--set", f"domains.target={args.target}",
                            "--set", f"data.episodes={args.episodes}",
                            "--set", f"adapt.trajectories={args.target_episodes}", *train])
            sim_eval = json.loads((tmp / "env" / "simulator_evaluation.json").read_text())
            factors = json.loads((tmp / "env" / "domain_factors.json").read_text())["coordinates"]
            results["routes"]["env"] = {"gsac_in_simulator": sim_eval["methods"]["gsac"]["mean"],
                                        "per_run": sim_eval["methods"]["gsac"]["per_run"],
                                        "uniform_in_run": sim_eval["methods"]["uniform"]["mean"],
                                        "cli_seconds": round(seconds, 1), "target_estimate": factors["target"]}
    print(f"SIS epidemic, {n} agents on a ring, sources {args.sources}, unseen target beta {args.target}")
    print(f"{'policy (in the simulator at the target)':<44} {'return':>9}")
    for name, value in ref.items():
        print(f"{name:<44} {value:>9.4f}")
    for route, r in results["routes"].items():
        g = r["gsac_in_simulator"]
        direct = max(v for k, v in ref.items() if "trained in the simulator" in k)
        r["share_of_direct_margin"] = (g - ref["uniform"]) / (direct - ref["uniform"])
        r["share_of_heuristic_margin"] = (g - ref["uniform"]) / (ref["expert heuristic"] - ref["uniform"])
        print(f"{'GSAC zero-shot via ' + route:<44} {g:>9.4f}   share of margin: direct "
              f"{r['share_of_direct_margin']:.2f} (target >= 0.5), heuristic {r['share_of_heuristic_margin']:.2f}"
              f"   [estimated beta {r['target_estimate']:.3f}, run {r['cli_seconds']:.0f} s]")
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "own_system.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
