"""A PettingZoo ``ParallelEnv`` view of any :class:`~rl.envs.base.NetworkedEnv` (one copy).

The adapter runs a batch of one copy of the environment and speaks the PettingZoo
parallel API, so that third-party multi-agent RL libraries and PettingZoo's own
conformance tests can use causalnet environments.

- Agents are named ``"agent_{i}"`` after the agent index ``i`` (``possible_agents`` in
  index order).
- The observation of agent ``i`` is its own state coordinates, in spec order, as an
  ``int64`` vector in ``gymnasium.spaces.MultiDiscrete`` of their cardinalities (for
  the wireless network: the deadline queue ``(e_1, ..., e_d)``, ``MultiDiscrete([2] * d)``).
  :meth:`state` returns the whole state vector (``state_space``) for centralised critics.
- The action space of agent ``i`` is ``Discrete(action count of i)``.
- Rewards are the agents' local rewards. Nothing terminates; every agent is
  truncated after ``max_steps`` steps, and then ``agents`` is empty until ``reset``.
- ``reset(seed=s)`` restarts the adapter's generator from ``s``; ``reset()`` continues
  the current stream. ``options={"domain_factor": w}`` changes the domain factor; other
  options are ignored.
- Any object with the batched interface works, a :class:`causalnet.DiscoveredModel`
  included (a discovered model then passes PettingZoo's ``parallel_api_test``).

PettingZoo is not a runtime dependency of causalnet: it is imported only when an
adapter is built, and a missing install raises :class:`ImportError` with instructions.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from causalnet.spec import broadcast_domain_factor
from rl.envs.base import NetworkedEnv, as_generator

__all__ = ["NetworkedParallelEnv", "PETTINGZOO_MISSING", "make_parallel_env", "parallel_env_class"]

PETTINGZOO_MISSING = ("the PettingZoo adapter needs the optional packages pettingzoo and gymnasium; "
                      "install them with `pip install pettingzoo` or install causalnet with its `test` "
                      "extra (`pip install causalnet[test]`)")


def _import_pettingzoo():
    try:
        import gymnasium
        from pettingzoo.utils.env import ParallelEnv
    except ImportError as exc:
        raise ImportError(PETTINGZOO_MISSING) from exc
    return gymnasium, ParallelEnv


@functools.cache
def parallel_env_class() -> type:
    """The adapter class (a subclass of ``pettingzoo.ParallelEnv``), built on first use.

    Raises
    ------
    ImportError
        When pettingzoo or gymnasium is not installed.
    """
    gymnasium, ParallelEnv = _import_pettingzoo()

    class NetworkedParallelEnv(ParallelEnv):
        """PettingZoo parallel view of a :class:`NetworkedEnv` (see the module docstring).

        Parameters
        ----------
        env : NetworkedEnv
            The environment; every state coordinate must be discrete.
        max_steps : int
            Episode length: all agents are truncated after this many steps.
        rng : Generator, int seed or None
            Generator used until ``reset(seed=...)`` replaces it.
        domain_factor : float or array of shape (n_agents,), optional
            Domain factor to run in (default: the environment's own).
        """

        metadata = {"name": "causalnet_networked_v0", "render_modes": [], "is_parallelizable": True}
        render_mode = None

        def __init__(self, env: NetworkedEnv, *, max_steps: int = 10,
                     rng: int | np.random.Generator | None = None,
                     domain_factor: float | np.ndarray | None = None) -> None:
            missing = [a for a in ("spec", "reset", "step", "action_counts", "domain_factor") if not hasattr(env, a)]
            if not isinstance(env, NetworkedEnv) and missing:
                raise TypeError(f"env must be a NetworkedEnv or have its interface (e.g. a fitted "
                                f"causalnet.DiscoveredModel); {type(env).__name__} lacks {missing}")
            if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
                raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
            spec = env.spec
            continuous = [name for name, card in zip(spec.state_names, spec.state_cardinality) if card is None]
            if continuous:
                raise ValueError(f"the PettingZoo adapter needs discrete state coordinates; "
                                 f"{continuous[:3]} are continuous")
            self.env = env
            self.max_steps = int(max_steps)
            self._rng = as_generator(rng)
            self._domain_factor = None if domain_factor is None else np.asarray(domain_factor, dtype=np.float64)
            if self._domain_factor is not None:   # shape check, naming domain_factor
                broadcast_domain_factor(self._domain_factor, np.zeros(spec.n_agents), spec.n_agents, 1)
            self.possible_agents = [f"agent_{i}" for i in range(spec.n_agents)]
            self.agents: list[str] = []
            self._index = {name: i for i, name in enumerate(self.possible_agents)}
            self._columns = [spec.agent_state_indices(i) for i in range(spec.n_agents)]
            cards = np.asarray(spec.state_cardinality, dtype=np.int64)
            self.observation_spaces = {
                name: gymnasium.spaces.MultiDiscrete(cards[cols], dtype=np.int64)
                for name, cols in zip(self.possible_agents, self._columns)}
            self.action_spaces = {
                name: gymnasium.spaces.Discrete(int(count))
                for name, count in zip(self.possible_agents, env.action_counts)}
            self.state_space = gymnasium.spaces.MultiDiscrete(cards, dtype=np.int64)
            self._states: np.ndarray | None = None
            self.timestep = 0

        # -------------------------------------------------------------- spaces
        def observation_space(self, agent: str):
            """``MultiDiscrete`` of the agent's own state-coordinate cardinalities (same object each call)."""
            return self.observation_spaces[self._agent_name(agent)]

        def action_space(self, agent: str):
            """``Discrete(action count)`` of the agent (same object each call)."""
            return self.action_spaces[self._agent_name(agent)]

        # ------------------------------------------------------------ dynamics
        def reset(self, seed: int | None = None,
                  options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
            """Start an episode; ``seed`` restarts the generator.

            ``options={"domain_factor": w}`` switches the domain factor from this episode on;
            other options are ignored.
            """
            if seed is not None:
                self._rng = np.random.default_rng(seed)
            if options and "domain_factor" in options:
                w = np.asarray(options["domain_factor"], dtype=np.float64)
                broadcast_domain_factor(w, np.zeros(self.env.spec.n_agents), self.env.spec.n_agents, 1)
                self._domain_factor = w
            self._states = self.env.reset(1, self._rng, domain_factor=self._domain_factor)
            self.timestep = 0
            self.agents = list(self.possible_agents)
            return self._observations(self.agents), {name: {} for name in self.agents}

        def step(self, actions: dict[str, Any]):
            """Advance one step; ``actions`` maps every live agent to an action index."""
            if not self.agents:
                raise RuntimeError("no live agents: call reset() before step() (episodes end after "
                                   f"max_steps={self.max_steps} steps)")
            unknown = sorted(set(actions) - set(self.agents), key=str)
            if unknown:
                raise ValueError(f"actions name agents that are not live: {unknown}; live agents are "
                                 f"{self.agents[0]}..{self.agents[-1]}")
            missing = [name for name in self.agents if name not in actions]
            if missing:
                raise ValueError(f"actions is missing agent(s) {missing[:5]}: every live agent must act")
            joint = np.empty((1, len(self.possible_agents)), dtype=np.int64)
            for name in self.agents:
                value = np.asarray(actions[name])
                if value.shape != () or not np.issubdtype(value.dtype, np.integer):
                    raise ValueError(f"action of {name} must be an integer, got {actions[name]!r}")
                joint[0, self._index[name]] = int(value)
            live = self.agents
            self._states, rewards = self.env.step(self._states, joint, self._rng,
                                                  domain_factor=self._domain_factor)
            self.timestep += 1
            truncated = self.timestep >= self.max_steps
            observations = self._observations(live)
            reward_dict = {name: float(rewards[0, self._index[name]]) for name in live}
            terminations = {name: False for name in live}
            truncations = {name: truncated for name in live}
            infos = {name: {} for name in live}
            if truncated:
                self.agents = []
            return observations, reward_dict, terminations, truncations, infos

        def state(self) -> np.ndarray:
            """The whole state vector (all agents' coordinates), ``int64``."""
            if self._states is None:
                raise RuntimeError("call reset() before state()")
            return self._states[0].astype(np.int64)

        def close(self) -> None:
            """Nothing to release."""

        # ------------------------------------------------------------- helpers
        def _agent_name(self, agent: str) -> str:
            if agent not in self._index:
                raise KeyError(f"unknown agent {agent!r}; agents are named "
                               f"{self.possible_agents[0]}..{self.possible_agents[-1]}")
            return agent

        def _observations(self, names: list[str]) -> dict[str, np.ndarray]:
            row = self._states[0]
            return {name: row[self._columns[self._index[name]]].astype(np.int64) for name in names}

    return NetworkedParallelEnv


def make_parallel_env(env: NetworkedEnv, *, max_steps: int = 10,
                      rng: int | np.random.Generator | None = None,
                      domain_factor: float | np.ndarray | None = None):
    """Wrap ``env`` (one copy) as a PettingZoo ``ParallelEnv``.

    Parameters
    ----------
    env : NetworkedEnv
        The environment; every state coordinate must be discrete.
    max_steps : int
        Episode length: all agents are truncated after this many steps (default 10,
        the benchmark's horizon).
    rng : Generator, int seed or None
        Generator used until ``reset(seed=...)`` replaces it.
    domain_factor : float or array of shape (n_agents,), optional
        Domain factor to run in (default: the environment's own).

    Returns
    -------
    pettingzoo.ParallelEnv
        An instance of :func:`parallel_env_class`.

    Raises
    ------
    ImportError
        When pettingzoo or gymnasium is not installed.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> par = make_parallel_env(WirelessAccessEnv(2, 2, users_per_vertex=1), max_steps=3)
    >>> obs, infos = par.reset(seed=0)
    >>> par.possible_agents
    ['agent_0', 'agent_1', 'agent_2', 'agent_3']
    >>> par.observation_space("agent_0"), par.action_space("agent_0")
    (MultiDiscrete([2 2]), Discrete(3))
    >>> obs["agent_0"] in par.observation_space("agent_0")
    True
    """
    return parallel_env_class()(env, max_steps=max_steps, rng=rng, domain_factor=domain_factor)


def __getattr__(name: str):
    if name == "NetworkedParallelEnv":
        return parallel_env_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
