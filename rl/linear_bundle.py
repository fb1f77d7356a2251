"""Save, load and deploy policies of the linear actor (:mod:`rl.actors_linear`).

A linear policy bundle is a folder with the same three files as a tabular one
(:mod:`rl.persistence`): ``policy.npz`` (``weights`` ``(R, n, F, K, V, A)``,
``columns`` ``(n, K)``, ``active`` ``(n, K)``, ``w_hat`` ``(R, n)``,
``action_counts`` ``(n,)``, optional ``source_factors`` / ``source_w_hat``
``(M, n)``), ``graph.json`` and, written last, ``policy.json`` (format
``causalnet.policy``, ``kind = "linear_softmax"``, the :class:`LinearACConfig`, the
feature map, the per-agent inputs, graph fingerprint and the SHA-256 of the other two
files). :func:`rl.persistence.load_policy` refuses such a bundle with a message that
points here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.errors import reading_file
from causalnet.graph import FactoredGraph, GraphError
from causalnet.io import atomic_write_json, file_sha256, json_ready
from rl.actors_linear import LinearACConfig, LinearActorCritic, LinearSoftmaxPolicy
from rl.features import features_from_dict
from rl.persistence import (BUNDLE_FILES, FORMAT_VERSION, POLICY_FORMAT, PersistenceError, _read_json, _read_npz,
                            _write_npz, graph_fingerprint)

__all__ = ["LINEAR_KIND", "LinearPolicyBundle", "load_linear_policy", "save_linear_policy", "zero_shot_linear"]

#: ``kind`` of a linear bundle's ``policy.json``.
LINEAR_KIND = "linear_softmax"


@dataclass
class LinearPolicyBundle:
    """Trained linear policies (one per run) with what is needed to deploy them.

    Attributes
    ----------
    policies : list of LinearSoftmaxPolicy
    config : LinearACConfig
    graph : FactoredGraph
        Graph the inputs were derived from.
    inputs : dict
        :meth:`rl.features.AgentInputs.to_dict` of the trainer.
    env_config : dict
    source_factors, source_w_hat : arrays of shape (M, n), optional
    algorithm : str, optional
    info : dict
    w_center : array of shape (n,), optional
        Shift of the domain features: the policies were trained on, and must be
        deployed with, ``w_hat - w_center`` (``causalnet run`` centres the source
        estimates, whose scale is the estimator's, on their mean).
    """

    policies: list[LinearSoftmaxPolicy]
    config: LinearACConfig
    graph: FactoredGraph
    inputs: dict[str, Any]
    env_config: dict[str, Any] = field(default_factory=dict)
    source_factors: np.ndarray | None = None
    source_w_hat: np.ndarray | None = None
    algorithm: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    w_center: np.ndarray | None = None

    @classmethod
    def from_trainer(cls, trainer: LinearActorCritic, *, algorithm: str | None = None,
                     info: dict[str, Any] | None = None, w_center: np.ndarray | None = None
                     ) -> "LinearPolicyBundle":
        """Every run of ``trainer``, deployed with the first source's (shifted) ``w_hat``."""
        env_config = trainer.env.config() if hasattr(trainer.env, "config") else {}
        return cls(policies=trainer.policies(), config=trainer.config, graph=trainer.graph,
                   inputs=trainer.inputs.to_dict(), env_config=env_config,
                   source_factors=np.asarray(trainer.domain_factors, dtype=np.float64),
                   source_w_hat=np.asarray(trainer.w_hat, dtype=np.float64), algorithm=algorithm,
                   info=dict(info or {}), w_center=None if w_center is None else np.asarray(w_center, float))

    def deploy(self, w_hat, *, fill: float | np.ndarray | None = None) -> list[LinearSoftmaxPolicy]:
        """Every run deployed zero-shot with the estimate ``w_hat`` (on the estimator's scale;
        :attr:`w_center` is subtracted here), ``nan`` entries replaced by ``fill`` first.

        ``w_hat`` has shape ``(n,)`` (all runs) or ``(R, n)`` (one row per run).
        """
        w = np.asarray(w_hat, dtype=np.float64)
        n = self.graph.spec.n_agents
        rows = np.broadcast_to(w, (len(self.policies), n)) if w.ndim <= 1 else w
        if rows.shape != (len(self.policies), n):
            raise ValueError(f"w_hat must have shape ({n},) or ({len(self.policies)}, {n}), got {w.shape}")
        shift = 0.0 if self.w_center is None else self.w_center
        out = []
        for p, row in zip(self.policies, rows):
            row = np.array(row, dtype=np.float64)
            if fill is not None:
                missing = ~np.isfinite(row)
                row[missing] = np.broadcast_to(np.asarray(fill, dtype=np.float64), row.shape)[missing]
            out.append(zero_shot_linear(p, row - shift))
        return out

    def with_policies(self, policies: list[LinearSoftmaxPolicy], *, info: dict[str, Any]) -> "LinearPolicyBundle":
        """A copy holding ``policies`` (e.g. deployed zero-shot) and ``info``."""
        return dataclasses.replace(self, policies=list(policies), info=dict(info))


def save_linear_policy(bundle: LinearPolicyBundle, path: str | os.PathLike) -> Path:
    """Write ``bundle`` into folder ``path`` (created if needed); return the folder."""
    if not bundle.policies:
        raise ValueError("bundle.policies must hold at least one policy")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"policy bundle path {folder} exists and is not a directory")
    first = bundle.policies[0]
    for p in bundle.policies[1:]:
        if (p.weights.shape != first.weights.shape or not np.array_equal(p.columns, first.columns)
                or p.features.to_dict() != first.features.to_dict()):
            raise ValueError("all policies of a bundle must share inputs, feature map and parameter shape")
    arrays: dict[str, np.ndarray] = {"weights": np.stack([p.weights for p in bundle.policies]),
                                     "w_hat": np.stack([p.w_hat for p in bundle.policies]),
                                     "columns": first.columns.copy(), "active": first.active.copy(),
                                     "action_counts": first.action_counts.copy()}
    for name in ("source_factors", "source_w_hat", "w_center"):
        value = getattr(bundle, name)
        if value is not None:
            arrays[name] = np.asarray(value, dtype=np.float64)
    folder.mkdir(parents=True, exist_ok=True)
    npz_sha = _write_npz(folder / BUNDLE_FILES["arrays"], arrays)
    graph_path = bundle.graph.save(folder / BUNDLE_FILES["graph"])
    meta = {"format": POLICY_FORMAT, "version": FORMAT_VERSION, "kind": LINEAR_KIND,
            "algorithm": bundle.algorithm, "n_runs": len(bundle.policies),
            "config": dataclasses.asdict(bundle.config), "features": first.features.to_dict(),
            "inputs": bundle.inputs, "graph_fingerprint": graph_fingerprint(bundle.graph),
            "env": bundle.env_config, "arrays": {k: list(v.shape) for k, v in arrays.items()},
            "files": {BUNDLE_FILES["arrays"]: npz_sha, BUNDLE_FILES["graph"]: file_sha256(graph_path)},
            "info": bundle.info}
    atomic_write_json(folder / BUNDLE_FILES["metadata"], json_ready(meta))
    return folder


def load_linear_policy(path: str | os.PathLike, *, graph: FactoredGraph | None = None) -> LinearPolicyBundle:
    """Read and validate a bundle written by :func:`save_linear_policy`.

    Raises
    ------
    PersistenceError
        Missing files or arrays, checksum or shape mismatch, a tabular bundle, or a
        ``graph`` whose fingerprint differs from the bundle's.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise PersistenceError(f"policy bundle folder not found: {folder}")
    meta_path = folder / BUNDLE_FILES["metadata"]
    with reading_file(meta_path, PersistenceError):
        meta = _read_json(meta_path, "policy metadata")
        if meta.get("format") != POLICY_FORMAT or meta.get("version") != FORMAT_VERSION:
            raise PersistenceError(f"{meta_path} has format {meta.get('format')!r} version {meta.get('version')!r};"
                                   f" expected {POLICY_FORMAT!r} version {FORMAT_VERSION}")
        if meta.get("kind") != LINEAR_KIND:
            raise PersistenceError(f"{meta_path} holds a {meta.get('kind')!r} policy, not {LINEAR_KIND!r}: "
                                   "read it with rl.persistence.load_policy")
        graph_path = folder / BUNDLE_FILES["graph"]
        if not graph_path.exists() or file_sha256(graph_path) != meta["files"].get(BUNDLE_FILES["graph"]):
            raise PersistenceError(f"{graph_path} is missing or does not match the checksum in {meta_path}")
        try:
            stored = FactoredGraph.load(graph_path)
        except GraphError as exc:
            raise PersistenceError(str(exc)) from exc
        if graph is not None and graph_fingerprint(graph) != meta["graph_fingerprint"]:
            raise PersistenceError("graph fingerprint mismatch: the supplied graph is not the graph the policy "
                                   "was trained with")
        arrays = _read_npz(folder / BUNDLE_FILES["arrays"], meta["files"].get(BUNDLE_FILES["arrays"]),
                           ("weights", "w_hat", "columns", "active", "action_counts"))
        try:
            config = LinearACConfig(**meta["config"])
            features = features_from_dict(meta["features"])
        except (TypeError, ValueError) as exc:
            raise PersistenceError(f"{meta_path}: {exc}") from exc
        weights, w_hat = arrays["weights"], arrays["w_hat"]
        R, n = int(meta["n_runs"]), stored.spec.n_agents
        if weights.ndim != 6 or weights.shape[:3] != (R, n, features.n_features) or w_hat.shape != (R, n):
            raise PersistenceError(f"shape mismatch: 'weights' {weights.shape}, 'w_hat' {w_hat.shape} for {R} runs "
                                   f"of {n} agents with {features.n_features} features")
        policies = [LinearSoftmaxPolicy(weights[r], arrays["columns"], arrays["active"], arrays["action_counts"],
                                        features, w_hat=w_hat[r]) for r in range(R)]
    return LinearPolicyBundle(policies=policies, config=config, graph=stored, inputs=meta["inputs"],
                              env_config=meta.get("env") or {}, source_factors=arrays.get("source_factors"),
                              source_w_hat=arrays.get("source_w_hat"), algorithm=meta.get("algorithm"),
                              info=meta.get("info") or {}, w_center=arrays.get("w_center"))


def zero_shot_linear(policy: LinearSoftmaxPolicy, w_hat, *, fill: float | np.ndarray | None = None
                     ) -> LinearSoftmaxPolicy:
    """A copy of the meta-trained linear ``policy`` deployed with ``w_hat`` (no parameter update).

    ``nan`` entries of ``w_hat`` (agents without an estimate) take ``fill``; without it
    they raise ``ValueError`` (as :func:`rl.adaptation.zero_shot`).

    Examples
    --------
    >>> from rl.features import PolynomialFeatures
    >>> pol = LinearSoftmaxPolicy(np.zeros((2, 2, 1, 2, 2)), np.zeros((2, 1), dtype=int), np.ones((2, 1), bool),
    ...                           [2, 2], PolynomialFeatures(2), w_hat=0.1)
    >>> zero_shot_linear(pol, [0.3, np.nan], fill=0.5).w_hat.tolist(), pol.w_hat.tolist()
    ([0.3, 0.5], [0.1, 0.1])
    """
    if not isinstance(policy, LinearSoftmaxPolicy):
        raise TypeError(f"policy must be a LinearSoftmaxPolicy, got {type(policy).__name__}")
    n = policy.n_agents
    w = np.array(w_hat, dtype=np.float64)
    w = np.full(n, float(w)) if w.ndim == 0 else w
    if w.shape != (n,):
        raise ValueError(f"w_hat must be a scalar or have shape ({n},), got {w.shape}")
    missing = ~np.isfinite(w)
    if missing.any():
        if fill is None:
            raise ValueError(f"w_hat has no estimate for agent(s) {np.flatnonzero(missing).tolist()}; pass fill=")
        w[missing] = np.broadcast_to(np.asarray(fill, dtype=np.float64), (n,))[missing]
    return LinearSoftmaxPolicy(policy.weights, policy.columns, policy.active, policy.action_counts,
                               policy.features, w_hat=w)
