"""The stages of ``causalnet run``; each reads its inputs from the run folder and writes its outputs there.

Stages run in the order of :func:`stage_names`. Every stage takes all its inputs from
files written by earlier stages (never from memory), so a resumed run computes exactly
what an uninterrupted one does. Each stage draws its randomness from its own
``SeedSequence([seed, stage_id])``, independent of which stages ran in this process.

Files (relative to the run folder):

============================ =========================================================
``config.json``/``.toml``    resolved configuration
``env.json``                 the environment's parameters (``env.config()``)
``data/source.npz``/``.json`` source transitions (:class:`causalnet.data.Transitions`)
``data_summary.json``        rows, episodes and mean reward per source domain
``true_graph.json``          ground truth of the simulator
``graph.json``               learned graph
``structure_metrics.json``   learned vs true graph, per mask type
``acr.json``                 value / policy / domain ACR per agent, size table
``domain_factors.json``      source ``w_hat`` and the estimation-error curve
``training/<method>.json``   training curve (mean, 95% CI over runs)
``policies/meta/<method>/``  meta-trained policies (gsac, sac-mtl, sac-ft)
``policies/target/<method>/`` policies deployed in the target after adaptation
``adaptation.json``          adaptation curves over the first target episodes
``metrics.json``             per method: zero-shot and adaptation returns, 95% CIs
``progress.csv``/``.jsonl``  every evaluation point of the learning stages, appended as measured
``figures/*.png``, ``report.md``, ``report.html``
============================ =========================================================
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from causalnet.acr_file import read_acr
from causalnet.data import Transitions
from causalnet.discovery import LocalDiscovery, hops_warning
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.domain_factors_continuous import make_domain_factor_estimator
from causalnet.domain_factors_latent import LatentDomainFactorEstimator
from causalnet.graph import FactoredGraph
from causalnet.io import atomic_write_json, json_ready
from causalnet.progress_log import ProgressLog
from causalnet_cli.pipeline.config import RunConfig

__all__ = ["MAX_TABULAR_POLICY_STATES", "PipelineContext", "STAGE_SEEDS", "build_environment",
           "check_tabular_actor_size", "run_stage", "stage_names"]

logger = logging.getLogger(__name__)

#: Fixed stream id of each stage (``SeedSequence([seed, id])``); never renumber.
STAGE_SEEDS: dict[str, int] = {"collect": 1, "domain_factors": 2, "train:gsac": 3, "train:sac-mtl": 4,
                               "train:sac-ft": 5, "adapt": 6, "latent_bootstrap": 7, "latent_reference": 8}
META_METHODS = ("gsac", "sac-mtl", "sac-ft")
#: Frozen reference policies of the adapt stage, reported under ``metrics.json["reference"]``.
REFERENCE_POLICIES = ("uniform", "max-pressure", "fixed-time")
#: Environment kinds with continuous states: the tabular trainers cannot run on them.
CONTINUOUS_KINDS = ("synthetic-continuous",)


def stage_names(config: RunConfig) -> list[str]:
    """The stages of a run with ``config``, in order."""
    if config.env.kind in ("data", "pettingzoo"):   # your own system: causalnet_cli/pipeline/own_stages.py
        from causalnet_cli.pipeline.own_stages import own_stage_names
        return own_stage_names(config)
    if config.env.kind == "lqr" or config.env.kind in CONTINUOUS_KINDS:
        # function approximation: causalnet_cli.pipeline.lqr_stages / continuous_stages
        train = ["train:gsac"] if "gsac" in config.train.methods else []
        return ["collect", "discover", "acr", "domain_factors", *train, "adapt", "metrics", "report"]
    train = [f"train:{m}" for m in config.train.methods if m in META_METHODS]
    return ["collect", "discover", "acr", "domain_factors", *train, "adapt", "metrics", "report"]


def build_environment(config: RunConfig):
    """The environment of ``config.env`` (its own domain factor is irrelevant: stages set it)."""
    from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv

    env = config.env
    if env.kind == "traffic":
        from rl.envs.traffic import TrafficGridEnv

        return TrafficGridEnv(env.rows, env.cols, bins=env.bins, saturation=env.saturation, turning=env.turning,
                              switching_cost=env.switching_cost)
    if env.kind == "wireless":
        return WirelessAccessEnv.from_grid(env.grid, deadline=env.deadline, transmit=env.transmit)
    if env.kind == "lqr":
        from rl.envs.lqr import NetworkedLQREnv

        return NetworkedLQREnv(env.agents, topology=env.topology, distractors=env.distractors,
                               domain=env.lqr_domain, env_seed=env.env_seed)
    if env.kind == "synthetic-continuous":
        from rl.envs.synthetic_continuous import SyntheticContinuousEnv
        return SyntheticContinuousEnv.random(env.agents, rng=env.env_seed, topology=env.topology,
                                             mechanism=env.mechanism)
    return SyntheticNetworkEnv.random(env.agents, rng=env.env_seed, topology=env.topology)


@dataclass
class PipelineContext:
    """What every stage needs: configuration, run folder, progress switch."""

    config: RunConfig
    folder: Path
    progress: bool = False
    echo: Callable[[str], None] = field(default=lambda text: None)
    inputs: Any = None   # own systems: the validated user inputs (own_system.OwnInputs), when already read
    executor: Any = None    # a causalnet.backends.Backend for discovery (None: discovery.n_jobs processes)
    _env: Any = None
    _log: Any = None

    @property
    def env(self):
        """The environment (built once per process)."""
        if self._env is None:
            self._env = build_environment(self.config)
        return self._env

    def seed(self, stage: str) -> np.random.SeedSequence:
        """The stage's own seed sequence."""
        return np.random.SeedSequence([self.config.seed, STAGE_SEEDS[stage]])

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def progress_log(self) -> ProgressLog:
        """The run's streamed evaluation log (``progress.csv``, ``progress.jsonl``)."""
        if self._log is None:
            self._log = ProgressLog(self.folder)
        return self._log

    def read_json(self, rel: str) -> Any:
        return json.loads(self.path(rel).read_text(encoding="utf-8"))

    def write_json(self, rel: str, obj: Any) -> Path:
        return atomic_write_json(self.path(rel), json_ready(obj))

    # ------------------------------------------------------------------ loaders
    def data(self) -> Transitions:
        return Transitions.load(self.path("data/source"))

    def truth(self) -> FactoredGraph:
        return FactoredGraph.load(self.path("true_graph.json"))

    def learned(self) -> FactoredGraph:
        return FactoredGraph.load(self.path("graph.json"))

    def training_graph(self) -> FactoredGraph:
        """Graph whose ACRs GSAC uses (``train.graph``)."""
        return self.learned() if self.config.train.graph == "learned" else self.truth()

    def estimator(self):
        """Domain-factor estimator (``domains.estimator``) fitted on the source data with the training graph."""
        if self.config.domains.estimator == "latent":
            return LatentDomainFactorEstimator(self.training_graph(), rng=self.seed("latent_bootstrap")).fit(self.data())
        return make_domain_factor_estimator(self.training_graph()).fit(self.data())

    def source_factors(self) -> np.ndarray:
        n = self.env.n_agents
        return np.repeat(np.asarray(self.config.domains.sources, dtype=np.float64)[:, None], n, axis=1)

    def target_factor(self) -> np.ndarray:
        return np.full(self.env.n_agents, float(self.config.domains.target))


# ------------------------------------------------------------------ helpers
def _filled_w_hat(w_hat: np.ndarray) -> np.ndarray:
    """Replace agents without an estimate (no domain edge found) by their domain's mean estimate.

    ``w_hat`` has one row per domain. All agents of the benchmark share one factor per
    domain, so the mean over the agents that have an estimate is the natural value for
    the others; their policies do not read it when their domain ACR is empty.
    """
    w = np.array(w_hat, dtype=np.float64, copy=True)
    for row in w:
        finite = np.isfinite(row)
        if not finite.any():
            raise ValueError("no agent has a domain-factor estimate: the learned graph has no domain edge "
                             "(collect more data per domain, or set train.graph = \"true\")")
        row[~finite] = row[finite].mean()
    return w


# ------------------------------------------------------------------ stages
def stage_collect(ctx: PipelineContext) -> list[Path]:
    """Uniform-policy source data, environment parameters, ground truth and a data summary."""
    from rl.rollout import collect_transitions

    cfg = ctx.config
    env = ctx.env
    ctx.echo(f"collecting {cfg.data.episodes} episodes x {cfg.data.horizon} steps in each of "
             f"{len(cfg.domains.sources)} source domains ({env.n_agents} agents)")
    data = collect_transitions(env, None, episodes=cfg.data.episodes, horizon=cfg.data.horizon,
                               domain_factors=list(cfg.domains.sources),
                               rng=np.random.default_rng(ctx.seed("collect")))
    files = list(data.save(ctx.path("data/source")))
    per_domain = []
    for m, w in enumerate(cfg.domains.sources):
        part = data.in_domain(m)
        per_domain.append({"domain": m, "factor": w, "rows": len(part), "episodes": part.n_episodes,
                           "mean_reward_per_agent": float(part.rewards.mean())})
    spec = env.spec
    summary = {"rows": len(data), "episodes_per_domain": cfg.data.episodes, "horizon": cfg.data.horizon,
               "n_agents": spec.n_agents, "n_state_coordinates": spec.n_state,
               "action_cardinality": list(spec.action_cardinality), "n_interaction_edges": len(spec.edges),
               "behaviour_policy": "uniform", "domains": per_domain}
    files += [ctx.write_json("data_summary.json", summary), ctx.write_json("env.json", env.config()),
              env.true_graph().save(ctx.path("true_graph.json"))]
    return files


def stage_discover(ctx: PipelineContext) -> list[Path]:
    """Local constraint-based discovery of the two-slice graph; its comparison with the truth."""
    from analysis.structure import format_structure_table, structure_metrics

    d = ctx.config.discovery
    data = ctx.data()
    ctx.echo(f"discovering parents of {data.spec.n_state + data.spec.n_agents} targets from {len(data)} rows "
             f"(alpha={d.alpha}, {d.ci_test}, conditioning sets <= {d.max_cond_size})")
    est = LocalDiscovery(alpha=d.alpha, ci_test=d.ci_test, max_cond_size=d.max_cond_size, n_jobs=d.n_jobs,
                         progress=ctx.progress, executor=ctx.executor)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(data)
    graph = est.graph_
    truth = ctx.truth()
    beyond = hops_warning(truth, est.neighborhood_hops)
    if beyond:
        logger.warning("%s", beyond)
    metrics = structure_metrics(graph, truth)
    metrics["discovery"] = {"method": "local", "alpha": d.alpha, "ci_test": d.ci_test,
                            "max_cond_size": d.max_cond_size, "n_tests": est.n_tests_,
                            "warnings": [str(w.message) for w in caught] + list(est.warnings_)
                            + ([beyond] if beyond else [])}
    ctx.echo(f"learned {graph.n_edges()} edges; against the true graph:")
    for line in format_structure_table(metrics).splitlines():
        ctx.echo(f"  {line}")
    return [graph.save(ctx.path("graph.json")), ctx.write_json("structure_metrics.json", metrics)]


def stage_acr(ctx: PipelineContext) -> list[Path]:
    """Value, policy and domain ACR of every agent, from the learned graph (truth beside it)."""
    from causalnet_cli.discover import _acr_result

    result = _acr_result(ctx.learned(), ctx.truth(), ctx.config.acr.kappa)
    ctx.echo(f"ACRs of {len(result['agents'])} agents; {result.get('agents_matching_truth')} equal the true ones")
    return [ctx.write_json("acr.json", result)]


def stage_domain_factors(ctx: PipelineContext) -> list[Path]:
    """Source ``w_hat`` from the source data, and the target's estimation error against ``T_a``."""
    from analysis.factor_error import factor_error_curve
    from causalnet_cli.discover import _domain_factor_result

    cfg = ctx.config
    graph = ctx.training_graph()
    data = ctx.data()
    estimator = ctx.estimator()
    result = _domain_factor_result(estimator, data)
    result["graph"] = cfg.train.graph
    result["estimator"] = cfg.domains.estimator
    if not result["agents_with_factor"]:
        raise ValueError("the learned graph has no domain edge, so no domain factor can be estimated: collect "
                         "more data (data.episodes) or set train.graph = \"true\"")
    if cfg.env.kind in CONTINUOUS_KINDS:
        # w_hat is a score along the parameters' principal direction, not on the scale of the
        # simulator's factor: see benchmarks/continuous_domain_factors.py for its error curve
        result["error_curve"] = None
        return [ctx.write_json("domain_factors.json", result)]
    ctx.echo(f"estimation error of the target factor {cfg.domains.target} over {cfg.analysis.error_repeats} "
             f"repeats at T_a in {list(cfg.analysis.error_trajectories)}")
    reference = _target_reference(ctx, estimator)
    if reference is not None:
        result["target_reference"] = {"w_hat": reference, "episodes": cfg.data.episodes,
                                      "meaning": "the latent estimator's estimate from data.episodes target "
                                                 "episodes: the target factor on the estimator's scale"}
    result["error_curve"] = factor_error_curve(estimator, ctx.env, cfg.domains.target,
                                               trajectories=list(cfg.analysis.error_trajectories),
                                               repeats=cfg.analysis.error_repeats, horizon=cfg.data.horizon,
                                               rng=ctx.seed("domain_factors"), progress=ctx.progress,
                                               reference=reference)
    return [ctx.write_json("domain_factors.json", result)]


def _target_reference(ctx: PipelineContext, estimator) -> np.ndarray | None:
    """The target factor on the estimator's scale: None for the principal estimator (the w scale),
    else the latent estimate from ``data.episodes`` uniform-policy target episodes."""
    if ctx.config.domains.estimator != "latent":
        return None
    from rl.adaptation import estimate_target_factor

    return estimate_target_factor(estimator, ctx.env, ctx.target_factor(), trajectories=ctx.config.data.episodes,
                                  horizon=ctx.config.data.horizon, rng=ctx.seed("latent_reference"))[0]


def _target_w_hat(ctx: PipelineContext) -> np.ndarray:
    """What the agents see in the target when evaluated along training: the true factor, or its
    large-sample latent estimate (``domains.estimator = "latent"``)."""
    ref = ctx.read_json("domain_factors.json").get("target_reference")
    if ref is None:
        return ctx.target_factor()
    w = np.array([np.nan if v is None else float(v) for v in ref["w_hat"]], dtype=np.float64)
    return _filled_w_hat(w[None])[0]


def _source_w_hat(ctx: PipelineContext) -> np.ndarray:
    rows = ctx.read_json("domain_factors.json")["domains"]
    w = np.array([[np.nan if v is None else float(v) for v in r["w_hat"]] for r in rows], dtype=np.float64)
    return _filled_w_hat(w)


def _gsac_config(ctx: PipelineContext):
    from rl.gsac import GSACConfig

    t = ctx.config.train
    return GSACConfig(kappa=ctx.config.acr.kappa, gamma=t.gamma, horizon=ctx.config.data.horizon,
                      actor_lr=t.actor_lr, critic=t.critic, actor=t.actor)


#: Largest number of local states of one agent's tabular actor the pipeline accepts (``S`` of ``theta``).
MAX_TABULAR_POLICY_STATES = 1 << 20


def check_tabular_actor_size(graph: FactoredGraph, *, kappa: int, method: str) -> None:
    """Refuse a tabular actor whose table would not fit (one row per joint value of the policy inputs).

    GSAC's actor reads the policy ACR; the SAC baselines read the agent's own coordinates.
    Raises ``ValueError`` naming the agent, its table size and what to change.

    >>> from rl.envs import TrafficGridEnv
    >>> check_tabular_actor_size(TrafficGridEnv(2, 2, bins=2).true_graph(), kappa=1, method="gsac")
    >>> check_tabular_actor_size(TrafficGridEnv(3, 3).true_graph(), kappa=1, method="gsac")
    Traceback (most recent call last):
    ...
    ValueError: train:gsac: the tabular actor of agent 1 would have 3^13 = 1594323 local states (limit 1048576)...
    """
    from causalnet.acr import policy_acr

    spec = graph.spec
    for agent in range(spec.n_agents):
        if method == "gsac":
            names = policy_acr(graph, agent, kappa=kappa)
        else:
            names = [spec.state_names[j] for j in spec.agent_state_indices(agent)]
        cards = [spec.cardinality(name) or 1 for name in names]
        size = int(np.prod(cards, dtype=object)) if cards else 1
        if size > MAX_TABULAR_POLICY_STATES:
            shown = f"{cards[0]}^{len(cards)}" if len(set(cards)) == 1 else "x".join(map(str, cards))
            raise ValueError(f"train:{method}: the tabular actor of agent {agent} would have {shown} = {size} local "
                             f"states (limit {MAX_TABULAR_POLICY_STATES}); use a smaller system (traffic: "
                             f"env.rows/env.cols 2, env.bins 2) or the linear actor (train.actor_model = "
                             f"\"linear\", gsac and sac-mtl; rl.actors_linear)")


def _train(ctx: PipelineContext, method: str) -> list[Path]:
    """Meta-train ``method`` over the source domains, evaluated along the way in the target."""
    from rl.adaptation import summarize_training
    from rl.algorithms import make_trainer
    from rl.persistence import PolicyBundle, save_policy

    cfg = ctx.config
    t = cfg.train
    env = ctx.env
    graph = ctx.training_graph() if method == "gsac" else ctx.truth()
    if t.actor_model == "linear":
        from causalnet_cli.pipeline.linear_stages import train_linear

        return train_linear(ctx, method, graph=graph, source_w_hat=_source_w_hat(ctx), eval_w_hat=_target_w_hat(ctx))
    check_tabular_actor_size(graph, kappa=cfg.acr.kappa, method=method)
    kwargs: dict[str, Any] = {"source_factors": ctx.source_factors()}
    if method in ("gsac", "sac-mtl"):
        kwargs["source_w_hat"] = _source_w_hat(ctx)
    trainer = make_trainer(method, env, graph, config=_gsac_config(ctx), rng=ctx.seed(f"train:{method}"),
                           n_runs=t.runs, **kwargs)
    every = max(1, t.iterations // t.eval_points)
    ctx.echo(f"meta-training {method}: {t.iterations} iterations x {t.runs} runs, evaluated every {every} in the "
             f"target domain ({cfg.domains.target})")
    target = ctx.target_factor()
    eval_w_hat = _target_w_hat(ctx) if method in ("gsac", "sac-mtl") else target
    result = trainer.run(t.iterations, eval_every=every, eval_episodes=t.eval_episodes,
                         eval_env=env.with_domain_factor(target), eval_w_hat=eval_w_hat, progress=ctx.progress,
                         on_eval=ctx.progress_log().training_hook(f"train:{method}", method))
    summary = summarize_training(result).to_dict()
    summary.update({"method": method, "iterations_done": int(result.iterations),
                    "critic_entries": int(result.critic_entries), "train_seconds": result.train_seconds,
                    "evaluated_in": {"target_factor": cfg.domains.target, "w_hat": "true target factor",
                                     "episodes": t.eval_episodes}})
    bundle = PolicyBundle.from_trainer(trainer, algorithm=method, info={"stage": f"train:{method}",
                                                                          "iterations": int(result.iterations),
                                                                          "seed": cfg.seed})
    folder = save_policy(bundle, ctx.path(f"policies/meta/{method}"))
    files = [folder / name for name in ("policy.npz", "graph.json", "policy.json")]
    ctx.echo(f"{method}: final return in the target {float(np.mean(result.eval_returns[:, -1])):.4f} "
             f"(mean of {t.runs} runs)")
    return files + [ctx.write_json(f"training/{method}.json", summary)]


def stage_adapt(ctx: PipelineContext) -> list[Path]:
    """Zero-shot deployment (GSAC, SAC-MTL) and learning in the target (SAC-FT, SAC-LFS): adaptation curves."""
    from rl.adaptation import adaptation_curves, estimate_target_factor, zero_shot
    from rl.algorithms import make_trainer
    from rl.persistence import PolicyBundle, load_policy, save_policy
    from rl.policies import UniformPolicy

    cfg = ctx.config
    env, runs = ctx.env, cfg.train.runs
    target = ctx.target_factor()
    estimator = ctx.estimator()
    seeds = ctx.seed("adapt").spawn(3)
    # each run estimates the target factor from its own T_a trajectories (shared by GSAC and SAC-MTL run r)
    estimates = [estimate_target_factor(estimator, env, target, trajectories=cfg.adapt.trajectories,
                                        horizon=cfg.data.horizon, rng=np.random.default_rng(s))[0]
                 for s in seeds[0].spawn(runs)]
    w_target = np.stack(estimates)
    fill = _source_w_hat(ctx).mean(axis=0)
    methods: dict[str, Any] = {}
    bundles: dict[str, Any] = {}
    learn_seeds = dict(zip(("sac-ft", "sac-lfs"), seeds[1].spawn(2)))
    for method in cfg.train.methods:
        if method in ("gsac", "sac-mtl") and cfg.train.actor_model == "linear":
            from causalnet_cli.pipeline.linear_stages import linear_zero_shot

            bundles[method], methods[method] = linear_zero_shot(ctx, method, w_target, fill)
        elif method in ("gsac", "sac-mtl"):
            bundle = load_policy(ctx.path(f"policies/meta/{method}"))
            bundles[method] = bundle
            methods[method] = [zero_shot(p, w, fill=fill) for p, w in zip(bundle.policies, w_target)]
        elif cfg.train.actor_model == "linear":
            from causalnet_cli.pipeline.linear_stages import linear_target_learner

            methods[method] = linear_target_learner(ctx, method, rng=learn_seeds[method])
        elif method == "sac-ft":
            bundle = load_policy(ctx.path("policies/meta/sac-ft"))
            config = dataclasses.replace(_gsac_config(ctx), actor_lr=cfg.adapt.ft_actor_lr)
            start = np.stack([p.theta for p in bundle.policies]) * cfg.adapt.ft_logit_scale
            methods[method] = make_trainer("sac-ft", env, ctx.truth(), config=config,
                                           target_factor=target, initial_policy=start,
                                           rng=learn_seeds["sac-ft"], n_runs=runs)
        else:
            config = dataclasses.replace(_gsac_config(ctx), actor_lr=cfg.adapt.lfs_actor_lr)
            methods[method] = make_trainer("sac-lfs", env, ctx.truth(), config=config,
                                           target_factor=target, rng=learn_seeds["sac-lfs"], n_runs=runs)
    methods["uniform"] = UniformPolicy(env.action_counts)
    if cfg.env.kind == "traffic":   # the traffic engineer's baselines (docs/traffic.md), frozen like uniform
        from rl.policies import FixedTimePolicy, MaxPressurePolicy

        methods["max-pressure"] = MaxPressurePolicy(env)
        methods["fixed-time"] = FixedTimePolicy(env, green=2)
    ctx.echo(f"adaptation curves over {cfg.adapt.episodes} target episodes, {runs} runs, methods "
             f"{', '.join(cfg.train.methods)} (+ references {', '.join(m for m in REFERENCE_POLICIES if m in methods)})")
    curves = adaptation_curves(methods, env, target, episodes=cfg.adapt.episodes,
                               eval_episodes=cfg.adapt.eval_episodes, gamma=cfg.train.gamma,
                               horizon=cfg.data.horizon, rng=seeds[2], n_runs=runs,
                               on_point=ctx.progress_log().adaptation_hook("adapt"),
                               iterations_per_episode={"sac-ft": cfg.adapt.ft_iterations_per_episode,
                                                       "sac-lfs": cfg.adapt.lfs_iterations_per_episode})
    out = curves.to_dict()
    out["target_estimates"] = {"trajectories": cfg.adapt.trajectories, "w_hat": w_target,
                               "mean_abs_error": float(np.nanmean(np.abs(w_target - _target_w_hat(ctx))))}
    files = [ctx.write_json("adaptation.json", out)]
    for method in cfg.train.methods:
        m = methods[method]
        if cfg.train.actor_model == "linear":
            from causalnet_cli.pipeline.linear_stages import save_linear_learner, save_linear_target

            files += (save_linear_target(ctx, method, bundles[method], m) if method in bundles
                      else save_linear_learner(ctx, method, m))
            continue
        if method in bundles:
            b = bundles[method]
            bundle = PolicyBundle(policies=m, config=b.config, graph=b.graph, inputs=b.inputs,
                                  env_config=b.env_config, source_factors=b.source_factors,
                                  source_w_hat=b.source_w_hat, algorithm=method,
                                  info={"deployed": "zero-shot", "target_factor": cfg.domains.target})
        else:
            bundle = PolicyBundle.from_trainer(m, algorithm=method,
                                               info={"deployed": f"after {cfg.adapt.episodes} target episodes",
                                                     "target_factor": cfg.domains.target})
        folder = save_policy(bundle, ctx.path(f"policies/target/{method}"))
        files += [folder / name for name in ("policy.npz", "graph.json", "policy.json")]
    return files


def _ci(summary: dict[str, Any]) -> dict[str, Any]:
    return {"mean": summary["mean"], "ci95": summary["ci95"]}


def stage_metrics(ctx: PipelineContext) -> list[Path]:
    """``metrics.json`` (per method zero-shot and adaptation returns with 95% CIs) and ``training.json``."""
    cfg = ctx.config
    adapt = ctx.read_json("adaptation.json")
    methods = {}
    for name, curve in adapt["methods"].items():
        s = curve["summary"]
        methods[name] = {
            "learning_in_target": curve["learning"],
            "zero_shot": {"mean": curve["mean"][0], "ci95": [curve["ci_low"][0], curve["ci_high"][0]]},
            "adaptation": {"episodes": adapt["settings"]["episodes"],
                           "curve_average": _ci(s["curve_average"]), "final_return": _ci(s["final_return"]),
                           "curve_mean": curve["mean"], "curve_ci_low": curve["ci_low"],
                           "curve_ci_high": curve["ci_high"]},
            "final_average_reward": _ci(s["final_average_reward"])}
    reference = {k: methods.pop(k) for k in REFERENCE_POLICIES if k in methods}
    structure = ctx.read_json("structure_metrics.json")
    acr = read_acr(ctx.path("acr.json"))
    factors = ctx.read_json("domain_factors.json")
    training = {"evaluated_in": {"target_factor": cfg.domains.target, "w_hat": "true target factor"},
                "methods": {m: ctx.read_json(f"training/{m}.json") for m in cfg.train.methods
                            if m in META_METHODS}}
    metrics = {
        "benchmark": {"env": ctx.read_json("env.json").get("env"), "n_agents": ctx.env.n_agents,
                      "sources": list(cfg.domains.sources), "target": cfg.domains.target,
                      "runs": cfg.train.runs, "meta_iterations": cfg.train.iterations,
                      "adaptation_episodes": cfg.adapt.episodes, "metric": (
                          f"mean over agents of the discounted return sum_(t<{cfg.data.horizon}) "
                          f"{cfg.train.gamma}^t r_i(t), {cfg.adapt.eval_episodes} rollouts per point")},
        "methods": methods,
        "reference": reference,
        "structure": {k: structure[k] for k in ("precision", "recall", "f1", "shd")},
        "acr": {"kappa": acr["kappa"], "agents_matching_truth": acr.get("agents_matching_truth"),
                "mean_value_acr_dim": float(np.mean([r["acr_dim"] for r in acr["table"]])),
                "mean_kappa_hop_dim": float(np.mean([r["kappa_hop_dim"] for r in acr["table"]]))},
        "domain_factors": {"target_estimate_mean_abs_error": adapt["target_estimates"]["mean_abs_error"],
                           "error_curve_loglog_slope": factors["error_curve"].get("loglog_slope")},
    }
    return [ctx.write_json("metrics.json", metrics), ctx.write_json("training.json", training)]


def stage_report(ctx: PipelineContext) -> list[Path]:
    """Figures, ``report.md`` and ``report.html`` from the saved results (what ``causalnet report`` runs)."""
    from analysis.report import build_report

    written = build_report(ctx.folder, agent=None if ctx.config.analysis.agent < 0 else ctx.config.analysis.agent)
    return list(written)


STAGES: dict[str, Callable[[PipelineContext], list[Path]]] = {
    "collect": stage_collect, "discover": stage_discover, "acr": stage_acr, "domain_factors": stage_domain_factors,
    "adapt": stage_adapt, "metrics": stage_metrics, "report": stage_report}


def run_stage(name: str, ctx: PipelineContext) -> tuple[list[Path], float]:
    """Run stage ``name``; return the files it wrote and its wall time."""
    start = time.perf_counter()
    if ctx.config.env.kind in ("data", "pettingzoo"):
        from causalnet_cli.pipeline.own_stages import run_own_stage
        return run_own_stage(name, ctx), time.perf_counter() - start
    if ctx.config.env.kind == "lqr":
        from causalnet_cli.pipeline.lqr_stages import LQR_STAGES

        if name in LQR_STAGES:
            return LQR_STAGES[name](ctx), time.perf_counter() - start
    if ctx.config.env.kind in CONTINUOUS_KINDS:
        from causalnet_cli.pipeline.continuous_stages import CONTINUOUS_STAGES

        if name in CONTINUOUS_STAGES:
            return CONTINUOUS_STAGES[name](ctx), time.perf_counter() - start
    if name.startswith("train:"):
        files = _train(ctx, name.split(":", 1)[1])
    else:
        files = STAGES[name](ctx)
    return files, time.perf_counter() - start
