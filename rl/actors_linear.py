"""Localized actor-critic with linear (one-hot) function approximation.

The tabular engine of :mod:`rl.gsac` stores one actor row per joint value of an
agent's policy inputs. When a policy ACR holds ten or more queue coordinates (traffic)
each joint configuration is seen too rarely to learn. This module keeps GSAC's
structure -- localized critics on value-ACR inputs and the actions of ``N_i^kappa``,
localized actors on policy-ACR inputs, domain features ``phi_i(w_hat)`` -- but makes
both **linear in one-hot features of the individual coordinates**:

* actor: ``logit_i(a) = sum_f phi_if sum_{c in P_i} W_i[f, c, s_c, a]`` (plus a bias
  row), softmax over the agent's actions;
* critic: ``Q_j(s, a) = sum_f phi_jf sum_{c in V_j} sum_{l in N_j^kappa} U_j[f, c, s_c, l, a_l]``
  (plus a bias coordinate): every (coordinate value, neighbour action) pair has a weight.
  Learned by SARSA(0) with semi-gradient steps on the T transitions of each rollout.
* actor step: the expected ("all-actions") policy gradient of ``sum_{j in N_i} Q_j``,
  divided (like the critic's step) by the agent's number of active inputs:
  since ``Q_j`` is linear in one-hot features of ``a_i``, the part of
  ``sum_j Q_j`` that depends on ``a_i``, ``G_i(a)``, is known for every ``a``, and
  ``d logit_i(a) = pi_i(a) (G_i(a) - sum_b pi_i(b) G_i(b))`` (an advantage; no
  sampling noise from the agent's own action), discounted by ``gamma^t``.

Inputs and features come from the same places as the tabular engine
(:func:`rl.features.build_agent_inputs`, ``"acr"`` or ``"truncation"``; feature kinds
``"constant"``, ``"linear"``, ``"source_onehot"``), so GSAC, SAC-MTL and SAC-LFS have
linear counterparts. Each outer iteration rolls out ``episodes`` copies per run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from causalnet.graph import FactoredGraph
from rl.features import (ConstantFeatures, DomainFeatures, InputMode, PolynomialFeatures, SourceOneHotFeatures,
                         build_agent_inputs)

__all__ = ["LinearACConfig", "LinearActorCritic", "LinearSoftmaxPolicy"]


@dataclass(frozen=True)
class LinearACConfig:
    """Hyper-parameters of :class:`LinearActorCritic`.

    Attributes
    ----------
    kappa : int
        Neighbourhood radius of the critic and of the actor's gradient.
    gamma : float
        Discount factor.
    horizon : int
        ``T``: each iteration rolls out ``T + 1`` steps and makes ``T`` critic updates.
    inputs : "acr" or "truncation"
    features : "constant", "linear" or "source_onehot"
    episodes : int
        Rollouts per run per iteration (averaged in every update).
    critic_lr, actor_lr : float
        Step sizes, divided by the number of active features of the agent, and decayed
        as ``1 / sqrt(1 + k / 100)`` at iteration ``k``.
    """

    kappa: int = 1
    gamma: float = 0.7
    horizon: int = 10
    inputs: InputMode = "acr"
    features: Literal["constant", "linear", "source_onehot"] = "linear"
    episodes: int = 16
    critic_lr: float = 1.0
    actor_lr: float = 10.0

    def __post_init__(self) -> None:
        if self.inputs not in ("acr", "truncation"):
            raise ValueError(f"inputs must be 'acr' or 'truncation', got {self.inputs!r}")
        if self.features not in ("constant", "linear", "source_onehot"):
            raise ValueError(f"features must be 'constant', 'linear' or 'source_onehot', got {self.features!r}")
        for name in ("kappa", "horizon", "episodes"):
            v = getattr(self, name)
            least = 0 if name == "kappa" else 1
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {self.gamma!r}")
        for name in ("critic_lr", "actor_lr"):
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")


def _padded(columns: list[list[int]], cards: list[list[int]], const_col: int) -> tuple[np.ndarray, int]:
    """Columns padded to a common width with ``const_col`` first (the bias), and the widest cardinality."""
    width = 1 + max((len(c) for c in columns), default=0)
    out = np.full((len(columns), width), const_col, dtype=np.int64)
    for i, c in enumerate(columns):
        out[i, 1:1 + len(c)] = c
    top = max([2] + [int(k) for row in cards for k in row])
    return out, top


def _active(columns: list[list[int]], width: int) -> np.ndarray:
    mask = np.zeros((len(columns), width), dtype=bool)
    for i, c in enumerate(columns):
        mask[i, :1 + len(c)] = True
    return mask


class LinearSoftmaxPolicy:
    """A linear softmax policy over one-hot coordinate features (one run).

    Parameters
    ----------
    weights : array, shape (n, F, K, V, A)
        ``weights[i, f, k, v, a]``: weight of value ``v`` of agent ``i``'s ``k``-th input
        (input 0 is a constant bias) for action ``a``, times feature ``f``.
    columns : int array, shape (n, K)
        State column of each input (input 0 and padding read a constant zero column).
    active : bool array, shape (n, K)
    action_counts : int array, shape (n,)
    features : DomainFeatures
    w_hat : array of shape (n,) or float
        The domain-factor estimate the policy conditions on (settable).

    Examples
    --------
    >>> from rl.features import PolynomialFeatures
    >>> pol = LinearSoftmaxPolicy(np.zeros((2, 2, 2, 3, 2)), np.array([[2, 0], [2, 1]]),
    ...                           np.array([[True, True], [True, True]]), [2, 2], PolynomialFeatures(2), w_hat=0.5)
    >>> pol.probabilities(np.array([[1, 2]])).tolist()
    [[[0.5, 0.5], [0.5, 0.5]]]
    """

    def __init__(self, weights: np.ndarray, columns: np.ndarray, active: np.ndarray, action_counts,
                 features: DomainFeatures, *, w_hat) -> None:
        self.weights = np.array(weights, dtype=np.float64)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.active = np.asarray(active, dtype=bool)
        self.action_counts = np.asarray(action_counts, dtype=np.int64)
        self.features = features
        n = self.weights.shape[0]
        self._mask = np.arange(self.weights.shape[-1])[None, :] < self.action_counts[:, None]
        self._agent = np.arange(n)[:, None]
        self._k = np.arange(self.columns.shape[1])[None, :]
        self.w_hat = w_hat

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.weights.shape[0]

    @property
    def w_hat(self) -> np.ndarray:
        """The domain-factor estimate, shape ``(n,)``."""
        return self._w_hat.copy()

    @w_hat.setter
    def w_hat(self, value) -> None:
        w = np.asarray(value, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(self.n_agents, float(w))
        if w.shape != (self.n_agents,):
            raise ValueError(f"w_hat must be a scalar or have shape ({self.n_agents},), got {w.shape}")
        self._w_hat = w.copy()
        # fold the features into one table per (agent, input, value, action)
        phi = self.features(w)                                          # (n, F)
        self._table = np.einsum("nf,nfkva->nkva", phi, self.weights) * self.active[:, :, None, None]

    def logits(self, states: np.ndarray) -> np.ndarray:
        """Logits ``(B, n, A)``; padded actions are ``-inf``."""
        states = np.asarray(states)
        padded = np.concatenate([states, np.zeros((states.shape[0], 1), dtype=states.dtype)], axis=1)
        values = padded[:, self.columns].astype(np.int64)                # (B, n, K)
        out = self._table[self._agent, self._k, values].sum(axis=2)      # (B, n, A)
        return np.where(self._mask, out, -np.inf)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """Action probabilities ``(B, n, A)``."""
        z = self.logits(states)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.probabilities(states)
        u = rng.random(p.shape[:2])
        return np.minimum((np.cumsum(p, axis=-1) <= u[..., None]).sum(axis=-1), self.action_counts - 1)


class LinearActorCritic:
    """Localized actor-critic with linear one-hot features over ``n_runs`` runs (module docstring).

    Parameters
    ----------
    env : NetworkedEnv
    graph : FactoredGraph
        Defines the ACR inputs (``inputs="acr"``); in truncation mode only its spec matters.
    config : LinearACConfig
    domain_factors : array, shape (M,) or (M, n), optional
        Source domains the environment runs in (default: its own factor).
    w_hat : array like ``domain_factors``, optional
        The factors the agents see (default ``domain_factors``).
    rng : int, SeedSequence or Generator
    n_runs : int

    Examples
    --------
    >>> from rl.envs import TrafficGridEnv
    >>> env = TrafficGridEnv(2, 2)
    >>> ac = LinearActorCritic(env, env.true_graph(), LinearACConfig(episodes=4), rng=0, n_runs=2)
    >>> ac.iterate(3)
    >>> ac.policy(1)(env.reset(5, np.random.default_rng(0)), np.random.default_rng(1)).shape
    (5, 4)
    """

    def __init__(self, env, graph: FactoredGraph, config: LinearACConfig | None = None, *,
                 domain_factors: np.ndarray | None = None, w_hat: np.ndarray | None = None,
                 rng: int | np.random.SeedSequence | np.random.Generator | None = None, n_runs: int = 1) -> None:
        config = LinearACConfig() if config is None else config
        if not isinstance(config, LinearACConfig):
            raise TypeError(f"config must be a LinearACConfig, got {type(config).__name__}")
        if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
            raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}")
        self.env, self.graph, self.config = env, graph, config
        n, n_state = env.n_agents, env.spec.n_state
        self.n_agents, self.n_runs = n, int(n_runs)
        factors = env.domain_factor[None] if domain_factors is None else np.asarray(domain_factors, dtype=np.float64)
        if factors.ndim == 1:
            factors = np.repeat(factors[:, None], n, axis=1)
        self.domain_factors = factors
        self.w_hat = factors.copy() if w_hat is None else np.asarray(w_hat, dtype=np.float64)
        if self.w_hat.ndim == 1:
            self.w_hat = np.repeat(self.w_hat[:, None], n, axis=1)
        if self.w_hat.shape != factors.shape:
            raise ValueError(f"w_hat has shape {self.w_hat.shape} but domain_factors has {factors.shape}")
        seq = rng if isinstance(rng, np.random.SeedSequence) else None
        if isinstance(rng, np.random.Generator):
            self._rng = rng
        else:
            self._rng = np.random.default_rng(seq if seq is not None else rng)
        self._source_envs = [env.with_domain_factor(w) for w in factors]
        self.inputs, _ = build_agent_inputs(graph, kappa=config.kappa, mode=config.inputs, critic_domain=False,
                                            source_w_hat=self.w_hat)
        if config.features == "constant":
            self.features: DomainFeatures = ConstantFeatures()
        elif config.features == "linear":
            self.features = PolynomialFeatures(n, degree=1, agents=self.inputs.domain_agents)
        else:
            self.features = SourceOneHotFeatures(self.w_hat)
        F = int(self.features.n_features)
        self.action_counts = np.asarray(env.action_counts, dtype=np.int64)
        A = int(self.action_counts.max())
        # actor inputs
        pcols = self.inputs.policy_columns
        self.actor_columns, v_actor = _padded(pcols, self.inputs.policy_cardinality, n_state)
        self.actor_active = _active(pcols, self.actor_columns.shape[1])
        # critic inputs: value-ACR state columns; actions of N_j^kappa
        vcols = [[c for c in cols if c < n_state] for cols in self.inputs.critic_columns]
        vcards = [[k for c, k in zip(cols, cards) if c < n_state]
                  for cols, cards in zip(self.inputs.critic_columns, self.inputs.critic_cardinality)]
        self.critic_columns, v_critic = _padded(vcols, vcards, n_state)
        self.critic_active = _active(vcols, self.critic_columns.shape[1])
        nbs = self.inputs.neighborhoods
        L = max(len(nb) for nb in nbs)
        self.nbr = np.full((n, L), n, dtype=np.int64)                   # n: padding (a zero action column)
        self.nbr_active = np.zeros((n, L), dtype=bool)
        for j, nb in enumerate(nbs):
            self.nbr[j, :len(nb)] = nb
            self.nbr_active[j, :len(nb)] = True
        # slot of agent i in N_j (for the gradient of sum_j Q_j with respect to a_i)
        self._pairs = [(j, l, int(self.nbr[j, l])) for j in range(n) for l in range(L) if self.nbr_active[j, l]]
        Kc = self.critic_columns.shape[1]
        self.theta = np.zeros((self.n_runs, n, F, self.actor_columns.shape[1], v_actor, A))
        self.critic = np.zeros((self.n_runs, n, F, Kc, v_critic, L, A))
        self._n_active = (self.critic_active.sum(axis=1) * self.nbr_active.sum(axis=1)).astype(np.float64)
        self._amask = np.arange(A)[None, :] < self.action_counts[:, None]
        self._n_actor_inputs = self.actor_active.sum(axis=1).astype(np.float64)
        self.iteration = 0
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ pieces
    def _values(self, states: np.ndarray, columns: np.ndarray) -> np.ndarray:
        pad = np.concatenate([states, np.zeros(states.shape[:-1] + (1,), dtype=states.dtype)], axis=-1)
        return pad[..., columns].astype(np.int64)

    def _actor_logits(self, values: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """``values (R, B, n, K)``, ``phi (R, n, F)`` -> logits ``(R, B, n, A)``."""
        R, B, n, K = values.shape
        table = np.einsum("rnf,rnfkva->rnkva", phi, self.theta) * self.actor_active[None, :, :, None, None]
        r = np.arange(R)[:, None, None, None]
        out = table[r, np.arange(n)[None, None, :, None], np.arange(K)[None, None, None, :], values].sum(axis=3)
        return np.where(self._amask, out, -np.inf)

    def _critic_tables(self, phi: np.ndarray) -> np.ndarray:
        """``(R, n, Kc, V, L, A)``: critic weights folded with the features, padding zeroed."""
        t = np.einsum("rnf,rnfkvla->rnkvla", phi, self.critic)
        return t * (self.critic_active[None, :, :, None, None, None] & self.nbr_active[None, :, None, None, :, None])

    def _q_and_g(self, table: np.ndarray, cvals: np.ndarray, acts: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Q of every agent ``(R, B, n)`` and each agent's ``G_i(a)`` ``(R, B, n, A)``."""
        R, B, n, Kc = cvals.shape
        r = np.arange(R)[:, None, None, None]
        j = np.arange(n)[None, None, :, None]
        k = np.arange(Kc)[None, None, None, :]
        per_coord = table[r, j, k, cvals]                                # (R, B, n, Kc, L, A)
        summed = per_coord.sum(axis=3)                                   # (R, B, n, L, A)
        pad_acts = np.concatenate([acts, np.zeros(acts.shape[:-1] + (1,), dtype=acts.dtype)], axis=-1)
        nb_acts = pad_acts[..., self.nbr]                                # (R, B, n, L)
        q = np.take_along_axis(summed, nb_acts[..., None], axis=-1)[..., 0].sum(axis=-1)
        g = np.zeros(summed.shape[:3] + (summed.shape[-1],))
        for jj, l, i in self._pairs:
            g[:, :, i, :] += summed[:, :, jj, l, :]
        return q, g

    # ------------------------------------------------------------------ training
    def _iterate_once(self) -> None:
        cfg = self.config
        R, n, T, B = self.n_runs, self.n_agents, cfg.horizon, cfg.episodes
        rng = self._rng
        m = rng.integers(self.domain_factors.shape[0], size=R)
        phi = self.features(self.w_hat[m])                               # (R, n, F)
        w_env = np.repeat(self.domain_factors[m], B, axis=0)             # (R*B, n)
        states = self.env.reset(R * B, rng, domain_factor=w_env)
        s_buf, a_buf, r_buf, p_buf = [], [], [], []
        for t in range(T + 1):
            sv = states.reshape(R, B, -1)
            logits = self._actor_logits(self._values(sv, self.actor_columns), phi)
            e = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probs = e / e.sum(axis=-1, keepdims=True)
            u = rng.random((R, B, n))
            acts = np.minimum((np.cumsum(probs, axis=-1) <= u[..., None]).sum(axis=-1), self.action_counts - 1)
            s_buf.append(sv)
            a_buf.append(acts)
            p_buf.append(probs)
            if t < T:
                states, rewards = self.env.step(states, acts.reshape(R * B, n), rng, domain_factor=w_env)
                r_buf.append(rewards.reshape(R, B, n))
        k_eff = self.iteration + 1
        # critic: SARSA(0) sweep, each transition with the weights before the sweep's update
        table = self._critic_tables(phi)
        cvals = [self._values(s, self.critic_columns) for s in s_buf]
        qg = [self._q_and_g(table, cv, a) for cv, a in zip(cvals, a_buf)]
        alpha = cfg.critic_lr / math.sqrt(1.0 + k_eff / 100.0)
        grad_c = np.zeros_like(self.critic)
        for t in range(T):
            delta = r_buf[t] + cfg.gamma * qg[t + 1][0] - qg[t][0]          # (R, B, n)
            self._accumulate_critic(grad_c, delta / self._n_active, cvals[t], a_buf[t], phi)
        self.critic += alpha * grad_c / B
        # actor: expected policy gradient with the advantage of sum_{j in N_i} Q_j
        eta = cfg.actor_lr / math.sqrt(1.0 + k_eff / 100.0)
        grad_a = np.zeros_like(self.theta)
        K = self.actor_columns.shape[1]
        for t in range(T + 1):
            g = qg[t][1]
            probs = p_buf[t]
            g = np.where(self._amask, g, 0.0)
            adv = probs * (g - (probs * g).sum(axis=-1, keepdims=True))    # (R, B, n, A)
            avals = self._values(s_buf[t], self.actor_columns)               # (R, B, n, K)
            contrib = (cfg.gamma ** t) * adv[:, :, :, None, None, :] * phi[:, None, :, :, None, None] \
                * self.actor_active[None, None, :, None, :, None]           # (R, B, n, F, K, A)
            F = phi.shape[-1]
            V, A = self.theta.shape[4], self.theta.shape[5]
            base = ((np.arange(R)[:, None, None, None, None] * n + np.arange(n)[None, None, :, None, None]) * F
                    + np.arange(F)[None, None, None, :, None]) * K + np.arange(K)[None, None, None, None, :]
            idx = (base * V + avals[:, :, :, None, :])[..., None] * A + np.arange(A)       # (R,B,n,F,K,A)
            grad_a += np.bincount(idx.ravel(), weights=contrib.ravel(), minlength=self.theta.size
                                  ).reshape(self.theta.shape)
        self.theta += eta * grad_a / (B * self._n_actor_inputs[None, :, None, None, None, None])
        self.iteration += 1

    def _accumulate_critic(self, grad: np.ndarray, delta: np.ndarray, cvals: np.ndarray, acts: np.ndarray,
                           phi: np.ndarray) -> None:
        R, B, n, Kc = cvals.shape
        F, V, L, A = grad.shape[2], grad.shape[4], grad.shape[5], grad.shape[6]
        pad_acts = np.concatenate([acts, np.zeros(acts.shape[:-1] + (1,), dtype=acts.dtype)], axis=-1)
        nb_acts = pad_acts[..., self.nbr]                                       # (R, B, n, L)
        active = (self.critic_active[:, :, None] & self.nbr_active[:, None, :])  # (n, Kc, L)
        r = np.arange(R)[:, None, None, None, None, None]
        j = np.arange(n)[None, None, :, None, None, None]
        f = np.arange(F)[None, None, None, :, None, None]
        k = np.arange(Kc)[None, None, None, None, :, None]
        l = np.arange(L)[None, None, None, None, None, :]
        v = cvals[:, :, :, None, :, None]
        a = nb_acts[:, :, :, None, None, :]
        idx = (((((r * n + j) * F + f) * Kc + k) * V + v) * L + l) * A + a        # (R, B, n, F, Kc, L)
        w = delta[:, :, :, None, None, None] * phi[:, None, :, :, None, None] * active[None, None, :, None, :, :]
        idx, w = np.broadcast_arrays(idx, w)
        grad += np.bincount(idx.ravel(), weights=w.ravel(), minlength=grad.size).reshape(grad.shape)

    def iterate(self, iterations: int) -> None:
        """Advance every run by ``iterations`` outer iterations."""
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
        start = time.perf_counter()
        for _ in range(int(iterations)):
            self._iterate_once()
        self.train_seconds += time.perf_counter() - start

    # ------------------------------------------------------------------ policies
    def policy(self, run: int = 0, *, w_hat: np.ndarray | float | None = None) -> LinearSoftmaxPolicy:
        """A copy of run ``run``'s policy (``w_hat`` default: the first source's)."""
        if not 0 <= run < self.n_runs:
            raise ValueError(f"run must be in 0..{self.n_runs - 1}, got {run}")
        return LinearSoftmaxPolicy(self.theta[run], self.actor_columns, self.actor_active, self.action_counts,
                                   self.features, w_hat=self.w_hat[0] if w_hat is None else w_hat)

    def policies(self, *, w_hat: np.ndarray | float | None = None) -> list[LinearSoftmaxPolicy]:
        """Copies of every run's policy."""
        return [self.policy(r, w_hat=w_hat) for r in range(self.n_runs)]

    def sizes(self) -> dict[str, Any]:
        """Parameter counts per run: actor and critic weights actually used (padding excluded)."""
        F = int(self.features.n_features)
        A = self.action_counts
        actor = int(sum(F * A[i] * (1 + sum(self.inputs.policy_cardinality[i])) for i in range(self.n_agents)))
        critic = 0
        for j in range(self.n_agents):
            cards = [k for c, k in zip(self.inputs.critic_columns[j], self.inputs.critic_cardinality[j])
                     if c < self.env.spec.n_state]
            critic += F * (1 + sum(cards)) * int(sum(A[l] for l in self.inputs.neighborhoods[j]))
        return {"actor_weights": actor, "critic_weights": critic,
                "mean_policy_inputs": float(np.mean([len(c) for c in self.inputs.policy_columns])),
                "mean_critic_state_inputs": float(np.mean([sum(1 for c in cols if c < self.env.spec.n_state)
                                                           for cols in self.inputs.critic_columns]))}
