"""Continuous domain factors: estimation error vs number of target trajectories T_e.

Builds a linear :class:`rl.envs.SyntheticContinuousEnv` (``--agents`` agents, seed
``--seed``), fits :class:`causalnet.ContinuousDomainFactorEstimator` on its true
graph with ``--source`` trajectories in each source domain (w = 0.2, 0.5, 0.8),
then estimates ``w_hat`` for the target domain (``--target``) from T_e = 2, 5,
10, ... 200 trajectories of 10 steps, ``--reps`` times each. The reference is the
exact value: the estimator's projection of the environment's exact parameters
(:meth:`SyntheticContinuousEnv.linear_parameters`) in the target domain. Prints
the mean absolute error of ``w_hat`` and of the kept parameters, the mean
reported standard error, the coverage of ``w_hat +- 2 se`` and the fitted
log-log slope (theory: -1/2). Writes
``benchmarks/results/continuous_domain_factors.json`` and ``.png``.

Run: ``python benchmarks/continuous_domain_factors.py [--reps 30] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from causalnet.domain_factors_continuous import ContinuousDomainFactorEstimator
from causalnet.io import atomic_write_json
from rl.envs.synthetic_continuous import SyntheticContinuousEnv
from rl.rollout import collect_transitions

COUNTS = (2, 5, 10, 20, 50, 100, 200)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--reps", type=int, default=30, help="replicates per T_e")
    parser.add_argument("--source", type=int, default=300, help="trajectories per source domain")
    parser.add_argument("--target", type=float, default=0.65, help="target domain factor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "continuous_domain_factors.json")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    env = SyntheticContinuousEnv.random(args.agents, rng=args.seed)
    source_seq, *rep_seqs = np.random.SeedSequence(args.seed).spawn(1 + len(COUNTS))
    sources = collect_transitions(env, None, episodes=args.source, horizon=10, domain_factors=[0.2, 0.5, 0.8],
                                  rng=np.random.default_rng(source_seq))
    est = ContinuousDomainFactorEstimator(env.true_graph()).fit(sources)
    owners = sorted({env.spec.owner(t) for t in est.affected_})
    exact_theta = {t: env.linear_parameters(t, args.target) for t in est.affected_}
    exact_w = np.array([est.project(a, exact_theta) for a in owners])
    kept = {t: np.isin(est.labels(t), est.changing_[t]) for t in est.affected_}
    rows = []
    for count, seq in zip(COUNTS, rep_seqs):
        rng = np.random.default_rng(seq)
        w_err, p_err, ses = [], [], []
        for _ in range(args.reps):
            target = collect_transitions(env, None, episodes=count, horizon=10, domain_factors=[args.target], rng=rng)
            w, se = est.estimate(target)
            w_err.append(np.abs(w[owners] - exact_w))
            ses.append(se[owners])
            fits = {f.name: f.fit(target, "target")[0] for f in est._fits}
            p_err.append(np.concatenate([np.abs(fits[t] - exact_theta[t])[kept[t]] for t in est.affected_]))
        w_err, ses, p_err = np.array(w_err), np.array(ses), np.array(p_err)
        rows.append({"trajectories": count, "mean_abs_error_w": float(w_err.mean()),
                     "mean_abs_error_params": float(p_err.mean()), "mean_stderr": float(ses.mean()),
                     "coverage_2se": float(np.mean(w_err <= 2 * ses))})
    x = np.log([r["trajectories"] for r in rows])
    slope_w, icpt_w = np.polyfit(x, np.log([r["mean_abs_error_w"] for r in rows]), 1)
    slope_p, _ = np.polyfit(x, np.log([r["mean_abs_error_params"] for r in rows]), 1)
    elapsed = time.perf_counter() - start

    print(f"{env.n_agents} agents, {len(est.affected_)} affected coordinates, changing parameters: "
          f"{sum(len(v) for v in est.changing_.values())}")
    print(f"{'T_e':>5} {'mean |w_hat - w|':>17} {'mean |theta err|':>17} {'mean stderr':>12} {'coverage 2se':>13}")
    for r in rows:
        print(f"{r['trajectories']:>5d} {r['mean_abs_error_w']:>17.5f} {r['mean_abs_error_params']:>17.5f} "
              f"{r['mean_stderr']:>12.5f} {r['coverage_2se']:>13.3f}")
    print(f"log-log slope: w_hat {slope_w:.3f}, parameters {slope_p:.3f} (theory -0.5); {elapsed:.1f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, {
        "benchmark": "continuous_domain_factors", "env": env.config(), "source_domains": [0.2, 0.5, 0.8],
        "source_trajectories_per_domain": args.source, "target": args.target, "horizon": 10, "reps": args.reps,
        "seed": args.seed, "changing": est.changing_, "rows": rows, "loglog_slope_w": float(slope_w),
        "loglog_slope_params": float(slope_p), "seconds": elapsed})
    _plot(rows, slope_w, icpt_w, args.out.with_suffix(".png"))
    return 0


def _plot(rows: list[dict], slope: float, intercept: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r["trajectories"] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.loglog(t, [r["mean_abs_error_w"] for r in rows], "o-", label="mean |w_hat - w|")
    ax.loglog(t, [r["mean_stderr"] for r in rows], "s--", label="mean reported stderr")
    ax.loglog(t, np.exp(intercept) * t ** slope, ":", color="k", label=f"fit: slope {slope:.2f}")
    ax.set_xlabel("target trajectories T_e")
    ax.set_ylabel("error")
    ax.set_title("continuous domain factors")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
