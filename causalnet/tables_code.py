"""Column coders of the table loader: labels to integer codes, chunk by chunk.

A :class:`LabelCoder` gives each new label of one variable a provisional code in the
order it is first seen; :meth:`LabelCoder.final_map` then gives the permutation to the
final codes (labels sorted, :func:`causalnet.codebook.sort_labels`). A frozen coder
(built from an existing codebook, for target data) refuses unknown labels.

:class:`BlockCoder` codes a block of columns at once. When the block holds small
non-negative integers (the common case: states and actions logged as 0/1/2...), it
codes the whole block with one ``bincount`` and one table lookup; otherwise it codes
column by column with ``numpy.unique``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from causalnet.errors import CausalnetError

from causalnet.codebook import CodebookError, label_kind, normalize_label, sort_labels

__all__ = ["BlockCoder", "LabelCoder", "TableError"]

_FAST = 256   # integer labels 0.._FAST-1 use the vectorised path


class TableError(CausalnetError, ValueError):
    """A table (CSV, Parquet, DataFrame) does not match the network file or holds bad values."""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class LabelCoder:
    """Provisional codes of one variable's labels (see the module docstring).

    Parameters
    ----------
    name : str
        Variable name (for messages).
    max_levels : int
        More distinct labels than this raise :class:`TableError` (a continuous-looking column).
    frozen : list, optional
        Known labels in final order; unknown labels then raise :class:`TableError`.
    """

    def __init__(self, name: str, max_levels: int, frozen: Sequence[Any] | None = None,
                 what: str = "state") -> None:
        self.name = name
        self.max_levels = max_levels
        self.what = what
        self.frozen = frozen is not None
        self.labels: list[Any] = [] if frozen is None else list(frozen)
        self.index: dict[Any, int] = {v: c for c, v in enumerate(self.labels)}
        self.kind: str | None = label_kind(self.labels[0]) if self.labels else None

    def add(self, label: Any, where: Callable[[], str]) -> int:
        """Provisional code of ``label`` (normalised), adding it when new."""
        lab = normalize_label(label)
        code = self.index.get(lab)
        if code is not None:
            return code
        kind = label_kind(lab)
        if self.kind is not None and kind != self.kind:
            other = next(v for v in self.labels if label_kind(v) == self.kind)
            raise TableError(f"column {self.name!r} mixes label types: {other!r} ({self.kind}) and {lab!r} "
                             f"({kind}) at {where()}; use one kind of label per column")
        if self.frozen:
            raise TableError(f"column {self.name!r} holds {lab!r} at {where()}, a value never seen in the source "
                             f"data (known: {self.labels}); the target must use the source's labels")
        if isinstance(lab, float) and self.what != "domain" and len(self.labels) >= 16:
            self._continuous(where)
        self.kind = kind
        self.index[lab] = len(self.labels)
        self.labels.append(lab)
        if len(self.labels) > self.max_levels and self.what != "domain":
            self._continuous(where)
        return self.index[lab]

    def _continuous(self, where: Callable[[], str]) -> None:
        raise TableError(
            f"column {self.name!r} looks continuous ({len(self.labels)}+ distinct values, e.g. "
            f"{self.labels[:4]}, at {where()}); this loader codes discrete labels only (at most "
            f"{self.max_levels}). Bin the column yourself, or use the continuous support (see docs/data-format.md)")

    def final_map(self) -> tuple[list[Any], np.ndarray]:
        """``(sorted labels, perm)`` with ``perm[provisional code] = final code``."""
        if self.frozen:
            return self.labels, np.arange(len(self.labels), dtype=np.int64)
        if self.kind == "text" and self.what != "domain":
            numeric = [v for v in self.labels if _looks_numeric(v)]
            if numeric and len(numeric) < len(self.labels):
                text = next(v for v in self.labels if not _looks_numeric(v))
                raise TableError(f"column {self.name!r} mixes label types: numbers (e.g. {numeric[0]!r}) and text "
                                 f"(e.g. {text!r}); use one kind of label per column")
        try:
            ordered = sort_labels(self.labels, f"column {self.name!r}")
        except CodebookError as exc:
            raise TableError(str(exc)) from None
        rank = {v: c for c, v in enumerate(ordered)}
        return ordered, np.array([rank[v] for v in self.labels], dtype=np.int64)


class BlockCoder:
    """Codes a block of columns; column ``k`` uses coder ``coders[k]`` (see the module docstring)."""

    def __init__(self, names: Sequence[str], coders: Sequence[LabelCoder], dtype: np.dtype) -> None:
        self.names = list(names)
        self.coders = list(coders)
        self.dtype = np.dtype(dtype)
        unique = {id(c): c for c in self.coders}
        self._distinct = list(unique.values())
        slot = {id(c): k for k, c in enumerate(self._distinct)}
        self._slot = np.array([slot[id(c)] for c in self.coders], dtype=np.int64)
        self._lut = np.full((len(self._distinct), _FAST), -1, dtype=np.int64)
        for k, c in enumerate(self._distinct):
            for lab, code in c.index.items():
                if isinstance(lab, int) and 0 <= lab < _FAST:
                    self._lut[k, lab] = code

    def code(self, block: np.ndarray, first_row: int, where: Callable[[int, str], str]) -> np.ndarray:
        """Provisional codes of ``block`` (rows x columns), in ``self.dtype``.

        ``where(row, column)`` describes a cell for messages (``row`` counts from the
        start of the table).
        """
        rows = block.shape[0]
        if block.dtype.kind in "iub" and rows and block.size:
            lo, hi = int(block.min()), int(block.max())
            if lo >= 0 and hi < _FAST:
                return self._code_fast(block.astype(np.int64, copy=False), first_row, where)
        out = np.empty(block.shape, dtype=self.dtype)
        for k, name in enumerate(self.names):
            out[:, k] = self._code_column(block[:, k], k, first_row, where)
        return out

    def _code_fast(self, block: np.ndarray, first_row: int, where: Callable[[int, str], str]) -> np.ndarray:
        keys = block + (self._slot * _FAST)[None, :]
        lut = self._lut.ravel()
        codes = lut[keys]
        if (codes < 0).any():
            present = np.bincount(keys.ravel(), minlength=lut.size).reshape(self._lut.shape) > 0
            for slot, value in zip(*np.nonzero(present & (self._lut < 0))):
                col = int(np.flatnonzero(self._slot == slot)[0])
                hit = np.flatnonzero(block[:, col] == value)
                r = int(hit[0]) if hit.size else 0
                coder = self._distinct[slot]
                self._lut[slot, value] = coder.add(int(value), lambda: where(first_row + r, self.names[col]))
            codes = self._lut.ravel()[keys]
        return codes.astype(self.dtype, copy=False)

    def _code_column(self, values: np.ndarray, k: int, first_row: int,
                     where: Callable[[int, str], str]) -> np.ndarray:
        name, coder = self.names[k], self.coders[k]
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                r = int(np.flatnonzero(bad)[0])
                raise TableError(f"column {name!r} is empty or not a number at {where(first_row + r, name)}")
        elif values.dtype.kind == "O":
            missing = np.array([v is None or (isinstance(v, float) and v != v) for v in values])
            if missing.any():
                r = int(np.flatnonzero(missing)[0])
                raise TableError(f"column {name!r} is empty at {where(first_row + r, name)}")
        try:
            uniq, inverse = np.unique(values, return_inverse=True)
        except TypeError:
            kinds = {}
            for r, v in enumerate(values):
                kinds.setdefault(label_kind(normalize_label(v)), (r, v))
            (r1, v1), (r2, v2) = list(kinds.values())[:2]
            raise TableError(f"column {name!r} mixes label types: {v1!r} at {where(first_row + r1, name)} and "
                             f"{v2!r} at {where(first_row + r2, name)}; use one kind of label per column") from None
        first = np.zeros(uniq.size, dtype=np.int64)
        first[inverse[::-1]] = np.arange(values.size - 1, -1, -1)
        lut = np.array([coder.add(u, lambda r=int(first[j]): where(first_row + r, name))
                        for j, u in enumerate(uniq)], dtype=np.int64)
        slot = self._slot[k]
        for u, c in zip(uniq, lut):
            lab = normalize_label(u)
            if isinstance(lab, int) and 0 <= lab < _FAST and not isinstance(u, str):
                self._lut[slot, lab] = c
        return lut[inverse].astype(self.dtype, copy=False)
