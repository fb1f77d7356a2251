"""The ``--env traffic`` kind of the command line (:class:`rl.envs.TrafficGridEnv`).

Flags: ``--rows --cols --bins --rate --saturation --turning --switching-cost``.
``--rate`` is the boundary arrival rate ``lambda`` (the domain factor): one value or a
comma list with one value per intersection; ``--turning`` is ``straight,left,right``.
Registered by :mod:`causalnet_cli.envs` when it is imported.
"""

from __future__ import annotations

import argparse

import numpy as np

from causalnet_cli.envs import EnvKind, parse_float_list, register_env_kind
from rl.envs.traffic import TrafficGridEnv

__all__ = ["build_traffic", "traffic_arguments"]


def traffic_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the traffic flags to ``group``."""
    group.add_argument("--rows", type=int, default=3, help="intersection rows (default 3)")
    group.add_argument("--cols", type=int, default=3, help="intersection columns (default 3)")
    group.add_argument("--bins", type=int, default=3, help="queue levels per approach, >= 2 (default 3)")
    group.add_argument("--rate", default="0.25",
                       help="boundary arrival rate lambda (the domain factor): one value or a comma list, one "
                            "per intersection (default 0.25)")
    group.add_argument("--saturation", type=float, default=0.9,
                       help="discharge probability of a green, non-empty approach (default 0.9)")
    group.add_argument("--turning", default="0.7,0.0,0.3",
                       help="straight,left,right probabilities, summing to one (default 0.7,0.0,0.3: no left turns)")
    group.add_argument("--switching-cost", type=float, default=0.0,
                       help="reward penalty for changing the phase; > 0 adds the shown phase to the state "
                            "(default 0)")


def build_traffic(args: argparse.Namespace) -> TrafficGridEnv:
    """The traffic grid of the parsed flags; ``ValueError`` names the bad flag."""
    rate = np.atleast_1d(np.asarray(parse_float_list(args.rate, "--rate"), dtype=np.float64))
    turning = np.atleast_1d(np.asarray(parse_float_list(args.turning, "--turning"), dtype=np.float64))
    flags = {"rows": "--rows", "cols": "--cols", "bins": "--bins", "arrival": "--rate",
             "saturation": "--saturation", "turning": "--turning", "switching_cost": "--switching-cost"}
    try:
        return TrafficGridEnv(args.rows, args.cols, bins=args.bins,
                              arrival=float(rate[0]) if rate.size == 1 else rate, saturation=args.saturation,
                              turning=turning, switching_cost=args.switching_cost)
    except ValueError as exc:
        text = str(exc)
        name = next((flag for key, flag in flags.items() if text.startswith(key)), "--env traffic")
        raise ValueError(f"{name}: {text}") from None


register_env_kind(EnvKind(
    name="traffic",
    help="grid of signalised intersections (rl.envs.TrafficGridEnv); see docs/traffic.md",
    add_arguments=traffic_arguments,
    build=build_traffic,
))
