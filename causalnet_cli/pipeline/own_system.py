"""``causalnet run`` on your own system: inputs, the ``load`` stage and the domain-factor stage.

With ``env.kind = "data"`` the source (and target) logs are wide tables read with the
network file; with ``env.kind = "pettingzoo"`` the logs are collected from the user's
simulator (uniform policy, ``data.episodes`` episodes per source factor of
``domains.sources``, ``adapt.trajectories`` episodes at ``domains.target``). A simulator
given with ``env.factory`` is also used, with either kind, to evaluate the deployed
policies side by side with the model-based estimate.

Everything the run needs from the user is checked by :func:`prepare_inputs` before
the run folder is created, so bad input leaves nothing half-written.

Domain factors: :data:`DOMAIN_FACTOR_ESTIMATOR` is the one function that estimates
``w_hat`` of every source domain and of the target from the logs and the learned
graph; replace it (one line) to use another estimator. ``domains.estimator = "latent"``
picks the likelihood-based latent estimator instead (:data:`ESTIMATORS`). :func:`domain_coordinates` then
turns the estimates into the coordinate that the discovered model and the policies
use: the user's own factor scale when ``domain_values`` gives every source's factor
(the target's factor is then read off a per-agent linear calibration of ``w_hat``),
else standardised ``w_hat``. Either way a domain is one number shared by all agents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from causalnet.codebook import Codebook, normalize_label
from causalnet.data import Transitions
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.graph import FactoredGraph
from causalnet.network_file import NetworkFile, load_network_file, network_from_dict
from causalnet.tables_read import TableError, read_table
from causalnet_cli.pipeline.config import ConfigError, RunConfig

__all__ = ["DOMAIN_FACTOR_ESTIMATOR", "ESTIMATORS", "OWN_KINDS", "OwnInputs", "build_simulator", "domain_coordinates",
           "estimate_domain_factors", "is_own_system", "prepare_inputs", "stage_domain_factors_own", "stage_load"]

logger = logging.getLogger(__name__)

OWN_KINDS = ("data", "pettingzoo")


def is_own_system(config: RunConfig) -> bool:
    """True when ``config`` runs on the user's own system (logs or PettingZoo simulator)."""
    return config.env.kind in OWN_KINDS


@dataclass
class OwnInputs:
    """Everything read or collected from the user, validated (see :func:`prepare_inputs`)."""

    network: NetworkFile
    source: Transitions
    target: Transitions
    codebook: Codebook
    target_domains: list[Any]
    gamma: float
    horizon: int
    simulator: Any | None
    source_known: np.ndarray | None       # (M,) the user's factor of each source domain, when all are known
    target_known: float | None            # the target's factor in the user's units, when known
    origin: str                           # "logs" or "simulator"


def build_simulator(config: RunConfig, network: NetworkFile):
    """The user's PettingZoo simulator of ``env.factory`` (None without a factory)."""
    if not config.env.factory:
        return None
    from rl.envs.pettingzoo_env import PettingZooNetworkedEnv

    e = config.env
    return PettingZooNetworkedEnv(e.factory, network, factory_kwargs=e.factory_kwargs,
                                  domain_kwarg=e.domain_kwarg or None, domain_in=e.domain_in)


def _gamma_horizon(config: RunConfig, network: NetworkFile, source: Transitions | None) -> tuple[float, int]:
    e = config.env
    gamma = e.gamma if e.gamma >= 0 else network.gamma
    if gamma is None:
        raise ConfigError(f"no discount factor: set gamma in {network.source} or --set env.gamma=0.9 "
                          "(the built-in benchmarks' 0.7 is not used for your own system)")
    horizon = e.horizon if e.horizon > 0 else network.horizon
    if horizon is None and source is not None:
        _, counts = np.unique(source.episode, return_counts=True)
        horizon = int(np.median(counts))
    if horizon is None:
        raise ConfigError(f"no horizon: set horizon in {network.source} or --set env.horizon=N")
    return float(gamma), int(horizon)


def _known(labels: list[Any], network: NetworkFile) -> list[float | None]:
    return [network.domain_values.get(str(label)) for label in labels]


def prepare_inputs(config: RunConfig) -> OwnInputs:
    """Read the network file, the logs (or collect them from the simulator) and check everything.

    Raises
    ------
    ConfigError, NetworkFileError, TableError, FactoryError
        One clear message; nothing is written.
    """
    e = config.env
    network = load_network_file(e.network)
    simulator = build_simulator(config, network)
    if e.kind == "data":
        source, codebook = read_table(e.data, network)
        if not e.target_data:
            raise ConfigError("env.target_data (--target-data): the logs of the target domain are needed to "
                              "estimate its factor")
        target, tcb = read_table(e.target_data, network, codebook=codebook)
        if target.n_domains != 1:
            raise TableError(f"{e.target_data}: holds {target.n_domains} domains ({tcb.domains}); the target "
                             "logs must come from one domain")
        gamma, horizon = _gamma_horizon(config, network, source)
        target_domains, origin = tcb.domains, "logs"
    else:
        gamma, horizon = _gamma_horizon(config, network, None)
        from rl.rollout import collect_transitions

        seeds = np.random.default_rng(np.random.SeedSequence([config.seed, 11]))
        sources = [float(w) for w in config.domains.sources]
        source = collect_transitions(simulator, None, episodes=config.data.episodes, horizon=horizon,
                                     domain_factors=sources, rng=seeds)
        target = collect_transitions(simulator, None, episodes=config.adapt.trajectories, horizon=horizon,
                                     domain_factors=[config.domains.target], rng=seeds)
        source = Transitions(source.spec, source.states, source.actions, source.rewards, source.next_states,
                             source.domain, source.episode, source.time)
        target = Transitions(target.spec, target.states, target.actions, target.rewards, target.next_states,
                             target.domain, target.episode, target.time)
        cards = dict(zip(source.spec.state_names, source.spec.state_cardinality))
        cards.update(zip(source.spec.action_names, source.spec.action_cardinality))
        codebook = Codebook({k: list(range(int(c))) for k, c in cards.items()}, sources)
        target_label = normalize_label(config.domains.target)
        network = network_from_dict({**network.to_dict(), "domain_values": {
            **{str(d): w for d, w in zip(codebook.domains, sources)}, str(target_label): config.domains.target}},
            source=network.source)
        target_domains, origin = [target_label], "simulator"
    known = _known(codebook.domains, network)
    source_known = np.array(known, dtype=np.float64) if all(k is not None for k in known) else None
    target_known = _known(target_domains, network)[0]
    if simulator is not None:
        if target_known is None:
            raise ConfigError(f"to evaluate in the simulator, give the target domain's factor: domain_values = "
                              f"{{\"{target_domains[0]}\" = ...}} in {network.source}")
        from rl.envs.pettingzoo_env import coded_env

        coded_env(simulator, codebook, source.spec)   # labels must be the simulator's values
    return OwnInputs(network, source, target, codebook, target_domains, gamma, horizon, simulator,
                     source_known, target_known, origin)


def stage_load(ctx) -> list[Path]:
    """Source and target transitions, codebook, resolved network and a data summary."""
    inputs: OwnInputs = ctx.inputs if ctx.inputs is not None else prepare_inputs(ctx.config)
    files = list(inputs.source.save(ctx.path("data/source")))
    files += list(inputs.target.save(ctx.path("data/target")))
    files.append(inputs.codebook.save(ctx.path("codebook.json")))
    spec = inputs.source.spec
    net = {**inputs.network.to_dict(), "gamma": inputs.gamma, "horizon": inputs.horizon,
           "state_cardinality": list(spec.state_cardinality), "action_cardinality": list(spec.action_cardinality),
           "source_factors_known": inputs.source_known, "target_factor_known": inputs.target_known,
           "target_domain": inputs.target_domains[0], "origin": inputs.origin}
    files.append(ctx.write_json("network.json", net))
    per_domain = []
    for m, label in enumerate(inputs.codebook.domains):
        part = inputs.source.in_domain(m)
        per_domain.append({"domain": m, "label": label, "factor": inputs.network.domain_values.get(str(label)),
                           "rows": len(part), "episodes": part.n_episodes,
                           "mean_reward_per_agent": float(part.rewards.mean()) if len(part) else None})
    summary = {"rows": len(inputs.source), "target_rows": len(inputs.target), "horizon": inputs.horizon,
               "gamma": inputs.gamma, "n_agents": spec.n_agents, "n_state_coordinates": spec.n_state,
               "action_cardinality": list(spec.action_cardinality), "n_interaction_edges": len(spec.edges),
               "origin": inputs.origin, "target": {"label": inputs.target_domains[0], "factor": inputs.target_known,
                                                   "episodes": inputs.target.n_episodes,
                                                   "mean_reward_per_agent": float(inputs.target.rewards.mean())},
               "domains": per_domain}
    env_json = inputs.simulator.config() if inputs.simulator is not None else {"env": "data"}
    ctx.echo(f"{len(inputs.source)} source rows in {len(per_domain)} domains, {len(inputs.target)} target rows "
             f"({inputs.origin}); {spec.n_agents} agents, gamma {inputs.gamma}, horizon {inputs.horizon}")
    return files + [ctx.write_json("data_summary.json", summary), ctx.write_json("env.json", env_json)]


# ------------------------------------------------------------------ domain factors
def _frequency_estimator(graph: FactoredGraph, source: Transitions, target: Transitions
                         ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The project's :class:`DomainFactorEstimator` (conditional frequencies, principal-axis summary)."""
    est = DomainFactorEstimator(graph).fit(source)
    w_target, _ = est.estimate(target)
    return est.w_hat_, w_target, {"estimator": "DomainFactorEstimator", "affected": est.affected_}


def _latent_estimator(graph: FactoredGraph, source: Transitions, target: Transitions
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:class:`~causalnet.domain_factors_latent.LatentDomainFactorEstimator` (per-agent latent factor by likelihood)."""
    from causalnet.domain_factors_latent import LatentDomainFactorEstimator

    est = LatentDomainFactorEstimator(graph, n_bootstrap=20, rng=0).fit(source)
    w_target, _ = est.estimate(target)
    return est.w_hat_, w_target, {"estimator": "LatentDomainFactorEstimator"}


#: ``(graph, source, target) -> (w_hat of each source (M, n), w_hat of the target (n,), info)`` by the name of
#: ``domains.estimator``; the default is :data:`DOMAIN_FACTOR_ESTIMATOR` (``nan`` = no estimate for that agent).
ESTIMATORS: dict[str, Callable[[FactoredGraph, Transitions, Transitions],
                               tuple[np.ndarray, np.ndarray, dict[str, Any]]]] = {
    "principal": _frequency_estimator, "latent": _latent_estimator}

#: The estimator of the default ``domains.estimator = "principal"``: swap this one line for another estimator.
DOMAIN_FACTOR_ESTIMATOR = _frequency_estimator


def estimate_domain_factors(graph: FactoredGraph, source: Transitions, target: Transitions, *,
                            kind: str = "principal") -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Raw ``w_hat`` of the sources and the target: :data:`DOMAIN_FACTOR_ESTIMATOR` for ``"principal"``,
    else ``ESTIMATORS[kind]``."""
    fn = DOMAIN_FACTOR_ESTIMATOR if kind == "principal" else ESTIMATORS[kind]
    w_src, w_tgt, info = fn(graph, source, target)
    return np.asarray(w_src, dtype=np.float64), np.asarray(w_tgt, dtype=np.float64), dict(info)


def domain_coordinates(w_src: np.ndarray, w_tgt: np.ndarray, known: np.ndarray | None) -> dict[str, Any]:
    """The factor coordinate of every source domain and of the target (one number per domain).

    With ``known`` (the user's factor of each source, ``M >= 2``) each agent's ``w_hat`` is
    calibrated to the user's scale by least squares over the sources, and the target's
    coordinate is the mean over agents of the calibrated estimates; the sources keep their
    known factors. Without it, each agent's ``w_hat`` is standardised over the sources
    and the coordinates are means over agents.

    >>> d = domain_coordinates(np.array([[0.1, 0.2], [0.3, 0.6]]), np.array([0.2, 0.4]), np.array([1.0, 3.0]))
    >>> d["sources"].tolist(), round(d["target"], 6), d["units"]
    ([1.0, 3.0], 2.0, 'user')
    """
    finite = np.isfinite(w_src).all(axis=0) & np.isfinite(w_tgt)
    spread = np.where(finite, np.nanstd(np.where(np.isfinite(w_src), w_src, 0.0), axis=0), 0.0)
    usable = finite & (spread > 1e-9)
    if not usable.any():   # no domain edge was learned: the domains look alike, the coordinate is not used
        logger.warning("no agent's domain-factor estimate varies across the source domains; the domain "
                       "coordinate is constant (policies will not depend on the domain)")
        m = w_src.shape[0]
        base = (np.asarray(known, dtype=np.float64) if known is not None and len(known) == m
                else np.zeros(m))
        return {"units": "none (no domain edge learned)", "sources": base, "target": float(base.mean()),
                "target_per_agent": [], "agents_used": []}
    x, xt = w_src[:, usable], w_tgt[usable]
    if known is not None and len(known) >= 2 and np.ptp(known) > 0:
        slopes, per_agent = [], []
        for j in range(x.shape[1]):
            b, a = np.polyfit(x[:, j], known, 1)
            per_agent.append(a + b * xt[j])
            slopes.append(b)
        target = float(np.mean(per_agent))
        return {"units": "user", "sources": np.asarray(known, dtype=np.float64), "target": target,
                "target_per_agent": per_agent, "agents_used": np.flatnonzero(usable).tolist()}
    mean, std = x.mean(axis=0), x.std(axis=0)
    z_src, z_tgt = (x - mean) / std, (xt - mean) / std
    return {"units": "standardised w_hat", "sources": z_src.mean(axis=1), "target": float(z_tgt.mean()),
            "target_per_agent": z_tgt.tolist(), "agents_used": np.flatnonzero(usable).tolist()}


def stage_domain_factors_own(ctx) -> list[Path]:
    """Raw source/target ``w_hat`` and the factor coordinates the model and the policies use."""
    graph = ctx.learned()
    source = ctx.data()
    target = Transitions.load(ctx.path("data/target"))
    net = ctx.read_json("network.json")
    w_src, w_tgt, info = estimate_domain_factors(graph, source, target, kind=ctx.config.domains.estimator)
    known = net.get("source_factors_known")
    coords = domain_coordinates(w_src, w_tgt, None if known is None else np.asarray(known, dtype=np.float64))
    ctx.echo(f"domain coordinates ({coords['units']}): sources {np.round(coords['sources'], 4).tolist()}, "
             f"target estimated {coords['target']:.4f}"
             + (f" (true {net['target_factor_known']})" if net.get("target_factor_known") is not None else ""))
    result = {**info, "w_hat_sources": w_src, "w_hat_target": w_tgt, "coordinates": coords,
              "agents_with_factor": [i for i in range(w_src.shape[1]) if np.isfinite(w_src[:, i]).all()]}
    return [ctx.write_json("domain_factors.json", result)]
