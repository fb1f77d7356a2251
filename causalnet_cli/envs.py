"""Shared command-line helpers: build an environment from ``--env`` and its flags.

Every sub-command that needs an environment calls :func:`add_env_arguments` on its
parser and :func:`build_env` on the parsed arguments. Environment kinds live in the
``ENV_KINDS`` registry: to add one, write a function that adds its flags to an
argument group and a function that builds the environment from the parsed
arguments (raising ``ValueError`` that names the bad flag), then register both with
:func:`register_env_kind`. All kinds add their flags to the same parser, so a new kind
must not reuse another kind's flag names (argparse rejects duplicates); a flag that
several kinds need belongs in :func:`add_env_arguments` itself.

Wireless flags: ``--height --width --users-per-vertex --deadline --arrival
--transmit --grid``. ``--grid G`` is the paper's sizing (``G x G`` APs, users on the
``(G+1) x (G+1)`` vertices, one per vertex) and cannot be combined with ``--height``,
``--width`` or ``--users-per-vertex``. ``--arrival`` is one probability or a comma
list with one value per user; ``--transmit`` is ``random``, ``allone`` or a comma
list with one probability per AP.

Synthetic flags (``--env synthetic``, :class:`rl.envs.SyntheticNetworkEnv`):
``--agents --topology --max-degree --state-dims --state-cardinality
--action-cardinality --env-seed``. ``--state-dims`` takes one integer or a comma list
with one per agent; ``--state-cardinality`` one integer or one per state coordinate
(agent-major); ``--action-cardinality`` one integer or one per agent. ``--env-seed``
draws the graph, the masks and the tables, so the same flags give the same
environment (and ground truth).

LQR flags (``--env lqr``, :class:`rl.envs.lqr.NetworkedLQREnv`, continuous actions):
``--lqr-agents --lqr-topology --lqr-domain --distractors --lqr-seed``. The sub-commands
that take ``--env`` are tabular and refuse it with a pointer to ``causalnet run --set
env.kind=lqr``, which runs the continuous benchmark end to end; a sub-command that
handles continuous actions adds its name to ``CONTINUOUS_COMMANDS``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rl.envs.base import NetworkedEnv
from rl.envs.synthetic import SyntheticNetworkEnv
from rl.envs.wireless import WirelessAccessEnv

__all__ = ["ENV_KINDS", "EnvKind", "add_env_arguments", "build_env", "check_env_kind_flags", "parse_float_list",
           "parse_int_list", "register_env_kind"]


@dataclass(frozen=True)
class EnvKind:
    """An environment kind selectable with ``--env NAME``."""

    name: str
    help: str
    add_arguments: Callable[[argparse._ArgumentGroup], None]
    build: Callable[[argparse.Namespace], NetworkedEnv]
    uses_flags_of: tuple[str, ...] = ()
    """Other kinds whose flags this kind also reads (e.g. synthetic-continuous reads --agents)."""


ENV_KINDS: dict[str, EnvKind] = {}
#: Kinds with continuous actions, and the sub-commands that accept them (the others are tabular).
CONTINUOUS_KINDS: set[str] = set()
CONTINUOUS_COMMANDS: set[str] = set()
OWN_KIND = "MODULE:FACTORY"   # key of the --env package.module:factory flags (causalnet_cli/own_env.py)


def register_env_kind(kind: EnvKind) -> None:
    """Make ``kind`` available as ``--env kind.name``."""
    if kind.name in ENV_KINDS:
        raise ValueError(f"environment kind {kind.name!r} is already registered")
    ENV_KINDS[kind.name] = kind


def add_env_arguments(parser: argparse.ArgumentParser, *, default: str = "wireless") -> None:
    """Add ``--env`` and the flags of every registered environment kind to ``parser``."""
    parser.add_argument("--env", type=_env_choice, default=default,
                        metavar="{" + ",".join(sorted(ENV_KINDS)) + "} or MODULE:FACTORY",
                        help=f"environment kind (default: {default}), or your PettingZoo simulator's factory")
    owned: dict[str, dict[str, tuple[Any, str]]] = {}
    for kind in ENV_KINDS.values():
        before = {id(a) for a in parser._actions}
        kind.add_arguments(parser.add_argument_group(f"{kind.name} environment", kind.help))
        owned[kind.name] = {a.dest: (a.default, a.option_strings[0]) for a in parser._actions
                            if id(a) not in before and a.option_strings}
    from causalnet_cli.own_env import add_own_env_arguments   # --env package.module:factory
    before = {id(a) for a in parser._actions}
    add_own_env_arguments(parser.add_argument_group("your PettingZoo simulator (--env MODULE:FACTORY)"))
    owned[OWN_KIND] = {a.dest: (a.default, a.option_strings[0]) for a in parser._actions
                       if id(a) not in before and a.option_strings}
    parser.set_defaults(_env_kind_flags=owned)


def _env_choice(text: str) -> str:
    """A registered kind, or ``package.module:factory`` (a user's PettingZoo simulator)."""
    if text in ENV_KINDS or ":" in text:
        return text
    raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(sorted(ENV_KINDS))}, "
                                     "or give package.module:factory)")


def check_env_kind_flags(args: argparse.Namespace) -> None:
    """Refuse flags of an environment kind other than ``args.env`` (they would be silently ignored)."""
    owned: dict[str, dict[str, tuple[Any, str]]] = getattr(args, "_env_kind_flags", {})
    current = OWN_KIND if ":" in str(args.env) else args.env
    mine = set(owned.get(current, {}))
    for shared in getattr(ENV_KINDS.get(current), "uses_flags_of", ()):
        mine |= set(owned.get(shared, {}))
    for kind, flags in owned.items():
        if kind == current:
            continue
        for dest, (default, flag) in flags.items():
            if dest not in mine and getattr(args, dest, default) != default:
                where = "package.module:factory" if kind == OWN_KIND else kind
                raise ValueError(f"{flag} applies to --env {where} only (got --env {args.env})")


def build_env(args: argparse.Namespace) -> NetworkedEnv:
    """Build the environment chosen by ``args.env`` from the parsed flags."""
    if ":" in str(args.env):
        from causalnet_cli.own_env import build_own_env
        check_env_kind_flags(args)
        return build_own_env(args)
    try:
        kind = ENV_KINDS[args.env]
    except KeyError:
        raise ValueError(f"--env: unknown environment {args.env!r}; choose from {sorted(ENV_KINDS)}") from None
    check_env_kind_flags(args)
    command = getattr(args, "command", None)
    if kind.name in CONTINUOUS_KINDS and command not in CONTINUOUS_COMMANDS:
        raise ValueError(f"--env {kind.name}: `causalnet {command}` supports discrete actions only; run the "
                         f"continuous benchmark end to end with `causalnet run --set env.kind={kind.name}`")
    return kind.build(args)


def parse_float_list(text: str, flag: str) -> float | np.ndarray:
    """One float, or a comma-separated list of floats as an array; errors name ``flag``.

    Examples
    --------
    >>> parse_float_list("0.5", "--arrival")
    0.5
    >>> parse_float_list("0.2, 0.8", "--arrival").tolist()
    [0.2, 0.8]
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{flag}: expected a number or a comma-separated list of numbers, "
                         f"got {text!r}") from None
    if not all(np.isfinite(values)):
        raise ValueError(f"{flag}: values must be finite, got {text!r}")
    return values[0] if len(values) == 1 else np.array(values)


def parse_int_list(text: str, flag: str) -> int | list[int]:
    """One integer, or a comma-separated list of integers; errors name ``flag``.

    Examples
    --------
    >>> parse_int_list("3", "--state-dims")
    3
    >>> parse_int_list("1, 2,2", "--state-dims")
    [1, 2, 2]
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"{flag}: expected an integer or a comma-separated list of integers, "
                         f"got {text!r}") from None
    return values[0] if len(values) == 1 else values


# ------------------------------------------------------------------ wireless
_WIRELESS_DEFAULTS = {"height": 3, "width": 4, "users_per_vertex": 2}


def _wireless_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--height", type=int, default=None,
                       help="vertex rows of the user grid (default 3)")
    group.add_argument("--width", type=int, default=None,
                       help="vertex columns of the user grid (default 4)")
    group.add_argument("--users-per-vertex", type=int, default=None,
                       help="users on each grid vertex (default 2)")
    group.add_argument("--grid", type=int, default=None, metavar="G",
                       help="paper sizing: G x G access points, one user per vertex of the "
                            "(G+1) x (G+1) grid; excludes --height/--width/--users-per-vertex")
    group.add_argument("--deadline", type=int, default=2, help="queue length d (default 2)")
    group.add_argument("--arrival", default="0.5",
                       help="packet arrival probability: one value or a comma list, one per user "
                            "(default 0.5)")
    group.add_argument("--transmit", default="random",
                       help="AP success probabilities: 'random' (reference seed-0 draw), 'allone' "
                            "or a comma list, one per AP (default random)")


def _wireless_build(args: argparse.Namespace) -> WirelessAccessEnv:
    sizes = {name: getattr(args, name, None) for name in _WIRELESS_DEFAULTS}
    grid = getattr(args, "grid", None)
    if grid is not None:
        clash = [f"--{name.replace('_', '-')}" for name, value in sizes.items() if value is not None]
        if clash:
            raise ValueError(f"--grid cannot be combined with {', '.join(clash)}")
        if grid < 1:
            raise ValueError(f"--grid: must be an integer >= 1, got {grid}")
        height = width = grid + 1
        users_per_vertex = 1
    else:
        height, width, users_per_vertex = (
            _WIRELESS_DEFAULTS[name] if value is None else value for name, value in sizes.items())
    for flag, value, least in (("--height", height, 2), ("--width", width, 2),
                               ("--users-per-vertex", users_per_vertex, 1),
                               ("--deadline", args.deadline, 1)):
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
    n_users = height * width * users_per_vertex
    n_aps = (height - 1) * (width - 1)
    arrival = _checked_probabilities(parse_float_list(args.arrival, "--arrival"), n_users, "--arrival", "user")
    transmit_text = str(args.transmit).strip()
    if transmit_text in ("random", "allone"):
        transmit: Any = transmit_text
    else:
        try:
            values = parse_float_list(transmit_text, "--transmit")
        except ValueError:
            raise ValueError(f"--transmit: expected 'random', 'allone' or a comma list of {n_aps} "
                             f"probabilities (one per AP), got {args.transmit!r}") from None
        transmit = _checked_probabilities(values, n_aps, "--transmit", "AP", scalar_ok=False)
    return WirelessAccessEnv(height, width, users_per_vertex=users_per_vertex, deadline=args.deadline,
                             arrival=arrival, transmit=transmit)


def _checked_probabilities(values: float | np.ndarray, size: int, flag: str, unit: str, *,
                           scalar_ok: bool = True) -> float | np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.size == 1 and scalar_ok:
        pass
    elif arr.size != size:
        raise ValueError(f"{flag}: expected {'one value or ' if scalar_ok else ''}{size} values "
                         f"(one per {unit}), got {arr.size}")
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{flag}: probabilities must lie in [0, 1], got {arr.tolist()}")
    return float(arr[0]) if arr.size == 1 and scalar_ok else arr


register_env_kind(EnvKind(
    name="wireless",
    help="wireless multi-access benchmark (users on a grid, one AP per cell)",
    add_arguments=_wireless_arguments,
    build=_wireless_build,
))


# ------------------------------------------------------------------ synthetic
def _synthetic_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--agents", type=int, default=10, help="number of agents (default 10)")
    group.add_argument("--topology", choices=["ring", "grid", "random"], default="ring",
                       help="interaction graph (default ring)")
    group.add_argument("--max-degree", type=int, default=4,
                       help="degree bound of the random topology (default 4)")
    group.add_argument("--state-dims", default="2",
                       help="state coordinates per agent: one integer or a comma list, one per agent "
                            "(default 2)")
    group.add_argument("--state-cardinality", default="2",
                       help="values per state coordinate: one integer or a comma list, one per "
                            "coordinate (default 2)")
    group.add_argument("--action-cardinality", default="2",
                       help="actions per agent: one integer or a comma list, one per agent (default 2)")
    group.add_argument("--env-seed", type=int, default=0,
                       help="seed of the graph, masks and tables (default 0)")


def _synthetic_build(args: argparse.Namespace) -> SyntheticNetworkEnv:
    n = args.agents
    if n < 1:
        raise ValueError(f"--agents: must be an integer >= 1, got {n}")
    if args.max_degree < 2:
        raise ValueError(f"--max-degree: must be an integer >= 2, got {args.max_degree}")
    if args.env_seed < 0:
        raise ValueError(f"--env-seed: must be an integer >= 0, got {args.env_seed}")
    dims = parse_int_list(args.state_dims, "--state-dims")
    _check_counts(dims, n, "--state-dims", "agent", 1)
    n_state = dims * n if isinstance(dims, int) else sum(dims)
    s_cards = parse_int_list(args.state_cardinality, "--state-cardinality")
    _check_counts(s_cards, n_state, "--state-cardinality", "state coordinate", 2)
    a_cards = parse_int_list(args.action_cardinality, "--action-cardinality")
    _check_counts(a_cards, n, "--action-cardinality", "agent", 2)
    try:
        return SyntheticNetworkEnv(n_agents=n, topology=args.topology, max_degree=args.max_degree,
                                   state_dims=dims, state_cardinality=s_cards,
                                   action_cardinality=a_cards, rng=args.env_seed)
    except ValueError as exc:
        raise ValueError(f"--env synthetic: cannot build the environment: {exc}") from exc


def _check_counts(values: int | list[int], size: int, flag: str, unit: str, least: int) -> None:
    items = [values] if isinstance(values, int) else values
    if not isinstance(values, int) and len(items) != size:
        raise ValueError(f"{flag}: expected one integer or {size} (one per {unit}), got {len(items)}")
    if any(v < least for v in items):
        raise ValueError(f"{flag}: values must be integers >= {least}, got {values}")


register_env_kind(EnvKind(
    name="synthetic",
    help="random factored networked MDP with known causal masks (rl.envs.SyntheticNetworkEnv)",
    add_arguments=_synthetic_arguments,
    build=_synthetic_build,
))


# ------------------------------------------------------------------ lqr
def _lqr_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--lqr-agents", type=int, default=16, help="number of agents (default 16)")
    group.add_argument("--lqr-topology", choices=["ring", "grid", "random"], default="ring",
                       help="interaction graph (default ring)")
    group.add_argument("--lqr-domain", choices=["load", "coupling"], default="load",
                       help="what the domain factor sets (default load)")
    group.add_argument("--distractors", type=int, default=2,
                       help="cost-free distractor coordinates per agent (default 2)")
    group.add_argument("--lqr-seed", type=int, default=0, help="seed of the random topology (default 0)")


def _lqr_build(args: argparse.Namespace):
    from rl.envs.lqr import NetworkedLQREnv

    for flag, value, least in (("--lqr-agents", args.lqr_agents, 1), ("--distractors", args.distractors, 0),
                               ("--lqr-seed", args.lqr_seed, 0)):
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
    return NetworkedLQREnv(args.lqr_agents, topology=args.lqr_topology, domain=args.lqr_domain,
                           distractors=args.distractors, env_seed=args.lqr_seed)


register_env_kind(EnvKind(
    name="lqr",
    help="networked linear-quadratic control, continuous states and actions (rl.envs.lqr.NetworkedLQREnv)",
    add_arguments=_lqr_arguments,
    build=_lqr_build,
))
CONTINUOUS_KINDS.add("lqr")


# ------------------------------------------------------------------ synthetic-continuous
def _synthetic_continuous_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--mechanism", choices=["linear", "nonlinear", "mixed"], default="linear",
                       help="synthetic-continuous: linear-Gaussian or nonlinear additive-noise mechanisms "
                            "(default linear); --agents --topology --max-degree --state-dims "
                            "--action-cardinality --env-seed as for synthetic")


def _synthetic_continuous_build(args: argparse.Namespace):
    from rl.envs.synthetic_continuous import SyntheticContinuousEnv

    n = args.agents
    if n < 1:
        raise ValueError(f"--agents: must be an integer >= 1, got {n}")
    if args.max_degree < 2:
        raise ValueError(f"--max-degree: must be an integer >= 2, got {args.max_degree}")
    if args.env_seed < 0:
        raise ValueError(f"--env-seed: must be an integer >= 0, got {args.env_seed}")
    if str(args.state_cardinality) != "2":
        raise ValueError("--state-cardinality does not apply to --env synthetic-continuous (its states are "
                         "continuous)")
    dims = parse_int_list(args.state_dims, "--state-dims")
    _check_counts(dims, n, "--state-dims", "agent", 1)
    a_cards = parse_int_list(args.action_cardinality, "--action-cardinality")
    _check_counts(a_cards, n, "--action-cardinality", "agent", 2)
    try:
        return SyntheticContinuousEnv(n_agents=n, topology=args.topology, max_degree=args.max_degree,
                                      state_dims=dims, action_cardinality=a_cards, mechanism=args.mechanism,
                                      rng=args.env_seed)
    except ValueError as exc:
        raise ValueError(f"--env synthetic-continuous: cannot build the environment: {exc}") from exc


register_env_kind(EnvKind(
    name="synthetic-continuous",
    help="continuous states, discrete actions, known masks and domain shifts (rl.envs.SyntheticContinuousEnv); "
         "shares the synthetic flags",
    add_arguments=_synthetic_continuous_arguments,
    build=_synthetic_continuous_build,
    uses_flags_of=("synthetic",),
))


# ------------------------------------------------------------------ traffic
from causalnet_cli import env_traffic as _env_traffic  # noqa: E402,F401  (registers --env traffic)
