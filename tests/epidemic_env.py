"""An epidemic on a grid: a networked system the toolkit was never tuned on (test helper).

Each agent is a site on a ``side x side`` grid (4-neighbourhood). Its one state coordinate
``s_i`` is 0 (healthy) or 1 (infected); its action ``a_i`` is 0 (do nothing) or 1
(intervene: protect a healthy site, treat an infected one).

* A healthy site with ``k`` infected neighbours is infected with probability
  ``1 - (1 - beta_i (1 - protection a_i))^k``. The domain factor ``w_i = beta_i`` is the
  infection rate: it acts **only when a neighbour is infected** (``k = 0`` gives 0 in
  every domain), a conditional domain change.
* An infected site recovers with probability ``recover + treat_bonus * a_i``.
* The reward ``r_i = -s_i - cost * a_i`` is a deterministic function of ``(s_i, a_i)``
  and never positive.
* Reset: every site infected independently with probability ``initial``.

The system declares no ``default_gamma`` / ``default_horizon``: whoever trains on it must
choose them. :func:`expert_actions` is the hand-written heuristic: intervene when infected
or when a neighbour is infected.
"""

from __future__ import annotations

import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from rl.envs.base import NetworkedEnv

__all__ = ["EpidemicEnv", "ExpertPolicy", "expert_actions"]


def _grid_edges(side: int) -> list[tuple[int, int]]:
    edges = []
    for r in range(side):
        for c in range(side):
            i = r * side + c
            if c + 1 < side:
                edges.append((i, i + 1))
            if r + 1 < side:
                edges.append((i, i + side))
    return edges


class EpidemicEnv(NetworkedEnv):
    """Batched epidemic on a ``side x side`` grid (see the module docstring).

    Examples
    --------
    >>> env = EpidemicEnv(3, infection=0.3)
    >>> s = env.reset(2, np.random.default_rng(0))
    >>> nxt, r = env.step(s, np.zeros((2, 9), dtype=int), np.random.default_rng(1))
    >>> nxt.shape, bool((r <= 0).all())
    ((2, 9), True)
    """

    def __init__(self, side: int = 4, *, infection: float | np.ndarray = 0.35, protection: float = 0.75,
                 recover: float = 0.25, treat_bonus: float = 0.35, cost: float = 0.3,
                 initial: float = 0.2) -> None:
        if side < 2:
            raise ValueError(f"side must be >= 2, got {side}")
        self.side = int(side)
        n = self.side * self.side
        self.spec = default_spec(n, _grid_edges(self.side), 1, 2, 2)
        w = np.asarray(infection, dtype=np.float64)
        self.domain_factor = np.full(n, float(w)) if w.ndim == 0 else w.copy()
        if self.domain_factor.shape != (n,) or np.any((self.domain_factor < 0) | (self.domain_factor > 1)):
            raise ValueError(f"infection must be a probability or {n} of them, got {infection!r}")
        self.protection, self.recover, self.treat_bonus = float(protection), float(recover), float(treat_bonus)
        self.cost, self.initial = float(cost), float(initial)
        adj = np.zeros((n, n))
        for i, j in self.spec.edges:
            adj[i, j] = adj[j, i] = 1.0
        self.adjacency = adj

    def reset(self, batch_size: int, rng, *, domain_factor=None) -> np.ndarray:
        return (rng.random((int(batch_size), self.n_agents)) < self.initial).astype(np.int64)

    def step(self, states, actions, rng, *, domain_factor=None):
        states, actions = self._check_step_inputs(states, actions)
        beta = self._domain_factor(domain_factor, states.shape[0])
        k = states @ self.adjacency                                     # infected neighbours
        p_inf = 1.0 - (1.0 - beta * (1.0 - self.protection * actions)) ** k
        p_rec = self.recover + self.treat_bonus * actions
        u = rng.random(states.shape)
        nxt = np.where(states == 1, (u >= p_rec).astype(np.int64), (u < p_inf).astype(np.int64))
        rewards = -states.astype(np.float64) - self.cost * actions
        return nxt, rewards

    def true_graph(self) -> FactoredGraph:
        spec = self.spec
        parents = {}
        for i in range(self.n_agents):
            nbrs = [j for j in spec.neighborhood(i, 1) if j != i]
            parents[f"s{i}_0"] = [f"s{i}_0", f"a{i}", *[f"s{j}_0" for j in nbrs], spec.domain_name]
            parents[f"r{i}"] = [f"s{i}_0", f"a{i}"]
        return FactoredGraph(spec, parents)

    def with_domain_factor(self, domain_factor) -> "EpidemicEnv":
        return EpidemicEnv(self.side, infection=domain_factor, protection=self.protection, recover=self.recover,
                           treat_bonus=self.treat_bonus, cost=self.cost, initial=self.initial)


def expert_actions(states: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """Intervene when infected or when at least one neighbour is infected."""
    states = np.asarray(states)
    return ((states == 1) | ((states @ adjacency) > 0)).astype(np.int64)


class ExpertPolicy:
    """:func:`expert_actions` as a policy ``policy(states, rng) -> actions``."""

    def __init__(self, env: EpidemicEnv) -> None:
        self.adjacency = env.adjacency

    def __call__(self, states: np.ndarray, rng=None) -> np.ndarray:
        return expert_actions(states, self.adjacency)
