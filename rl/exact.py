"""Exact centralized optimum and exact policy values on tiny wireless instances.

For a :class:`~rl.envs.wireless.WirelessAccessEnv` with a handful of users the joint
MDP is small enough to write down: the joint state is every user's deadline queue,
the joint action is one local action per user. This module builds it exactly (no
sampling) and computes, for the reference metric

    J = E[ sum_{t=0}^{T-1} gamma^t (1/n) sum_i r_i(t) ],   s(0) ~ reset distribution,

* the **centralized finite-horizon optimum** over all (non-stationary, centralized)
  policies, by backward induction (an upper bound for every localized policy);
* the **exact value of a stationary localized stochastic policy** given as per-agent
  tables ``pi_i(a_i | s_i)``, by backward policy evaluation;
* the **best ALOHA heuristic** (transmit probability ``q`` searched on a grid).

Index conventions
-----------------
Local state code of user ``i``: ``c_i = sum_j s_{i,j} 2^j`` (bit ``j`` = slot ``j`` of
the queue, ``s{i}_{j}`` in the environment, slot 0 expires next). Joint state index:
``numpy.ravel_multi_index((c_0, ..., c_{n-1}), (2^d,) * n)`` (user 0 most
significant). Joint action index: ``numpy.ravel_multi_index((a_0, ..., a_{n-1}),
action_counts)``. Local actions follow the environment: 0 idle, ``1 + slot * m + k``
sends ``slot`` to the ``k``-th of the user's ``m`` APs.

How the expectation is computed
-------------------------------
Given ``(s, a)`` the next state factorises over users. Arrivals enter only the last
slot and are independent of everything, so they are integrated out of the next value
user by user (a tensor contraction of ``V`` with ``(1 - p_i, p_i)`` along each user's
arrival bit), leaving a function ``W`` of the *pre-arrival* queues (``d - 1`` slots per
user). Deliveries are the only other randomness: a user can deliver only if it is the
single sender on its AP, so at most one user per AP is random and the expectation of
``W`` is a sum over at most ``2^{n_aps}`` delivery patterns, each a gather. Nothing
enumerates joint next states.

Rewards and transitions depend on the joint action only through its *delivery
class*: the lone sender (user and slot) of each AP, or none (idle or collision). The
backups run over these classes (81 instead of 2025 joint actions on 2x3 vertices,
``d = 2``); a localized policy enters through ``P(class | s)``, computed once from
``pi(a | s) = prod_i pi_i(a_i | s_i)``.

Size limit
----------
The joint state-action space has ``2^(n d) * prod_i (1 + d m_i)`` pairs; building the
model raises :class:`ValueError` above ``max_state_actions`` (default
:data:`MAX_JOINT_STATE_ACTIONS` = 2^24, about 16.8 million). Examples: 2x2 vertices,
one user each (4 users, 1 AP), ``d = 2``: 256 states x 81 actions; 2x3 vertices, one
user each (6 users, 2 APs), ``d = 2``: 4096 x 2025 = 8.3 million pairs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
from scipy import optimize

from rl.envs.base import as_generator
from rl.envs.wireless import WirelessAccessEnv

__all__ = ["MAX_JOINT_STATE_ACTIONS", "ExactAlohaResult", "ExactValue", "JointWirelessMDP",
           "LocalTablePolicy", "aloha_tables", "best_aloha", "evaluate_local_policy",
           "local_state_codes", "optimal_value", "uniform_tables"]

logger = logging.getLogger(__name__)

#: Largest joint state-action space (``n_states * n_actions``) the exact model accepts.
MAX_JOINT_STATE_ACTIONS = 2 ** 24
# (state, action) pairs processed at once; bounds the working memory to tens of MB.
_PAIRS_PER_CHUNK = 2 ** 19
_ROW_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ExactValue:
    """Exact value of a policy (or of the optimum) on the joint MDP.

    Attributes
    ----------
    value : float
        ``E[sum_{t<T} gamma^t (1/n) sum_i r_i(t)]`` from the reset distribution.
    values : ndarray, shape (horizon + 1, n_states)
        ``values[t, s]``: expected discounted reward-to-go ``sum_{u >= t} gamma^(u-t) r(u)``
        from joint state ``s`` at time ``t`` (``values[horizon] = 0``).
    gamma, horizon : float, int
        The metric's parameters.
    actions : ndarray of int, shape (horizon, n_states), or None
        For the optimum, a maximising joint action per time and state (ties: lowest index).
    """

    value: float
    values: np.ndarray = field(repr=False)
    gamma: float
    horizon: int
    actions: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ExactAlohaResult:
    """Outcome of :func:`best_aloha`.

    Attributes
    ----------
    q, value : float
        The best transmit probability found and its exact value.
    grid, grid_values : ndarray
        The grid searched and the exact value at each grid point.
    refined : bool
        Whether a bounded scalar search around the best grid point improved on it.
    """

    q: float
    value: float
    grid: np.ndarray = field(repr=False)
    grid_values: np.ndarray = field(repr=False)
    refined: bool


def local_state_codes(states: np.ndarray, deadline: int) -> np.ndarray:
    """Local state code ``c_i = sum_j s_{i,j} 2^j`` of every user, shape ``(B, n)``.

    Examples
    --------
    >>> local_state_codes(np.array([[1, 0, 0, 1, 1, 1]]), 2).tolist()
    [[1, 2, 3]]
    """
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] % deadline:
        raise ValueError(f"states must have shape (B, n * {deadline}), got {states.shape}")
    bits = states.reshape(states.shape[0], -1, deadline).astype(np.int64)
    return bits @ (1 << np.arange(deadline, dtype=np.int64))


class JointWirelessMDP:
    """The exact joint MDP of a small :class:`WirelessAccessEnv` (see the module docstring).

    Parameters
    ----------
    env : WirelessAccessEnv
        The instance; its ``domain_factor`` gives the arrival probabilities.
    max_state_actions : int
        Refuse instances whose joint state-action space is larger.

    Attributes
    ----------
    n_states, n_actions : int
        Sizes of the joint state and joint action spaces.
    joint_actions : ndarray of int, shape (n_actions, n_agents)
        Local action of every user in each joint action.
    local_codes : ndarray of int, shape (n_states, n_agents)
        Local state code of every user in each joint state.
    n_classes : int
        Number of delivery classes (see the module docstring).
    action_class : ndarray of int, shape (n_actions,)
        Delivery class of each joint action.
    class_representative : ndarray of int, shape (n_classes,)
        Lowest joint action index in each class.

    Examples
    --------
    >>> mdp = JointWirelessMDP(WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=2))
    >>> mdp.n_states, mdp.n_actions
    (256, 81)
    >>> float(mdp.initial_distribution().sum())
    1.0
    """

    def __init__(self, env: WirelessAccessEnv, *, max_state_actions: int = MAX_JOINT_STATE_ACTIONS) -> None:
        if not isinstance(env, WirelessAccessEnv):
            raise TypeError(f"env must be a WirelessAccessEnv, got {type(env).__name__}")
        if isinstance(max_state_actions, bool) or not isinstance(max_state_actions, (int, np.integer)) \
                or max_state_actions < 1:
            raise ValueError(f"max_state_actions must be a positive integer, got {max_state_actions!r}")
        self.env = env
        n, d = env.n_agents, env.deadline
        self.n_agents, self.deadline, self.n_aps = n, d, env.n_aps
        self.n_local_states = 2 ** d
        self.action_counts = env.action_counts.copy()
        self.n_states = self.n_local_states ** n
        self.n_actions = math.prod(int(c) for c in self.action_counts)     # Python ints: no overflow
        size = self.n_states * self.n_actions
        if size > max_state_actions:
            raise ValueError(
                f"joint state-action space too large for the exact model: {self.n_states} joint states "
                f"(2^({n} users x deadline {d})) x {self.n_actions} joint actions "
                f"(prod of {self.action_counts.tolist()}) = {size} pairs > max_state_actions="
                f"{max_state_actions}; use fewer users, a shorter deadline or raise the limit")
        self.arrival = env.domain_factor.copy()
        self.transmit = env.transmit.copy()
        logger.debug("joint MDP: %d states x %d actions", self.n_states, self.n_actions)
        self._build()

    # ----------------------------------------------------------- construction
    def _build(self) -> None:
        n, d, n_aps = self.n_agents, self.deadline, self.n_aps
        env = self.env
        self.joint_actions = np.stack(np.unravel_index(np.arange(self.n_actions), self.action_counts), axis=1)
        self.local_codes = np.stack(
            np.unravel_index(np.arange(self.n_states), (self.n_local_states,) * n), axis=1)
        # pre-arrival queues: d-1 slots per user, user 0 most significant
        self._pre_size = 2 ** (d - 1)
        self._pre_stride = self._pre_size ** np.arange(n - 1, -1, -1, dtype=np.int64)
        self._base_index = (self.local_codes >> 1) @ self._pre_stride
        slot = np.empty((self.n_actions, n), dtype=np.int64)
        ap = np.empty((self.n_actions, n), dtype=np.int64)
        for i in range(n):
            table = np.array([env.decode_action(i, a) for a in range(self.action_counts[i])])
            slot[:, i] = table[self.joint_actions[:, i], 0]
            ap[:, i] = table[self.joint_actions[:, i], 1]
        # delivery class of a joint action: the lone sender (user, slot) of each AP, or none.
        # Joint actions of one class have the same rewards and transitions from every state.
        key = np.full((self.n_actions, n_aps), -1, dtype=np.int64)
        for k in range(n_aps):
            on_k = ap == k
            lone = on_k.sum(axis=1) == 1
            who = np.argmax(on_k, axis=1)
            key[lone, k] = who[lone] * d + slot[lone, who[lone]]
        classes, first, self.action_class = np.unique(key, axis=0, return_index=True, return_inverse=True)
        self.action_class = self.action_class.reshape(-1)
        self.class_representative = first
        self.n_classes = classes.shape[0]
        self._class_user = np.where(classes >= 0, classes // d, -1)
        self._class_slot = np.where(classes >= 0, classes % d, 0)
        # delivering slot l >= 1 clears bit l-1 of that user's pre-arrival queue
        stride = self._pre_stride[np.maximum(self._class_user, 0)]
        self._class_shift = np.where((classes >= 0) & (self._class_slot >= 1),
                                     -(1 << np.maximum(self._class_slot - 1, 0)) * stride, 0)
        logger.debug("joint MDP: %d joint actions fall into %d delivery classes", self.n_actions, self.n_classes)

    # ----------------------------------------------------------- public helpers
    def state_index(self, states: np.ndarray) -> np.ndarray:
        """Joint state index of environment states of shape ``(B, n * d)``."""
        codes = local_state_codes(states, self.deadline)
        return np.ravel_multi_index(tuple(codes.T), (self.n_local_states,) * self.n_agents)

    def states_from_index(self, index: np.ndarray) -> np.ndarray:
        """Environment states ``(B, n * d)`` (int8) of joint state indices."""
        codes = self.local_codes[np.asarray(index, dtype=np.int64)]
        bits = (codes[..., None] >> np.arange(self.deadline)) & 1
        return bits.reshape(codes.shape[0], -1).astype(np.int8)

    def action_index(self, actions: np.ndarray) -> np.ndarray:
        """Joint action index of local actions of shape ``(B, n)``."""
        return np.ravel_multi_index(tuple(np.asarray(actions, dtype=np.int64).T), self.action_counts)

    def initial_distribution(self) -> np.ndarray:
        """Probability of each joint state at reset, shape ``(n_states,)``."""
        mu = np.ones(1)
        for p in self.arrival:
            local = np.zeros(self.n_local_states)
            local[0], local[self.n_local_states // 2] = 1.0 - p, p
            mu = np.kron(mu, local)
        return mu

    def _check_pair(self, state: int, action: int) -> None:
        if not 0 <= state < self.n_states:
            raise ValueError(f"state must be a joint state index in 0..{self.n_states - 1}, got {state}")
        if not 0 <= action < self.n_actions:
            raise ValueError(f"action must be a joint action index in 0..{self.n_actions - 1}, got {action}")

    def expected_reward(self, state: int, action: int) -> float:
        """``E[(1/n) sum_i r_i | s, a]`` for one joint state and joint action index."""
        self._check_pair(state, action)
        reward, _ = self._class_backup(np.array([state]), None)
        return float(reward[0, self.action_class[action]])

    def next_state_distribution(self, state: int, action: int) -> np.ndarray:
        """Exact ``P(s' | s, a)`` over all joint states, shape ``(n_states,)`` (for checks)."""
        self._check_pair(state, action)
        probs, shifts = self._delivery_terms(np.array([state]))
        cls = self.action_class[action]
        pre = np.zeros(self._pre_size ** self.n_agents)
        for prob, shift in _delivery_patterns([p[0, cls] for p in probs], [s[cls] for s in shifts]):
            pre[self._base_index[state] + shift] += prob
        pre_codes = np.stack(np.unravel_index(np.arange(pre.size), (self._pre_size,) * self.n_agents), axis=1)
        out = np.zeros(self.n_states)
        for bits in range(2 ** self.n_agents):
            b = (bits >> np.arange(self.n_agents - 1, -1, -1)) & 1
            p_arr = float(np.prod(np.where(b == 1, self.arrival, 1.0 - self.arrival)))
            codes = pre_codes + b * (self.n_local_states // 2)
            out[np.ravel_multi_index(tuple(codes.T), (self.n_local_states,) * self.n_agents)] += p_arr * pre
        return out

    # ----------------------------------------------------------- the backup
    def _integrate_arrivals(self, values: np.ndarray) -> np.ndarray:
        """``W(x) = E_b[V(x, b)]``: contract each user's arrival bit, user by user."""
        n, half = self.n_agents, self._pre_size
        tensor = values.reshape((2, half) * n)
        for i in range(n):
            # arrival bits of users < i are already gone, so user i's bit sits on axis i
            tensor = np.tensordot(tensor, np.array([1.0 - self.arrival[i], self.arrival[i]]), axes=([i], [0]))
        return tensor.reshape(-1)

    def _delivery_terms(self, rows: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per AP: P(its lone sender delivers) for each (state in rows, class), and the index shift."""
        probs, shifts = [], []
        for k in range(self.n_aps):
            user = self._class_user[:, k]
            code = self.local_codes[rows][:, np.maximum(user, 0)]                # (rows, classes)
            has_packet = ((code >> self._class_slot[:, k]) & 1) * (user >= 0)
            probs.append(self.transmit[k] * has_packet)
            shifts.append(self._class_shift[:, k])
        return probs, shifts

    def _class_backup(self, rows: np.ndarray,
                      next_w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected mean reward and ``E[W(x')]``, each of shape ``(rows, n_classes)``."""
        probs, shifts = self._delivery_terms(rows)
        reward = np.sum(probs, axis=0) / self.n_agents
        if next_w is None:
            return reward, None
        base = self._base_index[rows][:, None]
        expect = np.zeros(reward.shape)
        for prob, shift in _delivery_patterns(probs, shifts):
            expect += prob * next_w[base + shift]
        return reward, expect

    def _state_chunks(self, width: int) -> Iterator[np.ndarray]:
        rows = max(1, _PAIRS_PER_CHUNK // width)
        for start in range(0, self.n_states, rows):
            yield np.arange(start, min(start + rows, self.n_states))


def _delivery_patterns(probs: list, shifts: list) -> Iterator[tuple]:
    """Yield ``(probability, index shift)`` of every subset of APs that deliver."""
    n_aps = len(probs)
    for subset in range(2 ** n_aps):
        prob, shift = 1.0, 0
        for k in range(n_aps):
            if subset >> k & 1:
                prob, shift = prob * probs[k], shift + shifts[k]
            else:
                prob = prob * (1.0 - probs[k])
        yield prob, shift


# --------------------------------------------------------------------- policies as tables
def uniform_tables(env: WirelessAccessEnv) -> list[np.ndarray]:
    """Per-agent tables of the uniform random policy, each of shape ``(2^d, n_actions_i)``."""
    return [np.full((2 ** env.deadline, int(c)), 1.0 / int(c)) for c in env.action_counts]


def aloha_tables(env: WirelessAccessEnv, q: float) -> list[np.ndarray]:
    """Per-agent tables of the ALOHA heuristic with transmit probability ``q``.

    A user with an empty queue idles. Otherwise it sends its earliest packet (the
    lowest occupied slot, closest to expiry) with probability ``q`` and idles with
    probability ``1 - q``; the AP is the ``k``-th of its APs with probability
    proportional to ``transmit[ap] / users_per_ap[ap]`` (uniform over its APs if all
    of them have success probability 0).

    Examples
    --------
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=2, transmit="allone")
    >>> aloha_tables(env, 0.4)[0].tolist()
    [[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.6, 0.0, 0.4], [0.6, 0.4, 0.0]]
    """
    q = float(q)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must lie in [0, 1], got {q!r}")
    d = env.deadline
    tables = []
    for i, aps in enumerate(env.aps_of_user):
        m = len(aps)
        weight = env.transmit[aps] / env.users_per_ap[aps]
        weight = weight / weight.sum() if weight.sum() > 0 else np.full(m, 1.0 / m)
        table = np.zeros((2 ** d, 1 + d * m))
        table[0, 0] = 1.0
        for code in range(1, 2 ** d):
            earliest = (code & -code).bit_length() - 1
            table[code, 0] = 1.0 - q
            table[code, 1 + earliest * m: 1 + (earliest + 1) * m] = q * weight
        tables.append(table)
    return tables


def _check_tables(action_counts: np.ndarray, deadline: int, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(tables) != len(action_counts):
        raise ValueError(f"tables must hold one table per agent ({len(action_counts)}), got {len(tables)}")
    out = []
    for i, table in enumerate(tables):
        table = np.asarray(table, dtype=np.float64)
        shape = (2 ** deadline, int(action_counts[i]))
        if table.shape != shape:
            raise ValueError(f"tables[{i}] must have shape {shape} (local states x actions), got {table.shape}")
        if not np.all(np.isfinite(table)) or np.any(table < 0):
            raise ValueError(f"tables[{i}] must hold finite non-negative probabilities")
        worst = float(np.max(np.abs(table.sum(axis=1) - 1.0)))
        if worst > _ROW_SUM_TOLERANCE:
            raise ValueError(f"every row of tables[{i}] must sum to 1, a row is off by {worst:.3g}")
        out.append(table)
    return out


class LocalTablePolicy:
    """Batched sampler of a localized stochastic policy given as per-agent tables.

    ``policy(states, rng)`` draws ``a_i ~ tables[i][c_i]`` independently per user,
    where ``c_i`` is the local state code; usable with :mod:`rl.evaluation`.

    Examples
    --------
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1)
    >>> pol = LocalTablePolicy(env, aloha_tables(env, 1.0))
    >>> pol(np.array([[1, 0, 1, 0]]), np.random.default_rng(0)).tolist()
    [[1, 0, 1, 0]]
    """

    def __init__(self, env: WirelessAccessEnv, tables: Sequence[np.ndarray]) -> None:
        self.deadline = env.deadline
        self.action_counts = env.action_counts.copy()
        width = int(self.action_counts.max())
        checked = _check_tables(env.action_counts, env.deadline, tables)
        padded = np.zeros((env.n_agents, 2 ** env.deadline, width))
        for i, table in enumerate(checked):
            padded[i, :, :table.shape[1]] = table
        self._cumulative = np.cumsum(padded, axis=2)

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        codes = local_state_codes(states, self.deadline)
        if codes.shape[1] != self.action_counts.size:
            raise ValueError(f"states must have shape (B, {self.action_counts.size * self.deadline}), "
                             f"got {np.shape(states)}")
        cum = self._cumulative[np.arange(codes.shape[1]), codes]          # (B, n, width)
        u = as_generator(rng).random(codes.shape)
        actions = (cum <= u[..., None]).sum(axis=2)
        return np.minimum(actions, self.action_counts - 1)


# --------------------------------------------------------------------- solvers
def _as_mdp(env: WirelessAccessEnv | JointWirelessMDP) -> JointWirelessMDP:
    return env if isinstance(env, JointWirelessMDP) else JointWirelessMDP(env)


def _check_metric(gamma: float, horizon: int) -> tuple[float, int]:
    gamma = float(gamma)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    return gamma, int(horizon)


def optimal_value(env: WirelessAccessEnv | JointWirelessMDP, *, gamma: float, horizon: int) -> ExactValue:
    """Centralized finite-horizon optimum of the reference metric, by backward induction.

    Parameters
    ----------
    env : WirelessAccessEnv or JointWirelessMDP
    gamma : float
        Discount factor in [0, 1].
    horizon : int
        Number of rewarded steps ``T``.

    Returns
    -------
    ExactValue
        With ``actions`` holding a maximising joint action per time and state.

    Examples
    --------
    One AP shared by 4 users, deadline 1: the best is one sender per step, so the
    optimum is ``(1/4) q_ap (1 - (1 - p)^4)`` per step.

    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=0.5, transmit="allone")
    >>> round(optimal_value(env, gamma=0.5, horizon=2).value, 6), round(0.25 * (1 - 0.5 ** 4) * 1.5, 6)
    (0.351562, 0.351562)
    """
    gamma, horizon = _check_metric(gamma, horizon)
    mdp = _as_mdp(env)
    values = np.zeros((horizon + 1, mdp.n_states))
    actions = np.zeros((horizon, mdp.n_states), dtype=np.int64)
    for t in range(horizon - 1, -1, -1):
        next_w = mdp._integrate_arrivals(values[t + 1])
        for rows in mdp._state_chunks(mdp.n_classes):
            reward, expect = mdp._class_backup(rows, next_w)
            q = reward + gamma * expect
            best = np.argmax(q, axis=1)
            actions[t, rows] = mdp.class_representative[best]
            values[t, rows] = q[np.arange(rows.size), best]
    value = float(mdp.initial_distribution() @ values[0])
    return ExactValue(value=value, values=values, gamma=gamma, horizon=horizon, actions=actions)


def evaluate_local_policy(env: WirelessAccessEnv | JointWirelessMDP, tables: Sequence[np.ndarray], *,
                          gamma: float, horizon: int) -> ExactValue:
    """Exact value of a stationary localized stochastic policy, by backward evaluation.

    Parameters
    ----------
    env : WirelessAccessEnv or JointWirelessMDP
    tables : sequence of arrays
        ``tables[i][c, a]`` = ``pi_i(a | c)``, shape ``(2^d, n_actions_i)``, rows summing
        to 1; ``c`` is the local state code (see :func:`local_state_codes`).
    gamma, horizon : float, int
        As in :func:`optimal_value`.

    Returns
    -------
    ExactValue

    Examples
    --------
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=0.5, transmit="allone")
    >>> round(evaluate_local_policy(env, uniform_tables(env), gamma=0.7, horizon=1).value, 6)
    0.03125
    """
    gamma, horizon = _check_metric(gamma, horizon)
    mdp = _as_mdp(env)
    tables = _check_tables(mdp.action_counts, mdp.deadline, tables)
    class_policy = _class_policy(mdp, tables)
    values = np.zeros((horizon + 1, mdp.n_states))
    for t in range(horizon - 1, -1, -1):
        next_w = mdp._integrate_arrivals(values[t + 1])
        for rows in mdp._state_chunks(mdp.n_classes):
            reward, expect = mdp._class_backup(rows, next_w)
            values[t, rows] = np.sum(class_policy[rows] * (reward + gamma * expect), axis=1)
    value = float(mdp.initial_distribution() @ values[0])
    return ExactValue(value=value, values=values, gamma=gamma, horizon=horizon)


def _class_policy(mdp: JointWirelessMDP, tables: list[np.ndarray]) -> np.ndarray:
    """Probability of each delivery class in each joint state, shape ``(n_states, n_classes)``.

    ``pi(a | s) = prod_i pi_i(a_i | c_i)`` is built as an outer product over users, then
    summed over the joint actions of each class.
    """
    order = np.argsort(mdp.action_class, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(mdp.action_class[order]) != 0])
    out = np.empty((mdp.n_states, mdp.n_classes))
    for rows in mdp._state_chunks(mdp.n_actions):
        joint = np.ones((rows.size, 1))
        for i, table in enumerate(tables):
            local = table[mdp.local_codes[rows, i]]                       # (rows, A_i)
            joint = (joint[:, :, None] * local[:, None, :]).reshape(rows.size, -1)
        out[rows] = np.add.reduceat(joint[:, order], starts, axis=1)
    return out


def best_aloha(env: WirelessAccessEnv | JointWirelessMDP, *, gamma: float, horizon: int,
               grid: Sequence[float] | None = None, refine: bool = True) -> ExactAlohaResult:
    """The best ALOHA transmit probability ``q``, evaluated exactly.

    Parameters
    ----------
    env : WirelessAccessEnv or JointWirelessMDP
    gamma, horizon : float, int
        As in :func:`optimal_value`.
    grid : sequence of float, optional
        Values of ``q`` to try (default ``0, 0.05, ..., 1``).
    refine : bool
        Also run a bounded scalar search (``scipy.optimize.minimize_scalar``) within
        one grid step of the best grid point; kept only if it improves.

    Returns
    -------
    ExactAlohaResult

    Examples
    --------
    With deadline 1 each step is the same: ``value ~ q (1 - p q)^3``, best at ``q = 1/(4p)``.

    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=0.5, transmit="allone")
    >>> res = best_aloha(env, gamma=0.7, horizon=3, refine=False)
    >>> round(res.q, 6), round(res.value, 6), round(0.5 * 0.5 * 0.75 ** 3 * (1 + 0.7 + 0.49), 6)
    (0.5, 0.230977, 0.230977)
    """
    gamma, horizon = _check_metric(gamma, horizon)
    mdp = _as_mdp(env)
    grid = np.round(np.linspace(0.0, 1.0, 21), 12) if grid is None else np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or np.any((grid < 0) | (grid > 1)):
        raise ValueError("grid must be a non-empty 1-d sequence of probabilities in [0, 1]")

    def value_of(q: float) -> float:
        return evaluate_local_policy(mdp, aloha_tables(mdp.env, q), gamma=gamma, horizon=horizon).value

    grid_values = np.array([value_of(q) for q in grid])
    best = int(np.argmax(grid_values))
    q_best, v_best, refined = float(grid[best]), float(grid_values[best]), False
    if refine:
        step = float(np.min(np.diff(np.sort(grid)))) if grid.size > 1 else 0.05
        lo, hi = max(0.0, q_best - step), min(1.0, q_best + step)
        if hi > lo:
            res = optimize.minimize_scalar(lambda q: -value_of(q), bounds=(lo, hi), method="bounded",
                                           options={"xatol": 1e-4})
            if -res.fun > v_best:
                q_best, v_best, refined = float(res.x), float(-res.fun), True
    return ExactAlohaResult(q=q_best, value=v_best, grid=grid, grid_values=grid_values, refined=refined)
