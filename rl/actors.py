"""Localized softmax actors whose logits are linear in features of the domain factor.

Agent ``i`` in local state ``s`` (the mixed-radix code of its policy inputs) with
domain features ``phi = phi_i(w_hat)`` picks action ``a`` with probability
``softmax_a(sum_f phi_f * theta_i[s, f, a])`` over its own ``A_i`` actions. The
parameters of all agents live in one padded array ``theta`` of shape
``(n, S, F, A)`` (``S`` = largest number of local states, ``A`` = largest number of
actions; padded actions have probability 0).

The array functions below work on any leading batch shape (the trainer advances
several runs at once); :class:`LocalizedSoftmaxPolicy` wraps one run's parameters as
a policy ``policy(states, rng) -> actions`` with a settable ``w_hat``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rl.features import DomainFeatures, features_from_dict

__all__ = ["LocalizedSoftmaxPolicy", "action_mask", "policy_codes", "policy_layout", "sample_from_cdf",
           "softmax_tables"]


def policy_layout(columns: list[list[int]], cardinality: list[list[int]]) -> tuple[np.ndarray, np.ndarray, int]:
    """Padded columns, mixed-radix strides and the number of local states ``S``.

    >>> cols, strides, n_states = policy_layout([[0, 1], [2]], [[2, 2], [3]])
    >>> cols.tolist(), strides.tolist(), n_states
    ([[0, 1], [2, 0]], [[2, 1], [1, 0]], 4)
    """
    n = len(columns)
    width = max(1, max((len(c) for c in columns), default=1))
    cols = np.zeros((n, width), dtype=np.int64)
    strides = np.zeros((n, width), dtype=np.int64)
    n_states = 1
    for i, (c, k) in enumerate(zip(columns, cardinality)):
        s = 1
        for p in range(len(c) - 1, -1, -1):
            cols[i, p] = c[p]
            strides[i, p] = s
            s *= int(k[p])
        n_states = max(n_states, s)
    return cols, strides, n_states


def policy_codes(states: np.ndarray, columns: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """Local state code of every agent: ``states (..., n_state) -> (..., n)``."""
    return (states[..., columns] * strides).sum(axis=-1)


def action_mask(action_counts: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` boolean mask of each agent's valid actions."""
    return np.arange(width)[None, :] < np.asarray(action_counts)[:, None]


def softmax_tables(theta: np.ndarray, phi: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Action probabilities and their cumulative sums for every local state.

    Parameters
    ----------
    theta : array, shape (..., n, S, F, A)
    phi : array, shape (..., n, F)
    mask : bool array, shape (n, A)

    Returns
    -------
    probs, cdf : arrays of shape (..., n, S, A)
    """
    n_features = theta.shape[-2]
    logits = phi[..., :, None, 0, None] * theta[..., 0, :]
    for f in range(1, n_features):
        logits = logits + phi[..., :, None, f, None] * theta[..., f, :]
    logits = np.where(mask[:, None, :], logits, -np.inf)
    expo = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = expo / expo.sum(axis=-1, keepdims=True)
    return probs, np.cumsum(probs, axis=-1)


def sample_from_cdf(cdf_rows: np.ndarray, uniforms: np.ndarray, action_counts: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: the first action whose cumulative probability exceeds ``u``.

    ``cdf_rows`` has shape ``(..., n, A)``, ``uniforms`` ``(..., n)``.

    >>> sample_from_cdf(np.array([[0.2, 0.7, 1.0]]), np.array([0.5]), np.array([3])).tolist()
    [1]
    """
    actions = (cdf_rows <= uniforms[..., None]).sum(axis=-1)
    return np.minimum(actions, action_counts - 1)


class LocalizedSoftmaxPolicy:
    """One run's localized softmax policies as a callable ``policy(states, rng) -> actions``.

    Parameters
    ----------
    theta : array, shape (n, S, F, A)
        Parameters (copied).
    policy_columns, policy_cardinality : list of list of int
        Each agent's policy inputs (state columns) and their cardinalities.
    action_counts : array of int, shape (n,)
    features : DomainFeatures
        Feature map of ``w_hat`` with ``features.n_features == F``.
    w_hat : array, shape (n,)
        Estimated domain factor the policy conditions on (settable attribute).
    mode : "sample" or "greedy"
        ``"sample"`` draws from the softmax; ``"greedy"`` takes each agent's most
        probable action (the lowest index among ties) and draws nothing (settable).

    Examples
    --------
    >>> from rl.features import PolynomialFeatures
    >>> pol = LocalizedSoftmaxPolicy(np.zeros((2, 2, 2, 3)), [[0], [1]], [[2], [2]], [3, 2],
    ...                              PolynomialFeatures(2), w_hat=[0.5, 0.5])
    >>> pol(np.zeros((4, 2), dtype=np.int8), np.random.default_rng(0)).shape
    (4, 2)
    >>> pol.w_hat = [0.2, 0.8]
    >>> pol.probabilities(np.zeros((1, 2), dtype=np.int8))[0, 1].round(3).tolist()
    [0.5, 0.5, 0.0]
    >>> pol.mode = "greedy"
    >>> pol(np.zeros((1, 2), dtype=np.int8), np.random.default_rng(0)).tolist()
    [[0, 0]]
    """

    def __init__(self, theta: np.ndarray, policy_columns: list[list[int]], policy_cardinality: list[list[int]],
                 action_counts, features: DomainFeatures, *, w_hat, mode: str = "sample") -> None:
        theta = np.array(theta, dtype=np.float64)
        if theta.ndim != 4:
            raise ValueError(f"theta must have shape (n_agents, S, F, A), got {theta.shape}")
        n = theta.shape[0]
        self.action_counts = np.asarray(action_counts, dtype=np.int64)
        if self.action_counts.shape != (n,):
            raise ValueError(f"action_counts must have shape ({n},), got {self.action_counts.shape}")
        if len(policy_columns) != n or len(policy_cardinality) != n:
            raise ValueError(f"policy_columns and policy_cardinality must list {n} agents")
        if int(self.action_counts.max()) > theta.shape[3]:
            raise ValueError(f"theta has {theta.shape[3]} action slots but an agent has "
                             f"{self.action_counts.max()} actions")
        if features.n_features != theta.shape[2]:
            raise ValueError(f"features give {features.n_features} features but theta has {theta.shape[2]}")
        self.theta = theta
        self.policy_columns = [list(map(int, c)) for c in policy_columns]
        self.policy_cardinality = [list(map(int, c)) for c in policy_cardinality]
        self._cols, self._strides, n_states = policy_layout(self.policy_columns, self.policy_cardinality)
        if n_states > theta.shape[1]:
            raise ValueError(f"policy inputs have {n_states} local states but theta has {theta.shape[1]}")
        self.features = features
        self._mask = action_mask(self.action_counts, theta.shape[3])
        self._cdf: np.ndarray | None = None
        self._probs: np.ndarray | None = None
        self.w_hat = w_hat
        self.mode = mode

    @property
    def mode(self) -> str:
        """``"sample"`` or ``"greedy"``."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in ("sample", "greedy"):
            raise ValueError(f"mode must be 'sample' or 'greedy', got {value!r}")
        self._mode = value

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.theta.shape[0]

    @property
    def w_hat(self) -> np.ndarray:
        """The domain factor estimate the policy conditions on, shape ``(n,)``."""
        return self._w_hat.copy()

    @w_hat.setter
    def w_hat(self, value) -> None:
        w = np.asarray(value, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(self.n_agents, float(w))
        if w.shape != (self.n_agents,):
            raise ValueError(f"w_hat must be a scalar or have shape ({self.n_agents},), got {w.shape}")
        self._w_hat = w.copy()
        self._probs, self._cdf = softmax_tables(self.theta, self.features(w), self._mask)

    def codes(self, states: np.ndarray) -> np.ndarray:
        """Local state code of every agent, shape ``(B, n)``."""
        return policy_codes(np.asarray(states), self._cols, self._strides)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """Action probabilities ``(B, n, A)`` (zero beyond each agent's actions)."""
        codes = self.codes(states)
        return self._probs[np.arange(self.n_agents), codes]

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        states = np.asarray(states)
        codes = self.codes(states)
        if self._mode == "greedy":
            return self._probs[np.arange(self.n_agents), codes].argmax(axis=-1)
        u = rng.random((states.shape[0], self.n_agents))
        return sample_from_cdf(self._cdf[np.arange(self.n_agents), codes], u, self.action_counts)

    # ------------------------------------------------------------ export
    def state_dict(self) -> dict[str, Any]:
        """``{"arrays": {name: ndarray}, "metadata": JSON-ready dict}`` (see :meth:`from_state_dict`)."""
        return {"arrays": {"theta": self.theta.copy(), "w_hat": self._w_hat.copy(),
                           "action_counts": self.action_counts.copy()},
                "metadata": {"kind": "localized_softmax", "policy_columns": self.policy_columns,
                             "policy_cardinality": self.policy_cardinality,
                             "features": self.features.to_dict()}}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "LocalizedSoftmaxPolicy":
        """Rebuild a policy from :meth:`state_dict` output (metadata may be JSON text)."""
        meta = state["metadata"]
        if isinstance(meta, str):
            meta = json.loads(meta)
        if meta.get("kind") != "localized_softmax":
            raise ValueError(f"state_dict holds a {meta.get('kind')!r} policy, expected 'localized_softmax'")
        arrays = state["arrays"]
        return cls(arrays["theta"], meta["policy_columns"], meta["policy_cardinality"],
                   arrays["action_counts"], features_from_dict(meta["features"]), w_hat=arrays["w_hat"])
