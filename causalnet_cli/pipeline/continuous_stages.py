"""The stages of ``causalnet run`` after domain factors for continuous states and discrete actions.

``env.kind = "synthetic-continuous"``: collection, discovery, ACRs and the domain factors
(:class:`causalnet.domain_factors_continuous.ContinuousDomainFactorEstimator`, whose ``w_hat``
is a score, not on the simulator's scale) are the shared stages. Then:

* ``train:gsac`` -- function-approximation GSAC with the softmax actor
  (:class:`rl.fa_softmax.FASoftmaxTrainer`) on the sources with their ``w_hat``; the
  Monte Carlo discounted cost in the target, with a reference target estimate from 500
  trajectories, along the way;
* ``adapt`` -- zero-shot deployment with each run's own target estimate from
  ``adapt.trajectories`` trajectories; ``sac-lfs`` (when listed) learns in the target from
  scratch; the uniform policy is the reference. ``sac-mtl``/``sac-ft`` are tabular-only;
* ``metrics`` and ``report`` -- discounted costs (minus rewards summed over agents; lower is
  better) with 95% confidence intervals over runs, and the gain over the uniform policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CONTINUOUS_STAGES"]

CONTINUOUS_METHODS = ("gsac", "sac-lfs")
_EVAL_EPISODES = 200


def _target_estimate(ctx, estimator, trajectories: int, rng, fill: np.ndarray) -> np.ndarray:
    from causalnet_cli.pipeline.lqr_stages import _filled, _target_data

    w, _ = estimator.estimate(_target_data(ctx, trajectories, rng))
    return _filled(np.asarray(w, dtype=np.float64)[None], fill)[0]


def _source_w_hat(ctx) -> np.ndarray:
    from causalnet_cli.pipeline.lqr_stages import _filled

    f = ctx.read_json("domain_factors.json")
    return _filled(np.array([[np.nan if v is None else v for v in d["w_hat"]] for d in f["domains"]],
                            dtype=np.float64))


def _fa_config(ctx):
    from causalnet_cli.pipeline.lqr_stages import _fa_config as lqr_config

    return lqr_config(ctx)


def _policy_costs(ctx, trainer, w_rows: np.ndarray) -> np.ndarray:
    """Discounted target cost of every run's softmax policy with its own ``w_hat`` (common random numbers)."""
    env = ctx.env.with_domain_factor(ctx.config.domains.target)
    return np.array([trainer.evaluate(env, w, episodes=_EVAL_EPISODES, rng=ctx.config.seed)[r]
                     for r, w in enumerate(w_rows)])


def _uniform_cost(ctx, gamma: float) -> float:
    from rl.fa_config import FAGSACConfig
    from rl.fa_softmax import FASoftmaxTrainer

    tr = FASoftmaxTrainer(ctx.env, ctx.truth(), FAGSACConfig(gamma=gamma), rng=0)   # theta = 0: uniform
    return float(tr.evaluate(ctx.env.with_domain_factor(ctx.config.domains.target), episodes=_EVAL_EPISODES,
                             rng=ctx.config.seed)[0])


def stage_train_gsac(ctx) -> list[Path]:
    """Softmax-actor GSAC on the sources; Monte Carlo target cost along the way."""
    from rl.adaptation import mean_ci
    from rl.algorithms import make_trainer

    cfg = ctx.config
    src = _source_w_hat(ctx)
    ref = _target_estimate(ctx, ctx.estimator(), 500, np.random.default_rng(ctx.seed("domain_factors")),
                           src.mean(axis=0))
    trainer = make_trainer("gsac", ctx.env, ctx.training_graph(), config=_fa_config(ctx),
                           source_factors=ctx.source_factors(), source_w_hat=src,
                           rng=ctx.seed("train:gsac"), n_runs=cfg.train.runs)
    every = max(1, cfg.train.fa_iterations // cfg.train.eval_points)
    ctx.echo(f"meta-training gsac (function approximation, softmax actor): {cfg.train.fa_iterations} iterations "
             f"x {cfg.train.runs} runs, target cost every {every}")
    res = trainer.run(cfg.train.fa_iterations, eval_every=every, eval_env=ctx.env.with_domain_factor(cfg.domains.target),
                      eval_w_hat=ref, eval_episodes=_EVAL_EPISODES, eval_rng=cfg.seed)
    mean, lo, hi = mean_ci(res.eval_costs)
    summary = {"method": "gsac", "engine": "function approximation (softmax actor)",
               "config": trainer.config.to_dict(), "iterations": res.eval_iterations,
               "samples_per_run": res.eval_samples, "cost_mean": mean, "cost_ci_low": lo, "cost_ci_high": hi,
               "train_seconds": res.train_seconds,
               "evaluated_in": {"target_factor": cfg.domains.target, "w_hat": ref,
                                "w_hat_from": "500 target trajectories"}}
    policy = {"algorithm": "gsac", "actor": "softmax", "config": trainer.config.to_dict(),
              "inputs": trainer.inputs.to_dict(), "cardinality": trainer.cardinality, "source_w_hat": src,
              "theta": trainer.theta}
    ctx.echo(f"gsac: discounted target cost {float(mean[-1]):.4f} (iteration 0, uniform: {float(mean[0]):.4f})")
    return [ctx.write_json("policies/meta/gsac/policy.json", policy), ctx.write_json("training/gsac.json", summary)]


def stage_adapt(ctx) -> list[Path]:
    """Zero-shot GSAC with per-run target estimates; SAC-LFS in the target (when listed); uniform reference."""
    from rl.adaptation import mean_ci
    from rl.algorithms import make_trainer

    cfg = ctx.config
    env, runs = ctx.env, cfg.train.runs
    fa_cfg = _fa_config(ctx)
    src = _source_w_hat(ctx)
    est = ctx.estimator()
    seeds = ctx.seed("adapt").spawn(2)
    w_target = np.stack([_target_estimate(ctx, est, cfg.adapt.trajectories, np.random.default_rng(s), src.mean(axis=0))
                         for s in seeds[0].spawn(runs)])
    uniform = _uniform_cost(ctx, fa_cfg.gamma)
    out: dict[str, Any] = {"references": {"gamma": fa_cfg.gamma, "uniform_cost": uniform,
                                          "eval_episodes": _EVAL_EPISODES},
                           "methods": {}, "target_estimates": {"trajectories": cfg.adapt.trajectories,
                                                               "w_hat": w_target}}
    skipped = [m for m in cfg.train.methods if m not in CONTINUOUS_METHODS]
    if skipped:
        ctx.echo(f"skipping {', '.join(skipped)}: tabular-only methods (continuous states)")
        out["skipped"] = skipped
    if "gsac" in cfg.train.methods:
        saved = ctx.read_json("policies/meta/gsac/policy.json")
        trainer = make_trainer("gsac", env, ctx.training_graph(), config=fa_cfg, source_factors=ctx.source_factors(),
                               source_w_hat=src, rng=0, n_runs=runs)
        trainer.theta[...] = np.asarray(saved["theta"], dtype=np.float64)
        costs = _policy_costs(ctx, trainer, w_target)
        mean, lo, hi = mean_ci(costs[:, None])
        gain = mean_ci(uniform - costs[:, None])
        out["methods"]["gsac"] = {"deployed": "zero-shot", "cost": costs, "mean": float(mean[0]),
                                  "ci95": [float(lo[0]), float(hi[0])], "gain_over_uniform": float(gain[0][0]),
                                  "gain_ci95": [float(gain[1][0]), float(gain[2][0])]}
        ctx.echo(f"gsac zero-shot: discounted cost {float(mean[0]):.4f} [{float(lo[0]):.4f}, {float(hi[0]):.4f}] "
                 f"(uniform policy {uniform:.4f})")
    if "sac-lfs" in cfg.train.methods:
        trainer = make_trainer("sac-lfs", env, ctx.truth(), config=fa_cfg,
                               target_factor=np.full(env.n_agents, cfg.domains.target), rng=seeds[1], n_runs=runs)
        res = trainer.run(cfg.train.fa_iterations, eval_every=max(1, cfg.train.fa_iterations // cfg.train.eval_points),
                          eval_env=env.with_domain_factor(cfg.domains.target), eval_episodes=_EVAL_EPISODES,
                          eval_rng=cfg.seed)
        mean, lo, hi = mean_ci(res.eval_costs)
        gain = mean_ci(uniform - res.eval_costs[:, -1:])
        out["methods"]["sac-lfs"] = {"deployed": "after learning in the target", "samples_per_run": res.eval_samples,
                                     "cost_curve_mean": mean, "cost_curve_ci_low": lo, "cost_curve_ci_high": hi,
                                     "mean": float(mean[-1]), "ci95": [float(lo[-1]), float(hi[-1])],
                                     "gain_over_uniform": float(gain[0][0]),
                                     "gain_ci95": [float(gain[1][0]), float(gain[2][0])]}
    return [ctx.write_json("adaptation.json", out)]


def stage_metrics(ctx) -> list[Path]:
    """``metrics.json``: discounted costs and gains over uniform with 95% CIs, structure, ACR sizes."""
    cfg = ctx.config
    adapt = ctx.read_json("adaptation.json")
    structure = ctx.read_json("structure_metrics.json")
    acr = ctx.read_json("acr.json")
    keys = ("mean", "ci95", "deployed", "gain_over_uniform", "gain_ci95")
    metrics = {
        "benchmark": {"env": "synthetic-continuous", "n_agents": ctx.env.n_agents,
                      "sources": list(cfg.domains.sources), "target": cfg.domains.target, "runs": cfg.train.runs,
                      "metric": f"Monte Carlo discounted cost (gamma {adapt['references']['gamma']}, minus the "
                                f"rewards summed over agents; lower is better) over "
                                f"{adapt['references']['eval_episodes']} episodes"},
        "methods": {m: {k: v[k] for k in keys} for m, v in adapt["methods"].items()},
        "reference": adapt["references"],
        "structure": {k: structure[k] for k in ("precision", "recall", "f1", "shd")},
        "acr": {"kappa": acr["kappa"], "agents_matching_truth": acr.get("agents_matching_truth")},
        "skipped_methods": adapt.get("skipped", []),
    }
    return [ctx.write_json("metrics.json", metrics)]


def stage_report(ctx) -> list[Path]:
    """``report.md`` and ``report.html``: the headline table of the run."""
    from analysis.report import Block, render_html, render_markdown
    from causalnet.io import atomic_write_text

    m = ctx.read_json("metrics.json")
    num = lambda x: "n/a" if x is None else f"{x:.4f}"       # JSON null: a single run has no interval
    b = m["benchmark"]
    rows = [(name, num(v["mean"]), f"[{num(v['ci95'][0])}, {num(v['ci95'][1])}]", num(v["gain_over_uniform"]),
             f"[{num(v['gain_ci95'][0])}, {num(v['gain_ci95'][1])}]", v["deployed"])
            for name, v in m["methods"].items()]
    rows.append(("uniform policy", num(m["reference"]["uniform_cost"]), "", "0", "", "reference"))
    blocks = [Block("heading", "causalnet run: continuous states, discrete actions", level=1),
              Block("paragraph", f"{b['n_agents']} agents, sources {b['sources']}, unseen target {b['target']}, "
                                 f"{b['runs']} runs. Metric: {b['metric']}."),
              Block("table", header=("method", "cost", "95% CI", "gain over uniform", "95% CI", "deployed"),
                    rows=tuple(rows)),
              Block("paragraph", f"Discovery against the true graph: precision {num(m['structure']['precision'])}, "
                                 f"recall {num(m['structure']['recall'])}, F1 {num(m['structure']['f1'])}. ACRs "
                                 f"equal to the true ones: {m['acr']['agents_matching_truth']} agents.")]
    if m["skipped_methods"]:
        blocks.append(Block("paragraph", f"Skipped (tabular-only): {', '.join(m['skipped_methods'])}."))
    return [atomic_write_text(ctx.path("report.md"), render_markdown(blocks)),
            atomic_write_text(ctx.path("report.html"), render_html(blocks, ctx.folder))]


CONTINUOUS_STAGES = {"train:gsac": stage_train_gsac, "adapt": stage_adapt, "metrics": stage_metrics,
                     "report": stage_report}
