"""GSAC and SAC baselines for continuous-action environments (function approximation).

:func:`rl.algorithms.make_trainer` routes here when the environment's actions are
continuous, or its states continuous and its actions discrete. Every algorithm is an
:class:`rl.fa_gsac.FAGSACTrainer` (continuous actions, Gaussian actor) or an
:class:`rl.fa_softmax.FASoftmaxTrainer` (discrete actions, softmax actor); they differ in
the inputs and the domains they train in:

=========== ====================== ============== ===========================================
algorithm   inputs                 domain inputs  domains trained in
=========== ====================== ============== ===========================================
``gsac``    ACR of ``graph``       ``w_hat``      the sources
``sac``     kappa-hop truncation   none           the environment's own domain
``sac-lfs`` kappa-hop truncation   none           the target, from scratch
=========== ====================== ============== ===========================================

``sac-mtl`` and ``sac-ft`` exist only for the tabular engine.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from causalnet.graph import FactoredGraph
from rl.fa_gsac import FAGSACConfig, FAGSACTrainer
from rl.fa_softmax import FASoftmaxTrainer
from rl.gsac import RngLike

__all__ = ["FA_ALGORITHMS", "fa_config", "make_fa_trainer"]

FA_ALGORITHMS: tuple[str, ...] = ("gsac", "sac", "sac-lfs")


def fa_config(algo: str, config: Any = None) -> FAGSACConfig:
    """The :class:`FAGSACConfig` ``algo`` trains with.

    ``config`` may be an ``FAGSACConfig`` or a tabular :class:`rl.gsac.GSACConfig`
    (then only ``kappa`` and ``gamma`` carry over).

    >>> fa_config("sac").inputs, fa_config("sac").domain_inputs
    ('truncation', False)
    """
    if algo not in FA_ALGORITHMS:
        raise ValueError(f"algorithm {algo!r} is not available for continuous actions; expected one of "
                         f"{FA_ALGORITHMS}")
    if config is None:
        config = FAGSACConfig()
    elif not isinstance(config, FAGSACConfig):
        from rl.gsac import GSACConfig

        if not isinstance(config, GSACConfig):
            raise TypeError(f"config must be an FAGSACConfig or a GSACConfig, got {type(config).__name__}")
        gamma = config.gamma if 0.0 < config.gamma < 1.0 else FAGSACConfig.gamma
        config = FAGSACConfig(kappa=config.kappa, gamma=gamma)
    if algo == "gsac":
        return dataclasses.replace(config, inputs="acr", domain_inputs=True)
    return dataclasses.replace(config, inputs="truncation", domain_inputs=False)


def make_fa_trainer(algo: str, env, graph: FactoredGraph, *, config: Any = None,
                    source_factors: np.ndarray | None = None, source_w_hat: np.ndarray | None = None,
                    target_factor: np.ndarray | None = None, initial_policy: Any = None,
                    rng: RngLike | Sequence[RngLike] = None, n_runs: int | None = None) -> FAGSACTrainer | FASoftmaxTrainer:
    """Build the :class:`FAGSACTrainer` of ``algo`` (arguments as :func:`rl.algorithms.make_trainer`).

    Examples
    --------
    >>> from rl.envs.lqr import NetworkedLQREnv
    >>> env = NetworkedLQREnv(3)
    >>> make_fa_trainer("gsac", env, env.true_graph(), source_factors=[0.2, 0.8], rng=0).w_hat.shape
    (2, 3)
    """
    cfg = fa_config(algo, config)
    trainer = FAGSACTrainer if env.spec.continuous_actions else FASoftmaxTrainer
    if initial_policy is not None:
        raise ValueError(f"algorithm {algo!r}: initial_policy is not supported for continuous actions")
    if algo == "gsac":
        if target_factor is not None:
            raise ValueError("algorithm 'gsac' does not take target_factor: it trains on the source domains")
        if source_w_hat is not None and source_factors is None:
            raise ValueError("algorithm 'gsac': source_w_hat was given without source_factors")
        return trainer(env, graph, cfg, domain_factors=source_factors, w_hat=source_w_hat, rng=rng,
                             n_runs=n_runs)
    if source_factors is not None or source_w_hat is not None:
        raise ValueError(f"algorithm {algo!r} does not take source_factors or source_w_hat")
    if algo == "sac":
        if target_factor is not None:
            raise ValueError("algorithm 'sac' does not take target_factor (use 'sac-lfs')")
        return trainer(env, graph, cfg, rng=rng, n_runs=n_runs)
    if target_factor is None:
        raise ValueError("algorithm 'sac-lfs' needs target_factor: the domain it learns in")
    w = np.broadcast_to(np.asarray(target_factor, dtype=np.float64), (env.n_agents,))[None]
    return trainer(env, graph, cfg, domain_factors=w, rng=rng, n_runs=n_runs)
