"""A user's PettingZoo ``ParallelEnv`` as a batched :class:`~rl.envs.base.NetworkedEnv`.

:class:`PettingZooNetworkedEnv` runs ``B`` instances of the user's environment side by
side and speaks the project's batched interface, so that data collection, discovery,
training, adaptation and evaluation run on it. Conventions (``docs/data-format.md``):

- The factory is given as ``"package.module:function"`` (or a callable) and called as
  ``factory(**factory_kwargs, **{domain_kwarg: w})``; with ``domain_in="reset"`` the
  factor goes to ``reset(seed=..., options={domain_kwarg: w})`` instead. ``w`` is a
  float when all agents share one factor, else a list with one value per agent.
- ``possible_agents[i]`` is agent ``i`` of the network file. Its observation space is
  ``Discrete(K)`` (one state coordinate) or ``MultiDiscrete([K_1, ...])`` (its own state
  coordinates, in the network file's order); its action space is ``Discrete``.
- The environment is stateful, so ``step`` continues only from states this wrapper
  returned (the states of a batch from ``reset``/``step``); anything else raises
  ``ValueError``. Randomness: each copy is reset with a seed drawn from ``rng``.
- There is no known causal graph: :meth:`true_graph` raises ``NotImplementedError``.

:func:`coded_env` wraps any environment so that it speaks the codes of a
:class:`~causalnet.codebook.Codebook` (a policy trained on coded table logs then acts
in the simulator).
"""

from __future__ import annotations

import copy
import importlib
import logging
from typing import Any, Callable, Literal, Mapping

import numpy as np

from causalnet.errors import CausalnetError

from causalnet.codebook import Codebook
from causalnet.graph import FactoredGraph
from causalnet.network_file import NetworkFile
from causalnet.spec import NetworkSpec, broadcast_domain_factor
from rl.envs.base import NetworkedEnv

__all__ = ["FactoryError", "PettingZooNetworkedEnv", "coded_env", "load_factory"]

logger = logging.getLogger(__name__)

_KEEP_BATCHES = 6


class FactoryError(CausalnetError, ValueError):
    """The factory cannot be imported, or what it returns is not a usable ParallelEnv."""


def load_factory(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """The callable named by ``"package.module:function"`` (a callable is returned as is).

    Raises
    ------
    FactoryError
        Bad form, module not importable, or no such attribute / not callable.
    """
    if callable(target):
        return target
    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise FactoryError(f"--env {target!r}: expected package.module:factory (a module path, a colon, a function)")
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of the user's module
        raise FactoryError(f"--env {target!r}: cannot import module {module_name!r} "
                           f"({type(exc).__name__}: {exc}); is it on PYTHONPATH?") from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise FactoryError(f"--env {target!r}: module {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise FactoryError(f"--env {target!r}: {attr!r} is not callable")
    return obj


class PettingZooNetworkedEnv(NetworkedEnv):
    """Batched view of a user's PettingZoo parallel environment (see the module docstring).

    Parameters
    ----------
    factory : str or callable
        ``"package.module:function"`` returning a ``pettingzoo.ParallelEnv``.
    network : NetworkFile
        Agents, edges and variable names.
    factory_kwargs : mapping, optional
        Extra keyword arguments of the factory.
    domain_kwarg : str or None
        Name under which the domain factor is passed (None: never passed).
    domain_in : {"factory", "reset"}
        Pass the factor to the factory or as a ``reset`` option.
    domain_factor : float or array (n_agents,), optional
        Default factor (``nan``: the factory's own default).

    Raises
    ------
    FactoryError
        The factory fails, returns something that is not a ParallelEnv, its agents do
        not match the network file, or a space is not discrete.
    """

    def __init__(self, factory: str | Callable[..., Any], network: NetworkFile, *,
                 factory_kwargs: Mapping[str, Any] | None = None, domain_kwarg: str | None = "domain_factor",
                 domain_in: Literal["factory", "reset"] = "factory",
                 domain_factor: float | np.ndarray | None = None) -> None:
        if domain_in not in ("factory", "reset"):
            raise ValueError(f"domain_in must be 'factory' or 'reset', got {domain_in!r}")
        self.factory_name = factory if isinstance(factory, str) else getattr(factory, "__qualname__", repr(factory))
        self._factory = load_factory(factory)
        self.network = network
        self.factory_kwargs = dict(factory_kwargs or {})
        self.domain_kwarg = domain_kwarg
        self.domain_in = domain_in
        n = network.n_agents
        self.domain_factor = (np.full(n, np.nan) if domain_factor is None
                              else broadcast_domain_factor(domain_factor, np.zeros(n), n, 1)[0].copy())
        probe = self._make(self.domain_factor)
        self.spec: NetworkSpec = self._read_spaces(probe)
        self._pool: dict[tuple, list[Any]] = {self._key(self.domain_factor): [probe]}
        self._batches: list[dict[str, Any]] = []
        self._live: list[dict[str, Any]] = []   # recent batches of this object and its copies (instances in use)

    # ------------------------------------------------------------ building
    def _key(self, w: np.ndarray) -> tuple:
        return tuple(np.round(np.asarray(w, dtype=np.float64), 12).tolist())

    def _factor_arg(self, w: np.ndarray) -> Any:
        w = np.asarray(w, dtype=np.float64)
        if np.all(np.isnan(w)):
            return None
        return float(w[0]) if np.all(w == w[0]) else w.tolist()

    def _make(self, w: np.ndarray) -> Any:
        from pettingzoo.utils.env import ParallelEnv

        kwargs = dict(self.factory_kwargs)
        arg = self._factor_arg(w)
        if self.domain_in == "factory" and self.domain_kwarg and arg is not None:
            kwargs[self.domain_kwarg] = arg
        try:
            env = self._factory(**kwargs)
        except Exception as exc:
            raise FactoryError(f"factory {self.factory_name!r} failed with keyword arguments {kwargs}: "
                               f"{type(exc).__name__}: {exc}") from None
        if not isinstance(env, ParallelEnv):
            raise FactoryError(f"factory {self.factory_name!r} returned a {type(env).__name__}, not a "
                               "pettingzoo ParallelEnv")
        return env

    def _read_spaces(self, env: Any) -> NetworkSpec:
        import gymnasium

        net = self.network
        agents = list(env.possible_agents)
        if len(agents) != net.n_agents:
            raise FactoryError(f"factory {self.factory_name!r}: the environment has {len(agents)} agents, "
                               f"{net.source} has n_agents = {net.n_agents}")
        self.agents = agents
        s_cards: list[int] = []
        a_cards: list[int] = []
        self._columns = []
        for i, agent in enumerate(agents):
            space = env.observation_space(agent)
            own = net.agent_states(i)
            if isinstance(space, gymnasium.spaces.Discrete):
                cards = [int(space.n)]
                if int(space.start) != 0:
                    raise FactoryError(f"agent {agent!r}: Discrete observation space must start at 0")
            elif isinstance(space, gymnasium.spaces.MultiDiscrete) and np.ndim(space.nvec) == 1:
                cards = [int(k) for k in space.nvec]
            else:
                raise FactoryError(f"agent {agent!r}: observation space {space} is not discrete; the wrapper needs "
                                   "Discrete or MultiDiscrete (continuous states: see docs/data-format.md)")
            if len(cards) != len(own):
                raise FactoryError(f"agent {agent!r}: observation has {len(cards)} coordinates, {net.source} "
                                   f"names {len(own)} for agent {i} ({own})")
            s_cards += cards
            act = env.action_space(agent)
            if not isinstance(act, gymnasium.spaces.Discrete) or int(act.start) != 0:
                raise FactoryError(f"agent {agent!r}: action space {act} is not Discrete(n) starting at 0")
            a_cards.append(int(act.n))
            self._columns.append(np.array([net.state_names.index(s) for s in own], dtype=np.int64))
        order = np.concatenate(self._columns) if self._columns else np.zeros(0, np.int64)
        cards_by_name = np.empty(len(net.state_names), dtype=np.int64)
        cards_by_name[order] = s_cards
        return net.to_spec(cards_by_name.tolist(), a_cards)

    # ------------------------------------------------------------ interface
    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "PettingZooNetworkedEnv":
        """A copy (sharing the instance pool) whose default factor is ``domain_factor``."""
        other = copy.copy(self)
        other.domain_factor = broadcast_domain_factor(domain_factor, self.domain_factor, self.n_agents, 1)[0].copy()
        other._batches = []
        return other

    def true_graph(self) -> FactoredGraph:
        """Not known for a user's simulator."""
        raise NotImplementedError("a PettingZoo simulator has no known causal graph; learn it with causalnet "
                                  "discover (or causalnet run)")

    def config(self) -> dict[str, Any]:
        """JSON-ready description (factory, kwargs, network)."""
        return {"env": "pettingzoo", "factory": self.factory_name, "factory_kwargs": self.factory_kwargs,
                "domain_kwarg": self.domain_kwarg, "domain_in": self.domain_in,
                "domain_factor": self.domain_factor.tolist(), "network": self.network.to_dict()}

    def _instance(self, w: np.ndarray, busy: set[int]) -> Any:
        pool = self._pool.setdefault(self._key(w), [])
        for env in pool:
            if id(env) not in busy:
                return env
        env = self._make(w)
        pool.append(env)
        return env

    def _state_row(self, obs: Mapping[str, Any], out: np.ndarray) -> None:
        for i, agent in enumerate(self.agents):
            if agent not in obs:
                raise FactoryError(f"the environment returned no observation for agent {agent!r}")
            out[self._columns[i]] = np.asarray(obs[agent]).reshape(-1)

    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """Reset ``batch_size`` instances (each seeded from ``rng``); return their states."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        w = self._domain_factor(domain_factor, batch_size)
        seeds = rng.integers(0, 2 ** 31 - 1, size=batch_size)
        keep = self._batches[-(_KEEP_BATCHES - 1):]
        live = self._live[-(2 * _KEEP_BATCHES - 1):]     # copies share the instance pool: their batches are busy
        busy = {id(e) for b in live for e in b["envs"]}
        envs, states = [], np.empty((batch_size, self.spec.n_state), dtype=np.int64)
        for b in range(batch_size):
            env = self._instance(w[b], busy)
            busy.add(id(env))
            options = None
            arg = self._factor_arg(w[b])
            if self.domain_in == "reset" and self.domain_kwarg and arg is not None:
                options = {self.domain_kwarg: arg}
            obs, _ = env.reset(seed=int(seeds[b]), options=options)
            self._state_row(obs, states[b])
            envs.append(env)
        batch = {"envs": envs, "states": states.copy(), "w": np.array(w), "steps": 0}
        self._batches = keep + [batch]
        self._live[:] = live + [batch]
        return states

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Step the instances whose current states are ``states``; return ``(next_states, rewards)``."""
        states, actions = self._check_step_inputs(states, actions)
        batch = None
        for cand in reversed(self._batches):
            if cand["states"].shape == states.shape and np.array_equal(cand["states"], states):
                batch = cand
                break
        if batch is None:
            raise ValueError("a PettingZoo simulator can only continue from the states it returned itself (reset or "
                             "the previous step); it cannot be set to other states")
        if domain_factor is not None:
            w = self._domain_factor(domain_factor, states.shape[0])
            if not np.allclose(w, batch["w"], equal_nan=True):
                raise ValueError("domain_factor differs from the one this batch was reset with")
        nxt = np.empty_like(states, dtype=np.int64)
        rewards = np.empty((states.shape[0], self.n_agents), dtype=np.float64)
        for b, env in enumerate(batch["envs"]):
            if not env.agents:
                raise ValueError(f"the environment ended its episode after {batch['steps']} steps; use a horizon "
                                 f"of at most {batch['steps']} steps (gamma/horizon in the network file or config), "
                                 "or let its episodes run longer (a factory keyword; causalnet evaluate's long-run "
                                 "average reward runs 120 steps)")
            joint = {agent: int(actions[b, i]) for i, agent in enumerate(self.agents)}
            obs, rew, _, _, _ = env.step(joint)
            self._state_row(obs, nxt[b])
            for i, agent in enumerate(self.agents):
                rewards[b, i] = float(rew.get(agent, 0.0))
        batch["states"] = nxt.copy()
        batch["steps"] += 1
        return nxt, rewards


class _CodedEnv:
    """An environment seen through a codebook: states coded, actions decoded (see :func:`coded_env`)."""

    def __init__(self, env: Any, codebook: Codebook, spec: NetworkSpec) -> None:
        self.env = env
        self.spec = spec
        self.domain_factor = env.domain_factor
        inner = env.spec
        self._state_lut = []
        for j, name in enumerate(spec.state_names):
            k_env = int(inner.state_cardinality[inner.state_names.index(name)])
            lut = np.full(k_env, -1, dtype=np.int64)
            for code, label in enumerate(codebook.variables[name]):
                if not isinstance(label, int) or not 0 <= label < k_env:
                    raise ValueError(f"state {name!r}: label {label!r} is not a value 0..{k_env - 1} of the simulator; "
                                     "with --env the logs must use the simulator's integer values")
                lut[label] = code
            self._state_lut.append(lut)
        self._action_values = []
        for i, name in enumerate(spec.action_names):
            labels = codebook.variables[name]
            k_env = int(inner.action_cardinality[i])
            if not all(isinstance(v, int) and 0 <= v < k_env for v in labels):
                raise ValueError(f"action {name!r}: labels {labels} are not actions 0..{k_env - 1} of the simulator")
            self._action_values.append(np.array(labels, dtype=np.int64))

    n_agents = property(lambda self: self.spec.n_agents)
    action_counts = property(lambda self: np.asarray(self.spec.action_cardinality, dtype=np.int64))

    def neighborhood(self, agent: int, k: int = 1) -> list[int]:
        return self.spec.neighborhood(agent, k)

    def _code(self, states: np.ndarray) -> np.ndarray:
        out = np.empty(states.shape, dtype=np.int64)
        for j, lut in enumerate(self._state_lut):
            out[:, j] = lut[states[:, j]]
        if (out < 0).any():
            b, j = map(int, np.argwhere(out < 0)[0])
            raise ValueError(f"the simulator reached {self.spec.state_names[j]} = {int(states[b, j])}, a value never "
                             "seen in the logs (the codebook has no code for it)")
        return out

    def with_domain_factor(self, domain_factor):
        other = copy.copy(self)
        other.env = self.env.with_domain_factor(domain_factor)
        other.domain_factor = other.env.domain_factor
        return other

    def reset(self, batch_size, rng, *, domain_factor=None):
        self._raw = self.env.reset(batch_size, rng, domain_factor=domain_factor)
        return self._code(self._raw)

    def step(self, states, actions, rng, *, domain_factor=None):
        actions = np.asarray(actions, dtype=np.int64)
        raw_actions = np.stack([self._action_values[i][actions[:, i]] for i in range(self.n_agents)], axis=1)
        self._raw, rewards = self.env.step(self._raw, raw_actions, rng, domain_factor=domain_factor)
        return self._code(self._raw), rewards

    def true_graph(self):
        return self.env.true_graph()


def coded_env(env: Any, codebook: Codebook, spec: NetworkSpec) -> Any:
    """``env`` seen through ``codebook``: its states are coded, the actions it receives are decoded.

    ``spec`` is the coded system's spec (cardinalities from the codebook). Labels must be
    the simulator's integer values. Each batch must be stepped in order (one batch at a time).
    """
    return _CodedEnv(env, codebook, spec)
