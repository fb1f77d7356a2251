"""The codebook: which original label every integer code of a table stands for.

The table loader (:mod:`causalnet.tables_read`) codes the values of every state
coordinate and action as ``0..K-1`` (labels sorted: numbers numerically, text
alphabetically; a state and its ``_next`` column share one coding), and the domain
labels as ``0..M-1``. The :class:`Codebook` records the labels, is written as
``codebook.json`` beside the results, and turns codes back into labels whenever values
are shown or a trained policy acts on the user's system.

Examples
--------
>>> cb = Codebook({"s0_0": ["healthy", "sick"], "a0": [1, 2]}, domains=["beta=0.2", "beta=0.5"])
>>> cb.encode("s0_0", ["sick", "healthy"]).tolist(), cb.decode("a0", [1, 0])
([1, 0], [2, 1])
>>> cb.domain_code("beta=0.5"), cb.cardinality("a0")
(1, 2)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from causalnet.errors import CausalnetError

from causalnet.io import atomic_write_text

__all__ = ["Codebook", "CodebookError", "label_kind", "normalize_label", "sort_labels"]

FORMAT = "causalnet.codebook"
VERSION = 1


class CodebookError(CausalnetError, ValueError):
    """A label is unknown, of a mixed type, or a codebook file is malformed."""


def normalize_label(value: Any) -> Any:
    """A plain Python label: integral numbers become ``int``, other numbers ``float``, text ``str``.

    >>> normalize_label(np.float64(2.0)), normalize_label(np.int8(3)), normalize_label("a")
    (2, 3, 'a')
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f) and f == round(f) and abs(f) < 2 ** 53:
            return int(f)
        return f
    if isinstance(value, (str, np.str_)):
        return str(value)
    raise CodebookError(f"label {value!r} has type {type(value).__name__}; labels must be numbers or text")


def label_kind(label: Any) -> str:
    """``"number"`` or ``"text"``."""
    return "text" if isinstance(label, str) else "number"


def sort_labels(labels: Iterable[Any], where: str) -> list[Any]:
    """Labels sorted (numbers numerically, text alphabetically); mixed kinds raise :class:`CodebookError`."""
    labels = list(labels)
    kinds = {label_kind(v) for v in labels}
    if len(kinds) > 1:
        text = next(v for v in labels if isinstance(v, str))
        num = next(v for v in labels if not isinstance(v, str))
        raise CodebookError(f"{where} mixes label types: numbers (e.g. {num!r}) and text (e.g. {text!r}); "
                            "use one kind of label per column")
    return sorted(labels)


@dataclass
class Codebook:
    """Labels of every coded variable and of the domains.

    Parameters
    ----------
    variables : dict of name to list of labels
        ``variables[name][code]`` is the label of ``code`` (states and actions).
    domains : list of labels
        ``domains[code]`` is the label of domain ``code``.
    """

    variables: dict[str, list[Any]]
    domains: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.variables = {str(k): [normalize_label(v) for v in labels] for k, labels in self.variables.items()}
        self.domains = [normalize_label(v) for v in self.domains]
        self._index = {k: {v: c for c, v in enumerate(labels)} for k, labels in self.variables.items()}
        for name, labels in self.variables.items():
            if len(self._index[name]) != len(labels):
                raise CodebookError(f"codebook: variable {name!r} lists a label twice: {labels}")

    @classmethod
    def identity(cls, cardinalities: dict[str, int], n_domains: int) -> "Codebook":
        """Labels equal to codes (data that is already coded, e.g. an npz dataset)."""
        return cls({k: list(range(int(c))) for k, c in cardinalities.items()}, list(range(int(n_domains))))

    def cardinality(self, name: str) -> int:
        """Number of labels of ``name``."""
        return len(self._labels(name))

    def _labels(self, name: str) -> list[Any]:
        if name not in self.variables:
            raise CodebookError(f"the codebook has no variable {name!r}")
        return self.variables[name]

    def encode(self, name: str, labels: Sequence[Any]) -> np.ndarray:
        """Codes of ``labels`` of variable ``name``; an unknown label raises :class:`CodebookError`."""
        index = self._index.get(name)
        if index is None:
            raise CodebookError(f"the codebook has no variable {name!r}")
        out = np.empty(len(labels), dtype=np.int64)
        for k, v in enumerate(labels):
            code = index.get(normalize_label(v))
            if code is None:
                raise CodebookError(f"label {v!r} of {name!r} is not in the codebook (known: {self.variables[name]})")
            out[k] = code
        return out

    def decode(self, name: str, codes: Sequence[int] | np.ndarray) -> list[Any]:
        """Labels of integer ``codes`` of variable ``name``."""
        labels = self._labels(name)
        return [labels[int(c)] for c in np.asarray(codes).ravel()]

    def domain_code(self, label: Any) -> int:
        """Code of a domain label (compared as given, then as text)."""
        lab = normalize_label(label)
        for c, d in enumerate(self.domains):
            if d == lab or str(d) == str(lab):
                return c
        raise CodebookError(f"domain {label!r} is not in the codebook (known: {self.domains})")

    def decode_state(self, names: Sequence[str], codes: np.ndarray) -> list[dict[str, Any]]:
        """Rows of state codes ``(B, len(names))`` as dicts of labels (for showing states)."""
        codes = np.atleast_2d(np.asarray(codes))
        return [{n: self.variables[n][int(c)] for n, c in zip(names, row)} for row in codes]

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"format": FORMAT, "version": VERSION, "variables": self.variables, "domains": self.domains}

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``codebook.json`` atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Codebook":
        """Read a file written by :meth:`save`."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CodebookError(f"codebook {p}: cannot read it ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise CodebookError(f"codebook {p}: not a {FORMAT} version {VERSION} file")
        if not isinstance(data.get("variables"), dict) or not isinstance(data.get("domains"), list):
            raise CodebookError(f"codebook {p}: needs a 'variables' table and a 'domains' list")
        return cls(data["variables"], data["domains"])
