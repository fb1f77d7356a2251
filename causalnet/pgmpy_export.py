"""Export a factored graph with fitted CPDs to pgmpy ``DynamicBayesianNetwork`` objects.

A pgmpy DBN is a two-slice network whose nodes are ``(variable, time)`` with the
same variables in both slices; it has no notion of a domain index. The mapping
used here (see ``docs/graph-format.md``):

* **one DBN per domain** -- the ``domain`` variable is dropped and every CPD is
  fitted on that domain's rows only;
* state coordinates and actions are nodes; ``s->s`` and ``a->s`` edges are
  inter-slice edges ``(parent, 0) -> (coordinate, 1)``;
* rewards are nodes too; since ``r_i(t)`` depends on ``s(t), a(t)``, reward edges are
  intra-slice edges ``(parent, 0) -> (r_i, 0)`` (pgmpy mirrors them in slice 1);
* slice-0 state CPDs are the initial-state distribution (first row of every
  episode), action CPDs are the behaviour policy's marginal frequencies, reward
  CPDs are conditional frequencies of the observed reward values (the reward's
  state names), slice-1 state CPDs are the transition CPDs;
* every CPD is the maximum-likelihood estimate (relative frequencies); parent
  configurations never observed get the uniform distribution.

pgmpy's own ``DynamicBayesianNetwork.fit`` needs full consecutive slices (actions
and rewards at t+1), which a :class:`~causalnet.data.Transitions` row does not
hold, so the counts are computed here and passed in as ``TabularCPD`` objects.
Only discrete data can be exported.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph, check_graph_and_data

if TYPE_CHECKING:  # pragma: no cover
    from pgmpy.models import DynamicBayesianNetwork

__all__ = ["to_dynamic_bayesian_network", "to_dynamic_bayesian_networks"]


def _ml_table(y: np.ndarray, n_cat: int, parents: np.ndarray, cards: list[int]) -> np.ndarray:
    """ML conditional table, shape ``(n_cat, prod(cards))``, first parent varying slowest."""
    n_cols = math.prod(cards) if cards else 1
    if parents.shape[1]:
        col = np.ravel_multi_index(tuple(parents.T), tuple(cards))
    else:
        col = np.zeros(y.shape[0], dtype=np.int64)
    counts = np.bincount(y * n_cols + col, minlength=n_cat * n_cols).reshape(n_cat, n_cols).astype(float)
    totals = counts.sum(axis=0)
    return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / n_cat)


def to_dynamic_bayesian_network(graph: FactoredGraph, transitions: Transitions, *, domain: int,
                                max_cpd_columns: int = 1_000_000) -> "DynamicBayesianNetwork":
    """A pgmpy ``DynamicBayesianNetwork`` of ``graph`` with CPDs fitted on one domain.

    Parameters
    ----------
    graph : FactoredGraph
        The structure (the ``domain`` parent is dropped: the DBN belongs to one domain).
    transitions : Transitions
        Discrete data; only rows with ``domain == domain`` are used.
    domain : int
        Domain label.
    max_cpd_columns : int
        Largest number of parent configurations of one dense CPD; larger CPDs raise.

    Raises
    ------
    ValueError
        If the data are not discrete, the domain has no rows, or a CPD would exceed
        ``max_cpd_columns`` columns.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["s0_0", "domain"], "r0": ["a0"]})
    >>> tr = Transitions(spec, np.array([[0], [1], [1]]), np.array([[1], [0], [1]]),
    ...                  np.array([[1.0], [0.0], [1.0]]), np.array([[1], [1], [0]]),
    ...                  np.zeros(3, int), np.zeros(3, int), np.arange(3))
    >>> dbn = to_dynamic_bayesian_network(g, tr, domain=0)
    >>> dbn.get_cpds(("s0_0", 1)).values.tolist()
    [[0.0, 0.5], [1.0, 0.5]]
    >>> dbn.check_model()
    True
    """
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DynamicBayesianNetwork
    from pgmpy.models.DynamicBayesianNetwork import DynamicNode

    check_graph_and_data(graph, transitions)
    spec = graph.spec
    if not spec.is_discrete:
        continuous = [s for s, c in zip(spec.state_names, spec.state_cardinality) if c is None]
        raise ValueError(f"pgmpy export needs discrete data; continuous coordinates: {continuous}")
    data = transitions.in_domain(int(domain))
    if len(data) == 0:
        raise ValueError(f"domain {domain!r} has no rows (labels present: 0..{transitions.n_domains - 1})")
    dom = spec.domain_name
    card = {s: int(c) for s, c in zip(spec.state_names, spec.state_cardinality)}
    card.update({a: int(c) for a, c in zip(spec.action_names, spec.action_cardinality)})
    order = {name: j for j, name in enumerate(list(spec.state_names) + list(spec.action_names))}

    def parents_of(target: str) -> list[str]:
        pas = sorted((p for p in graph.parents[target] if p != dom), key=order.__getitem__)
        size = math.prod(card[p] for p in pas)
        if size > max_cpd_columns:
            raise ValueError(f"CPD of {target!r} would have {size} parent configurations "
                             f"(> max_cpd_columns={max_cpd_columns}); pgmpy CPDs are dense tables")
        return pas

    def values_of(names: list[str]) -> np.ndarray:
        if not names:
            return np.zeros((len(data), 0), dtype=np.int64)
        return np.stack([np.asarray(data.column(p), dtype=np.int64) for p in names], axis=1)

    dbn = DynamicBayesianNetwork()
    variables = list(spec.state_names) + list(spec.action_names) + list(spec.reward_names)
    for name in variables:
        for t in (0, 1):
            nx.DiGraph.add_node(dbn, DynamicNode(name, t))
    cpds = []
    # transitions: (parent, 0) -> (state, 1)
    for target in spec.state_names:
        pas = parents_of(target)
        for p in pas:
            dbn.add_edge((p, 0), (target, 1))
        y = np.asarray(data.column(target, next_step=True), dtype=np.int64)
        table = _ml_table(y, card[target], values_of(pas), [card[p] for p in pas])
        cpds.append(TabularCPD((target, 1), card[target], table, evidence=[(p, 0) for p in pas] or None,
                               evidence_card=[card[p] for p in pas] or None))
    # initial states (first row of each episode) and actions (behaviour marginals)
    rows = np.lexsort((data.time, data.episode))
    ep = data.episode[rows]
    first = rows[np.r_[True, ep[1:] != ep[:-1]]]
    for target in spec.state_names:
        y = np.asarray(data.column(target)[first], dtype=np.int64)
        table = _ml_table(y, card[target], np.zeros((y.size, 0), np.int64), [])
        cpds.append(TabularCPD((target, 0), card[target], table))
    for action in spec.action_names:
        y = np.asarray(data.column(action), dtype=np.int64)
        table = _ml_table(y, card[action], np.zeros((y.size, 0), np.int64), [])
        cpds.extend(TabularCPD((action, t), card[action], table) for t in (0, 1))
    # rewards: intra-slice (parent, t) -> (reward, t), same CPD in both slices
    for target in spec.reward_names:
        pas = parents_of(target)
        for p in pas:
            dbn.add_edge((p, 0), (target, 0))
        r = data.column(target)
        values = np.unique(r)
        table = _ml_table(np.searchsorted(values, r), values.size, values_of(pas), [card[p] for p in pas])
        names = [float(v) for v in values]
        for t in (0, 1):
            state_names = {(target, t): names, **{(p, t): list(range(card[p])) for p in pas}}
            cpds.append(TabularCPD((target, t), values.size, table, evidence=[(p, t) for p in pas] or None,
                                   evidence_card=[card[p] for p in pas] or None, state_names=state_names))
    dbn.add_cpds(*cpds)
    return dbn


def to_dynamic_bayesian_networks(graph: FactoredGraph, transitions: Transitions, *,
                                 max_cpd_columns: int = 1_000_000) -> dict[int, "DynamicBayesianNetwork"]:
    """One DBN per domain label present in ``transitions`` (see :func:`to_dynamic_bayesian_network`)."""
    labels = np.unique(transitions.domain) if isinstance(transitions, Transitions) else []
    return {int(m): to_dynamic_bayesian_network(graph, transitions, domain=int(m), max_cpd_columns=max_cpd_columns)
            for m in labels}
