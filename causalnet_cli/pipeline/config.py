"""The configuration of ``causalnet run``: frozen, typed, validated.

A :class:`RunConfig` has one section per pipeline phase. It is built from defaults
(the paper's wireless benchmark), then a TOML file, then command-line overrides
``--set section.key=value``; every step goes through :func:`config_from_dict`, which
rejects unknown keys, values of the wrong type and values out of range with a
:class:`ConfigError` that names the key (``train.iterations``).

Example TOML (every key optional)::

    seed = 0
    [env]
    kind = "wireless"      # or "synthetic", "traffic" (rows, cols, bins, ...: docs/traffic.md), "lqr"
    grid = 3               # wireless: grid x grid access points, (grid+1)^2 users
    [domains]
    sources = [0.2, 0.5, 0.8]
    target = 0.65
    [train]
    iterations = 30000
    runs = 5

See ``docs/pipeline.md`` for every key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from causalnet.errors import CausalnetError, reading_file

__all__ = ["ACRSection", "AdaptSection", "AnalysisSection", "ConfigError", "DataSection", "DiscoverySection",
           "DomainsSection", "EnvSection", "RunConfig", "TrainSection", "config_from_dict", "config_to_dict",
           "config_to_toml", "describe_config", "load_config", "parse_override", "quick_config"]

METHODS: tuple[str, ...] = ("gsac", "sac-mtl", "sac-ft", "sac-lfs")


class ConfigError(CausalnetError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range (the message names the key)."""


def _opt(default: Any, help: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> Any:
    """A dataclass field with its help text and allowed range (inclusive unless ``*_open``)."""
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "high_open": high_open}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class EnvSection:
    """The networked system the pipeline runs on."""

    kind: Literal["wireless", "synthetic", "synthetic-continuous", "traffic", "lqr", "data", "pettingzoo"] = _opt(
        "wireless", "environment family; 'data' and 'pettingzoo' are your own system (docs/tutorial-own-system.md)")
    grid: int = _opt(3, "wireless: grid x grid access points, one user on each of the (grid+1)^2 vertices",
                     low=1, high=63)
    deadline: int = _opt(2, "wireless: packet deadline (state coordinates per user)", low=1, high=8)
    transmit: Literal["random", "allone"] = _opt("random", "wireless: access-point success probabilities")
    agents: int = _opt(12, "synthetic: number of agents", low=2, high=4096)
    topology: Literal["random", "ring", "grid"] = _opt("random", "synthetic: interaction graph")
    env_seed: int = _opt(0, "synthetic: seed of the graph, masks and tables", low=0)
    distractors: int = _opt(2, "lqr: distractor coordinates per agent (cost-free, outside every ACR)", low=0, high=8)
    lqr_domain: Literal["load", "coupling"] = _opt("load", "lqr: what the domain factor sets")
    mechanism: Literal["linear", "nonlinear", "mixed"] = _opt(
        "linear", "synthetic-continuous: linear-Gaussian or nonlinear additive-noise mechanisms")
    rows: int = _opt(2, "traffic: rows of intersections (the tabular actor needs small grids)", low=1, high=64)
    cols: int = _opt(2, "traffic: columns of intersections", low=1, high=64)
    bins: int = _opt(2, "traffic: queue levels per approach (capacity bins - 1 platoons)", low=2, high=16)
    saturation: float = _opt(0.9, "traffic: discharge probability of a green, non-empty approach",
                             low=0.0, high=1.0, low_open=True)
    turning: tuple[float, ...] = _opt((0.7, 0.0, 0.3), "traffic: straight, left, right probabilities (sum to one)",
                                      low=0.0, high=1.0)
    switching_cost: float = _opt(0.0, "traffic: reward penalty for changing the phase (> 0 adds the phase to "
                                       "the state)", low=0.0)
    # your own system (kind "data" or "pettingzoo"); see docs/data-format.md
    data: str = _opt("", "own system: source logs (.csv, .parquet or .npz wide table)")
    target_data: str = _opt("", "own system: logs of the target domain (same columns, a new domain label)")
    network: str = _opt("", "own system: network file (.toml or .json)")
    factory: str = _opt("", "own simulator: package.module:factory returning a PettingZoo ParallelEnv")
    factory_kwargs: dict = field(default_factory=dict, metadata={"help": "own simulator: keyword arguments "
                                                                         "of the factory"})
    domain_kwarg: str = _opt("domain_factor", "own simulator: name of the domain factor's keyword (or reset option)")
    domain_in: Literal["factory", "reset"] = _opt("factory", "own simulator: pass the factor to the factory or "
                                                             "as a reset option")
    gamma: float = _opt(-1.0, "own system: discount factor (-1: the network file's gamma)", low=-1.0, high=1.0)
    horizon: int = _opt(0, "own system: steps per episode (0: the network file's horizon, else the logs')", low=0)


@dataclass(frozen=True)
class DomainsSection:
    """Source domains (training) and the target domain (adaptation); one factor shared by all agents."""

    sources: tuple[float, ...] = _opt((0.2, 0.5, 0.8), "domain factors of the source domains", low=0.0, high=1.0)
    target: float = _opt(0.65, "domain factor of the unseen target domain", low=0.0, high=1.0)
    estimator: Literal["principal", "latent"] = _opt(
        "principal", "domain-factor estimator: principal axis of the conditional probabilities (on the w "
        "scale for the built-in systems) or per-agent latent factor by likelihood (its own scale; for "
        "conditional domain changes)")


@dataclass(frozen=True)
class DataSection:
    """Source data for discovery and for the domain-factor estimator."""

    episodes: int = _opt(20_000, "uniform-policy episodes collected per source domain", low=10)
    horizon: int = _opt(10, "steps per episode", low=1, high=1000)


@dataclass(frozen=True)
class DiscoverySection:
    """Local constraint-based discovery (:class:`causalnet.discovery.LocalDiscovery`)."""

    alpha: float = _opt(0.001, "significance level of the conditional-independence tests",
                        low=0.0, high=1.0, low_open=True, high_open=True)
    ci_test: Literal["auto", "gsq", "chisq", "regression", "additive"] = _opt(
        "auto", "conditional-independence test (auto: gsq on discrete data, additive on continuous data)")
    max_cond_size: int = _opt(4, "cap on the conditioning-set size (levels stop earlier when no candidate "
                                 "has that many adjacent candidates)", low=0, high=8)
    n_jobs: int = _opt(2, "worker processes", low=1, high=256)


@dataclass(frozen=True)
class ACRSection:
    """Approximately compact representations."""

    kappa: int = _opt(1, "neighbourhood radius of critic, actor gradient and ACR reachability", low=0, high=10)


@dataclass(frozen=True)
class TrainSection:
    """Meta-training of GSAC and the baselines (:mod:`rl.algorithms`)."""

    methods: tuple[str, ...] = _opt(METHODS, "methods to train and compare (subset of gsac, sac-mtl, sac-ft, sac-lfs)")
    graph: Literal["learned", "true"] = _opt("learned", "graph whose ACRs GSAC uses")
    iterations: int = _opt(30_000, "outer iterations of meta-training (each one episode of `horizon` steps)", low=1)
    runs: int = _opt(5, "independent runs (seeds) per method, trained together", low=1, high=64)
    eval_points: int = _opt(10, "evaluations along the training curve", low=1, high=1000)
    eval_episodes: int = _opt(400, "rollouts per evaluation", low=2)
    actor: Literal["advantage", "reference"] = _opt("advantage", "actor: advantages with reward normalisation "
                                                    "(scale-free) or the reference SAC actor (raw Q)")
    actor_lr: float = _opt(5.0, "actor step size eta (the advantage actor's step is eta / sum_t gamma^t)",
                           low=0.0, low_open=True)
    gamma: float = _opt(0.7, "discount factor", low=0.0, high=1.0)
    critic: Literal["persistent", "reset"] = _opt("persistent", "critic table kept across iterations or reset")
    actor_model: Literal["tabular", "linear"] = _opt(
        "tabular", "gsac and sac-mtl: tabular actor (one row per joint policy-input value) or linear actor and "
        "critic in one-hot features of each coordinate (rl.actors_linear; for many-coordinate ACRs, e.g. traffic); "
        "sac-ft and sac-lfs stay tabular")
    linear_iterations: int = _opt(120, "linear actor: outer iterations (each linear_episodes episodes per run)",
                                  low=1)
    linear_episodes: int = _opt(16, "linear actor: episodes per run and iteration", low=1)
    linear_actor_lr: float = _opt(10.0, "linear actor: actor step size (divided by the agent's active inputs)",
                                  low=0.0, low_open=True)
    fa_iterations: int = _opt(20, "lqr: iterations of function-approximation GSAC (each fa_episodes episodes)",
                              low=1)
    fa_episodes: int = _opt(16, "lqr: episodes per run and iteration of function-approximation GSAC", low=1)


@dataclass(frozen=True)
class AdaptSection:
    """Adaptation to the target domain (:mod:`rl.adaptation`)."""

    episodes: int = _opt(30, "target episodes on the adaptation curve", low=1, high=10_000)
    trajectories: int = _opt(20, "target trajectories T_a used to estimate the target factor", low=1)
    eval_episodes: int = _opt(400, "rollouts per point of the adaptation curve", low=2)
    ft_actor_lr: float = _opt(1000.0, "SAC-FT target phase: actor step size eta (chosen on a source domain by "
                                      "benchmarks/ft_step_size.py)", low=0.0, low_open=True)
    ft_iterations_per_episode: int = _opt(1, "SAC-FT target phase: outer iterations (T-step target episodes) "
                                             "per point of the adaptation curve", low=1, high=100)
    ft_logit_scale: float = _opt(1.0, "SAC-FT target phase: factor on the pre-trained policy's logits before "
                                      "fine-tuning (1: unchanged; < 1 makes a saturated softmax learnable again)",
                                 low=0.0, high=1.0, low_open=True)
    lfs_actor_lr: float = _opt(1000.0, "SAC-LFS: actor step size eta in the target (chosen on a source domain)",
                               low=0.0, low_open=True)
    lfs_iterations_per_episode: int = _opt(1, "SAC-LFS: outer iterations per point of the adaptation curve",
                                           low=1, high=100)


@dataclass(frozen=True)
class AnalysisSection:
    """Figures and the report."""

    agent: int = _opt(-1, "agent drawn in the structure and ACR figures (-1: the most connected agent)", low=-1)
    error_trajectories: tuple[int, ...] = _opt((1, 2, 5, 10, 20, 50, 100),
                                               "trajectory counts of the domain-factor error curve", low=1)
    error_repeats: int = _opt(20, "independent estimates per trajectory count", low=2, high=10_000)


@dataclass(frozen=True)
class RunConfig:
    """Everything ``causalnet run`` does, section by section (see the module docstring)."""

    seed: int = _opt(0, "master seed; every stage draws an independent stream from it", low=0)
    env: EnvSection = field(default_factory=EnvSection)
    domains: DomainsSection = field(default_factory=DomainsSection)
    data: DataSection = field(default_factory=DataSection)
    discovery: DiscoverySection = field(default_factory=DiscoverySection)
    acr: ACRSection = field(default_factory=ACRSection)
    train: TrainSection = field(default_factory=TrainSection)
    adapt: AdaptSection = field(default_factory=AdaptSection)
    analysis: AnalysisSection = field(default_factory=AnalysisSection)

    def __post_init__(self) -> None:
        bad = [m for m in self.train.methods if m not in METHODS]
        if bad or not self.train.methods:
            raise ConfigError(f"train.methods: expected a non-empty subset of {list(METHODS)}, got "
                              f"{list(self.train.methods)}")
        if len(set(self.train.methods)) != len(self.train.methods):
            raise ConfigError(f"train.methods: names repeat in {list(self.train.methods)}")
        if len(self.domains.sources) < 1:
            raise ConfigError("domains.sources: at least one source domain is needed")
        if len(set(self.domains.sources)) != len(self.domains.sources):
            raise ConfigError(f"domains.sources: factors repeat in {list(self.domains.sources)}")
        if "sac-mtl" in self.train.methods and len(self.domains.sources) < 2:
            raise ConfigError("domains.sources: sac-mtl needs at least two source domains")
        if self.train.eval_points > self.train.iterations:
            raise ConfigError(f"train.eval_points ({self.train.eval_points}) must not exceed train.iterations "
                              f"({self.train.iterations})")
        turning = self.env.turning
        if len(turning) != 3 or abs(sum(turning) - 1.0) > 1e-9:
            raise ConfigError(f"env.turning: expected three probabilities (straight, left, right) summing to one, "
                              f"got {list(turning)}")
        own = {"data": ("data", "network"), "pettingzoo": ("factory", "network")}.get(self.env.kind, ())
        for key in own:
            if not getattr(self.env, key):
                raise ConfigError(f"env.{key}: env.kind = {self.env.kind!r} needs it (see docs/pipeline.md)")
        if not self.analysis.error_trajectories:
            raise ConfigError("analysis.error_trajectories: give at least one trajectory count")


# ------------------------------------------------------------------ building
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, tp: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    """Check ``value`` against the annotation ``tp`` and the range in ``meta``; return the typed value."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: expected one of {list(allowed)}, got {value!r}")
        return value
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{key}: expected a list of {_type_name(item)}, got {value!r}")
        return tuple(_coerce(f"{key}[{i}]", item, v, meta) for i, v in enumerate(value))
    if tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table of keys, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        out: Any = int(value)
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        out = float(value)
        if not math.isfinite(out):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    else:  # pragma: no cover - every field type is handled above
        raise TypeError(f"unsupported configuration type {tp!r} for {key}")
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (out < low or (meta.get("low_open") and out == low)):
        raise ConfigError(f"{key}: must be {'>' if meta.get('low_open') else '>='} {low}, got {value!r}")
    if high is not None and (out > high or (meta.get("high_open") and out == high)):
        raise ConfigError(f"{key}: must be {'<' if meta.get('high_open') else '<='} {high}, got {value!r}")
    return out


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'configuration'}: expected a table of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(prefix + k for k in unknown)}; known keys: "
                          f"{', '.join(prefix + k for k in known)}")
    values = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            values[name] = _build(tp, value, f"{prefix}{name}.")
        else:
            values[name] = _coerce(prefix + name, tp, value, known[name].metadata)
    return cls(**values)


def config_from_dict(data: Mapping[str, Any], base: RunConfig | None = None) -> RunConfig:
    """A :class:`RunConfig` from nested ``data``, on top of ``base`` (default: the defaults).

    Raises
    ------
    ConfigError
        Unknown key, wrong type or out-of-range value; the message names the key.

    Examples
    --------
    >>> cfg = config_from_dict({"train": {"iterations": 500}, "domains": {"target": 0.6}})
    >>> cfg.train.iterations, cfg.domains.target, cfg.env.grid
    (500, 0.6, 3)
    >>> config_from_dict({"train": {"iterashuns": 5}})
    Traceback (most recent call last):
    ...
    causalnet_cli.pipeline.config.ConfigError: unknown key train.iterashuns; known keys: ...
    """
    merged = _merge(config_to_dict(base or RunConfig()), data)
    return _build(RunConfig, merged, "")


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(update, Mapping):
        raise ConfigError(f"configuration: expected a table of keys, got {update!r}")
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Nested plain dict (tuples as lists), the inverse of :func:`config_from_dict`."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def quick_config() -> dict[str, Any]:
    """Overrides of ``--quick``: a smoke run of the whole pipeline in about a minute."""
    return {"data": {"episodes": 2000},
            "train": {"iterations": 3000, "runs": 3, "eval_points": 6, "eval_episodes": 100},
            "adapt": {"eval_episodes": 100},
            "analysis": {"error_trajectories": [1, 3, 10, 30], "error_repeats": 8}}


def parse_override(text: str) -> dict[str, Any]:
    """``"section.key=value"`` as a nested dict; ``value`` is read as TOML, else taken as a string.

    Examples
    --------
    >>> parse_override("train.iterations=500")
    {'train': {'iterations': 500}}
    >>> parse_override("domains.sources=[0.3, 0.7]")
    {'domains': {'sources': [0.3, 0.7]}}
    >>> parse_override("env.kind=synthetic")
    {'env': {'kind': 'synthetic'}}
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. train.iterations=500")
    key, raw = (part.strip() for part in text.split("=", 1))
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    out: dict[str, Any] = {parts[-1]: value}
    for p in reversed(parts[:-1]):
        out = {p: out}
    return out


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: Sequence[str] = ()) -> RunConfig:
    """Defaults, then ``--quick``, then the TOML file at ``path``, then ``overrides``."""
    cfg = RunConfig()
    if quick:
        cfg = config_from_dict(quick_config(), cfg)
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--config: cannot read {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"--config: {p} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config: {p} is not valid TOML: {exc}") from None
        try:
            with reading_file(p, ConfigError):
                cfg = config_from_dict(data, cfg)
        except ConfigError as exc:
            raise ConfigError(f"--config: {p}: {exc}") from None
    merged: dict[str, Any] = {}
    for text in overrides:   # merged first: keys that only make sense together (env.kind + env.data) may come apart
        merged = _merge(merged, parse_override(text))
    if merged:
        cfg = config_from_dict(merged, cfg)
    return cfg


# ------------------------------------------------------------------ writing
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def config_to_toml(config: RunConfig) -> str:
    """The configuration as TOML text that :func:`load_config` reads back to an equal config.

    >>> cfg = config_from_dict({"train": {"runs": 2}})
    >>> config_from_dict(tomllib.loads(config_to_toml(cfg))) == cfg
    True
    """
    data = config_to_dict(config)
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def describe_config() -> list[tuple[str, str, str]]:
    """``(key, default, help)`` for every key, for the documentation and ``--help``."""
    rows = []

    def walk(cls: type, prefix: str) -> None:
        for f in fields(cls):
            if dataclasses.is_dataclass(f.type) or dataclasses.is_dataclass(f.default_factory):
                walk(typing.get_type_hints(cls)[f.name], f"{prefix}{f.name}.")
            else:
                default = f.default_factory() if f.default is dataclasses.MISSING else f.default
                rows.append((prefix + f.name, _toml_value(default), f.metadata.get("help", "")))

    walk(RunConfig, "")
    return rows

