"""Curve figures: training curves, adaptation curves, target-factor estimation error.

Each figure has a plotting function that writes a PNG and returns its path, and a pure
function that returns the numbers it draws (tests check those):

* :func:`plot_training_curves` draws :func:`band_arrays` of each method of
  ``training.json["methods"]`` (``TrainingSummary.to_dict()`` per method);
* :func:`plot_adaptation_curves` draws :func:`adaptation_curve_data` of
  ``adaptation.json`` (``AdaptationCurves.to_dict()``);
* :func:`plot_factor_error` draws :func:`factor_error_data` of
  ``domain_factors.json["error_curve"]`` (:func:`analysis.factor_error.factor_error_curve`).

Shaded bands are the Student-t 95% intervals stored in the inputs; a band is left
out where its bounds are ``None``. Colours and labels come from :mod:`analysis.style`.
See ``docs/analysis-curves.md``.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from analysis.style import FONT_SIZES, REFERENCE_COLORS, method_colors, method_label, new_figure, save_figure

__all__ = ["adaptation_curve_data", "band_arrays", "factor_error_data", "plot_adaptation_curves",
           "plot_factor_error", "plot_training_curves", "sqrt_reference"]

_SUBTITLE_WIDTH = 80    # characters per subtitle line above axes narrowed by an outside legend


# ------------------------------------------------------------------ pure data helpers
def band_arrays(summary: Mapping[str, Any], x: Sequence[float] | None = None, *, name: str = "summary"
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, mean, low, high)`` float arrays of one curve summary; ``None`` becomes ``nan``.

    Parameters
    ----------
    summary : mapping
        ``{"mean": [...], "ci_low": [...] or None, "ci_high": [...] or None}`` and, unless
        ``x`` is given, ``"iterations"`` (a ``TrainingSummary.to_dict()`` or one method of
        ``AdaptationCurves.to_dict()``). Missing or ``None`` interval bounds give ``nan``.
    x : sequence of float, optional
        Abscissae; default ``summary["iterations"]``.
    name : str
        How error messages refer to ``summary`` (e.g. ``"methods['gsac']"``).

    Examples
    --------
    >>> x, m, lo, hi = band_arrays({"iterations": [0, 10], "mean": [1.0, 2.0], "ci_low": [None, 1.5],
    ...                             "ci_high": None})
    >>> x.tolist(), m.tolist(), np.isnan(lo).tolist(), np.isnan(hi).tolist()
    ([0.0, 10.0], [1.0, 2.0], [True, False], [True, True])
    """
    if not isinstance(summary, Mapping):
        raise TypeError(f"{name} must be a mapping with 'mean', 'ci_low', 'ci_high', got {type(summary).__name__}")
    if "mean" not in summary:
        raise ValueError(f"{name} has no 'mean' (keys: {sorted(summary)})")
    mean = _float_array(summary["mean"], f"{name}['mean']")
    if mean.size == 0:
        raise ValueError(f"{name}['mean'] is empty")
    if x is None:
        if "iterations" not in summary:
            raise ValueError(f"{name} has no 'iterations' and no x was given")
        x_arr = _float_array(summary["iterations"], f"{name}['iterations']")
        x_name = f"{name}['iterations']"
    else:
        x_arr, x_name = _float_array(x, "x"), "x"
    if x_arr.shape != mean.shape:
        raise ValueError(f"{x_name} has {x_arr.size} values but {name}['mean'] has {mean.size}")
    if not np.all(np.isfinite(x_arr)):
        raise ValueError(f"{x_name} must be finite numbers, got {x_arr.tolist()}")
    bounds = []
    for key in ("ci_low", "ci_high"):
        value = summary.get(key)
        arr = np.full(mean.shape, np.nan) if value is None else _float_array(value, f"{name}[{key!r}]")
        if arr.shape != mean.shape:
            raise ValueError(f"{name}[{key!r}] has {arr.size} values but {name}['mean'] has {mean.size}")
        bounds.append(arr)
    return x_arr, mean, bounds[0], bounds[1]


def adaptation_curve_data(curves: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per method: ``x`` (target episodes), ``mean``, ``ci_low``, ``ci_high`` arrays and ``learning``.

    ``curves`` is ``AdaptationCurves.to_dict()``; ``None`` bounds become ``nan``.

    Examples
    --------
    >>> data = adaptation_curve_data({"episodes": [0, 1, 2], "methods": {
    ...     "gsac": {"learning": False, "mean": [0.5, 0.5, 0.5], "ci_low": None, "ci_high": None},
    ...     "sac-lfs": {"learning": True, "mean": [0.1, 0.2, 0.3], "ci_low": [0.0, 0.1, 0.2],
    ...                 "ci_high": [0.2, 0.3, 0.4]}}})
    >>> data["gsac"]["learning"], data["sac-lfs"]["x"].tolist(), data["sac-lfs"]["ci_high"].tolist()
    (False, [0.0, 1.0, 2.0], [0.2, 0.3, 0.4])
    """
    if not isinstance(curves, Mapping):
        raise TypeError(f"curves must be AdaptationCurves.to_dict() (a mapping), got {type(curves).__name__}")
    for key in ("episodes", "methods"):
        if key not in curves:
            raise ValueError(f"curves has no {key!r} (expected AdaptationCurves.to_dict(); keys: {sorted(curves)})")
    methods = curves["methods"]
    if not isinstance(methods, Mapping) or not methods:
        raise ValueError("curves['methods'] must be a non-empty mapping of method name to curve")
    episodes = curves["episodes"]
    out = {}
    for name, summary in methods.items():
        where = f"curves['methods'][{name!r}]"
        x, mean, lo, hi = band_arrays(summary, episodes, name=where)
        learning = summary.get("learning")
        if not isinstance(learning, (bool, np.bool_)):
            raise ValueError(f"{where}['learning'] must be true or false, got {learning!r}")
        out[str(name)] = {"x": x, "mean": mean, "ci_low": lo, "ci_high": hi, "learning": bool(learning)}
    return out


def sqrt_reference(trajectories: Sequence[float], anchor: float) -> np.ndarray:
    """The ``1/sqrt(T)`` line through ``(trajectories[0], anchor)``: ``anchor * sqrt(T0 / T)``.

    Examples
    --------
    >>> np.round(sqrt_reference([1, 4, 100], 0.2), 12).tolist()
    [0.2, 0.1, 0.02]
    """
    t = _float_array(trajectories, "trajectories")
    if t.size == 0 or not np.all(t > 0):
        raise ValueError(f"trajectories must be non-empty and positive, got {t.tolist()}")
    return float(anchor) * np.sqrt(t[0] / t)


def factor_error_data(curve: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`plot_factor_error` draws, from a :func:`~analysis.factor_error.factor_error_curve` dict.

    Returns ``trajectories``, ``mean``, ``ci_low``, ``ci_high`` (float arrays, ``nan``
    for ``None``), ``reference`` (:func:`sqrt_reference` anchored at the first mean) and
    ``slope`` (the stored ``loglog_slope``, recomputed when absent).

    Examples
    --------
    >>> d = factor_error_data({"trajectories": [1, 4], "mean_abs_error": [0.2, 0.11], "ci_low": None,
    ...                        "ci_high": None, "loglog_slope": -0.43})
    >>> d["reference"].tolist(), d["slope"]
    ([0.2, 0.1], -0.43)
    """
    from analysis.factor_error import loglog_slope

    if not isinstance(curve, Mapping):
        raise TypeError(f"curve must be a factor_error_curve dict (a mapping), got {type(curve).__name__}")
    for key in ("trajectories", "mean_abs_error"):
        if key not in curve:
            hint = " (pass domain_factors.json['error_curve'])" if "error_curve" in curve else ""
            raise ValueError(f"curve has no {key!r}{hint}; keys: {sorted(curve)}")
    summary = {"mean": curve["mean_abs_error"], "ci_low": curve.get("ci_low"), "ci_high": curve.get("ci_high")}
    t, mean, lo, hi = band_arrays(summary, curve["trajectories"], name="curve")
    if not np.all(t > 0):
        raise ValueError(f"curve['trajectories'] must be positive, got {t.tolist()}")
    slope = curve.get("loglog_slope")
    slope = loglog_slope(t, mean) if slope is None else float(slope)
    return {"trajectories": t, "mean": mean, "ci_low": lo, "ci_high": hi,
            "reference": sqrt_reference(t, mean[0]), "slope": slope}


# ------------------------------------------------------------------ figures
def plot_training_curves(methods: Mapping[str, Mapping[str, Any]], path: str | os.PathLike, *,
                         title: str | None = None, xlabel: str = "outer iteration",
                         ylabel: str = "discounted return per agent",
                         reference: Mapping[str, float] | None = None,
                         labels: Mapping[str, str] | None = None) -> Path:
    """Training curves of several methods: mean over runs and shaded 95% interval.

    Parameters
    ----------
    methods : mapping of method name to ``TrainingSummary.to_dict()``
        ``training.json["methods"]``. A method whose bounds are ``None`` gets no band.
    path : str or PathLike
        PNG file to write.
    title : str, optional
        Default ``"Training curves"``.
    xlabel, ylabel : str
        Axis labels.
    reference : mapping of label to float, optional
        Horizontal reference lines (e.g. ``{"uniform policy": 0.21}``), labelled with their value.
    labels : mapping of method name to label, optional
        Legend labels overriding :data:`analysis.style.METHOD_LABELS` (whose zero-shot /
        fine-tuning wording fits the adaptation figure, not training).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if not isinstance(methods, Mapping) or not methods:
        raise ValueError("methods must be a non-empty mapping of method name to TrainingSummary.to_dict()")
    data = {str(n): band_arrays(s, name=f"methods[{n!r}]") for n, s in methods.items()}
    refs = _check_reference(reference)
    colors = method_colors(list(data))
    fig = new_figure(8.5, 4.8)
    ax = fig.subplots()
    for name, (x, mean, lo, hi) in data.items():
        color = colors[name]
        ax.plot(x, mean, color=color, lw=1.8, label=method_label(name, labels), marker="o" if x.size <= 12 else None,
                ms=3.5)
        _band(ax, x, lo, hi, color, alpha=0.2)
    _reference_lines(ax, refs)
    runs = {name: _count_runs(methods[name]) for name in data}
    _decorate(fig, ax, title or "Training curves",
              f"Lines: mean over {_runs_text(runs)}; shaded: 95% Student-t confidence interval over runs "
              "(no band with a single run).", xlabel, ylabel)
    return save_figure(fig, path)


def plot_adaptation_curves(curves: Mapping[str, Any], path: str | os.PathLike, *, title: str | None = None,
                           labels: Mapping[str, str] | None = None) -> Path:
    """Return in the target domain after each of the first ``E`` target episodes.

    Frozen (zero-shot) methods are dashed: they do not learn, so their curve is flat;
    learning methods (fine-tuning, from scratch) are solid. Bands are 95% intervals over runs.

    Parameters
    ----------
    curves : mapping
        ``AdaptationCurves.to_dict()`` (``adaptation.json``).
    path : str or PathLike
        PNG file to write.
    title : str, optional
        Default ``"Adaptation to the target domain"``.
    labels : mapping of method name to label, optional
        Overrides of :data:`analysis.style.METHOD_LABELS`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    data = adaptation_curve_data(curves)
    colors = method_colors(list(data))
    fig = new_figure(8.5, 4.8)
    ax = fig.subplots()
    # learning methods first in the legend order is not needed: keep the input order
    for name, d in data.items():
        frozen = not d["learning"]
        label = method_label(name, labels)
        if frozen and "zero-shot" not in label:
            label += " (frozen)"
        ax.plot(d["x"], d["mean"], color=colors[name], lw=2.0 if frozen else 1.8, ls="--" if frozen else "-",
                label=label, zorder=3)
        _band(ax, d["x"], d["ci_low"], d["ci_high"], colors[name], alpha=0.12 if frozen else 0.2)
    episodes = next(iter(data.values()))["x"]
    ax.set_xlim(float(episodes[0]), float(episodes[-1]))
    ax.xaxis.get_major_locator().set_params(integer=True)
    _decorate(fig, ax, title or "Adaptation to the target domain", _adaptation_subtitle(curves),
              "target episodes (0 = before any target episode)", "discounted return per agent")
    return save_figure(fig, path)


def plot_factor_error(curve: Mapping[str, Any], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Log-log error of the target-factor estimate against the number of target trajectories.

    Draws the mean absolute error (markers and line), its 95% band over repeats and the
    ``1/sqrt(T)`` reference anchored at the first point; the legend gives the fitted slope.

    Parameters
    ----------
    curve : mapping
        :func:`~analysis.factor_error.factor_error_curve` output (``domain_factors.json["error_curve"]``).
    path : str or PathLike
        PNG file to write.
    title : str, optional
        Default ``"Estimating the target domain factor"``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.ticker import FixedLocator, NullLocator

    d = factor_error_data(curve)
    t, mean = d["trajectories"], d["mean"]
    if not np.all(mean > 0):
        raise ValueError(f"curve['mean_abs_error'] must be positive for a log-log plot, got {mean.tolist()}")
    color = method_colors(["gsac"])["gsac"]
    fig = new_figure(7.5, 4.8)
    ax = fig.subplots()
    slope = "n/a" if d["slope"] is None else f"{d['slope']:.2f}".replace("-", "\u2212")
    ax.plot(t, mean, color=color, lw=1.8, marker="o", ms=5, zorder=3,
            label=f"mean |ŵ − w| over agents (fitted slope {slope})")
    lo = np.where(d["ci_low"] > 0, d["ci_low"], np.nan)   # a log axis cannot show bounds <= 0
    _band(ax, t, lo, d["ci_high"], color, alpha=0.2, label="95% CI over repeats")
    if t.size >= 2:
        ax.plot(t, d["reference"], color="black", lw=1.2, ls="--", label="∝ 1/√T reference (slope −0.50)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(t))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in t])
    shown = np.concatenate([mean, d["reference"], lo[np.isfinite(lo)], d["ci_high"][np.isfinite(d["ci_high"])]])
    y_ticks = _log_ticks(float(shown.min()), float(shown.max()))
    ax.yaxis.set_major_locator(FixedLocator(y_ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_yticklabels([f"{v:g}" for v in y_ticks])
    ax.set_ylim(min(float(shown.min()), y_ticks[0]) / 1.1, max(float(shown.max()), y_ticks[-1]) * 1.1)
    _decorate(fig, ax, title or "Estimating the target domain factor", _factor_subtitle(curve),
              "target trajectories T (log scale)", "mean absolute error of ŵ (log scale)", legend_inside=True)
    return save_figure(fig, path)


# ------------------------------------------------------------------ drawing helpers
def _band(ax, x, lo, hi, color, *, alpha: float, label: str | None = None) -> None:
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.fill_between(x, lo, hi, where=ok, color=color, alpha=alpha, lw=0, label=label,
                        interpolate=False)


def _log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks covering ``[low, high]`` on a log axis (at least two)."""
    steps = (1.0, 2.0, 5.0) if np.log10(high / low) <= 2.5 else (1.0,)
    ticks = [m * 10.0 ** k for k in range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
             for m in steps]
    inside = [v for v in ticks if low / 1.25 <= v <= high * 1.25]
    return inside if len(inside) >= 2 else [v for v in ticks if low / 10 <= v <= high * 10]


def _reference_lines(ax, refs: dict[str, float]) -> None:
    for k, (label, value) in enumerate(refs.items()):
        ax.axhline(value, color=REFERENCE_COLORS[k % len(REFERENCE_COLORS)], lw=1.2,
                   ls=(":", "-.", (0, (5, 2)))[k % 3], label=f"{label} ({value:.3g})", zorder=2)


def _decorate(fig, ax, title: str, subtitle: str, xlabel: str, ylabel: str, *, legend_inside: bool = False) -> None:
    fig.suptitle(title, fontsize=FONT_SIZES["title"], fontweight="bold")
    ax.set_title("\n".join(textwrap.wrap(subtitle, 95 if legend_inside else _SUBTITLE_WIDTH)),
                 fontsize=FONT_SIZES["subtitle"], color="0.25")
    ax.set_xlabel(xlabel, fontsize=FONT_SIZES["label"])
    ax.set_ylabel(ylabel, fontsize=FONT_SIZES["label"])
    ax.tick_params(labelsize=FONT_SIZES["tick"])
    ax.grid(True, which="major", color="0.88", lw=0.8)
    ax.set_axisbelow(True)
    if legend_inside:
        ax.legend(fontsize=FONT_SIZES["legend"], loc="lower left", framealpha=0.9)
    else:
        ax.legend(fontsize=FONT_SIZES["legend"], loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  frameon=False)


def _adaptation_subtitle(curves: Mapping[str, Any]) -> str:
    s = curves.get("settings") or {}
    parts = []
    if "target_factor" in s:
        parts.append(f"Target domain factor {_factor_text(s['target_factor'])}")
    if "n_runs" in s:
        parts.append(f"mean over {s['n_runs']} run{'s' if s['n_runs'] != 1 else ''}")
    metric = "Each point: discounted return per agent"
    if "gamma" in s and "horizon" in s:
        metric += f" (γ = {s['gamma']:g}, {s['horizon']} steps)"
    if "eval_episodes" in s:
        metric += f", mean of {s['eval_episodes']} evaluation episodes"
    head = "; ".join(parts)
    return (f"{head}. " if head else "") + f"{metric}. Dashed: frozen zero-shot policy; solid: learns in the " \
        "target; shaded: 95% CI over runs."


def _factor_subtitle(curve: Mapping[str, Any]) -> str:
    parts = []
    if "target_factor" in curve:
        parts.append(f"Target factor {_factor_text(curve['target_factor'])}")
    if "repeats" in curve and "horizon" in curve:
        parts.append(f"{curve['repeats']} independent estimates per T, each from T trajectories of "
                     f"{curve['horizon']} steps with uniformly random actions")
    missing = curve.get("unestimated_agents") or []
    if missing:
        parts.append(f"agents without an estimate (left out): {missing}")
    return "; ".join(parts) + "." if parts else "Error of the estimated domain factor."


def _factor_text(values) -> str:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        return "?"
    if np.allclose(arr, arr[0]):
        return f"w = {arr[0]:.3g}"
    return f"w in [{arr.min():.3g}, {arr.max():.3g}] (mean {arr.mean():.3g})"


def _count_runs(summary: Mapping[str, Any]) -> int | None:
    per_run = summary.get("per_run")
    return len(per_run) if isinstance(per_run, Sequence) and per_run else None


def _runs_text(runs: dict[str, int | None]) -> str:
    counts = set(runs.values())
    if counts == {None}:
        return "runs"
    if len(counts) == 1:
        r = counts.pop()
        return f"{r} run{'s' if r != 1 else ''}"
    return "runs (" + ", ".join(f"{n}: {r}" for n, r in runs.items() if r is not None) + ")"


def _check_reference(reference: Mapping[str, float] | None) -> dict[str, float]:
    if reference is None:
        return {}
    if not isinstance(reference, Mapping):
        raise TypeError(f"reference must be a mapping of label to value, got {type(reference).__name__}")
    out = {}
    for label, value in reference.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise ValueError(f"reference[{label!r}] must be a finite number, got {value!r}")
        out[str(label)] = float(value)
    return out


def _float_array(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, got a string")
    try:
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except TypeError as exc:
        raise TypeError(f"{name} must be a sequence of numbers (None allowed), got {values!r}") from exc
    except ValueError as exc:
        raise TypeError(f"{name} must be a flat sequence of numbers, got {values!r}: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr
