"""Reproduce the reference tabular SAC learning curve on the wireless benchmark.

Configuration of the reference code (``yihenglin97/Networked-MARL``, ``WirelessAccess/``):
``WirelessAccessEnv(3, 4, users_per_vertex=2)`` (24 users, 6 APs, random q), deadline 2,
arrival 0.5, kappa = 1, gamma = 0.7, T = 10, persistent critic with step
``1/sqrt((k mod 100) T + t)``, actor step ``5/sqrt((k mod 100) + 1)``, actor on the
agent's own state, evaluation every 2000 outer iterations with 400 rollouts
(mean over agents of ``sum_{t<10} 0.7^t r_i(t)``).

Prints our curve beside the reference figures and writes
``benchmarks/results/sac_reference_curve.json``.

Usage::

    python benchmarks/sac_reference_curve.py [--iterations 120000] [--seed 0] [--runs 1]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from pathlib import Path

import numpy as np

from causalnet.io import atomic_write_json
from rl.envs import WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer

#: The reference code's logged curve (Tabular-Access-3-4-1.txt): evaluation after
#: 0, 2000, 4000, ... iterations. Facts from the public log, used for comparison only.
REFERENCE_CURVE = [
    0.020078, 0.021051, 0.023801, 0.024598, 0.027024, 0.029291, 0.034220, 0.036620, 0.042617, 0.047452,
    0.049064, 0.055711, 0.058386, 0.068307, 0.074373, 0.076974, 0.083572, 0.090158, 0.094590, 0.100553,
    0.102344, 0.109538, 0.114466, 0.122124, 0.131270, 0.135291, 0.143573, 0.150482, 0.151782, 0.157805,
    0.160653, 0.165342, 0.176076, 0.175890, 0.184463, 0.186417, 0.182227, 0.190985, 0.184591, 0.193089,
    0.198337, 0.193286, 0.203525, 0.200555, 0.201798, 0.203909, 0.211421, 0.216754, 0.218385, 0.217365,
    0.218383, 0.222536, 0.230217, 0.220459, 0.231400, 0.238660, 0.239292, 0.235691, 0.237121, 0.240485,
    0.241448,
]
EVAL_EVERY = 2000
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=1, help="independent seeds advanced together")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--timing", choices=["current", "post_transition"], default="current",
                        help="critic key (s_t, a_t) or the reference code's effective (s_{t+1}, a_t)")
    parser.add_argument("--output", type=Path, default=RESULTS / "sac_reference_curve.json")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)

    env = WirelessAccessEnv(3, 4, users_per_vertex=2, deadline=2, arrival=0.5, transmit="random")
    config = GSACConfig.reference_sac(kappa=1, gamma=0.7, horizon=10, restart=100, actor_lr=5.0,
                                      critic_timing=args.timing)
    seeds = np.random.SeedSequence(args.seed).spawn(args.runs) if args.runs > 1 else [args.seed]
    trainer = GSACTrainer(env, env.true_graph(), config, rng=list(seeds))
    start = time.perf_counter()

    def report(tr: GSACTrainer) -> None:
        if tr.iteration % 10_000 == 0:
            print(f"  iteration {tr.iteration:>6}: {time.perf_counter() - start:7.1f} s", flush=True)

    result = trainer.run(args.iterations, eval_every=EVAL_EVERY, eval_episodes=args.episodes,
                         progress=args.progress, callback=report)
    wall = time.perf_counter() - start
    ours = result.eval_returns.mean(axis=0)
    iters = result.eval_iterations

    print(f"{'iteration':>9} | {'ours':>7} | {'reference':>9}")
    for k, value in zip(iters, ours):
        j = int(k) // EVAL_EVERY
        ref = f"{REFERENCE_CURVE[j]:.4f}" if j < len(REFERENCE_CURVE) else ""
        if k % 10_000 == 0 or k in (38_000, 84_000) or k == iters[-1]:
            print(f"{int(k):>9} | {value:7.4f} | {ref:>9}")

    def at(k: int) -> float | None:
        hit = np.flatnonzero(iters == k)
        return float(ours[hit[0]]) if hit.size else None

    def first_reaching(level: float) -> int | None:
        hit = np.flatnonzero(ours >= level)
        return int(iters[hit[0]]) if hit.size else None

    summary = {
        "ours_at_38k": at(38_000), "ours_at_84k": at(84_000), "ours_at_120k": at(120_000),
        "reference_at_38k": REFERENCE_CURVE[19], "reference_at_84k": REFERENCE_CURVE[42],
        "reference_at_120k": REFERENCE_CURVE[60],
        "ours_first_iteration_reaching_0.10": first_reaching(0.10),
        "ours_first_iteration_reaching_0.20": first_reaching(0.20),
        "ours_max": float(ours.max()) if ours.size else None,
        "ours_final": float(ours[-1]) if ours.size else None,
    }
    print("summary:", summary)
    print(f"train {result.train_seconds:.1f} s ({args.iterations * args.runs / result.train_seconds:.0f} "
          f"iterations/s aggregate), evaluation {result.eval_seconds:.1f} s, wall {wall:.1f} s, "
          f"critic entries {result.critic_entries}, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    payload = {
        "benchmark": "sac_reference_curve", "config": config.to_dict(), "env": env.config(),
        "iterations": args.iterations, "seed": args.seed, "runs": args.runs, "eval_every": EVAL_EVERY,
        "eval_episodes": args.episodes, "eval_iterations": iters.tolist(),
        "ours_mean_over_runs": ours.tolist(), "ours_per_run": result.eval_returns.tolist(),
        "ours_std_err_per_run": result.eval_std_err.tolist(),
        "reference_curve": REFERENCE_CURVE, "summary": summary,
        "train_seconds": result.train_seconds, "eval_seconds": result.eval_seconds,
        "critic_entries": result.critic_entries, "critic_table_mb": trainer.critic.nbytes() / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "machine": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__,
    }
    atomic_write_json(args.output, payload)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
