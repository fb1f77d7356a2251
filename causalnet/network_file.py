"""The network file: who the agents are, who interacts with whom, and what every column is called.

A network file (TOML or JSON, chosen by the suffix) describes a user's own networked
system for the table loader (:mod:`causalnet.tables_read`) and for a user's PettingZoo
simulator (:mod:`rl.envs.pettingzoo_env`). Keys (see ``docs/data-format.md``):

``n_agents``         number of agents (required)
``edges``            list of ``[i, j]`` pairs of interacting agents, ``0 <= i, j < n_agents``
``state_names``      one name per state coordinate; owners from ``state_owner`` (same length),
                     or parsed from the default naming ``s{i}_{k}`` (coordinate ``k`` of agent ``i``)
``state_dims``       instead of ``state_names``: coordinates per agent (an integer or one per
                     agent), named ``s{i}_{k}``
``action_names``     one per agent (default ``a{i}``)
``reward_names``     one per agent (default ``r{i}``)
``domain_values``    optional ``{label: factor}``: the known factor of some domains
``gamma``, ``horizon`` optional discount factor and episode length of the return to optimise

Cardinalities are not part of the file: they come from the data (the codebook) or from
the simulator's spaces.

Examples
--------
>>> net = network_from_dict({"n_agents": 2, "edges": [[0, 1]], "state_dims": 1,
...                          "domain_values": {"beta=0.2": 0.2}, "gamma": 0.9})
>>> net.state_names, net.state_owner, net.action_names
(('s0_0', 's1_0'), (0, 1), ('a0', 'a1'))
>>> net.to_spec([2, 2], [2, 2]).neighborhood(0, 1)
[0, 1]
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from causalnet.errors import CausalnetError
from causalnet.spec import NetworkSpec

__all__ = ["NetworkFile", "NetworkFileError", "load_network_file", "network_from_dict", "DEFAULT_STATE_NAME"]

DEFAULT_STATE_NAME = re.compile(r"^s(\d+)_(\d+)$")
_KEYS = ("n_agents", "edges", "state_names", "state_owner", "state_dims", "action_names", "reward_names",
         "domain_values", "gamma", "horizon")
_RESERVED = ("domain", "episode", "t")


class NetworkFileError(CausalnetError, ValueError):
    """The network file is unreadable or inconsistent (the message names the bad entry)."""


@dataclass(frozen=True)
class NetworkFile:
    """A validated network file (see the module docstring).

    Attributes
    ----------
    n_agents : int
    edges : tuple of (int, int)
    state_names : tuple of str
    state_owner : tuple of int
    action_names, reward_names : tuple of str
    domain_values : dict of str to float
        Known factors of some domains, keyed by the domain label as text.
    gamma : float or None
    horizon : int or None
    source : str
        Where the file was read from (for messages).
    """

    n_agents: int
    edges: tuple[tuple[int, int], ...]
    state_names: tuple[str, ...]
    state_owner: tuple[int, ...]
    action_names: tuple[str, ...]
    reward_names: tuple[str, ...]
    domain_values: dict[str, float] = field(default_factory=dict)
    gamma: float | None = None
    horizon: int | None = None
    source: str = "network file"

    @property
    def next_names(self) -> tuple[str, ...]:
        """Column names of the next state: ``<state name>_next``."""
        return tuple(f"{s}_next" for s in self.state_names)

    @property
    def table_columns(self) -> tuple[str, ...]:
        """Every column a wide table must have, in the documented order."""
        return ("domain", "episode", "t") + self.state_names + self.action_names + self.reward_names \
            + self.next_names

    def agent_states(self, agent: int) -> list[str]:
        """Names of the state coordinates of ``agent``, in file order."""
        return [s for s, o in zip(self.state_names, self.state_owner) if o == agent]

    def to_spec(self, state_cardinality: Sequence[int], action_cardinality: Sequence[int]) -> NetworkSpec:
        """The :class:`NetworkSpec` with the given cardinalities (from the data or the simulator)."""
        return NetworkSpec(n_agents=self.n_agents, edges=self.edges, state_names=self.state_names,
                           state_owner=self.state_owner, state_cardinality=tuple(int(c) for c in state_cardinality),
                           action_names=self.action_names,
                           action_cardinality=tuple(int(c) for c in action_cardinality),
                           reward_names=self.reward_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict that :func:`network_from_dict` reads back."""
        out: dict[str, Any] = {"n_agents": self.n_agents, "edges": [list(e) for e in self.edges],
                               "state_names": list(self.state_names), "state_owner": list(self.state_owner),
                               "action_names": list(self.action_names), "reward_names": list(self.reward_names),
                               "domain_values": dict(self.domain_values)}
        if self.gamma is not None:
            out["gamma"] = self.gamma
        if self.horizon is not None:
            out["horizon"] = self.horizon
        return out


def _fail(where: str, text: str) -> NetworkFileError:
    return NetworkFileError(f"{where}: {text}")


def _int(value: Any, where: str, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise _fail(where, f"{key} must be an integer >= {least}, got {value!r}")
    return int(value)


def _names(value: Any, where: str, key: str, count: int | None) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(where, f"{key} must be a list of names, got {value!r}")
    for k, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise _fail(where, f"{key}[{k}] must be a non-empty string, got {name!r}")
    if count is not None and len(value) != count:
        raise _fail(where, f"{key} has {len(value)} entries; expected one per agent ({count})")
    return tuple(value)


def network_from_dict(data: Mapping[str, Any], *, source: str = "network file") -> NetworkFile:
    """Validate a parsed network file (see the module docstring).

    Raises
    ------
    NetworkFileError
        Unknown or missing key, wrong type, an edge or owner naming an unknown agent,
        repeated names, a state name that is neither listed in ``state_owner`` nor of
        the form ``s{i}_{k}``. The message names the entry.
    """
    where = source
    if not isinstance(data, Mapping):
        raise _fail(where, f"expected a table of keys, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise _fail(where, f"unknown key(s) {unknown}; accepted: {', '.join(_KEYS)}")
    if "n_agents" not in data:
        raise _fail(where, "n_agents is required")
    n = _int(data["n_agents"], where, "n_agents", 1)
    raw_edges = data.get("edges", [])
    if isinstance(raw_edges, str) or not isinstance(raw_edges, Sequence):
        raise _fail(where, f"edges must be a list of [i, j] pairs, got {raw_edges!r}")
    edges = []
    for k, e in enumerate(raw_edges):
        if (isinstance(e, str) or not isinstance(e, Sequence) or len(e) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in e)):
            raise _fail(where, f"edges[{k}] must be a pair of agent indices [i, j], got {e!r}")
        for v in e:
            if not 0 <= v < n:
                raise _fail(where, f"edges[{k}] = {list(e)} names agent {v}, but agents are 0..{n - 1}")
        if e[0] != e[1]:
            edges.append((int(e[0]), int(e[1])))
    # state coordinates
    if "state_names" in data and "state_dims" in data:
        raise _fail(where, "give state_names (with state_owner or s{i}_{k} names) or state_dims, not both")
    if "state_names" in data:
        states = _names(data["state_names"], where, "state_names", None)
        if "state_owner" in data:
            owners_raw = data["state_owner"]
            if isinstance(owners_raw, str) or not isinstance(owners_raw, Sequence) or len(owners_raw) != len(states):
                raise _fail(where, f"state_owner must be a list with one agent per state name ({len(states)})")
            owners = tuple(_int(o, where, f"state_owner[{k}] (owner of {states[k]!r})", 0)
                           for k, o in enumerate(owners_raw))
        else:
            owners_list = []
            for name in states:
                m = DEFAULT_STATE_NAME.match(name)
                if m is None:
                    raise _fail(where, f"state name {name!r} does not follow the default naming s{{i}}_{{k}}; "
                                       "give its owner in a state_owner list")
                owners_list.append(int(m.group(1)))
            owners = tuple(owners_list)
        for name, o in zip(states, owners):
            if not 0 <= o < n:
                raise _fail(where, f"state coordinate {name!r} belongs to agent {o}, but agents are 0..{n - 1}")
    elif "state_dims" in data:
        dims = data["state_dims"]
        if isinstance(dims, int) and not isinstance(dims, bool):
            dims = [dims] * n
        if isinstance(dims, str) or not isinstance(dims, Sequence) or len(dims) != n:
            raise _fail(where, f"state_dims must be an integer or a list with one entry per agent ({n})")
        dims = [_int(d, where, f"state_dims[{i}]", 0) for i, d in enumerate(dims)]
        states = tuple(f"s{i}_{k}" for i in range(n) for k in range(dims[i]))
        owners = tuple(i for i in range(n) for _ in range(dims[i]))
    else:
        raise _fail(where, "state_names (or state_dims) is required")
    if "state_owner" in data and "state_names" not in data:
        raise _fail(where, "state_owner needs state_names")
    actions = _names(data.get("action_names", [f"a{i}" for i in range(n)]), where, "action_names", n)
    rewards = _names(data.get("reward_names", [f"r{i}" for i in range(n)]), where, "reward_names", n)
    everything = list(states) + list(actions) + list(rewards) + [f"{s}_next" for s in states]
    seen: set[str] = set()
    for name in everything:
        if name in seen:
            raise _fail(where, f"the name {name!r} is used twice (every state, action, reward and "
                               "<state>_next column needs its own name)")
        if name in _RESERVED:
            raise _fail(where, f"the name {name!r} is reserved for the table's bookkeeping columns")
        seen.add(name)
    # domains, gamma, horizon
    dv = data.get("domain_values", {})
    if not isinstance(dv, Mapping):
        raise _fail(where, f"domain_values must be a table {{label = factor}}, got {dv!r}")
    domain_values = {}
    for label, value in dv.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _fail(where, f"domain_values[{label!r}] must be a finite number, got {value!r}")
        domain_values[str(label)] = float(value)
    gamma = data.get("gamma")
    if gamma is not None and (isinstance(gamma, bool) or not isinstance(gamma, (int, float))
                              or not 0.0 <= gamma <= 1.0):
        raise _fail(where, f"gamma must be a number in [0, 1], got {gamma!r}")
    horizon = data.get("horizon")
    if horizon is not None:
        horizon = _int(horizon, where, "horizon", 1)
    return NetworkFile(n, tuple(edges), states, owners, actions, rewards, domain_values,
                       None if gamma is None else float(gamma), horizon, source)


def load_network_file(path: str | os.PathLike) -> NetworkFile:
    """Read and validate a ``.toml`` or ``.json`` network file.

    Raises
    ------
    NetworkFileError
        Missing or unreadable file, wrong suffix, invalid TOML/JSON, or any check of
        :func:`network_from_dict`.
    """
    p = Path(path)
    if p.suffix.lower() not in (".toml", ".json"):
        raise NetworkFileError(f"network file {p}: expected a .toml or .json file")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise NetworkFileError(f"network file {p}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise NetworkFileError(f"network file {p} is not valid {p.suffix[1:].upper()}: {exc}") from None
    return network_from_dict(data, source=f"network file {p}")
