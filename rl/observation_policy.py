"""Acting from PettingZoo observation dicts.

A trained :class:`~rl.actors.LocalizedSoftmaxPolicy` reads, for every agent, a few state
coordinates (its ACR or its own state). In a PettingZoo ``ParallelEnv``
(:mod:`rl.envs.pettingzoo_adapter`) each agent observes only its own coordinates.
:class:`ObservationPolicy` gathers each agent's inputs from the observations of the agents
that own them (its neighbours) and returns one action per live agent, sampled or greedy.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from causalnet.spec import NetworkSpec
from rl.actors import LocalizedSoftmaxPolicy

__all__ = ["ObservationPolicy", "run_parallel_episode"]


class ObservationPolicy:
    """``policy(observations, rng) -> {agent name: action}`` for a PettingZoo ``ParallelEnv``.

    Parameters
    ----------
    policy : LocalizedSoftmaxPolicy
        The trained policy (its ``w_hat`` is used as set).
    spec : NetworkSpec
        The system's spec: which state coordinates each agent observes.
    mode : "sample" or "greedy"
        Draw from the softmax, or take each agent's most probable action.
    agent_names : sequence of str, optional
        Name of agent ``i`` (default ``"agent_{i}"``, the adapter's names).

    Attributes
    ----------
    needs : list of list of int
        For each agent, the agents whose observations its action reads.

    Examples
    --------
    >>> from rl.features import PolynomialFeatures
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 1, 2, 2)
    >>> theta = np.zeros((2, 4, 2, 2)); theta[0, 3, 0, 1] = 5.0
    >>> pol = LocalizedSoftmaxPolicy(theta, [[0, 1], [1]], [[2, 2], [2]], [2, 2], PolynomialFeatures(2),
    ...                              w_hat=[0.5, 0.5])
    >>> obs_pol = ObservationPolicy(pol, spec, mode="greedy")
    >>> obs_pol({"agent_0": np.array([1]), "agent_1": np.array([1])}, None)
    {'agent_0': 1, 'agent_1': 0}
    >>> obs_pol.needs
    [[0, 1], [1]]
    """

    def __init__(self, policy: LocalizedSoftmaxPolicy, spec: NetworkSpec, *, mode: str = "sample",
                 agent_names: Sequence[str] | None = None) -> None:
        if not isinstance(policy, LocalizedSoftmaxPolicy):
            raise TypeError(f"policy must be a LocalizedSoftmaxPolicy, got {type(policy).__name__}")
        if policy.n_agents != spec.n_agents:
            raise ValueError(f"the policy has {policy.n_agents} agents, the spec {spec.n_agents}")
        if mode not in ("sample", "greedy"):
            raise ValueError(f"mode must be 'sample' or 'greedy', got {mode!r}")
        self.policy, self.spec, self.mode = policy, spec, mode
        n = spec.n_agents
        self.agent_names = [f"agent_{i}" for i in range(n)] if agent_names is None else list(agent_names)
        if len(self.agent_names) != n or len(set(self.agent_names)) != n:
            raise ValueError(f"agent_names must name {n} distinct agents, got {agent_names!r}")
        self._index = {name: i for i, name in enumerate(self.agent_names)}
        self._columns = [list(spec.agent_state_indices(i)) for i in range(n)]
        owner = np.asarray(spec.state_owner)
        self.needs = [sorted({int(owner[c]) for c in cols}) for cols in policy.policy_columns]

    def __call__(self, observations: Mapping[str, Any], rng: np.random.Generator | None) -> dict[str, int]:
        """One action per agent named in ``observations`` (the live agents)."""
        unknown = sorted(set(observations) - set(self._index), key=str)
        if unknown:
            raise KeyError(f"observations name unknown agents {unknown}; expected names like "
                           f"{self.agent_names[0]!r}")
        live = [self._index[name] for name in observations]
        row = np.zeros(self.spec.n_state, dtype=np.int64)
        seen = np.zeros(self.spec.n_agents, dtype=bool)
        for name, obs in observations.items():
            i = self._index[name]
            value = np.asarray(obs, dtype=np.int64).reshape(-1)
            if value.size != len(self._columns[i]):
                raise ValueError(f"observation of {name} has {value.size} entries, expected "
                                 f"{len(self._columns[i])} (its state coordinates)")
            row[self._columns[i]] = value
            seen[i] = True
        for i in live:
            missing = [j for j in self.needs[i] if not seen[j]]
            if missing:
                raise KeyError(f"{self.agent_names[i]} acts on the observations of "
                               f"{[self.agent_names[j] for j in missing]}, which are missing")
        previous = self.policy.mode
        self.policy.mode = self.mode
        try:
            if self.mode == "sample" and rng is None:
                raise ValueError("mode 'sample' needs a numpy Generator rng")
            actions = self.policy(row[None], rng)[0]
        finally:
            self.policy.mode = previous
        return {self.agent_names[i]: int(actions[i]) for i in live}


def run_parallel_episode(parallel_env, policy: ObservationPolicy, *, seed: int | None = None,
                         rng: np.random.Generator | None = None, gamma: float = 1.0) -> dict[str, float]:
    """Play one episode of a PettingZoo ``ParallelEnv`` with ``policy``; discounted return per agent.

    ``seed`` is passed to ``reset``; ``rng`` draws the policy's actions (sample mode).
    """
    observations, _ = parallel_env.reset(seed=seed)
    totals = {name: 0.0 for name in observations}
    discount = 1.0
    while parallel_env.agents:
        actions = policy(observations, rng)
        observations, rewards, _, _, _ = parallel_env.step(actions)
        for name, r in rewards.items():
            totals[name] += discount * float(r)
        discount *= gamma
    return totals
