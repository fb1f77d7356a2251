"""A batched simulator built from a discovered graph and per-domain CPDs.

:class:`DiscoveredModel` has the stepping interface of the project's environments
(duck-typed; ``causalnet`` does not import ``rl``): ``spec``, ``domain_factor``,
``reset``, ``step``, ``true_graph``, ``with_domain_factor``, ``n_agents``,
``action_counts``, ``neighborhood``.

Every next-state coordinate and every reward is sampled from a conditional
probability table (CPT) over its discovered parents (the domain variable
excluded). Details (see ``docs/discovered-model.md``):

* **Domain dependence.** For a target with a ``domain`` parent, each parent
  configuration's probabilities are a linear function of the domain factor
  ``w`` of the target's owner, ``p(w) = alpha + beta * w``, fitted by weighted
  least squares across the source domains (weights: the configuration's count in
  each domain); at sampling time ``p(w)`` is clipped at 0 and renormalised.
  With fewer than two distinct ``w`` values the pooled frequencies are used.
  Other targets use frequencies pooled over all domains.
* **Back-off.** A configuration seen fewer than ``min_count`` times is not
  trusted: the target falls back to the parents owned by its own agent (when
  that is a smaller set), then to its marginal distribution.
* **Rewards** take the empirical distribution of the reward's observed values per
  parent configuration.
* **Reset** draws each coordinate independently from its empirical distribution at
  the first time step of the episodes (linear in ``w`` for domain-affected
  coordinates).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import networkx as nx
import numpy as np

from causalnet.data import Transitions
from causalnet.domain_factors import ConfigurationIndex, DomainFactorEstimator, NotFittedError
from causalnet.graph import FactoredGraph, check_graph_and_data
from causalnet.spec import NetworkSpec, broadcast_domain_factor

__all__ = ["DiscoveredModel"]

logger = logging.getLogger(__name__)


@dataclass
class _Level:
    """One back-off level of a CPT: configurations of ``cols`` and their (linear-in-w) probabilities."""

    cols: np.ndarray
    index: ConfigurationIndex
    usable: np.ndarray          # (n_cfg,) configuration seen at least min_count times
    alpha: np.ndarray           # (n_cfg, K)
    beta: np.ndarray | None     # (n_cfg, K) or None when not domain-dependent

    def probabilities(self, rows: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``(found, probs)`` for the rows of the combined value array."""
        idx = self.index.lookup(rows[:, self.cols]) if self.cols.size else np.zeros(rows.shape[0], np.int64)
        found = idx >= 0
        found[found] = self.usable[idx[found]]
        safe = np.where(found, idx, 0)
        probs = self.alpha[safe]
        if self.beta is not None:
            probs = probs + self.beta[safe] * w[:, None]
        return found, probs


@dataclass
class _CPT:
    target: str
    owner: int
    values: np.ndarray          # value of each category
    levels: list[_Level]        # finest first; the last one has no parents


def _fit_level(cols: np.ndarray, x: np.ndarray, y: np.ndarray, n_cat: int, domain: np.ndarray,
               w_by_domain: np.ndarray | None, n_domains: int, cards: list[int], min_count: int) -> _Level:
    index = ConfigurationIndex(cards)
    cfg = index.fit(x[:, cols]) if cols.size else (index.fit(np.zeros((x.shape[0], 0), np.int64)))
    n_cfg = index.n_configurations
    counts = np.zeros((n_domains, n_cfg, n_cat))
    np.add.at(counts, (domain, cfg, y), 1.0)
    pooled = counts.sum(axis=0)
    total = pooled.sum(axis=1)
    alpha = pooled / np.maximum(total, 1.0)[:, None]
    beta = None
    if w_by_domain is not None:
        n_m = counts.sum(axis=2)                                   # (M, n_cfg)
        wm = w_by_domain[:, None]
        s_w, s_x, s_xx = n_m.sum(0), (n_m * wm).sum(0), (n_m * wm * wm).sum(0)
        s_y = pooled                                               # sum_m n_m p_m
        s_xy = (counts * w_by_domain[:, None, None]).sum(0)
        denom = s_w * s_xx - s_x ** 2
        spread = denom / np.maximum(s_w, 1.0) ** 2                 # weighted variance of w
        ok = spread > 1e-12
        beta = np.zeros_like(alpha)
        beta[ok] = (s_w[ok, None] * s_xy[ok] - s_x[ok, None] * s_y[ok]) / denom[ok, None]
        alpha = np.where(ok[:, None], (s_y - beta * s_x[:, None]) / np.maximum(s_w, 1.0)[:, None], alpha)
    return _Level(cols, index, total >= min_count, alpha, beta)


class _StackedLevels:
    """The CPTs of many targets at one back-off rank, searchable in one call.

    Target ``t``'s integer configuration keys are shifted by ``offset_t`` (the sum of
    the key ranges of the targets before it) so that all targets share one sorted
    key array; categories are padded to the largest count with zero probability.
    """

    def __init__(self, levels: list[_Level], positions: list[int], n_cat: int) -> None:
        self.positions = np.array(positions, dtype=np.int64)
        kmax = max((lv.cols.size for lv in levels), default=0)
        n = len(levels)
        self.cols = np.zeros((n, max(kmax, 1)), dtype=np.int64)
        self.strides = np.zeros((n, max(kmax, 1)), dtype=np.int64)
        keys, alphas, betas, usable, offsets = [], [], [], [], []
        offset = 0
        for t, lv in enumerate(levels):
            k = lv.cols.size
            self.cols[t, :k] = lv.cols
            if k:
                self.strides[t, :k] = lv.index.strides
            offsets.append(offset)
            keys.append(lv.index.keys_.astype(np.int64) + offset)
            offset += lv.index.key_range
            pad = ((0, 0), (0, n_cat - lv.alpha.shape[1]))
            alphas.append(np.pad(lv.alpha, pad))
            betas.append(np.pad(lv.beta, pad) if lv.beta is not None else np.zeros_like(alphas[-1]))
            usable.append(lv.usable)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        self.alpha = np.concatenate(alphas) if alphas else np.zeros((0, n_cat))
        self.beta = np.concatenate(betas) if betas else np.zeros((0, n_cat))
        self.usable = np.concatenate(usable) if usable else np.zeros(0, bool)

    @staticmethod
    def fits(levels: list[_Level]) -> bool:
        """True when every level has integer keys and all key ranges fit in 62 bits together."""
        return all(lv.index.integer_keys for lv in levels) and sum(lv.index.key_range for lv in levels) < 2 ** 62

    def probabilities(self, rows: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``found (B, T)`` and ``probs (B, T, K)`` for the stacked targets (``w``: ``(B, T)``)."""
        q = (rows[:, self.cols] * self.strides).sum(axis=2) + self.offsets
        pos = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        found = self.keys[pos] == q
        found &= self.usable[pos]
        pos = np.where(found, pos, 0)
        return found, self.alpha[pos] + self.beta[pos] * w[:, :, None]


def _sample_stacked(probs: np.ndarray, n_valid: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category index per (copy, target); ``probs`` is ``(B, T, K)`` with zero padding."""
    probs = np.clip(probs, 0.0, None)
    sums = probs.sum(axis=2, keepdims=True)
    valid = np.arange(probs.shape[2]) < n_valid[:, None]
    uniform = np.where(valid, 1.0 / n_valid[:, None], 0.0)
    probs = np.where(sums > 0, probs / np.where(sums > 0, sums, 1.0), uniform[None])
    cum = np.cumsum(probs, axis=2)
    return np.minimum((u[:, :, None] >= cum).sum(axis=2), n_valid - 1)


def _sample(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    probs = np.clip(probs, 0.0, None)
    sums = probs.sum(axis=1, keepdims=True)
    probs = np.where(sums > 0, probs / np.where(sums > 0, sums, 1.0), 1.0 / probs.shape[1])
    cum = np.cumsum(probs, axis=1)
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


class DiscoveredModel:
    """Batched simulator fitted from data on a discovered graph (see the module docstring).

    Parameters
    ----------
    graph : FactoredGraph
        The graph whose parent sets the CPTs condition on.
    min_count : int
        Configurations seen fewer times are replaced by the back-off levels.

    Attributes
    ----------
    domain_factor : ndarray, shape (n_agents,)
        (after :meth:`fit`) Default domain factor: the mean over the source domains (0 for agents
        without domain-affected coordinates).
    source_domain_factors_ : ndarray, shape (M, n_agents)
        Domain factors of the source domains used to fit the ``w``-dependence.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["domain"], "r0": ["s0_0"]})
    >>> rng = np.random.default_rng(0)
    >>> s = np.repeat([[0], [1]], 200, axis=0)
    >>> nxt = (rng.random((400, 1)) < np.repeat([0.2, 0.8], 200)[:, None]).astype(int)
    >>> tr = Transitions(spec, s, np.zeros((400, 1), int), s.astype(float), nxt,
    ...                  np.repeat([0, 1], 200), np.arange(400), np.zeros(400, int),
    ...                  domain_factors=np.array([[0.2], [0.8]]))
    >>> model = DiscoveredModel(g).fit(tr)
    >>> states = model.reset(4, rng, domain_factor=np.array([0.5]))
    >>> nxt, r = model.with_domain_factor(0.5).step(states, np.zeros((4, 1), int), rng)
    >>> nxt.shape, r.shape, bool(np.all(r[:, 0] == states[:, 0]))
    ((4, 1), (4, 1), True)
    """

    def __init__(self, graph: FactoredGraph, *, min_count: int = 5) -> None:
        self.graph = graph
        self.min_count = min_count
        self._force_loop = False  # tests compare the stacked step with the per-target loop

    # ------------------------------------------------------------------ fit
    def fit(self, transitions: Transitions, *, domain_factors: np.ndarray | None = None) -> "DiscoveredModel":
        """Fit the CPTs, the reset distribution and the ``w``-dependence.

        Parameters
        ----------
        transitions : Transitions
            Data from the source domains (discrete states only).
        domain_factors : array (M, n_agents), optional
            Domain factor of each source domain. Default: ``transitions.domain_factors``
            when present, else the estimates of a :class:`DomainFactorEstimator`.
        """
        graph = self.graph
        if not isinstance(graph, FactoredGraph):
            raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
        if not isinstance(self.min_count, (int, np.integer)) or self.min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1, got {self.min_count!r}")
        check_graph_and_data(graph, transitions)
        spec = graph.spec
        if not spec.is_discrete:
            raise ValueError("DiscoveredModel needs discrete state coordinates; the spec has continuous ones")
        if len(transitions) == 0:
            raise ValueError("transitions are empty")
        transitions.check_domain_labels()
        n_domains = transitions.n_domains
        w = self._source_factors(transitions, domain_factors, n_domains)
        self.source_domain_factors_ = w
        dom = spec.domain_name
        x = np.concatenate([transitions.states, transitions.actions], axis=1).astype(np.int64)
        self._cards = np.array(list(spec.state_cardinality) + list(spec.action_cardinality), dtype=np.int64)
        input_names = list(spec.state_names) + list(spec.action_names)
        col = {name: j for j, name in enumerate(input_names)}
        domain = transitions.domain
        self._state_cpts, self._reward_cpts = [], []
        for kind, targets in (("state", spec.state_names), ("reward", spec.reward_names)):
            for target in targets:
                owner = int(spec.owner(target))
                affected = dom in graph.parents[target]
                w_dom = w[:, owner] if affected else None
                if affected and np.any(np.isnan(w_dom)):
                    raise ValueError(f"domain factor of agent {owner} is unknown (nan) but {target!r} "
                                     "depends on the domain; pass domain_factors=")
                if kind == "state":
                    values = np.arange(spec.cardinality(target))
                    y = np.asarray(transitions.column(target, next_step=True), dtype=np.int64)
                else:
                    r = transitions.column(target)
                    values = np.unique(r)
                    y = np.searchsorted(values, r)
                parents = sorted((col[p] for p in graph.parents[target] if p != dom))
                own = [c for c in parents if spec.owner(input_names[c]) == owner]
                level_cols = [parents]
                if len(own) < len(parents) and own:
                    level_cols.append(own)
                if parents:
                    level_cols.append([])
                levels = [
                    _fit_level(np.array(c, dtype=np.int64), x, y, values.size, domain, w_dom, n_domains,
                               [int(self._cards[j]) for j in c], self.min_count if c else 1)
                    for c in level_cols]
                (self._state_cpts if kind == "state" else self._reward_cpts).append(
                    _CPT(target, owner, values, levels))
        self._fit_reset(transitions, w)
        self._build_stacks()
        known = ~np.isnan(w)
        self.domain_factor = np.where(known, w, 0.0).sum(axis=0) / np.maximum(known.sum(axis=0), 1)
        self.spec: NetworkSpec = spec
        logger.info("fitted discovered model: %d state CPTs, %d reward CPTs, %d domains",
                    len(self._state_cpts), len(self._reward_cpts), n_domains)
        return self

    def _build_stacks(self) -> None:
        """Stack the CPTs by back-off rank for a step vectorised over targets (when keys allow)."""
        cpts = self._state_cpts + self._reward_cpts
        self._owners = np.array([c.owner for c in cpts], dtype=np.int64)
        self._n_valid = np.array([c.values.size for c in cpts], dtype=np.int64)
        n_cat = int(self._n_valid.max())
        self._values = np.zeros((len(cpts), n_cat))
        for t, c in enumerate(cpts):
            self._values[t, :c.values.size] = c.values
        # rank 0 = marginal (every target), rank 1 = next finer, rank 2 = finest
        ranks: list[tuple[list[_Level], list[int]]] = [([], []) for _ in range(3)]
        for t, c in enumerate(cpts):
            for rank, level in enumerate(reversed(c.levels)):
                ranks[rank][0].append(level)
                ranks[rank][1].append(t)
        self._stacks = None
        if all(_StackedLevels.fits(levels) for levels, _ in ranks):
            self._stacks = [_StackedLevels(levels, pos, n_cat) for levels, pos in ranks if levels]

    def _step_stacked(self, rows: np.ndarray, w: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Values ``(B, n_targets)`` of every target (states then rewards)."""
        w_t = w[:, self._owners]
        marginal, *finer = self._stacks
        _, probs = marginal.probabilities(rows, w_t)
        for stack in finer:
            found, p = stack.probabilities(rows, w_t[:, stack.positions])
            probs[:, stack.positions] = np.where(found[:, :, None], p, probs[:, stack.positions])
        idx = _sample_stacked(probs, self._n_valid, u)
        return self._values[np.arange(idx.shape[1])[None, :], idx]

    def _source_factors(self, transitions: Transitions, given, n_domains: int) -> np.ndarray:
        n = self.graph.spec.n_agents
        if given is not None:
            w = np.asarray(given, dtype=np.float64)
            if w.shape != (n_domains, n):
                raise ValueError(f"domain_factors has shape {w.shape}; expected ({n_domains}, {n}) "
                                 "(source domains x agents)")
            return w
        if transitions.domain_factors is not None:
            return transitions.domain_factors[:n_domains]
        return DomainFactorEstimator(self.graph).fit(transitions).w_hat_

    def _fit_reset(self, transitions: Transitions, w: np.ndarray) -> None:
        spec = self.graph.spec
        dom = spec.domain_name
        order = np.lexsort((transitions.time, transitions.episode))
        ep = transitions.episode[order]
        first = order[np.r_[True, ep[1:] != ep[:-1]]]
        states = transitions.states[first].astype(np.int64)
        domain = transitions.domain[first]
        empty = np.zeros(0, dtype=np.int64)
        self._reset_levels = []
        for j, name in enumerate(spec.state_names):
            owner = int(spec.owner(name))
            w_dom = w[:, owner] if dom in self.graph.parents[name] else None
            self._reset_levels.append(_fit_level(empty, states[:, [j]], states[:, j], int(spec.cardinality(name)),
                                                 domain, w_dom, transitions.n_domains, [], 1))

    # ------------------------------------------------------------ interface
    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.graph.spec.n_agents

    @property
    def action_counts(self) -> np.ndarray:
        """Number of actions of each agent, shape ``(n_agents,)``."""
        return np.asarray(self.graph.spec.action_cardinality, dtype=np.int64)

    @property
    def interaction_graph(self) -> nx.Graph:
        """The undirected interaction graph of the agents."""
        return self.graph.spec.interaction_graph

    def neighborhood(self, agent: int, k: int = 1) -> list[int]:
        """Agents within ``k`` hops of ``agent`` (itself included)."""
        return self.graph.spec.neighborhood(agent, k)

    def true_graph(self) -> FactoredGraph:
        """The graph this model was built from."""
        return self.graph

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "DiscoveredModel":
        """A copy (sharing the fitted tables) whose default domain factor is ``domain_factor``."""
        self._check_fitted()
        w = np.asarray(domain_factor, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(self.n_agents, float(w))
        if w.shape != (self.n_agents,):
            raise ValueError(f"domain_factor has shape {w.shape}; expected a scalar or ({self.n_agents},)")
        other = copy.copy(self)
        other.domain_factor = w.copy()
        return other

    def _check_fitted(self) -> None:
        if not hasattr(self, "_state_cpts"):
            raise NotFittedError("DiscoveredModel used before fit")

    def _w(self, domain_factor, batch: int) -> np.ndarray:
        return broadcast_domain_factor(domain_factor, self.domain_factor, self.n_agents, batch)

    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """``batch_size`` initial states, shape ``(batch_size, n_state)``."""
        self._check_fitted()
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        w = self._w(domain_factor, batch_size)
        spec = self.spec
        u = rng.random((batch_size, spec.n_state))
        dummy = np.zeros((batch_size, 1), dtype=np.int64)
        out = np.empty((batch_size, spec.n_state), dtype=np.int64)
        for j, level in enumerate(self._reset_levels):
            _, probs = level.probabilities(dummy, w[:, spec.state_owner[j]])
            out[:, j] = _sample(probs, u[:, j])
        return out

    def _draw(self, cpt: _CPT, rows: np.ndarray, w: np.ndarray, u: np.ndarray) -> np.ndarray:
        w_owner = w[:, cpt.owner]
        _, probs = cpt.levels[-1].probabilities(rows, w_owner)
        for level in reversed(cpt.levels[:-1]):
            found, p = level.probabilities(rows, w_owner)
            probs = np.where(found[:, None], p, probs)
        return cpt.values[_sample(probs, u)]

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``(next_states, rewards)`` for every copy, shapes ``(B, n_state)``, ``(B, n_agents)``."""
        self._check_fitted()
        spec = self.spec
        states = np.asarray(states)
        actions = np.asarray(actions)
        if states.ndim != 2 or states.shape[1] != spec.n_state:
            raise ValueError(f"states has shape {states.shape}; expected (B, {spec.n_state})")
        batch = states.shape[0]
        if actions.shape != (batch, spec.n_agents):
            raise ValueError(f"actions has shape {actions.shape}; expected ({batch}, {spec.n_agents})")
        rows = np.concatenate([states, actions], axis=1).astype(np.int64)
        bad = (rows < 0) | (rows >= self._cards)
        if bad.any():
            b, j = map(int, np.argwhere(bad)[0])
            name = (list(spec.state_names) + list(spec.action_names))[j]
            raise ValueError(f"value out of range: {name!r} (copy {b}) is {int(rows[b, j])}; "
                             f"valid values are 0..{int(self._cards[j]) - 1}")
        w = self._w(domain_factor, batch)
        u_s = rng.random((batch, spec.n_state))
        u_r = rng.random((batch, spec.n_agents))
        if self._stacks is not None and not self._force_loop:
            values = self._step_stacked(rows, w, np.concatenate([u_s, u_r], axis=1))
            return values[:, :spec.n_state].astype(np.int64), values[:, spec.n_state:].astype(np.float64)
        nxt = np.empty((batch, spec.n_state), dtype=np.int64)
        for j, cpt in enumerate(self._state_cpts):
            nxt[:, j] = self._draw(cpt, rows, w, u_s[:, j])
        rewards = np.empty((batch, spec.n_agents), dtype=np.float64)
        for i, cpt in enumerate(self._reward_cpts):
            rewards[:, i] = self._draw(cpt, rows, w, u_r[:, i])
        return nxt, rewards
