"""GSAC and its baselines as ready-made :class:`~rl.gsac.GSACTrainer` instances.

Every algorithm runs on the same engine (:mod:`rl.gsac`) and is evaluated the same
way; they differ only in the inputs of critic and actor, in the domain features of
the actor and in the domains they train in:

=========== ================ =================== ==========================================
algorithm   inputs           actor features      domains trained in
=========== ================ =================== ==========================================
``gsac``    ACR of ``graph`` ``[1, w_hat]``      the sources (``source_factors``), agents
                             (or quadratic)      see ``source_w_hat``
``sac``     kappa-hop        ``[1]``             the environment's own domain (reference
            truncation                           Scalable Actor-Critic of Qu et al.)
``sac-lfs`` truncation       ``[1]``             the target (``target_factor``), from scratch
``sac-mtl`` truncation       one-hot code of the the sources; at deployment the code of the
                             nearest source      source whose ``w_hat`` is nearest
``sac-ft``  truncation       ``[1]``             the sources (pre-training, one policy for
                                                 all), then the target (fine-tuning:
                                                 ``initial_policy`` + ``target_factor``)
=========== ================ =================== ==========================================

The algorithm fixes ``config.inputs`` and ``config.features`` (GSAC keeps
``features="quadratic"`` when asked, otherwise uses ``"linear"``); every other
hyper-parameter comes from ``config``. GSAC with a learned graph is the same call
with the discovered :class:`~causalnet.graph.FactoredGraph` as ``graph``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Sequence

import numpy as np

from causalnet.graph import FactoredGraph
from rl.actors import LocalizedSoftmaxPolicy
from rl.gsac import GSACConfig, GSACTrainer, RngLike

__all__ = ["ALGORITHMS", "ALGORITHM_DESCRIPTIONS", "algorithm_config", "make_trainer"]

logger = logging.getLogger(__name__)

ALGORITHMS: tuple[str, ...] = ("gsac", "sac", "sac-lfs", "sac-mtl", "sac-ft")
"""Names accepted by :func:`make_trainer`."""

ALGORITHM_DESCRIPTIONS: dict[str, str] = {
    "gsac": "GSAC: ACR inputs of the graph, actor linear in features of w_hat, trained over the source domains",
    "sac": "Scalable Actor-Critic: kappa-hop truncation inputs, no domain conditioning, env's own domain",
    "sac-lfs": "SAC learned from scratch in the target domain",
    "sac-mtl": "SAC multi-task: truncation inputs, actor conditioned on the one-hot code of the nearest source",
    "sac-ft": "SAC fine-tuning: one unconditioned policy over the sources, then fine-tuned in the target",
}
"""One-line description of each algorithm (command-line help)."""


def algorithm_config(algo: str, config: GSACConfig | None = None) -> GSACConfig:
    """The configuration ``algo`` trains with: ``config`` with ``inputs``/``features`` set.

    Parameters
    ----------
    algo : str
        One of :data:`ALGORITHMS`.
    config : GSACConfig, optional
        Hyper-parameters (default ``GSACConfig()``, the reference values).

    Examples
    --------
    >>> cfg = algorithm_config("sac-mtl", GSACConfig(kappa=2))
    >>> cfg.inputs, cfg.features, cfg.kappa
    ('truncation', 'source_onehot', 2)
    >>> algorithm_config("gsac", GSACConfig(features="quadratic")).features
    'quadratic'
    """
    _check_algo(algo)
    config = GSACConfig() if config is None else config
    if not isinstance(config, GSACConfig):
        raise TypeError(f"config must be a GSACConfig, got {type(config).__name__}")
    if algo == "gsac":
        features = config.features if config.features in ("linear", "quadratic") else "linear"
        return dataclasses.replace(config, inputs="acr", features=features)
    if algo == "sac-mtl":
        return dataclasses.replace(config, inputs="truncation", features="source_onehot")
    return dataclasses.replace(config, inputs="truncation", features="constant")


def make_trainer(algo: str, env, graph: FactoredGraph, *, config: GSACConfig | None = None,
                 source_factors: np.ndarray | None = None, source_w_hat: np.ndarray | None = None,
                 target_factor: np.ndarray | None = None,
                 initial_policy: LocalizedSoftmaxPolicy | Sequence[LocalizedSoftmaxPolicy] | np.ndarray | None = None,
                 rng: RngLike | Sequence[RngLike] = None, n_runs: int | None = None) -> GSACTrainer:
    """Build the :class:`~rl.gsac.GSACTrainer` of one algorithm (see the module docstring).

    Parameters
    ----------
    algo : {"gsac", "sac", "sac-lfs", "sac-mtl", "sac-ft"}
    env : NetworkedEnv or duck-typed equivalent
        Training environment (its own domain factor is used only by ``sac``).
    graph : FactoredGraph
        True or learned graph (defines the ACRs of ``gsac``; truncation uses its spec).
    config : GSACConfig, optional
        Hyper-parameters; ``inputs`` and ``features`` are set by :func:`algorithm_config`.
    source_factors : array, shape (M, n) or (M,)
        True factors of the source domains, passed to the environment. Required by
        ``sac-mtl`` and by ``sac-ft`` pre-training; ``gsac`` defaults to the
        environment's own factor (one source). Not accepted by ``sac`` and ``sac-lfs``.
    source_w_hat : array, shape (M, n) or (M,), optional
        Estimated factors the agents see in each source (``gsac``, ``sac-mtl``);
        default ``source_factors``.
    target_factor : array, shape (n,) or scalar
        Target domain: required by ``sac-lfs``, and by ``sac-ft`` to fine-tune (then
        ``initial_policy`` is required too and ``source_factors`` must be omitted).
    initial_policy : LocalizedSoftmaxPolicy, list of them (one per run) or array, optional
        Starting parameters (``sac-ft`` fine-tuning: the pre-trained policy).
    rng : seed, Generator, or a sequence of them (one per run)
    n_runs : int, optional
        Independent runs advanced together (spawned from ``rng``).

    Returns
    -------
    GSACTrainer
        (An :class:`rl.fa_gsac.FAGSACTrainer` when the environment's actions are
        continuous, an :class:`rl.fa_softmax.FASoftmaxTrainer` when its states are continuous
        and its actions discrete: see :mod:`rl.fa_algorithms`.) Its ``domain_factors``/``w_hat`` hold the training domains (the target's
        factor, as one domain, for ``sac-lfs`` and ``sac-ft`` fine-tuning).

    Raises
    ------
    ValueError
        Unknown ``algo`` or an argument the algorithm does not use / misses.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> pre = make_trainer("sac-ft", env, env.true_graph(), source_factors=[0.2, 0.8], rng=0)
    >>> pre.iterate(5)
    >>> ft = make_trainer("sac-ft", env, env.true_graph(), target_factor=0.65,
    ...                   initial_policy=pre.policy(0), rng=1)
    >>> bool(np.array_equal(ft.theta[0], pre.theta[0])), ft.domain_factors.tolist()
    (True, [[0.65, 0.65, 0.65, 0.65]])
    """
    _check_algo(algo)
    spec = getattr(env, "spec", None)
    if getattr(spec, "continuous_actions", False) or (spec is not None and not getattr(spec, "is_discrete", True)):
        from rl.fa_algorithms import make_fa_trainer  # continuous actions or states: function approximation

        return make_fa_trainer(algo, env, graph, config=config, source_factors=source_factors,
                               source_w_hat=source_w_hat, target_factor=target_factor,
                               initial_policy=initial_policy, rng=rng, n_runs=n_runs)
    cfg = algorithm_config(algo, config)
    given = {"source_factors": source_factors is not None, "source_w_hat": source_w_hat is not None,
             "target_factor": target_factor is not None, "initial_policy": initial_policy is not None}

    def reject(*names: str, why: str) -> None:
        bad = [name for name in names if given[name]]
        if bad:
            raise ValueError(f"algorithm {algo!r} does not take {', '.join(bad)}: {why}")

    def need(name: str, why: str) -> None:
        if not given[name]:
            raise ValueError(f"algorithm {algo!r} needs {name}: {why}")

    if source_w_hat is not None and source_factors is None:
        raise ValueError(f"algorithm {algo!r}: source_w_hat was given without source_factors "
                         "(the environment needs the true factors of the same sources)")
    domains: Any = source_factors
    w_hat: Any = source_w_hat
    if algo == "gsac":
        reject("target_factor", why="GSAC trains on the source domains; deploy in the target with "
                                    "rl.adaptation.zero_shot")
    elif algo == "sac":
        reject("source_factors", "source_w_hat", "target_factor",
               why="plain SAC trains in the environment's own domain (use 'sac-ft' or 'sac-lfs' for "
                   "other domains)")
    elif algo == "sac-lfs":
        reject("source_factors", "source_w_hat", "initial_policy",
               why="SAC-LFS learns from scratch in the target domain only")
        need("target_factor", "the domain it learns in")
        domains, w_hat = _target_row(target_factor, env), None
    elif algo == "sac-mtl":
        reject("target_factor", why="SAC-MTL trains on the sources; deploy with the nearest source's code "
                                    "via rl.adaptation.zero_shot")
        need("source_factors", "the source domains its one-hot code ranges over")
    else:  # sac-ft
        reject("source_w_hat", why="the SAC-FT policy is not conditioned on the domain")
        if target_factor is not None:
            reject("source_factors", why="with target_factor the trainer fine-tunes in the target; "
                                         "pre-train with source_factors in a separate trainer")
            need("initial_policy", "fine-tuning starts from the pre-trained policy "
                                   "(from scratch in the target is 'sac-lfs')")
            domains = _target_row(target_factor, env)
        else:
            need("source_factors", "pre-training runs over the source domains (or give target_factor "
                                   "and initial_policy to fine-tune)")
    init = _initial_parameters(initial_policy)
    logger.debug("building %s trainer (inputs=%s, features=%s)", algo, cfg.inputs, cfg.features)
    return GSACTrainer(env, graph, cfg, domain_factors=domains, w_hat=w_hat, rng=rng, n_runs=n_runs,
                       initial_policy=init)


def _check_algo(algo: Any) -> None:
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; expected one of {ALGORITHMS}")


def _target_row(target_factor: Any, env) -> np.ndarray:
    """The target factor as a one-domain table ``(1, n)``."""
    n = env.n_agents
    w = np.asarray(target_factor, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(f"target_factor must be a scalar or have shape ({n},), got {np.shape(target_factor)}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"target_factor must be finite, got {w.tolist()}")
    return w[None, :]


def _initial_parameters(initial_policy: Any) -> np.ndarray | None:
    """A policy, a sequence of policies (one per run) or an array -> parameter array."""
    if initial_policy is None:
        return None
    if isinstance(initial_policy, LocalizedSoftmaxPolicy):
        return initial_policy.theta
    if isinstance(initial_policy, (list, tuple)):
        if not initial_policy or not all(isinstance(p, LocalizedSoftmaxPolicy) for p in initial_policy):
            raise TypeError("initial_policy given as a sequence must hold LocalizedSoftmaxPolicy objects "
                            "(one per run)")
        shapes = {p.theta.shape for p in initial_policy}
        if len(shapes) != 1:
            raise ValueError(f"initial_policy: the policies have different parameter shapes {sorted(shapes)}")
        return np.stack([p.theta for p in initial_policy])
    if isinstance(initial_policy, np.ndarray):
        return initial_policy
    raise TypeError(f"initial_policy must be a LocalizedSoftmaxPolicy, a list of them or an array, "
                    f"got {type(initial_policy).__name__}")
