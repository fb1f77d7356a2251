"""The stages of ``causalnet run`` on your own system (``env.kind = "data"`` or ``"pettingzoo"``).

``load -> discover -> acr -> domain_factors -> train:<method>... -> adapt -> metrics -> report``.
Training happens inside the :class:`~causalnet.model.DiscoveredModel` fitted on the source
logs (its domain coordinate: :func:`~causalnet_cli.pipeline.own_system.domain_coordinates`);
every method is evaluated in the discovered model of the target domain, a **model-based
estimate**, and, when a simulator is given (``env.factory``), also in the simulator at the
target's true factor. Files beyond the built-in pipeline's: ``codebook.json``,
``network.json``, ``data/target.*``, ``discovery.json``, ``simulator_evaluation.json``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.codebook import Codebook
from causalnet.discovery import LocalDiscovery
from causalnet.model import DiscoveredModel
from causalnet.network_file import network_from_dict
from causalnet_cli.pipeline.own_system import stage_domain_factors_own, stage_load

__all__ = ["MODEL_BASED", "OWN_STAGE_SEEDS", "own_stage_names", "run_own_stage"]

MODEL_BASED = "model-based estimate (discovered model of the target domain)"
OWN_STAGE_SEEDS = {"train:gsac": 13, "train:sac-mtl": 14, "train:sac-ft": 15, "adapt": 16, "simulator": 17}
META_METHODS = ("gsac", "sac-mtl", "sac-ft")


def own_stage_names(config) -> list[str]:
    """The stages of an own-system run, in order."""
    train = [f"train:{m}" for m in config.train.methods if m in META_METHODS]
    return ["load", "discover", "acr", "domain_factors", *train, "adapt", "metrics", "report"]


# ------------------------------------------------------------------ helpers
def _net(ctx) -> dict[str, Any]:
    return ctx.read_json("network.json")


def _coords(ctx) -> tuple[np.ndarray, np.ndarray, float]:
    """Source coordinates ``(M, n)``, target coordinate ``(n,)`` and its scalar."""
    c = ctx.read_json("domain_factors.json")["coordinates"]
    n = ctx.data().spec.n_agents
    src = np.repeat(np.asarray(c["sources"], dtype=np.float64)[:, None], n, axis=1)
    return src, np.full(n, float(c["target"])), float(c["target"])


def _model(ctx) -> DiscoveredModel:
    cached = getattr(ctx, "_own_model", None)
    if cached is None:
        src, _, _ = _coords(ctx)
        cached = DiscoveredModel(ctx.learned()).fit(ctx.data(), domain_factors=src)
        ctx._own_model = cached
    return cached


def _gsac_config(ctx):
    from rl.gsac import GSACConfig

    net, t = _net(ctx), ctx.config.train
    return GSACConfig(kappa=ctx.config.acr.kappa, gamma=float(net["gamma"]), horizon=int(net["horizon"]),
                      actor_lr=t.actor_lr, critic=t.critic, actor=t.actor)


def _simulator(ctx):
    """The user's simulator seen through the codebook, at the target's true factor (None without one)."""
    from causalnet_cli.pipeline.own_system import build_simulator
    from rl.envs.pettingzoo_env import coded_env

    net = _net(ctx)
    keys = ("n_agents", "edges", "state_names", "state_owner", "action_names", "reward_names", "domain_values")
    sim = build_simulator(ctx.config, network_from_dict({k: net[k] for k in keys}))
    if sim is None:
        return None
    codebook = Codebook.load(ctx.path("codebook.json"))
    return coded_env(sim.with_domain_factor(float(net["target_factor_known"])), codebook, ctx.data().spec)


# ------------------------------------------------------------------ stages
def stage_discover(ctx) -> list[Path]:
    """Local constraint-based discovery on the source logs (no ground truth to compare with)."""
    d = ctx.config.discovery
    data = ctx.data()
    ctx.echo(f"discovering parents of {data.spec.n_state + data.spec.n_agents} targets from {len(data)} rows "
             f"(alpha={d.alpha}, {d.ci_test}, conditioning sets <= {d.max_cond_size})")
    est = LocalDiscovery(alpha=d.alpha, ci_test=d.ci_test, max_cond_size=d.max_cond_size, n_jobs=d.n_jobs,
                         progress=ctx.progress)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(data)
    graph = est.graph_
    dom = data.spec.domain_name
    affected = [t for t, ps in graph.parents.items() if dom in ps]
    info = {"method": "local", "alpha": d.alpha, "ci_test": d.ci_test, "max_cond_size": d.max_cond_size,
            "n_tests": est.n_tests_, "n_edges": graph.n_edges(), "domain_affected": affected,
            "warnings": [str(w.message) for w in caught] + list(est.warnings_)}
    ctx.echo(f"learned {graph.n_edges()} edges; {len(affected)} targets depend on the domain")
    return [graph.save(ctx.path("graph.json")), ctx.write_json("discovery.json", info)]


def stage_acr(ctx) -> list[Path]:
    """Value, policy and domain ACR of every agent from the learned graph."""
    from causalnet_cli.discover import _acr_result

    result = _acr_result(ctx.learned(), None, ctx.config.acr.kappa)
    return [ctx.write_json("acr.json", result)]


def _train(ctx, method: str) -> list[Path]:
    """Meta-train ``method`` inside the discovered model over the source domains."""
    from rl.adaptation import summarize_training
    from rl.algorithms import make_trainer
    from rl.persistence import PolicyBundle, save_policy

    t = ctx.config.train
    model = _model(ctx)
    src, tgt, tgt_scalar = _coords(ctx)
    kwargs: dict[str, Any] = {"source_factors": src}
    if method in ("gsac", "sac-mtl"):
        kwargs["source_w_hat"] = src
    if method == "sac-mtl" and src.shape[0] < 2:
        raise ValueError("sac-mtl needs at least two source domains; drop it from train.methods")
    trainer = make_trainer(method, model, ctx.learned(), config=_gsac_config(ctx),
                           rng=np.random.SeedSequence([ctx.config.seed, OWN_STAGE_SEEDS[f"train:{method}"]]),
                           n_runs=t.runs, **kwargs)
    every = max(1, t.iterations // t.eval_points)
    ctx.echo(f"meta-training {method} in the discovered model: {t.iterations} iterations x {t.runs} runs")
    result = trainer.run(t.iterations, eval_every=every, eval_episodes=t.eval_episodes,
                         eval_env=model.with_domain_factor(tgt), eval_w_hat=tgt, progress=ctx.progress)
    summary = summarize_training(result).to_dict()
    summary.update({"method": method, "iterations_done": int(result.iterations),
                    "critic_entries": int(result.critic_entries), "train_seconds": result.train_seconds,
                    "evaluated_in": {"where": MODEL_BASED, "target_coordinate": tgt_scalar,
                                     "episodes": t.eval_episodes}})
    bundle = PolicyBundle.from_trainer(trainer, algorithm=method, info={"stage": f"train:{method}",
                                                                          "trained_in": "discovered model"})
    folder = save_policy(bundle, ctx.path(f"policies/meta/{method}"))
    return [folder / n for n in ("policy.npz", "graph.json", "policy.json")] + [
        ctx.write_json(f"training/{method}.json", summary)]


def stage_adapt(ctx) -> list[Path]:
    """Zero-shot deployment with the target's estimated factor; adaptation curves in the target model;
    evaluation in the simulator when one is given."""
    from rl.adaptation import adaptation_curves, mean_ci, zero_shot
    from rl.algorithms import make_trainer
    from rl.evaluation import discounted_return
    from rl.persistence import PolicyBundle, load_policy, save_policy
    from rl.policies import UniformPolicy

    cfg = ctx.config
    model = _model(ctx)
    _, tgt, tgt_scalar = _coords(ctx)
    runs = cfg.train.runs
    net = _net(ctx)
    gamma, horizon = float(net["gamma"]), int(net["horizon"])
    seeds = np.random.SeedSequence([cfg.seed, OWN_STAGE_SEEDS["adapt"]]).spawn(3)
    learn_seeds = dict(zip(("sac-ft", "sac-lfs"), seeds[0].spawn(2)))
    methods: dict[str, Any] = {}
    bundles: dict[str, Any] = {}
    for method in cfg.train.methods:
        if method in ("gsac", "sac-mtl"):
            bundles[method] = load_policy(ctx.path(f"policies/meta/{method}"))
            methods[method] = [zero_shot(p, tgt) for p in bundles[method].policies]
        elif method == "sac-ft":
            pre = load_policy(ctx.path("policies/meta/sac-ft"))
            methods[method] = make_trainer("sac-ft", model, ctx.learned(), config=_gsac_config(ctx),
                                           target_factor=tgt, initial_policy=pre.policies,
                                           rng=learn_seeds["sac-ft"], n_runs=runs)
        else:
            methods[method] = make_trainer("sac-lfs", model, ctx.learned(), config=_gsac_config(ctx),
                                           target_factor=tgt, rng=learn_seeds["sac-lfs"], n_runs=runs)
    methods["uniform"] = UniformPolicy(model.action_counts)
    ctx.echo(f"adaptation curves in the discovered target model (coordinate {tgt_scalar:.4f}), "
             f"{cfg.adapt.episodes} episodes, {runs} runs")
    curves = adaptation_curves(methods, model, tgt, episodes=cfg.adapt.episodes,
                               eval_episodes=cfg.adapt.eval_episodes, gamma=gamma, horizon=horizon,
                               rng=seeds[1], n_runs=runs)
    out = curves.to_dict()
    out["evaluated_in"] = MODEL_BASED
    out["target_estimates"] = {"coordinate": tgt_scalar, "label": net["target_domain"],
                               "known_factor": net.get("target_factor_known"),
                               "trajectories": int(ctx.read_json("data_summary.json")["target"]["episodes"])}
    files = [ctx.write_json("adaptation.json", out)]
    deployed: dict[str, list] = {"uniform": [methods["uniform"]] * runs}
    for method in cfg.train.methods:
        m = methods[method]
        if method in bundles:
            b = bundles[method]
            bundle = PolicyBundle(policies=m, config=b.config, graph=b.graph, inputs=b.inputs,
                                  env_config=b.env_config, source_factors=b.source_factors,
                                  source_w_hat=b.source_w_hat, algorithm=method,
                                  info={"deployed": "zero-shot", "target_coordinate": tgt_scalar})
        else:
            bundle = PolicyBundle.from_trainer(m, algorithm=method, info={
                "deployed": f"after {cfg.adapt.episodes} episodes in the target model",
                "target_coordinate": tgt_scalar})
        deployed[method] = list(bundle.policies)
        folder = save_policy(bundle, ctx.path(f"policies/target/{method}"))
        files += [folder / n for n in ("policy.npz", "graph.json", "policy.json")]
    sim = _simulator(ctx)
    if sim is not None:
        ctx.echo(f"evaluating the deployed policies in the simulator at the target factor "
                 f"{net['target_factor_known']}")
        eval_seeds = seeds[2].spawn(runs)
        result: dict[str, Any] = {"target_factor": net["target_factor_known"], "episodes": cfg.adapt.eval_episodes,
                                  "gamma": gamma, "horizon": horizon, "methods": {}}
        for name, policies in deployed.items():
            per_run = [discounted_return(sim, p, gamma=gamma, horizon=horizon, episodes=cfg.adapt.eval_episodes,
                                         rng=np.random.default_rng(s), batch_size=cfg.adapt.eval_episodes).mean
                       for p, s in zip(policies, eval_seeds)]
            mean, lo, hi = mean_ci(np.asarray(per_run)[:, None])
            result["methods"][name] = {"per_run": per_run, "mean": float(mean[0]),
                                       "ci95": [None if not np.isfinite(lo[0]) else float(lo[0]),
                                                None if not np.isfinite(hi[0]) else float(hi[0])]}
        files.append(ctx.write_json("simulator_evaluation.json", result))
    return files


def stage_metrics(ctx) -> list[Path]:
    """``metrics.json``: per method the model-based estimate (zero-shot, adaptation) and the simulator's."""
    cfg = ctx.config
    adapt = ctx.read_json("adaptation.json")
    sim_path = ctx.path("simulator_evaluation.json")
    sim = ctx.read_json("simulator_evaluation.json") if sim_path.is_file() else None
    net = _net(ctx)
    methods = {}
    for name, curve in adapt["methods"].items():
        s = curve["summary"]
        methods[name] = {
            "learning_in_target": curve["learning"],
            "model_based_estimate": {
                "zero_shot": {"mean": curve["mean"][0], "ci95": [curve["ci_low"][0], curve["ci_high"][0]]},
                "curve_average": s["curve_average"], "final_return": s["final_return"]},
            "simulator": None if sim is None else sim["methods"].get(name)}
    reference = {"uniform": methods.pop("uniform")}
    factors = ctx.read_json("domain_factors.json")
    metrics = {"system": {"origin": net["origin"], "n_agents": net["n_agents"], "gamma": net["gamma"],
                          "horizon": net["horizon"], "target_domain": net["target_domain"],
                          "target_factor_known": net.get("target_factor_known"),
                          "target_coordinate": factors["coordinates"]["target"],
                          "coordinate_units": factors["coordinates"]["units"], "runs": cfg.train.runs,
                          "meta_iterations": cfg.train.iterations, "adaptation_episodes": cfg.adapt.episodes,
                          "metric": f"mean over agents of sum_(t<{net['horizon']}) {net['gamma']}^t r_i(t)"},
               "evaluated_in": {"model_based_estimate": MODEL_BASED,
                                "simulator": None if sim is None else f"the simulator at factor {sim['target_factor']}"},
               "methods": methods, "reference": reference}
    training = {"evaluated_in": MODEL_BASED,
                "methods": {m: ctx.read_json(f"training/{m}.json") for m in cfg.train.methods if m in META_METHODS}}
    return [ctx.write_json("metrics.json", metrics), ctx.write_json("training.json", training)]


def stage_report(ctx) -> list[Path]:
    """Figures, ``report.md`` and ``report.html`` of the own-system run."""
    from analysis.own_report import build_own_report

    return list(build_own_report(ctx.folder))


_STAGES = {"load": stage_load, "discover": stage_discover, "acr": stage_acr,
           "domain_factors": stage_domain_factors_own, "adapt": stage_adapt, "metrics": stage_metrics,
           "report": stage_report}


def run_own_stage(name: str, ctx) -> list[Path]:
    """Run stage ``name`` of an own-system run; return the files it wrote."""
    if name.startswith("train:"):
        return _train(ctx, name.split(":", 1)[1])
    return _STAGES[name](ctx)
