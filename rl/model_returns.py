"""Model-based returns with intervals: a bootstrap ensemble of discovered models.

A return computed inside one :class:`~causalnet.model.DiscoveredModel` ignores that its
tables were estimated from finite logs. :func:`model_return_interval` refits the model on
``n_models`` bootstrap resamples of the logged episodes (episodes resampled with
replacement within each domain, so the dependence along an episode is kept), evaluates the
policy in every refitted model, and reports the point estimate of the model fitted on all
the logs together with a percentile interval of the ensemble, widened by the Monte Carlo
error of each evaluation. It covers the true return when the model's error is dominated by
the estimation of its tables (parameter uncertainty); a structural error (a wrong graph, a
wrong ``w``-dependence) is not in it, which :func:`causalnet.model_fidelity.fidelity_report`
checks against the logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph
from causalnet.model import DiscoveredModel
from rl.evaluation import discounted_return

__all__ = ["ModelReturn", "bootstrap_episodes", "model_return_interval"]


@dataclass
class ModelReturn:
    """A model-based return with its interval.

    Attributes
    ----------
    mean : float
        Return in the model fitted on all the logs.
    low, high : float
        Interval of level ``confidence``.
    confidence : float
    ensemble : ndarray
        Return in each bootstrap model.
    """

    mean: float
    low: float
    high: float
    confidence: float
    ensemble: np.ndarray = field(repr=False)

    def covers(self, value: float) -> bool:
        """Whether ``low <= value <= high``."""
        return bool(self.low <= value <= self.high)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"mean": self.mean, "interval": [self.low, self.high], "confidence": self.confidence,
                "n_models": int(self.ensemble.size)}


def bootstrap_episodes(transitions: Transitions, rng: np.random.Generator) -> Transitions:
    """A resample of ``transitions``: each domain's episodes drawn with replacement (new episode ids)."""
    parts_idx, parts_ep = [], []
    next_id = 0
    for m in range(transitions.n_domains):
        rows = np.flatnonzero(transitions.domain == m)
        eps, inv = np.unique(transitions.episode[rows], return_inverse=True)
        order = np.argsort(inv, kind="stable")
        starts = np.searchsorted(inv[order], np.arange(eps.size))
        ends = np.r_[starts[1:], order.size]
        for k in rng.integers(0, eps.size, size=eps.size):
            sel = rows[order[starts[k]:ends[k]]]
            parts_idx.append(sel)
            parts_ep.append(np.full(sel.size, next_id))
            next_id += 1
    idx = np.concatenate(parts_idx)
    out = transitions.subset(idx)
    return Transitions(out.spec, out.states, out.actions, out.rewards, out.next_states, out.domain,
                       np.concatenate(parts_ep), out.time, out.domain_factors)


def model_return_interval(graph: FactoredGraph, transitions: Transitions, policy, *, domain_factor,
                          gamma: float, horizon: int, domain_factors: np.ndarray | None = None,
                          n_models: int = 20, episodes: int = 1000, confidence: float = 0.9,
                          min_count: int = 1, rng=None) -> ModelReturn:
    """Return of ``policy`` in the model, with a bootstrap-ensemble interval.

    Parameters
    ----------
    graph : FactoredGraph
        The (discovered) graph of the model.
    transitions : Transitions
        The logs.
    policy : callable
        ``policy(states, rng) -> actions`` (its ``w_hat`` set by the caller).
    domain_factor : float or array of shape (n_agents,)
        Domain the model is run in (on the scale of ``domain_factors``).
    gamma, horizon
        The return's discount and number of steps.
    domain_factors : array, shape (M, n_agents), optional
        Factors of the logged domains (default: the data's, else estimated by the model).
    n_models : int
        Bootstrap models (>= 2).
    episodes : int
        Evaluation episodes per model.
    confidence : float
        Level of the interval (percentiles of the ensemble, widened by the Monte Carlo
        standard error of one evaluation times the normal quantile).
    min_count : int
        ``DiscoveredModel(min_count=...)``.
    rng : seed or Generator

    Returns
    -------
    ModelReturn
    """
    from scipy.stats import norm

    if isinstance(n_models, bool) or not isinstance(n_models, (int, np.integer)) or n_models < 2:
        raise ValueError(f"n_models must be an integer >= 2, got {n_models!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    seeds = np.random.SeedSequence(rng).spawn(3)
    boot_rng = np.random.default_rng(seeds[0])

    def evaluate(model: DiscoveredModel, seed) -> tuple[float, float]:
        res = discounted_return(model.with_domain_factor(domain_factor), policy, gamma=gamma, horizon=horizon,
                                episodes=episodes, rng=np.random.default_rng(seed), batch_size=episodes)
        return res.mean, res.std_err

    full = DiscoveredModel(graph, min_count=min_count).fit(transitions, domain_factors=domain_factors)
    mean, _ = evaluate(full, seeds[1])
    values, errs = [], []
    for s in seeds[2].spawn(int(n_models)):
        model = DiscoveredModel(graph, min_count=min_count).fit(bootstrap_episodes(transitions, boot_rng),
                                                                domain_factors=domain_factors)
        v, e = evaluate(model, s)
        values.append(v)
        errs.append(e)
    ensemble = np.asarray(values)
    alpha = 1.0 - confidence
    z = float(norm.ppf(1.0 - alpha / 2))
    mc = z * float(np.mean(errs))
    low = float(np.quantile(ensemble, alpha / 2)) - mc
    high = float(np.quantile(ensemble, 1.0 - alpha / 2)) + mc
    return ModelReturn(mean=float(mean), low=min(low, mean), high=max(high, mean), confidence=confidence,
                       ensemble=ensemble)
