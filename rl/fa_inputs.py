"""Inputs and features of the function-approximation actor-critic (:mod:`rl.fa_gsac`).

Each agent ``i`` has

* a **critic input** vector ``y_i = [s_V, u_N, w_D]``: the state coordinates ``V_i``,
  the actions of ``N_i^kappa`` and the estimated domain factors of the agents ``D_i``;
  the critic is linear in the **quadratic features** ``[1, y, y_a y_b (a <= b)]``;
* a **policy input** vector ``[1, s_P]`` and domain features ``phi_i = [1, w_E]``; the
  Gaussian actor's mean is bilinear: ``mu_i = [1, s_P]' Theta_i phi_i``.

Which variables enter depends on the mode:

============== ================================ ================================ ===================
mode           critic states ``V_i``            policy states ``P_i``             factors ``D_i``/``E_i``
============== ================================ ================================ ===================
``acr``        value ACR                        policy ACR                       domain ACR (both)
``truncation`` every coordinate of ``N_i^kappa`` every coordinate of ``N_i^1``    ``N_i^kappa`` / ``N_i^1``
``full``       every coordinate                 every coordinate                 every agent
============== ================================ ================================ ===================

(``truncation`` lets the actor read the neighbours' full states so that it can
represent the same linear policies as the ACR actor; it differs only by the
irrelevant coordinates it cannot rule out.) Index arrays are padded to a common
width with a pointer to a zero column, so every agent is processed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from causalnet.acr import domain_acr, policy_acr, value_acr
from causalnet.graph import FactoredGraph

__all__ = ["FAInputMode", "FAInputs", "build_fa_inputs", "quadratic_features", "quadratic_pairs"]

FAInputMode = Literal["acr", "truncation", "full"]


@dataclass(frozen=True)
class FAInputs:
    """Padded per-agent index arrays of the function-approximation actor-critic.

    Column conventions: critic indices point into ``[states (m), actions (n), w_hat (n), 0]``
    (the last column, ``m + 2n``, is the zero pad); policy indices into ``[1, states (m), 0]``
    (``0`` the constant, ``m + 1`` the pad); domain indices into ``[1, w_hat (n), 0]``.

    Attributes
    ----------
    mode : str
    kappa : int
    n_agents, n_state : int
    critic_index : int array, shape (n, dc)
    policy_index : int array, shape (n, dp)
        First column is the constant.
    domain_index : int array, shape (n, de)
        First column is the constant.
    neighborhoods : list of list of int
        ``N_i^kappa``.
    action_pairs : int array, shape (K, 3)
        Rows ``(j, position, i)``: slot ``position`` of agent ``j``'s critic input is ``u_i``.
    """

    mode: str
    kappa: int
    n_agents: int
    n_state: int
    critic_index: np.ndarray
    policy_index: np.ndarray
    domain_index: np.ndarray
    neighborhoods: list[list[int]]
    action_pairs: np.ndarray

    @property
    def n_critic_features(self) -> int:
        """Quadratic features per agent: ``1 + dc + dc (dc + 1) / 2``."""
        dc = self.critic_index.shape[1]
        return 1 + dc + dc * (dc + 1) // 2

    @property
    def n_policy_parameters(self) -> int:
        """Actor parameters per agent: ``dp * de``."""
        return self.policy_index.shape[1] * self.domain_index.shape[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (lists)."""
        return {"mode": self.mode, "kappa": self.kappa, "n_agents": self.n_agents, "n_state": self.n_state,
                "critic_index": self.critic_index.tolist(), "policy_index": self.policy_index.tolist(),
                "domain_index": self.domain_index.tolist(), "neighborhoods": self.neighborhoods,
                "action_pairs": self.action_pairs.tolist()}


def _pad(rows: list[list[int]], fill: int) -> np.ndarray:
    width = max(1, max(len(r) for r in rows))
    out = np.full((len(rows), width), fill, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def build_fa_inputs(graph: FactoredGraph, *, kappa: int, mode: FAInputMode, domain: bool = True) -> FAInputs:
    """Per-agent critic, policy and domain inputs of ``graph`` in ``mode`` (see the module docstring).

    ``domain=False`` drops the estimated factors from critic and actor (``phi_i = [1]``:
    a policy that ignores the domain, plain SAC).

    Examples
    --------
    >>> from rl.envs.lqr import NetworkedLQREnv
    >>> env = NetworkedLQREnv(4, distractors=1)
    >>> acr = build_fa_inputs(env.true_graph(), kappa=1, mode="acr")
    >>> trunc = build_fa_inputs(env.true_graph(), kappa=1, mode="truncation")
    >>> acr.critic_index.shape, trunc.critic_index.shape     # 3 x + 3 u + 3 w  vs  6 s + 3 u + 3 w
    ((4, 9), (4, 12))
    >>> acr.policy_index[0].tolist()                          # constant, x0, x1, x3
    [0, 1, 3, 7]
    """
    if mode not in ("acr", "truncation", "full"):
        raise ValueError(f"mode must be 'acr', 'truncation' or 'full', got {mode!r}")
    if isinstance(kappa, bool) or not isinstance(kappa, (int, np.integer)) or kappa < 0:
        raise ValueError(f"kappa must be an integer >= 0, got {kappa!r}")
    spec = graph.spec
    n, m = spec.n_agents, spec.n_state
    index = {name: j for j, name in enumerate(spec.state_names)}
    owner = np.asarray(spec.state_owner)
    nbhd = [spec.neighborhood(i, int(kappa)) for i in range(n)]
    if mode == "acr":
        value = [[index[s] for s in value_acr(graph, i, kappa=kappa)] for i in range(n)]
        policy = [[index[s] for s in policy_acr(graph, i, kappa=kappa)] for i in range(n)]
        dom = [domain_acr(graph, i, kappa=kappa) for i in range(n)]
        actors_dom, actions = dom, nbhd
    elif mode == "truncation":
        near = [spec.neighborhood(i, min(1, int(kappa))) for i in range(n)]
        value = [[int(j) for j in np.flatnonzero(np.isin(owner, nb))] for nb in nbhd]
        policy = [[int(j) for j in np.flatnonzero(np.isin(owner, nb))] for nb in near]
        dom, actors_dom, actions = nbhd, near, nbhd
    else:
        everyone = list(range(n))
        value = policy = [list(range(m))] * n
        dom = actors_dom = actions = nbhd = [everyone] * n
    if not domain:
        dom = actors_dom = [[] for _ in range(n)]
    critic_rows = [list(v) + [m + j for j in a] + [m + n + j for j in d] for v, a, d in zip(value, actions, dom)]
    critic_index = _pad(critic_rows, m + 2 * n)
    pairs = [(j, pos, c - m) for j, row in enumerate(critic_rows) for pos, c in enumerate(row) if m <= c < m + n]
    return FAInputs(mode=mode, kappa=int(kappa), n_agents=n, n_state=m, critic_index=critic_index,
                    policy_index=_pad([[0] + [c + 1 for c in p] for p in policy], m + 1),
                    domain_index=_pad([[0] + [j + 1 for j in d] for d in actors_dom], n + 1),
                    neighborhoods=[list(nb) for nb in nbhd],
                    action_pairs=np.asarray(pairs, dtype=np.int64).reshape(-1, 3))


def quadratic_pairs(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(a, b)``, ``a <= b``, of the quadratic monomials of ``width`` inputs."""
    return np.triu_indices(int(width))


def quadratic_features(y: np.ndarray) -> np.ndarray:
    """``[1, y, y_a y_b (a <= b)]`` along the last axis.

    For LQR every local Q-function restricted to its inputs is a quadratic form plus a
    linear and a constant term, so these features represent it exactly when the
    inputs hold all the variables it depends on.

    >>> quadratic_features(np.array([2.0, 3.0])).tolist()
    [1.0, 2.0, 3.0, 4.0, 6.0, 9.0]
    """
    y = np.asarray(y, dtype=np.float64)
    a, b = quadratic_pairs(y.shape[-1])
    ones = np.ones(y.shape[:-1] + (1,))
    return np.concatenate([ones, y, y[..., a] * y[..., b]], axis=-1)
