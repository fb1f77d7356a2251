"""What every stage of ``causalnet run`` shares: configuration, run folder, seeds, environment, loaders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from causalnet.data import Transitions
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.domain_factors_latent import LatentDomainFactorEstimator
from causalnet.graph import FactoredGraph
from causalnet.io import atomic_write_json, json_ready
from causalnet.progress_log import ProgressLog
from causalnet_cli.pipeline.config import RunConfig

__all__ = ["META_METHODS", "PipelineContext", "STAGE_SEEDS", "build_environment", "stage_names"]

#: Fixed stream id of each stage (``SeedSequence([seed, id])``); never renumber.
STAGE_SEEDS: dict[str, int] = {"collect": 1, "domain_factors": 2, "train:gsac": 3, "train:sac-mtl": 4,
                               "train:sac-ft": 5, "adapt": 6, "latent_bootstrap": 7, "latent_reference": 8}
META_METHODS = ("gsac", "sac-mtl", "sac-ft")


def stage_names(config: RunConfig) -> list[str]:
    """The stages of a run with ``config``, in order."""
    train = [f"train:{m}" for m in config.train.methods if m in META_METHODS]
    return ["collect", "discover", "acr", "domain_factors", *train, "adapt", "metrics", "report"]


def build_environment(config: RunConfig):
    """The environment of ``config.env`` (its own domain factor is irrelevant: stages set it)."""
    from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv

    env = config.env
    if env.kind == "wireless":
        return WirelessAccessEnv.from_grid(env.grid, deadline=env.deadline, transmit=env.transmit)
    return SyntheticNetworkEnv.random(env.agents, rng=env.env_seed, topology=env.topology)


@dataclass
class PipelineContext:
    """What every stage needs: configuration, run folder, progress switch."""

    config: RunConfig
    folder: Path
    progress: bool = False
    echo: Callable[[str], None] = field(default=lambda text: None)
    _env: Any = None
    _log: Any = None

    @property
    def env(self):
        """The environment (built once per process)."""
        if self._env is None:
            self._env = build_environment(self.config)
        return self._env

    def seed(self, stage: str) -> np.random.SeedSequence:
        """The stage's own seed sequence."""
        return np.random.SeedSequence([self.config.seed, STAGE_SEEDS[stage]])

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def progress_log(self) -> ProgressLog:
        """The run's streamed evaluation log (``progress.csv``, ``progress.jsonl``)."""
        if self._log is None:
            self._log = ProgressLog(self.folder)
        return self._log

    def read_json(self, rel: str) -> Any:
        return json.loads(self.path(rel).read_text(encoding="utf-8"))

    def write_json(self, rel: str, obj: Any) -> Path:
        return atomic_write_json(self.path(rel), json_ready(obj))

    # ------------------------------------------------------------------ loaders
    def data(self) -> Transitions:
        return Transitions.load(self.path("data/source"))

    def truth(self) -> FactoredGraph:
        return FactoredGraph.load(self.path("true_graph.json"))

    def learned(self) -> FactoredGraph:
        return FactoredGraph.load(self.path("graph.json"))

    def training_graph(self) -> FactoredGraph:
        """Graph whose ACRs GSAC uses (``train.graph``)."""
        return self.learned() if self.config.train.graph == "learned" else self.truth()

    def estimator(self):
        """Domain-factor estimator (``domains.estimator``) fitted on the source data with the training graph."""
        if self.config.domains.estimator == "latent":
            return LatentDomainFactorEstimator(self.training_graph(), rng=self.seed("latent_bootstrap")).fit(self.data())
        return DomainFactorEstimator(self.training_graph()).fit(self.data())

    def source_factors(self) -> np.ndarray:
        n = self.env.n_agents
        return np.repeat(np.asarray(self.config.domains.sources, dtype=np.float64)[:, None], n, axis=1)

    def target_factor(self) -> np.ndarray:
        return np.full(self.env.n_agents, float(self.config.domains.target))
