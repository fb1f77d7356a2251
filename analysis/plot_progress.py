"""Curves drawn from a streamed evaluation log (``progress.jsonl``), finished run or not.

``causalnet report`` draws this figure from the log that training and the learning
stages append to (see :mod:`causalnet.progress_log`): one panel per kind of step
(outer training iterations, target episodes), one line per stage and method (the mean
over runs; the band spans the runs' minimum and maximum). A killed run's log draws the
points measured before the kill.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from analysis.style import FONT_SIZES, method_colors, method_label, new_figure, save_figure
from causalnet.progress_log import progress_curves

__all__ = ["plot_progress"]

_PANEL_TITLES = {"iteration": "training (evaluated in the target domain)",
                 "episode": "adaptation in the target domain"}
_X_LABELS = {"iteration": "outer iteration", "episode": "target episodes"}


def plot_progress(records: Sequence[dict[str, Any]], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Draw the curves of ``records`` (from :func:`causalnet.progress_log.read_progress`) to a PNG.

    Parameters
    ----------
    records : sequence of dict
        Evaluation points (``stage``, ``method``, ``run``, ``step_kind``, ``step``, ``value``).
    path : path
        PNG file written atomically.
    title : str, optional

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``records`` is empty.
    """
    if not records:
        raise ValueError("the progress log holds no evaluation point yet")
    curves = progress_curves(records)
    kinds = [k for k in ("iteration", "episode") if any(key[2] == k for key in curves)]
    colors = method_colors(sorted({key[1] for key in curves}))
    fig = new_figure(width=6.2 * len(kinds), height=4.4) if len(kinds) > 1 else new_figure()
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds):
        for (stage, method, step_kind), curve in curves.items():
            if step_kind != kind:
                continue
            steps, values = curve["steps"], curve["values"]
            with np.errstate(all="ignore"):
                mean = np.nanmean(values, axis=0)
                low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            label = method_label(method) if kind == "episode" else f"{method} ({stage})"
            color = colors[method]
            ax.plot(steps, mean, color=color, linewidth=1.8, marker="o" if steps.size < 40 else None,
                    markersize=3, label=f"{label}, {values.shape[0]} run(s)")
            if values.shape[0] > 1:
                ax.fill_between(steps, low, high, color=color, alpha=0.15, linewidth=0)
        ax.set_title(_PANEL_TITLES[kind], fontsize=FONT_SIZES["subtitle"])
        ax.set_xlabel(_X_LABELS[kind], fontsize=FONT_SIZES["label"])
        ax.set_ylabel("discounted return per agent", fontsize=FONT_SIZES["label"])
        ax.tick_params(labelsize=FONT_SIZES["tick"])
        ax.grid(color="#e5e5e5")
        ax.legend(fontsize=FONT_SIZES["legend"] - 1, loc="best", framealpha=0.9)
    fig.suptitle(title or "Evaluation points streamed to progress.jsonl (mean over runs; band: min to max)",
                 fontsize=FONT_SIZES["title"])
    return save_figure(fig, path)
