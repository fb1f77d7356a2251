"""Configuration and result containers of :mod:`rl.fa_gsac`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from rl.fa_inputs import FAInputMode
from rl.fa_policy import LinearGaussianPolicy

__all__ = ["FAGSACConfig", "FAGSACResult"]


@dataclass(frozen=True)
class FAGSACConfig:
    """Hyper-parameters of the function-approximation actor-critic.

    Attributes
    ----------
    kappa : int
        Neighbourhood radius of the critic inputs, the actor's gradient and the ACRs.
    gamma : float
        Discount factor (0 < gamma < 1).
    horizon : int
        ``T``: each episode runs ``T + 1`` steps and gives ``T`` TD pairs.
    episodes : int
        Episodes per run and outer iteration.
    inputs : "acr", "truncation" or "full"
        See :mod:`rl.fa_inputs`.
    explore_std : float
        ``sigma`` of the Gaussian actor while training (deployment uses the mean).
    actor_step : float
        Fraction of the curvature-normalised natural step (1 = projected Newton step).
    trust_region : float
        Largest RMS change of an agent's mean action per iteration, in units of ``sigma``.
    critic_ridge, actor_ridge : float
        Ridge terms, relative to the mean diagonal of the matrices they regularise. The
        actor's must not be tiny: when the sources' ``w_hat`` of neighbouring agents are
        nearly equal, the directions of their differences are almost unexcited, and a
        weak ridge lets the policy put large weights on them that noisy target
        estimates then turn into unstable gains.
    critic_memory : float
        Weight in ``[0, 1)`` of the previous iterations' LSTD statistics (0: fresh each iteration).
    domain_inputs : bool
        Whether critic and actor read the estimated domain factors (False: plain SAC).
    """

    kappa: int = 1
    gamma: float = 0.95
    horizon: int = 40
    episodes: int = 16
    inputs: FAInputMode = "acr"
    explore_std: float = 0.5
    actor_step: float = 0.5
    trust_region: float = 1.0
    critic_ridge: float = 1e-6
    actor_ridge: float = 1e-3
    critic_memory: float = 0.0
    domain_inputs: bool = True

    def __post_init__(self) -> None:
        if self.inputs not in ("acr", "truncation", "full"):
            raise ValueError(f"inputs must be 'acr', 'truncation' or 'full', got {self.inputs!r}")
        for name in ("kappa", "horizon", "episodes"):
            v = getattr(self, name)
            least = 0 if name == "kappa" else 1
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        for name in ("explore_std", "actor_step", "trust_region", "critic_ridge", "actor_ridge"):
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.critic_memory < 1.0:
            raise ValueError(f"critic_memory must lie in [0, 1), got {self.critic_memory!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FAGSACConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown FAGSACConfig field(s) {unknown}")
        return cls(**data)


@dataclass
class FAGSACResult:
    """Outcome of :meth:`FAGSACTrainer.run`.

    Attributes
    ----------
    config : FAGSACConfig
    policies : list of LinearGaussianPolicy
        Final policy of each run (deterministic, ``w_hat`` set to the evaluation estimate).
    iterations : int
    eval_iterations : int array, shape (E,)
    eval_samples : int array, shape (E,)
        Environment transitions per run (per agent) consumed before each evaluation.
    eval_costs : float array, shape (R, E)
        Discounted cost (summed over agents) of each run's mean policy in the evaluation domain.
    train_seconds, eval_seconds : float
    """

    config: FAGSACConfig
    policies: list[LinearGaussianPolicy]
    iterations: int
    eval_iterations: np.ndarray
    eval_samples: np.ndarray
    eval_costs: np.ndarray
    train_seconds: float
    eval_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (policies excluded)."""
        return {"config": self.config.to_dict(), "iterations": int(self.iterations),
                "eval_iterations": self.eval_iterations.tolist(), "eval_samples": self.eval_samples.tolist(),
                "eval_costs": self.eval_costs.tolist(), "train_seconds": self.train_seconds,
                "eval_seconds": self.eval_seconds, **self.extra}
