"""Zero-shot adaptation to a target domain (GSAC Phase 4) and adaptation curves.

* :func:`estimate_target_factor` -- collect ``T_a`` trajectories in the target domain
  (default policy: uniformly random actions) and estimate ``w_hat`` with a
  :class:`~causalnet.domain_factors.DomainFactorEstimator` fitted on the source data
  and the already learned graph.
* :func:`zero_shot` -- the meta-trained policy deployed with that estimate: a copy
  with ``w_hat`` set, **no parameter update**. The same call gives SAC-MTL's
  zero-shot policy (its one-hot features pick the source nearest to ``w_hat``).
* :func:`deploy_zero_shot` -- both steps for every run of a trainer, each run with
  its own independent ``T_a`` trajectories.
* :func:`adaptation_curves` -- discounted return per agent after each of the first
  ``episodes`` target episodes, for frozen policies (GSAC, SAC-MTL) and for trainers
  that keep learning in the target (SAC-FT, SAC-LFS: one target episode = one outer
  iteration of ``T`` steps), over several runs with mean and Student-t 95% CI.
* :func:`summarize_training` / :func:`mean_ci` -- the same summary for the
  training curves of :class:`~rl.gsac.GSACResult`.

See ``docs/adaptation.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from causalnet.domain_factors import DomainFactorEstimator
from causalnet.domain_factors_latent import LatentDomainFactorEstimator
from rl.actors import LocalizedSoftmaxPolicy
from rl.actors_linear import LinearActorCritic
from rl.gsac import GSACResult, GSACTrainer, RngLike

#: Trainers that ``adaptation_curves`` advances in the target (learning methods).
LEARNERS = (GSACTrainer, LinearActorCritic)

__all__ = ["AdaptationCurves", "MethodCurve", "TrainingSummary", "adaptation_curves", "deploy_zero_shot",
           "estimate_target_factor", "mean_ci", "summarize_training", "zero_shot"]

logger = logging.getLogger(__name__)

PolicyFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]


# ------------------------------------------------------------------ statistics
def mean_ci(values: np.ndarray, *, axis: int = 0, confidence: float = 0.95
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t confidence interval over ``axis`` (runs / seeds).

    Returns ``(mean, low, high)``; with a single value along ``axis`` the interval
    is ``nan``.

    Examples
    --------
    >>> m, lo, hi = mean_ci(np.array([[1.0, 2.0], [3.0, 2.0]]))
    >>> m.tolist(), round(float(hi[0] - m[0]), 3), float(hi[1] - lo[1])
    ([2.0, 2.0], 12.706, 0.0)
    """
    from scipy import stats  # local: keeps the import of rl light

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    values = np.asarray(values, dtype=np.float64)
    count = values.shape[axis]
    if count < 1:
        raise ValueError("mean_ci needs at least one value along the axis")
    mean = values.mean(axis=axis)
    if count < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan.copy()
    half = stats.t.ppf(0.5 + confidence / 2.0, count - 1) * values.std(axis=axis, ddof=1) / np.sqrt(count)
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class TrainingSummary:
    """Training curves summarised across runs (see :func:`summarize_training`).

    Attributes
    ----------
    iterations : int array, shape (E,)
    per_run : float array, shape (R, E)
    mean, ci_low, ci_high : float arrays, shape (E,)
    """

    iterations: np.ndarray
    per_run: np.ndarray
    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``nan`` intervals become ``None``)."""
        return {"iterations": self.iterations.tolist(), "per_run": _jsonable(self.per_run),
                "mean": _jsonable(self.mean), "ci_low": _jsonable(self.ci_low), "ci_high": _jsonable(self.ci_high)}


def summarize_training(results: GSACResult | Sequence[GSACResult], *, confidence: float = 0.95) -> TrainingSummary:
    """Mean and CI across runs of the evaluation curves of one or more :class:`GSACResult`.

    Runs of several results (e.g. separate batches of seeds) are pooled; they must
    share the evaluation iterations.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.gsac import GSACConfig, train_gsac
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> res = train_gsac(env, env.true_graph(), GSACConfig.reference_sac(), iterations=10, rng=0,
    ...                  n_runs=3, eval_every=5, eval_episodes=20)
    >>> s = summarize_training(res)
    >>> s.iterations.tolist(), s.per_run.shape, bool(np.all(s.ci_low <= s.mean))
    ([0, 5, 10], (3, 3), True)
    """
    items = [results] if isinstance(results, GSACResult) else list(results)
    if not items or not all(isinstance(r, GSACResult) for r in items):
        raise TypeError("results must be a GSACResult or a non-empty sequence of them")
    iterations = np.asarray(items[0].eval_iterations, dtype=np.int64)
    for r in items[1:]:
        if not np.array_equal(r.eval_iterations, iterations):
            raise ValueError(f"results evaluated at different iterations: {iterations.tolist()} vs "
                             f"{np.asarray(r.eval_iterations).tolist()}")
    if iterations.size == 0:
        raise ValueError("the results hold no evaluations (train with eval_every > 0)")
    per_run = np.concatenate([np.asarray(r.eval_returns, dtype=np.float64) for r in items], axis=0)
    mean, lo, hi = mean_ci(per_run, confidence=confidence)
    return TrainingSummary(iterations, per_run, mean, lo, hi)


# ------------------------------------------------------------------ zero shot
def estimate_target_factor(estimator: DomainFactorEstimator, env, target_factor, *, trajectories: int,
                           horizon: int = 10, rng: RngLike = None,
                           policy: PolicyFn | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Estimate the target domain's factor from ``trajectories`` fresh trajectories.

    Parameters
    ----------
    estimator : DomainFactorEstimator
        Fitted on the source domains' data with the learned (or true) graph.
    env : NetworkedEnv
        The environment; it is run with ``target_factor`` (the agents never see it).
    target_factor : float or array of shape (n,)
        The target domain's true factor (drives the simulator only).
    trajectories : int
        ``T_a``: episodes collected in the target.
    horizon : int
        Steps per trajectory (default 10, the benchmark's ``T``).
    rng : seed or Generator
    policy : callable, optional
        Behaviour policy ``policy(states, rng) -> actions`` during collection; default
        uniformly random actions (an exploratory policy that visits every parent
        configuration the estimator needs, and depends on no trained model).

    Returns
    -------
    w_hat, stderr : arrays of shape (n,)
        ``nan`` for agents without a domain-affected coordinate in the graph.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.rollout import collect_transitions
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> data = collect_transitions(env, None, episodes=50, horizon=10, domain_factors=[0.2, 0.8], rng=0)
    >>> est = DomainFactorEstimator(env.true_graph()).fit(data)
    >>> w, se = estimate_target_factor(est, env, 0.65, trajectories=40, rng=1)
    >>> bool(np.all(np.abs(w - 0.65) < 4 * se))
    True
    """
    from rl.rollout import collect_transitions  # local: rollout imports the environments

    if not isinstance(estimator, (DomainFactorEstimator, LatentDomainFactorEstimator)):
        raise TypeError(f"estimator must be a DomainFactorEstimator or LatentDomainFactorEstimator, "
                        f"got {type(estimator).__name__}")
    if not hasattr(estimator, "w_hat_"):
        raise ValueError("estimator must be fitted on the source data first (call estimator.fit)")
    for name, value in (("trajectories", trajectories), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    w = np.asarray(target_factor, dtype=np.float64)
    if w.ndim > 1 or (w.ndim == 1 and w.shape != (env.n_agents,)):
        raise ValueError(f"target_factor must be a scalar or have shape ({env.n_agents},), got {w.shape}")
    data = collect_transitions(env, policy, episodes=int(trajectories), horizon=int(horizon),
                               domain_factors=[w], rng=rng)
    w_hat, stderr = estimator.estimate(data)
    logger.info("target factor estimated from %d trajectories: mean %.4f", trajectories, float(np.nanmean(w_hat)))
    return w_hat, stderr


def zero_shot(policy: LocalizedSoftmaxPolicy, w_hat, *, fill: float | np.ndarray | None = None
              ) -> LocalizedSoftmaxPolicy:
    """A copy of the meta-trained ``policy`` deployed with ``w_hat`` (no parameter update).

    Parameters
    ----------
    policy : LocalizedSoftmaxPolicy
        GSAC policy (features of ``w_hat``) or SAC-MTL policy (one-hot code of the
        nearest source); constant-feature policies are unaffected by ``w_hat``.
    w_hat : float or array of shape (n,)
        Estimated target factor (:func:`estimate_target_factor`).
    fill : float or array of shape (n,), optional
        Values used for ``nan`` entries of ``w_hat`` (agents the estimator has no
        affected coordinate for). Without it a ``nan`` raises ``ValueError``.

    Examples
    --------
    >>> from rl.features import SourceOneHotFeatures
    >>> mtl = LocalizedSoftmaxPolicy(np.zeros((2, 1, 2, 2)), [[], []], [[], []], [2, 2],
    ...                              SourceOneHotFeatures(np.array([[0.2, 0.2], [0.8, 0.8]])), w_hat=0.2)
    >>> deployed = zero_shot(mtl, [0.7, 0.6])
    >>> deployed.features(deployed.w_hat)[0].tolist(), mtl.w_hat.tolist()
    ([0.0, 1.0], [0.2, 0.2])
    """
    if not isinstance(policy, LocalizedSoftmaxPolicy):
        raise TypeError(f"policy must be a LocalizedSoftmaxPolicy, got {type(policy).__name__}")
    n = policy.n_agents
    w = np.array(w_hat, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(f"w_hat must be a scalar or have shape ({n},), got {w.shape}")
    missing = ~np.isfinite(w)
    if missing.any():
        if fill is None:
            raise ValueError(f"w_hat has no estimate for agent(s) {np.flatnonzero(missing).tolist()}; "
                             "pass fill= (e.g. the sources' mean factor)")
        w[missing] = np.broadcast_to(np.asarray(fill, dtype=np.float64), (n,))[missing]
    return LocalizedSoftmaxPolicy(policy.theta, policy.policy_columns, policy.policy_cardinality,
                                  policy.action_counts, policy.features, w_hat=w)


def deploy_zero_shot(trainer: GSACTrainer, estimator: DomainFactorEstimator, env, target_factor, *,
                     trajectories: int, horizon: int = 10, rng: RngLike = None, policy: PolicyFn | None = None,
                     fill: float | np.ndarray | None = None) -> tuple[list[LocalizedSoftmaxPolicy], np.ndarray]:
    """Zero-shot policies of every run of ``trainer``, each with its own target estimate.

    Run ``r`` collects ``trajectories`` fresh trajectories in the target (stream ``r`` of
    ``SeedSequence(rng).spawn(R)``), estimates ``w_hat_r`` (:func:`estimate_target_factor`)
    and deploys its current policy with it (:func:`zero_shot`). Works for GSAC and
    SAC-MTL trainers alike. ``fill`` defaults to the trainer's mean source ``w_hat``
    per agent.

    Returns
    -------
    policies : list of LocalizedSoftmaxPolicy, one per run
    w_hat : array, shape (R, n)
        The estimates (before filling).

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.algorithms import make_trainer
    >>> from rl.rollout import collect_transitions
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> data = collect_transitions(env, None, episodes=20, horizon=10, domain_factors=[0.2, 0.8], rng=0)
    >>> est = DomainFactorEstimator(env.true_graph()).fit(data)
    >>> gsac = make_trainer("gsac", env, env.true_graph(), source_factors=[0.2, 0.8],
    ...                     source_w_hat=est.w_hat_, rng=0, n_runs=2)
    >>> policies, w_hat = deploy_zero_shot(gsac, est, env, 0.65, trajectories=10, rng=1)
    >>> len(policies), w_hat.shape, bool(np.array_equal(policies[1].w_hat, w_hat[1]))
    (2, (2, 4), True)
    """
    if not isinstance(trainer, GSACTrainer):
        raise TypeError(f"trainer must be a GSACTrainer, got {type(trainer).__name__}")
    fill = trainer.w_hat.mean(axis=0) if fill is None else fill
    estimates, policies = [], []
    for run, seed in enumerate(_seed_sequence(rng).spawn(trainer.n_runs)):
        w_hat, _ = estimate_target_factor(estimator, env, target_factor, trajectories=trajectories, horizon=horizon,
                                          rng=np.random.default_rng(seed), policy=policy)
        estimates.append(w_hat)
        policies.append(zero_shot(trainer.policy(run), w_hat, fill=fill))
    return policies, np.stack(estimates)


# ------------------------------------------------------------------ curves
@dataclass(frozen=True)
class MethodCurve:
    """Adaptation curve of one method (see :func:`adaptation_curves`).

    Attributes
    ----------
    learning : bool
        True for a trainer that learns during the target episodes, False for a frozen policy.
    per_run : float array, shape (R, E + 1)
        Discounted return per agent of each run after ``0..E`` target episodes.
    mean, ci_low, ci_high : float arrays, shape (E + 1,)
        Mean over runs and Student-t 95% interval.
    curve_average : float array, shape (R,)
        Mean of each run's curve over episodes ``1..E`` (the paper's "average
        cumulative reward during adaptation").
    final_average_reward : float array, shape (R,)
        Long-run average reward per agent per step of each run's policy after ``E`` episodes.
    """

    learning: bool
    per_run: np.ndarray
    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    curve_average: np.ndarray
    final_average_reward: np.ndarray

    def summary(self) -> dict[str, Any]:
        """Mean and 95% CI over runs of the final return, the curve average and the average reward."""
        out = {}
        for key, values in (("final_return", self.per_run[:, -1]), ("curve_average", self.curve_average),
                            ("final_average_reward", self.final_average_reward)):
            m, lo, hi = mean_ci(values)
            out[key] = {"mean": float(m), "ci95": [_num(lo), _num(hi)]}
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``nan`` becomes ``None``)."""
        return {"learning": self.learning, "per_run": _jsonable(self.per_run), "mean": _jsonable(self.mean),
                "ci_low": _jsonable(self.ci_low), "ci_high": _jsonable(self.ci_high),
                "curve_average": _jsonable(self.curve_average),
                "final_average_reward": _jsonable(self.final_average_reward), "summary": self.summary()}


@dataclass(frozen=True)
class AdaptationCurves:
    """Result of :func:`adaptation_curves`.

    Attributes
    ----------
    episodes : int array, shape (E + 1,)
        ``0, 1, ..., E`` target episodes done before each evaluation.
    methods : dict of str to MethodCurve
    settings : dict
        Target factor, evaluation settings, number of runs (JSON-ready).
    """

    episodes: np.ndarray
    methods: dict[str, MethodCurve]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"episodes": self.episodes.tolist(), "settings": self.settings,
                "methods": {name: curve.to_dict() for name, curve in self.methods.items()}}


def adaptation_curves(methods: Mapping[str, GSACTrainer | PolicyFn | Sequence[PolicyFn]], env, target_factor, *,
                      episodes: int = 30, eval_episodes: int = 400, gamma: float = 0.7, horizon: int = 10,
                      rng: RngLike = None, n_runs: int | None = None, average_episodes: int | None = None,
                      average_steps: int = 100, burn_in: int = 20,
                      on_point: Callable[[str, int, int, float], None] | None = None,
                      iterations_per_episode: int | Mapping[str, int] = 1) -> AdaptationCurves:
    """Discounted return per agent after each of the first ``episodes`` target episodes.

    Parameters
    ----------
    methods : mapping of name to method
        * a :class:`~rl.gsac.GSACTrainer` (or a linear
          :class:`~rl.actors_linear.LinearActorCritic`) whose only domain is the target (``make_trainer``
          with ``"sac-lfs"`` or ``"sac-ft"`` and ``target_factor=``) **learns**: each
          target episode is one outer iteration (``trainer.iterate(1)``, ``T`` steps; the
          trainer is advanced in place), and run ``r`` is evaluated with ``trainer.policy(r)``;
        * a callable policy (shared by every run) or a sequence of ``R`` callables
          (one per run) is **frozen**: GSAC / SAC-MTL deployed with :func:`zero_shot`.
    env : NetworkedEnv
        The environment; evaluation runs it with ``target_factor``.
    target_factor : float or array of shape (n,)
    episodes : int
        ``E``, number of target episodes (default 30).
    eval_episodes : int
        Rollouts per evaluation (reference: 400).
    gamma, horizon : float, int
        The reference metric: mean over agents of ``sum_{t<horizon} gamma^t r_i(t)``.
    rng : seed or Generator
        Seeds the evaluations. Run ``r`` uses the same evaluation stream at every
        episode and for every method (common random numbers), so a frozen policy's
        curve is exactly constant and methods are compared on the same episodes.
    n_runs : int, optional
        Number of runs ``R``; default the trainers' / sequences' length (1 if all
        methods are single policies).
    average_episodes, average_steps, burn_in : int
        The final long-run average reward (:func:`rl.evaluation.average_reward`);
        ``average_episodes`` defaults to ``eval_episodes``.
    on_point : callable, optional
        ``on_point(method, run, episode, value)`` after each evaluation, as it is
        measured (e.g. :meth:`causalnet.progress_log.ProgressLog.adaptation_hook`).
    iterations_per_episode : int or mapping of name to int
        Outer iterations a learning trainer makes per point of the curve (default 1:
        one iteration, i.e. one ``T``-step target episode, per point). With ``k > 1``
        each point costs the learner ``k`` target episodes; a mapping sets it per
        method (missing names: 1).

    Returns
    -------
    AdaptationCurves
        Per method: ``per_run`` ``(R, E + 1)`` (column 0 = before any target
        episode), mean and 95% CI over runs, curve averages and final average reward.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.algorithms import make_trainer
    >>> from rl.policies import UniformPolicy
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> lfs = make_trainer("sac-lfs", env, env.true_graph(), target_factor=0.65, rng=0, n_runs=2)
    >>> cur = adaptation_curves({"lfs": lfs, "uniform": UniformPolicy(env.action_counts)}, env, 0.65,
    ...                         episodes=3, eval_episodes=20, rng=1, average_steps=10)
    >>> cur.methods["lfs"].per_run.shape, bool(np.ptp(cur.methods["uniform"].per_run, axis=1).max() == 0)
    ((2, 4), True)
    """
    from rl.evaluation import average_reward, discounted_return

    if not isinstance(methods, Mapping) or not methods:
        raise ValueError("methods must be a non-empty mapping of name to trainer or policy")
    for name, value, least in (("episodes", episodes, 1), ("eval_episodes", eval_episodes, 2),
                               ("horizon", horizon, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    n = env.n_agents
    target = np.asarray(target_factor, dtype=np.float64)
    target = np.full(n, float(target)) if target.ndim == 0 else target
    if target.shape != (n,):
        raise ValueError(f"target_factor must be a scalar or have shape ({n},), got {target.shape}")
    runs = _resolve_runs(methods, n_runs)
    per_episode = ({name: iterations_per_episode for name in methods} if not isinstance(iterations_per_episode, Mapping)
                   else {name: iterations_per_episode.get(name, 1) for name in methods})
    for name, k in per_episode.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"iterations_per_episode of {name!r} must be an integer >= 1, got {k!r}")
    for name, method in methods.items():
        if isinstance(method, LEARNERS) and not (len(method.domain_factors) == 1 and
                                                 np.allclose(method.domain_factors[0], target)):
            raise ValueError(f"method {name!r}: a learning trainer must train in the target domain only "
                             f"(make_trainer(..., target_factor=...)); it trains in {method.domain_factors.tolist()}. "
                             "Deploy meta-trained policies frozen with deploy_zero_shot / zero_shot")
    target_env = env.with_domain_factor(target)
    eval_seeds = [s.spawn(2) for s in _seed_sequence(rng).spawn(runs)]

    def evaluate(policy: PolicyFn, run: int) -> float:
        res = discounted_return(target_env, policy, gamma=gamma, horizon=int(horizon), episodes=int(eval_episodes),
                                rng=np.random.default_rng(eval_seeds[run][0]), batch_size=int(eval_episodes))
        return res.mean

    def policies_of(method) -> list[PolicyFn]:
        if isinstance(method, LEARNERS):
            return method.policies()
        if callable(method):
            return [method] * runs
        return list(method)

    E = int(episodes)
    per_run = {name: np.empty((runs, E + 1)) for name in methods}
    for e in range(E + 1):
        if e > 0:
            for name, method in methods.items():
                if isinstance(method, LEARNERS):
                    method.iterate(int(per_episode[name]))
        for name, method in methods.items():
            for r, pol in enumerate(policies_of(method)):
                per_run[name][r, e] = evaluate(pol, r)
                if on_point is not None:
                    on_point(name, r, e, float(per_run[name][r, e]))
    curves = {}
    avg_eps = int(eval_episodes if average_episodes is None else average_episodes)
    for name, method in methods.items():
        final = np.array([average_reward(target_env, pol, episodes=avg_eps, steps=average_steps, burn_in=burn_in,
                                         rng=np.random.default_rng(eval_seeds[r][1]), batch_size=avg_eps).mean
                          for r, pol in enumerate(policies_of(method))])
        mean, lo, hi = mean_ci(per_run[name])
        curves[name] = MethodCurve(isinstance(method, LEARNERS), per_run[name], mean, lo, hi,
                                   per_run[name][:, 1:].mean(axis=1), final)
    settings = {"target_factor": target.tolist(), "episodes": E, "eval_episodes": int(eval_episodes),
                "gamma": float(gamma), "horizon": int(horizon), "n_runs": runs, "average_episodes": avg_eps,
                "average_steps": int(average_steps), "burn_in": int(burn_in),
                "iterations_per_episode": {name: int(k) for name, k in per_episode.items()
                                           if isinstance(methods[name], LEARNERS)}}
    return AdaptationCurves(np.arange(E + 1), curves, settings)


# ------------------------------------------------------------------ helpers
def _resolve_runs(methods: Mapping[str, Any], n_runs: int | None) -> int:
    counts = {}
    for name, method in methods.items():
        if isinstance(method, LEARNERS):
            counts[name] = method.n_runs
        elif callable(method):
            continue
        elif isinstance(method, Sequence) and method and all(callable(p) for p in method):
            counts[name] = len(method)
        else:
            raise TypeError(f"method {name!r} must be a GSACTrainer, a policy or a non-empty sequence of "
                            f"policies, got {type(method).__name__}")
    if n_runs is not None and (isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1):
        raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}")
    runs = int(n_runs) if n_runs is not None else (max(counts.values()) if counts else 1)
    bad = {name: c for name, c in counts.items() if c != runs}
    if bad:
        raise ValueError(f"methods {sorted(bad)} have {sorted(set(bad.values()))} runs, expected {runs} "
                         "(every trainer / policy sequence must hold one entry per run)")
    return runs


def _seed_sequence(rng: RngLike) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return np.random.SeedSequence(rng.entropy, spawn_key=rng.spawn_key, pool_size=rng.pool_size)
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.SeedSequence(rng)
    raise TypeError(f"rng must be a seed, SeedSequence or Generator, got {type(rng).__name__}")


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _jsonable(values: np.ndarray) -> Any:
    arr = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(arr), None, arr).tolist() if np.isnan(arr).any() else arr.tolist()
