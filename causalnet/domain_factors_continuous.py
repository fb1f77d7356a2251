"""Domain factors for continuous mechanisms (GSAC Phase 1 on continuous states).

For every domain-affected coordinate ``y`` (a state coordinate with a ``domain``
parent) the estimator fits, in each domain separately, the linear conditional
model of ``y(t+1)`` given its other discovered parents at ``t``::

    y = b_0 + sum_k b_k x_k + sum_l sum_{v >= 1} c_lv [a_l = v] + sigma * eps

(continuous parents enter linearly, discrete parents by indicators of their
values ``1..card-1``), by least squares. Its parameter vector is
``theta = (b_0, b_1.., c_.., log sigma)`` with standard errors
``sigma sqrt(diag((X'X)^-1))`` and ``1 / sqrt(2 (n - p))`` for ``log sigma``.

The parameters that *change* across the source domains are kept: a parameter
whose heterogeneity statistic ``Q = sum_m (theta_m - theta_bar)^2 / se_m^2``
(chi-square with ``M - 1`` degrees of freedom when the parameter does not change)
has a p-value below ``alpha``. Agent ``j``'s kept parameters, each divided by its
spread across source domains, are centred at their source mean and projected on
their principal axes (SVD over the source domains): ``w_hat`` holds the first
``n_components`` scores (one number per agent by default), and its standard
error follows by the delta method from the parameters' standard errors. When no
parameter of an agent passes the filter, all of them are used.

``w_hat`` is a coordinate along the direction in which the agent's mechanisms
move between domains (its sign is fixed so that the largest entry of the axis
is positive), not the simulator's domain factor itself; a new domain's
``w_hat`` estimated from ``T_e`` trajectories converges at the rate
``1 / sqrt(T_e)`` (``benchmarks/continuous_domain_factors.py``). See
``docs/domain-factors.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph, GraphError

__all__ = ["ContinuousDomainFactorEstimator", "LinearMechanismFit", "make_domain_factor_estimator"]

logger = logging.getLogger(__name__)


@dataclass
class LinearMechanismFit:
    """The design of one affected coordinate: its parents and how they are coded."""

    name: str
    parents: list[str]
    categories: dict[str, np.ndarray]      # discrete parent -> its values 1.. coded by indicators

    @property
    def labels(self) -> list[str]:
        """Names of the entries of ``theta``."""
        out = ["intercept"]
        for p in self.parents:
            out += [f"{p}={v}" for v in self.categories[p]] if p in self.categories else [p]
        return out + ["log_sigma"]

    def design(self, transitions: Transitions) -> np.ndarray:
        cols = [np.ones(len(transitions))]
        for p in self.parents:
            x = np.asarray(transitions.column(p), dtype=np.float64)
            if p in self.categories:
                cols += [(x == v).astype(np.float64) for v in self.categories[p]]
            else:
                cols.append(x)
        return np.column_stack(cols)

    def fit(self, transitions: Transitions, where: str) -> tuple[np.ndarray, np.ndarray]:
        """``theta`` and its standard errors on ``transitions`` (one domain)."""
        x = self.design(transitions)
        y = np.asarray(transitions.column(self.name, next_step=True), dtype=np.float64)
        n, p = x.shape
        if n <= p:
            raise ValueError(f"{where}: {self.name!r} has {p} parameters (intercept and parents {self.parents}) "
                             f"but only {n} rows; at least {p + 1} are needed")
        gram = x.T @ x
        if np.linalg.matrix_rank(gram) < p:
            constant = [lab for lab, col in zip(self.labels[1:], x[:, 1:].T) if np.ptp(col) == 0]
            raise ValueError(f"{where}: the parents of {self.name!r} are collinear or constant in these rows"
                             + (f" (constant: {constant})" if constant else "") + "; collect more varied data")
        inv = np.linalg.inv(gram)
        coef = inv @ (x.T @ y)
        resid = y - x @ coef
        sigma = float(np.sqrt(resid @ resid / (n - p)))
        if not sigma > 0:
            raise ValueError(f"{where}: {self.name!r} is fitted exactly (zero residual variance); "
                             "a deterministic or constant coordinate has no noise scale")
        se = np.concatenate([sigma * np.sqrt(np.diag(inv)), [1.0 / np.sqrt(2.0 * (n - p))]])
        return np.concatenate([coef, [np.log(sigma)]]), se


class ContinuousDomainFactorEstimator:
    """Per-domain linear-Gaussian fits of the affected coordinates, compressed to ``w_hat``.

    Parameters
    ----------
    graph : FactoredGraph
        Discovered (or true) graph; its ``domain`` edges name the affected coordinates.
    alpha : float
        Significance level of the heterogeneity filter on parameters.
    n_components : int
        Number of principal scores kept per agent (``scores_``); ``w_hat_`` is the first.

    Attributes
    ----------
    affected_ : list of str
    params_ : list of dict
        Per source domain, ``{coordinate: {"labels", "theta", "stderr"}}``.
    changing_ : dict of str to list of str
        The parameters kept for each affected coordinate.
    w_hat_, stderr_ : ndarray, shape (M, n_agents)
        First score and its standard error per source domain (``nan`` for agents
        without an affected coordinate).
    scores_ : ndarray, shape (M, n_agents, n_components)

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, None, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["s0_0", "domain"]})
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=(4000, 1)); d = np.repeat([0, 1], 2000)
    >>> nxt = 0.5 * s + np.where(d == 1, 1.0, 0.0)[:, None] + rng.normal(size=(4000, 1))
    >>> tr = Transitions(spec, s, np.zeros((4000, 1), int), np.zeros((4000, 1)), nxt, d,
    ...                  np.arange(4000), np.zeros(4000, int))
    >>> est = ContinuousDomainFactorEstimator(g).fit(tr)
    >>> est.changing_["s0_0"]
    ['intercept']
    >>> np.round(est.w_hat_[:, 0], 1).tolist()
    [-1.0, 1.0]
    """

    def __init__(self, graph: FactoredGraph, *, alpha: float = 0.001, n_components: int = 1) -> None:
        self.graph = graph
        self.alpha = alpha
        self.n_components = n_components

    def fit(self, transitions: Transitions) -> "ContinuousDomainFactorEstimator":
        """Fit every affected coordinate in every source domain and build the projections."""
        graph = self.graph
        if not isinstance(graph, FactoredGraph):
            raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be a float in (0, 1), got {self.alpha!r}")
        if isinstance(self.n_components, bool) or not isinstance(self.n_components, (int, np.integer)) \
                or self.n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {self.n_components!r}")
        _check(graph, transitions, "ContinuousDomainFactorEstimator.fit")
        spec = graph.spec
        dom = spec.domain_name
        self.affected_ = [s for s in spec.state_names if dom in graph.parents[s]]
        labels = np.unique(transitions.domain)
        self.n_domains_ = transitions.n_domains
        self._fits: list[LinearMechanismFit] = []
        for name in self.affected_:
            pas = sorted((p for p in graph.parents[name] if p != dom),
                         key=lambda q: ({"state": 0, "action": 1}[spec.kind(q)], spec.index(q)))
            cats = {}
            for p in pas:
                if spec.cardinality(p) is not None:
                    values = np.unique(np.asarray(transitions.column(p)))
                    cats[p] = values[1:] if values.size > 1 else values[:0]
            self._fits.append(LinearMechanismFit(name, pas, cats))
        theta = {f.name: np.full((self.n_domains_, len(f.labels)), np.nan) for f in self._fits}
        se = {f.name: np.full((self.n_domains_, len(f.labels)), np.nan) for f in self._fits}
        for m in labels:
            part = transitions.in_domain(int(m))
            for f in self._fits:
                theta[f.name][m], se[f.name][m] = f.fit(part, f"domain {int(m)}")
        self.params_ = [{f.name: {"labels": f.labels, "theta": theta[f.name][m], "stderr": se[f.name][m]}
                         for f in self._fits} for m in range(self.n_domains_)]
        self.changing_ = {}
        keep: dict[str, np.ndarray] = {}
        for f in self._fits:
            t, s = theta[f.name][labels], se[f.name][labels]
            if len(labels) >= 2:
                q = np.sum((t - t.mean(axis=0)) ** 2 / s ** 2, axis=0)
                mask = chdtrc(len(labels) - 1, q) < self.alpha
            else:
                mask = np.zeros(t.shape[1], dtype=bool)
            keep[f.name] = mask
            self.changing_[f.name] = [lab for lab, k in zip(f.labels, mask) if k]
        self._summaries: dict[int, _Projection] = {}
        for agent in range(spec.n_agents):
            fits = [f for f in self._fits if spec.owner(f.name) == agent]
            if not fits:
                continue
            masks = [keep[f.name] for f in fits]
            if not any(m.any() for m in masks):
                masks = [np.ones_like(m) for m in masks]
            stacked = np.concatenate([theta[f.name][labels][:, m] for f, m in zip(fits, masks)], axis=1)
            self._summaries[agent] = _Projection.build(fits, masks, stacked, int(self.n_components))
        n, k = spec.n_agents, int(self.n_components)
        self.scores_ = np.full((self.n_domains_, n, k), np.nan)
        self.stderr_ = np.full((self.n_domains_, n), np.nan)
        for agent, proj in self._summaries.items():
            for m in labels:
                th = np.concatenate([theta[f.name][m][mk] for f, mk in zip(proj.fits, proj.masks)])
                sd = np.concatenate([se[f.name][m][mk] for f, mk in zip(proj.fits, proj.masks)])
                self.scores_[m, agent], self.stderr_[m, agent] = proj.project(th, sd)
        self.w_hat_ = self.scores_[:, :, 0].copy()
        logger.info("fitted continuous domain factors for %d affected coordinates in %d domains",
                    len(self.affected_), len(labels))
        return self

    def estimate(self, new_transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        """``(w_hat, stderr)``, each shape ``(n_agents,)``, treating all rows as one new domain.

        Raises
        ------
        ValueError
            If an affected coordinate has fewer rows than parameters, or its parents
            are constant / collinear in the new data.
        """
        if not hasattr(self, "_summaries"):
            raise RuntimeError("ContinuousDomainFactorEstimator.estimate called before fit")
        _check(self.graph, new_transitions, "ContinuousDomainFactorEstimator.estimate")
        n = self.graph.spec.n_agents
        w = np.full(n, np.nan)
        se = np.full(n, np.nan)
        for agent, proj in self._summaries.items():
            parts = [f.fit(new_transitions, "new domain") for f in proj.fits]
            th = np.concatenate([t[mk] for (t, _), mk in zip(parts, proj.masks)])
            sd = np.concatenate([s[mk] for (_, s), mk in zip(parts, proj.masks)])
            scores, err = proj.project(th, sd)
            w[agent], se[agent] = scores[0], err
        return w, se

    def project(self, agent: int, theta: dict[str, np.ndarray]) -> float:
        """First score of ``agent`` for given parameter vectors ``{coordinate: theta}`` (e.g. exact ones)."""
        proj = self._summaries[agent]
        th = np.concatenate([np.asarray(theta[f.name], dtype=np.float64)[mk] for f, mk in zip(proj.fits, proj.masks)])
        return float(proj.project(th, np.zeros_like(th))[0][0])

    def labels(self, name: str) -> list[str]:
        """Names of the entries of ``theta`` of affected coordinate ``name``."""
        for f in self._fits:
            if f.name == name:
                return f.labels
        raise KeyError(f"{name!r} is not a domain-affected coordinate of the graph")


@dataclass
class _Projection:
    """Standardised principal-axis scores of one agent's changing parameters."""

    fits: list[LinearMechanismFit]
    masks: list[np.ndarray]
    center: np.ndarray
    scale: np.ndarray
    axes: np.ndarray            # (n_components, dim)

    @classmethod
    def build(cls, fits, masks, thetas: np.ndarray, n_components: int) -> "_Projection":
        center = thetas.mean(axis=0)
        scale = thetas.std(axis=0)
        scale[~(scale > 0)] = 1.0
        z = (thetas - center) / scale
        dim = z.shape[1]
        axes = np.zeros((n_components, dim))
        if thetas.shape[0] >= 2 and np.abs(z).max() > 0:
            _, sv, vt = np.linalg.svd(z, full_matrices=False)
            r = min(n_components, vt.shape[0])
            axes[:r] = vt[:r] * (sv[:r, None] > 1e-12)
        else:
            axes[0] = 1.0 / np.sqrt(dim)
        for a in axes:                       # deterministic sign
            if a.any() and a[np.argmax(np.abs(a))] < 0:
                a *= -1.0
        return cls(fits, masks, center, scale, axes)

    def project(self, theta: np.ndarray, stderr: np.ndarray) -> tuple[np.ndarray, float]:
        z = (theta - self.center) / self.scale
        grad = self.axes[0] / self.scale
        return self.axes @ z, float(np.sqrt(np.sum((grad * stderr) ** 2)))


def _check(graph: FactoredGraph, transitions: Transitions, where: str) -> None:
    if not isinstance(transitions, Transitions):
        raise TypeError(f"{where}: transitions must be a causalnet.Transitions, got {type(transitions).__name__}")
    if transitions.spec != graph.spec:
        raise GraphError(f"{where}: the transitions' spec differs from the graph's spec")
    if len(transitions) == 0:
        raise ValueError(f"{where}: transitions are empty")


def make_domain_factor_estimator(graph: FactoredGraph, **kwargs):
    """The domain-factor estimator for ``graph``: discrete (frequencies) or continuous (regressions).

    :class:`causalnet.DomainFactorEstimator` when every domain-affected coordinate
    and its parents are discrete, else :class:`ContinuousDomainFactorEstimator`.
    """
    from causalnet.domain_factors import DomainFactorEstimator

    spec = graph.spec
    dom = spec.domain_name
    involved = [v for s in spec.state_names if dom in graph.parents[s] for v in (s, *graph.parents[s]) if v != dom]
    if all(spec.cardinality(v) is not None for v in involved):
        return DomainFactorEstimator(graph, **kwargs)
    return ContinuousDomainFactorEstimator(graph, **kwargs)
