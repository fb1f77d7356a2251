"""Aggregate a sweep: one table (mean and 95% CI per setting and method) and one figure.

A sweep runs ``causalnet run`` once per cell (one combination of axis values). The
cells that differ only in the replicate axis (``seed``) form one *setting*; for every
setting and method the table gives, over the replicates, the mean and the 95%
Student-t confidence interval of three numbers read from each cell's
``metrics.json``:

* ``zero_shot``: return of the deployed policy in the target before any target episode;
* ``adaptation``: average return over the adaptation curve (the first target episodes);
* ``final_return``: return at the end of the adaptation curve.

Each of these is already the mean over the cell's ``train.runs`` runs; the interval
is over the replicate axis (none with a single replicate). The uniform random policy
appears as the method ``uniform``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from causalnet.io import atomic_write_json, atomic_write_text, json_ready
from rl.adaptation import mean_ci

__all__ = ["SWEEP_METRICS", "format_sweep_markdown", "plot_sweep", "sweep_rows", "write_sweep_tables"]

#: Metric name -> path in a cell's ``metrics.json`` method entry.
SWEEP_METRICS: dict[str, tuple[str, ...]] = {
    "zero_shot": ("zero_shot", "mean"),
    "adaptation": ("adaptation", "curve_average", "mean"),
    "final_return": ("adaptation", "final_return", "mean"),
}


def _method_entries(metrics: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    entries = dict(metrics.get("methods", {}))
    entries.update(metrics.get("reference", {}))
    return entries


def _read(entry: Mapping[str, Any], path: tuple[str, ...]) -> float:
    value: Any = entry
    for key in path:
        value = value[key]
    return float("nan") if value is None else float(value)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def sweep_rows(cells: Sequence[Mapping[str, Any]], *, axes: Sequence[str], replicate: str | None = "seed",
               confidence: float = 0.95) -> list[dict[str, Any]]:
    """The aggregated table: one row per setting and method.

    Parameters
    ----------
    cells : sequence of mappings
        One per cell: ``{"values": {axis: value}, "metrics": <metrics.json>}``.
    axes : sequence of str
        The sweep's axes in order.
    replicate : str or None
        The axis aggregated over (None or absent from ``axes``: every cell is its own setting).
    confidence : float
        Level of the intervals.

    Returns
    -------
    list of dict
        ``{<setting axes>..., "method", "n", "<metric>_mean", "<metric>_ci_low", "<metric>_ci_high"}``
        in the order the settings and methods first appear. ``ci_*`` are NaN with one replicate.

    Examples
    --------
    >>> m = lambda x: {"methods": {"gsac": {"zero_shot": {"mean": x}, "adaptation": {
    ...     "curve_average": {"mean": x}, "final_return": {"mean": x}}}}}
    >>> rows = sweep_rows([{"values": {"seed": 0}, "metrics": m(1.0)},
    ...                    {"values": {"seed": 1}, "metrics": m(3.0)}], axes=["seed"])
    >>> rows[0]["method"], rows[0]["n"], rows[0]["zero_shot_mean"], round(rows[0]["zero_shot_ci_high"], 3)
    ('gsac', 2, 2.0, 14.706)
    """
    setting_axes = [a for a in axes if a != replicate]
    groups: dict[str, dict[str, Any]] = {}
    for cell in cells:
        values = cell["values"]
        missing = [a for a in axes if a not in values]
        if missing:
            raise KeyError(f"a cell lacks the axis value(s) {missing}: {values}")
        setting = {a: values[a] for a in setting_axes}
        group = groups.setdefault(_key(setting), {"setting": setting, "methods": {}})
        for method, entry in _method_entries(cell["metrics"]).items():
            per_metric = group["methods"].setdefault(method, {name: [] for name in SWEEP_METRICS})
            for name, path in SWEEP_METRICS.items():
                per_metric[name].append(_read(entry, path))
    rows = []
    for group in groups.values():
        for method, per_metric in group["methods"].items():
            row: dict[str, Any] = dict(group["setting"])
            row["method"] = method
            row["n"] = len(per_metric["zero_shot"])
            for name, values in per_metric.items():
                mean, low, high = mean_ci(np.asarray(values, dtype=np.float64), confidence=confidence)
                row[f"{name}_mean"], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (
                    float(mean), float(low), float(high))
            rows.append(row)
    return rows


def format_sweep_markdown(rows: Sequence[Mapping[str, Any]], setting_axes: Sequence[str]) -> str:
    """The table as Markdown: setting axes, method, n, then ``mean [low, high]`` per metric."""
    header = [*setting_axes, "method", "n", *(f"{name} (95% CI)" for name in SWEEP_METRICS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [json.dumps(row[a]) for a in setting_axes] + [str(row["method"]), str(row["n"])]
        for name in SWEEP_METRICS:
            mean, low, high = row[f"{name}_mean"], row[f"{name}_ci_low"], row[f"{name}_ci_high"]
            ci = "" if math.isnan(low) else f" [{low:.4f}, {high:.4f}]"
            cells.append(f"{mean:.4f}{ci}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_sweep_tables(rows: Sequence[Mapping[str, Any]], folder: str | os.PathLike, *, axes: Sequence[str],
                       replicate: str | None = "seed", stem: str = "summary") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.csv`` and ``<stem>.md`` into ``folder``; return their paths."""
    folder = Path(folder)
    setting_axes = [a for a in axes if a != replicate]
    columns = [*setting_axes, "method", "n"] + [f"{name}_{part}" for name in SWEEP_METRICS
                                                 for part in ("mean", "ci_low", "ci_high")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([json.dumps(row[c]) if isinstance(row[c], (list, dict)) else
                         ("" if isinstance(row[c], float) and math.isnan(row[c]) else row[c]) for c in columns])
    document = {"axes": list(axes), "replicate_axis": replicate if replicate in axes else None,
                "setting_axes": setting_axes, "confidence": 0.95,
                "metrics": {name: "/".join(path) + " of each method in the cell's metrics.json"
                            for name, path in SWEEP_METRICS.items()},
                "rows": [dict(r) for r in rows]}
    return {"json": atomic_write_json(folder / f"{stem}.json", json_ready(document)),
            "csv": atomic_write_text(folder / f"{stem}.csv", buffer.getvalue()),
            "md": atomic_write_text(folder / f"{stem}.md", format_sweep_markdown(rows, setting_axes))}


def plot_sweep(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, setting_axes: Sequence[str],
               metric: str = "adaptation", title: str | None = None) -> Path:
    """One figure: ``metric`` (mean and 95% CI) per method against the first setting axis.

    One panel per combination of the other setting axes (at most 12); with no setting
    axis, one bar per method.
    """
    from analysis.style import FONT_SIZES, method_colors, method_label, new_figure, save_figure

    if metric not in SWEEP_METRICS:
        raise ValueError(f"metric must be one of {list(SWEEP_METRICS)}, got {metric!r}")
    if not rows:
        raise ValueError("no rows to plot")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    colors = method_colors(methods)
    x_axis = setting_axes[0] if setting_axes else None
    panel_axes = list(setting_axes[1:])
    panels = list(dict.fromkeys(_key({a: r[a] for a in panel_axes}) for r in rows))[:12]
    n_cols = min(3, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    fig = new_figure(4.2 * n_cols + 1.5, 3.4 * n_rows + 0.6)
    grid = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True)
    for k, panel in enumerate(panels):
        ax = grid[k // n_cols][k % n_cols]
        chosen = [r for r in rows if _key({a: r[a] for a in panel_axes}) == panel]
        xs = list(dict.fromkeys(_key(r[x_axis]) for r in chosen)) if x_axis else ["all"]
        numeric = x_axis is not None and all(isinstance(json.loads(x), (int, float)) for x in xs)
        span = (max(json.loads(x) for x in xs) - min(json.loads(x) for x in xs)) if numeric else 0.0
        shift = 0.012 * (span or 1.0)     # methods side by side, so that their intervals do not hide each other
        for j, method in enumerate(methods):
            mine = [r for r in chosen if r["method"] == method]
            if not mine:
                continue
            pos = ([float(r[x_axis]) for r in mine] if numeric else
                   [xs.index(_key(r[x_axis])) if x_axis else 0 for r in mine])
            offset = (j - (len(methods) - 1) / 2) * (shift if numeric else 0.12)
            pos = [p + offset for p in pos]
            mean = np.array([r[f"{metric}_mean"] for r in mine])
            low = np.array([r[f"{metric}_ci_low"] for r in mine])
            high = np.array([r[f"{metric}_ci_high"] for r in mine])
            err = np.where(np.isfinite(low), np.vstack([mean - low, high - mean]), 0.0)
            ax.errorbar(pos, mean, yerr=err, color=colors[method], marker="o", capsize=3,
                        linestyle="-" if numeric else "none", label=method_label(method))
        if numeric:
            ax.set_xticks(sorted(float(json.loads(x)) for x in xs), [x for x in sorted(xs, key=json.loads)])
        else:
            ax.set_xticks(range(len(xs)), xs if x_axis else [""])
        ax.set_xlabel(x_axis or "", fontsize=FONT_SIZES["label"])
        if panel_axes:
            ax.set_title(", ".join(f"{a}={json.dumps(v)}" for a, v in json.loads(panel).items()),
                         fontsize=FONT_SIZES["subtitle"])
        ax.grid(alpha=0.3)
    for k in range(len(panels), n_rows * n_cols):
        grid[k // n_cols][k % n_cols].set_visible(False)
    grid[0][0].set_ylabel(f"{metric.replace('_', ' ')} return (mean, 95% CI)", fontsize=FONT_SIZES["label"])
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2 if n_cols == 1 else 3), fontsize=FONT_SIZES["legend"])
    fig.suptitle(title or f"sweep: {metric.replace('_', ' ')} return per method", fontsize=FONT_SIZES["title"])
    return save_figure(fig, path)
