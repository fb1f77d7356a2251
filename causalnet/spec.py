"""Variable and network metadata shared by data containers, graphs and environments.

A networked system has ``n`` agents on an undirected interaction graph. Agent ``i``
owns some discrete (or continuous) state coordinates, one action and one reward.
:class:`NetworkSpec` names every one of these variables and records the
interaction graph, so that data, learned graphs and environments can talk about
the same variables by name.

Naming convention used by the built-in environments (user data may use any
unique names): state coordinate ``j`` of agent ``i`` is ``"s{i}_{j}"``, the action
of agent ``i`` is ``"a{i}"``, its reward ``"r{i}"`` and the domain index is
``"domain"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Literal

import networkx as nx
import numpy as np

from causalnet.errors import CausalnetError

__all__ = ["NetworkSpec", "SpecError", "VariableKind", "broadcast_domain_factor", "default_spec"]

VariableKind = Literal["state", "action", "reward", "domain"]


class SpecError(CausalnetError, ValueError):
    """Raised when a network specification is inconsistent."""


@dataclass(frozen=True, eq=True)
class NetworkSpec:
    """Names, owners and cardinalities of every variable of a networked system.

    Parameters
    ----------
    n_agents : int
        Number of agents.
    edges : tuple of (int, int)
        Undirected edges of the interaction graph (no self loops needed: an agent
        always belongs to its own neighbourhood).
    state_names : tuple of str
        One name per state coordinate, agent-major.
    state_owner : tuple of int
        The agent that owns each state coordinate.
    state_cardinality : tuple of int or None
        Number of values of each discrete coordinate (values ``0..card-1``), or
        ``None`` for a continuous coordinate.
    action_names, action_cardinality : tuple
        One action per agent, with values ``0..card-1`` (``None``: a continuous,
        real-valued action).
    reward_names : tuple of str
        One reward per agent.
    domain_name : str
        Name of the domain-index variable used by discovery.

    Examples
    --------
    >>> spec = default_spec(n_agents=2, edges=[(0, 1)], state_dims=[1, 2],
    ...                     state_cardinality=2, action_cardinality=[3, 3])
    >>> spec.state_names
    ('s0_0', 's1_0', 's1_1')
    >>> spec.neighborhood(0, 1)
    [0, 1]
    """

    n_agents: int
    edges: tuple[tuple[int, int], ...]
    state_names: tuple[str, ...]
    state_owner: tuple[int, ...]
    state_cardinality: tuple[int | None, ...]
    action_names: tuple[str, ...]
    action_cardinality: tuple[int | None, ...]
    reward_names: tuple[str, ...]
    domain_name: str = "domain"
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        n = self.n_agents
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise SpecError(f"n_agents must be a positive integer, got {n!r}")
        object.__setattr__(self, "edges", tuple(sorted({(min(int(a), int(b)), max(int(a), int(b)))
                                                        for a, b in self.edges if a != b})))
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n):
                raise SpecError(f"edge ({a}, {b}) names an agent outside 0..{n - 1}")
        for attr in ("state_names", "state_owner", "state_cardinality", "action_names",
                     "action_cardinality", "reward_names"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        m = len(self.state_names)
        if len(self.state_owner) != m or len(self.state_cardinality) != m:
            raise SpecError(
                f"state_names ({m}), state_owner ({len(self.state_owner)}) and "
                f"state_cardinality ({len(self.state_cardinality)}) must have equal lengths")
        for name, per_agent in (("action_names", self.action_names),
                                ("action_cardinality", self.action_cardinality),
                                ("reward_names", self.reward_names)):
            if len(per_agent) != n:
                raise SpecError(f"{name} must have one entry per agent ({n}), got {len(per_agent)}")
        for j, owner in enumerate(self.state_owner):
            if not 0 <= owner < n:
                raise SpecError(f"state coordinate {self.state_names[j]!r} has owner {owner} outside 0..{n - 1}")
        for j, card in enumerate(self.state_cardinality):
            if card is not None and (int(card) != card or card < 1):
                raise SpecError(f"state coordinate {self.state_names[j]!r} has cardinality {card!r}; "
                                "use an integer >= 1 or None for continuous")
        for i, card in enumerate(self.action_cardinality):
            if card is not None and (int(card) != card or card < 1):
                raise SpecError(f"action {self.action_names[i]!r} has cardinality {card!r}; use an integer >= 1 "
                                "or None for a continuous action")
        if len({c is None for c in self.action_cardinality}) > 1:
            raise SpecError("action_cardinality mixes discrete and continuous (None) actions; use one kind for "
                            f"all agents, got {list(self.action_cardinality)}")
        names = list(self.state_names) + list(self.action_names) + list(self.reward_names) + [self.domain_name]
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise SpecError(f"variable names must be unique; repeated: {dup}")

    # ------------------------------------------------------------------ sizes
    @property
    def n_state(self) -> int:
        """Number of state coordinates over all agents."""
        return len(self.state_names)

    @cached_property
    def state_dims(self) -> np.ndarray:
        """Number of state coordinates of each agent, shape ``(n_agents,)``."""
        return np.bincount(np.asarray(self.state_owner, dtype=np.int64), minlength=self.n_agents)

    @cached_property
    def is_discrete(self) -> bool:
        """True when every state coordinate is discrete."""
        return all(c is not None for c in self.state_cardinality)

    @cached_property
    def continuous_actions(self) -> bool:
        """True when the actions are real-valued (every action cardinality is None)."""
        return all(c is None for c in self.action_cardinality)

    @cached_property
    def _agent_states(self) -> list[np.ndarray]:
        owner = np.asarray(self.state_owner, dtype=np.int64)
        order = np.argsort(owner, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=self.n_agents))])
        return [order[bounds[i]:bounds[i + 1]] for i in range(self.n_agents)]

    def agent_state_indices(self, agent: int) -> np.ndarray:
        """Column indices of the state coordinates owned by ``agent`` (in increasing order)."""
        self._check_agent(agent)
        return self._agent_states[agent].copy()

    # ------------------------------------------------------------------ graph
    @cached_property
    def interaction_graph(self) -> nx.Graph:
        """The undirected interaction graph (nodes ``0..n_agents-1``)."""
        g = nx.Graph()
        g.add_nodes_from(range(self.n_agents))
        g.add_edges_from(self.edges)
        return g

    def neighborhood(self, agent: int, k: int = 1) -> list[int]:
        """Sorted agents within ``k`` hops of ``agent``, the agent included."""
        self._check_agent(agent)
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        key = ("nbh", agent, k)
        if key not in self._cache:
            lengths = nx.single_source_shortest_path_length(self.interaction_graph, agent, cutoff=k)
            self._cache[key] = sorted(lengths)
        return list(self._cache[key])

    # -------------------------------------------------------------- variables
    @cached_property
    def variable_kinds(self) -> dict[str, VariableKind]:
        """Map from every variable name to its kind."""
        kinds: dict[str, VariableKind] = {}
        kinds.update({s: "state" for s in self.state_names})
        kinds.update({a: "action" for a in self.action_names})
        kinds.update({r: "reward" for r in self.reward_names})
        kinds[self.domain_name] = "domain"
        return kinds

    @cached_property
    def _index(self) -> dict[str, int]:
        idx = {s: j for j, s in enumerate(self.state_names)}
        idx.update({a: i for i, a in enumerate(self.action_names)})
        idx.update({r: i for i, r in enumerate(self.reward_names)})
        idx[self.domain_name] = 0
        return idx

    def kind(self, name: str) -> VariableKind:
        """Kind (state, action, reward, domain) of the variable ``name``."""
        try:
            return self.variable_kinds[name]
        except KeyError:
            raise KeyError(f"unknown variable {name!r}") from None

    def index(self, name: str) -> int:
        """Column of ``name`` within the array of its kind (state, action or reward)."""
        self.kind(name)
        return self._index[name]

    def owner(self, name: str) -> int | None:
        """The agent that owns ``name`` (None for the domain variable)."""
        kind = self.kind(name)
        if kind == "state":
            return self.state_owner[self._index[name]]
        if kind in ("action", "reward"):
            return self._index[name]
        return None

    def cardinality(self, name: str) -> int | None:
        """Number of values of a discrete variable (None for continuous ones and rewards)."""
        kind = self.kind(name)
        if kind == "state":
            return self.state_cardinality[self._index[name]]
        if kind == "action":
            return self.action_cardinality[self._index[name]]
        return None

    def _check_agent(self, agent: int) -> None:
        if not 0 <= agent < self.n_agents:
            raise ValueError(f"agent {agent} is outside 0..{self.n_agents - 1}")

    # ------------------------------------------------------------------- json
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the spec."""
        return {
            "n_agents": int(self.n_agents),
            "edges": [list(e) for e in self.edges],
            "state_names": list(self.state_names),
            "state_owner": [int(o) for o in self.state_owner],
            "state_cardinality": [None if c is None else int(c) for c in self.state_cardinality],
            "action_names": list(self.action_names),
            "action_cardinality": [None if c is None else int(c) for c in self.action_cardinality],
            "reward_names": list(self.reward_names),
            "domain_name": self.domain_name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NetworkSpec":
        """Inverse of :meth:`to_dict`; raises :class:`SpecError` on missing or bad fields."""
        required = ["n_agents", "edges", "state_names", "state_owner", "state_cardinality",
                    "action_names", "action_cardinality", "reward_names"]
        missing = [k for k in required if k not in data]
        if missing:
            raise SpecError(f"network spec is missing field(s): {missing}")
        unknown = sorted(set(data) - set(required) - {"domain_name"})
        if unknown:
            raise SpecError(f"network spec has unknown field(s): {unknown}")
        _check_spec_types(data)
        try:
            return cls(
                n_agents=int(data["n_agents"]),
                edges=tuple((int(a), int(b)) for a, b in data["edges"]),
                state_names=tuple(str(s) for s in data["state_names"]),
                state_owner=tuple(int(o) for o in data["state_owner"]),
                state_cardinality=tuple(None if c is None else int(c) for c in data["state_cardinality"]),
                action_names=tuple(str(a) for a in data["action_names"]),
                action_cardinality=tuple(None if c is None else int(c) for c in data["action_cardinality"]),
                reward_names=tuple(str(r) for r in data["reward_names"]),
                domain_name=str(data.get("domain_name", "domain")),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SpecError):
                raise
            raise SpecError(f"network spec has a field of the wrong type: {exc}") from exc

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "NetworkSpec":
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


def default_spec(
    n_agents: int,
    edges: Iterable[tuple[int, int]],
    state_dims: int | Iterable[int],
    state_cardinality: int | None | Iterable[int | None],
    action_cardinality: int | None | Iterable[int | None],
) -> NetworkSpec:
    """Build a :class:`NetworkSpec` with the default names ``s{i}_{j}``, ``a{i}``, ``r{i}``.

    Scalars are broadcast over agents (``state_dims``, ``action_cardinality``) or over
    all state coordinates (``state_cardinality``).
    """
    dims = [int(state_dims)] * n_agents if np.isscalar(state_dims) else [int(d) for d in state_dims]
    if len(dims) != n_agents:
        raise SpecError(f"state_dims must have one entry per agent ({n_agents}), got {len(dims)}")
    names = [f"s{i}_{j}" for i in range(n_agents) for j in range(dims[i])]
    owner = [i for i in range(n_agents) for _ in range(dims[i])]
    if state_cardinality is None or np.isscalar(state_cardinality):
        cards = [state_cardinality] * len(names)
    else:
        cards = list(state_cardinality)
    if action_cardinality is None or np.isscalar(action_cardinality):
        acts = [None if action_cardinality is None else int(action_cardinality)] * n_agents
    else:
        acts = list(action_cardinality)
    return NetworkSpec(
        n_agents=n_agents,
        edges=tuple(tuple(e) for e in edges),
        state_names=tuple(names),
        state_owner=tuple(owner),
        state_cardinality=tuple(cards),
        action_names=tuple(f"a{i}" for i in range(n_agents)),
        action_cardinality=tuple(acts),
        reward_names=tuple(f"r{i}" for i in range(n_agents)),
    )


def broadcast_domain_factor(domain_factor, default: np.ndarray, n_agents: int, batch: int) -> np.ndarray:
    """Validate a domain factor and broadcast it to ``(batch, n_agents)``.

    ``domain_factor`` may be None (use ``default``), a scalar, shape ``(n_agents,)`` or
    ``(batch, n_agents)``. Raises ValueError naming the shapes accepted.

    >>> broadcast_domain_factor(0.3, np.zeros(2), 2, 3).shape
    (3, 2)
    """
    w = np.asarray(default if domain_factor is None else domain_factor, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_agents, float(w))
    if w.shape not in ((n_agents,), (batch, n_agents)):
        raise ValueError(f"domain_factor has shape {w.shape}; expected ({n_agents},) or ({batch}, {n_agents})")
    return np.broadcast_to(w, (batch, n_agents))


def _check_spec_types(data: dict[str, Any]) -> None:
    """Exact JSON types of a spec dict: integers are integers (not strings or booleans), names strings."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def int_list(key: str, *, nullable: bool = False) -> None:
        v = data[key]
        if not isinstance(v, (list, tuple)) or not all(is_int(x) or (nullable and x is None) for x in v):
            raise SpecError(f"network spec field {key!r} must be a list of integers, got {v!r:.80}")

    if not is_int(data["n_agents"]):
        raise SpecError(f"network spec field 'n_agents' must be an integer, got {data['n_agents']!r:.80}")
    edges = data["edges"]
    pairs = isinstance(edges, (list, tuple)) and all(
        isinstance(e, (list, tuple)) and len(e) == 2 and all(is_int(x) for x in e) for e in edges)
    if not pairs:
        raise SpecError(f"network spec field 'edges' must be a list of [i, j] integer pairs, got {edges!r:.80}")
    int_list("state_owner")
    int_list("state_cardinality", nullable=True)
    int_list("action_cardinality", nullable=True)      # None: continuous actions
    for key in ("state_names", "action_names", "reward_names"):
        v = data[key]
        if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
            raise SpecError(f"network spec field {key!r} must be a list of names, got {v!r:.80}")
    if "domain_name" in data and not isinstance(data["domain_name"], str):
        raise SpecError(f"network spec field 'domain_name' must be a string, got {data['domain_name']!r:.80}")
