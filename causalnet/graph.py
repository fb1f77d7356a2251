"""The factored transition graph of a networked system (a two-slice causal graph).

Targets are the next-state coordinates ``x(t+1)`` and the rewards ``r_i(t)``; their
possible parents are the state coordinates and actions at time t and the domain
variable. Time orients every edge, so the graph is stored as a map from each
target to its parent set. Targets use the variable names of the
:class:`~causalnet.spec.NetworkSpec` (a state name as a target means that
coordinate at time t+1).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import networkx as nx
import numpy as np

from causalnet.data import Transitions
from causalnet.errors import CausalnetError, reading_file
from causalnet.io import atomic_write_json, read_json_object
from causalnet.spec import NetworkSpec, SpecError

__all__ = ["FactoredGraph", "GraphError", "check_graph_and_data", "GRAPH_FORMAT_VERSION"]

GRAPH_FORMAT_VERSION = 1
_GRAPH_FORMAT = "causalnet.graph"


class GraphError(CausalnetError, ValueError):
    """Raised when a factored graph names unknown variables or impossible edges."""


@dataclass(frozen=True, eq=False)
class FactoredGraph:
    """Parents at time t of every next-state coordinate and every reward.

    Parameters
    ----------
    spec : NetworkSpec
        The variables of the system.
    parents : mapping from str to iterable of str
        For each target (a state coordinate name, meaning time t+1, or a reward
        name) the names of its parents at time t: state coordinates, actions, and
        ``spec.domain_name`` when the target's mechanism depends on the domain.
        Targets left out have no parents.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["s0_0", "a0", "domain"], "r0": ["s0_0"]})
    >>> g.domain_affected
    ['s0_0']
    >>> g.state_mask.tolist()
    [[True]]
    """

    spec: NetworkSpec
    parents: Mapping[str, Iterable[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spec = self.spec
        kinds = spec.variable_kinds
        clean: dict[str, frozenset[str]] = {}
        for target in list(spec.state_names) + list(spec.reward_names):
            clean[target] = frozenset()
        for target, pas in dict(self.parents).items():
            if kinds.get(target) not in ("state", "reward"):
                raise GraphError(f"unknown target {target!r}: targets are state coordinates "
                                 "(at t+1) and rewards")
            pas = frozenset(pas)
            bad = [p for p in pas if kinds.get(p) not in ("state", "action", "domain")]
            if bad:
                raise GraphError(f"target {target!r} has unknown or invalid parent(s) {sorted(bad)}: "
                                 "parents are state coordinates, actions or the domain variable")
            clean[target] = pas
        object.__setattr__(self, "parents", clean)

    # ------------------------------------------------------------- accessors
    @property
    def targets(self) -> list[str]:
        """All targets: next-state coordinates, then rewards."""
        return list(self.spec.state_names) + list(self.spec.reward_names)

    @property
    def domain_affected(self) -> list[str]:
        """Targets whose mechanism depends on the domain, in spec order."""
        d = self.spec.domain_name
        return [t for t in self.targets if d in self.parents[t]]

    def edges(self) -> list[tuple[str, str]]:
        """All ``(parent, target)`` pairs, sorted."""
        return sorted((p, t) for t, pas in self.parents.items() for p in pas)

    def n_edges(self) -> int:
        """Number of edges."""
        return sum(len(p) for p in self.parents.values())

    def _mask(self, rows: Iterable[str], cols: Iterable[str]) -> np.ndarray:
        rows, cols = list(rows), list(cols)
        col_index = {c: j for j, c in enumerate(cols)}
        mask = np.zeros((len(rows), len(cols)), dtype=bool)
        for i, target in enumerate(rows):
            for p in self.parents[target]:
                j = col_index.get(p)
                if j is not None:
                    mask[i, j] = True
        return mask

    @property
    def state_mask(self) -> np.ndarray:
        """``c^{s->s}``: ``[i, j]`` is True when state j at t is a parent of state i at t+1."""
        return self._mask(self.spec.state_names, self.spec.state_names)

    @property
    def action_mask(self) -> np.ndarray:
        """``c^{a->s}``: ``[i, k]`` is True when action k at t is a parent of state i at t+1."""
        return self._mask(self.spec.state_names, self.spec.action_names)

    @property
    def domain_mask(self) -> np.ndarray:
        """``c^{w->s}``: True for state coordinates whose mechanism depends on the domain."""
        return self._mask(self.spec.state_names, [self.spec.domain_name])[:, 0]

    @property
    def reward_state_mask(self) -> np.ndarray:
        """``[i, j]`` is True when state j at t is a parent of reward i."""
        return self._mask(self.spec.reward_names, self.spec.state_names)

    @property
    def reward_action_mask(self) -> np.ndarray:
        """``[i, k]`` is True when action k at t is a parent of reward i."""
        return self._mask(self.spec.reward_names, self.spec.action_names)

    @property
    def reward_domain_mask(self) -> np.ndarray:
        """True for rewards whose mechanism depends on the domain, shape ``(n_agents,)``."""
        return self._mask(self.spec.reward_names, [self.spec.domain_name])[:, 0]

    def masks(self) -> dict[str, np.ndarray]:
        """All six masks by name (the keyword arguments of :meth:`from_masks`)."""
        return {"state_mask": self.state_mask, "action_mask": self.action_mask,
                "domain_mask": self.domain_mask, "reward_state_mask": self.reward_state_mask,
                "reward_action_mask": self.reward_action_mask,
                "reward_domain_mask": self.reward_domain_mask}

    @classmethod
    def from_masks(
        cls,
        spec: NetworkSpec,
        *,
        state_mask: np.ndarray,
        action_mask: np.ndarray,
        domain_mask: np.ndarray,
        reward_state_mask: np.ndarray,
        reward_action_mask: np.ndarray,
        reward_domain_mask: np.ndarray | None = None,
    ) -> "FactoredGraph":
        """Build a graph from boolean masks (the inverse of the mask properties).

        Shapes: ``state_mask (n_state, n_state)``, ``action_mask (n_state, n_agents)``,
        ``domain_mask (n_state,)``, ``reward_state_mask (n_agents, n_state)``,
        ``reward_action_mask (n_agents, n_agents)``, ``reward_domain_mask (n_agents,)``
        (default: no reward depends on the domain). Rows are targets, columns parents.

        Examples
        --------
        >>> from causalnet.spec import default_spec
        >>> spec = default_spec(1, [], 1, 2, 2)
        >>> g = FactoredGraph.from_masks(spec, state_mask=[[True]], action_mask=[[False]],
        ...                              domain_mask=[True], reward_state_mask=[[True]],
        ...                              reward_action_mask=[[True]])
        >>> g.parents["r0"] == {"s0_0", "a0"}
        True
        """
        n, m = spec.n_agents, spec.n_state
        if reward_domain_mask is None:
            reward_domain_mask = np.zeros(n, dtype=bool)
        given = {"state_mask": (state_mask, (m, m)), "action_mask": (action_mask, (m, n)),
                 "domain_mask": (domain_mask, (m,)), "reward_state_mask": (reward_state_mask, (n, m)),
                 "reward_action_mask": (reward_action_mask, (n, n)),
                 "reward_domain_mask": (reward_domain_mask, (n,))}
        arrays: dict[str, np.ndarray] = {}
        for name, (value, shape) in given.items():
            arr = np.asarray(value)
            if arr.shape != shape:
                raise GraphError(f"{name} has shape {arr.shape}, expected {shape} "
                                 f"({m} state coordinates, {n} agents)")
            if arr.dtype != bool:
                if not np.all(np.isin(arr, (0, 1))):
                    raise GraphError(f"{name} must be boolean (or 0/1), got values other than 0 and 1")
                arr = arr.astype(bool)
            arrays[name] = arr
        states, actions, rewards = spec.state_names, spec.action_names, spec.reward_names
        parents: dict[str, list[str]] = {}
        for i, target in enumerate(states):
            pas = [states[j] for j in np.flatnonzero(arrays["state_mask"][i])]
            pas += [actions[k] for k in np.flatnonzero(arrays["action_mask"][i])]
            if arrays["domain_mask"][i]:
                pas.append(spec.domain_name)
            parents[target] = pas
        for i, target in enumerate(rewards):
            pas = [states[j] for j in np.flatnonzero(arrays["reward_state_mask"][i])]
            pas += [actions[k] for k in np.flatnonzero(arrays["reward_action_mask"][i])]
            if arrays["reward_domain_mask"][i]:
                pas.append(spec.domain_name)
            parents[target] = pas
        return cls(spec, parents)

    # --------------------------------------------------------------- networkx
    def to_networkx(self) -> nx.DiGraph:
        """Two-slice DAG with nodes ``(name, t)``: inputs at t = 0, targets at t = 1.

        Node attribute ``kind`` is the variable kind and ``agent`` its owner.
        """
        g = nx.DiGraph()
        spec = self.spec
        for name in list(spec.state_names) + list(spec.action_names) + [spec.domain_name]:
            g.add_node((name, 0), kind=spec.kind(name), agent=spec.owner(name))
        for name in self.targets:
            g.add_node((name, 1), kind=spec.kind(name), agent=spec.owner(name))
        for target, pas in self.parents.items():
            for p in pas:
                g.add_edge((p, 0), (target, 1))
        return g

    # ------------------------------------------------------------------- json
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``variables``, ``parents``, ``domain_affected`` and ``spec``."""
        spec = self.spec
        variables = list(spec.state_names) + list(spec.action_names) + list(spec.reward_names) + [spec.domain_name]
        return {
            "variables": variables,
            "parents": {t: sorted(self.parents[t]) for t in self.targets},
            "domain_affected": self.domain_affected,
            "spec": spec.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: NetworkSpec | None = None) -> "FactoredGraph":
        """Inverse of :meth:`to_dict`. ``spec`` overrides the one stored in ``data``."""
        if spec is None:
            if "spec" not in data:
                raise GraphError("graph data has no 'spec'; pass spec= explicitly")
            spec = NetworkSpec.from_dict(data["spec"])
        if "parents" not in data:
            raise GraphError("graph data has no 'parents' object")
        return cls(spec, {t: list(p) for t, p in data["parents"].items()})

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str, spec: NetworkSpec | None = None) -> "FactoredGraph":
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text), spec)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the graph as JSON to ``path`` atomically (see ``docs/graph-format.md``)."""
        data = {"format": _GRAPH_FORMAT, "version": GRAPH_FORMAT_VERSION, **self.to_dict()}
        return atomic_write_json(path, data)

    @classmethod
    def load(cls, path: str | os.PathLike, spec: NetworkSpec | None = None) -> "FactoredGraph":
        """Read a graph written by :meth:`save` (or by hand, following ``docs/graph-format.md``).

        Raises
        ------
        GraphError
            If the file is missing or not JSON, the format or version is wrong, the
            spec is invalid, ``parents`` is malformed or names unknown variables, or
            ``domain_affected`` (when present) disagrees with ``parents``.
        """
        path = Path(path)
        with reading_file(path, GraphError):
            return cls._load(path, spec)

    @classmethod
    def _load(cls, path: Path, spec: NetworkSpec | None) -> "FactoredGraph":
        data = read_json_object(path, error=GraphError, what="graph")
        unknown = sorted(set(data) - {"format", "version", "variables", "parents", "domain_affected", "spec"})
        if unknown:
            raise GraphError(f"{path} has unknown field(s) {unknown}; accepted: format, version, variables, "
                             "parents, domain_affected, spec")
        fmt = data.get("format", _GRAPH_FORMAT)
        if fmt != _GRAPH_FORMAT:
            raise GraphError(f"{path} has format {fmt!r}; expected {_GRAPH_FORMAT!r}")
        version = data.get("version", GRAPH_FORMAT_VERSION)
        if version != GRAPH_FORMAT_VERSION:
            raise GraphError(f"{path} has format version {version!r}; this release reads "
                             f"version {GRAPH_FORMAT_VERSION}")
        if spec is None:
            if "spec" not in data:
                raise GraphError(f"{path} has no 'spec' object; pass spec= explicitly")
            try:
                spec = NetworkSpec.from_dict(data["spec"])
            except (SpecError, TypeError, AttributeError) as exc:
                raise GraphError(f"{path}: invalid 'spec': {exc}") from exc
        parents = data.get("parents")
        if not isinstance(parents, dict):
            raise GraphError(f"{path}: 'parents' must be an object mapping targets to lists of names")
        for target, pas in parents.items():
            if not isinstance(pas, list) or not all(isinstance(p, str) for p in pas):
                raise GraphError(f"{path}: parents of {target!r} must be a list of variable names")
        try:
            graph = cls(spec, parents)
        except GraphError as exc:
            raise GraphError(f"{path}: {exc}") from exc
        if "variables" in data:
            names = list(spec.state_names) + list(spec.action_names) + list(spec.reward_names) + [spec.domain_name]
            if data["variables"] != names:
                raise GraphError(f"{path}: 'variables' disagrees with the spec's variables {names[:4]}...")
        if "domain_affected" in data and (not isinstance(data["domain_affected"], list)
                                          or data["domain_affected"] != graph.domain_affected):
            raise GraphError(f"{path}: 'domain_affected' {data['domain_affected']} disagrees with the "
                             f"targets that have a {spec.domain_name!r} parent {graph.domain_affected}")
        return graph

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FactoredGraph):
            return NotImplemented
        return self.spec == other.spec and self.parents == other.parents

    __hash__ = None  # type: ignore[assignment]


def check_graph_and_data(graph: FactoredGraph, transitions: Transitions) -> None:
    """Raise if ``graph`` is not a FactoredGraph, ``transitions`` not a Transitions, or their specs differ."""
    if not isinstance(graph, FactoredGraph):
        raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
    if not isinstance(transitions, Transitions):
        raise TypeError(f"transitions must be a causalnet.Transitions, got {type(transitions).__name__}")
    if transitions.spec != graph.spec:
        raise GraphError("the transitions' spec differs from the graph's spec")
