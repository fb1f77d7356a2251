"""A small networked system of our own, written as a user would: an SIS epidemic as a PettingZoo ParallelEnv.

Agents sit on a ring (or a grid). Agent ``i`` is infected (1) or healthy (0) and picks
``0`` (wait) or ``1`` (treat, cost ``cost``). A healthy agent catches the infection from
each infected neighbour with probability ``beta`` (its domain factor; treatment
protects: the probability is multiplied by ``protect``) plus a small background rate;
an infected agent recovers with probability ``recover_treated`` when treated, else
``recover``. Reward ``-infected(t) - cost * treat(t)``.

The causal package never sees this file: tests and ``benchmarks/own_system.py`` reach it
through ``--env tests.sis_system:make_sis`` or through CSV logs.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import numpy as np
from pettingzoo.utils.env import ParallelEnv

__all__ = ["SISEpidemic", "expert_actions", "make_sis", "network_dict", "ring_edges"]


def ring_edges(n: int) -> list[tuple[int, int]]:
    """Edges of a ring of ``n`` agents."""
    return [(i, (i + 1) % n) for i in range(n)] if n > 2 else [(0, 1)]


def grid_edges(rows: int, cols: int) -> list[tuple[int, int]]:
    """Edges of a ``rows x cols`` grid."""
    idx = lambda r, c: r * cols + c
    return ([(idx(r, c), idx(r, c + 1)) for r in range(rows) for c in range(cols - 1)]
            + [(idx(r, c), idx(r + 1, c)) for r in range(rows - 1) for c in range(cols)])


class SISEpidemic(ParallelEnv):
    """SIS epidemic with treatment (see the module docstring)."""

    metadata = {"name": "sis_epidemic_v0", "render_modes": [], "is_parallelizable": True}
    render_mode = None

    def __init__(self, n_agents: int = 8, *, beta: float = 0.3, topology: str = "ring", cost: float = 0.35,
                 protect: float = 0.25, recover: float = 0.1, recover_treated: float = 0.8,
                 background: float = 0.02, initial: float = 0.3, max_steps: int = 50) -> None:
        self.n = int(n_agents)
        if topology == "ring":
            self.edges = ring_edges(self.n)
        else:
            side = int(round(np.sqrt(self.n)))
            self.edges = grid_edges(side, self.n // side)
        self.beta, self.cost, self.protect = float(beta), float(cost), float(protect)
        self.recover, self.recover_treated = float(recover), float(recover_treated)
        self.background, self.initial, self.max_steps = float(background), float(initial), int(max_steps)
        self.adj = np.zeros((self.n, self.n), dtype=np.int64)
        for a, b in self.edges:
            self.adj[a, b] = self.adj[b, a] = 1
        self.possible_agents = [f"node_{i}" for i in range(self.n)]
        self.agents: list[str] = []
        self._obs_space = {a: gymnasium.spaces.Discrete(2) for a in self.possible_agents}
        self._act_space = {a: gymnasium.spaces.Discrete(2) for a in self.possible_agents}
        self._rng = np.random.default_rng()
        self.infected = np.zeros(self.n, dtype=np.int64)
        self.t = 0

    def observation_space(self, agent: str):
        return self._obs_space[agent]

    def action_space(self, agent: str):
        return self._act_space[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        if options and "beta" in options:
            self.beta = float(options["beta"])
        self.infected = (self._rng.random(self.n) < self.initial).astype(np.int64)
        self.t = 0
        self.agents = list(self.possible_agents)
        return self._obs(), {a: {} for a in self.agents}

    def _obs(self) -> dict[str, int]:
        return {a: int(self.infected[i]) for i, a in enumerate(self.possible_agents)}

    def step(self, actions: dict[str, int]):
        treat = np.array([int(actions[a]) for a in self.possible_agents], dtype=np.int64)
        inf = self.infected
        reward = -inf.astype(np.float64) - self.cost * treat
        k = self.adj @ inf
        p_inf = 1.0 - (1.0 - self.background) * (1.0 - self.beta) ** k
        p_inf = np.where(treat == 1, p_inf * self.protect, p_inf)
        p_rec = np.where(treat == 1, self.recover_treated, self.recover)
        u = self._rng.random(self.n)
        self.infected = np.where(inf == 1, (u >= p_rec).astype(np.int64), (u < p_inf).astype(np.int64))
        self.t += 1
        done = self.t >= self.max_steps
        live = self.agents
        rewards = {a: float(reward[i]) for i, a in enumerate(self.possible_agents)}
        obs = self._obs()
        out = (obs, rewards, {a: False for a in live}, {a: done for a in live}, {a: {} for a in live})
        if done:
            self.agents = []
        return out

    def state(self) -> np.ndarray:
        return self.infected.copy()


def make_sis(n_agents: int = 8, beta: float = 0.3, **kwargs: Any) -> SISEpidemic:
    """The factory named on the command line: ``--env tests.sis_system:make_sis``."""
    return SISEpidemic(n_agents, beta=beta, **kwargs)


def not_a_parallel_env(**kwargs: Any) -> dict:
    """A broken factory (tests: it returns a dict)."""
    return {"beta": kwargs.get("beta")}


class _BoxObs(SISEpidemic):
    @functools.cache
    def observation_space(self, agent: str):
        return gymnasium.spaces.Box(0.0, 1.0, shape=(1,))


def make_box_sis(**kwargs: Any) -> SISEpidemic:
    """A factory whose observation spaces are continuous (tests: refused)."""
    return _BoxObs(**kwargs)


def network_dict(n_agents: int = 8, topology: str = "ring", *, gamma: float = 0.9, horizon: int = 10) -> dict:
    """The network file of :func:`make_sis` (one binary state ``s{i}_0`` per agent)."""
    env = SISEpidemic(n_agents, topology=topology)
    return {"n_agents": n_agents, "edges": [list(e) for e in env.edges], "state_dims": 1,
            "gamma": gamma, "horizon": horizon}


def expert_actions(infected: np.ndarray, edges: list[tuple[int, int]]) -> np.ndarray:
    """Hand-written heuristic: treat when infected or when a neighbour is infected. ``infected``: (B, n)."""
    n = infected.shape[1]
    adj = np.zeros((n, n), dtype=np.int64)
    for a, b in edges:
        adj[a, b] = adj[b, a] = 1
    return ((infected == 1) | ((infected @ adj) > 0)).astype(np.int64)
