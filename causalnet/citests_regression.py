"""Regression-based conditional-independence tests for continuous and mixed data.

:class:`RegressionTest` answers ``x _||_ y | S`` by comparing two least-squares
fits of ``y`` (the response): a *null* model on ``S`` and an *alternative* that
adds ``x``. Categorical columns (the domain index, discrete actions) enter by
indicator coding, never as numbers, and the domain (every categorical column
named in ``shift_columns``) is also crossed with the linear term of every
continuous column of the model (with its linear and squared terms for the
spline basis), so that

* a domain that moves a mean non-monotonically across domains (domain 1 above
  domains 0 and 2) is a change of the domain's indicators, and is detected;
* a domain that changes a slope is a change of a domain-by-parent interaction;
* a domain that changes only a noise variance is detected by a second test on
  the squared residuals of the null model (a one-way analysis of variance of
  ``r^2`` over the categories of ``x``, applied when ``x`` is categorical).

The two p-values are combined by Bonferroni (``min(1, 2 min(p_mean, p_var))``).
This is CD-NOD's idea (the domain as a variable whose edges mark changing
mechanisms) with a parametric test in place of a kernel test.

Continuous columns enter linearly (``basis="linear"``) or through an additive
cubic-spline basis (``basis="spline"``: ``z, z^2, z^3`` and truncated cubes at the
quartiles of the standardised column), which captures smooth nonlinear
mechanisms such as ``tanh``, ``sin`` or an even bump that has no linear
correlation at all.

Every test is a small computation on one precomputed Gram matrix of the whole
expanded design (cost independent of the number of rows), except the variance
test, which needs the residuals (one pass over the rows).

Bad input raises ``ValueError``: NaN or infinite values, a constant column, or
fewer rows than the regressors of a test (the message names the column or the
counts).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Literal, Sequence

import numpy as np
from scipy.special import fdtrc

from causalnet.citests import encode_discrete

__all__ = ["Basis", "RegressionTest", "single_threaded_blas"]

Basis = Literal["linear", "spline"]
_EIG_TOL = 1e-9


def single_threaded_blas():
    """A context that limits BLAS to one thread (``threadpoolctl``), or does nothing without it.

    The products here are tall and thin (rows x a few dozen columns); on a loaded
    machine a multi-threaded BLAS spends far more time synchronising its threads
    than computing (measured: 13 ms with one thread, 180 ms with two).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


class RegressionTest:
    """F-tests of added regressors (plus a variance test for categorical ``x``).

    Parameters
    ----------
    data : ndarray of float, shape (N, k)
        The block of columns; categorical columns hold integer labels.
    categorical : sequence of bool, length k
        Which columns are categorical (indicator-coded).
    basis : {"linear", "spline"}
        Basis of a continuous regressor (see the module docstring).
    variance_test : bool
        Also test the squared null residuals across the categories of a
        categorical ``x`` (default True).
    shift_columns : sequence of int, optional
        Categorical columns crossed with the linear term (spline basis: the linear
        and squared terms) of every continuous column (the domain index: a variable
        that may change slopes). Default: every categorical column. Other
        categorical columns enter by their indicators.

    Attributes
    ----------
    sample_size : int
    n_design_columns : int
        Width of the expanded design (all blocks).

    Examples
    --------
    A mean that is higher in domain 1 than in domains 0 and 2 (non-monotone), and a
    variance that changes with the domain while the mean does not:

    >>> rng = np.random.default_rng(0)
    >>> d = np.repeat([0, 1, 2], 2000)
    >>> x = rng.normal(size=6000)
    >>> y_mean = x + (d == 1) * 0.3 + rng.normal(size=6000)
    >>> y_var = x + rng.normal(size=6000) * np.where(d == 2, 1.5, 1.0)
    >>> test = RegressionTest(np.column_stack([y_mean, y_var, d, x]), [False, False, True, False])
    >>> test(2, 0, (3,)) < 1e-6, test(2, 1, (3,)) < 1e-6
    (True, True)
    >>> float(np.corrcoef(d, y_mean)[0, 1]) < 0.02   # a Fisher-z test on the label misses it
    True
    """

    def __init__(self, data: np.ndarray, categorical: Sequence[bool], *, basis: Basis = "linear",
                 variance_test: bool = True, shift_columns: Sequence[int] | None = None) -> None:
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(f"data must be a 2-d array, got shape {data.shape}")
        if data.dtype.kind not in "iubf":
            raise ValueError(f"data must be numeric, got dtype {data.dtype}")
        n, k = data.shape
        cat = np.asarray(categorical, dtype=bool)
        if cat.shape != (k,):
            raise ValueError(f"categorical must have one flag per column ({k}), got shape {cat.shape}")
        if basis not in ("linear", "spline"):
            raise ValueError(f"basis must be 'linear' or 'spline', got {basis!r}")
        values = data.astype(np.float64)
        bad = np.flatnonzero(~np.all(np.isfinite(values), axis=0))
        if bad.size:
            raise ValueError(f"column {int(bad[0])} holds NaN or infinite values; the regression test "
                             "needs finite data (drop or impute those rows)")
        if n < 3:
            raise ValueError(f"the regression test needs at least 3 rows, got {n}")
        self.sample_size = n
        self.categorical = cat
        self.basis = basis
        self.variance_test = bool(variance_test)
        cols: list[np.ndarray] = []
        self._main: list[np.ndarray] = []
        self._codes: list[np.ndarray | None] = []
        self._linear: list[int] = []
        indicators: dict[int, np.ndarray] = {}
        width = 0

        def add(block: np.ndarray) -> np.ndarray:
            nonlocal width
            idx = np.arange(width, width + block.shape[1])
            cols.append(block)
            width += block.shape[1]
            return idx

        for j in range(k):
            col = values[:, j]
            if cat[j]:
                codes, card = encode_discrete(data[:, j])
                if card < 2:
                    raise ValueError(f"column {j} is constant (one category); drop it before testing")
                dummies = (codes[:, None] == np.arange(1, card)[None, :]).astype(np.float64)
                indicators[j] = dummies
                self._codes.append(codes)
                self._main.append(add(dummies))
                self._linear.append(-1)
            else:
                sd = col.std()
                if not sd > 0:
                    raise ValueError(f"column {j} is constant; drop it before testing")
                z = (col - col.mean()) / sd
                block = [z] if basis == "linear" else self._spline(z)
                self._codes.append(None)
                self._main.append(add(np.column_stack(block)))
                self._linear.append(int(self._main[-1][0]))
        shift = np.flatnonzero(cat) if shift_columns is None else np.asarray(shift_columns, dtype=np.int64)
        for c in shift:
            if not (0 <= c < k and cat[c]):
                raise ValueError(f"shift_columns must name categorical columns, got {int(c)}")
        self._inter: dict[tuple[int, int], np.ndarray] = {}
        for c in shift:
            for j in np.flatnonzero(~cat):
                z = values[:, j]
                z = (z - z.mean()) / z.std()
                terms = [z] if basis == "linear" else [z, z * z]
                self._inter[(int(c), int(j))] = add(np.column_stack(
                    [indicators[int(c)][:, m] * t for m in range(indicators[int(c)].shape[1]) for t in terms]))
        design = np.column_stack(cols)
        design -= design.mean(axis=0)
        scale = design.std(axis=0)
        scale[scale == 0] = 1.0
        design /= scale
        self._values = values
        self._design = design
        with single_threaded_blas():
            self._gram = design.T @ design
        self._responses: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        self.n_design_columns = int(width)

    def for_response(self, j: int, values: np.ndarray) -> "RegressionTest":
        """A test sharing this design whose column ``j``, used only as the response, holds ``values``.

        Saves rebuilding the design when several targets share their candidates
        (a coordinate and a reward of the same agent). Column ``j`` must then
        never be a regressor (``x`` or a member of ``S``) of the new test.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.sample_size,):
            raise ValueError(f"values must have shape ({self.sample_size},), got {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"column {j} holds NaN or infinite values; the regression test needs finite data")
        clone = copy.copy(self)
        clone._values = self._values.copy()
        clone._values[:, j] = values
        clone._responses = {}
        return clone

    @staticmethod
    def _spline(z: np.ndarray) -> list[np.ndarray]:
        knots = np.quantile(z, [0.25, 0.5, 0.75])
        return [z, z ** 2, z ** 3] + [np.maximum(z - t, 0.0) ** 3 for t in knots]

    # ------------------------------------------------------------------ models
    def _columns(self, x: int | None, s: tuple[int, ...]) -> np.ndarray:
        """Design columns of the model with regressors ``s`` (and ``x``)."""
        members = list(s) + ([x] if x is not None else [])
        blocks = [self._main[j] for j in members]
        for c in members:
            if not self.categorical[c]:
                continue
            blocks += [self._inter[(c, j)] for j in members if (c, j) in self._inter]
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)

    def _response(self, y: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Centred response column ``y``, its cross-products with the design, its square sum."""
        if y not in self._responses:
            v = self._values[:, y] - self._values[:, y].mean()
            self._responses[y] = (v, self._design.T @ v, float(v @ v))
        return self._responses[y]

    def _fit(self, cols: np.ndarray, y: int) -> tuple[float, int, np.ndarray]:
        """Residual sum of squares, rank and coefficients of the response ``y`` on ``cols``."""
        _, cross, yy = self._response(y)
        if cols.size == 0:
            return yy, 0, np.zeros(0)
        gxx = self._gram[np.ix_(cols, cols)]
        gxy = cross[cols]
        lam, vec = np.linalg.eigh(gxx)
        keep = lam > _EIG_TOL * max(float(lam.max()), 1e-300)
        proj = vec[:, keep].T @ gxy
        coef = vec[:, keep] @ (proj / lam[keep])
        rss = yy - float(proj @ (proj / lam[keep]))
        return max(rss, 0.0), int(keep.sum()), coef

    def n_regressors(self, x: int, s: Sequence[int] = ()) -> int:
        """Number of design columns of the alternative model of ``test(x, ., s)``."""
        return int(self._columns(int(x), tuple(int(v) for v in s)).size)

    def __call__(self, x: int, y: int, s: Sequence[int] = ()) -> float:
        """p-value of ``x _||_ y | s`` (``y`` is the response)."""
        x, y = int(x), int(y)
        s = tuple(sorted({int(v) for v in s} - {x, y}))
        null_cols = self._columns(None, s)
        alt_cols = self._columns(x, s)
        rss0, rank0, coef0 = self._fit(null_cols, y)
        rss1, rank1, _ = self._fit(alt_cols, y)
        n = self.sample_size
        df2 = n - 1 - rank1
        if df2 < 1:
            raise ValueError(f"fewer rows ({n}) than the test needs: the model of column {y} on {len(s) + 1} "
                             f"variable(s) has {rank1} regressors plus an intercept; collect more data or "
                             "lower max_cond_size")
        df1 = rank1 - rank0
        p_mean = 1.0
        if df1 > 0:
            tiny = 1e-12 * self._response(y)[2]
            if rss1 <= tiny:
                p_mean = 0.0 if rss0 - rss1 > tiny else 1.0
            else:
                stat = max(rss0 - rss1, 0.0) / df1 / (rss1 / df2)
                p_mean = float(fdtrc(df1, df2, stat))
        if not (self.variance_test and self.categorical[x]):
            return p_mean
        p_var = self._variance_pvalue(x, y, null_cols, coef0)
        return float(min(1.0, 2.0 * min(p_mean, p_var)))

    def _variance_pvalue(self, x: int, y: int, cols: np.ndarray, coef: np.ndarray) -> float:
        """One-way ANOVA of the squared null residuals over the categories of ``x``."""
        resid = self._response(y)[0]
        if cols.size:
            resid = resid - self._design[:, cols] @ coef
        sq = resid * resid
        codes = self._codes[x]
        card = int(codes.max()) + 1
        counts = np.bincount(codes, minlength=card).astype(np.float64)
        sums = np.bincount(codes, weights=sq, minlength=card)
        means = sums / np.maximum(counts, 1)
        grand = sq.mean()
        between = float(np.sum(counts * (means - grand) ** 2))
        within = float(np.sum((sq - means[codes]) ** 2))
        groups = int(np.sum(counts > 0))
        df1, df2 = groups - 1, self.sample_size - groups
        if df1 < 1 or df2 < 1 or within <= 0:
            return 1.0
        return float(fdtrc(df1, df2, (between / df1) / (within / df2)))
