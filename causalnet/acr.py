"""Approximately compact representations (ACRs) of a factored graph (GSAC Phase 2).

For agent ``i`` and horizon ``kappa`` (see ``docs/acr.md``):

* **value ACR** -- the state coordinates that can influence ``r_i`` within
  ``kappa`` traceback steps: start from the state parents of ``r_i`` (step 0), then
  repeatedly add the ``s->s`` parents of the coordinates added in the previous step,
  ``kappa`` times. Only coordinates owned by agents in ``N_i^kappa`` are ever
  added, so a traceback path must stay inside ``N_i^kappa``.
* **policy ACR** -- the value ACR intersected with the coordinates of ``s_{N_i}``
  (the 1-hop neighbourhood): the coordinates a local policy can observe that
  reach ``r_i`` through the masks within the same horizon.
* **domain ACR** -- the agents ``j`` in ``N_i^kappa`` whose domain factor ``w_j``
  has an edge into a coordinate of the value ACR (``w_j`` is owned by the agent
  that owns the affected coordinate).

All functions take the graph first and the options keyword-only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from causalnet.graph import FactoredGraph

__all__ = ["value_acr", "policy_acr", "domain_acr", "acr_table", "traceback_depths",
           "EXACT_SIZE_LOG10_LIMIT"]

#: Table sizes with ``log10(size)`` above this are reported as ``None`` (log10 kept).
EXACT_SIZE_LOG10_LIMIT = 18.0


def _check(graph: FactoredGraph, agent: int, kappa: int) -> None:
    if not isinstance(graph, FactoredGraph):
        raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
    if not isinstance(kappa, (int, np.integer)) or isinstance(kappa, bool) or kappa < 0:
        raise ValueError(f"kappa must be an integer >= 0, got {kappa!r}")
    if not isinstance(agent, (int, np.integer)) or not 0 <= agent < graph.spec.n_agents:
        raise ValueError(f"agent must be an integer in 0..{graph.spec.n_agents - 1}, got {agent!r}")


def traceback_depths(graph: FactoredGraph, agent: int, *, kappa: int) -> dict[str, int]:
    """Fewest traceback steps from ``r_agent`` to each coordinate of the value ACR.

    Depth 0 are the state parents of ``r_agent`` owned by agents in ``N_i^kappa``;
    depth ``d + 1`` are the ``s->s`` parents (owned inside ``N_i^kappa``) of the
    depth-``d`` coordinates not seen before. Depths never exceed ``kappa``.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s1_0"]})
    >>> traceback_depths(g, 0, kappa=1)
    {'s0_0': 0, 's1_0': 1}
    >>> traceback_depths(g, 0, kappa=0)
    {'s0_0': 0}
    """
    _check(graph, agent, kappa)
    spec = graph.spec
    allowed_agents = set(spec.neighborhood(int(agent), int(kappa)))
    kinds = spec.variable_kinds

    def allowed(name: str) -> bool:
        return kinds[name] == "state" and spec.owner(name) in allowed_agents

    reward = spec.reward_names[agent]
    frontier = sorted(p for p in graph.parents[reward] if allowed(p))
    depth = {name: 0 for name in frontier}
    for step in range(1, int(kappa) + 1):
        new: list[str] = []
        for name in frontier:
            for p in graph.parents[name]:
                if p not in depth and allowed(p):
                    depth[p] = step
                    new.append(p)
        if not new:
            break
        frontier = new
    return dict(sorted(depth.items(), key=lambda kv: spec.index(kv[0])))


def value_acr(graph: FactoredGraph, agent: int, *, kappa: int) -> list[str]:
    """State coordinates of agent ``agent``'s value ACR, in spec order.

    Parameters
    ----------
    graph : FactoredGraph
        Learned or true factored graph.
    agent : int
        The agent ``i``.
    kappa : int
        Traceback horizon (number of ``s->s`` steps after the reward's parents),
        also the neighbourhood radius ``N_i^kappa``.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 2, 2, 2)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0", "a0"], "s0_0": ["s0_1", "a1"],
    ...                          "s0_1": ["domain"], "s1_0": ["s1_1"]})
    >>> value_acr(g, 0, kappa=1)
    ['s0_0', 's0_1']
    >>> value_acr(g, 1, kappa=1)
    []
    """
    return list(traceback_depths(graph, agent, kappa=kappa))


def policy_acr(graph: FactoredGraph, agent: int, *, kappa: int) -> list[str]:
    """The value ACR restricted to coordinates of ``s_{N_i}`` (1-hop), in spec order.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s1_0"], "s1_0": ["s2_0"]})
    >>> value_acr(g, 0, kappa=2), policy_acr(g, 0, kappa=2)
    (['s0_0', 's1_0', 's2_0'], ['s0_0', 's1_0'])
    """
    spec = graph.spec
    near = set(spec.neighborhood(int(agent), 1)) if 0 <= agent < spec.n_agents else set()
    return [name for name in value_acr(graph, agent, kappa=kappa) if spec.owner(name) in near]


def domain_acr(graph: FactoredGraph, agent: int, *, kappa: int) -> list[int]:
    """Agents whose domain factor enters a coordinate of the value ACR (sorted).

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s1_0"], "s1_0": ["domain"]})
    >>> domain_acr(g, 0, kappa=1), domain_acr(g, 0, kappa=0)
    ([1], [])
    """
    spec = graph.spec
    dom = spec.domain_name
    owners = {spec.owner(name) for name in value_acr(graph, agent, kappa=kappa)
              if dom in graph.parents[name]}
    return sorted(int(o) for o in owners)


def _log10_size(cards: list[int | None]) -> float:
    if any(c is None for c in cards):
        return math.inf
    return float(sum(math.log10(c) for c in cards))


def _exact_size(cards: list[int | None]) -> int | None:
    log = _log10_size(cards)
    if log > EXACT_SIZE_LOG10_LIMIT:
        return None
    return math.prod(int(c) for c in cards)


def acr_table(graph: FactoredGraph, *, kappa: int) -> list[dict[str, Any]]:
    """Input dimensions and table sizes per agent: full state, kappa-hop truncation, ACR.

    Returns one dict per agent with keys

    * ``agent``, ``kappa``;
    * ``full_dim`` (``sum_i d_i``), ``kappa_hop_dim`` (coordinates of ``N_i^kappa``),
      ``acr_dim`` (value ACR), ``policy_acr_dim``, ``policy_kappa_hop_dim``
      (coordinates of ``N_i``), ``domain_acr_dim``;
    * ``kappa_hop_action_dim`` (agents in ``N_i^kappa``, one action each);
    * for each of ``full``, ``kappa_hop``, ``acr``, ``policy_acr``, ``kappa_hop_action``:
      ``<name>_size`` (number of table entries: the product of cardinalities, a
      Python int, or ``None`` when ``log10`` of it exceeds
      :data:`EXACT_SIZE_LOG10_LIMIT` or a coordinate is continuous) and
      ``<name>_log10_size`` (always given; ``inf`` for continuous coordinates).

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 2, 2, 3)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s0_1"], "r1": ["s1_1"]})
    >>> row = acr_table(g, kappa=1)[0]
    >>> row["full_dim"], row["kappa_hop_dim"], row["acr_dim"], row["acr_size"], row["full_size"]
    (4, 4, 2, 4, 16)
    """
    if not isinstance(graph, FactoredGraph):
        raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
    spec = graph.spec
    cards = dict(zip(spec.state_names, spec.state_cardinality))
    # the full state is the same for every agent: its size is computed once
    full_cards = list(spec.state_cardinality)
    full_size, full_log10 = _exact_size(full_cards), _log10_size(full_cards)

    def hop_cards(agents: list[int]) -> list[int | None]:
        return [spec.state_cardinality[j] for a in sorted(agents) for j in spec.agent_state_indices(a)]

    rows: list[dict[str, Any]] = []
    for agent in range(spec.n_agents):
        acr = value_acr(graph, agent, kappa=kappa)  # validates kappa
        hop = spec.neighborhood(agent, int(kappa))
        pol = policy_acr(graph, agent, kappa=kappa)
        sets = {
            "kappa_hop": hop_cards(hop),
            "acr": [cards[s] for s in acr],
            "policy_acr": [cards[s] for s in pol],
            "kappa_hop_action": [spec.action_cardinality[j] for j in hop],
        }
        row: dict[str, Any] = {
            "agent": agent, "kappa": int(kappa),
            "full_dim": spec.n_state,
            "kappa_hop_dim": len(sets["kappa_hop"]),
            "acr_dim": len(acr),
            "policy_kappa_hop_dim": len(hop_cards(spec.neighborhood(agent, 1))),
            "policy_acr_dim": len(pol),
            "domain_acr_dim": len(domain_acr(graph, agent, kappa=kappa)),
            "kappa_hop_action_dim": len(hop),
            "full_size": full_size, "full_log10_size": full_log10,
        }
        for name, c in sets.items():
            row[f"{name}_size"] = _exact_size(c)
            row[f"{name}_log10_size"] = _log10_size(c)
        rows.append(row)
    return rows
