"""``causalnet simulate``: evaluate a fixed policy on an environment and print one JSON object.

Policies: ``uniform`` (every action equally likely), ``aloha:Q`` (the ALOHA-style
heuristic of the wireless benchmark with transmit probability ``Q``) and
``aloha-search`` (grid search of ``Q``; the reported metrics are those of the best
``Q`` re-evaluated on fresh episodes, and the search table is added). See
``docs/simulate.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

import numpy as np

from causalnet.io import atomic_write_json
from causalnet_cli.envs import add_env_arguments, build_env, parse_float_list
from rl.envs.wireless import WirelessAccessEnv
from rl.evaluation import (DEFAULT_AVERAGE_STEPS, DEFAULT_BATCH_SIZE, DEFAULT_BURN_IN,
                           evaluate_policy)
from rl.policies import DEFAULT_ALOHA_GRID, AlohaPolicy, UniformPolicy, aloha_grid_search

__all__ = ["NAME", "HELP", "add_arguments", "run", "simulate"]

NAME = "simulate"
HELP = "evaluate a fixed policy (uniform, ALOHA, max-pressure, fixed-time) by Monte Carlo rollouts"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet simulate``."""
    add_env_arguments(parser)
    group = parser.add_argument_group("policy and evaluation")
    group.add_argument("--policy", default="uniform",
                       help="uniform | aloha:Q (transmit probability Q) | aloha-search | max-pressure | "
                            "fixed-time:G (traffic; G green steps per phase) (default uniform)")
    group.add_argument("--search-grid", default=None, metavar="Q1,Q2,...",
                       help="transmit probabilities tried by aloha-search (default 0,0.05,...,0.95)")
    group.add_argument("--gamma", type=float, default=0.7, help="discount factor (default 0.7)")
    group.add_argument("--horizon", type=int, default=10,
                       help="steps T of the discounted return (default 10)")
    group.add_argument("--episodes", type=int, default=4000,
                       help="independent episodes per estimate (default 4000)")
    group.add_argument("--avg-episodes", type=int, default=None,
                       help="episodes of the average-reward estimate (default: --episodes)")
    group.add_argument("--avg-steps", type=int, default=DEFAULT_AVERAGE_STEPS,
                       help=f"measured steps per average-reward episode (default {DEFAULT_AVERAGE_STEPS})")
    group.add_argument("--burn-in", type=int, default=DEFAULT_BURN_IN,
                       help=f"discarded steps before the average-reward window (default {DEFAULT_BURN_IN})")
    group.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                       help=f"episodes stepped at once (default {DEFAULT_BATCH_SIZE})")
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    group.add_argument("--out", default=None, metavar="FILE",
                       help="also write the JSON result to FILE (atomically)")


def run(args: argparse.Namespace) -> int:
    """Run the command: print the result JSON (and write it with ``--out``)."""
    result = simulate(args)
    print(json.dumps(result, indent=2))
    if args.out:
        atomic_write_json(args.out, result)
        logger.info("wrote %s", args.out)
    return 0


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate the policy named by ``args``; return the JSON-ready result."""
    _check_evaluation_flags(args)
    env = build_env(args)
    kind, q = _parse_policy(args.policy, env)
    evaluation_rng, search_rng = np.random.SeedSequence(args.seed).spawn(2)
    config = {"env": env.config() if hasattr(env, "config") else {"env": args.env},
              "policy": args.policy, "gamma": args.gamma, "horizon": args.horizon,
              "episodes": args.episodes,
              "avg_episodes": args.episodes if args.avg_episodes is None else args.avg_episodes,
              "avg_steps": args.avg_steps, "burn_in": args.burn_in, "batch_size": args.batch_size,
              "seed": args.seed}
    out: dict[str, Any] = {"command": NAME, "config": config}
    search = None
    if kind == "uniform":
        policy: Any = UniformPolicy(env.action_counts)
        out["policy"] = {"name": "uniform"}
    elif kind in ("max-pressure", "fixed-time"):
        from rl.policies.traffic import FixedTimePolicy, MaxPressurePolicy

        policy = MaxPressurePolicy(env) if kind == "max-pressure" else FixedTimePolicy(env, green=int(q))
        out["policy"] = {"name": kind} if kind == "max-pressure" else {"name": kind, "green": int(q)}
    elif kind == "aloha":
        policy = AlohaPolicy(env, q)
        out["policy"] = {"name": "aloha", "transmit_probability": q}
    else:
        grid = (DEFAULT_ALOHA_GRID if args.search_grid is None
                else np.atleast_1d(parse_float_list(args.search_grid, "--search-grid")).tolist())
        if any(not 0.0 <= g <= 1.0 for g in grid):
            raise ValueError(f"--search-grid: probabilities must lie in [0, 1], got {grid}")
        logger.info("ALOHA grid search over %d transmit probabilities", len(grid))
        search = aloha_grid_search(env, gamma=args.gamma, horizon=args.horizon, episodes=args.episodes,
                                   probabilities=grid, rng=np.random.default_rng(search_rng),
                                   batch_size=args.batch_size)
        policy = AlohaPolicy(env, search.best_q)
        out["policy"] = {"name": "aloha", "transmit_probability": search.best_q}
    evaluation = evaluate_policy(env, policy, gamma=args.gamma, horizon=args.horizon,
                                 episodes=args.episodes, average_episodes=args.avg_episodes,
                                 steps=args.avg_steps, burn_in=args.burn_in, batch_size=args.batch_size,
                                 rng=np.random.default_rng(evaluation_rng))
    out.update(evaluation.to_dict())
    if search is not None:
        out["aloha_search"] = {"table": search.table(), "best_q": search.best_q,
                               "best_search_mean": search.best.mean,
                               "note": "metrics above re-evaluate best_q on fresh episodes"}
    return out


def _parse_policy(text: str, env: Any) -> tuple[str, float | None]:
    text = str(text).strip()
    if text == "uniform":
        return "uniform", None
    if text == "max-pressure" or text == "fixed-time" or text.startswith("fixed-time:"):
        from rl.envs.traffic import TrafficGridEnv

        if not isinstance(env, TrafficGridEnv):
            raise ValueError(f"--policy: {text!r} needs --env traffic")
        if text == "max-pressure":
            return "max-pressure", None
        try:
            green = int(text.split(":", 1)[1]) if ":" in text else 2
        except ValueError:
            green = 0
        if green < 1:
            raise ValueError(f"--policy: fixed-time:G needs an integer green time G >= 1, got {text!r}")
        return "fixed-time", green
    if text == "aloha-search" or text.startswith("aloha:"):
        if not isinstance(env, WirelessAccessEnv):
            raise ValueError(f"--policy: {text!r} needs --env wireless")
        if text == "aloha-search":
            return "aloha-search", None
        try:
            q = float(text.split(":", 1)[1])
        except ValueError:
            q = float("nan")
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"--policy: aloha:Q needs a transmit probability Q in [0, 1], got {text!r}")
        return "aloha", q
    raise ValueError(f"--policy: unknown policy {text!r}; use uniform, aloha:Q, aloha-search, max-pressure or "
                     "fixed-time:G")


def _check_evaluation_flags(args: argparse.Namespace) -> None:
    if not 0.0 <= args.gamma <= 1.0:
        raise ValueError(f"--gamma: must lie in [0, 1], got {args.gamma}")
    checks = [("--horizon", args.horizon, 1), ("--episodes", args.episodes, 2),
              ("--avg-steps", args.avg_steps, 1), ("--burn-in", args.burn_in, 0),
              ("--batch-size", args.batch_size, 1)]
    if args.avg_episodes is not None:
        checks.append(("--avg-episodes", args.avg_episodes, 2))
    for flag, value, least in checks:
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
