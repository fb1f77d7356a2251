"""Small helpers shared by the experiment scripts (``tiny_optimum``, ``acr_pays``, ``paper_claims``).

Not a library module: the scripts import it from their own folder (``python
benchmarks/<script>.py`` puts ``benchmarks/`` on ``sys.path``; the tests add it).
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

__all__ = ["SeedSummary", "difference_summary", "machine_info", "seed_summary"]

SeedSummary = dict[str, Any]


def seed_summary(values) -> SeedSummary:
    """Mean over independent seeds with its Student-t 95% confidence interval.

    ``values`` is a 1-d sequence (one number per seed). With one seed the interval is
    ``[nan, nan]`` (undefined), never a made-up width.

    >>> s = seed_summary([1.0, 2.0, 3.0])
    >>> s["mean"], s["n"], round(s["ci95"][1] - s["mean"], 3)
    (2.0, 3, 2.484)
    """
    from scipy import stats

    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("values must hold at least one seed's result")
    mean = float(arr.mean())
    if arr.size < 2:
        return {"mean": mean, "std_err": float("nan"), "ci95": [float("nan"), float("nan")], "n": 1,
                "values": arr.tolist()}
    std_err = float(arr.std(ddof=1) / np.sqrt(arr.size))
    half = float(stats.t.ppf(0.975, arr.size - 1)) * std_err
    return {"mean": mean, "std_err": std_err, "ci95": [mean - half, mean + half], "n": int(arr.size),
            "values": arr.tolist()}


def machine_info() -> dict[str, str]:
    """Platform, Python and numpy versions for the result files."""
    return {"machine": platform.platform(), "python": platform.python_version(), "numpy": np.__version__}


def difference_summary(a, b) -> SeedSummary:
    """``mean(a) - mean(b)`` over independent seeds with a Welch 95% confidence interval.

    >>> d = difference_summary([1.0, 1.2, 1.1], [0.5, 0.7, 0.6])
    >>> round(d["mean"], 3), d["ci95"][0] > 0
    (0.5, True)
    """
    from scipy import stats

    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    mean = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return {"mean": mean, "std_err": float("nan"), "ci95": [float("nan"), float("nan")]}
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    std_err = float(np.sqrt(va + vb))
    if std_err == 0.0:
        return {"mean": mean, "std_err": 0.0, "ci95": [mean, mean]}
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(0.975, dof)) * std_err
    return {"mean": mean, "std_err": std_err, "ci95": [mean - half, mean + half]}
