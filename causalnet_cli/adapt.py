"""``causalnet adapt``: zero-shot adaptation of a saved policy to a target domain (GSAC Phase 4).

Steps: fit a :class:`~causalnet.domain_factors.DomainFactorEstimator` on the source
data (``--source-data``, e.g. the ``data.npz`` written by ``causalnet discover``) with
the graph (``--graph``: a ``graph.json`` or a discover folder; default the graph
stored in the policy bundle); collect ``--trajectories`` uniformly random episodes in
the target domain ``--target`` and estimate ``w_hat`` there
(:func:`rl.adaptation.estimate_target_factor`); deploy the policy with it, without
any parameter update (:func:`rl.adaptation.zero_shot`); evaluate it in the target,
together with the same policy given the true target factor (oracle ``w_hat``).
Writes ``OUT/metrics.json`` and the adapted bundle ``OUT/policy/``. See
``docs/cli-train.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.data import Transitions
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.graph import FactoredGraph, GraphError
from causalnet.io import atomic_write_json
from causalnet_cli.envs import build_env
from causalnet_cli.outputs import add_force_argument, check_out_dir, clear_out_dir
from causalnet_cli.evaluate import add_env_flags, env_flags_given, env_from_config, evaluate_runs, factor_vector

__all__ = ["NAME", "HELP", "ADAPT_STREAM_TAG", "add_arguments", "adapt", "run"]

NAME = "adapt"
HELP = "estimate the target domain factor from a few trajectories and evaluate the policy zero-shot"

#: Mixed into ``--seed`` for the target-data collection stream.
ADAPT_STREAM_TAG = 0x414450


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet adapt``."""
    parser.add_argument("--policy", required=True, metavar="DIR", help="policy bundle folder (DIR/policy of train)")
    parser.add_argument("--target", required=True, metavar="P",
                        help="true factor of the target domain (drives the simulator only): one value or one "
                             "per agent")
    parser.add_argument("--trajectories", type=int, default=20, metavar="T_a",
                        help="target episodes collected with uniformly random actions (default 20)")
    parser.add_argument("--collect-horizon", type=int, default=10, help="steps per target episode (default 10)")
    parser.add_argument("--graph", default=None, metavar="PATH",
                        help="graph of the estimator: a graph.json or a discover folder (default: the bundle's)")
    parser.add_argument("--source-data", required=True, metavar="FILE.npz",
                        help="source-domain Transitions (FILE.npz + FILE.json) the estimator is fitted on")
    add_env_flags(parser)
    parser.add_argument("--episodes", type=int, default=400, help="evaluation episodes (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="seed of collection and evaluation (default 0)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (must be new or empty unless --force)")
    add_force_argument(parser)


def _load_graph(text: str | None, bundle) -> FactoredGraph:
    if text is None:
        return bundle.graph
    path = Path(text)
    file = path / "graph.json" if path.is_dir() else path
    try:
        return FactoredGraph.load(file)
    except GraphError as exc:
        raise ValueError(f"--graph: {exc}") from exc


def adapt(args: argparse.Namespace) -> dict[str, Any]:
    """Run the command on parsed ``args``; return the metrics (files written)."""
    from rl.adaptation import estimate_target_factor, zero_shot
    from rl.persistence import BUNDLE_FILES, PersistenceError, PolicyBundle, graph_fingerprint, load_policy, \
        save_policy

    for flag, value, least in (("--trajectories", args.trajectories, 1), ("--collect-horizon", args.collect_horizon, 1),
                               ("--episodes", args.episodes, 2), ("--seed", args.seed, 0)):
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
    out = check_out_dir(args.out, force=getattr(args, "force", False))
    try:
        bundle = load_policy(args.policy)
    except PersistenceError as exc:
        raise ValueError(f"--policy: {exc}") from exc
    env = build_env(args) if env_flags_given(args) else env_from_config(bundle.env_config)
    if env.spec != bundle.graph.spec:
        raise ValueError("--env: the environment's variables differ from the policy's (check the environment flags)")
    n = env.n_agents
    target = factor_vector(args.target, n, "--target")
    graph = _load_graph(args.graph, bundle)
    if graph.spec != env.spec:
        raise ValueError("--graph: the graph describes other variables than the environment")
    if bundle.config.inputs == "acr" and graph_fingerprint(graph) != bundle.fingerprint:
        raise ValueError("--graph: graph fingerprint mismatch: the policy's ACR inputs were derived from another "
                         f"graph ({bundle.fingerprint[:12]}...); pass the graph it was trained with")
    try:
        source = Transitions.load(args.source_data)
    except ValueError as exc:
        raise ValueError(f"--source-data: {exc}") from exc
    if source.spec != env.spec:
        raise ValueError("--source-data: the data describes other variables than the environment")
    estimator = DomainFactorEstimator(graph).fit(source)
    rng = np.random.default_rng([ADAPT_STREAM_TAG, int(args.seed)])
    w_hat, stderr = estimate_target_factor(estimator, env, target, trajectories=args.trajectories,
                                           horizon=args.collect_horizon, rng=rng)
    fill = None
    if not np.isfinite(w_hat).all():
        fill = np.nanmean(estimator.w_hat_, axis=0) if np.isfinite(estimator.w_hat_).any() else None
        if fill is None or not np.isfinite(fill[~np.isfinite(w_hat)]).all():
            fill = np.full(n, float(np.mean(target)))
    adapted = [zero_shot(p, w_hat, fill=fill) for p in bundle.policies]
    target_env = env.with_domain_factor(target)
    cfg = bundle.config
    zero = evaluate_runs(target_env, adapted, gamma=cfg.gamma, horizon=cfg.horizon, episodes=args.episodes,
                         seed=args.seed)
    oracle = evaluate_runs(target_env, [zero_shot(p, target) for p in bundle.policies], gamma=cfg.gamma,
                           horizon=cfg.horizon, episodes=args.episodes, seed=args.seed)
    deployed_w = adapted[0].w_hat
    metrics = {"command": NAME, "policy": str(args.policy), "algorithm": bundle.algorithm,
               "target": target.tolist(), "trajectories": args.trajectories, "collect_horizon": args.collect_horizon,
               "w_hat": [None if not np.isfinite(v) else float(v) for v in w_hat],
               "w_hat_stderr": [None if not np.isfinite(v) else float(v) for v in stderr],
               "w_hat_deployed": deployed_w.tolist(),
               "w_hat_mean": float(np.nanmean(w_hat)) if np.isfinite(w_hat).any() else None,
               "w_hat_max_abs_error": float(np.nanmax(np.abs(w_hat - target))) if np.isfinite(w_hat).any() else None,
               "zero_shot": zero, "oracle_w_hat": oracle, "episodes": args.episodes, "seed": args.seed,
               "source_data": str(args.source_data), "graph_fingerprint": graph_fingerprint(graph)}
    new_bundle = PolicyBundle(policies=adapted, config=bundle.config, graph=bundle.graph, inputs=bundle.inputs,
                              env_config=bundle.env_config, source_factors=bundle.source_factors,
                              source_w_hat=bundle.source_w_hat, algorithm=bundle.algorithm,
                              info={**bundle.info, "adapted": {"target": target.tolist(),
                                                               "trajectories": args.trajectories},
                                    "eval_domain_factor": target.tolist()})
    if getattr(args, "force", False):
        clear_out_dir(out)
    save_policy(new_bundle, out / "policy")
    metrics["files"] = {"metrics": str(out / "metrics.json"), "policy": str(out / "policy" /
                                                                            BUNDLE_FILES["metadata"])}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def run(args: argparse.Namespace) -> int:
    """Write the files and print a summary on stderr, the metrics JSON on stdout."""
    metrics = adapt(args)
    z, o = metrics["zero_shot"]["discounted_return"], metrics["oracle_w_hat"]["discounted_return"]
    print(f"w_hat mean {metrics['w_hat_mean']:.4f} (target mean {np.mean(metrics['target']):.4f}); zero-shot "
          f"return {z['mean']:.4f} (95% CI {z['ci95'][0]:.4f}..{z['ci95'][1]:.4f}); with the true factor "
          f"{o['mean']:.4f}", file=sys.stderr)
    print(json.dumps(metrics, indent=2))
    return 0
