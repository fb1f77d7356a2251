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
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import networkx as nx
import numpy as np

from causalnet.spec import NetworkSpec

__all__ = ["FactoredGraph", "GraphError"]


class GraphError(ValueError):
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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FactoredGraph):
            return NotImplemented
        return self.spec == other.spec and self.parents == other.parents

    __hash__ = None  # type: ignore[assignment]
