"""The linear actor in ``causalnet run`` (``train.actor_model = "linear"``): training and zero-shot deployment.

GSAC and SAC-MTL are meta-trained with :class:`rl.actors_linear.LinearActorCritic`
instead of the tabular trainer: GSAC on the policy / value ACRs of the training graph
with features ``[1, w]``, SAC-MTL on the kappa-hop truncation with the one-hot code of
the nearest source (the same split as ``benchmarks/traffic_claims.py``). Each iteration
rolls out ``train.linear_episodes`` episodes per run; ``train.linear_iterations``
iterations in all. The policies are saved as linear bundles (:mod:`rl.linear_bundle`)
and deployed zero-shot with the target estimate ``w_hat`` in the ``adapt`` stage.
SAC-FT (meta-trained with constant features on the truncation) and SAC-LFS learn in the
target with the same linear learner, one target episode per iteration
(:func:`linear_target_learner`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LINEAR_METHODS", "linear_config", "linear_target_learner", "linear_zero_shot", "save_linear_learner",
           "save_linear_target", "train_linear"]

#: Methods the linear actor replaces when ``train.actor_model = "linear"``.
LINEAR_METHODS = ("gsac", "sac-mtl", "sac-ft", "sac-lfs")
_MODES = {"gsac": ("acr", "linear"), "sac-mtl": ("truncation", "source_onehot"), "sac-ft": ("truncation", "constant"),
          "sac-lfs": ("truncation", "constant")}


def linear_config(ctx, method: str, *, episodes: int | None = None):
    """The :class:`~rl.actors_linear.LinearACConfig` of ``method`` from the run configuration."""
    from rl.actors_linear import LinearACConfig

    cfg = ctx.config
    inputs, features = _MODES[method]
    return LinearACConfig(kappa=cfg.acr.kappa, gamma=cfg.train.gamma, horizon=cfg.data.horizon, inputs=inputs,
                          features=features, episodes=cfg.train.linear_episodes if episodes is None else episodes,
                          actor_lr=cfg.train.linear_actor_lr)


def train_linear(ctx, method: str, *, graph, source_w_hat: np.ndarray, eval_w_hat: np.ndarray) -> list[Path]:
    """Meta-train ``method`` with the linear actor; write its training curve and policy bundle."""
    from rl.actors_linear import LinearActorCritic
    from rl.adaptation import mean_ci
    from rl.evaluation import discounted_return
    from rl.linear_bundle import LinearPolicyBundle, save_linear_policy

    cfg = ctx.config
    t = cfg.train
    env = ctx.env
    # the domain features read w_hat - (mean source w_hat): the estimator's scale is its own, and
    # uncentred features [1, w] with w far from 0 made the actor collapse (docs/traffic.md)
    center = source_w_hat.mean(axis=0)
    eval_w_hat = eval_w_hat - center
    trainer = LinearActorCritic(env, graph, linear_config(ctx, method), domain_factors=ctx.source_factors(),
                                w_hat=source_w_hat - center, rng=ctx.seed(f"train:{method}"), n_runs=t.runs)
    total = t.linear_iterations
    every = max(1, total // t.eval_points)
    eval_env = env.with_domain_factor(ctx.target_factor())
    streams = np.random.SeedSequence([cfg.seed, 1000 + list(_MODES).index(method)]).spawn(t.runs)
    hook = ctx.progress_log().training_hook(f"train:{method}", method)
    ctx.echo(f"meta-training {method} (linear actor): {total} iterations x {cfg.train.linear_episodes} episodes x "
             f"{t.runs} runs, evaluated every {every} in the target domain ({cfg.domains.target})")
    iterations, per_run = [], []

    def evaluate() -> None:
        res = [discounted_return(eval_env, trainer.policy(r, w_hat=eval_w_hat), gamma=t.gamma,
                                 horizon=cfg.data.horizon, episodes=t.eval_episodes,
                                 rng=np.random.default_rng(streams[r])) for r in range(t.runs)]
        iterations.append(trainer.iteration)
        per_run.append([x.mean for x in res])
        hook(trainer.iteration, np.array([x.mean for x in res]), np.array([x.std_err for x in res]))

    evaluate()
    while trainer.iteration < total:
        trainer.iterate(min(every, total - trainer.iteration))
        evaluate()
    values = np.array(per_run).T                                   # (R, E)
    mean, lo, hi = mean_ci(values)
    sizes = trainer.sizes()
    summary: dict[str, Any] = {
        "iterations": iterations, "per_run": values, "mean": mean, "ci_low": lo, "ci_high": hi,
        "method": method, "actor_model": "linear", "iterations_done": int(trainer.iteration),
        "episodes_per_iteration": cfg.train.linear_episodes, "critic_entries": int(sizes["critic_weights"]),
        "actor_weights": int(sizes["actor_weights"]), "train_seconds": trainer.train_seconds,
        "evaluated_in": {"target_factor": cfg.domains.target, "w_hat": "true target factor",
                         "episodes": t.eval_episodes}}
    bundle = LinearPolicyBundle.from_trainer(trainer, algorithm=method,
                                             info={"stage": f"train:{method}", "actor_model": "linear",
                                                   "iterations": int(trainer.iteration), "seed": cfg.seed},
                                             w_center=center)
    folder = save_linear_policy(bundle, ctx.path(f"policies/meta/{method}"))
    ctx.echo(f"{method}: final return in the target {float(values[:, -1].mean()):.4f} (mean of {t.runs} runs)")
    return [folder / n for n in ("policy.npz", "graph.json", "policy.json")] + [
        ctx.write_json(f"training/{method}.json", summary)]


def linear_zero_shot(ctx, method: str, w_target: np.ndarray, fill: np.ndarray):
    """``(bundle, deployed policies)``: the meta-trained linear ``method``, run ``r`` with ``w_target[r]``."""
    from rl.linear_bundle import load_linear_policy

    bundle = load_linear_policy(ctx.path(f"policies/meta/{method}"))
    if len(bundle.policies) != len(w_target):
        raise ValueError(f"policies/meta/{method} holds {len(bundle.policies)} runs but train.runs is "
                         f"{len(w_target)}: re-run the train:{method} stage")
    return bundle, bundle.deploy(w_target, fill=fill)


def save_linear_target(ctx, method: str, bundle, policies) -> list[Path]:
    """Save the zero-shot deployed linear policies under ``policies/target/<method>``."""
    from rl.linear_bundle import save_linear_policy

    deployed = bundle.with_policies(policies, info={"deployed": "zero-shot", "actor_model": "linear",
                                                    "target_factor": ctx.config.domains.target})
    folder = save_linear_policy(deployed, ctx.path(f"policies/target/{method}"))
    return [folder / n for n in ("policy.npz", "graph.json", "policy.json")]


def linear_target_learner(ctx, method: str, *, rng: np.random.SeedSequence):
    """SAC-FT (started from its meta-trained weights) or SAC-LFS (from zero): a linear learner
    in the target domain whose iterations are single target episodes."""
    from rl.actors_linear import LinearActorCritic
    from rl.linear_bundle import load_linear_policy

    cfg = ctx.config
    learner = LinearActorCritic(ctx.env, ctx.truth(), linear_config(ctx, method, episodes=1),
                                domain_factors=ctx.target_factor()[None], rng=rng, n_runs=cfg.train.runs)
    if method == "sac-ft":
        bundle = load_linear_policy(ctx.path("policies/meta/sac-ft"))
        start = np.stack([p.weights for p in bundle.policies])
        if start.shape != learner.theta.shape:
            raise ValueError(f"policies/meta/sac-ft has weights of shape {start.shape}, the target learner "
                             f"{learner.theta.shape}: re-run the train:sac-ft stage")
        learner.theta[...] = start
    return learner


def save_linear_learner(ctx, method: str, learner) -> list[Path]:
    """Save a target learner's policies under ``policies/target/<method>``."""
    from rl.linear_bundle import LinearPolicyBundle, save_linear_policy

    bundle = LinearPolicyBundle.from_trainer(learner, algorithm=method, info={
        "deployed": f"after {ctx.config.adapt.episodes} target episodes", "actor_model": "linear",
        "target_factor": ctx.config.domains.target})
    folder = save_linear_policy(bundle, ctx.path(f"policies/target/{method}"))
    return [folder / n for n in ("policy.npz", "graph.json", "policy.json")]
