"""The two signal-control baselines every traffic engineer expects, for :class:`~rl.envs.TrafficGridEnv`.

* :class:`FixedTimePolicy`: open-loop cycling, ``green`` steps of north-south then
  ``green`` steps of east-west, shifted by a per-intersection offset (a "green wave"
  offset shifts each intersection by its row plus column).
* :class:`MaxPressurePolicy`: Varaiya's max-pressure control (Varaiya 2013, "Max
  pressure control of a network of signalized intersections"): serve the phase whose
  approaches have the largest pressure, the upstream queue minus the
  turning-weighted downstream queues it feeds (an exit counts as an empty queue).
  It needs only the intersection's own and its neighbours' queues, and it is
  throughput-optimal in the model's class of networks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rl.envs.traffic import TrafficGridEnv

__all__ = ["FixedTimePolicy", "MaxPressurePolicy", "phase_pressures"]


def phase_pressures(env: TrafficGridEnv, states: np.ndarray) -> np.ndarray:
    """Pressure of each phase of each intersection, shape ``(B, n_agents, 2)``.

    The pressure of approach ``(i, d)`` is ``q(i, d) - sum_m turning[m] q(dest(i, d, m))``
    (``q = 0`` for an exit); a phase's pressure is the sum over its two green approaches
    (phase 0: N and S; phase 1: E and W).

    Examples
    --------
    >>> env = TrafficGridEnv(1, 2, switching_cost=0.0)
    >>> s = np.array([[2, 0, 0, 0, 0, 0, 0, 0]])      # intersection 0: two platoons waiting north
    >>> phase_pressures(env, s)[0].round(2).tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    """
    if not isinstance(env, TrafficGridEnv):
        raise TypeError(f"env must be a TrafficGridEnv, got {type(env).__name__}")
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != env.spec.n_state:
        raise ValueError(f"states has shape {states.shape}; expected (B, {env.spec.n_state})")
    batch, n = states.shape[0], env.n_agents
    q = states.reshape(batch, n, -1)[:, :, :4].astype(np.float64).reshape(batch, n * 4)
    padded = np.concatenate([q, np.zeros((batch, 1))], axis=1)      # index n*4: the exit
    dest = np.where(env.destination >= 0, env.destination, n * 4)   # (n, 4, 3)
    downstream = padded[:, dest] @ env.turning                      # (B, n, 4)
    approach = q.reshape(batch, n, 4) - downstream
    return np.stack([approach[:, :, 0] + approach[:, :, 2], approach[:, :, 1] + approach[:, :, 3]], axis=2)


class MaxPressurePolicy:
    """Serve the phase of largest pressure (:func:`phase_pressures`); ties drawn uniformly.

    Parameters
    ----------
    env : TrafficGridEnv

    Examples
    --------
    >>> env = TrafficGridEnv(1, 2, switching_cost=0.0)
    >>> s = np.array([[2, 0, 0, 0, 0, 1, 0, 0]])
    >>> MaxPressurePolicy(env)(s, np.random.default_rng(0)).tolist()
    [[0, 1]]
    """

    def __init__(self, env: TrafficGridEnv) -> None:
        if not isinstance(env, TrafficGridEnv):
            raise TypeError(f"env must be a TrafficGridEnv, got {type(env).__name__}")
        self.env = env

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = phase_pressures(self.env, states)
        tie_u = rng.random(p.shape[:2])
        diff = p[:, :, 1] - p[:, :, 0]
        return np.where(np.abs(diff) < 1e-12, (tie_u < 0.5).astype(np.int64), (diff > 0).astype(np.int64))


class FixedTimePolicy:
    """Open-loop cycle: intersection ``i`` shows phase ``((t + offset_i) // green) % 2`` at step ``t``.

    A fixed-time controller reads a clock, not the state. The policy keeps its own
    clock: ``t`` counts the calls since construction (or :meth:`restart`), modulo
    ``period`` when given. Every causalnet rollout (evaluation, data collection) calls a
    policy once per step of episodes that run in lockstep, so ``period`` = the episode
    length makes ``t`` the step within the episode.

    Parameters
    ----------
    env : TrafficGridEnv
    green : int
        Steps of each phase (cycle length ``2 * green``), >= 1.
    offset : int, array of shape (n_agents,) or "wave"
        Clock shift per intersection; ``"wave"`` uses ``row + col`` (a diagonal green wave).
    period : int, optional
        Episode length: the clock wraps to 0 after ``period`` calls.

    Examples
    --------
    >>> env = TrafficGridEnv(1, 2, switching_cost=0.0)
    >>> pol = FixedTimePolicy(env, green=2, offset="wave", period=10)
    >>> s = env.reset(1, np.random.default_rng(0))
    >>> [pol(s, None)[0].tolist() for _ in range(4)]
    [[0, 0], [0, 1], [1, 1], [1, 0]]
    """

    def __init__(self, env: TrafficGridEnv, *, green: int = 2, offset: int | np.ndarray | Literal["wave"] = 0,
                 period: int | None = None) -> None:
        if not isinstance(env, TrafficGridEnv):
            raise TypeError(f"env must be a TrafficGridEnv, got {type(env).__name__}")
        if isinstance(green, bool) or not isinstance(green, (int, np.integer)) or green < 1:
            raise ValueError(f"green must be an integer >= 1 (steps per phase), got {green!r}")
        if period is not None and (isinstance(period, bool) or not isinstance(period, (int, np.integer))
                                   or period < 1):
            raise ValueError(f"period must be a positive integer (the episode length) or None, got {period!r}")
        n = env.n_agents
        if isinstance(offset, str):
            if offset != "wave":
                raise ValueError(f"offset must be an integer, an array of {n} integers or 'wave', got {offset!r}")
            idx = np.arange(n)
            offsets = idx // env.cols + idx % env.cols
        else:
            offsets = np.broadcast_to(np.asarray(offset), (n,)).astype(np.int64) \
                if np.ndim(offset) == 0 or np.shape(offset) == (n,) else None
            if offsets is None or not np.issubdtype(np.asarray(offset).dtype, np.integer):
                raise ValueError(f"offset must be an integer, an array of {n} integers or 'wave', got {offset!r}")
        self.env, self.green, self.period = env, int(green), None if period is None else int(period)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.clock = 0

    def restart(self) -> None:
        """Set the clock back to step 0."""
        self.clock = 0

    def phases(self, t: int) -> np.ndarray:
        """Phase of every intersection at step ``t``, shape ``(n_agents,)``."""
        return ((t + self.offsets) // self.green) % 2

    def __call__(self, states: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        batch = np.asarray(states).shape[0]
        out = np.broadcast_to(self.phases(self.clock), (batch, self.env.n_agents)).astype(np.int64)
        self.clock += 1
        if self.period is not None:
            self.clock %= self.period
        return out
