"""How fast the target domain factor is learned: estimation error against the number of trajectories.

:func:`factor_error_curve` repeats GSAC's Phase-4 estimate of the target domain's
factor (:func:`rl.adaptation.estimate_target_factor`, uniformly random behaviour
policy) for several numbers of target trajectories ``T`` and measures the error
against the true factor. When every affected coordinate's conditional
distribution is a frequency of ``10 T`` draws (the wireless benchmark, horizon
10), the error shrinks like ``1 / sqrt(T)``: slope ``-1/2`` on log-log axes.

Agents whose factor cannot be estimated (no domain-affected coordinate in the
estimator's graph: ``w_hat`` is ``nan``) are left out of every mean and listed
under ``"unestimated_agents"``; a graph with no domain edge at all raises.
See ``docs/analysis-curves.md``.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from causalnet.domain_factors import DomainFactorEstimator
from causalnet.domain_factors_latent import LatentDomainFactorEstimator
from rl.adaptation import estimate_target_factor, mean_ci
from rl.envs.base import NetworkedEnv

__all__ = ["factor_error_curve", "loglog_slope"]

logger = logging.getLogger(__name__)

RngLike = int | np.random.Generator | np.random.SeedSequence | None


def factor_error_curve(estimator: DomainFactorEstimator, env: NetworkedEnv, target_factor, *,
                       trajectories: Sequence[int] = (1, 2, 5, 10, 20, 50, 100), repeats: int = 20,
                       horizon: int = 10, rng: RngLike = None, progress: bool = False,
                       reference=None) -> dict[str, Any]:
    """Error of the target-factor estimate against the number of target trajectories.

    For each ``T`` in ``trajectories`` the target factor is estimated ``repeats``
    times, each from ``T`` fresh trajectories of ``horizon`` steps collected with
    uniformly random actions on its own random stream (``SeedSequence.spawn``). The
    error of one estimate is the mean over the estimated agents of ``|w_hat - w|``.

    Parameters
    ----------
    estimator : DomainFactorEstimator
        Fitted on the source domains' data (with the learned or the true graph).
    env : NetworkedEnv
        The environment; run with ``target_factor``.
    target_factor : float or array of shape (n_agents,)
        The target domain's true factor.
    trajectories : sequence of int
        Strictly increasing positive numbers of trajectories ``T``.
    repeats : int
        Independent estimates per ``T`` (``>= 1``; the interval needs ``>= 2``).
    horizon : int
        Steps per trajectory (the benchmark's 10).
    rng : int, SeedSequence or Generator
        Root of the random streams; the same value gives the same dict.
    progress : bool
        Show a tqdm progress bar over the ``len(trajectories) * repeats`` estimates.
    reference : array of shape (n_agents,), optional
        What each estimate is compared with (default ``target_factor``). An estimator on its
        own scale (:class:`~causalnet.domain_factors_latent.LatentDomainFactorEstimator`) is
        compared with its large-sample estimate in the target.

    Returns
    -------
    dict
        JSON-ready: ``target_factor`` (per agent), ``trajectories``, ``mean_abs_error``
        (mean over repeats of the per-estimate error), ``ci_low`` / ``ci_high``
        (Student-t 95% interval over repeats, ``None`` when ``repeats == 1``), ``rmse``
        (root mean square of ``w_hat - w`` over repeats and estimated agents),
        ``per_repeat`` (shape ``(len(trajectories), repeats)``), ``repeats``,
        ``horizon``, ``loglog_slope`` (least-squares slope of ``log mean_abs_error``
        against ``log T``; ``None`` with fewer than two positive errors),
        ``estimated_agents`` and ``unestimated_agents`` (agent indices).

    Raises
    ------
    TypeError
        ``estimator`` is not a DomainFactorEstimator or ``rng`` has a wrong type.
    ValueError
        Unfitted estimator, bad ``trajectories`` / ``repeats`` / ``horizon`` /
        ``target_factor``, or no agent's factor can be estimated.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.rollout import collect_transitions
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> data = collect_transitions(env, None, episodes=30, horizon=10, domain_factors=[0.2, 0.8], rng=0)
    >>> est = DomainFactorEstimator(env.true_graph()).fit(data)
    >>> curve = factor_error_curve(est, env, 0.6, trajectories=[1, 100], repeats=5, rng=1)
    >>> curve["mean_abs_error"][0] > curve["mean_abs_error"][1], curve["unestimated_agents"]
    (True, [])
    """
    from tqdm.auto import tqdm  # local: only needed when called

    if not isinstance(estimator, (DomainFactorEstimator, LatentDomainFactorEstimator)):
        raise TypeError(f"estimator must be a DomainFactorEstimator or LatentDomainFactorEstimator, "
                        f"got {type(estimator).__name__}")
    if not hasattr(estimator, "w_hat_"):
        raise ValueError("estimator must be fitted on the source data first (call estimator.fit)")
    counts = _check_trajectories(trajectories)
    for name, value in (("repeats", repeats), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    n = env.n_agents
    w_true = np.asarray(target_factor, dtype=np.float64)
    if w_true.ndim == 0:
        w_true = np.full(n, float(w_true))
    if w_true.shape != (n,) or not np.all(np.isfinite(w_true)):
        raise ValueError(f"target_factor must be a finite scalar or have shape ({n},), got {target_factor!r}")
    if not estimator.affected_:
        raise ValueError("no agent's domain factor can be estimated: the estimator's graph has no "
                         "domain-affected state coordinate (no 'domain' parent)")
    R = int(repeats)

    streams = [ss.spawn(R) for ss in _seed_sequence(rng).spawn(len(counts))]
    abs_err = np.empty((len(counts), R, n))   # nan for agents without an estimate
    with tqdm(total=len(counts) * R, desc="target-factor error", disable=not progress) as bar:
        for i, T in enumerate(counts):
            for r in range(R):
                w_hat, _ = estimate_target_factor(estimator, env, w_true, trajectories=T, horizon=int(horizon),
                                                  rng=np.random.default_rng(streams[i][r]))
                abs_err[i, r] = np.abs(w_hat - (w_true if reference is None else reference))
                bar.update(1)

    estimated = np.all(np.isfinite(abs_err), axis=(0, 1))
    if not estimated.any():
        raise ValueError("no agent's domain factor can be estimated: the estimator's graph has no "
                         "domain-affected state coordinate (no 'domain' parent)")
    if not estimated.all():
        logger.info("agents %s have no domain-affected coordinate; left out of the error",
                    np.flatnonzero(~estimated).tolist())
    kept = abs_err[:, :, estimated]
    per_repeat = kept.mean(axis=2)                                   # (len(T), R)
    mean, lo, hi = mean_ci(per_repeat, axis=1)
    rmse = np.sqrt((kept ** 2).mean(axis=(1, 2)))
    slope = loglog_slope(counts, mean)
    logger.info("target-factor error from %d to %d trajectories: %.4g -> %.4g (log-log slope %s)",
                counts[0], counts[-1], mean[0], mean[-1], slope)
    return {"target_factor": w_true.tolist(), "trajectories": counts, "mean_abs_error": mean.tolist(),
            "ci_low": _nullable(lo), "ci_high": _nullable(hi), "rmse": rmse.tolist(),
            "per_repeat": per_repeat.tolist(), "repeats": R, "horizon": int(horizon), "loglog_slope": slope,
            "estimated_agents": np.flatnonzero(estimated).tolist(),
            "unestimated_agents": np.flatnonzero(~estimated).tolist()}


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Least-squares slope of ``log y`` against ``log x`` over points with ``x, y > 0``.

    Returns None when fewer than two such points with distinct ``x`` exist.

    Examples
    --------
    >>> round(loglog_slope([1, 4, 16, 100], [1.0, 0.5, 0.25, 0.1]), 6)
    -0.5
    >>> loglog_slope([1, 2], [0.0, 0.1]) is None
    True
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d and of equal length, got shapes {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if np.unique(x[ok]).size < 2:
        return None
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def _check_trajectories(trajectories: Sequence[int]) -> list[int]:
    if isinstance(trajectories, (str, bytes)) or not isinstance(trajectories, Sequence) or not trajectories:
        raise ValueError(f"trajectories must be a non-empty sequence of positive integers, got {trajectories!r}")
    for t in trajectories:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
            raise ValueError(f"trajectories must hold positive integers, got {t!r} in {list(trajectories)!r}")
    counts = [int(t) for t in trajectories]
    if any(b <= a for a, b in zip(counts, counts[1:])):
        raise ValueError(f"trajectories must be strictly increasing, got {counts}")
    return counts


def _seed_sequence(rng: RngLike) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):  # a copy: spawning must not change the caller's object
        return np.random.SeedSequence(rng.entropy, spawn_key=rng.spawn_key, pool_size=rng.pool_size)
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2 ** 63)))
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.SeedSequence(rng)
    raise TypeError(f"rng must be an int seed, a SeedSequence, a Generator or None, got {type(rng).__name__}")


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
