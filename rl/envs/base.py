"""The batched, functional interface shared by every networked environment.

An environment holds only parameters. Stepping is functional: ``reset`` returns a
batch of ``B`` initial states and ``step`` maps states and actions to next states
and rewards, drawing all randomness from the ``numpy.random.Generator`` it is
given. The same generator state gives the same trajectory, bit for bit.

Shapes: states ``(B, spec.n_state)`` integers, actions ``(B, n_agents)`` integers,
rewards ``(B, n_agents)`` floats. The domain factor is one float per agent;
``reset`` and ``step`` accept ``domain_factor`` of shape ``(n_agents,)`` or
``(B, n_agents)`` to run copies in different domains at once (default: the
environment's own ``domain_factor``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import networkx as nx
import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import NetworkSpec, broadcast_domain_factor

__all__ = ["NetworkedEnv", "as_generator"]


def as_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Return ``rng`` if it is a Generator, else ``numpy.random.default_rng(rng)``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, a SeedSequence, an int seed or None, got {type(rng).__name__}")


class NetworkedEnv(ABC):
    """Abstract batched networked environment (see the module docstring)."""

    spec: NetworkSpec
    domain_factor: np.ndarray
    #: Discount and horizon the system is meant to be trained with; trainers fill an unset
    #: ``GSACConfig.gamma`` / ``horizon`` from them. ``None``: the user must give them.
    default_gamma: float | None = None
    default_horizon: int | None = None

    # ----------------------------------------------------------- dynamics
    @abstractmethod
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """Return ``batch_size`` initial states, shape ``(batch_size, spec.n_state)``."""

    @abstractmethod
    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Advance every copy one step; return ``(next_states, rewards)``."""

    @abstractmethod
    def true_graph(self) -> FactoredGraph:
        """The ground-truth factored graph (parents of every next-state coordinate and reward)."""

    @abstractmethod
    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "NetworkedEnv":
        """A copy of this environment in another domain."""

    # ----------------------------------------------------------- metadata
    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.spec.n_agents

    @property
    def action_counts(self) -> np.ndarray:
        """Number of actions of each agent, shape ``(n_agents,)``."""
        return np.asarray(self.spec.action_cardinality, dtype=np.int64)

    @property
    def interaction_graph(self) -> nx.Graph:
        """The undirected interaction graph of the agents."""
        return self.spec.interaction_graph

    def neighborhood(self, agent: int, k: int = 1) -> list[int]:
        """Agents within ``k`` hops of ``agent`` (itself included)."""
        return self.spec.neighborhood(agent, k)

    # ----------------------------------------------------------- helpers
    def _domain_factor(self, domain_factor: np.ndarray | None, batch: int) -> np.ndarray:
        """Validated domain factor broadcast to ``(batch, n_agents)``."""
        return broadcast_domain_factor(domain_factor, self.domain_factor, self.n_agents, batch)

    def _check_step_inputs(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        states = np.asarray(states)
        actions = np.asarray(actions)
        if states.ndim != 2 or states.shape[1] != self.spec.n_state:
            raise ValueError(f"states has shape {states.shape}; expected (B, {self.spec.n_state})")
        if actions.shape != (states.shape[0], self.n_agents):
            raise ValueError(f"actions has shape {actions.shape}; expected ({states.shape[0]}, {self.n_agents})")
        if not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"actions must be integers, got dtype {actions.dtype}")
        if actions.size:
            bad = (actions < 0) | (actions >= self.action_counts)
            if bad.any():
                b, i = map(int, np.argwhere(bad)[0])
                raise ValueError(f"action out of range: agent {i} (copy {b}) chose {int(actions[b, i])}; "
                                 f"valid actions are 0..{int(self.action_counts[i]) - 1}")
        return states, actions
