"""Conditional-independence tests used by causal discovery.

Every test answers one question about a data block (columns ``0..k``): is column
``x`` independent of column ``y`` given the columns ``s``? It is a callable
``test(x, y, s) -> p_value``; a large p-value means independence.

Two kinds of tests are provided:

* fast kernels written for discovery on large networks,
  :class:`ContingencyTest` (G-square and chi-square on discrete codes) and
  :class:`FisherZTest` (partial correlation). They compute the same statistics,
  degrees of freedom and p-values as causal-learn's ``gsq``, ``chisq`` and
  ``fisherz`` (checked to round-off in ``tests/test_discovery.py``) without its
  per-call bookkeeping;
* :func:`causallearn_test`, a thin wrapper around ``causallearn.utils.cit.CIT``
  for any of its methods (``kci`` among them).

A *test factory* builds a test for one data block. Discovery calls it once per
target with the block ``[target, candidates...]`` and the node keys of these
columns (``(name, 1)`` for the target, ``(name, 0)`` for time-t candidates, the
keys of :meth:`causalnet.graph.FactoredGraph.to_networkx`).
:class:`DSeparationOracle` is such a factory: it answers from the true graph by
d-separation, so that tests can check that discovery is exact when the tests are.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import networkx as nx
import numpy as np
from scipy.special import chdtrc, ndtr

from causalnet.graph import FactoredGraph

__all__ = [
    "CITestFn", "CITestFactory", "CITestName", "ContingencyTest", "DSeparationOracle",
    "FisherZTest", "causallearn_test", "encode_discrete",
]

CITestName = Literal["gsq", "chisq", "fisherz", "kci"]
CITestFn = Callable[[int, int, tuple[int, ...]], float]
CITestFactory = Callable[[np.ndarray, Sequence[tuple[str, int]]], CITestFn]

_DENSE_STRATA_LIMIT = 1 << 16  # raw conditioning codes up to this size are compacted by bincount


def encode_discrete(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Recode a discrete column to ``0..k-1`` in the order of its observed values.

    Equivalent to ``np.unique(column, return_inverse=True)`` (the recoding
    causal-learn applies), with a fast path for integer columns of small range.

    Returns
    -------
    codes : ndarray of int64
    k : int
        Number of distinct observed values.

    Examples
    --------
    >>> codes, k = encode_discrete(np.array([5, 2, 5, 9]))
    >>> codes.tolist(), k
    ([1, 0, 1, 2], 3)
    """
    col = np.asarray(column)
    if col.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    if col.dtype.kind == "f" and np.all(col == np.round(col)):
        lo, hi = col.min(), col.max()
        if hi - lo <= _DENSE_STRATA_LIMIT:
            col = col.astype(np.int64)
    if col.dtype.kind in "iub":
        lo, hi = int(col.min()), int(col.max())
        if hi - lo <= _DENSE_STRATA_LIMIT:
            shifted = col.astype(np.int64) - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[shifted] = True
            remap = np.cumsum(present) - 1
            return remap[shifted], int(present.sum())
    uniq, codes = np.unique(col, return_inverse=True)
    return codes.astype(np.int64).ravel(), int(uniq.size)


class ContingencyTest:
    """G-square (likelihood-ratio) or Pearson chi-square test of ``x _||_ y | s``.

    Same statistic and degrees of freedom as causal-learn's ``gsq`` / ``chisq``:
    strata of ``s`` that never occur are dropped; within a stratum, the degrees of
    freedom are ``(rows - 1) * (cols - 1)`` counting only values of ``x`` and ``y``
    that occur in it; no continuity correction; p = 1 when there is no degree of
    freedom.

    Parameters
    ----------
    codes : ndarray of int, shape (N, k)
        Discrete data recoded to ``0..card-1`` per column (see :func:`encode_discrete`).
    cards : array of int, shape (k,), optional
        Number of values of each column (default: ``codes.max(axis=0) + 1``).
    statistic : {"gsq", "chisq"}

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, 2000); z = rng.integers(0, 2, 2000)
    >>> y = x ^ (rng.random(2000) < 0.1)
    >>> test = ContingencyTest(np.column_stack([x, y, z]))
    >>> test(0, 1) < 1e-10, test(0, 2) > 0.01
    (True, True)
    """

    def __init__(self, codes: np.ndarray, cards: np.ndarray | None = None, *,
                 statistic: Literal["gsq", "chisq"] = "gsq") -> None:
        if statistic not in ("gsq", "chisq"):
            raise ValueError(f"statistic must be 'gsq' or 'chisq', got {statistic!r}")
        codes = np.asarray(codes)
        if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"codes must be a 2-d integer array, got shape {codes.shape} dtype {codes.dtype}")
        self.columns = [np.ascontiguousarray(codes[:, j], dtype=np.int64) for j in range(codes.shape[1])]
        self.cards = (codes.max(axis=0) + 1 if len(codes) else np.ones(codes.shape[1], np.int64)) \
            if cards is None else np.asarray(cards, dtype=np.int64)
        self.statistic = statistic
        self.sample_size = int(codes.shape[0])
        self._base_key: tuple | None = None
        self._base_val: tuple[np.ndarray, int] = (np.zeros(0, np.int64), 1)

    def _condition(self, s: tuple[int, ...]) -> tuple[np.ndarray | None, int]:
        """Stratum index of every row for conditioning set ``s`` (observed strata only)."""
        if not s:
            return None, 1
        raw = self.columns[s[0]].copy()
        size = int(self.cards[s[0]])
        for j in s[1:]:
            raw *= int(self.cards[j])
            raw += self.columns[j]
            size *= int(self.cards[j])
        if size <= _DENSE_STRATA_LIMIT:
            present = np.bincount(raw, minlength=size) > 0
            remap = np.cumsum(present) - 1
            return remap[raw], int(present.sum())
        uniq, inverse = np.unique(raw, return_inverse=True)
        return inverse.ravel().astype(np.int64), int(uniq.size)

    def _base(self, y: int, s: tuple[int, ...]) -> tuple[np.ndarray, int]:
        """``stratum * card(y) + y`` for every row, cached for the last ``(y, s)``."""
        key = (y, s)
        if key != self._base_key:
            strata, k = self._condition(s)
            cy = int(self.cards[y])
            base = self.columns[y] if strata is None else strata * cy + self.columns[y]
            self._base_key, self._base_val = key, (base, k)
        return self._base_val

    def __call__(self, x: int, y: int, s: Sequence[int] = ()) -> float:
        s = tuple(int(v) for v in s)
        base, k = self._base(int(y), s)
        cx, cy = int(self.cards[x]), int(self.cards[y])
        idx = base * cx
        idx += self.columns[x]
        # index = (stratum, y, x): transpose to (stratum, x, y)
        counts = np.bincount(idx, minlength=k * cy * cx).reshape(k, cy, cx).transpose(0, 2, 1)
        return self._pvalue(counts.astype(np.float64))

    def _pvalue(self, counts: np.ndarray) -> float:
        sx = counts.sum(axis=2)
        sy = counts.sum(axis=1)
        sn = sx.sum(axis=1)
        expected = sx[:, :, None] * (sy / sn[:, None])[:, None, :]
        if self.statistic == "gsq":
            nz = counts > 0
            c = counts[nz]
            stat = 2.0 * float(np.sum(c * np.log(c / expected[nz])))
        else:
            pos = expected > 0
            stat = float(np.sum((counts[pos] - expected[pos]) ** 2 / expected[pos]))
        rows = counts.shape[1] - 1 - (sx == 0).sum(axis=1)
        cols = counts.shape[2] - 1 - (sy == 0).sum(axis=1)
        df = int(np.sum(rows * cols))
        if df == 0:
            return 1.0
        return float(chdtrc(df, max(stat, 0.0)))

    def n_cells(self, x: int, y: int, s: Sequence[int] = ()) -> int:
        """Size of the full contingency table of ``x``, ``y`` and ``s``."""
        return int(np.prod(self.cards[[x, y, *s]]))


_DETERMINISTIC_TOL = 1e-10
"""Residual variance (on the correlation scale) below which a column counts as an exact
function of the conditioning set."""


class FisherZTest:
    """Fisher-z test of zero partial correlation, as causal-learn's ``fisherz``.

    Collinear columns are handled instead of failing: when ``x`` or ``y`` is an exact
    linear function of the conditioning set (residual variance below ``1e-10`` of its
    variance; a reward computed from its parents is the common case) it is constant given
    that set and the test returns ``p = 1``; an exact dependence given the set (partial
    correlation +-1) gives ``p = 0``.

    Parameters
    ----------
    values : ndarray of float, shape (N, k)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=3000); x = z + rng.normal(size=3000); y = z + rng.normal(size=3000)
    >>> test = FisherZTest(np.column_stack([x, y, z]))
    >>> test(0, 1) < 1e-10, test(0, 1, (2,)) > 0.01
    (True, True)
    >>> r = 2 * z - x                                   # an exact function of z and x
    >>> det = FisherZTest(np.column_stack([x, y, z, r]))
    >>> det(3, 1, (0, 2)), det(3, 0, (2,)) < 1e-10
    (1.0, True)
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"values must be a 2-d array, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("values hold NaN or infinite entries; the Fisher-z test needs finite data")
        self.sample_size = int(values.shape[0])
        self.correlation = np.corrcoef(values.T) if values.shape[1] > 1 else np.ones((1, 1))

    def __call__(self, x: int, y: int, s: Sequence[int] = ()) -> float:
        a, b = (int(x), int(y)) if x < y else (int(y), int(x))
        cond = sorted({int(v) for v in s})
        var = [a, b, *cond]
        sub = self.correlation[np.ix_(var, var)]
        # partial covariance of (a, b) given the conditioning set (Schur complement, with a
        # pseudo-inverse so that collinear conditioning columns are handled)
        pair = sub[:2, :2]
        if cond:
            cross = sub[:2, 2:]
            pair = pair - cross @ np.linalg.pinv(sub[2:, 2:], rcond=1e-10, hermitian=True) @ cross.T
        var_a, var_b = float(pair[0, 0]), float(pair[1, 1])
        if min(var_a, var_b) <= _DETERMINISTIC_TOL:
            # a or b is an exact (linear) function of the conditioning set, e.g. a reward
            # computed from its parents: it is constant given them, hence independent
            return 1.0
        r = pair[0, 1] / np.sqrt(var_a * var_b)
        if abs(r) >= 1:
            r = (1.0 - np.finfo(float).eps) * np.sign(r)
        z = 0.5 * np.log((1 + r) / (1 - r))
        stat = np.sqrt(self.sample_size - len(cond) - 3) * abs(z)
        return float(2 * (1 - ndtr(abs(stat))))


def causallearn_test(data: np.ndarray, method: str, **kwargs) -> CITestFn:
    """causal-learn's ``CIT(data, method, **kwargs)`` (never with a disk cache).

    Raises
    ------
    ValueError
        If ``cache_path`` is given: causal-learn keys its disk cache by
        ``md5(str(data))``, which collides for different large arrays.
    """
    from causallearn.utils.cit import CIT

    if "cache_path" in kwargs:
        raise ValueError("cache_path is not supported: causal-learn's disk cache key can collide "
                         "for different data sets")
    return CIT(np.asarray(data), method, **kwargs)


class DSeparationOracle:
    """Test factory that answers by d-separation in the true graph (for testing discovery).

    The oracle DAG has three slices. Time t+1 holds the targets; time t holds
    state coordinates and actions, with the state coordinates caused by a latent
    slice t-1 through the same factored graph (so that time-t variables are
    dependent as they are in real trajectories: through their shared history and
    the domain); actions are roots (a state-independent behaviour policy); the
    domain variable is a root that causes every domain-affected coordinate in
    every slice. Each call returns causal-learn's ``d_separation`` test on the
    block's columns.

    Parameters
    ----------
    graph : FactoredGraph
        The true graph.
    lagged : bool
        Add the latent t-1 slice (default True). Without it, time-t variables
        are independent roots except for the domain's edges.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 2, 2, 2)
    >>> g = FactoredGraph(spec, {"s0_0": ["s0_1"], "s0_1": ["domain"]})
    >>> oracle = DSeparationOracle(g)
    >>> test = oracle(np.zeros((5, 3)), [("s0_0", 1), ("domain", 0), ("s0_1", 0)])
    >>> test(0, 1, []), test(0, 1, [2])
    (0.0, 1.0)
    """

    def __init__(self, graph: FactoredGraph, *, lagged: bool = True) -> None:
        if not isinstance(graph, FactoredGraph):
            raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
        self.graph = graph
        self.lagged = lagged
        self.dag = self._build_dag()

    def _build_dag(self) -> nx.DiGraph:
        g = self.graph.to_networkx()
        spec = self.graph.spec
        dom = (spec.domain_name, 0)
        for state in spec.state_names:
            for parent in self.graph.parents[state]:
                if parent == spec.domain_name:
                    g.add_edge(dom, (state, 0))
                elif self.lagged:
                    g.add_edge((parent, -1), (state, 0))
        return g

    def __call__(self, data: np.ndarray, columns: Sequence[tuple[str, int]]) -> CITestFn:
        columns = [tuple(c) for c in columns]
        missing = [c for c in columns if c not in self.dag]
        if missing:
            raise ValueError(f"columns {missing} are not nodes of the oracle graph")
        mapping = {c: j for j, c in enumerate(columns)}
        extra = len(columns)
        for node in self.dag.nodes:
            if node not in mapping:
                mapping[node] = extra
                extra += 1
        dag = nx.relabel_nodes(self.dag, mapping, copy=True)
        test = causallearn_test(np.asarray(data, dtype=float), "d_separation", true_dag=dag)
        domain = (self.graph.spec.domain_name, 0)
        if domain in columns:
            return test
        # data from a single domain: the domain is fixed, i.e. conditioned on in every test
        return _AlwaysConditioned(test, mapping[domain])


class _AlwaysConditioned:
    """A CI test that adds one fixed (latent) column to every conditioning set."""

    def __init__(self, test: CITestFn, column: int) -> None:
        self.test, self.column = test, column

    def __call__(self, x: int, y: int, s: Sequence[int] = ()) -> float:
        return self.test(x, y, [*s, self.column])
