"""Monte Carlo evaluation of policies: discounted return and long-run average reward.

Both metrics run many independent episodes as one batch (or a few batches) through
the functional environment API and report the mean over episodes with a 95%
Student-t confidence interval. The per-episode value is the mean over agents, so
the interval describes the network-average metric; per-agent means are kept too.

Metrics
-------
discounted return
    The reference metric of the wireless benchmark: for each episode, the mean over
    agents of ``sum_{t=0}^{T-1} gamma^t r_i(t)`` starting from a fresh reset state,
    ``T = horizon``.
average reward
    The long-run reward per agent per step: each episode starts from a reset state,
    runs ``burn_in`` steps that are discarded, then ``steps`` more steps; its value
    is the mean of ``r_i(t)`` over agents and over those ``steps`` steps. Defaults:
    ``burn_in = 20``, ``steps = 100``.

Results are deterministic given the generator (or seed) and ``batch_size``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rl.envs.base import NetworkedEnv, as_generator

__all__ = ["EvaluationResult", "PolicyEvaluation", "average_reward", "discounted_return",
           "evaluate_policy", "summarize"]

PolicyFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]

DEFAULT_BATCH_SIZE = 8192
DEFAULT_BURN_IN = 20
DEFAULT_AVERAGE_STEPS = 100


@dataclass(frozen=True)
class EvaluationResult:
    """Mean of a per-episode metric with its 95% confidence interval.

    Attributes
    ----------
    mean : float
        Mean over episodes of the per-episode value (itself the mean over agents).
    ci95 : tuple of float
        Student-t 95% confidence interval ``(lo, hi)`` for ``mean``.
    std_err : float
        Standard error of ``mean`` (sample standard deviation / sqrt(episodes)).
    episodes : int
        Number of independent episodes.
    per_episode : ndarray, shape (episodes,)
        The per-episode values (mean over agents).
    per_agent : ndarray, shape (n_agents,)
        Mean over episodes of each agent's own value.
    per_agent_std_err : ndarray, shape (n_agents,)
        Standard error of each entry of ``per_agent``.
    """

    mean: float
    ci95: tuple[float, float]
    std_err: float
    episodes: int
    per_episode: np.ndarray = field(repr=False)
    per_agent: np.ndarray = field(repr=False)
    per_agent_std_err: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"mean": x, "ci95": [lo, hi], "std_err": s, "episodes": N}`` (JSON-ready)."""
        return {"mean": float(self.mean), "ci95": [float(self.ci95[0]), float(self.ci95[1])],
                "std_err": float(self.std_err), "episodes": int(self.episodes)}


@dataclass(frozen=True)
class PolicyEvaluation:
    """Both metrics of one policy (see the module docstring)."""

    discounted_return: EvaluationResult
    average_reward: EvaluationResult

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with one entry per metric."""
        return {"discounted_return": self.discounted_return.to_dict(),
                "average_reward": self.average_reward.to_dict()}


def summarize(values: np.ndarray) -> EvaluationResult:
    """Summarise per-episode, per-agent values of shape ``(episodes, n_agents)``.

    Examples
    --------
    >>> res = summarize(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 5.0]]))
    >>> res.mean, res.per_agent.tolist()
    (2.6666666666666665, [2.0, 3.3333333333333335])
    >>> res.ci95[0] < res.mean < res.ci95[1]
    True
    """
    from scipy import stats  # local: keeps ``import rl.policies`` light

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must have shape (episodes, n_agents), got {values.shape}")
    n_episodes = values.shape[0]
    if n_episodes < 2:
        raise ValueError(f"a confidence interval needs at least 2 episodes, got {n_episodes}")
    per_episode = values.mean(axis=1)
    mean = float(per_episode.mean())
    std_err = float(per_episode.std(ddof=1) / np.sqrt(n_episodes))
    half = float(stats.t.ppf(0.975, n_episodes - 1)) * std_err
    return EvaluationResult(
        mean=mean, ci95=(mean - half, mean + half), std_err=std_err, episodes=n_episodes,
        per_episode=per_episode, per_agent=values.mean(axis=0),
        per_agent_std_err=values.std(axis=0, ddof=1) / np.sqrt(n_episodes))


def _check_positive_int(value: Any, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _batches(episodes: int, batch_size: int) -> list[int]:
    full, rest = divmod(episodes, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def _rollout_weighted(env: NetworkedEnv, policy: PolicyFn, weights: np.ndarray, episodes: int,
                      rng: np.random.Generator, batch_size: int,
                      domain_factor: np.ndarray | None) -> np.ndarray:
    """Per-episode, per-agent ``sum_t weights[t] * r_i(t)``, shape ``(episodes, n_agents)``."""
    out = np.empty((episodes, env.n_agents))
    start = 0
    for size in _batches(episodes, batch_size):
        w = domain_factor
        states = env.reset(size, rng, domain_factor=w)
        acc = np.zeros((size, env.n_agents))
        for weight in weights:
            actions = np.asarray(policy(states, rng))
            states, rewards = env.step(states, actions, rng, domain_factor=w)
            if weight != 0.0:
                acc += weight * rewards
        out[start:start + size] = acc
        start += size
    return out


def discounted_return(env: NetworkedEnv, policy: PolicyFn, *, gamma: float, horizon: int,
                      episodes: int, rng: int | np.random.Generator | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE,
                      domain_factor: np.ndarray | None = None) -> EvaluationResult:
    """Mean over agents of ``sum_{t=0}^{horizon-1} gamma^t r_i(t)`` from the reset state.

    Parameters
    ----------
    env : NetworkedEnv
    policy : callable
        ``policy(states, rng) -> actions`` on batched states.
    gamma : float
        Discount factor in [0, 1].
    horizon : int
        Steps per episode ``T``.
    episodes : int
        Independent episodes (at least 2), run ``batch_size`` at a time.
    rng : Generator or int seed
    batch_size : int
        Largest batch stepped at once; results depend on it (through the order of draws).
    domain_factor : array of shape (n_agents,) or (episodes, n_agents), optional
        Domain factor passed to ``reset``/``step`` (default: the environment's own).

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.policies import UniformPolicy
    >>> env = WirelessAccessEnv(2, 3, users_per_vertex=1)
    >>> res = discounted_return(env, UniformPolicy(env.action_counts), gamma=0.7, horizon=10,
    ...                         episodes=200, rng=0)
    >>> res.episodes, res.ci95[0] <= res.mean <= res.ci95[1]
    (200, True)
    """
    gamma = float(gamma)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
    horizon = _check_positive_int(horizon, "horizon")
    episodes = _check_positive_int(episodes, "episodes", least=2)
    batch_size = _check_positive_int(batch_size, "batch_size")
    domain_factor = _per_episode_factor(env, domain_factor, episodes, batch_size)
    weights = gamma ** np.arange(horizon, dtype=np.float64)
    values = _run(env, policy, weights, episodes, as_generator(rng), batch_size, domain_factor)
    return summarize(values)


def average_reward(env: NetworkedEnv, policy: PolicyFn, *, episodes: int,
                   steps: int = DEFAULT_AVERAGE_STEPS, burn_in: int = DEFAULT_BURN_IN,
                   rng: int | np.random.Generator | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE,
                   domain_factor: np.ndarray | None = None) -> EvaluationResult:
    """Long-run reward per agent per step: mean of ``r_i(t)`` over ``steps`` steps after ``burn_in``.

    Each of the ``episodes`` independent episodes starts from a reset state, discards
    its first ``burn_in`` steps and averages the rewards of the next ``steps`` steps
    over agents and time. Other parameters as in :func:`discounted_return`.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.policies import UniformPolicy
    >>> env = WirelessAccessEnv(2, 3, users_per_vertex=1)
    >>> res = average_reward(env, UniformPolicy(env.action_counts), episodes=50, steps=20,
    ...                      burn_in=5, rng=0)
    >>> 0.0 < res.mean < 1.0
    True
    """
    steps = _check_positive_int(steps, "steps")
    burn_in = _check_positive_int(burn_in, "burn_in", least=0)
    episodes = _check_positive_int(episodes, "episodes", least=2)
    batch_size = _check_positive_int(batch_size, "batch_size")
    domain_factor = _per_episode_factor(env, domain_factor, episodes, batch_size)
    weights = np.concatenate([np.zeros(burn_in), np.full(steps, 1.0 / steps)])
    values = _run(env, policy, weights, episodes, as_generator(rng), batch_size, domain_factor)
    return summarize(values)


def evaluate_policy(env: NetworkedEnv, policy: PolicyFn, *, gamma: float, horizon: int,
                    episodes: int, rng: int | np.random.Generator | None = None,
                    average_episodes: int | None = None, steps: int = DEFAULT_AVERAGE_STEPS,
                    burn_in: int = DEFAULT_BURN_IN, batch_size: int = DEFAULT_BATCH_SIZE,
                    domain_factor: np.ndarray | None = None) -> PolicyEvaluation:
    """Both metrics, on two independent streams spawned from ``rng``.

    ``average_episodes`` defaults to ``episodes``.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> from rl.policies import UniformPolicy
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> ev = evaluate_policy(env, UniformPolicy(env.action_counts), gamma=0.7, horizon=10,
    ...                      episodes=20, steps=10, rng=1)
    >>> sorted(ev.to_dict())
    ['average_reward', 'discounted_return']
    """
    gen = as_generator(rng)
    disc_rng, avg_rng = gen.spawn(2)
    disc = discounted_return(env, policy, gamma=gamma, horizon=horizon, episodes=episodes,
                             rng=disc_rng, batch_size=batch_size, domain_factor=domain_factor)
    avg = average_reward(env, policy, episodes=episodes if average_episodes is None else average_episodes,
                         steps=steps, burn_in=burn_in, rng=avg_rng, batch_size=batch_size,
                         domain_factor=domain_factor)
    return PolicyEvaluation(disc, avg)


# ----------------------------------------------------------------- helpers
def _per_episode_factor(env: NetworkedEnv, domain_factor: np.ndarray | None, episodes: int,
                        batch_size: int) -> np.ndarray | None:
    if domain_factor is None:
        return None
    w = np.asarray(domain_factor, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(env.n_agents, float(w))
    if w.shape not in ((env.n_agents,), (episodes, env.n_agents)):
        raise ValueError(f"domain_factor has shape {w.shape}; expected ({env.n_agents},) "
                         f"or ({episodes}, {env.n_agents})")
    return w


def _run(env: NetworkedEnv, policy: PolicyFn, weights: np.ndarray, episodes: int,
         rng: np.random.Generator, batch_size: int, domain_factor: np.ndarray | None) -> np.ndarray:
    if domain_factor is None or domain_factor.ndim == 1:
        return _rollout_weighted(env, policy, weights, episodes, rng, batch_size, domain_factor)
    # one factor row per episode: run chunk by chunk with the matching rows
    out = np.empty((episodes, env.n_agents))
    start = 0
    for size in _batches(episodes, batch_size):
        out[start:start + size] = _rollout_weighted(env, policy, weights, size, rng, size,
                                                    domain_factor[start:start + size])
        start += size
    return out
