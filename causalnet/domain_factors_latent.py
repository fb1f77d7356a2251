"""Per-agent latent domain factors fitted by likelihood across the source domains.

:class:`~causalnet.domain_factors.DomainFactorEstimator` summarises the conditional
probabilities of every parent configuration by their principal direction. When a domain
changes a mechanism only in some parent configurations (an infection rate acts only when
a neighbour is infected) and those are rare, the configurations that do not change swamp
the summary. This estimator instead fits one latent number ``z_j^m`` per agent ``j`` and
source domain ``m`` through a one-parameter family per mechanism:

    ``log P_m(v | k) / P_m(0 | k) = a_{c,k,v} + b_{c,k,v} z_j^m``

for every domain-affected coordinate ``c`` of agent ``j``, parent configuration ``k`` and
value ``v >= 1`` (a logit shift along a configuration-specific loading ``b``). A
configuration the domain does not affect gets ``b = 0`` and carries no weight in ``z``; a
rare configuration that changes counts in proportion to how often it occurs.

Fitting (per agent):

1. empirical logits ``L = log((n_v + 1/2) / (n_0 + 1/2))`` per source with inverse-variance
   weights ``(1/(n_v + 1/2) + 1/(n_0 + 1/2))^-1`` (zero where the configuration was not
   seen): the quadratic approximation of the multinomial log-likelihood;
2. weighted rank-one fit ``L ~ a + b z`` by alternating weighted least squares
   (minimum logit chi-square, asymptotically equivalent to maximum likelihood);
3. the sources' ``z`` (and any new domain's) are then the exact one-dimensional
   maximum-likelihood solutions given ``a`` and ``b`` (Newton's method on the multinomial
   likelihood of the counts).

Scale: ``z`` is identified up to an affine map; it is reported with the sources' mean at
0, one unit equal to a logit shift of 1 averaged over the configurations (loadings ``b``
with count-weighted root mean square 1), oriented so that the affected values ``v >= 1``
become more likely as ``z`` grows (count-weighted mean loading positive). The spacing of the
sources therefore follows the size of the mechanism change.

Standard errors come from a bootstrap over episodes (``n_bootstrap`` resamples of the
domain's episodes, the ML ``z`` recomputed on each; the loadings ``a, b`` are held fixed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from causalnet.data import Transitions
from causalnet.domain_factors import (ConfigurationIndex, NotFittedError, _check_inputs,
                                      _discrete_affected_states, _order, parent_values)
from causalnet.graph import FactoredGraph

__all__ = ["LatentDomainFactorEstimator"]

logger = logging.getLogger(__name__)

_HALF = 0.5


@dataclass
class _AgentModel:
    """Rows (coordinate, configuration, value >= 1) of one agent and their fitted loadings."""

    fits: list                 # [(name, parents, card, ConfigurationIndex)]
    row_fit: np.ndarray        # (R,) index into fits
    row_cfg: np.ndarray        # (R,) configuration index within its fit
    row_value: np.ndarray      # (R,) value v >= 1
    row_cell: np.ndarray       # (R,) cell id (fit, configuration)
    n_cells: int
    a: np.ndarray              # (R,)
    b: np.ndarray              # (R,)


class LatentDomainFactorEstimator:
    """Latent per-agent domain factors by likelihood (see the module docstring).

    Parameters
    ----------
    graph : FactoredGraph
        Discovered (or true) graph; its ``domain`` edges name the affected coordinates.
    n_bootstrap : int
        Episode resamples for the standard errors (default 200).
    rng : int, Generator or None
        Seed of the bootstrap.
    max_iter : int
        Alternating least-squares sweeps.

    Attributes
    ----------
    affected_ : list of str
    w_hat_, stderr_ : ndarray, shape (M, n_agents)
        Latent factor of each source domain and agent, and its bootstrap standard error
        (``nan`` for agents without an affected coordinate).
    loadings_ : dict of int to ndarray
        Per agent, the loadings ``b`` of its rows (coordinate, configuration, value).

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["domain"]})
    >>> rng = np.random.default_rng(0)
    >>> p = np.repeat([0.2, 0.4, 0.6], 400)
    >>> nxt = (rng.random((1200, 1)) < p[:, None]).astype(int)
    >>> tr = Transitions(spec, np.zeros((1200, 1), int), np.zeros((1200, 1), int), np.zeros((1200, 1)),
    ...                  nxt, np.repeat([0, 1, 2], 400), np.arange(1200), np.zeros(1200, int))
    >>> est = LatentDomainFactorEstimator(g, rng=0).fit(tr)
    >>> bool(np.all(np.diff(est.w_hat_[:, 0]) > 0)), abs(float(est.w_hat_[:, 0].mean())) < 1e-9
    (True, True)
    """

    def __init__(self, graph: FactoredGraph, *, n_bootstrap: int = 200, rng=None, max_iter: int = 200) -> None:
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 2:
            raise ValueError(f"n_bootstrap must be an integer >= 2, got {n_bootstrap!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
        self.graph = graph
        self.n_bootstrap = int(n_bootstrap)
        self.rng = rng
        self.max_iter = int(max_iter)

    # ------------------------------------------------------------------ fit
    def fit(self, transitions: Transitions) -> "LatentDomainFactorEstimator":
        """Fit the loadings on the source domains, then each source's latent factor."""
        graph = self.graph
        self.affected_ = _discrete_affected_states(graph, transitions, "LatentDomainFactorEstimator")
        spec = graph.spec
        dom = spec.domain_name
        gen = np.random.default_rng(self.rng)
        M = transitions.n_domains
        self.n_domains_ = M
        self._models: dict[int, _AgentModel] = {}
        self.loadings_: dict[int, np.ndarray] = {}
        w = np.full((M, spec.n_agents), np.nan)
        se = np.full((M, spec.n_agents), np.nan)
        for agent in range(spec.n_agents):
            names = [s for s in self.affected_ if spec.owner(s) == agent]
            if not names:
                continue
            model = self._agent_rows(names, transitions)
            counts = [self._episode_counts(model, transitions.in_domain(m)) for m in range(M)]
            totals = np.stack([c.sum(axis=0) for c in counts])          # (M, R + cells)
            model.a, model.b = self._rank_one(model, totals)
            self._models[agent] = model
            self.loadings_[agent] = model.b.copy()
            for m in range(M):
                w[m, agent], se[m, agent] = self._ml_with_bootstrap(model, counts[m], gen)
            shift = float(np.nanmean(w[:, agent])) if np.any(np.isfinite(w[:, agent])) else 0.0
            model.a = model.a + model.b * shift          # sources centred at 0 exactly
            w[:, agent] -= shift
        self.w_hat_, self.stderr_ = w, se
        logger.info("fitted latent domain factors for %d agents in %d domains", len(self._models), M)
        return self

    def estimate(self, new_transitions: Transitions, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """``(w_hat, stderr)``, each of shape ``(n_agents,)``, for the domain of ``new_transitions``.

        All rows are one new domain; configurations never seen in the sources are ignored.
        ``rng`` seeds the bootstrap (default: the estimator's ``rng``).
        """
        if not hasattr(self, "_models"):
            raise NotFittedError("LatentDomainFactorEstimator.estimate called before fit")
        _check_inputs(self.graph, new_transitions, "LatentDomainFactorEstimator.estimate")
        gen = np.random.default_rng(self.rng if rng is None else rng)
        n = self.graph.spec.n_agents
        w, se = np.full(n, np.nan), np.full(n, np.nan)
        for agent, model in self._models.items():
            w[agent], se[agent] = self._ml_with_bootstrap(model, self._episode_counts(model, new_transitions), gen)
        return w, se

    # -------------------------------------------------------------- pieces
    def _agent_rows(self, names: list[str], transitions: Transitions) -> _AgentModel:
        spec = self.graph.spec
        dom = spec.domain_name
        fits, row_fit, row_cfg, row_value, row_cell = [], [], [], [], []
        cell = 0
        for f_idx, name in enumerate(names):
            pas = sorted((p for p in self.graph.parents[name] if p != dom), key=_order(spec))
            index = ConfigurationIndex([spec.cardinality(p) for p in pas])
            index.fit(parent_values(transitions, pas))
            card = int(spec.cardinality(name))
            fits.append((name, pas, card, index))
            for k in range(index.n_configurations):
                for v in range(1, card):
                    row_fit.append(f_idx)
                    row_cfg.append(k)
                    row_value.append(v)
                    row_cell.append(cell)
                cell += 1
        as_int = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
        return _AgentModel(fits, as_int(row_fit), as_int(row_cfg), as_int(row_value), as_int(row_cell), cell,
                           np.zeros(len(row_fit)), np.zeros(len(row_fit)))

    def _episode_counts(self, model: _AgentModel, data: Transitions) -> np.ndarray:
        """Per-episode counts ``(E, R + C)``: value-``v`` counts of every row, then cell totals."""
        episodes, ep_index = np.unique(data.episode, return_inverse=True)
        E, R = episodes.size, model.row_fit.size
        out = np.zeros((E, R + model.n_cells))
        row_of = {}
        for r, (f, k, v) in enumerate(zip(model.row_fit, model.row_cfg, model.row_value)):
            row_of[(int(f), int(k), int(v))] = r
        cell_base = 0
        for f_idx, (name, pas, card, index) in enumerate(model.fits):
            cfg = index.lookup(parent_values(data, pas))
            y = np.asarray(data.column(name, next_step=True), dtype=np.int64)
            ok = cfg >= 0
            # cell totals
            np.add.at(out, (ep_index[ok], R + cell_base + cfg[ok]), 1.0)
            # value counts (v >= 1): rows are laid out (k, v) in order within the fit
            pos = ok & (y >= 1)
            first_row = row_of.get((f_idx, 0, 1), 0)
            rows = first_row + cfg[pos] * (card - 1) + (y[pos] - 1)
            np.add.at(out, (ep_index[pos], rows), 1.0)
            cell_base += index.n_configurations
        return out

    def _rank_one(self, model: _AgentModel, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted rank-one fit of the empirical logits: loadings ``(a, b)`` on the output scale."""
        R = model.row_fit.size
        n_v = totals[:, :R]                                              # (M, R)
        n_cell = totals[:, R:][:, model.row_cell]                        # (M, R)
        n_0 = n_cell - _cell_sum(n_v, model.row_cell, model.n_cells)[:, model.row_cell]
        logit = np.log((n_v + _HALF) / (n_0 + _HALF))
        weight = np.where(n_cell > 0, 1.0 / (1.0 / (n_v + _HALF) + 1.0 / (n_0 + _HALF)), 0.0)
        M = totals.shape[0]
        if M < 2:
            return np.average(logit, axis=0, weights=np.maximum(weight, 1e-300)), np.zeros(R)
        # initial z: first principal direction of the weighted, centred logits
        centred = (logit - np.average(logit, axis=0, weights=np.maximum(weight, 1e-300))) * np.sqrt(weight)
        _, _, vt = np.linalg.svd(centred.T, full_matrices=False)
        z = _standardise(vt[0])
        a = b = np.zeros(R)
        for _ in range(self.max_iter):
            a, b = _row_regression(logit, weight, z)
            den = (weight * b ** 2).sum(axis=1)
            z_new = np.where(den > 0, (weight * b * (logit - a)).sum(axis=1) / np.maximum(den, 1e-300), 0.0)
            z_new = _standardise(z_new)
            if np.max(np.abs(z_new - z)) < 1e-10:
                z = z_new
                break
            z = z_new
        a, b = _row_regression(logit, weight, z)
        # output scale: count-weighted RMS of b is 1, mean loading positive, sources centred at 0
        occ = n_cell.sum(axis=0)
        rms = float(np.sqrt(np.sum(occ * b ** 2) / max(occ.sum(), 1e-300)))
        if rms <= 1e-12:
            return a, np.zeros(R)
        sign = 1.0 if float(np.sum(occ * b)) >= 0 else -1.0
        b_out = b * sign / rms
        # z_out = sign * rms * (z - mean z); a + b z = a_out + b_out z_out with mean(z) = 0
        a_out = a + b * float(np.mean(z))
        return a_out, b_out

    def _ml_with_bootstrap(self, model: _AgentModel, ep_counts: np.ndarray,
                           gen: np.random.Generator) -> tuple[float, float]:
        if not np.any(model.b != 0) or ep_counts.shape[0] == 0:
            return np.nan, np.nan
        z = _ml_latent(model, ep_counts.sum(axis=0)[None])[0]
        E = ep_counts.shape[0]
        if E < 2:
            return float(z), np.nan
        picks = gen.integers(0, E, size=(self.n_bootstrap, E))
        boot = np.stack([ep_counts[p].sum(axis=0) for p in picks])
        zb = _ml_latent(model, boot)
        zb = zb[np.isfinite(zb)]
        return float(z), float(np.std(zb, ddof=1)) if zb.size > 1 else np.nan


def _cell_sum(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Sum ``values (B, R)`` over rows of each cell: ``(B, n_cells)``."""
    out = np.zeros((values.shape[0], n_cells))
    np.add.at(out, (slice(None), cell), values)
    return out


def _standardise(z: np.ndarray) -> np.ndarray:
    z = z - z.mean()
    sd = float(np.sqrt(np.mean(z ** 2)))
    return z / sd if sd > 1e-12 else z


def _row_regression(logit: np.ndarray, weight: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, weighted least squares of ``logit[:, r]`` on ``[1, z]``: ``(a, b)``."""
    w = weight
    sw = w.sum(axis=0)
    safe = np.maximum(sw, 1e-300)
    zbar = (w * z[:, None]).sum(axis=0) / safe
    ybar = (w * logit).sum(axis=0) / safe
    sxx = (w * (z[:, None] - zbar) ** 2).sum(axis=0)
    sxy = (w * (z[:, None] - zbar) * (logit - ybar)).sum(axis=0)
    b = np.where(sxx > 1e-12, sxy / np.maximum(sxx, 1e-300), 0.0)
    a = ybar - b * zbar
    return a, b


def _ml_latent(model: _AgentModel, counts: np.ndarray, *, iterations: int = 60, bound: float = 50.0) -> np.ndarray:
    """Maximum-likelihood ``z`` given the loadings, for each row of ``counts (B, R + C)``.

    Log-likelihood per cell ``k``: ``sum_v n_v eta_v - N_k log(1 + sum_v exp eta_v)`` with
    ``eta_v = a_v + b_v z``; Newton's method from ``z = 0``, steps clipped to 1, ``z`` kept
    in ``[-bound, bound]``. Rows without information (no count on a nonzero loading) give nan.
    """
    R = model.row_fit.size
    n_v = counts[:, :R]
    n_cell = counts[:, R:]
    a, b, cell, C = model.a, model.b, model.row_cell, model.n_cells
    z = np.zeros(counts.shape[0])
    info_any = (n_cell[:, cell] * (b != 0)).sum(axis=1) > 0
    for _ in range(iterations):
        eta = a[None] + b[None] * z[:, None]
        e = np.exp(np.minimum(eta, 700.0))
        denom = 1.0 + _cell_sum(e, cell, C)                       # (B, C)
        p = e / denom[:, cell]                                    # (B, R)
        mean_b = _cell_sum(p * b, cell, C)                        # E[b] per cell
        mean_b2 = _cell_sum(p * b * b, cell, C)
        grad = (n_v * b).sum(axis=1) - (n_cell * mean_b).sum(axis=1)
        hess = (n_cell * (mean_b2 - mean_b ** 2)).sum(axis=1)
        step = np.where(hess > 1e-12, grad / np.maximum(hess, 1e-12), np.sign(grad))
        step = np.clip(step, -1.0, 1.0)
        z = np.clip(z + step, -bound, bound)
        if np.max(np.abs(step)) < 1e-10:
            break
    return np.where(info_any, z, np.nan)
