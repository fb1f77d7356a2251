"""Estimate domain factors ``w_hat`` from data and a discovered graph (GSAC Phase 1).

For every domain-affected state coordinate (a coordinate with a ``domain`` parent)
the estimator fits, in each domain, the conditional distribution of the
coordinate at ``t+1`` given its other discovered parents at ``t`` by maximum
likelihood (relative frequencies per observed parent configuration). Agent
``j``'s parameter vector ``theta_j`` collects, for each of its affected
coordinates and each parent configuration observed in every source domain, the
probabilities of the values ``1..card-1``. One scalar per agent summarises it:

* the source domains' vectors are centred at their mean ``theta_bar`` and their
  principal axis ``u`` (unit first right-singular vector) is computed;
* ``w_hat = mean(theta_bar) + mean(u) * u . (theta - theta_bar)``, i.e. the mean
  component of ``theta`` projected onto the principal line. With one binary
  coordinate without other parents this is exactly the frequency of value 1
  (on the wireless benchmark: the arrival probability ``p_j``). When
  ``|mean(u)|`` is tiny, ``1/sqrt(D)`` replaces ``mean(u)``; with a single
  source domain or no spread ``u`` is the uniform direction, so ``w_hat`` is the
  mean of ``theta``.
* ``stderr`` follows by the delta method from the multinomial covariance of
  each configuration's frequencies.

Agents without an affected coordinate get ``nan``. See ``docs/domain-factors.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph, GraphError

__all__ = ["DomainFactorEstimator", "ConfigurationIndex", "parent_values", "NotFittedError"]

logger = logging.getLogger(__name__)

_INT_KEY_LIMIT = 2 ** 62


class NotFittedError(RuntimeError):
    """Raised when a fitted attribute is used before ``fit``."""


def parent_values(transitions: Transitions, names: list[str]) -> np.ndarray:
    """Values at time t of the state coordinates / actions ``names``, shape ``(N, len(names))``."""
    cols = [np.asarray(transitions.column(n), dtype=np.int64) for n in names]
    if not cols:
        return np.zeros((len(transitions), 0), dtype=np.int64)
    return np.stack(cols, axis=1)


class ConfigurationIndex:
    """Encode rows of discrete parent values as sortable keys and look them up.

    Keys are mixed-radix integers when the product of cardinalities fits in 62
    bits, else fixed-width byte strings; both sort and search with numpy.

    Parameters
    ----------
    cardinalities : list of int
        Number of values of each parent.

    Examples
    --------
    >>> idx = ConfigurationIndex([2, 3])
    >>> inverse = idx.fit(np.array([[1, 2], [0, 0], [1, 2]]))
    >>> inverse.tolist(), idx.lookup(np.array([[1, 2], [1, 1]])).tolist()
    ([1, 0, 1], [1, -1])
    """

    def __init__(self, cardinalities: list[int]) -> None:
        self.cardinalities = [int(c) for c in cardinalities]
        log_size = float(np.sum(np.log2(np.maximum(self.cardinalities, 1)))) if self.cardinalities else 0.0
        self._integer = log_size < 62
        if self._integer:
            strides = np.ones(len(self.cardinalities), dtype=np.int64)
            for k in range(len(self.cardinalities) - 2, -1, -1):
                strides[k] = strides[k + 1] * self.cardinalities[k + 1]
            self._strides = strides
        self.keys_: np.ndarray | None = None

    @property
    def integer_keys(self) -> bool:
        """True when keys are mixed-radix integers (``key = values @ strides``)."""
        return self._integer

    @property
    def strides(self) -> np.ndarray | None:
        """Mixed-radix strides (first parent slowest), or None for byte keys."""
        return self._strides if self._integer else None

    @property
    def key_range(self) -> int:
        """Number of possible integer keys (product of cardinalities); 0 for byte keys."""
        return int(np.prod(self.cardinalities, dtype=object)) if self._integer else 0

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Keys of the rows of ``values`` (shape ``(N, n_parents)``)."""
        values = np.asarray(values, dtype=np.int64)
        if self._integer:
            return values @ self._strides if values.shape[1] else np.zeros(values.shape[0], np.int64)
        contiguous = np.ascontiguousarray(values)
        return contiguous.view(np.dtype((np.void, 8 * values.shape[1]))).ravel()

    def fit(self, values: np.ndarray) -> np.ndarray:
        """Remember the distinct rows (sorted); return each row's configuration index."""
        keys, inverse = np.unique(self.encode(values), return_inverse=True)
        self.keys_ = keys
        return inverse.ravel()

    @property
    def n_configurations(self) -> int:
        """Number of distinct configurations seen by :meth:`fit`."""
        return 0 if self.keys_ is None else int(self.keys_.size)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Configuration index of each row of ``values``; -1 for configurations not seen."""
        if self.keys_ is None:
            raise NotFittedError("ConfigurationIndex.lookup called before fit")
        q = self.encode(values)
        if self.keys_.size == 0:
            return np.full(q.shape[0], -1, dtype=np.int64)
        pos = np.searchsorted(self.keys_, q)
        pos_c = np.minimum(pos, self.keys_.size - 1)
        return np.where(self.keys_[pos_c] == q, pos_c, -1).astype(np.int64)


@dataclass
class _CoordinateFit:
    """Per-domain frequencies of one affected coordinate over its parent configurations."""

    name: str
    parents: list[str]
    cardinality: int
    index: ConfigurationIndex
    counts: np.ndarray        # (M, n_cfg, card)


def _check_inputs(graph: FactoredGraph, transitions: Transitions, where: str) -> None:
    if not isinstance(transitions, Transitions):
        raise TypeError(f"{where}: transitions must be a causalnet.Transitions, got {type(transitions).__name__}")
    if transitions.spec != graph.spec:
        raise GraphError(f"{where}: the transitions' spec differs from the graph's spec")
    if len(transitions) == 0:
        raise ValueError(f"{where}: transitions are empty")
    if where.endswith(".fit"):
        transitions.check_domain_labels()


def _discrete_affected_states(graph: FactoredGraph, transitions: Transitions, who: str) -> list[str]:
    """Check the inputs of ``who.fit`` and return the domain-affected state names.

    Raises ``TypeError`` for a graph that is not a :class:`FactoredGraph` and
    ``ValueError`` when an affected state or one of its parents is continuous.
    """
    if not isinstance(graph, FactoredGraph):
        raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
    _check_inputs(graph, transitions, f"{who}.fit")
    spec = graph.spec
    dom = spec.domain_name
    affected = [s for s in spec.state_names if dom in graph.parents[s]]
    for name in affected:
        pas = [p for p in graph.parents[name] if p != dom]
        if any(spec.cardinality(x) is None for x in [name, *pas]):
            raise ValueError(f"{who} needs discrete variables; {name!r} or one of its "
                             f"parents {pas} is continuous")
    return affected


class DomainFactorEstimator:
    """Maximum-likelihood domain factors, one scalar per agent (see the module docstring).

    Parameters
    ----------
    graph : FactoredGraph
        Discovered (or true) graph; its ``domain`` edges name the affected coordinates.

    Attributes
    ----------
    affected_ : list of str
        Domain-affected state coordinates (spec order).
    params_ : list of dict
        For each source domain, ``{coordinate: {"parents", "configurations",
        "probabilities", "counts"}}`` with the ML conditional distribution per
        observed parent configuration.
    w_hat_, stderr_ : ndarray, shape (M, n_agents)
        Estimated domain factor and its standard error per source domain and agent
        (``nan`` for agents without an affected coordinate).

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["domain"]})
    >>> nxt = np.array([[1], [0], [0], [0], [1], [1], [1], [0]])
    >>> tr = Transitions(spec, np.zeros((8, 1), int), np.zeros((8, 1), int), np.zeros((8, 1)),
    ...                  nxt, np.repeat([0, 1], 4), np.arange(8), np.zeros(8, int))
    >>> est = DomainFactorEstimator(g).fit(tr)
    >>> est.w_hat_[:, 0].tolist()
    [0.25, 0.75]
    >>> w, se = est.estimate(tr.in_domain(1))
    >>> float(w[0]), round(float(se[0]), 4)
    (0.75, 0.2165)
    """

    def __init__(self, graph: FactoredGraph) -> None:
        self.graph = graph

    # ------------------------------------------------------------------ fit
    def fit(self, transitions: Transitions) -> "DomainFactorEstimator":
        """Fit per-domain conditional distributions and summarise them per agent."""
        graph = self.graph
        self.affected_ = _discrete_affected_states(graph, transitions, "DomainFactorEstimator")
        spec = graph.spec
        dom = spec.domain_name
        n_domains = transitions.n_domains
        self.n_domains_ = n_domains
        self._fits: list[_CoordinateFit] = []
        for name in self.affected_:
            pas = sorted((p for p in graph.parents[name] if p != dom), key=_order(spec))
            index = ConfigurationIndex([spec.cardinality(p) for p in pas])
            cfg = index.fit(parent_values(transitions, pas))
            card = int(spec.cardinality(name))
            y = np.asarray(transitions.column(name, next_step=True), dtype=np.int64)
            counts = np.zeros((n_domains, index.n_configurations, card))
            np.add.at(counts, (transitions.domain, cfg, y), 1.0)
            self._fits.append(_CoordinateFit(name, pas, card, index, counts))
        self.params_ = self._params()
        self._summaries = self._build_summaries()
        w = np.full((n_domains, spec.n_agents), np.nan)
        se = np.full((n_domains, spec.n_agents), np.nan)
        for agent, summ in self._summaries.items():
            for m in range(n_domains):
                w[m, agent], se[m, agent] = summ.project(*self._agent_theta(agent, m, summ))
        self.w_hat_, self.stderr_ = w, se
        logger.info("fitted domain factors for %d affected coordinates in %d domains",
                    len(self.affected_), n_domains)
        return self

    def _params(self) -> list[dict]:
        out = []
        for m in range(self.n_domains_):
            per = {}
            for f in self._fits:
                c = f.counts[m]
                n = c.sum(axis=1)
                seen = n > 0
                cfg_values = _decode(f.index, f.parents, self.graph.spec)
                per[f.name] = {"parents": list(f.parents), "configurations": cfg_values[seen],
                               "probabilities": c[seen] / n[seen, None], "counts": n[seen]}
            out.append(per)
        return out

    def _agent_components(self, agent: int) -> list[tuple[_CoordinateFit, np.ndarray]]:
        """(fit, configurations seen in every source domain) for the agent's affected coordinates."""
        spec = self.graph.spec
        comps = []
        for f in self._fits:
            if spec.owner(f.name) != agent:
                continue
            seen_everywhere = np.all(f.counts.sum(axis=2) > 0, axis=0)
            comps.append((f, np.flatnonzero(seen_everywhere)))
        return comps

    def _agent_theta(self, agent: int, m: int, summ: "_Summary") -> tuple[np.ndarray, np.ndarray]:
        return _theta_from_counts([f.counts[m][cfgs] for f, cfgs in summ.components])

    def _build_summaries(self) -> dict[int, "_Summary"]:
        spec = self.graph.spec
        out: dict[int, _Summary] = {}
        for agent in range(spec.n_agents):
            comps = self._agent_components(agent)
            if not comps:
                continue
            thetas = np.array([_theta_from_counts([f.counts[m][c] for f, c in comps])[0]
                               for m in range(self.n_domains_)])
            out[agent] = _Summary.from_thetas(comps, thetas)
        return out

    # ------------------------------------------------------------- estimate
    def estimate(self, new_transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        """``(w_hat, stderr)``, each shape ``(n_agents,)``, for the domain of ``new_transitions``.

        All rows are treated as one new domain. Parent configurations absent from
        the new data contribute the source mean (no deviation, no variance).
        """
        if not hasattr(self, "_summaries"):
            raise NotFittedError("DomainFactorEstimator.estimate called before fit")
        _check_inputs(self.graph, new_transitions, "DomainFactorEstimator.estimate")
        spec = self.graph.spec
        w = np.full(spec.n_agents, np.nan)
        se = np.full(spec.n_agents, np.nan)
        for agent, summ in self._summaries.items():
            blocks = []
            for f, cfgs in summ.components:
                pas_values = parent_values(new_transitions, f.parents)
                cfg = f.index.lookup(pas_values)
                y = np.asarray(new_transitions.column(f.name, next_step=True), dtype=np.int64)
                counts = np.zeros((f.index.n_configurations, f.cardinality))
                ok = cfg >= 0
                np.add.at(counts, (cfg[ok], y[ok]), 1.0)
                blocks.append(counts[cfgs])
            theta, var_parts = _theta_from_counts(blocks, fill=summ.center)
            w[agent], se[agent] = summ.project(theta, var_parts)
        return w, se


def _order(spec):
    kinds = {"state": 0, "action": 1}
    return lambda name: (kinds[spec.kind(name)], spec.index(name))


def _decode(index: ConfigurationIndex, parents: list[str], spec) -> np.ndarray:
    keys = index.keys_
    k = len(parents)
    if k == 0:
        return np.zeros((keys.size, 0), dtype=np.int64)
    if index._integer:
        out = np.empty((keys.size, k), dtype=np.int64)
        rest = keys.astype(np.int64)
        for j in range(k):
            out[:, j], rest = np.divmod(rest, index._strides[j])
        return out
    return np.frombuffer(keys.tobytes(), dtype=np.int64).reshape(keys.size, k)


def _theta_from_counts(blocks: list[np.ndarray], fill: np.ndarray | None = None
                       ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Concatenate probabilities of values 1.. per configuration.

    Returns ``theta`` and, for the variance, per configuration ``(slice, p, n)``.
    Rows with no count take ``fill`` (the source centre) and get ``n = 0``.
    """
    parts, var_parts, offset = [], [], 0
    for counts in blocks:
        n = counts.sum(axis=1)
        for row, total in zip(counts, n):
            width = row.size - 1
            sl = slice(offset, offset + width)
            if total > 0:
                p = row[1:] / total
            else:
                p = fill[sl] if fill is not None else np.full(width, np.nan)
            parts.append(p)
            var_parts.append((np.arange(offset, offset + width), p, float(total)))
            offset += width
    theta = np.concatenate(parts) if parts else np.zeros(0)
    return theta, var_parts


@dataclass
class _Summary:
    """Principal-axis projection of an agent's parameter vector to one scalar."""

    components: list
    center: np.ndarray
    axis: np.ndarray
    scale: float

    @classmethod
    def from_thetas(cls, components: list, thetas: np.ndarray) -> "_Summary":
        dim = thetas.shape[1]
        center = thetas.mean(axis=0) if dim else np.zeros(0)
        axis = np.full(dim, 1.0 / np.sqrt(dim)) if dim else np.zeros(0)
        if dim and thetas.shape[0] >= 2:
            _, sv, vt = np.linalg.svd(thetas - center, full_matrices=False)
            if sv[0] > 1e-12:
                axis = vt[0]
        scale = float(axis.mean()) if dim else 0.0
        if dim and abs(scale) < 1e-6:
            scale = 1.0 / np.sqrt(dim)
        return cls(components, center, axis, scale)

    def project(self, theta: np.ndarray, var_parts) -> tuple[float, float]:
        if theta.size == 0:
            return np.nan, np.nan
        grad = self.scale * self.axis
        w = float(self.center.mean() + grad @ (theta - self.center))
        var = 0.0
        for idx, p, n in var_parts:
            if n <= 0:
                continue
            g = grad[idx]
            var += (float(np.sum(g * g * p)) - float(g @ p) ** 2) / n
        return w, float(np.sqrt(max(var, 0.0)))
