"""Advantage-based actor weights for the localized actor-critic (GSAC and the SAC baselines).

The reference actor of :mod:`rl.gsac` multiplies ``grad log pi_i`` by the raw critic
values ``(1/n) sum_{j in N_i} Q_j``. Its steps therefore grow with the reward's scale
and, worse, with its offset: adding a constant ``c`` to every reward adds about
``c / (1 - gamma)`` to every ``Q_j`` and pushes each visited action's logit by that
amount, whatever the action's merit. The advantage actor removes both dependences:

* **Reward normalisation** (``reward_norm=True``): each run measures the mean ``mu`` and
  standard deviation ``sigma`` of the rewards of its first ``window`` rollouts (all agents
  pooled; the statistics grow rollout by rollout, then stay fixed so that the critic's
  targets stop moving) and the critic learns from ``(r - mu) / sigma``. An affine change of the rewards ``r -> a r + c`` (``a > 0``)
  changes ``mu`` to ``a mu + c`` and ``sigma`` to ``a sigma``, so the normalised
  rewards, hence the whole run, are the same (up to rounding).
* **Running baseline**: the actor of agent ``i`` uses ``Q_j(x_t) - b_j`` for its
  neighbours ``j``, where ``b_j`` is a running mean of ``Q_j`` over the previous
  rollouts (a plain mean over the first ``window`` rollouts, then an exponential one
  over about ``window``). ``b_j`` does not depend on the current actions, so the
  expected gradient is unchanged; it removes what every action shares, in particular
  whatever offset the rewards still carry (``reward_norm=False``). ``docs/gsac.md``
  says why a learned state-value table was measured and rejected.
* **Neighbourhood mean and the horizon rule**: agent ``i`` averages the advantages over
  ``N_i^kappa`` (``1/|N_i|`` instead of ``1/n``, so the step does not shrink with the
  size of the network) and the actor step is ``actor_lr / H / sqrt(k + 1)`` with the
  effective horizon ``H = sum_{t=0}^{T} gamma^t``: the rollout's gradient sums ``H``
  discounted terms of unit-scale advantages, so dividing by ``H`` makes one step move a
  logit by about ``actor_lr`` times an average advantage, whatever ``gamma`` and ``T``.

:class:`AdvantageWeights` holds the per-run statistics and the baselines; the
trainer calls :meth:`AdvantageWeights.critic_targets` before its TD sweep and
:meth:`AdvantageWeights.weights` after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["AdvantageWeights", "RunningMoments", "effective_horizon"]


def effective_horizon(gamma: float, horizon: int) -> float:
    """``H = sum_{t=0}^{T} gamma^t``: the number of discounted terms in one rollout's gradient.

    >>> effective_horizon(0.5, 2), effective_horizon(1.0, 9)
    (1.75, 10.0)
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
    if int(horizon) < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon!r}")
    return float(np.sum(float(gamma) ** np.arange(int(horizon) + 1, dtype=np.float64)))


class RunningMoments:
    """Running mean and variance of every value seen, one pair per run (Chan's merge).

    >>> m = RunningMoments(2)
    >>> m.update(np.array([[1.0, 3.0], [0.0, 0.0]]))
    >>> m.mean.tolist(), m.std().tolist()
    ([2.0, 0.0], [1.0, 0.0])
    """

    def __init__(self, n_runs: int) -> None:
        self.count = np.zeros(n_runs)
        self.mean = np.zeros(n_runs)
        self.m2 = np.zeros(n_runs)

    def update(self, values: np.ndarray) -> None:
        """Add ``values`` of shape ``(R, ...)`` (all entries of row ``r`` go to run ``r``)."""
        flat = np.asarray(values, dtype=np.float64).reshape(self.count.size, -1)
        b = flat.shape[1]
        if b == 0:
            return
        b_mean = flat.mean(axis=1)
        b_m2 = ((flat - b_mean[:, None]) ** 2).sum(axis=1)
        total = self.count + b
        delta = b_mean - self.mean
        self.mean = self.mean + delta * (b / total)
        self.m2 = self.m2 + b_m2 + delta ** 2 * (self.count * b / total)
        self.count = total

    def std(self) -> np.ndarray:
        """Population standard deviation per run (0 before any spread was seen)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, np.sqrt(self.m2 / np.maximum(self.count, 1.0)), 0.0)

    def normalise(self, values: np.ndarray) -> np.ndarray:
        """``(values - mean) / std`` per run (``std = 0``: divide by 1; the numerators are 0 then)."""
        shape = (-1,) + (1,) * (np.ndim(values) - 1)
        sd = self.std()
        sd = np.where(sd > 0.0, sd, 1.0)
        return (values - self.mean.reshape(shape)) / sd.reshape(shape)

    def state(self) -> dict[str, list[float]]:
        """JSON-ready state."""
        return {"count": self.count.tolist(), "mean": self.mean.tolist(), "m2": self.m2.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state`."""
        self.count = np.asarray(state["count"], dtype=np.float64)
        self.mean = np.asarray(state["mean"], dtype=np.float64)
        self.m2 = np.asarray(state["m2"], dtype=np.float64)


class AdvantageWeights:
    """Per-agent running baselines and reward statistics of the advantage actor.

    Parameters
    ----------
    neighborhoods : list of list of int
        ``N_i^kappa`` of every agent.
    n_runs : int
    reward_norm : bool
        Normalise rewards by the mean and standard deviation of the first ``window`` rollouts.
    window : int
        The baseline ``b_j`` is a running mean of ``Q_j`` over the rollouts with weight
        ``max(1 / (k + 1), 1 / window)`` on rollout ``k``: a plain mean for the first
        ``window`` rollouts, then an exponential average over about ``window`` of them.

    Examples
    --------
    >>> aw = AdvantageWeights([[0, 1], [0, 1]], n_runs=1)
    >>> q = np.array([[[1.0, 3.0]], [[3.0, 5.0]]])          # (T+1, R, n)
    >>> aw.weights(q, discount=np.ones(2))[:, 0].tolist()  # first rollout: baseline 0
    [[2.0, 2.0], [4.0, 4.0]]
    >>> aw.baseline.tolist()                                # then the rollout's mean Q_j
    [[2.0, 4.0]]
    """

    def __init__(self, neighborhoods: list[list[int]], *, n_runs: int, reward_norm: bool = True,
                 window: int = 100) -> None:
        n = len(neighborhoods)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        self.reward_norm = bool(reward_norm)
        self.window = int(window)
        self.moments = RunningMoments(n_runs)
        self.norm_rollouts = 0
        self.baseline = np.zeros((n_runs, n))
        self.updates = 0
        width = max(len(nb) for nb in neighborhoods)
        self._nbr = np.full((n, width), n, dtype=np.int64)          # n: a zero pad column
        for i, nb in enumerate(neighborhoods):
            self._nbr[i, :len(nb)] = nb
        self._inv_size = 1.0 / np.array([len(nb) for nb in neighborhoods], dtype=np.float64)

    def critic_targets(self, rewards: np.ndarray, horizon: int) -> np.ndarray:
        """Rewards the critic learns from: ``rewards (T+1, R, n)`` normalised per run.

        During the first ``window`` rollouts the moments are updated with ``rewards[:T]``
        (the rewards of the TD sweep) first, so the first rollout is normalised by its own
        statistics; afterwards they stay fixed. Entry ``T`` (unused by the sweep) is 0.
        """
        out = np.zeros_like(rewards)
        used = rewards[:horizon]
        if not self.reward_norm:
            out[:horizon] = used
            return out
        if self.norm_rollouts < self.window:
            self.moments.update(np.moveaxis(used, 1, 0))
            self.norm_rollouts += 1
        out[:horizon] = np.moveaxis(self.moments.normalise(np.moveaxis(used, 1, 0)), 0, 1)
        return out

    def weights(self, q: np.ndarray, *, discount: np.ndarray) -> np.ndarray:
        """Actor weights ``gamma^t (1/|N_i|) sum_{j in N_i} (Q_j(x_t) - b_j)``, shape ``(T+1, R, n)``.

        ``q`` holds ``Q_j(x^j_t)`` after the critic's sweep, shape ``(T+1, R, n)``;
        ``discount`` is ``gamma^t``, shape ``(T+1,)``. The baselines used are those of
        the previous rollouts; this rollout's mean ``Q_j`` is folded in afterwards.
        """
        adv = q - self.baseline[None]
        T1, R, n = adv.shape
        pad = np.concatenate([adv, np.zeros((T1, R, 1))], axis=-1)
        weight = pad[..., self._nbr].sum(axis=-1) * self._inv_size * discount[:, None, None]
        rate = max(1.0 / (self.updates + 1), 1.0 / self.window)
        self.baseline += rate * (q.mean(axis=0) - self.baseline)
        self.updates += 1
        return weight

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, metadata)``: the baselines, the update count and the reward moments."""
        return {"baseline": self.baseline.copy()}, {"updates": int(self.updates), "norm_rollouts": int(self.norm_rollouts),
                                                    "moments": self.moments.state()}

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        baseline = np.asarray(arrays["baseline"], dtype=np.float64)
        if baseline.shape != self.baseline.shape:
            raise ValueError(f"baseline has shape {baseline.shape}, expected {self.baseline.shape}")
        self.baseline = baseline.copy()
        self.updates = int(meta["updates"])
        self.norm_rollouts = int(meta["norm_rollouts"])
        self.moments.set_state(meta["moments"])
