"""Roll policies out in batched environments and collect :class:`~causalnet.Transitions`."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from causalnet.data import Transitions, code_dtype, reward_dtype
from rl.envs.base import NetworkedEnv, as_generator

__all__ = ["StandardNormalActions", "collect_transitions"]

PolicyFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def collect_transitions(
    env: NetworkedEnv,
    policy: PolicyFn | None,
    *,
    episodes: int,
    horizon: int,
    domain_factors: Sequence[float | np.ndarray] | None = None,
    rng: int | np.random.Generator | None = None,
) -> Transitions:
    """Roll ``policy`` out for ``episodes`` episodes of ``horizon`` steps in each domain.

    Parameters
    ----------
    env : NetworkedEnv
        The environment (its parameters other than the domain factor are kept).
    policy : callable or None
        ``policy(states, rng) -> actions``; None means uniformly random actions
        (independent standard normal actions when the actions are continuous).
    episodes : int
        Episodes per domain (run as one batch).
    horizon : int
        Steps per episode.
    domain_factors : sequence, optional
        One domain factor per domain (a scalar or one value per agent). Default:
        the environment's own, as a single domain.
    rng : Generator or int seed

    Returns
    -------
    Transitions
        ``episodes * horizon`` rows per domain, domain labels ``0..M-1`` in the order
        given, with the true domain factors attached.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> tr = collect_transitions(env, None, episodes=3, horizon=4, domain_factors=[0.2, 0.8], rng=0)
    >>> len(tr), tr.n_domains, tr.n_episodes
    (24, 2, 6)
    """
    from rl.policies.base import UniformPolicy  # local: keeps module import light

    rng = as_generator(rng)
    if not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    continuous = env.spec.continuous_actions
    if policy is None:
        policy = StandardNormalActions(env.n_agents) if continuous else UniformPolicy(env.action_counts)
    factors = [env.domain_factor] if domain_factors is None else list(domain_factors)
    if not factors:
        raise ValueError("domain_factors must name at least one domain")
    n, m = env.n_agents, env.spec.n_state
    n_dom, rows = len(factors), episodes * horizon
    w_table = np.empty((n_dom, n))
    # final arrays in their narrow dtypes, written in place (rows: domain, episode, time)
    a_dtype = np.float64 if continuous else code_dtype(int(np.max(env.action_counts)) - 1)
    states_out = next_out = None
    actions_out = np.empty((n_dom, episodes, horizon, n), dtype=a_dtype)
    rewards_out: np.ndarray | None = None
    for label, w in enumerate(factors):
        w = np.broadcast_to(np.asarray(w, dtype=np.float64), (n,)).copy()
        w_table[label] = w
        dom_env = env.with_domain_factor(w)
        states = dom_env.reset(episodes, rng)
        if states_out is None:
            states_out = np.empty((n_dom, episodes, horizon, m), dtype=states.dtype)
            next_out = np.empty_like(states_out)
        for t in range(horizon):
            actions = np.asarray(policy(states, rng), dtype=np.float64 if continuous else np.int64)
            nxt, rewards = dom_env.step(states, actions, rng)
            rewards_out = _store_rewards(rewards_out, rewards, (n_dom, episodes, horizon, n))
            states_out[label, :, t], next_out[label, :, t] = states, nxt
            actions_out[label, :, t], rewards_out[label, :, t] = actions, rewards
            states = nxt
    flat = lambda arr: arr.reshape(n_dom * rows, -1)
    labels = np.arange(n_dom)
    cat = dict(states=flat(states_out), actions=flat(actions_out), rewards=flat(rewards_out),
               next_states=flat(next_out),
               domain=np.repeat(labels, rows).astype(code_dtype(n_dom - 1)),
               episode=np.repeat(np.arange(n_dom * episodes), horizon).astype(code_dtype(n_dom * episodes - 1)),
               time=np.tile(np.arange(horizon), n_dom * episodes).astype(code_dtype(horizon - 1)))
    return Transitions(env.spec, **cat, domain_factors=w_table)


def _store_rewards(buffer: np.ndarray | None, rewards: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The reward buffer, created or widened so that ``rewards`` fit exactly (narrowest exact dtype)."""
    need = reward_dtype(rewards)
    if buffer is None:
        return np.zeros(shape, dtype=need)
    if np.can_cast(need, buffer.dtype, casting="safe"):
        return buffer
    return buffer.astype(np.promote_types(buffer.dtype, need))


class StandardNormalActions:
    """Behaviour policy of continuous-action environments: independent ``N(0, scale^2)`` actions.

    >>> StandardNormalActions(3)(np.zeros((2, 5)), np.random.default_rng(0)).shape
    (2, 3)
    """

    def __init__(self, n_agents: int, scale: float = 1.0) -> None:
        self.n_agents, self.scale = int(n_agents), float(scale)

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.scale * rng.standard_normal((np.shape(states)[0], self.n_agents))
