"""Function-approximation GSAC on the networked LQR benchmark, against the exact Riccati optimum.

Three parts (all on :class:`rl.envs.lqr.NetworkedLQREnv`, load-level domain factor,
two distractor coordinates per agent, sources ``w in {0.2, 0.5, 0.8}``, unseen target
``w = 0.65``, discount 0.95):

* ``zero_shot`` -- 16 agents (ring), ``--seeds`` independent runs of GSAC
  (:class:`rl.fa_gsac.FAGSACTrainer`, ACR inputs of the true graph) trained on the
  sources only, deployed in the target with the target's factor as ``w_hat``. Reported:
  the exact discounted cost of each run's mean policy divided by the centralized
  optimum (:func:`rl.lqr_reference.optimal_discounted`), mean and 95% CI over runs; and
  the references: best decentralized feedback on the policy-ACR pattern (L-BFGS on
  the exact cost), best feedback on the agent's own state only, the optimal gain
  without the load offset, and the zero policy.
* ``ablation`` -- the same runs with ``inputs="truncation"`` (critic on every coordinate
  of ``N_i^1``, actor on every coordinate of ``N_i^1``: distractors included):
  cost ratio against environment samples, and the samples (transitions per run) after
  which the mean ratio over runs first reaches the truncation's final mean (equal
  cost) and 1.05.
* ``scale`` -- 1024 agents end to end (environment, true graph, source data, training,
  exact evaluation against the Riccati optimum): wall time per phase and peak memory
  (``tracemalloc`` peak of numpy allocations and the process's maximum resident size).

Writes ``benchmarks/results/lqr_fa_gsac.json`` and prints tables.

Usage::

    python benchmarks/lqr_fa_gsac.py [--parts zero_shot ablation scale] [--seeds 5]
        [--iterations 20] [--scale-agents 1024] [--scale-iterations 8]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _experiments import machine_info, seed_summary  # noqa: E402

from causalnet.io import atomic_write_json, json_ready  # noqa: E402
from rl.envs.lqr import NetworkedLQREnv  # noqa: E402
from rl.fa_gsac import FAGSACConfig, FAGSACTrainer  # noqa: E402
from rl.lqr_reference import (AffinePolicy, best_decentralized_feedback, optimal_discounted,  # noqa: E402
                              policy_cost)
from rl.rollout import collect_transitions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SOURCES = (0.2, 0.5, 0.8)
TARGET = 0.65
GAMMA = 0.95


def make_env(n_agents: int) -> NetworkedLQREnv:
    """The benchmark's environment (defaults of :class:`NetworkedLQREnv`, two distractors)."""
    return NetworkedLQREnv(n_agents, distractors=2)


def pattern_of(env: NetworkedLQREnv, agents_of) -> np.ndarray:
    """Gain pattern: agent ``i`` reads ``x_j`` for ``j in agents_of(i)``."""
    pat = np.zeros((env.n_agents, env.spec.n_state), dtype=bool)
    for i in range(env.n_agents):
        pat[i, env.x_columns[agents_of(i)]] = True
    return pat


def references(env: NetworkedLQREnv) -> dict[str, Any]:
    """Exact costs of the reference policies in the target domain."""
    sys_t = env.with_domain_factor(TARGET).linear_system()
    opt = optimal_discounted(sys_t, gamma=GAMMA)
    dec = best_decentralized_feedback(sys_t, pattern_of(env, lambda i: env.spec.neighborhood(i, 1)), gamma=GAMMA)
    own = best_decentralized_feedback(sys_t, pattern_of(env, lambda i: [i]), gamma=GAMMA)
    m, n = env.spec.n_state, env.n_agents
    return {"optimum_cost": opt.cost,
            "ratios": {"best_decentralized_policy_acr": dec.cost / opt.cost,
                       "best_decentralized_own_state": own.cost / opt.cost,
                       "optimal_gain_without_load_offset": policy_cost(sys_t, AffinePolicy(opt.K, np.zeros(n)),
                                                                        gamma=GAMMA) / opt.cost,
                       "zero_policy": policy_cost(sys_t, AffinePolicy(np.zeros((n, m)), np.zeros(n)),
                                                  gamma=GAMMA) / opt.cost}}


def train_curves(env: NetworkedLQREnv, inputs: str, *, seeds: int, iterations: int,
                 config: FAGSACConfig) -> dict[str, Any]:
    """Train ``seeds`` runs with ``inputs``; exact target cost after every iteration."""
    cfg = FAGSACConfig(**{**config.to_dict(), "inputs": inputs})
    trainer = FAGSACTrainer(env, env.true_graph(), cfg, domain_factors=list(SOURCES), rng=2024, n_runs=seeds)
    res = trainer.run(iterations, eval_every=1, eval_env=env.with_domain_factor(TARGET),
                      eval_w_hat=np.full(env.n_agents, TARGET))
    return {"inputs": inputs, "samples": res.eval_samples.tolist(), "costs": res.eval_costs,
            "train_seconds": res.train_seconds, "critic_features": trainer.inputs.n_critic_features,
            "actor_parameters": trainer.inputs.n_policy_parameters}


def samples_to_reach(samples: np.ndarray, ratios: np.ndarray, level: float) -> list[float | None]:
    """Per run: the first sample count at which the cost ratio is ``<= level`` (None: never)."""
    out: list[float | None] = []
    for row in ratios:
        hit = np.flatnonzero(row <= level)
        out.append(float(samples[hit[0]]) if hit.size else None)
    return out


def part_zero_shot_and_ablation(args, result: dict[str, Any]) -> None:
    env = make_env(args.agents)
    ref = references(env)
    result["references"] = ref
    opt = ref["optimum_cost"]
    config = FAGSACConfig(gamma=GAMMA, episodes=args.episodes, horizon=args.horizon)
    result["config"] = config.to_dict()
    modes = ["acr", "truncation"] if "ablation" in args.parts else ["acr"]
    curves = {mode: train_curves(env, mode, seeds=args.seeds, iterations=args.iterations, config=config)
              for mode in modes}
    for mode, c in curves.items():
        ratios = c.pop("costs") / opt
        c["ratio_curve_mean"] = ratios.mean(axis=0)
        c["final_ratio"] = seed_summary(ratios[:, -1])
        c["ratios"] = ratios
    result["zero_shot"] = {"n_agents": env.n_agents, "target": TARGET, "sources": list(SOURCES),
                           "gsac_acr_ratio": curves["acr"]["final_ratio"]}
    print(f"\n== zero-shot, {env.n_agents} agents, target w={TARGET} (cost / Riccati optimum, "
          f"{args.seeds} seeds, {args.iterations} iterations) ==")
    fr = curves["acr"]["final_ratio"]
    print(f"GSAC (ACR)                         {fr['mean']:.4f}  95% CI [{fr['ci95'][0]:.4f}, {fr['ci95'][1]:.4f}]")
    for name, value in ref["ratios"].items():
        print(f"{name:34s} {value:.4f}")
    if "truncation" in curves:
        acr, trunc = curves["acr"], curves["truncation"]
        equal = float(trunc["ratio_curve_mean"][-1])
        levels = {"truncation_final_mean": equal, "1.05": 1.05}
        reach = {}
        for label, level in levels.items():
            reach[label] = {"level": level}
            for mode, c in curves.items():
                per_run = samples_to_reach(np.asarray(c["samples"]), c["ratios"], level)
                mean_curve = samples_to_reach(np.asarray(c["samples"]), c["ratio_curve_mean"][None], level)[0]
                reach[label][mode] = {"mean_curve": mean_curve, "per_run": per_run,
                                      "reached": sum(v is not None for v in per_run)}
        result["ablation"] = {"curves": curves, "samples_to_reach": reach}
        print("\n== ACR vs truncation: transitions per run until the mean cost ratio over runs reaches a level "
              "(runs that reach it on their own) ==")
        print(f"{'level':>28s} {'acr':>12s} {'truncation':>12s}")
        for label, r in reach.items():
            fmt = lambda d: "never" if d["mean_curve"] is None else f"{d['mean_curve']:.0f} ({d['reached']}/{args.seeds})"
            print(f"{label + ' ' + format(r['level'], '.4f'):>28s} {fmt(r['acr']):>12s} {fmt(r['truncation']):>12s}")
        print(f"final ratio: acr {acr['final_ratio']['mean']:.4f}, truncation {trunc['final_ratio']['mean']:.4f}; "
              f"critic features per agent {acr['critic_features']} vs {trunc['critic_features']}")
    else:
        result["ablation"] = {"curves": curves}


def part_scale(args, result: dict[str, Any]) -> None:
    n = args.scale_agents
    phases: dict[str, float] = {}
    tracemalloc.start()
    t = time.perf_counter()
    env = make_env(n)
    graph = env.true_graph()
    phases["environment_and_true_graph"] = time.perf_counter() - t
    t = time.perf_counter()
    data = collect_transitions(env, None, episodes=4, horizon=args.horizon, domain_factors=list(SOURCES), rng=0)
    phases["source_data_collection"] = time.perf_counter() - t
    t = time.perf_counter()
    cfg = FAGSACConfig(gamma=GAMMA, episodes=args.scale_episodes, horizon=args.horizon)
    trainer = FAGSACTrainer(env, graph, cfg, domain_factors=list(SOURCES), rng=7)
    trainer.iterate(args.scale_iterations)
    phases["training"] = time.perf_counter() - t
    t = time.perf_counter()
    # the distractors are independent of x and cost-free, and the ACR policy ignores them: the
    # x-only system gives the same costs at a third of the size
    policy = trainer.policy(0, np.full(n, TARGET)).affine()
    reduced = AffinePolicy(policy.K[:, env.x_columns], policy.k)
    if np.any(np.delete(policy.K, env.x_columns, axis=1)):
        raise RuntimeError("the ACR policy reads a distractor coordinate")
    sys_t = env.with_domain_factor(TARGET).linear_system(include_distractors=False)
    opt = optimal_discounted(sys_t, gamma=GAMMA)
    ratio = policy_cost(sys_t, reduced, gamma=GAMMA) / opt.cost
    phases["riccati_and_exact_evaluation"] = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result["scale"] = {"n_agents": n, "state_coordinates": env.spec.n_state, "iterations": args.scale_iterations,
                       "episodes_per_iteration": args.scale_episodes, "source_rows": len(data),
                       "seconds": phases, "total_seconds": float(sum(phases.values())),
                       "seconds_per_iteration": phases["training"] / max(args.scale_iterations, 1),
                       "tracemalloc_peak_mb": peak / 1e6,
                       "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
                       "zero_shot_ratio": ratio}
    print(f"\n== {n} agents end to end ({env.spec.n_state} state coordinates) ==")
    for name, sec in phases.items():
        print(f"{name:34s} {sec:8.1f} s")
    print(f"peak numpy memory {peak / 1e6:.0f} MB, max RSS "
          f"{result['scale']['max_rss_mb']:.0f} MB; zero-shot cost ratio after {args.scale_iterations} "
          f"iterations {ratio:.4f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=["zero_shot", "ablation", "scale"],
                        choices=["zero_shot", "ablation", "scale"])
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--horizon", type=int, default=40)
    parser.add_argument("--scale-agents", type=int, default=1024)
    parser.add_argument("--scale-iterations", type=int, default=8)
    parser.add_argument("--scale-episodes", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS / "lqr_fa_gsac.json")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"machine": machine_info(), "gamma": GAMMA,
                              "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    if "zero_shot" in args.parts or "ablation" in args.parts:
        part_zero_shot_and_ablation(args, result)
    if "scale" in args.parts:
        part_scale(args, result)
    atomic_write_json(args.out, json_ready(result))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
