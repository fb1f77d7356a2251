"""The GSAC paper's adaptation claims on the wireless benchmark, with error bars over seeds.

For each grid size ``g`` (``WirelessAccessEnv.from_grid(g)``: g x g APs, (g+1)^2 users,
deadline 2, reference "random" q_k), source domains ``w in {0.2, 0.5, 0.8}`` (arrival
probability) and targets ``{0.6, 0.65, 0.7}``, ``n_seeds`` independent runs (advanced
together via ``n_runs``):

1. **Domain factors.** ``T_e`` uniform-policy trajectories (10 steps) per source domain;
   :class:`causalnet.domain_factors.DomainFactorEstimator` on the **true** graph gives the
   sources' ``w_hat`` (one draw per grid, shared by the seeds). In each target, each seed
   collects its own ``T_a`` uniform-policy trajectories and estimates its ``w_hat`` with the
   fitted estimator (:func:`rl.adaptation.deploy_zero_shot`; Phase 4 of the paper, no
   policy update). GSAC and SAC-MTL run ``r`` see the same target trajectories.
2. **GSAC** (``make_trainer("gsac")``: ACR inputs, actor linear in ``[1, w_hat]``) and
   **SAC-MTL** (``"sac-mtl"``: truncation inputs, one-hot code of the nearest source)
   are meta-trained on the sources for ``meta_iterations`` outer iterations, then deployed
   zero-shot in every target with that seed's estimated ``w_hat``.
3. **SAC-LFS** (``"sac-lfs"``) learns from scratch in each target; it is evaluated after
   ``early_episodes`` outer iterations (each one a ``T``-step episode: "after 30 target
   episodes") and at ``lfs_iterations`` ("trained to convergence"; the curve's late gain
   is reported so the reader can judge whether it flattened).

Every value is the reference metric (mean over agents of ``sum_{t<10} 0.7^t r_i(t)``,
``eval_episodes`` rollouts) with the true target factor in the environment. Claims,
per grid and target, on the means over seeds (95% CIs reported beside them):

* C1: GSAC zero-shot >= SAC-MTL zero-shot;
* C2: GSAC zero-shot >= SAC-LFS after ``early_episodes`` target episodes;
* C3: GSAC zero-shot >= 0.95 x SAC-LFS at ``lfs_iterations``.

Usage::

    python benchmarks/paper_claims.py [--quick] [--grids 3 4 5] [--seeds 5]
        [--meta-iterations 30000] [--lfs-iterations 40000] [--output PATH]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _experiments import difference_summary, machine_info, seed_summary  # noqa: E402

from causalnet.domain_factors import DomainFactorEstimator  # noqa: E402
from causalnet.io import atomic_write_json  # noqa: E402
from rl.adaptation import deploy_zero_shot  # noqa: E402
from rl.algorithms import make_trainer  # noqa: E402
from rl.envs import WirelessAccessEnv  # noqa: E402
from rl.evaluation import discounted_return  # noqa: E402
from rl.gsac import GSACConfig, GSACTrainer  # noqa: E402
from rl.rollout import collect_transitions  # noqa: E402

__all__ = ["SOURCES", "TARGETS", "claim_verdicts", "fit_source_estimator", "markdown_tables", "run_grid",
           "zero_shot_values"]

logger = logging.getLogger(__name__)
RESULTS = Path(__file__).resolve().parent / "results"
SOURCES: tuple[float, ...] = (0.2, 0.5, 0.8)
TARGETS: tuple[float, ...] = (0.6, 0.65, 0.7)
C3_FRACTION = 0.95
#: SAC-LFS counts as converged when its mean curve gains at most this fraction over its last quarter.
LFS_FLAT_GAIN = 0.02


def fit_source_estimator(env: WirelessAccessEnv, graph, sources: Sequence[float], *, estimation_episodes: int,
                         horizon: int, rng: np.random.SeedSequence) -> DomainFactorEstimator:
    """Domain-factor estimator fitted on ``estimation_episodes`` uniform-policy trajectories per source."""
    data = collect_transitions(env, None, episodes=estimation_episodes, horizon=horizon,
                               domain_factors=list(sources), rng=np.random.default_rng(rng))
    return DomainFactorEstimator(graph).fit(data)


def zero_shot_values(trainer: GSACTrainer, estimator: DomainFactorEstimator, env, target: float, *,
                     adaptation_episodes: int, eval_episodes: int, estimate_rng: np.random.SeedSequence,
                     eval_rng: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Zero-shot return of every run in the target and the runs' estimates ``w_hat``.

    :func:`rl.adaptation.deploy_zero_shot`: run ``r`` collects its own ``T_a``
    trajectories in the target, estimates ``w_hat_r`` and deploys its policy with it (no
    policy update); the policy is then scored with ``eval_episodes`` rollouts.
    """
    cfg = trainer.config
    policies, w_hat = deploy_zero_shot(trainer, estimator, env, target, trajectories=adaptation_episodes,
                                       horizon=cfg.horizon, rng=estimate_rng)
    target_env = env.with_domain_factor(target)
    values = np.empty(trainer.n_runs)
    for r, (policy, child) in enumerate(zip(policies, eval_rng.spawn(trainer.n_runs))):
        values[r] = discounted_return(target_env, policy, gamma=cfg.gamma, horizon=cfg.horizon,
                                      episodes=eval_episodes, rng=np.random.default_rng(child)).mean
    return values, w_hat


def _curve(result) -> dict[str, Any]:
    return {"iterations": result.eval_iterations.tolist(), "mean": result.eval_returns.mean(axis=0).tolist(),
            "per_run": result.eval_returns.tolist()}


def _late_gain(iterations: list[int], means: list[float]) -> float | None:
    """Relative gain of the mean curve over its last quarter: (final - value at 75%) / final."""
    if len(iterations) < 3 or means[-1] == 0:
        return None
    cut = 0.75 * iterations[-1]
    j = max(i for i, k in enumerate(iterations) if k <= cut)
    return float((means[-1] - means[j]) / abs(means[-1]))


def run_grid(grid: int, *, sources: Sequence[float] = SOURCES, targets: Sequence[float] = TARGETS,
             n_seeds: int = 5, seed: int = 0, meta_iterations: int = 30_000, lfs_iterations: int = 40_000,
             early_episodes: int = 30, estimation_episodes: int = 20, adaptation_episodes: int = 20,
             eval_episodes: int = 400, eval_points: int = 10, config: GSACConfig | None = None) -> dict[str, Any]:
    """Train GSAC, SAC-MTL and SAC-LFS on one grid size; zero-shot and LFS values per target.

    Returns a JSON-ready dict with per-seed values, means and 95% CIs, learning curves
    (evaluated in the middle target with its true factor for the meta-learners, in their
    own target for SAC-LFS) and the claim verdicts of :func:`claim_verdicts`.
    """
    for name, value in (("meta_iterations", meta_iterations), ("lfs_iterations", lfs_iterations),
                        ("early_episodes", early_episodes), ("eval_points", eval_points), ("n_seeds", n_seeds)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if lfs_iterations <= early_episodes:
        raise ValueError(f"lfs_iterations ({lfs_iterations}) must exceed early_episodes ({early_episodes})")
    env = WirelessAccessEnv.from_grid(grid)
    config = (GSACConfig() if config is None else config).resolved(env)
    graph = env.true_graph()
    n = env.n_agents
    est_seq, gsac_seq, mtl_seq, lfs_seq, eval_seq = np.random.SeedSequence([seed, grid]).spawn(5)
    t0 = time.perf_counter()
    estimator = fit_source_estimator(env, graph, sources, estimation_episodes=estimation_episodes,
                                     horizon=config.horizon, rng=est_seq)
    source_w = estimator.w_hat_
    estimation_seconds = time.perf_counter() - t0
    source_table = np.repeat(np.asarray(sources, dtype=np.float64)[:, None], n, axis=1)
    middle = targets[len(targets) // 2]
    curve_env = env.with_domain_factor(middle)
    meta_every = max(1, meta_iterations // eval_points)
    out: dict[str, Any] = {
        "grid": grid, "n_agents": n, "sources": list(sources), "targets": list(targets), "n_seeds": n_seeds,
        "seed": seed, "meta_iterations": meta_iterations, "lfs_iterations": lfs_iterations,
        "early_episodes": early_episodes, "estimation_episodes": estimation_episodes,
        "adaptation_episodes": adaptation_episodes, "eval_episodes": eval_episodes,
        "config": config.to_dict(), "graph": "true",
        "source_w_hat_mean": source_w.mean(axis=1).tolist(),
        "estimation_seconds": estimation_seconds, "methods": {}, "seconds": {}}
    # GSAC and SAC-MTL see the same target trajectories (same estimate streams): a paired comparison
    estimate_seqs = est_seq.spawn(len(targets))
    eval_seqs = eval_seq.spawn(len(targets))
    target_w_hat: dict[str, np.ndarray] = {}
    # meta-learners: GSAC and SAC-MTL over the sources, zero-shot in each target
    for algo, seq in (("gsac", gsac_seq), ("sac-mtl", mtl_seq)):
        t0 = time.perf_counter()
        trainer = make_trainer(algo, env, graph, config=config, source_factors=source_table, source_w_hat=source_w,
                               rng=seq, n_runs=n_seeds)
        result = trainer.run(meta_iterations, eval_every=meta_every, eval_episodes=eval_episodes,
                             eval_env=curve_env, eval_w_hat=np.full(n, middle))
        per_target = {}
        for k, tau in enumerate(targets):
            vals, w_hat = zero_shot_values(trainer, estimator, env, tau, adaptation_episodes=adaptation_episodes,
                                           eval_episodes=eval_episodes, estimate_rng=estimate_seqs[k],
                                           eval_rng=eval_seqs[k])
            target_w_hat[str(tau)] = w_hat
            per_target[str(tau)] = seed_summary(vals)
        curve = _curve(result)
        out["methods"][f"{algo}-zero-shot"] = {
            "per_target": per_target, "curve_true_w_middle_target": curve,
            "late_gain": _late_gain(curve["iterations"], curve["mean"]),
            "critic_entries": int(result.critic_entries),
            "actor_entries_per_run": int(np.prod(trainer.theta.shape[1:]))}
        out["seconds"][algo] = time.perf_counter() - t0
        logger.info("grid %d %s done in %.1f s", grid, algo, out["seconds"][algo])
    out["target_w_hat_mean"] = [float(target_w_hat[str(tau)].mean()) for tau in targets]
    out["target_w_hat_abs_error_mean"] = [float(np.abs(target_w_hat[str(tau)] - tau).mean()) for tau in targets]
    # SAC-LFS in each target
    lfs_every = max(1, lfs_iterations // eval_points)
    early, final, curves = {}, {}, {}
    t0 = time.perf_counter()
    for k, (tau, seq) in enumerate(zip(targets, lfs_seq.spawn(len(targets)))):
        target_env = env.with_domain_factor(tau)
        trainer = make_trainer("sac-lfs", env, graph, config=config, target_factor=tau, rng=seq, n_runs=n_seeds)
        first = trainer.run(early_episodes, eval_every=early_episodes, eval_episodes=eval_episodes,
                            eval_env=target_env)
        early[str(tau)] = seed_summary(first.eval_returns[:, -1])
        rest = trainer.run(lfs_iterations - early_episodes, eval_every=lfs_every, eval_episodes=eval_episodes,
                           eval_env=target_env)
        final[str(tau)] = seed_summary(rest.eval_returns[:, -1])
        iters = first.eval_iterations.tolist() + rest.eval_iterations.tolist()
        means = first.eval_returns.mean(axis=0).tolist() + rest.eval_returns.mean(axis=0).tolist()
        curves[str(tau)] = {"iterations": iters, "mean": means, "late_gain": _late_gain(iters, means)}
    out["methods"]["sac-lfs-early"] = {"per_target": early, "episodes": early_episodes}
    out["methods"]["sac-lfs-converged"] = {"per_target": final, "iterations": lfs_iterations, "curves": curves}
    out["seconds"]["sac-lfs"] = time.perf_counter() - t0
    out["claims"] = claim_verdicts(out)
    return out


def claim_verdicts(grid_result: dict[str, Any]) -> list[dict[str, Any]]:
    """C1-C3 per target from a :func:`run_grid` result (verdicts on seed means; CIs beside)."""
    methods = grid_result["methods"]
    lfs_curves = methods["sac-lfs-converged"].get("curves", {})
    verdicts = []
    for tau in grid_result["targets"]:
        key = str(tau)
        gsac = methods["gsac-zero-shot"]["per_target"][key]
        checks = (("C1", "GSAC zero-shot >= SAC-MTL zero-shot", methods["sac-mtl-zero-shot"]["per_target"][key], 1.0),
                  ("C2", f"GSAC zero-shot >= SAC-LFS after {methods['sac-lfs-early']['episodes']} target episodes",
                   methods["sac-lfs-early"]["per_target"][key], 1.0),
                  ("C3", f"GSAC zero-shot >= {C3_FRACTION:.2f} x SAC-LFS converged",
                   methods["sac-lfs-converged"]["per_target"][key], C3_FRACTION))
        for claim, text, other, factor in checks:
            diff = difference_summary(gsac["values"], factor * np.asarray(other["values"]))
            verdicts.append({
                "claim": claim, "text": text, "grid": grid_result["grid"], "target": tau,
                "gsac": gsac["mean"], "other": other["mean"], "factor": factor,
                "ratio": gsac["mean"] / other["mean"] if other["mean"] else None,
                "difference": diff, "pass": bool(diff["mean"] >= 0.0),
                "significant": bool(np.isfinite(diff["ci95"][0]) and (diff["ci95"][0] > 0 or diff["ci95"][1] < 0)),
                "lfs_late_gain": lfs_curves.get(key, {}).get("late_gain") if claim == "C3" else None})
    return verdicts


def _fmt(s: dict[str, Any]) -> str:
    lo, hi = s["ci95"]
    return f"{s['mean']:.4f} [{lo:.4f}, {hi:.4f}]"


def print_tables(results: list[dict[str, Any]]) -> None:
    """Method x grid x target table (mean [95% CI]) and the claim verdicts."""
    rows = (("GSAC zero-shot", "gsac-zero-shot"), ("SAC-MTL zero-shot", "sac-mtl-zero-shot"),
            ("SAC-LFS early", "sac-lfs-early"), ("SAC-LFS converged", "sac-lfs-converged"))
    print(f"\n{'method':<18} | {'g':>2} | {'target':>6} | {'return: mean [95% CI]':>26}")
    for res in results:
        for label, key in rows:
            for tau in res["targets"]:
                cell = _fmt(res["methods"][key]["per_target"][str(tau)])
                print(f"{label:<18} | {res['grid']:>2} | {tau:>6} | {cell:>26}")
    print(f"\n{'claim':<5} | {'g':>2} | {'target':>6} | {'GSAC':>7} | {'other':>7} | {'ratio':>6} | "
          f"{'GSAC - factor*other [95% CI]':>30} | verdict")
    for res in results:
        for v in res["claims"]:
            d = v["difference"]
            tag = "PASS" if v["pass"] else "FAIL"
            sig = "" if v["significant"] else " (not significant)"
            gain = v.get("lfs_late_gain")
            if gain is not None and gain > LFS_FLAT_GAIN:
                sig += f" (LFS still rising: +{gain:.1%} over its last quarter)"
            print(f"{v['claim']:<5} | {v['grid']:>2} | {v['target']:>6} | {v['gsac']:7.4f} | {v['other']:7.4f} | "
                  f"{v['ratio']:6.3f} | {d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] | {tag}{sig}")


def markdown_tables(results: list[dict[str, Any]]) -> str:
    """The method x grid x target table and the verdicts as Markdown (for docs/reproduction.md)."""
    lines = ["| grid (agents) | target | GSAC zero-shot | SAC-MTL zero-shot | SAC-LFS, 30 episodes | "
             "SAC-LFS converged (late gain) |", "|---|---:|---:|---:|---:|---:|"]
    for res in results:
        m = res["methods"]
        for tau in res["targets"]:
            key = str(tau)
            cells = [_fmt(m[k]["per_target"][key]) for k in ("gsac-zero-shot", "sac-mtl-zero-shot", "sac-lfs-early",
                                                              "sac-lfs-converged")]
            gain = m["sac-lfs-converged"]["curves"][key]["late_gain"]
            cells[-1] += f" ({gain:+.1%})" if gain is not None else ""
            lines.append(f"| {res['grid']} ({res['n_agents']}) | {tau} | " + " | ".join(cells) + " |")
    lines += ["", "| grid | target | C1: GSAC - MTL | C2: GSAC - LFS(30) | "
              "C3: GSAC / LFS converged (GSAC - 0.95 LFS) | verdicts |",
              "|---|---:|---:|---:|---:|---|"]
    for res in results:
        for tau in res["targets"]:
            vs = {v["claim"]: v for v in res["claims"] if v["target"] == tau}

            def diff(v):
                d = v["difference"]
                return f"{d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]"
            verdict = ", ".join(f"{c} {'PASS' if vs[c]['pass'] else 'FAIL'}{'' if vs[c]['significant'] else '*'}"
                                for c in ("C1", "C2", "C3"))
            lines.append(f"| {res['grid']} | {tau} | {diff(vs['C1'])} | {diff(vs['C2'])} | "
                         f"{vs['C3']['ratio']:.3f} ({diff(vs['C3'])}) | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--seeds", type=int, default=5, help="independent runs per method (batched)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--meta-iterations", type=int, default=None, help="default 30000 (quick: 6000)")
    parser.add_argument("--lfs-iterations", type=int, default=None, help="default 40000 (quick: 6000)")
    parser.add_argument("--early-episodes", type=int, default=30)
    parser.add_argument("--adaptation-episodes", type=int, default=20, help="T_a")
    parser.add_argument("--estimation-episodes", type=int, default=20, help="T_e per source domain")
    parser.add_argument("--eval-episodes", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="grid 3 only, 3 seeds, 6000 iterations (about a minute)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.quick:
        grids, seeds, meta, lfs = [3], min(args.seeds, 3), 6000, 6000
    else:
        grids, seeds, meta, lfs = args.grids, args.seeds, 30_000, 40_000
    meta = args.meta_iterations or meta
    lfs = args.lfs_iterations or lfs
    output = args.output or RESULTS / ("paper_claims_quick.json" if args.quick else "paper_claims.json")
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    for grid in grids:
        res = run_grid(grid, n_seeds=seeds, seed=args.seed, meta_iterations=meta, lfs_iterations=lfs,
                       early_episodes=args.early_episodes, estimation_episodes=args.estimation_episodes,
                       adaptation_episodes=args.adaptation_episodes, eval_episodes=args.eval_episodes)
        results.append(res)
        print_tables([res])
        payload = {"benchmark": "paper_claims", "quick": args.quick, "grids_done": [r["grid"] for r in results],
                   "grids_requested": grids, "wall_seconds": time.perf_counter() - start, "results": results,
                   **machine_info()}
        atomic_write_json(output, payload)       # after every grid: partial runs keep their results
        print(f"grid {grid} done after {time.perf_counter() - start:.0f} s; wrote {output}", flush=True)
    print_tables(results)
    print("\n" + markdown_tables(results) + "\n")
    verdicts = [v for r in results for v in r["claims"]]
    for claim in ("C1", "C2", "C3"):
        sel = [v for v in verdicts if v["claim"] == claim]
        print(f"{claim}: {sum(v['pass'] for v in sel)}/{len(sel)} PASS ({sel[0]['text']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
