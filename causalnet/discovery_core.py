"""Building blocks of constraint-based discovery shared by the local and global learners.

* :func:`eliminate_candidates`: PC-style parent selection for one target whose
  candidates all precede it in time;
* :class:`EncodedData`: the columns of a :class:`~causalnet.data.Transitions`
  (states and actions at t, next states, rewards, domain), encoded once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable, Sequence

import numpy as np

from causalnet.citests import encode_discrete
from causalnet.data import Transitions

__all__ = ["EliminationResult", "EncodedData", "NodeKey", "eliminate_candidates"]

logger = logging.getLogger(__name__)

NodeKey = tuple[str, int]
"""A column: ``(name, 0)`` for a state coordinate, action or the domain at time t,
``(name, 1)`` for a target (a state coordinate at t+1 or a reward)."""

_MAX_REWARD_CATEGORIES = 64


@dataclass
class EliminationResult:
    """Outcome of :func:`eliminate_candidates` (indices are block columns, 1..k)."""

    parents: list[int]
    pvalues: dict[int, float]
    sepsets: dict[int, tuple[int, ...]]
    n_tests: int = 0
    n_underpowered: int = 0


def eliminate_candidates(
    test: Callable[[int, int, tuple[int, ...]], float],
    candidates: Sequence[int],
    *,
    alpha: float,
    max_cond_size: int | None,
    target: int = 0,
    underpowered: Callable[[int, int, tuple[int, ...]], bool] | None = None,
) -> EliminationResult:
    """Select the parents of ``target`` among ``candidates`` (PC-stable restricted to one node).

    Level ``l = 0, 1, ...`` (up to ``max_cond_size``): for every candidate ``x``
    still adjacent, test ``x _||_ target | S`` for the subsets ``S`` of size ``l``
    of the adjacency at the start of the level (without ``x``), in
    lexicographic order; the first p-value above ``alpha`` removes ``x`` and
    records ``S`` as its separating set. Removals take effect at the end of the
    level (order-independent, as in PC-stable). Because every candidate precedes
    the target in time, the surviving candidates are the parents.

    Parameters
    ----------
    test : callable
        ``test(x, target, S) -> p_value``.
    candidates : sequence of int
        Columns to select from.
    alpha : float
        Significance level.
    max_cond_size : int or None
        Largest conditioning set (None: no limit).
    target : int
        Column of the target.
    underpowered : callable, optional
        ``underpowered(x, target, S) -> bool`` counts tests with too few samples.

    Returns
    -------
    EliminationResult
        ``pvalues[x]`` is the p-value that removed ``x``, or the largest p-value
        seen for a surviving ``x``.

    Examples
    --------
    >>> sep = {(2, ()): 1.0, (1, (3,)): 1.0}
    >>> res = eliminate_candidates(lambda x, y, s: sep.get((x, tuple(s)), 0.0), [1, 2, 3],
    ...                            alpha=0.05, max_cond_size=2)
    >>> res.parents, res.sepsets
    ([3], {2: (), 1: (3,)})
    """
    adjacent = [int(c) for c in candidates]
    pvalues = {x: 0.0 for x in adjacent}
    sepsets: dict[int, tuple[int, ...]] = {}
    n_tests = n_under = 0
    level = 0
    while adjacent and (max_cond_size is None or level <= max_cond_size) and len(adjacent) - 1 >= level:
        removed: set[int] = set()
        # subsets of adj in lexicographic order; for each x this visits the subsets of
        # adj \ {x} in the same order as a per-candidate loop would.
        for cond in combinations(adjacent, level):
            for x in adjacent:
                if x in removed or x in cond:
                    continue
                p = float(test(x, target, cond))
                n_tests += 1
                if underpowered is not None and underpowered(x, target, cond):
                    n_under += 1
                if p > pvalues[x]:
                    pvalues[x] = p
                if p > alpha:
                    pvalues[x] = p
                    removed.add(x)
                    sepsets[x] = cond
            if len(removed) == len(adjacent):
                break
        adjacent = [x for x in adjacent if x not in removed]
        level += 1
    return EliminationResult(adjacent, pvalues, sepsets, n_tests, n_under)


@dataclass
class EncodedData:
    """All columns of a :class:`Transitions`, encoded once for the CI tests.

    Column order: states at t, actions at t, the domain, next states, rewards.
    Discrete columns (states with a cardinality, actions, the domain, rewards
    with at most 64 distinct values, e.g. a normalised queue length) are recoded to ``0..k-1`` over the
    observed values; continuous columns keep their values.

    Attributes
    ----------
    keys : list of NodeKey
    codes : ndarray (N, n_columns), Fortran order
        Codes of discrete columns (0 in continuous ones), smallest integer dtype.
    cards : ndarray of int
        Observed number of values (0 for continuous columns).
    discrete, constant : ndarray of bool
        Which columns are discrete; which hold a single value.
    index : dict
        Column of each key. Original values: :meth:`raw`.
    """

    transitions: Transitions
    keys: list[NodeKey]
    codes: np.ndarray
    cards: np.ndarray
    discrete: np.ndarray
    constant: np.ndarray
    index: dict[NodeKey, int] = field(default_factory=dict)

    @classmethod
    def from_transitions(cls, tr: Transitions) -> "EncodedData":
        spec = tr.spec
        keys: list[NodeKey] = ([(s, 0) for s in spec.state_names] + [(a, 0) for a in spec.action_names]
                               + [(spec.domain_name, 0)] + [(s, 1) for s in spec.state_names]
                               + [(r, 1) for r in spec.reward_names])
        n = len(tr)
        n_cols = len(keys)
        cards = np.zeros(n_cols, dtype=np.int64)
        discrete = np.zeros(n_cols, dtype=bool)
        constant = np.zeros(n_cols, dtype=bool)
        coded: list[np.ndarray | None] = [None] * n_cols
        for j, key in enumerate(keys):
            col = cls._raw(tr, key)
            if cls._is_discrete(spec, key, col):
                codes, k = encode_discrete(col)
                coded[j], cards[j], discrete[j] = codes, k, True
                constant[j] = k <= 1
            else:
                constant[j] = n == 0 or bool(np.all(col == col[0]))
        top = int(cards.max()) if n_cols else 1
        dtype = np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int64
        codes = np.zeros((n, n_cols), dtype=dtype, order="F")
        for j, c in enumerate(coded):
            if c is not None:
                codes[:, j] = c
        return cls(tr, keys, codes, cards, discrete, constant, {k: j for j, k in enumerate(keys)})

    @staticmethod
    def _raw(tr: Transitions, key: NodeKey) -> np.ndarray:
        name, t = key
        return tr.column(name, next_step=(t == 1 and tr.spec.kind(name) == "state"))

    @staticmethod
    def _is_discrete(spec, key: NodeKey, col: np.ndarray) -> bool:
        kind = spec.kind(key[0])
        if kind == "domain":
            return True
        if kind in ("state", "action"):                 # continuous actions have cardinality None
            return spec.cardinality(key[0]) is not None
        # rewards: categorical when they take few distinct values (integers or not)
        if col.size == 0 or not np.all(np.isfinite(col)):
            return False
        return np.unique(col).size <= _MAX_REWARD_CATEGORIES

    def raw(self, j: int) -> np.ndarray:
        """Original values of column ``j`` as floats."""
        return np.asarray(self._raw(self.transitions, self.keys[j]), dtype=np.float64)

    def name(self, j: int) -> str:
        """Printable name: ``s0_0[t]``, ``s0_0[t+1]``, ``a0``, ``r0``, ``domain``."""
        name, t = self.keys[j]
        if self.transitions.spec.kind(name) == "state":
            return f"{name}[t+1]" if t == 1 else f"{name}[t]"
        return name
