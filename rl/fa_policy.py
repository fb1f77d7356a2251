"""The Gaussian linear actor of :mod:`rl.fa_gsac`, as a deployable policy.

Agent ``i``'s mean action is bilinear in its policy inputs and domain features,
``mu_i = [1, s_P]' Theta_i phi_i(w_hat)`` with ``phi_i = [1, w_E]`` (see
:mod:`rl.fa_inputs`); for a fixed ``w_hat`` it is an affine decentralized feedback
``u = K x + k`` (:meth:`LinearGaussianPolicy.affine`), which is what the exact LQR
references evaluate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rl.fa_inputs import FAInputs

__all__ = ["LinearGaussianPolicy"]


class LinearGaussianPolicy:
    """``u_i ~ N(mu_i(s, w_hat), noise_std^2)`` with ``mu_i = [1, s_P]' Theta_i phi_i(w_hat)``.

    Parameters
    ----------
    theta : array, shape (n, dp * de)
        ``Theta_i`` flattened row-major (policy input major, domain feature minor).
    inputs : FAInputs
    w_hat : array, shape (n,) or scalar
        Estimated domain factors the agents condition on.
    noise_std : float
        0 gives the deterministic (deployment) policy.

    Examples
    --------
    >>> from rl.envs.lqr import NetworkedLQREnv
    >>> from rl.fa_inputs import build_fa_inputs
    >>> env = NetworkedLQREnv(3)
    >>> inp = build_fa_inputs(env.true_graph(), kappa=1, mode="acr")
    >>> theta = np.zeros((3, inp.n_policy_parameters))
    >>> theta[:, 0] = 1.0                      # constant input x constant feature: u_i = 1
    >>> pol = LinearGaussianPolicy(theta, inp, w_hat=0.5)
    >>> pol(np.zeros((2, 3)), np.random.default_rng(0)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> pol.affine().k.tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, theta: np.ndarray, inputs: FAInputs, *, w_hat: float | np.ndarray,
                 noise_std: float = 0.0) -> None:
        self.inputs = inputs
        n = inputs.n_agents
        self.theta = np.asarray(theta, dtype=np.float64)
        if self.theta.shape != (n, inputs.n_policy_parameters):
            raise ValueError(f"theta has shape {self.theta.shape}; expected ({n}, {inputs.n_policy_parameters})")
        w = np.asarray(w_hat, dtype=np.float64)
        self.w_hat = np.full(n, float(w)) if w.ndim == 0 else w.copy()
        if self.w_hat.shape != (n,) or not np.all(np.isfinite(self.w_hat)):
            raise ValueError(f"w_hat must be a finite scalar or have shape ({n},), got {np.shape(w_hat)}")
        if not float(noise_std) >= 0.0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        self.noise_std = float(noise_std)

    # ------------------------------------------------------------------ batched maths
    @staticmethod
    def batch_features(inputs: FAInputs, states: np.ndarray, w_hat: np.ndarray) -> np.ndarray:
        """``psi_i = [1, s_P] (outer) phi_i`` for a batch: ``(..., m), (..., n) -> (..., n, p)``."""
        lead = states.shape[:-1]
        base_v = np.concatenate([np.ones(lead + (1,)), states, np.zeros(lead + (1,))], axis=-1)
        w = np.broadcast_to(w_hat, lead + (inputs.n_agents,))
        dom_v = np.concatenate([np.ones(lead + (1,)), w, np.zeros(lead + (1,))], axis=-1)
        base = base_v[..., inputs.policy_index]                       # (..., n, dp)
        phi = dom_v[..., inputs.domain_index]                         # (..., n, de)
        return (base[..., :, None] * phi[..., None, :]).reshape(lead + (inputs.n_agents, -1))

    @staticmethod
    def batch_means(theta: np.ndarray, inputs: FAInputs, states: np.ndarray, w_hat: np.ndarray) -> np.ndarray:
        """Mean actions ``(B, n)`` with one parameter set per row: ``theta`` of shape ``(B, n, p)``."""
        psi = LinearGaussianPolicy.batch_features(inputs, states, w_hat)
        return np.einsum("bnp,bnp->bn", psi, theta)

    # ------------------------------------------------------------------ policy API
    def mean(self, states: np.ndarray) -> np.ndarray:
        """Mean actions of a batch of states ``(B, m) -> (B, n)``."""
        psi = self.batch_features(self.inputs, np.asarray(states, dtype=np.float64), self.w_hat)
        return np.einsum("bnp,np->bn", psi, self.theta)

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sample actions (the mean when ``noise_std`` is 0)."""
        mu = self.mean(states)
        if self.noise_std == 0.0:
            return mu
        return mu + self.noise_std * rng.standard_normal(mu.shape)

    def with_w_hat(self, w_hat: float | np.ndarray) -> "LinearGaussianPolicy":
        """The same parameters conditioned on another estimate (zero-shot deployment)."""
        return LinearGaussianPolicy(self.theta, self.inputs, w_hat=w_hat, noise_std=self.noise_std)

    def affine(self):
        """The mean policy as :class:`rl.lqr_reference.AffinePolicy` ``u = K s + k``."""
        from rl.lqr_reference import AffinePolicy

        inp = self.inputs
        n, m = inp.n_agents, inp.n_state
        dp, de = inp.policy_index.shape[1], inp.domain_index.shape[1]
        dom_v = np.concatenate([[1.0], self.w_hat, [0.0]])
        phi = dom_v[inp.domain_index]                                  # (n, de)
        coef = np.einsum("npe,ne->np", self.theta.reshape(n, dp, de), phi)
        K = np.zeros((n, m + 2))                                       # columns: const, states, pad
        np.add.at(K, (np.repeat(np.arange(n), dp), inp.policy_index.ravel()), coef.ravel())
        return AffinePolicy(K=K[:, 1:m + 1], k=K[:, 0])

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {"theta": self.theta.tolist(), "w_hat": self.w_hat.tolist(), "noise_std": self.noise_std,
                "inputs": self.inputs.to_dict()}
