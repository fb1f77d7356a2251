"""The paper's adaptation claims on the traffic grid, with max-pressure and fixed-time rows.

For each grid size: meta-train on the source arrival rates, deploy zero-shot in unseen
target rates, and compare with the baselines. Every learner is the linear one-hot
localized actor-critic of :mod:`rl.actors_linear` (the tabular actor cannot hold a
traffic policy ACR of 10-16 queue coordinates); methods differ only in inputs and
domain features, as in ``benchmarks/paper_claims.py``:

* **GSAC**: ACR inputs of the true graph, features ``[1, w]``; zero-shot with ``w_hat``
  estimated from ``T_a`` = 20 uniform-policy target trajectories (one estimate per seed;
  intersections without a boundary queue, whose factor the estimator cannot see, take
  the mean of the others);
* **SAC-MTL**: truncation inputs, one-hot of the nearest source (same estimate);
* **SAC-LFS**: truncation inputs, constant features, trained in the target: after 30
  target episodes, and "converged" after ``--lfs-iterations`` iterations of 16 episodes;
* **max-pressure** (Varaiya 2013), **fixed-time** (2 steps per phase), **uniform**.

Rewards are negative (minus queues), so C3 "within 5% of converged SAC-LFS" is read on
the improvement over uniform: ``GSAC - uniform >= 0.95 (LFS - uniform)``. Every value is the
mean over agents of ``sum_{t<10} 0.7^t r_i(t)``, ``--eval-episodes`` rollouts per seed
(seed ``r`` of every method uses the same evaluation stream). 95% CIs: Student-t over
seeds; differences: Welch.

A GSAC run with truncation inputs (``GSAC-trunc``) is meta-trained beside the others for
the ACR-vs-truncation table: parameter counts and the training curves in the middle
target with the true factor.

Run::

    python benchmarks/traffic_claims.py            # 2x2 and 3x3, targets 0.15 0.3 0.5, 5 seeds
    python benchmarks/traffic_claims.py --quick    # 2x2, 3 seeds, short training
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _experiments import difference_summary, machine_info, seed_summary  # noqa: E402

from causalnet.domain_factors import DomainFactorEstimator  # noqa: E402
from causalnet.io import atomic_write_json  # noqa: E402
from rl.actors_linear import LinearACConfig, LinearActorCritic  # noqa: E402
from rl.adaptation import estimate_target_factor  # noqa: E402
from rl.envs.traffic import TrafficGridEnv  # noqa: E402
from rl.evaluation import discounted_return  # noqa: E402
from rl.policies import FixedTimePolicy, MaxPressurePolicy, UniformPolicy  # noqa: E402
from rl.rollout import collect_transitions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SOURCES = (0.1, 0.25, 0.4)
TARGETS = (0.15, 0.3, 0.5)
GAMMA, HORIZON = 0.7, 10


def _evaluate(env, policies, streams, episodes: int) -> np.ndarray:
    """One value per seed: policy ``r`` (or the one shared policy) on evaluation stream ``r``."""
    out = np.empty(len(streams))
    for r, stream in enumerate(streams):
        pol = policies[r] if isinstance(policies, list) else policies
        out[r] = discounted_return(env, pol, gamma=GAMMA, horizon=HORIZON, episodes=episodes,
                                   rng=np.random.default_rng(stream)).mean
    return out


def _first_reaching(iters: list[int], curve: np.ndarray, level: float) -> int | None:
    hit = np.flatnonzero(curve >= level)
    return int(iters[hit[0]]) if hit.size else None


def run_grid(rows: int, cols: int, *, seeds: int, meta_iterations: int, lfs_iterations: int,
             eval_episodes: int, targets: Sequence[float], sources: Sequence[float], seed: int = 0,
             curve_points: int = 4) -> dict[str, Any]:
    """Everything for one grid size (see the module docstring)."""
    start = time.perf_counter()
    env = TrafficGridEnv(rows, cols)
    graph = env.true_graph()
    ss = np.random.SeedSequence([seed, rows, cols])
    s_est, s_meta, s_target = ss.spawn(3)
    data = collect_transitions(env, None, episodes=20, horizon=HORIZON, domain_factors=list(sources),
                               rng=np.random.default_rng(s_est))
    estimator = DomainFactorEstimator(graph).fit(data)
    methods = {"gsac": ("acr", "linear"), "sac-mtl": ("truncation", "source_onehot"),
               "gsac-trunc": ("truncation", "linear")}
    middle = float(targets[len(targets) // 2])
    curve_env = env.with_domain_factor(middle)
    curve_streams = np.random.SeedSequence([seed, 99]).spawn(seeds)
    trainers, curves = {}, {}
    for (name, (inputs, feats)), child in zip(methods.items(), s_meta.spawn(len(methods))):
        tr = LinearActorCritic(env, graph, LinearACConfig(inputs=inputs, features=feats),
                               domain_factors=list(sources), rng=child, n_runs=seeds)
        iters, values = [0], [_evaluate(curve_env, tr.policies(w_hat=middle), curve_streams, eval_episodes // 2)]
        step = max(1, meta_iterations // curve_points)
        while tr.iteration < meta_iterations:
            tr.iterate(min(step, meta_iterations - tr.iteration))
            iters.append(tr.iteration)
            values.append(_evaluate(curve_env, tr.policies(w_hat=middle), curve_streams, eval_episodes // 2))
        trainers[name] = tr
        curves[name] = {"iterations": iters, "per_seed": np.array(values).T.tolist(),
                        "mean": [float(v.mean()) for v in values], "train_seconds": tr.train_seconds,
                        "sizes": tr.sizes()}
    uniform_curve = _evaluate(curve_env, UniformPolicy(env.action_counts), curve_streams, eval_episodes // 2)
    per_target = []
    for target, child in zip(targets, s_target.spawn(len(targets))):
        s_w, s_eval, s_lfs30, s_lfs = child.spawn(4)
        tenv = env.with_domain_factor(target)
        streams = s_eval.spawn(seeds)
        w_rows = []
        for c in s_w.spawn(seeds):
            w, _ = estimate_target_factor(estimator, env, target, trajectories=20, horizon=HORIZON,
                                          rng=np.random.default_rng(c))
            w_rows.append(np.where(np.isfinite(w), w, np.nanmean(w)))
        values: dict[str, np.ndarray] = {}
        for name in ("gsac", "sac-mtl"):
            pols = [trainers[name].policy(r, w_hat=w_rows[r]) for r in range(seeds)]
            values[name] = _evaluate(tenv, pols, streams, eval_episodes)
        lfs30 = LinearActorCritic(env, graph, LinearACConfig(inputs="truncation", features="constant", episodes=1),
                                  domain_factors=[target], rng=s_lfs30, n_runs=seeds)
        lfs30.iterate(30)
        values["sac-lfs-30"] = _evaluate(tenv, lfs30.policies(w_hat=target), streams, eval_episodes)
        lfs = LinearActorCritic(env, graph, LinearACConfig(inputs="truncation", features="constant"),
                                domain_factors=[target], rng=s_lfs, n_runs=seeds)
        lfs.iterate(lfs_iterations)
        values["sac-lfs"] = _evaluate(tenv, lfs.policies(w_hat=target), streams, eval_episodes)
        values["max-pressure"] = _evaluate(tenv, MaxPressurePolicy(env), streams, eval_episodes)
        values["fixed-time"] = _evaluate(tenv, FixedTimePolicy(env, green=2), streams, eval_episodes)
        values["uniform"] = _evaluate(tenv, UniformPolicy(env.action_counts), streams, eval_episodes)
        g, u = values["gsac"], values["uniform"]
        lfs_gain, g_gain = values["sac-lfs"] - u, g - u
        per_target.append({
            "target": float(target),
            "w_hat_mean_abs_error": float(np.mean(np.abs(np.array(w_rows) - target))),
            "values": {k: seed_summary(v) for k, v in values.items()},
            "claims": {
                "C1_gsac_minus_mtl": difference_summary(g, values["sac-mtl"]),
                "C2_gsac_minus_lfs30": difference_summary(g, values["sac-lfs-30"]),
                "C3_gain_ratio": float(g_gain.mean() / lfs_gain.mean()) if lfs_gain.mean() != 0 else None,
                "C3_gsac_gain_minus_095_lfs_gain": difference_summary(g_gain, 0.95 * lfs_gain),
                "gsac_minus_fixed_time": difference_summary(g, values["fixed-time"]),
                "gsac_minus_uniform": difference_summary(g, u),
                "gsac_minus_max_pressure": difference_summary(g, values["max-pressure"])}})
    # iterations to equal return: the first curve point reaching 90% of the lower final gain over uniform
    u_mean = float(uniform_curve.mean())
    finals = {k: curves[k]["mean"][-1] - u_mean for k in ("gsac", "gsac-trunc")}
    level = u_mean + 0.9 * min(finals.values())
    for k in ("gsac", "gsac-trunc"):
        per_seed = np.array(curves[k]["per_seed"])
        curves[k]["iterations_to_90pct_of_lower_final"] = [
            _first_reaching(curves[k]["iterations"], row, level) for row in per_seed]
    return {"rows": rows, "cols": cols, "agents": env.n_agents, "sources": list(sources), "targets": list(targets),
            "seeds": seeds, "meta_iterations": meta_iterations, "lfs_iterations": lfs_iterations,
            "eval_episodes": eval_episodes, "curve_target": middle, "uniform_curve": seed_summary(uniform_curve),
            "curves": curves, "per_target": per_target, "seconds": time.perf_counter() - start}


def _fmt(s: dict[str, Any], digits: int = 3) -> str:
    lo, hi = s["ci95"]
    return f"{s['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _verdict(diff: dict[str, Any]) -> str:
    lo, hi = diff["ci95"]
    sign = "PASS" if diff["mean"] > 0 else "FAIL"
    return sign + ("" if (lo > 0 or hi < 0) else "*")


def markdown(results: list[dict[str, Any]]) -> str:
    """The claims, baseline and ACR-vs-truncation tables as Markdown."""
    lines = ["| grid | target | GSAC zero-shot | SAC-MTL zero-shot | SAC-LFS 30 ep. | SAC-LFS conv. | max-pressure "
             "| fixed-time | uniform |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        for t in res["per_target"]:
            v = t["values"]
            lines.append(f"| {res['rows']}x{res['cols']} | {t['target']} | " + " | ".join(
                _fmt(v[k]) for k in ("gsac", "sac-mtl", "sac-lfs-30", "sac-lfs", "max-pressure", "fixed-time",
                                     "uniform")) + " |")
    lines += ["", "| grid | target | C1: GSAC - MTL | C2: GSAC - LFS(30) | C3: gain ratio (GSAC gain - 0.95 LFS gain) "
              "| GSAC - fixed-time | GSAC - uniform | GSAC - max-pressure |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        for t in res["per_target"]:
            c = t["claims"]
            d = lambda k: f"{c[k]['mean']:+.3f} [{c[k]['ci95'][0]:+.3f}, {c[k]['ci95'][1]:+.3f}] {_verdict(c[k])}"
            ratio = "n/a" if c["C3_gain_ratio"] is None else f"{c['C3_gain_ratio']:.3f}"
            lines.append(f"| {res['rows']}x{res['cols']} | {t['target']} | {d('C1_gsac_minus_mtl')} | "
                         f"{d('C2_gsac_minus_lfs30')} | {ratio} ({d('C3_gsac_gain_minus_095_lfs_gain')}) | "
                         f"{d('gsac_minus_fixed_time')} | {d('gsac_minus_uniform')} | {d('gsac_minus_max_pressure')} |")
    lines += ["", "| grid | inputs | mean policy inputs | mean critic state inputs | actor weights | critic weights "
              "| final return (target " + str(results[0]["curve_target"]) + ") | iterations to 90% of the lower "
              "final gain (per seed) |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for res in results:
        for k, label in (("gsac", "ACR"), ("gsac-trunc", "truncation")):
            cv = res["curves"][k]
            sz = cv["sizes"]
            final = seed_summary(np.array(cv["per_seed"])[:, -1])
            its = ", ".join("-" if i is None else str(i) for i in cv["iterations_to_90pct_of_lower_final"])
            lines.append(f"| {res['rows']}x{res['cols']} | {label} | {sz['mean_policy_inputs']:.2f} | "
                         f"{sz['mean_critic_state_inputs']:.2f} | {sz['actor_weights']:,} | {sz['critic_weights']:,} | "
                         f"{_fmt(final)} | {its} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["2x2", "3x3"], help="grid sizes RxC (default 2x2 3x3)")
    parser.add_argument("--targets", type=float, nargs="+", default=list(TARGETS))
    parser.add_argument("--sources", type=float, nargs="+", default=list(SOURCES))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--meta-iterations", type=int, default=120)
    parser.add_argument("--lfs-iterations", type=int, default=120)
    parser.add_argument("--eval-episodes", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="2x2, 3 seeds, 40 iterations, 300 rollouts")
    parser.add_argument("--output", type=Path, default=RESULTS / "traffic_claims.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.seeds, args.meta_iterations, args.lfs_iterations, args.eval_episodes = \
            ["2x2"], 3, 40, 40, 300
    results = []
    for size in args.sizes:
        try:
            rows, cols = (int(x) for x in size.lower().split("x"))
        except ValueError:
            parser.error(f"--sizes: expected RxC such as 3x3, got {size!r}")
        res = run_grid(rows, cols, seeds=args.seeds, meta_iterations=args.meta_iterations,
                       lfs_iterations=args.lfs_iterations, eval_episodes=args.eval_episodes,
                       targets=args.targets, sources=args.sources)
        print(f"{size}: {res['seconds']:.0f} s", flush=True)
        results.append(res)
        atomic_write_json(args.output, {"settings": vars(args) | {"output": str(args.output)},
                                        "machine": machine_info(), "grids": results})
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
