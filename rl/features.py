"""Inputs of the localized actor-critic: which variables each agent's critic and actor see.

Two things live here.

* :class:`DomainFeatures` -- the feature map ``phi`` of the estimated domain factor
  that the softmax actor's logits are linear in (``logits = sum_f phi_f(w_hat) *
  theta[state, f, :]``). Built-ins: :class:`ConstantFeatures` (``phi = [1]``, plain
  SAC), :class:`PolynomialFeatures` (``[1, w, w^2, ...]`` of chosen agents' factors,
  GSAC) and :class:`SourceOneHotFeatures` (one-hot code of the nearest source domain,
  SAC-MTL).
* :func:`build_agent_inputs` -- per-agent index lists computed from a
  :class:`~causalnet.graph.FactoredGraph`: critic inputs (state coordinates, actions of
  ``N_i^kappa``, a domain code), policy inputs (state coordinates) and the agents whose
  domain factors feed the actor's features. Mode ``"acr"`` uses the ACRs of
  :mod:`causalnet.acr` (GSAC); mode ``"truncation"`` uses the full states of
  ``N_i^kappa`` for the critic and the agent's own full state for the actor (SAC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import numpy as np

from causalnet.acr import domain_acr, policy_acr, value_acr
from causalnet.graph import FactoredGraph

__all__ = ["AgentInputs", "ConstantFeatures", "DomainFeatures", "InputMode", "PolynomialFeatures",
           "SourceOneHotFeatures", "build_agent_inputs", "features_from_dict"]

InputMode = Literal["acr", "truncation"]


# ------------------------------------------------------------------ features
@runtime_checkable
class DomainFeatures(Protocol):
    """Feature map of the estimated domain factor: ``(..., n) -> (..., n, n_features)``.

    ``phi(w_hat)[..., i, :]`` are the features agent ``i``'s logits are linear in.
    ``to_dict()`` returns JSON-ready metadata that :func:`features_from_dict` inverts.
    """

    n_features: int

    def __call__(self, w_hat: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


class ConstantFeatures:
    """``phi(w) = [1]``: a policy that ignores the domain factor (plain SAC, SAC-FT).

    >>> ConstantFeatures()(np.array([[0.2, 0.8]])).shape
    (1, 2, 1)
    """

    n_features = 1

    def __call__(self, w_hat: np.ndarray) -> np.ndarray:
        w_hat = np.asarray(w_hat, dtype=np.float64)
        return np.ones(w_hat.shape + (1,))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "constant"}


class PolynomialFeatures:
    """``phi_i(w) = [1, w_j, w_j^2, ..., w_j^degree for j in agents[i]]``.

    Parameters
    ----------
    n_agents : int
    degree : int
        1 gives ``[1, w]`` (default), 2 gives ``[1, w, w^2]``.
    agents : sequence of sequences of int, optional
        The agents whose factors feed agent ``i``'s features (GSAC: its domain ACR).
        Default: each agent's own factor. Agents with fewer inputs than the widest get
        zero features in the unused positions.

    Examples
    --------
    >>> phi = PolynomialFeatures(2, degree=2)
    >>> phi(np.array([0.5, 0.2])).tolist()
    [[1.0, 0.5, 0.25], [1.0, 0.2, 0.04000000000000001]]
    """

    def __init__(self, n_agents: int, *, degree: int = 1, agents: Sequence[Sequence[int]] | None = None) -> None:
        if not isinstance(degree, (int, np.integer)) or degree < 1:
            raise ValueError(f"degree must be an integer >= 1, got {degree!r}")
        if agents is None:
            agents = [[i] for i in range(n_agents)]
        if len(agents) != n_agents:
            raise ValueError(f"agents must list one group per agent ({n_agents}), got {len(agents)}")
        for i, group in enumerate(agents):
            bad = [j for j in group if not 0 <= int(j) < n_agents]
            if bad:
                raise ValueError(f"agents[{i}] names agent(s) {bad} outside 0..{n_agents - 1}")
        self.n_agents, self.degree = int(n_agents), int(degree)
        self.agents = [[int(j) for j in group] for group in agents]
        width = max((len(g) for g in self.agents), default=0)
        self._index = np.zeros((n_agents, max(width, 1)), dtype=np.int64)
        self._used = np.zeros((n_agents, max(width, 1)), dtype=bool)
        for i, group in enumerate(self.agents):
            self._index[i, :len(group)] = group
            self._used[i, :len(group)] = True
        self._width = width
        self.n_features = 1 + self.degree * width

    def __call__(self, w_hat: np.ndarray) -> np.ndarray:
        w_hat = np.asarray(w_hat, dtype=np.float64)
        if w_hat.shape[-1:] != (self.n_agents,):
            raise ValueError(f"w_hat must end with {self.n_agents} agents, got shape {w_hat.shape}")
        out = np.zeros(w_hat.shape + (self.n_features,))
        out[..., 0] = 1.0
        if self._width:
            w = np.where(self._used, w_hat[..., self._index], 0.0)      # (..., n, width)
            power = np.ones_like(w)
            for p in range(self.degree):
                power = power * w
                out[..., 1 + p * self._width:1 + (p + 1) * self._width] = power
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "polynomial", "n_agents": self.n_agents, "degree": self.degree, "agents": self.agents}


class SourceOneHotFeatures:
    """One-hot code of the source domain whose ``w_hat`` row is nearest (SAC-MTL).

    Parameters
    ----------
    source_w_hat : array, shape (M, n)
        The source domains' factors; ``phi(w)`` is the one-hot vector of the nearest
        row (Euclidean distance over all agents, first row on ties), the same for
        every agent.

    >>> phi = SourceOneHotFeatures(np.array([[0.2, 0.2], [0.8, 0.8]]))
    >>> phi(np.array([0.7, 0.9])).tolist()
    [[0.0, 1.0], [0.0, 1.0]]
    """

    def __init__(self, source_w_hat: np.ndarray) -> None:
        table = np.asarray(source_w_hat, dtype=np.float64)
        if table.ndim != 2 or table.shape[0] < 1:
            raise ValueError(f"source_w_hat must have shape (M, n_agents) with M >= 1, got {table.shape}")
        self.table = table
        self.n_features = table.shape[0]

    def __call__(self, w_hat: np.ndarray) -> np.ndarray:
        w_hat = np.asarray(w_hat, dtype=np.float64)
        n = self.table.shape[1]
        if w_hat.shape[-1:] != (n,):
            raise ValueError(f"w_hat must end with {n} agents, got shape {w_hat.shape}")
        dist = ((w_hat[..., None, :] - self.table) ** 2).sum(axis=-1)   # (..., M)
        code = np.eye(self.n_features)[np.argmin(dist, axis=-1)]        # (..., M)
        return np.broadcast_to(code[..., None, :], w_hat.shape + (self.n_features,)).copy()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "source_onehot", "source_w_hat": self.table.tolist()}


def features_from_dict(data: dict[str, Any]) -> DomainFeatures:
    """Rebuild a built-in feature map from its ``to_dict()`` metadata.

    >>> features_from_dict(PolynomialFeatures(3, degree=2).to_dict()).n_features
    3
    """
    kind = data.get("kind")
    if kind == "constant":
        return ConstantFeatures()
    if kind == "polynomial":
        return PolynomialFeatures(int(data["n_agents"]), degree=int(data["degree"]), agents=data["agents"])
    if kind == "source_onehot":
        return SourceOneHotFeatures(np.asarray(data["source_w_hat"], dtype=np.float64))
    raise ValueError(f"unknown feature kind {kind!r}; expected 'constant', 'polynomial' or 'source_onehot'")


# ------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class AgentInputs:
    """Per-agent input index lists of the localized actor-critic.

    Column convention for critic inputs: ``0..n_state-1`` are state coordinates,
    ``n_state + j`` is the action of agent ``j`` and ``n_state + n + i`` is agent
    ``i``'s domain code.

    Attributes
    ----------
    mode : "acr" or "truncation"
    kappa : int
    neighborhoods : list of list of int
        ``N_i^kappa`` (agent included), used by the actor's gradient.
    critic_columns : list of list of int
        Columns of each agent's critic key (states, then actions, then its domain code).
    critic_cardinality : list of list of int
        Number of values of each critic input (the domain code: number of distinct codes).
    policy_columns : list of list of int
        State coordinates each agent's policy sees.
    policy_cardinality : list of list of int
    domain_agents : list of list of int
        Agents whose domain factors feed the actor's features (and define the critic's
        domain code when enabled).
    """

    mode: str
    kappa: int
    neighborhoods: list[list[int]]
    critic_columns: list[list[int]]
    critic_cardinality: list[list[int]]
    policy_columns: list[list[int]]
    policy_cardinality: list[list[int]]
    domain_agents: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {k: getattr(self, k) for k in ("mode", "kappa", "neighborhoods", "critic_columns",
                                              "critic_cardinality", "policy_columns",
                                              "policy_cardinality", "domain_agents")}


def _domain_codes(w_hat: np.ndarray, groups: list[list[int]]) -> tuple[np.ndarray, list[int]]:
    """Code of each source row per agent: index of its distinct ``w_hat[m, group_i]`` tuple."""
    m, n = w_hat.shape
    codes = np.zeros((m, n), dtype=np.int64)
    counts = []
    for i, group in enumerate(groups):
        if group:
            _, inverse = np.unique(w_hat[:, group], axis=0, return_inverse=True)
            codes[:, i] = inverse.reshape(-1)
            counts.append(int(inverse.max()) + 1)
        else:
            counts.append(1)
    return codes, counts


def build_agent_inputs(graph: FactoredGraph, *, kappa: int, mode: InputMode,
                       critic_domain: bool, source_w_hat: np.ndarray) -> tuple[AgentInputs, np.ndarray]:
    """Index lists for every agent and the per-source domain codes of the critic.

    Parameters
    ----------
    graph : FactoredGraph
        True or discovered graph (only its spec is used in ``"truncation"`` mode).
    kappa : int
        Neighbourhood radius ``N_i^kappa`` of the critic and the gradient.
    mode : "acr" or "truncation"
        ``"acr"``: critic on ``value_acr`` coordinates, actions of ``N_i^kappa`` and the
        domain code of ``domain_acr`` agents; actor on ``policy_acr`` coordinates with
        features of ``domain_acr`` factors. ``"truncation"``: critic on all
        coordinates and actions of ``N_i^kappa`` (domain code over ``N_i^kappa``);
        actor on the agent's own coordinates and own factor.
    critic_domain : bool
        Whether the critic key contains the domain code.
    source_w_hat : array, shape (M, n)
        Estimated factors of the source domains (define the domain codes).

    Returns
    -------
    inputs : AgentInputs
    domain_codes : int array, shape (M, n)
        Critic domain code of each agent in each source domain.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> inp, codes = build_agent_inputs(env.true_graph(), kappa=1, mode="acr", critic_domain=True,
    ...                                 source_w_hat=np.array([[0.2] * 4, [0.8] * 4]))
    >>> inp.policy_columns[0], inp.critic_columns[0], codes[:, 0].tolist()
    ([0, 1], [0, 1, 8, 9, 10, 11, 12], [0, 1])
    """
    if mode not in ("acr", "truncation"):
        raise ValueError(f"mode must be 'acr' or 'truncation', got {mode!r}")
    spec = graph.spec
    if not spec.is_discrete:
        raise ValueError("the tabular actor-critic needs discrete state coordinates; "
                         "the spec has continuous ones")
    n, n_state = spec.n_agents, spec.n_state
    state_index = {name: j for j, name in enumerate(spec.state_names)}
    neighborhoods = [spec.neighborhood(i, int(kappa)) for i in range(n)]
    if mode == "acr":
        value_cols = [[state_index[s] for s in value_acr(graph, i, kappa=kappa)] for i in range(n)]
        policy_cols = [[state_index[s] for s in policy_acr(graph, i, kappa=kappa)] for i in range(n)]
        dom_agents = [domain_acr(graph, i, kappa=kappa) for i in range(n)]
        critic_dom_agents = dom_agents
    else:
        # coordinates of N_i^kappa in increasing column order (per-agent lists: no O(n^2) scan)
        own_cols = [spec.agent_state_indices(i).tolist() for i in range(n)]
        value_cols = [sorted(j for a in nb for j in own_cols[a]) for nb in neighborhoods]
        policy_cols = own_cols
        dom_agents = [[i] for i in range(n)]
        critic_dom_agents = neighborhoods
    codes, code_counts = _domain_codes(np.asarray(source_w_hat, dtype=np.float64), critic_dom_agents)
    cards = spec.state_cardinality
    critic_cols, critic_cards = [], []
    for i in range(n):
        cols = list(value_cols[i]) + [n_state + j for j in neighborhoods[i]]
        cc = [int(cards[j]) for j in value_cols[i]] + [int(spec.action_cardinality[j]) for j in neighborhoods[i]]
        if critic_domain and code_counts[i] > 1:
            cols.append(n_state + n + i)
            cc.append(code_counts[i])
        critic_cols.append(cols)
        critic_cards.append(cc)
    inputs = AgentInputs(
        mode=mode, kappa=int(kappa), neighborhoods=neighborhoods,
        critic_columns=critic_cols, critic_cardinality=critic_cards,
        policy_columns=policy_cols, policy_cardinality=[[int(cards[j]) for j in c] for c in policy_cols],
        domain_agents=dom_agents)
    return inputs, codes
