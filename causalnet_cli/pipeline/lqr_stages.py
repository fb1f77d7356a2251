"""The stages of ``causalnet run`` that differ for the networked LQR benchmark (``env.kind = "lqr"``).

Collection, discovery and the ACRs are the shared stages (discovery tests the continuous
columns, actions included, with the test ``discovery.ci_test`` selects). The others are
replaced:

* ``domain_factors`` -- for every domain-affected coordinate, ordinary least squares
  of its next value on ``[1, discovered parents]`` in each source domain; the agent's
  ``w_hat`` is the projection of its per-domain coefficients on their first principal
  direction across the sources (one number per agent and domain, in regression units);
  the target's estimate fits the same regression on target trajectories. Also writes a
  reference target estimate from many trajectories, used by the training curve.
* ``train:gsac`` -- function-approximation GSAC (:class:`rl.fa_gsac.FAGSACTrainer`) on the
  sources with ``w_hat``; the exact discounted cost in the target along the way.
* ``adapt`` -- zero-shot deployment with each run's own target estimate from
  ``adapt.trajectories`` trajectories; ``sac-lfs`` (when listed) learns in the target from
  scratch; exact costs against the centralized Riccati optimum and the best
  decentralized feedback. ``sac-mtl`` and ``sac-ft`` are tabular-only and are skipped.
* ``metrics`` and ``report`` -- cost ratios with 95% confidence intervals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph

__all__ = ["LQR_STAGES", "RegressionFactors"]

LQR_METHODS = ("gsac", "sac-lfs")


class RegressionFactors:
    """Per-agent domain factors of linear-Gaussian mechanisms (see the module docstring).

    Parameters
    ----------
    graph : FactoredGraph
        Its ``domain`` edges name the affected coordinates; their other parents are the
        regressors.

    Attributes
    ----------
    w_hat_ : array, shape (M, n)
        Source estimates (``nan`` for agents without an affected coordinate).
    """

    def __init__(self, graph: FactoredGraph) -> None:
        self.graph = graph

    def _design(self, data: Transitions, target: str) -> tuple[np.ndarray, np.ndarray]:
        spec = data.spec
        parents = sorted(p for p in self.graph.parents[target] if spec.kind(p) != "domain")
        cols = [data.column(p) for p in parents]
        X = np.column_stack([np.ones(len(data))] + cols) if cols else np.ones((len(data), 1))
        return X, data.column(target, next_step=True)

    def _coefficients(self, data: Transitions, target: str) -> np.ndarray:
        X, y = self._design(data, target)
        if X.shape[0] <= X.shape[1]:
            raise ValueError(f"{target!r}: {X.shape[0]} rows for {X.shape[1]} coefficients (intercept and "
                             "parents); collect more trajectories")
        return np.linalg.lstsq(X, y, rcond=None)[0]

    def fit(self, data: Transitions) -> "RegressionFactors":
        """Fit on source data with domain labels ``0..M-1``."""
        spec = data.spec
        self.targets_: dict[int, str] = {}
        for target in self.graph.domain_affected:
            if spec.kind(target) == "state":
                self.targets_.setdefault(spec.owner(target), target)
        M = data.n_domains
        self.w_hat_ = np.full((M, spec.n_agents), np.nan)
        self.directions_: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for agent, target in self.targets_.items():
            coef = np.stack([self._coefficients(data.in_domain(m), target) for m in range(M)])
            centre = coef.mean(axis=0)
            if M > 1:
                _, _, vt = np.linalg.svd(coef - centre, full_matrices=False)
                u = vt[0] * (1.0 if vt[0][np.argmax(np.abs(vt[0]))] > 0 else -1.0)
            else:
                u = np.zeros_like(centre)
                u[0] = 1.0
            self.directions_[agent] = (centre, u)
            self.w_hat_[:, agent] = (coef - centre) @ u
        return self

    def estimate(self, data: Transitions) -> np.ndarray:
        """``w_hat`` of every agent from data of one (new) domain."""
        w = np.full(data.spec.n_agents, np.nan)
        for agent, target in self.targets_.items():
            centre, u = self.directions_[agent]
            w[agent] = (self._coefficients(data, target) - centre) @ u
        return w


def _filled(w: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
    w = np.array(w, dtype=np.float64, copy=True)
    for row in np.atleast_2d(w):
        bad = ~np.isfinite(row)
        if bad.all():
            raise ValueError("no agent has a domain-factor estimate: the learned graph has no domain edge")
        row[bad] = row[~bad].mean() if fill is None else fill[bad]
    return w


def _target_data(ctx, trajectories: int, rng) -> Transitions:
    from rl.rollout import collect_transitions

    return collect_transitions(ctx.env, None, episodes=trajectories, horizon=ctx.config.data.horizon,
                               domain_factors=[ctx.config.domains.target], rng=rng)


def _fa_config(ctx):
    from rl.fa_gsac import FAGSACConfig

    t = ctx.config.train
    gamma = min(max(t.gamma, 0.05), 0.99)
    horizon = max(ctx.config.data.horizon, int(math.ceil(4.0 / (1.0 - gamma))), 40)
    return FAGSACConfig(kappa=ctx.config.acr.kappa, gamma=gamma, horizon=horizon, episodes=t.fa_episodes)


def stage_domain_factors(ctx) -> list[Path]:
    """Source ``w_hat`` by regression, a reference target estimate, the target error against ``T_a``."""
    cfg = ctx.config
    est = RegressionFactors(ctx.training_graph()).fit(ctx.data())
    if not est.targets_:
        raise ValueError("the graph has no domain edge, so no domain factor can be estimated: collect more "
                         "data (data.episodes) or set train.graph = \"true\"")
    seeds = ctx.seed("domain_factors").spawn(2)
    reference = est.estimate(_target_data(ctx, 500, np.random.default_rng(seeds[0])))
    curve = []
    for k, s in zip(cfg.analysis.error_trajectories, seeds[1].spawn(len(cfg.analysis.error_trajectories))):
        errs = [np.nanmean(np.abs(est.estimate(_target_data(ctx, k, np.random.default_rng(r))) - reference))
                for r in s.spawn(cfg.analysis.error_repeats)]
        curve.append({"trajectories": k, "mean_abs_error": float(np.mean(errs))})
    ks = np.log([c["trajectories"] for c in curve])
    es = np.log([max(c["mean_abs_error"], 1e-300) for c in curve])
    slope = float(np.polyfit(ks, es, 1)[0]) if len(curve) > 1 else None
    result = {"method": "regression (first principal direction of per-domain coefficients)",
              "graph": cfg.train.graph, "agents_with_factor": sorted(est.targets_),
              "domains": [{"domain": m, "w_hat": est.w_hat_[m], "true": ctx.source_factors()[m]}
                          for m in range(est.w_hat_.shape[0])],
              "target_reference": {"trajectories": 500, "w_hat": reference},
              "error_curve": {"points": curve, "loglog_slope": slope,
                              "error_against": "reference target estimate from 500 trajectories"}}
    return [ctx.write_json("domain_factors.json", result)]


def _w_tables(ctx) -> tuple[np.ndarray, np.ndarray]:
    f = ctx.read_json("domain_factors.json")
    src = np.array([[np.nan if v is None else v for v in d["w_hat"]] for d in f["domains"]], dtype=np.float64)
    ref = np.array([np.nan if v is None else v for v in f["target_reference"]["w_hat"]], dtype=np.float64)
    src = _filled(src)
    return src, _filled(ref[None], src.mean(axis=0))[0]


def _references(ctx) -> dict[str, Any]:
    from rl.lqr_reference import AffinePolicy, best_decentralized_feedback, optimal_discounted, policy_cost

    env, gamma = ctx.env, _fa_config(ctx).gamma
    sys_t = env.with_domain_factor(ctx.config.domains.target).linear_system()
    opt = optimal_discounted(sys_t, gamma=gamma)
    pattern = np.zeros((env.n_agents, env.spec.n_state), dtype=bool)
    for i in range(env.n_agents):
        pattern[i, env.x_columns[env.spec.neighborhood(i, 1)]] = True
    dec = best_decentralized_feedback(sys_t, pattern, gamma=gamma)
    zero = policy_cost(sys_t, AffinePolicy(np.zeros((env.n_agents, env.spec.n_state)), np.zeros(env.n_agents)),
                       gamma=gamma)
    return {"gamma": gamma, "optimum_cost": opt.cost, "best_decentralized_ratio": dec.cost / opt.cost,
            "zero_policy_ratio": zero / opt.cost}


def stage_train_gsac(ctx) -> list[Path]:
    """Function-approximation GSAC on the sources; exact target cost along the way."""
    from rl.adaptation import mean_ci
    from rl.algorithms import make_trainer

    cfg = ctx.config
    src, ref = _w_tables(ctx)
    trainer = make_trainer("gsac", ctx.env, ctx.training_graph(), config=_fa_config(ctx),
                           source_factors=ctx.source_factors(), source_w_hat=src,
                           rng=ctx.seed("train:gsac"), n_runs=cfg.train.runs)
    every = max(1, cfg.train.fa_iterations // cfg.train.eval_points)
    ctx.echo(f"meta-training gsac (function approximation): {cfg.train.fa_iterations} iterations x "
             f"{cfg.train.runs} runs, exact target cost every {every}")
    res = trainer.run(cfg.train.fa_iterations, eval_every=every,
                      eval_env=ctx.env.with_domain_factor(cfg.domains.target), eval_w_hat=ref)
    opt = _references(ctx)["optimum_cost"]
    ratios = res.eval_costs / opt
    mean, lo, hi = mean_ci(ratios)
    summary = {"method": "gsac", "engine": "function approximation", "config": trainer.config.to_dict(),
               "iterations": res.eval_iterations, "samples_per_run": res.eval_samples,
               "cost_ratio_mean": mean, "cost_ratio_ci_low": lo, "cost_ratio_ci_high": hi,
               "train_seconds": res.train_seconds, "evaluated_in": {"target_factor": cfg.domains.target,
                                                                     "w_hat": "reference target estimate"}}
    policy = {"algorithm": "gsac", "config": trainer.config.to_dict(), "inputs": trainer.inputs.to_dict(),
              "source_w_hat": src, "theta": trainer.theta}
    ctx.echo(f"gsac: cost / Riccati optimum in the target {float(mean[-1]):.4f}")
    return [ctx.write_json("policies/meta/gsac/policy.json", policy), ctx.write_json("training/gsac.json", summary)]


def stage_adapt(ctx) -> list[Path]:
    """Zero-shot GSAC with per-run target estimates; SAC-LFS from scratch in the target (when listed)."""
    from rl.adaptation import mean_ci
    from rl.algorithms import make_trainer
    from rl.fa_inputs import FAInputs
    from rl.fa_policy import LinearGaussianPolicy
    from rl.lqr_reference import policy_cost

    cfg = ctx.config
    env, runs = ctx.env, cfg.train.runs
    refs = _references(ctx)
    gamma, opt = refs["gamma"], refs["optimum_cost"]
    sys_t = env.with_domain_factor(cfg.domains.target).linear_system()
    src, _ = _w_tables(ctx)
    est = RegressionFactors(ctx.training_graph()).fit(ctx.data())
    seeds = ctx.seed("adapt").spawn(2)
    w_target = np.stack([_filled(est.estimate(_target_data(ctx, cfg.adapt.trajectories, np.random.default_rng(s)))
                                 [None], src.mean(axis=0))[0] for s in seeds[0].spawn(runs)])
    out: dict[str, Any] = {"references": refs, "methods": {}, "target_estimates": {
        "trajectories": cfg.adapt.trajectories, "w_hat": w_target}}
    skipped = [m for m in cfg.train.methods if m not in LQR_METHODS]
    if skipped:
        ctx.echo(f"skipping {', '.join(skipped)}: tabular-only methods (continuous actions)")
        out["skipped"] = skipped
    if "gsac" in cfg.train.methods:
        saved = ctx.read_json("policies/meta/gsac/policy.json")
        d = saved["inputs"]
        inputs = FAInputs(mode=d["mode"], kappa=d["kappa"], n_agents=d["n_agents"], n_state=d["n_state"],
                          critic_index=np.asarray(d["critic_index"]), policy_index=np.asarray(d["policy_index"]),
                          domain_index=np.asarray(d["domain_index"]), neighborhoods=d["neighborhoods"],
                          action_pairs=np.asarray(d["action_pairs"]).reshape(-1, 3))
        ratios = np.array([policy_cost(sys_t, LinearGaussianPolicy(np.asarray(th), inputs, w_hat=w).affine(),
                                       gamma=gamma) / opt for th, w in zip(saved["theta"], w_target)])
        mean, lo, hi = mean_ci(ratios[:, None])
        out["methods"]["gsac"] = {"deployed": "zero-shot", "cost_ratio": ratios,
                                  "mean": float(mean[0]), "ci95": [float(lo[0]), float(hi[0])]}
        ctx.echo(f"gsac zero-shot: cost / optimum {float(mean[0]):.4f} [{float(lo[0]):.4f}, {float(hi[0]):.4f}]")
    if "sac-lfs" in cfg.train.methods:
        trainer = make_trainer("sac-lfs", env, ctx.truth(), config=_fa_config(ctx),
                               target_factor=np.full(env.n_agents, cfg.domains.target), rng=seeds[1], n_runs=runs)
        res = trainer.run(cfg.train.fa_iterations, eval_every=1, eval_env=env.with_domain_factor(cfg.domains.target))
        ratios = res.eval_costs / opt
        mean, lo, hi = mean_ci(ratios)
        out["methods"]["sac-lfs"] = {"deployed": f"after learning in the target", "samples_per_run": res.eval_samples,
                                     "cost_ratio_curve_mean": mean, "cost_ratio_curve_ci_low": lo,
                                     "cost_ratio_curve_ci_high": hi, "mean": float(mean[-1]),
                                     "ci95": [float(lo[-1]), float(hi[-1])]}
    return [ctx.write_json("adaptation.json", out)]


def stage_metrics(ctx) -> list[Path]:
    """``metrics.json``: cost ratios with 95% CIs, references, structure, ACR sizes, factor errors."""
    cfg = ctx.config
    adapt = ctx.read_json("adaptation.json")
    structure = ctx.read_json("structure_metrics.json")
    acr = ctx.read_json("acr.json")
    factors = ctx.read_json("domain_factors.json")
    metrics = {
        "benchmark": {"env": "lqr", "n_agents": ctx.env.n_agents, "sources": list(cfg.domains.sources),
                      "target": cfg.domains.target, "runs": cfg.train.runs,
                      "metric": f"exact discounted cost (gamma {adapt['references']['gamma']}) divided by the "
                                "centralized Riccati optimum (1 is optimal)"},
        "methods": {m: {"mean": v["mean"], "ci95": v["ci95"], "deployed": v["deployed"]}
                    for m, v in adapt["methods"].items()},
        "reference": adapt["references"],
        "structure": {k: structure[k] for k in ("precision", "recall", "f1", "shd")},
        "acr": {"kappa": acr["kappa"], "agents_matching_truth": acr.get("agents_matching_truth")},
        "domain_factors": {"error_curve_loglog_slope": factors["error_curve"]["loglog_slope"]},
        "skipped_methods": adapt.get("skipped", []),
    }
    return [ctx.write_json("metrics.json", metrics)]


def stage_report(ctx) -> list[Path]:
    """``report.md`` and ``report.html``: the headline table of the LQR run."""
    from analysis.report import Block, render_html, render_markdown
    from causalnet.io import atomic_write_text

    m = ctx.read_json("metrics.json")
    num = lambda x: "n/a" if x is None else f"{x:.4f}"       # JSON null: infinite cost or a single run
    b = m["benchmark"]
    rows = [(name, num(v["mean"]), f"[{num(v['ci95'][0])}, {num(v['ci95'][1])}]", v["deployed"])
            for name, v in m["methods"].items()]
    ref = m["reference"]
    rows += [("best decentralized feedback (exact, L-BFGS)", num(ref["best_decentralized_ratio"]), "", "reference"),
             ("zero action", num(ref["zero_policy_ratio"]), "", "reference")]
    blocks = [Block("heading", "causalnet run: networked LQR", level=1),
              Block("paragraph", f"{b['n_agents']} agents, sources {b['sources']}, unseen target {b['target']}, "
                                 f"{b['runs']} runs. Metric: {b['metric']}."),
              Block("table", header=("method", "cost / optimum", "95% CI", "deployed"), rows=tuple(rows)),
              Block("paragraph", f"Discovery against the true graph: precision {num(m['structure']['precision'])}, "
                                 f"recall {num(m['structure']['recall'])}, F1 {num(m['structure']['f1'])}. ACRs "
                                 f"equal to the true ones: {m['acr']['agents_matching_truth']} agents. Domain-factor "
                                 f"error slope (log-log): {num(m['domain_factors']['error_curve_loglog_slope'])}.")]
    if m["skipped_methods"]:
        blocks.append(Block("paragraph", f"Skipped (tabular-only): {', '.join(m['skipped_methods'])}."))
    return [atomic_write_text(ctx.path("report.md"), render_markdown(blocks)),
            atomic_write_text(ctx.path("report.html"), render_html(blocks, ctx.folder))]


LQR_STAGES = {"domain_factors": stage_domain_factors, "train:gsac": stage_train_gsac, "adapt": stage_adapt,
              "metrics": stage_metrics, "report": stage_report}
