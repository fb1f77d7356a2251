"""Domain-factor estimation error vs number of target trajectories (wireless benchmark).

Fits a :class:`causalnet.domain_factors.DomainFactorEstimator` on the ground-truth
graph with ``T_e = 20`` trajectories in each source domain (p = 0.2, 0.5, 0.8),
then estimates ``w_hat`` for the target domain (p = 0.65) from 1, 2, 5, ... 100
trajectories, ``--reps`` times each. Prints the mean absolute error (over agents
and replicates), the mean reported standard error, and the log-log slope of the
error against the number of trajectories (theory: -0.5). Writes
``benchmarks/results/domain_factor_error.json``.

Run: ``python benchmarks/domain_factor_error.py [--reps 50] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from causalnet.domain_factors import DomainFactorEstimator
from causalnet.io import atomic_write_json
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions

COUNTS = (1, 2, 5, 10, 20, 50, 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50, help="replicates per trajectory count")
    parser.add_argument("--seed", type=int, default=0, help="root seed")
    parser.add_argument("--target", type=float, default=0.65, help="target arrival probability")
    parser.add_argument("--horizon", type=int, default=10, help="steps per trajectory")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "domain_factor_error.json")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    env = WirelessAccessEnv(3, 4)
    source_seq, *rep_seqs = np.random.SeedSequence(args.seed).spawn(1 + len(COUNTS))
    sources = collect_transitions(env, None, episodes=20, horizon=args.horizon,
                                  domain_factors=[0.2, 0.5, 0.8], rng=np.random.default_rng(source_seq))
    estimator = DomainFactorEstimator(env.true_graph()).fit(sources)
    rows = []
    for count, seq in zip(COUNTS, rep_seqs):
        rng = np.random.default_rng(seq)
        errors, stderrs = [], []
        for _ in range(args.reps):
            target = collect_transitions(env, None, episodes=count, horizon=args.horizon,
                                         domain_factors=[args.target], rng=rng)
            w, se = estimator.estimate(target)
            errors.append(np.abs(w - args.target))
            stderrs.append(se)
        errors, stderrs = np.array(errors), np.array(stderrs)
        rows.append({"trajectories": count, "mean_abs_error": float(errors.mean()),
                     "mean_stderr": float(stderrs.mean()),
                     "coverage_2se": float(np.mean(errors <= 2 * stderrs + 1e-12))})
    x = np.log([r["trajectories"] for r in rows])
    y = np.log([r["mean_abs_error"] for r in rows])
    slope, intercept = np.polyfit(x, y, 1)
    elapsed = time.perf_counter() - start

    print(f"{'trajectories':>12} {'mean |w_hat - p|':>17} {'mean stderr':>12} {'coverage 2se':>13}")
    for r in rows:
        print(f"{r['trajectories']:>12d} {r['mean_abs_error']:>17.5f} {r['mean_stderr']:>12.5f} "
              f"{r['coverage_2se']:>13.3f}")
    print(f"log-log slope: {slope:.3f} (theory -0.5); {elapsed:.1f} s")
    atomic_write_json(args.out, {
        "benchmark": "domain_factor_error", "env": env.config(), "source_domains": [0.2, 0.5, 0.8],
        "source_trajectories_per_domain": 20, "target": args.target, "horizon": args.horizon,
        "reps": args.reps, "seed": args.seed, "rows": rows, "loglog_slope": float(slope),
        "loglog_intercept": float(intercept), "seconds": elapsed})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
