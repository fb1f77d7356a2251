"""The ALOHA-style heuristic of the wireless benchmark and its transmit-probability search.

Each user that holds a packet sends, with probability ``q`` (the transmit
probability), its earliest-deadline packet (the non-empty queue slot with the
fewest steps to live); otherwise, or when its queue is empty, it stays idle. The
access point is drawn among the user's APs with probability proportional to
``q_k / users_served_k``: APs that deliver more often and serve fewer users are
preferred. This is the benchmark policy of the reference code, whose best ``q``
is found by a grid search over ``0, 0.05, ..., 0.95``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from rl.envs.base import as_generator
from rl.envs.wireless import WirelessAccessEnv
from rl.evaluation import DEFAULT_BATCH_SIZE, EvaluationResult, discounted_return

__all__ = ["AlohaPolicy", "AlohaSearchResult", "DEFAULT_ALOHA_GRID", "aloha_ap_probabilities",
           "aloha_grid_search"]

DEFAULT_ALOHA_GRID: tuple[float, ...] = tuple(i / 20 for i in range(20))
"""The reference search grid of transmit probabilities: 0, 0.05, ..., 0.95."""


def aloha_ap_probabilities(env: WirelessAccessEnv) -> np.ndarray:
    """AP-choice probabilities of every user, shape ``(n_agents, max_aps)``.

    Entry ``[i, k]`` is the probability that user ``i`` picks its ``k``-th AP (APs in
    the order of ``env.aps_of_user[i]``), proportional to ``q_k / users_per_ap[k]``;
    padding columns are 0. A user whose APs all have ``q_k = 0`` picks uniformly.

    Examples
    --------
    >>> env = WirelessAccessEnv(2, 3, users_per_vertex=1, transmit=[0.5, 1.0])
    >>> aloha_ap_probabilities(env)[1].round(3).tolist()
    [0.333, 0.667]
    """
    max_aps = max(len(aps) for aps in env.aps_of_user)
    probs = np.zeros((env.n_agents, max_aps))
    for i, aps in enumerate(env.aps_of_user):
        weight = env.transmit[aps] / env.users_per_ap[aps]
        total = weight.sum()
        probs[i, :len(aps)] = weight / total if total > 0 else 1.0 / len(aps)
    return probs


class AlohaPolicy:
    """ALOHA-style heuristic for :class:`~rl.envs.WirelessAccessEnv` (see the module docstring).

    Parameters
    ----------
    env : WirelessAccessEnv
        The environment whose topology and AP success probabilities the policy uses.
    transmit_probability : float or array of shape (n_agents,)
        Probability ``q`` that a user with a packet sends this step.

    Examples
    --------
    >>> env = WirelessAccessEnv(3, 4, users_per_vertex=2)
    >>> pol = AlohaPolicy(env, 0.4)
    >>> states = env.reset(5, np.random.default_rng(0))
    >>> actions = pol(states, np.random.default_rng(1))
    >>> actions.shape, bool(np.all(actions[states[:, 1::2] == 0] == 0))
    ((5, 24), True)
    """

    def __init__(self, env: WirelessAccessEnv, transmit_probability: float | np.ndarray) -> None:
        if not isinstance(env, WirelessAccessEnv):
            raise TypeError(f"env must be a WirelessAccessEnv, got {type(env).__name__}")
        q = np.asarray(transmit_probability, dtype=np.float64)
        if q.ndim == 0:
            q = np.full(env.n_agents, float(q))
        if q.shape != (env.n_agents,) or not np.all((q >= 0) & (q <= 1)):
            raise ValueError(f"transmit_probability must be a probability in [0, 1] (a scalar or "
                             f"{env.n_agents} values), got {transmit_probability!r}")
        self.transmit_probability = q
        self.n_agents = env.n_agents
        self.deadline = env.deadline
        self.n_aps_of_user = np.array([len(aps) for aps in env.aps_of_user], dtype=np.int64)
        # cumulative AP-choice table; the last real entry and the padding are +inf so that
        # counting thresholds below a uniform draw gives a valid AP index for every user
        cum = np.cumsum(aloha_ap_probabilities(env), axis=1)
        cols = np.arange(cum.shape[1])[None, :]
        cum[cols >= (self.n_aps_of_user[:, None] - 1)] = np.inf
        self._cumulative = cum

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        states = np.asarray(states)
        if states.ndim != 2 or states.shape[1] != self.n_agents * self.deadline:
            raise ValueError(f"states has shape {states.shape}; expected (B, {self.n_agents * self.deadline}) "
                             f"({self.n_agents} users x deadline {self.deadline})")
        batch = states.shape[0]
        queue = states.reshape(batch, self.n_agents, self.deadline)
        has_packet = queue.any(axis=2)
        earliest = np.argmax(queue != 0, axis=2)          # first non-empty slot
        send_u = rng.random((batch, self.n_agents))
        ap_u = rng.random((batch, self.n_agents))
        ap_index = (ap_u[:, :, None] >= self._cumulative[None]).sum(axis=2)
        sends = has_packet & (send_u < self.transmit_probability)
        action = 1 + earliest * self.n_aps_of_user + ap_index
        return np.where(sends, action, 0).astype(np.int64)


@dataclass(frozen=True)
class AlohaSearchResult:
    """Outcome of :func:`aloha_grid_search`.

    Attributes
    ----------
    probabilities : tuple of float
        The transmit probabilities tried, in order.
    results : tuple of EvaluationResult
        Discounted return of each.
    best_q : float
        The probability with the highest mean (first one on ties).
    """

    probabilities: tuple[float, ...]
    results: tuple[EvaluationResult, ...]
    best_q: float

    @property
    def best(self) -> EvaluationResult:
        """Result of ``best_q`` (an optimistic estimate: it won the search)."""
        return self.results[self.probabilities.index(self.best_q)]

    def table(self) -> list[dict[str, Any]]:
        """One JSON-ready row ``{"q": q, "discounted_return": {...}}`` per probability."""
        return [{"q": q, "discounted_return": r.to_dict()} for q, r in zip(self.probabilities, self.results)]


def aloha_grid_search(env: WirelessAccessEnv, *, gamma: float, horizon: int, episodes: int,
                      probabilities: Sequence[float] = DEFAULT_ALOHA_GRID,
                      rng: int | np.random.Generator | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> AlohaSearchResult:
    """Evaluate the ALOHA heuristic's discounted return at each transmit probability.

    Every probability gets its own independent stream spawned from ``rng``.

    Examples
    --------
    >>> env = WirelessAccessEnv(3, 4, users_per_vertex=2)
    >>> res = aloha_grid_search(env, gamma=0.7, horizon=10, episodes=100,
    ...                         probabilities=[0.0, 0.4], rng=0)
    >>> res.best_q, res.results[0].mean
    (0.4, 0.0)
    """
    qs = tuple(float(q) for q in probabilities)
    if not qs:
        raise ValueError("probabilities must hold at least one transmit probability")
    bad = [q for q in qs if not 0.0 <= q <= 1.0]
    if bad:
        raise ValueError(f"probabilities must lie in [0, 1], got {bad}")
    streams = as_generator(rng).spawn(len(qs))
    results = tuple(discounted_return(env, AlohaPolicy(env, q), gamma=gamma, horizon=horizon,
                                      episodes=episodes, rng=stream, batch_size=batch_size)
                    for q, stream in zip(qs, streams))
    best = int(np.argmax([r.mean for r in results]))
    return AlohaSearchResult(qs, results, qs[best])
