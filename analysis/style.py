"""Shared look of the figures: one colour and one label per method, figure size, fonts, saving.

Every figure of a run draws a method in the same colour: GSAC, SAC-MTL, SAC-FT and
SAC-LFS have fixed colours from the Okabe-Ito palette (readable with the common
colour-vision deficiencies); any other name gets a fallback colour chosen from a
second palette by a stable hash of the name, so it is the same in every figure and
every Python process.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot global
state) with :func:`new_figure` and written atomically with :func:`save_figure`.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from causalnet.io import atomic_write

if TYPE_CHECKING:  # matplotlib is imported lazily by the functions
    from matplotlib.figure import Figure

__all__ = ["DPI", "FALLBACK_COLORS", "FONT_SIZES", "METHOD_COLORS", "METHOD_LABELS", "REFERENCE_COLORS",
           "method_color", "method_colors", "method_label", "new_figure", "save_figure"]

#: Colours of the benchmark's methods (Okabe-Ito palette).
METHOD_COLORS: dict[str, str] = {
    "gsac": "#D55E00",     # vermillion: the proposed method stands out
    "sac-mtl": "#0072B2",  # blue
    "sac-ft": "#009E73",   # bluish green
    "sac-lfs": "#CC79A7",  # reddish purple
    "uniform": "#555555",  # dark grey: the reference policy, not a method
}

#: Legend labels of the methods in adaptation figures (training figures may pass overrides).
METHOD_LABELS: dict[str, str] = {
    "gsac": "GSAC (zero-shot)",
    "sac-mtl": "SAC-MTL (zero-shot)",
    "sac-ft": "SAC-FT (fine-tuning)",
    "sac-lfs": "SAC-LFS (from scratch)",
    "uniform": "uniform random policy",
}

#: Colours for other method names, picked by a stable hash of the name.
FALLBACK_COLORS: tuple[str, ...] = ("#E69F00", "#8C564B", "#17BECF", "#BCBD22", "#882255", "#56B4E9",
                                    "#7F7F7F", "#44AA99")

#: Colours of horizontal reference lines (uniform policy, optimum, ...), in order of appearance.
REFERENCE_COLORS: tuple[str, ...] = ("#000000", "#666666", "#999999")

#: Font sizes in points at the saved size (all >= 9 pt).
FONT_SIZES: dict[str, float] = {"title": 12.0, "subtitle": 9.5, "label": 10.5, "tick": 9.5, "legend": 9.5}

#: Resolution of saved figures (dots per inch).
DPI: int = 130


def method_color(name: str) -> str:
    """Colour (hex string) of method ``name``; a stable fallback for unknown names.

    Examples
    --------
    >>> method_color("gsac")
    '#D55E00'
    >>> method_color("my-method") == method_color("my-method") and method_color("my-method") in FALLBACK_COLORS
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a method name (str), got {type(name).__name__}")
    if name in METHOD_COLORS:
        return METHOD_COLORS[name]
    return FALLBACK_COLORS[zlib.crc32(name.encode("utf-8")) % len(FALLBACK_COLORS)]


def method_colors(names) -> dict[str, str]:
    """Colours of several methods drawn in one figure, with no two alike.

    Known methods keep their :data:`METHOD_COLORS`; an unknown name keeps
    :func:`method_color` unless an earlier name in ``names`` already took that colour, in
    which case it gets the next free fallback colour (deterministic for a given order).

    Examples
    --------
    >>> cols = method_colors(["gsac", "a", "b", "c"])
    >>> cols["gsac"], len(set(cols.values()))
    ('#D55E00', 4)
    """
    out: dict[str, str] = {}
    for name in names:
        color = method_color(name)
        if name not in METHOD_COLORS and color in out.values():
            start = FALLBACK_COLORS.index(color)
            free = [FALLBACK_COLORS[(start + k) % len(FALLBACK_COLORS)] for k in range(1, len(FALLBACK_COLORS))]
            color = next((c for c in free if c not in out.values()), color)
        out[name] = color
    return out


def method_label(name: str, overrides: Mapping[str, str] | None = None) -> str:
    """Legend label of method ``name``: ``overrides[name]``, else :data:`METHOD_LABELS`, else the name.

    Examples
    --------
    >>> method_label("sac-ft"), method_label("sac-ft", {"sac-ft": "SAC-FT (sources)"}), method_label("other")
    ('SAC-FT (fine-tuning)', 'SAC-FT (sources)', 'other')
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a method name (str), got {type(name).__name__}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping of method name to label, got {type(overrides).__name__}")
    if overrides and name in overrides:
        return str(overrides[name])
    return METHOD_LABELS.get(name, name)


def new_figure(width: float = 8.5, height: float = 4.8) -> "Figure":
    """A :class:`~matplotlib.figure.Figure` of ``width x height`` inches with constrained layout.

    No pyplot state is touched, so figures can be built in any thread.
    """
    from matplotlib.figure import Figure

    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1.0 <= value <= 30.0:
            raise ValueError(f"{name} must be a number of inches in [1, 30], got {value!r}")
    return Figure(figsize=(float(width), float(height)), layout="constrained")


def save_figure(fig: "Figure", path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically at :data:`DPI`; return the path.

    The PNG carries no software version in its metadata, so equal inputs give equal files
    for a given matplotlib version.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return atomic_write(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=DPI,
                                                           metadata={"Software": None}))
