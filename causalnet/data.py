"""The :class:`Transitions` container: transitions of a networked system in several domains.

One row is one transition ``(s(t), a(t), r(t), s(t+1))`` of the whole network, with
the domain it was collected in, its episode and its time index. Arrays are plain
numpy arrays; variable names, owners and cardinalities live in a
:class:`~causalnet.spec.NetworkSpec`.

On disk a dataset is two files that share a stem: ``NAME.npz`` with the arrays and
``NAME.json`` with the spec and format version (see ``docs/data-format.md``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from causalnet.errors import CausalnetError, reading_file
from causalnet.io import atomic_write, read_npz_arrays
from causalnet.spec import NetworkSpec, SpecError

__all__ = ["Transitions", "TransitionsFormatError", "FORMAT_VERSION", "code_dtype", "reward_dtype"]

FORMAT_VERSION = 1
_ARRAYS = ("states", "actions", "rewards", "next_states", "domain", "episode", "time")


class TransitionsFormatError(CausalnetError, ValueError):
    """Raised when transition data (in memory or on disk) is malformed."""


@dataclass(frozen=True, eq=False)
class Transitions:
    """Transitions of a networked system collected in one or more domains.

    Parameters
    ----------
    spec : NetworkSpec
        Names, owners and cardinalities of all variables.
    states, next_states : ndarray, shape (N, spec.n_state)
        State coordinates at time t and t+1 (integers ``0..card-1`` for discrete
        coordinates, floats allowed for continuous ones).
    actions : ndarray, shape (N, spec.n_agents)
        Integers, or floats when the spec's actions are continuous (cardinality None).
    rewards : ndarray of float, shape (N, spec.n_agents)
    domain : ndarray of int, shape (N,)
        Domain label ``0..M-1`` of each row.
    episode, time : ndarray of int, shape (N,)
        Episode index (unique over the whole dataset) and time step within it.
    domain_factors : ndarray of float, shape (M, n_agents), optional
        The true domain factor of each agent in each domain, when known (simulated data).

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> tr = Transitions(spec, states=np.zeros((3, 1), int), actions=np.zeros((3, 1), int),
    ...                  rewards=np.zeros((3, 1)), next_states=np.ones((3, 1), int),
    ...                  domain=np.zeros(3, int), episode=np.zeros(3, int), time=np.arange(3))
    >>> len(tr), tr.n_domains
    (3, 1)
    >>> tr.column("s0_0", next_step=True).tolist()
    [1, 1, 1]
    """

    spec: NetworkSpec
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    domain: np.ndarray
    episode: np.ndarray
    time: np.ndarray
    domain_factors: np.ndarray | None = None

    def __post_init__(self) -> None:
        spec = self.spec
        if not isinstance(spec, NetworkSpec):
            raise TransitionsFormatError(f"spec must be a NetworkSpec, got {type(spec).__name__}")
        conv = {
            "states": self._as_values(self.states, "states"),
            "next_states": self._as_values(self.next_states, "next_states"),
            "actions": np.asarray(self.actions),
            "rewards": self._as_values(self.rewards, "rewards"),
            "domain": np.asarray(self.domain),
            "episode": np.asarray(self.episode),
            "time": np.asarray(self.time),
        }
        for name, arr in conv.items():
            object.__setattr__(self, name, arr)
        n = conv["states"].shape[0] if conv["states"].ndim == 2 else -1
        expected = {
            "states": (n, spec.n_state), "next_states": (n, spec.n_state),
            "actions": (n, spec.n_agents), "rewards": (n, spec.n_agents),
            "domain": (n,), "episode": (n,), "time": (n,),
        }
        for name, shape in expected.items():
            if conv[name].shape != shape:
                raise TransitionsFormatError(
                    f"shape mismatch: {name!r} has shape {conv[name].shape}, expected {shape} "
                    f"(N rows; {spec.n_state} state coordinates, {spec.n_agents} agents)")
        integer_columns = ("domain", "episode", "time") if spec.continuous_actions else (
            "actions", "domain", "episode", "time")
        if spec.continuous_actions:
            conv["actions"] = self._as_values(conv["actions"], "actions").astype(np.float64, copy=False)
            object.__setattr__(self, "actions", conv["actions"])
        for name in integer_columns:
            if conv[name].size and not np.issubdtype(conv[name].dtype, np.integer):
                raise TransitionsFormatError(f"{name!r} must hold integers, got dtype {conv[name].dtype}")
        self._check_ranges(conv)
        conv = _narrowed(conv, spec)
        for name, arr in conv.items():
            object.__setattr__(self, name, arr)
        if self.domain_factors is not None:
            w = np.asarray(self.domain_factors, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != spec.n_agents or w.shape[0] < self.n_domains:
                raise TransitionsFormatError(
                    f"shape mismatch: 'domain_factors' has shape {w.shape}, expected "
                    f"({max(self.n_domains, 1)}, {spec.n_agents}) (domains x agents)")
            object.__setattr__(self, "domain_factors", w)

    @staticmethod
    def _as_values(arr: Any, name: str) -> np.ndarray:
        a = np.asarray(arr)
        if a.dtype.kind not in "iubf":
            raise TransitionsFormatError(f"{name!r} must be numeric, got dtype {a.dtype}")
        return a

    def _check_ranges(self, conv: dict[str, np.ndarray]) -> None:
        spec = self.spec
        for key in ("states", "next_states"):
            arr = conv[key]
            if arr.size == 0:
                continue
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):   # integers are finite (no N x n temporary)
                raise TransitionsFormatError(f"{key!r} holds NaN or infinite values")
            lo, hi = arr.min(axis=0), arr.max(axis=0)
            for j, card in enumerate(spec.state_cardinality):
                if card is None:
                    continue
                col = arr[:, j]
                if lo[j] < 0 or hi[j] >= card:
                    raise TransitionsFormatError(
                        f"cardinality exceeded: {key!r} column {spec.state_names[j]!r} holds values in "
                        f"[{lo[j]}, {hi[j]}], expected integers in 0..{card - 1}")
                if arr.dtype.kind == "f" and np.any(col != np.round(col)):
                    raise TransitionsFormatError(
                        f"{key!r} column {spec.state_names[j]!r} is discrete but holds non-integer values")
        acts = conv["actions"]
        if acts.size and spec.continuous_actions:
            if not np.all(np.isfinite(acts)):
                raise TransitionsFormatError("'actions' holds NaN or infinite values")
        elif acts.size:
            lo, hi = acts.min(axis=0), acts.max(axis=0)
            for i, card in enumerate(spec.action_cardinality):
                if lo[i] < 0 or hi[i] >= card:
                    raise TransitionsFormatError(
                        f"cardinality exceeded: action {spec.action_names[i]!r} holds values in "
                        f"[{lo[i]}, {hi[i]}], expected 0..{card - 1}")
        if conv["rewards"].size and conv["rewards"].dtype.kind == "f" and not np.all(np.isfinite(conv["rewards"])):
            raise TransitionsFormatError("'rewards' holds NaN or infinite values")
        if conv["domain"].size and conv["domain"].min() < 0:
            raise TransitionsFormatError("'domain' labels must be >= 0")

    # ------------------------------------------------------------- properties
    def __len__(self) -> int:
        return int(self.states.shape[0])

    @property
    def n_domains(self) -> int:
        """Number of domains (``max(domain) + 1``; 0 for an empty dataset)."""
        return int(self.domain.max()) + 1 if len(self) else 0

    @property
    def n_episodes(self) -> int:
        """Number of distinct episodes."""
        return int(np.unique(self.episode).size)

    def column(self, name: str, *, next_step: bool = False) -> np.ndarray:
        """Values of the variable ``name`` (a state coordinate, action, reward or the domain).

        ``next_step=True`` returns state coordinates at time t+1.
        """
        kind = self.spec.kind(name)
        j = self.spec.index(name)
        if kind == "state":
            return (self.next_states if next_step else self.states)[:, j]
        if next_step:
            raise ValueError(f"next_step applies to state coordinates only, not to {kind} {name!r}")
        if kind == "action":
            return self.actions[:, j]
        if kind == "reward":
            return self.rewards[:, j]
        return self.domain

    def subset(self, rows: np.ndarray | slice) -> "Transitions":
        """A new container with the selected rows (boolean mask, indices or slice)."""
        return Transitions(self.spec, self.states[rows], self.actions[rows], self.rewards[rows],
                           self.next_states[rows], self.domain[rows], self.episode[rows],
                           self.time[rows], self.domain_factors)

    def check_domain_labels(self) -> None:
        """Raise unless the domain labels are exactly ``0..M-1``, each present.

        Estimators index their per-domain tables by label, so labels ``1..M`` (or
        ``{0, 5}``) would create empty domains whose estimates are all NaN.

        Raises
        ------
        TransitionsFormatError
            Naming the labels found and the expected ones.

        Examples
        --------
        >>> from causalnet.spec import default_spec
        >>> spec = default_spec(1, [], 1, 2, 2)
        >>> tr = Transitions(spec, states=np.zeros((2, 1), int), actions=np.zeros((2, 1), int),
        ...                  rewards=np.zeros((2, 1)), next_states=np.ones((2, 1), int),
        ...                  domain=np.array([1, 2]), episode=np.zeros(2, int), time=np.arange(2))
        >>> tr.check_domain_labels()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        causalnet.data.TransitionsFormatError: 'domain' labels must be 0..M-1 ...; found [1, 2] (expected [0, 1]); ...
        """
        if not len(self):
            return
        labels = np.unique(self.domain)
        if labels[0] != 0 or labels[-1] != labels.size - 1:
            shown = labels.tolist() if labels.size <= 10 else labels[:10].tolist() + ["..."]
            expected = list(range(labels.size)) if labels.size <= 10 else f"0..{labels.size - 1}"
            raise TransitionsFormatError(
                f"'domain' labels must be 0..M-1 with every label present; found {shown} (expected "
                f"{expected}); renumber the domains")

    def in_domain(self, label: int) -> "Transitions":
        """Rows collected in domain ``label``."""
        return self.subset(self.domain == label)

    @classmethod
    def concatenate(cls, parts: Sequence["Transitions"]) -> "Transitions":
        """Stack datasets with the same spec, keeping their domain labels and episode ids.

        Episode ids are offset so that they stay unique. ``domain_factors`` are kept
        when every part carries them and they agree.
        """
        if not parts:
            raise ValueError("concatenate needs at least one Transitions")
        spec = parts[0].spec
        for p in parts[1:]:
            if p.spec != spec:
                raise TransitionsFormatError("cannot concatenate Transitions with different specs")
        episodes, offset = [], 0
        for p in parts:
            episodes.append(p.episode.astype(np.int64) + offset)   # narrow ids would overflow
            offset += int(p.episode.max()) + 1 if len(p) else 0
        factors = None
        if all(p.domain_factors is not None for p in parts):
            m = max(p.domain_factors.shape[0] for p in parts)
            factors = np.full((m, spec.n_agents), np.nan)
            for p in parts:
                w = p.domain_factors
                known = ~np.isnan(factors[: w.shape[0]])
                if np.any(known & (factors[: w.shape[0]] != w)):
                    factors = None
                    break
                factors[: w.shape[0]] = np.where(np.isnan(w), factors[: w.shape[0]], w)
        return cls(spec,
                   np.concatenate([p.states for p in parts]),
                   np.concatenate([p.actions for p in parts]),
                   np.concatenate([p.rewards for p in parts]),
                   np.concatenate([p.next_states for p in parts]),
                   np.concatenate([p.domain for p in parts]),
                   np.concatenate(episodes),
                   np.concatenate([p.time for p in parts]),
                   factors)

    # -------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``STEM.npz`` (arrays) and ``STEM.json`` (spec) atomically.

        ``path`` may end in ``.npz``, ``.json`` or have no suffix. Returns both paths.
        """
        npz_path, json_path = _paths(path)
        npz_path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if self.domain_factors is not None:
            arrays["domain_factors"] = self.domain_factors
        meta = {"format": "causalnet.transitions", "version": FORMAT_VERSION,
                "n_rows": len(self), "spec": self.spec.to_dict()}
        atomic_write(npz_path, lambda fh: np.savez_compressed(fh, **arrays))
        atomic_write(json_path, lambda fh: fh.write(json.dumps(meta, indent=2).encode()))
        return npz_path, json_path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Transitions":
        """Read a dataset written by :meth:`save` (or by hand, following docs/data-format.md).

        Raises
        ------
        TransitionsFormatError
            If a file is missing or unreadable, an array is missing, shapes disagree,
            a name is unknown or a value exceeds its variable's cardinality. Nothing
            is returned in that case.
        """
        npz_path, json_path = _paths(path)
        with reading_file(f"{npz_path} (with {json_path.name})", TransitionsFormatError):
            return cls._load(npz_path, json_path)

    @classmethod
    def _load(cls, npz_path: Path, json_path: Path) -> "Transitions":
        for p in (npz_path, json_path):
            if not p.exists():
                raise TransitionsFormatError(f"missing file: {p} (a dataset is STEM.npz plus STEM.json)")
        try:
            meta = json.loads(json_path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TransitionsFormatError(f"{json_path} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict) or "spec" not in meta:
            raise TransitionsFormatError(f"{json_path} has no 'spec' object")
        unknown_keys = sorted(set(meta) - {"format", "version", "n_rows", "spec"})
        if unknown_keys:
            raise TransitionsFormatError(f"{json_path} has unknown field(s): {unknown_keys}; "
                                         "accepted: format, version, n_rows, spec")
        if meta.get("format", "causalnet.transitions") != "causalnet.transitions":
            raise TransitionsFormatError(f"{json_path} has format {meta['format']!r}; "
                                         "expected 'causalnet.transitions'")
        if "n_rows" in meta and (isinstance(meta["n_rows"], bool) or not isinstance(meta["n_rows"], int)):
            raise TransitionsFormatError(f"{json_path}: 'n_rows' must be an integer, got {meta['n_rows']!r}")
        version = meta.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise TransitionsFormatError(f"{json_path} has format version {version!r}; "
                                         f"this release reads version {FORMAT_VERSION}")
        try:
            spec = NetworkSpec.from_dict(meta["spec"])
        except SpecError as exc:
            raise TransitionsFormatError(f"{json_path}: {exc}") from exc
        arrays = read_npz_arrays(npz_path, error=TransitionsFormatError, required=_ARRAYS)
        unknown = sorted(set(arrays) - set(_ARRAYS) - {"domain_factors"})
        if unknown:
            raise TransitionsFormatError(f"{npz_path} has unknown array(s): {unknown}")
        for name, arr in arrays.items():
            if arr.dtype.kind not in "biuf":
                raise TransitionsFormatError(f"{npz_path}: array {name!r} holds {arr.dtype} values; expected "
                                             "integers or floats")
        if "n_rows" in meta and arrays["states"].shape[:1] != (meta["n_rows"],):
            raise TransitionsFormatError(
                f"shape mismatch: {json_path} declares {meta['n_rows']} rows, "
                f"'states' has shape {arrays['states'].shape}")
        try:
            data = cls(spec, **{k: arrays[k] for k in _ARRAYS}, domain_factors=arrays.get("domain_factors"))
            data.check_domain_labels()
        except TransitionsFormatError as exc:
            raise TransitionsFormatError(f"{npz_path}: {exc}") from exc
        return data


def code_dtype(max_value: int) -> np.dtype:
    """Smallest signed integer dtype holding ``0..max_value``.

    Signed, so that arithmetic such as ``codes - 1`` stays negative instead of wrapping
    around (an unsigned type would save one bit only).

    >>> code_dtype(1), code_dtype(127), code_dtype(128), code_dtype(70_000)
    (dtype('int8'), dtype('int8'), dtype('int16'), dtype('int32'))
    """
    if max_value < 0:
        raise ValueError(f"codes are >= 0, got a largest value of {max_value}")
    for dtype in (np.int8, np.int16, np.int32):
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def reward_dtype(rewards: np.ndarray) -> np.dtype:
    """Narrowest dtype that holds every value of ``rewards`` exactly.

    Integer-valued rewards get the smallest signed integer type covering their range
    (``int8`` for 0/1 rewards); other values ``float32`` when every value survives the
    round trip, else ``float64``.

    >>> reward_dtype(np.array([0.0, 1.0])), reward_dtype(np.array([0.5, -2.0])), reward_dtype(np.array([0.1]))
    (dtype('int8'), dtype('float32'), dtype('float64'))
    """
    r = np.asarray(rewards)
    if r.size == 0:
        return np.dtype(np.int8)
    if r.dtype.kind in "iub":
        lo, hi = int(r.min()), int(r.max())
        for dtype in (np.int8, np.int16, np.int32):
            if np.iinfo(dtype).min <= lo and hi <= np.iinfo(dtype).max:
                return np.dtype(dtype)
        return np.dtype(np.int64)
    if np.all(r == np.round(r)) and np.abs(r).max() <= 2**31 - 1:
        return reward_dtype(r.astype(np.int64))
    return np.dtype(np.float32) if np.array_equal(r.astype(np.float32), r) else np.dtype(np.float64)


def _narrowed(conv: dict[str, np.ndarray], spec: NetworkSpec) -> dict[str, np.ndarray]:
    """The arrays in their smallest exact dtypes (codes per :func:`code_dtype`, rewards per :func:`reward_dtype`).

    Discrete states are narrowed only when every coordinate is discrete (a float column
    stays float). Values were range-checked before, so the casts are exact.
    """
    out = dict(conv)
    if spec.is_discrete and spec.n_state:
        dtype = code_dtype(max(int(c) for c in spec.state_cardinality) - 1)
        for key in ("states", "next_states"):
            out[key] = conv[key].astype(dtype, copy=False)
    if not spec.continuous_actions:                  # continuous actions stay float64
        out["actions"] = conv["actions"].astype(code_dtype(max(spec.action_cardinality) - 1), copy=False)
    out["rewards"] = conv["rewards"].astype(reward_dtype(conv["rewards"]), copy=False)
    for key in ("domain", "episode", "time"):
        arr = conv[key]
        if arr.size == 0 or int(arr.min()) >= 0:
            out[key] = arr.astype(code_dtype(int(arr.max()) if arr.size else 0), copy=False)
    return out


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")

