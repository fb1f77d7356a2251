"""Save and load trained policies (policy bundles) and training checkpoints.

Policy bundle
    A folder with ``policy.npz`` (parameters of every run, the deployed ``w_hat``,
    the source factors), ``graph.json`` (the graph the inputs came from, as written
    by :meth:`~causalnet.graph.FactoredGraph.save`) and ``policy.json`` (format,
    :class:`~rl.gsac.GSACConfig`, feature map, per-agent inputs (the ACR lists),
    graph fingerprint, environment configuration, SHA-256 of the two other files).
    ``policy.json`` is written last, each file atomically, so a crash leaves either
    the previous bundle or a bundle whose checksums fail to validate.

Checkpoint
    ``STEM.npz`` (``theta``, critic arrays, prefetched random numbers) plus
    ``STEM.json`` (iteration, configuration, bit-generator states, evaluation history,
    graph fingerprint, checksum of the ``.npz``) of a :class:`~rl.gsac.GSACTrainer`;
    :func:`train_with_checkpoints` writes one every ``every`` iterations and resumes
    from the newest, giving the same result as an uninterrupted run.

See ``docs/cli-train.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from causalnet.errors import CausalnetError, reading_file
from causalnet.graph import FactoredGraph, GraphError
from causalnet.io import atomic_write, atomic_write_json, file_sha256, json_ready, read_json_object, read_npz_arrays
from rl.actors import LocalizedSoftmaxPolicy, policy_layout
from rl.features import features_from_dict
from rl.gsac import GSACConfig, GSACResult, GSACTrainer

__all__ = ["BUNDLE_FILES", "CHECKPOINT_FORMAT", "POLICY_FORMAT", "PolicyBundle", "PersistenceError",
           "checkpoint_paths", "graph_fingerprint", "latest_checkpoint", "load_checkpoint", "load_policy",
           "save_checkpoint", "save_policy", "train_with_checkpoints"]

logger = logging.getLogger(__name__)

POLICY_FORMAT = "causalnet.policy"
CHECKPOINT_FORMAT = "causalnet.checkpoint"
FORMAT_VERSION = 1
#: File names inside a policy bundle folder.
BUNDLE_FILES = {"arrays": "policy.npz", "graph": "graph.json", "metadata": "policy.json"}
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d{9})\.json$")


class PersistenceError(CausalnetError, ValueError):
    """A policy bundle or checkpoint is missing, incomplete, corrupt or does not match."""


# ------------------------------------------------------------------ helpers
def graph_fingerprint(graph: FactoredGraph) -> str:
    """SHA-256 (hex) of the canonical JSON of the graph's ``parents`` and ``spec``.

    Keys sorted, no whitespace, parent lists sorted (as in ``graph.to_dict()``), so
    equal graphs give equal fingerprints whatever order they were built in.

    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> graph_fingerprint(env.true_graph()) == graph_fingerprint(env.true_graph())
    True
    >>> len(graph_fingerprint(env.true_graph()))
    64
    """
    data = graph.to_dict()
    canonical = json.dumps({"parents": data["parents"], "spec": data["spec"]}, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` atomically as an uncompressed ``.npz``; return its SHA-256."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    atomic_write(path, lambda fh: fh.write(data))
    return hashlib.sha256(data).hexdigest()


def _read_json(path: Path, what: str) -> dict[str, Any]:
    return read_json_object(path, error=PersistenceError, what=what)


def _read_npz(path: Path, expected_sha: str | None, required: Sequence[str]) -> dict[str, np.ndarray]:
    if not path.exists():
        raise PersistenceError(f"missing array file: {path}")
    if expected_sha is not None and file_sha256(path) != expected_sha:
        raise PersistenceError(f"{path} does not match the checksum recorded beside it (an interrupted or "
                               "mixed write, or the file was modified)")
    return read_npz_arrays(path, error=PersistenceError, required=tuple(required))


def _check_format(meta: dict[str, Any], path: Path, fmt: str) -> None:
    if meta.get("format") != fmt:
        raise PersistenceError(f"{path} has format {meta.get('format')!r}; expected {fmt!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise PersistenceError(f"{path} has format version {meta.get('version')!r}; this release reads "
                               f"version {FORMAT_VERSION}")


# ------------------------------------------------------------------ policy bundles
@dataclass
class PolicyBundle:
    """A trained policy (one or several runs) with everything needed to deploy it.

    Attributes
    ----------
    policies : list of LocalizedSoftmaxPolicy
        One policy per run (seed), all with the same inputs and feature map; each
        conditions on ``w_hat`` (settable).
    config : GSACConfig
        Configuration it was trained with.
    graph : FactoredGraph
        Graph its inputs were derived from.
    inputs : dict
        Per-agent inputs (:meth:`rl.features.AgentInputs.to_dict`: critic and policy
        columns, i.e. the ACR lists in ``"acr"`` mode, neighbourhoods, domain agents).
    env_config : dict
        Configuration of the training environment (``env.config()``), may be empty.
    source_factors, source_w_hat : arrays of shape (M, n), optional
        True factors of the source domains and the estimates the agents saw.
    algorithm : str, optional
        Name of the training algorithm (``rl.algorithms.ALGORITHMS``).
    info : dict
        Free-form JSON-ready facts (iterations, seed, ...).
    """

    policies: list[LocalizedSoftmaxPolicy]
    config: GSACConfig
    graph: FactoredGraph
    inputs: dict[str, Any]
    env_config: dict[str, Any] = field(default_factory=dict)
    source_factors: np.ndarray | None = None
    source_w_hat: np.ndarray | None = None
    algorithm: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """:func:`graph_fingerprint` of :attr:`graph`."""
        return graph_fingerprint(self.graph)

    @property
    def n_runs(self) -> int:
        """Number of runs (policies)."""
        return len(self.policies)

    @classmethod
    def from_trainer(cls, trainer: GSACTrainer, *, w_hat: np.ndarray | None = None, algorithm: str | None = None,
                     source_factors: np.ndarray | None = None, info: dict[str, Any] | None = None
                     ) -> "PolicyBundle":
        """Bundle every run of ``trainer`` (policies deployed with ``w_hat``, default the first source's)."""
        env_config = trainer.env.config() if hasattr(trainer.env, "config") else {}
        return cls(policies=trainer.policies(w_hat=w_hat), config=trainer.config, graph=trainer.graph,
                   inputs=trainer.inputs.to_dict(), env_config=env_config,
                   source_factors=np.asarray(trainer.domain_factors if source_factors is None else source_factors,
                                             dtype=np.float64),
                   source_w_hat=np.asarray(trainer.w_hat, dtype=np.float64), algorithm=algorithm,
                   info=dict(info or {}))


def save_policy(bundle: PolicyBundle, path: str | os.PathLike) -> Path:
    """Write ``bundle`` into folder ``path`` (created if needed); return the folder.

    Files: ``policy.npz`` (``theta`` ``(R, n, S, F, A)``, ``w_hat`` ``(R, n)``,
    ``action_counts`` ``(n,)``, optional ``source_factors`` / ``source_w_hat``
    ``(M, n)``), ``graph.json`` and, last, ``policy.json`` with the metadata and the
    SHA-256 of the other two files. Each write is atomic.
    """
    if not bundle.policies:
        raise ValueError("bundle.policies must hold at least one policy")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"policy bundle path {folder} exists and is not a directory")
    first = bundle.policies[0]
    for p in bundle.policies[1:]:
        if (p.theta.shape != first.theta.shape or p.policy_columns != first.policy_columns
                or p.features.to_dict() != first.features.to_dict()):
            raise ValueError("all policies of a bundle must share inputs, feature map and parameter shape")
    arrays: dict[str, np.ndarray] = {
        "theta": np.stack([p.theta for p in bundle.policies]),
        "w_hat": np.stack([p.w_hat for p in bundle.policies]),
        "action_counts": first.action_counts.copy()}
    for name in ("source_factors", "source_w_hat"):
        value = getattr(bundle, name)
        if value is not None:
            arrays[name] = np.asarray(value, dtype=np.float64)
    folder.mkdir(parents=True, exist_ok=True)
    npz_sha = _write_npz(folder / BUNDLE_FILES["arrays"], arrays)
    graph_path = bundle.graph.save(folder / BUNDLE_FILES["graph"])
    meta = {"format": POLICY_FORMAT, "version": FORMAT_VERSION, "kind": "localized_softmax",
            "algorithm": bundle.algorithm, "n_runs": bundle.n_runs, "config": bundle.config.to_dict(),
            "features": first.features.to_dict(), "policy_columns": first.policy_columns,
            "policy_cardinality": first.policy_cardinality, "inputs": bundle.inputs,
            "graph_fingerprint": bundle.fingerprint, "env": bundle.env_config,
            "arrays": {k: list(v.shape) for k, v in arrays.items()},
            "files": {BUNDLE_FILES["arrays"]: npz_sha, BUNDLE_FILES["graph"]: file_sha256(graph_path)},
            "info": bundle.info}
    atomic_write_json(folder / BUNDLE_FILES["metadata"], json_ready(meta))
    return folder


def load_policy(path: str | os.PathLike, *, graph: FactoredGraph | None = None, env=None) -> PolicyBundle:
    """Read and validate a bundle written by :func:`save_policy`.

    Parameters
    ----------
    path : folder of the bundle
    graph : FactoredGraph, optional
        If given, its :func:`graph_fingerprint` must equal the bundle's.
    env : NetworkedEnv, optional
        If given, its agent count, action counts and state spec must match.

    Raises
    ------
    PersistenceError
        Missing files or arrays, checksum or shape mismatch, unknown format, or a
        ``graph`` / ``env`` that does not match the bundle.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise PersistenceError(f"policy bundle folder not found: {folder}")
    with reading_file(folder / BUNDLE_FILES["metadata"], PersistenceError):
        return _load_policy(folder, graph, env)


#: Top-level fields of ``policy.json``.
_POLICY_KEYS = {"format", "version", "kind", "algorithm", "n_runs", "config", "features", "policy_columns",
                "policy_cardinality", "inputs", "graph_fingerprint", "env", "arrays", "files", "info"}


def _load_policy(folder: Path, graph: FactoredGraph | None, env) -> PolicyBundle:
    meta_path = folder / BUNDLE_FILES["metadata"]
    meta = _read_json(meta_path, "policy metadata")
    _check_format(meta, meta_path, POLICY_FORMAT)
    if meta.get("kind") == "linear_softmax":
        raise PersistenceError(f"{meta_path} holds a linear policy (train.actor_model = \"linear\"): read it with "
                               "rl.linear_bundle.load_linear_policy")
    unknown = sorted(set(meta) - _POLICY_KEYS)
    if unknown:
        raise PersistenceError(f"{meta_path} has unknown field(s) {unknown}; accepted: {sorted(_POLICY_KEYS)}")
    for key in ("config", "features", "policy_columns", "policy_cardinality", "inputs", "graph_fingerprint",
                "files", "n_runs"):
        if key not in meta:
            raise PersistenceError(f"{meta_path} has no {key!r} entry")
    graph_path = folder / BUNDLE_FILES["graph"]
    if not graph_path.exists():
        raise PersistenceError(f"missing graph file: {graph_path}")
    if file_sha256(graph_path) != meta["files"].get(BUNDLE_FILES["graph"]):
        raise PersistenceError(f"{graph_path} does not match the checksum in {meta_path}")
    try:
        stored_graph = FactoredGraph.load(graph_path)
    except GraphError as exc:
        raise PersistenceError(str(exc)) from exc
    if graph_fingerprint(stored_graph) != meta["graph_fingerprint"]:
        raise PersistenceError(f"{graph_path} does not match the graph fingerprint in {meta_path}")
    if graph is not None and graph_fingerprint(graph) != meta["graph_fingerprint"]:
        raise PersistenceError(f"graph fingerprint mismatch: the supplied graph ({graph_fingerprint(graph)[:12]}...) "
                               f"is not the graph the policy was trained with ({meta['graph_fingerprint'][:12]}...)")
    arrays = _read_npz(folder / BUNDLE_FILES["arrays"], meta["files"].get(BUNDLE_FILES["arrays"]),
                       ("theta", "w_hat", "action_counts"))
    try:
        config = GSACConfig.from_dict(meta["config"])
        features = features_from_dict(meta["features"])
    except (TypeError, ValueError) as exc:
        raise PersistenceError(f"{meta_path}: {exc}") from exc
    theta, w_hat, counts = arrays["theta"], arrays["w_hat"], arrays["action_counts"]
    n_runs = int(meta["n_runs"])
    n = stored_graph.spec.n_agents
    _, _, n_states = policy_layout(meta["policy_columns"], meta["policy_cardinality"])
    expected = (n_runs, n, n_states, features.n_features, int(np.max(counts)) if counts.size else 0)
    if theta.shape != expected:
        raise PersistenceError(f"shape mismatch: 'theta' has shape {theta.shape}, the metadata implies {expected}")
    if w_hat.shape != (n_runs, n) or counts.shape != (n,):
        raise PersistenceError(f"shape mismatch: 'w_hat' {w_hat.shape} (expected {(n_runs, n)}), "
                               f"'action_counts' {counts.shape} (expected {(n,)})")
    for name, shape in meta.get("arrays", {}).items():
        if name in arrays and list(arrays[name].shape) != list(shape):
            raise PersistenceError(f"shape mismatch: {name!r} has shape {arrays[name].shape}, metadata says {shape}")
    if env is not None:
        if env.n_agents != n or not np.array_equal(np.asarray(env.action_counts), counts):
            raise PersistenceError(f"the environment ({env.n_agents} agents, action counts "
                                   f"{np.asarray(env.action_counts).tolist()}) does not match the policy "
                                   f"({n} agents, action counts {counts.tolist()})")
        if env.spec != stored_graph.spec:
            raise PersistenceError("the environment's variables (spec) differ from the policy's graph spec")
    policies = []
    for r in range(n_runs):
        try:
            policies.append(LocalizedSoftmaxPolicy(theta[r], meta["policy_columns"], meta["policy_cardinality"],
                                                   counts, features, w_hat=w_hat[r]))
        except ValueError as exc:
            raise PersistenceError(f"{folder}: {exc}") from exc
    return PolicyBundle(policies=policies, config=config, graph=stored_graph, inputs=meta["inputs"],
                        env_config=meta.get("env") or {}, source_factors=arrays.get("source_factors"),
                        source_w_hat=arrays.get("source_w_hat"), algorithm=meta.get("algorithm"),
                        info=meta.get("info") or {})


# ------------------------------------------------------------------ checkpoints
def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(STEM.npz, STEM.json)`` for a checkpoint path with or without suffix."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def _trainer_identity(trainer: GSACTrainer) -> dict[str, Any]:
    env_config = trainer.env.config() if hasattr(trainer.env, "config") else None
    return {"graph_fingerprint": graph_fingerprint(trainer.graph), "features": trainer.features.to_dict(),
            "domain_factors": trainer.domain_factors.tolist(), "w_hat": trainer.w_hat.tolist(),
            "env": json_ready(env_config)}


def save_checkpoint(trainer: GSACTrainer, path: str | os.PathLike, *,
                    history: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``trainer.state_dict()`` as ``STEM.npz`` + ``STEM.json`` (atomic, ``.json`` last).

    ``history`` (JSON-ready) is stored alongside, e.g. the evaluation curve so far.
    Returns both paths.
    """
    npz_path, json_path = checkpoint_paths(path)
    state = trainer.state_dict()
    arrays = dict(state["arrays"])
    meta = dict(state["metadata"])
    train_rng = dict(meta.pop("train_rng"))
    arrays["train_rng_buffer"] = np.asarray(train_rng.pop("buffer"), dtype=np.float64)
    meta["train_rng"] = train_rng
    npz_sha = _write_npz(npz_path, arrays)
    record = {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "state": meta,
              "identity": _trainer_identity(trainer), "history": history or {},
              "arrays": sorted(arrays), "npz_sha256": npz_sha}
    atomic_write_json(json_path, json_ready(record), indent=None)
    return npz_path, json_path


def load_checkpoint(path: str | os.PathLike, trainer: GSACTrainer) -> dict[str, Any]:
    """Restore a checkpoint into ``trainer``; return the stored ``history``.

    ``trainer`` must be built like the saved one (same environment, graph, sources,
    configuration and number of runs); its seed does not matter.

    Raises
    ------
    PersistenceError
        Missing or corrupt files, or a trainer that does not match the checkpoint.
    """
    npz_path, json_path = checkpoint_paths(path)
    record = _read_json(json_path, "checkpoint metadata")
    _check_format(record, json_path, CHECKPOINT_FORMAT)
    names = record.get("arrays", [])
    arrays = _read_npz(npz_path, record.get("npz_sha256"), names)
    identity = _trainer_identity(trainer)
    for key, value in record.get("identity", {}).items():
        if identity.get(key) != value:
            raise PersistenceError(f"checkpoint {json_path} was written by a trainer with a different {key} "
                                   f"(saved {str(value)[:80]}, this trainer {str(identity.get(key))[:80]})")
    meta = dict(record["state"])
    train_rng = dict(meta["train_rng"])
    buffer = arrays.pop("train_rng_buffer")
    train_rng["buffer"] = buffer
    meta["train_rng"] = train_rng
    try:
        trainer.load_state_dict({"arrays": arrays, "metadata": meta})
    except (ValueError, KeyError) as exc:
        raise PersistenceError(f"checkpoint {json_path} does not fit this trainer: {exc}") from exc
    return record.get("history", {})


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """Stem of the newest complete checkpoint (``checkpoint-NNNNNNNNN``) in ``directory``, or None."""
    folder = Path(directory)
    if not folder.is_dir():
        return None
    found = []
    for p in folder.iterdir():
        match = _CHECKPOINT_RE.match(p.name)
        if match and p.with_suffix(".npz").exists():
            found.append((int(match.group(1)), p.with_suffix("")))
    return max(found)[1] if found else None


def _checkpoint_stem(directory: Path, iteration: int) -> Path:
    return directory / f"checkpoint-{iteration:09d}"


def _prune(directory: Path, keep: int) -> None:
    stems = sorted((int(m.group(1)), p.with_suffix("")) for p in directory.iterdir()
                   if (m := _CHECKPOINT_RE.match(p.name)))
    for _, stem in stems[:-keep] if keep > 0 else []:
        for path in checkpoint_paths(stem)[::-1]:      # json first: the checkpoint disappears atomically
            path.unlink(missing_ok=True)


def train_with_checkpoints(trainer: GSACTrainer, iterations: int, *, directory: str | os.PathLike,
                           every: int, resume: bool = True, keep: int = 2, eval_every: int = 0,
                           eval_episodes: int = 400, eval_env=None, eval_w_hat: np.ndarray | None = None,
                           eval_domain_factor: np.ndarray | None = None, progress: bool = False,
                           callback: Callable[[GSACTrainer], None] | None = None,
                           on_eval: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> GSACResult:
    """Train ``trainer`` up to ``iterations`` total iterations, checkpointing every ``every``.

    With ``resume=True`` the newest checkpoint in ``directory`` (if any) is loaded
    first, together with the evaluation history it recorded, so an interrupted run
    (crash, kill, exception in ``callback``) restarted with the same arguments ends
    with the same parameters, critic and evaluation curve as an uninterrupted one.
    A checkpoint is written after every iteration count divisible by ``every`` and
    at the end; only the newest ``keep`` are kept. Evaluation arguments as in
    :meth:`rl.gsac.GSACTrainer.run`. The returned result's ``eval_*`` arrays cover
    the whole run (restored history included); ``train_seconds`` / ``eval_seconds``
    cover this call only and ``extra["resumed_from"]`` names the iteration resumed
    from (0 for a fresh start).

    Examples
    --------
    >>> import tempfile
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> trainer = GSACTrainer(env, env.true_graph(), GSACConfig.reference_sac(), rng=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = train_with_checkpoints(trainer, 30, directory=d, every=10, eval_every=10, eval_episodes=20)
    ...     latest_checkpoint(d).name
    'checkpoint-000000030'
    >>> res.eval_iterations.tolist()
    [0, 10, 20, 30]
    """
    for name, value, least in (("iterations", iterations, 0), ("every", every, 1), ("keep", keep, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    folder = Path(directory)
    history: dict[str, Any] = {"eval_iterations": [], "eval_returns": [], "eval_std_err": []}
    resumed_from = 0
    if resume:
        stem = latest_checkpoint(folder)
        if stem is not None:
            saved = load_checkpoint(stem, trainer)
            history.update({k: list(saved.get(k, [])) for k in history})
            resumed_from = trainer.iteration
            logger.info("resumed from %s (iteration %d)", stem, trainer.iteration)
    if trainer.iteration > iterations:
        raise ValueError(f"the trainer is already at iteration {trainer.iteration} > iterations={iterations}")
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=int(iterations), initial=trainer.iteration, desc="train", unit="it")
    train_seconds = eval_seconds = 0.0
    result: GSACResult | None = None
    try:
        while True:
            if trainer.iteration >= iterations and not (trainer.iteration == 0 and eval_every and
                                                        not history["eval_iterations"]):
                break
            target = min(iterations, (trainer.iteration // every + 1) * every)
            start_iteration = trainer.iteration
            result = trainer.run(target - start_iteration, eval_every=eval_every, eval_episodes=eval_episodes,
                                 eval_env=eval_env, eval_w_hat=eval_w_hat, eval_domain_factor=eval_domain_factor,
                                 callback=callback, on_eval=on_eval)
            train_seconds += result.train_seconds
            eval_seconds += result.eval_seconds
            history["eval_iterations"] += result.eval_iterations.tolist()
            history["eval_returns"] += result.eval_returns.T.tolist()
            history["eval_std_err"] += result.eval_std_err.T.tolist()
            if bar is not None:
                bar.update(trainer.iteration - start_iteration)
            save_checkpoint(trainer, _checkpoint_stem(folder, trainer.iteration), history=history)
            _prune(folder, keep)
            if trainer.iteration >= iterations:
                break
    finally:
        if bar is not None:
            bar.close()
    r = trainer.n_runs
    returns = np.asarray(history["eval_returns"], dtype=np.float64).reshape(-1, r).T
    errs = np.asarray(history["eval_std_err"], dtype=np.float64).reshape(-1, r).T
    w_final = eval_w_hat if eval_w_hat is not None else None
    return GSACResult(config=trainer.config, policies=trainer.policies(w_hat=w_final), iterations=trainer.iteration,
                      eval_iterations=np.asarray(history["eval_iterations"], dtype=np.int64),
                      eval_returns=returns, eval_std_err=errs, train_seconds=train_seconds,
                      eval_seconds=eval_seconds, critic_entries=trainer.critic.n_entries(),
                      extra={"resumed_from": resumed_from})
