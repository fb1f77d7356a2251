"""Configuration and result containers of :mod:`rl.fa_gsac`."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

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


def train_with_evaluations(trainer: Any, iterations: int, *, eval_every: int, eval_env: Any,
                           eval_w_hat: np.ndarray | None,
                           evaluate: Callable[[Any, np.ndarray], np.ndarray],
                           progress: bool = False) -> FAGSACResult:
    """Train ``trainer`` for ``iterations`` more iterations, calling ``evaluate(env, w)`` at the
    start, every ``eval_every`` iterations and at the end; the run loop of both function-
    approximation trainers (Gaussian and softmax actors).
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    eval_env = trainer.env if eval_env is None else eval_env
    w_eval = eval_env.domain_factor if eval_w_hat is None else np.asarray(eval_w_hat, dtype=np.float64)
    points = sorted({0, int(iterations)} | (set(range(0, int(iterations), int(eval_every)))
                                            if eval_every else set()))
    its, samples, costs = [], [], []
    t_train = t_eval = 0.0
    done = 0
    for point in points:
        start = time.perf_counter()
        trainer.iterate(point - done)
        t_train += time.perf_counter() - start
        done = point
        start = time.perf_counter()
        costs.append(evaluate(eval_env, w_eval))
        t_eval += time.perf_counter() - start
        its.append(trainer.iteration)
        samples.append(trainer.samples)
        if progress:
            logging.getLogger(type(trainer).__module__).info(
                "iteration %d: mean cost %.4f", trainer.iteration, float(np.mean(costs[-1])))
    return FAGSACResult(config=trainer.config, policies=[trainer.policy(r, w_eval) for r in range(trainer.n_runs)],
                        iterations=trainer.iteration, eval_iterations=np.asarray(its),
                        eval_samples=np.asarray(samples), eval_costs=np.stack(costs, axis=1),
                        train_seconds=t_train, eval_seconds=t_eval)
