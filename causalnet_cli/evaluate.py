"""``causalnet evaluate``: evaluate a saved policy bundle in an environment.

Loads ``--policy DIR`` (a bundle written by ``causalnet train``, see
:mod:`rl.persistence`), builds the environment (from the environment flags, or,
when none is given, from the configuration stored in the bundle), sets the domain
(``--target P``: the environment runs with factor ``P``) and the ``w_hat`` the
agents condition on (``--w-hat X``; default: the domain's true factor), and reports
the discounted return and the long-run average reward with 95% confidence
intervals. With several runs (seeds) in the bundle, the reported mean and interval
are over the runs' means. The same ``--seed`` and ``--episodes`` reproduce the final
evaluation of ``causalnet train``. See ``docs/cli-train.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from causalnet.io import atomic_write_json
from causalnet_cli.envs import add_env_arguments, build_env, parse_float_list
from causalnet_cli.outputs import check_out_file
from rl.evaluation import evaluate_policy

__all__ = ["NAME", "HELP", "EVAL_STREAM_TAG", "add_arguments", "add_env_flags", "env_flags_given", "env_from_config",
           "evaluate_bundle", "evaluate_runs", "factor_vector", "run"]

NAME = "evaluate"
HELP = "evaluate a saved policy bundle: discounted return and average reward with 95% CIs"

#: Mixed into the evaluation seed so evaluation streams are independent of the
#: training streams of the same ``--seed``: run ``r`` uses
#: ``SeedSequence([EVAL_STREAM_TAG, seed]).spawn(R)[r]``.
EVAL_STREAM_TAG = 0x45564C


def evaluate_runs(env, policies: Sequence, *, gamma: float, horizon: int, episodes: int, seed: int,
                  domain_factor: np.ndarray | None = None) -> dict[str, Any]:
    """Evaluate every policy with :func:`rl.evaluation.evaluate_policy`; aggregate over runs.

    Run ``r`` uses the stream ``SeedSequence([EVAL_STREAM_TAG, seed]).spawn(R)[r]``.
    One run: the result's intervals are over episodes. Several runs: ``mean`` is the
    mean of the runs' means and ``ci95`` the Student-t interval over those means
    (``"over": "runs"``); per-run results are under ``"runs"``.
    """
    from scipy import stats

    children = np.random.SeedSequence([EVAL_STREAM_TAG, int(seed)]).spawn(len(policies))
    per_run = []
    for policy, child in zip(policies, children):
        ev = evaluate_policy(env, policy, gamma=gamma, horizon=horizon, episodes=episodes,
                             rng=np.random.default_rng(child), domain_factor=domain_factor)
        per_run.append(ev.to_dict())
    if len(per_run) == 1:
        return {**per_run[0], "over": "episodes", "n_runs": 1}
    out: dict[str, Any] = {"over": "runs", "n_runs": len(per_run)}
    for metric in ("discounted_return", "average_reward"):
        means = np.array([r[metric]["mean"] for r in per_run])
        mean = float(means.mean())
        std_err = float(means.std(ddof=1) / math.sqrt(len(means)))
        half = float(stats.t.ppf(0.975, len(means) - 1)) * std_err
        out[metric] = {"mean": mean, "ci95": [mean - half, mean + half], "std_err": std_err,
                       "episodes": int(per_run[0][metric]["episodes"])}
    out["runs"] = per_run
    return out


def env_from_config(config: dict[str, Any]):
    """Rebuild an environment from ``env.config()`` (wireless, traffic, or synthetic with an integer seed).

    Raises ValueError, asking for the environment flags, when the configuration cannot be rebuilt.
    """
    from rl.envs.synthetic import SyntheticNetworkEnv
    from rl.envs.wireless import WirelessAccessEnv

    if config.get("env") == "synthetic":
        try:
            return SyntheticNetworkEnv.from_config(config)
        except ValueError as exc:
            raise ValueError(f"--policy: the bundle's synthetic environment cannot be rebuilt ({exc}); give the "
                             "environment flags (--env synthetic ...)") from exc
    if config.get("env") == "traffic":
        from rl.envs.traffic import TrafficGridEnv

        return TrafficGridEnv(int(config["rows"]), int(config["cols"]), bins=int(config["bins"]),
                              arrival=np.asarray(config["arrival"], dtype=np.float64),
                              saturation=float(config["saturation"]), turning=config["turning"],
                              switching_cost=float(config["switching_cost"]))
    if config.get("env") != "wireless":
        raise ValueError(f"--policy: the bundle's environment {config.get('env')!r} cannot be rebuilt from its "
                         "configuration; give the environment flags (--env ...)")
    return WirelessAccessEnv(int(config["height"]), int(config["width"]),
                             users_per_vertex=int(config["users_per_vertex"]), deadline=int(config["deadline"]),
                             arrival=np.asarray(config["arrival"], dtype=np.float64),
                             transmit=np.asarray(config["transmit"], dtype=np.float64))


def add_env_flags(parser: argparse.ArgumentParser) -> None:
    """Environment flags, remembering their defaults (to tell which were given)."""
    before = set(id(a) for a in parser._actions)
    add_env_arguments(parser)
    env_flags = {a.dest: (a.default, a.option_strings[0]) for a in parser._actions
                 if id(a) not in before and a.option_strings}
    parser.set_defaults(_env_flag_defaults=env_flags)


def env_flags_given(args: argparse.Namespace) -> list[str]:
    """The environment flags whose value differs from their default."""
    defaults: dict[str, tuple[Any, str]] = getattr(args, "_env_flag_defaults", {})
    return [flag for dest, (default, flag) in defaults.items() if getattr(args, dest, default) != default]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet evaluate``."""
    parser.add_argument("--policy", required=True, metavar="DIR", help="policy bundle folder (DIR/policy of train)")
    add_env_flags(parser)
    dom = parser.add_argument_group("domain")
    dom.add_argument("--target", default=None, metavar="P",
                     help="domain factor the environment runs with (wireless: arrival probability); default: "
                          "the domain of the training run's final evaluation (bundle) or the env's own")
    dom.add_argument("--w-hat", default=None, metavar="X",
                     help="domain factor estimate the agents condition on: one value or one per agent "
                          "(default: the true factor of the evaluation domain)")
    ev = parser.add_argument_group("evaluation")
    ev.add_argument("--episodes", type=int, default=400, help="episodes per metric and run (default 400)")
    ev.add_argument("--seed", type=int, default=0, help="evaluation seed (default 0)")
    ev.add_argument("--mode", choices=["sample", "greedy"], default="sample",
                    help="sample actions from the softmax (default) or take each agent's most probable one")
    ev.add_argument("--gamma", type=float, default=None, help="discount (default: the bundle's)")
    ev.add_argument("--horizon", type=int, default=None, help="discounted-return horizon (default: the bundle's)")
    parser.add_argument("--out", default=None, metavar="FILE", help="also write the metrics JSON to FILE")


def factor_vector(text: str, n: int, flag: str) -> np.ndarray:
    """A domain factor flag as a vector of ``n`` probabilities in [0, 1]."""
    value = np.atleast_1d(np.asarray(parse_float_list(text, flag), dtype=np.float64))
    if value.size == 1:
        value = np.full(n, float(value[0]))
    if value.shape != (n,):
        raise ValueError(f"{flag}: expected one value or {n} values (one per agent), got {value.size}")
    if np.any((value < 0) | (value > 1)):
        raise ValueError(f"{flag}: values must lie in [0, 1], got {value.tolist()}")
    return value


def evaluate_bundle(args: argparse.Namespace) -> dict[str, Any]:
    """Run the command on parsed ``args``; return the metrics (file written if ``--out``)."""
    from rl.persistence import PersistenceError, load_policy

    for flag, value, least in (("--episodes", args.episodes, 2), ("--seed", args.seed, 0)):
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
    if args.horizon is not None and args.horizon < 1:
        raise ValueError(f"--horizon: must be an integer >= 1, got {args.horizon}")
    if args.gamma is not None and not 0.0 <= args.gamma <= 1.0:
        raise ValueError(f"--gamma: must lie in [0, 1], got {args.gamma}")
    out = None if args.out is None else check_out_file(args.out)
    try:
        bundle = load_policy(args.policy)
    except PersistenceError as exc:
        raise ValueError(f"--policy: {exc}") from exc
    from_flags = bool(env_flags_given(args))
    env = build_env(args) if from_flags else env_from_config(bundle.env_config)
    if env.n_agents != bundle.graph.spec.n_agents or env.spec != bundle.graph.spec:
        raise ValueError(f"--env: the environment ({env.n_agents} agents) does not match the policy "
                         f"({bundle.graph.spec.n_agents} agents, spec of its graph)")
    n = env.n_agents
    info = bundle.info
    if args.target is not None:
        domain = factor_vector(args.target, n, "--target")
    elif not from_flags and info.get("eval_domain_factor") is not None:
        domain = np.asarray(info["eval_domain_factor"], dtype=np.float64)
    else:
        domain = np.asarray(env.domain_factor, dtype=np.float64)
    w_hat = domain if args.w_hat is None else factor_vector(args.w_hat, n, "--w-hat")
    policies = bundle.policies
    for p in policies:
        p.w_hat = w_hat
        if hasattr(p, "mode"):
            p.mode = getattr(args, "mode", "sample")
    gamma = bundle.config.gamma if args.gamma is None else args.gamma
    horizon = bundle.config.horizon if args.horizon is None else args.horizon
    env = env.with_domain_factor(domain)
    result = evaluate_runs(env, policies, gamma=gamma, horizon=horizon, episodes=args.episodes, seed=args.seed)
    metrics = {"command": NAME, "policy": str(args.policy), "algorithm": bundle.algorithm,
               "env": env.config() if hasattr(env, "config") else {"env": args.env},
               "domain_factor": domain.tolist(), "w_hat": w_hat.tolist(), "gamma": gamma, "horizon": horizon,
               "mode": getattr(args, "mode", "sample"), "episodes": args.episodes, "seed": args.seed, **result}
    if out is not None:
        atomic_write_json(out, metrics)
    return metrics


def run(args: argparse.Namespace) -> int:
    """Print the metrics JSON on stdout (and write ``--out``)."""
    metrics = evaluate_bundle(args)
    d = metrics["discounted_return"]
    print(f"discounted return {d['mean']:.4f} (95% CI {d['ci95'][0]:.4f}..{d['ci95'][1]:.4f}), average reward "
          f"{metrics['average_reward']['mean']:.4f}", file=sys.stderr)
    print(json.dumps(metrics, indent=2))
    return 0
