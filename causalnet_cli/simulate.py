"""``causalnet simulate``: evaluate a fixed policy on an environment; print a table (or JSON with ``--json``).

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
from causalnet_cli.outputs import check_out_file
from rl.envs.wireless import WirelessAccessEnv
from rl.evaluation import (DEFAULT_AVERAGE_STEPS, DEFAULT_BATCH_SIZE, DEFAULT_BURN_IN,
                           evaluate_policy)
from rl.policies import DEFAULT_ALOHA_GRID, AlohaPolicy, UniformPolicy, aloha_grid_search

__all__ = ["NAME", "HELP", "add_arguments", "format_result", "run", "simulate"]

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
    group.add_argument("--json", action="store_true",
                       help="print the result as one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    """Run the command: print the result as a table, or as JSON with ``--json`` (and write it with ``--out``)."""
    result = simulate(args)
    print(json.dumps(result, indent=2) if args.json else format_result(result))
    if args.out:
        atomic_write_json(args.out, result)
        logger.info("wrote %s", args.out)
    return 0


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate the policy named by ``args``; return the JSON-ready result."""
    _check_evaluation_flags(args)
    if args.out:
        check_out_file(args.out)
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
    if args.search_grid is not None and str(args.policy).strip() != "aloha-search":
        raise ValueError(f"--search-grid applies to --policy aloha-search only (got --policy {args.policy})")
    if args.search_grid is not None:
        parse_float_list(args.search_grid, "--search-grid")
    checks = [("--seed", args.seed, 0), ("--horizon", args.horizon, 1), ("--episodes", args.episodes, 2),
              ("--avg-steps", args.avg_steps, 1), ("--burn-in", args.burn_in, 0),
              ("--batch-size", args.batch_size, 1)]
    if args.avg_episodes is not None:
        checks.append(("--avg-episodes", args.avg_episodes, 2))
    for flag, value, least in checks:
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")


def _env_line(env: dict[str, Any]) -> str:
    if env.get("env") == "wireless":
        users = len(env.get("arrival", []))
        aps = len(env.get("transmit", []))
        return (f"wireless: {env['height']} x {env['width']} vertices, {users} users, {aps} access points, "
                f"deadline {env['deadline']}")
    keys = ", ".join(f"{k}={v}" for k, v in env.items() if k != "env" and not isinstance(v, (list, dict)))
    return f"{env.get('env', '?')}: {keys}"


def format_result(result: dict[str, Any]) -> str:
    """A plain-text table of a :func:`simulate` result (what the command prints without ``--json``).

    Examples
    --------
    >>> r = {"config": {"env": {"env": "synthetic", "n_agents": 2}, "gamma": 0.7, "horizon": 10, "seed": 0},
    ...      "policy": {"name": "uniform"},
    ...      "discounted_return": {"mean": 0.5, "ci95": [0.4, 0.6], "episodes": 100},
    ...      "average_reward": {"mean": 0.1, "ci95": [0.09, 0.11], "episodes": 100}}
    >>> print(format_result(r))
    policy       uniform
    environment  synthetic: n_agents=2
    <BLANKLINE>
    metric                                   mean  95% CI                episodes
    discounted return (gamma 0.7, T 10)    0.5000  [0.4000, 0.6000]           100
    average reward per agent and step      0.1000  [0.0900, 0.1100]           100
    """
    cfg = result["config"]
    pol = result["policy"]
    name = pol["name"] + (f" (q = {pol['transmit_probability']:g})" if "transmit_probability" in pol else "")
    lines = [f"policy       {name}", f"environment  {_env_line(cfg['env'])}", ""]
    rows = [(f"discounted return (gamma {cfg['gamma']:g}, T {cfg['horizon']})", result["discounted_return"]),
            ("average reward per agent and step", result["average_reward"])]
    width = max(len(label) for label, _ in rows)
    lines.append(f"{'metric':<{width}}  {'mean':>8}  {'95% CI':<20}  {'episodes':>8}")
    for label, m in rows:
        ci = f"[{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}]"
        lines.append(f"{label:<{width}}  {m['mean']:>8.4f}  {ci:<20}  {m['episodes']:>8}")
    search = result.get("aloha_search")
    if search is not None:
        lines += ["", "ALOHA grid search (discounted return per transmit probability q):",
                  f"{'q':>6}  {'mean':>7}  95% CI"]
        for row in search["table"]:
            d = row["discounted_return"]
            mark = "  <- best" if row["q"] == search["best_q"] else ""
            lines.append(f"{row['q']:>6.3f}  {d['mean']:>7.4f}  [{d['ci95'][0]:.4f}, {d['ci95'][1]:.4f}]{mark}")
        lines.append("the metrics above re-evaluate the best q on fresh episodes")
    return "\n".join(lines)
