"""The policy protocol and the uniform random policy.

A policy maps a batch of states ``(B, n_state)`` and a ``numpy.random.Generator``
to integer actions ``(B, n_agents)``. Policies that depend on the domain factor
hold their estimate ``w_hat`` themselves.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Policy", "UniformPolicy"]


@runtime_checkable
class Policy(Protocol):
    """Anything callable as ``policy(states, rng) -> actions``."""

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


class UniformPolicy:
    """Every agent picks each of its actions with equal probability.

    Parameters
    ----------
    action_counts : array of int, shape (n_agents,)
        Number of actions of each agent.

    Examples
    --------
    >>> pol = UniformPolicy([2, 3])
    >>> pol(np.zeros((4, 5)), np.random.default_rng(0)).shape
    (4, 2)
    """

    def __init__(self, action_counts) -> None:
        self.action_counts = np.asarray(action_counts, dtype=np.int64)
        if self.action_counts.ndim != 1 or np.any(self.action_counts < 1):
            raise ValueError("action_counts must be a 1-d array of positive integers")

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        batch = np.asarray(states).shape[0]
        u = rng.random((batch, self.action_counts.size))
        return np.minimum((u * self.action_counts).astype(np.int64), self.action_counts - 1)
