"""``--env package.module:factory``: your own PettingZoo simulator on the command line.

Every command that takes ``--env`` (simulate, discover, train, evaluate, adapt) also
accepts ``package.module:factory`` with these flags:

``--network NET``          network file (required: agents, edges, names)
``--factory-kwargs TEXT``  keyword arguments of the factory, a TOML inline table or JSON object
``--domain-kwarg NAME``    keyword (or reset option) that receives the domain factor (default ``domain_factor``)
``--domain-in WHERE``      ``factory`` (default) or ``reset``
``--codebook FILE``        the ``codebook.json`` of the logs a policy was trained on: states are coded
                           and actions decoded through it (labels must be the simulator's values)
"""

from __future__ import annotations

import argparse
import json
import tomllib
from typing import Any

__all__ = ["add_own_env_arguments", "build_own_env", "parse_kwargs"]


def parse_kwargs(text: str | None, flag: str = "--factory-kwargs") -> dict[str, Any]:
    """A TOML inline table (``{n_agents = 8}``) or a JSON object as a dict.

    >>> parse_kwargs('{n_agents = 8, topology = "ring"}'), parse_kwargs('{"beta": 0.2}')
    ({'n_agents': 8, 'topology': 'ring'}, {'beta': 0.2})
    """
    if not text:
        return {}
    try:
        return dict(tomllib.loads(f"v = {text}")["v"])
    except (tomllib.TOMLDecodeError, TypeError, ValueError):
        pass
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"{flag}: expected a table such as '{{n_agents = 8}}' or '{{\"n_agents\": 8}}', got {text!r}")
    return value


def add_own_env_arguments(group: argparse._ArgumentGroup) -> None:
    """The flags of ``--env package.module:factory`` (see the module docstring)."""
    group.add_argument("--network", default=None, metavar="NET", help="network file (.toml or .json)")
    group.add_argument("--factory-kwargs", default=None, metavar="TABLE",
                       help="factory keyword arguments, e.g. '{n_agents = 8}'")
    group.add_argument("--domain-kwarg", default="domain_factor", metavar="NAME",
                       help="keyword or reset option receiving the domain factor (default domain_factor)")
    group.add_argument("--domain-in", default="factory", choices=("factory", "reset"),
                       help="pass the domain factor to the factory (default) or as a reset option")
    group.add_argument("--codebook", default=None, metavar="FILE",
                       help="codebook.json of the logs a policy was trained on (codes <-> simulator values)")


def build_own_env(args: argparse.Namespace):
    """The simulator of ``--env package.module:factory`` (seen through ``--codebook`` when given)."""
    from causalnet.codebook import Codebook
    from causalnet.network_file import load_network_file
    from rl.envs.pettingzoo_env import PettingZooNetworkedEnv, coded_env

    if not getattr(args, "network", None):
        raise ValueError(f"--env {args.env}: give the network file with --network NET")
    network = load_network_file(args.network)
    env = PettingZooNetworkedEnv(args.env, network, factory_kwargs=parse_kwargs(args.factory_kwargs),
                                 domain_kwarg=args.domain_kwarg or None, domain_in=args.domain_in)
    if not args.codebook:
        return env
    codebook = Codebook.load(args.codebook)
    spec = network.to_spec([codebook.cardinality(s) for s in network.state_names],
                           [codebook.cardinality(a) for a in network.action_names])
    coded = coded_env(env, codebook, spec)
    coded.config = env.config
    return coded
