"""Two-slice drawing of a learned graph around one agent, compared with the true graph.

:func:`neighbourhood_slice` computes what is drawn (plain data, testable);
:func:`plot_two_slice` draws it: time-t variables on the left, time-t+1 variables on
the right, one horizontal band per agent (its state coordinates and action on the
left, its next-state coordinates and reward on the right), the domain variable at
the bottom, and arrows into the chosen targets coloured by whether the edge is a
true positive, a false positive or a missed (false negative) edge.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

from analysis.structure import check_graph_pair, classify_edges
from causalnet.graph import FactoredGraph
from causalnet.graph_metrics import compare_graphs
from causalnet.io import atomic_write

__all__ = ["EDGE_STYLES", "SliceTargets", "neighbourhood_slice", "plot_two_slice"]

#: Whose t+1 variables get their incoming edges drawn.
SliceTargets = Literal["agent", "neighbourhood"]

#: Drawing style and legend label of each edge class.
EDGE_STYLES: dict[str, dict[str, Any]] = {
    "tp": {"color": "#2ca02c", "linestyle": "-", "label": "true positive (learned and true)"},
    "fp": {"color": "#d62728", "linestyle": "--", "label": "false positive (learned, not true)"},
    "fn": {"color": "#7f7f7f", "linestyle": ":", "label": "missed (true, not learned)"},
    "learned": {"color": "#1f77b4", "linestyle": "-", "label": "learned edge"},
}

_KIND_COLORS = {"state": "#dbe9f6", "action": "#fde3c8", "reward": "#d9f0d3", "domain": "#e5d8f0"}
_KIND_LABELS = {"state": "state coordinate", "action": "action", "reward": "reward", "domain": "domain variable"}
_DRAW_ORDER = ("fn", "learned", "tp", "fp")  # later classes are drawn on top


def _check_int(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if value < least:
        raise ValueError(f"{name} must be >= {least}, got {value}")
    return value


def neighbourhood_slice(learned: FactoredGraph, truth: FactoredGraph | None, agent: int, *,
                        hops: int = 1, targets: SliceTargets = "agent") -> dict[str, Any]:
    """The nodes and classified edges of the two-slice drawing around ``agent``.

    Parameters
    ----------
    learned : FactoredGraph
        The learned graph.
    truth : FactoredGraph or None
        The true graph over the same spec; ``None`` labels every drawn edge ``"learned"``.
    agent : int
        The focal agent, ``0 <= agent < n_agents``.
    hops : int, default 1
        Radius of the neighbourhood (``spec.neighborhood(agent, hops)``), >= 0.
    targets : {"agent", "neighbourhood"}, default "agent"
        Draw the edges into the focal agent's t+1 variables only, or into those of
        every agent of the neighbourhood.

    Returns
    -------
    dict
        ``agent``, ``hops``, ``targets`` (the option); ``neighbourhood``: sorted
        agents within ``hops``; ``outside_agents``: other agents owning a parent of a
        drawn edge; ``groups``: one entry per agent in drawing order (neighbourhood
        first, then outside agents) with ``agent``, ``in_neighbourhood``, ``time_t``
        (its state coordinates and action; for an outside agent only the variables
        that are parents of drawn edges) and ``time_t1`` (its next-state coordinates
        and reward; empty for an outside agent); ``time_t`` / ``time_t1``: the flat
        node lists (``time_t`` ends with the domain variable); ``edge_targets``: the
        t+1 variables whose incoming edges are drawn; ``edges``: sorted
        ``(parent, target, status)`` with status ``"tp"``, ``"fp"``, ``"fn"`` or
        ``"learned"``; ``counts``: number of drawn edges per status.

    Raises
    ------
    TypeError
        A graph is not a FactoredGraph, or ``agent`` / ``hops`` is not an integer.
    GraphError
        The graphs have different specs.
    ValueError
        ``agent`` out of range, ``hops`` negative, or ``targets`` not an accepted option.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 2)
    >>> truth = FactoredGraph(spec, {"s0_0": ["s0_0", "a1"], "r0": ["s0_0"]})
    >>> learned = FactoredGraph(spec, {"s0_0": ["s0_0", "a2"], "r0": ["s0_0"]})
    >>> data = neighbourhood_slice(learned, truth, 0)
    >>> data["neighbourhood"], data["outside_agents"]
    ([0, 1], [2])
    >>> data["edges"]
    [('a1', 's0_0', 'fn'), ('a2', 's0_0', 'fp'), ('s0_0', 'r0', 'tp'), ('s0_0', 's0_0', 'tp')]
    """
    check_graph_pair(learned, truth)
    spec = learned.spec
    agent = _check_int("agent", agent, 0)
    if agent >= spec.n_agents:
        raise ValueError(f"agent must be in 0..{spec.n_agents - 1} (the graph has {spec.n_agents} agents), "
                         f"got {agent}")
    hops = _check_int("hops", hops, 0)
    if targets not in get_args(SliceTargets):
        raise ValueError(f"targets must be one of {list(get_args(SliceTargets))}, got {targets!r}")

    neighbourhood = spec.neighborhood(agent, hops)

    def own_t(i: int) -> list[str]:
        return [spec.state_names[j] for j in spec.agent_state_indices(i)] + [spec.action_names[i]]

    def own_t1(i: int) -> list[str]:
        return [spec.state_names[j] for j in spec.agent_state_indices(i)] + [spec.reward_names[i]]

    edge_agents = [agent] if targets == "agent" else neighbourhood
    edge_targets = [name for i in edge_agents for name in own_t1(i)]
    classes = classify_edges(learned, truth, variables=edge_targets)
    edges = sorted((p, t, status) for status, pairs in classes.items() for p, t in pairs)

    groups: list[dict[str, Any]] = [{"agent": i, "in_neighbourhood": True, "time_t": own_t(i),
                                     "time_t1": own_t1(i)} for i in neighbourhood]
    inside = set(neighbourhood)
    outside_parents: dict[int, set[str]] = {}
    for parent, _, _ in edges:
        owner = spec.owner(parent)
        if owner is not None and owner not in inside:
            outside_parents.setdefault(owner, set()).add(parent)
    for i in sorted(outside_parents):
        groups.append({"agent": i, "in_neighbourhood": False,
                       "time_t": [v for v in own_t(i) if v in outside_parents[i]], "time_t1": []})

    counts = {status: len(pairs) for status, pairs in classes.items()}
    return {
        "agent": agent,
        "hops": hops,
        "targets": targets,
        "neighbourhood": neighbourhood,
        "outside_agents": sorted(outside_parents),
        "groups": groups,
        "time_t": [v for g in groups for v in g["time_t"]] + [spec.domain_name],
        "time_t1": [v for g in groups for v in g["time_t1"]],
        "edge_targets": edge_targets,
        "edges": edges,
        "counts": counts,
    }


def _layout(data: dict[str, Any]) -> tuple[dict[str, float], dict[str, float], list[tuple[dict, float, float]], float]:
    """Row heights: y of each time-t node, each t+1 node, each group's band, and the total height."""
    y = 0.0
    y_t: dict[str, float] = {}
    y_t1: dict[str, float] = {}
    bands = []
    gap = 0.6
    for group in data["groups"]:
        rows = max(len(group["time_t"]), len(group["time_t1"]))
        top = y
        for k, name in enumerate(group["time_t"]):
            y_t[name] = y + k
        for k, name in enumerate(group["time_t1"]):
            y_t1[name] = y + k
        y += rows
        bands.append((group, top - 0.45, y - 0.55))
        y += gap
    y_t[data["time_t"][-1]] = y + 0.2  # the domain variable, below every band
    return y_t, y_t1, bands, y + 0.2


def plot_two_slice(learned: FactoredGraph, truth: FactoredGraph | None, agent: int,
                   path: str | os.PathLike, *, hops: int = 1, targets: SliceTargets = "agent",
                   title: str | None = None, dpi: int = 130) -> Path:
    """Draw the two-slice graph around ``agent`` and save it as a PNG.

    Left column: the time-t variables of every agent of the neighbourhood (state
    coordinates, then the action), grouped in one band per agent, and the domain
    variable at the bottom. Right column: next-state coordinates and the reward of
    the same agents, on the same rows. Arrows run from parents to the chosen targets
    (see :func:`neighbourhood_slice`): green solid true positives, red dashed false
    positives, grey dotted missed edges (blue solid "learned" edges when ``truth`` is
    None). The focal agent's band is highlighted; agents outside the neighbourhood
    appear only when they own the parent of a drawn edge, in a hatched band.

    Parameters
    ----------
    learned, truth, agent, hops, targets
        As in :func:`neighbourhood_slice`.
    path : str or PathLike
        Where the PNG is written (atomically; parent folders are created).
    title : str, optional
        Figure title; default names the focal agent.
    dpi : int, default 130
        Resolution of the saved PNG (the figure is 8 inches wide).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError, ValueError, GraphError
        As :func:`neighbourhood_slice`; also ``path`` not a path, ``title`` not a
        string, or ``dpi`` outside 50..600.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    dpi = _check_int("dpi", dpi, 50)
    if dpi > 600:
        raise ValueError(f"dpi must be at most 600, got {dpi}")
    data = neighbourhood_slice(learned, truth, agent, hops=hops, targets=targets)
    fig = _draw(learned, truth, data, title)
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi, metadata={"Software": None}))


def _draw(learned: FactoredGraph, truth: FactoredGraph | None, data: dict[str, Any], title: str | None):
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    spec = learned.spec
    agent = data["agent"]
    y_t, y_t1, bands, height = _layout(data)
    header_in, footer_in, row_in = 1.9, 0.5, 0.3
    fig = Figure(figsize=(8.0, header_in + footer_in + row_in * (height + 1.0)))
    ax = fig.add_axes((0.02, footer_in / fig.get_figheight(), 0.96,
                       1 - (header_in + footer_in) / fig.get_figheight()))
    ax.set_xlim(-0.32, 1.06)
    ax.set_ylim(height + 0.5, -1.5)
    ax.axis("off")
    # left-column boxes end at x_left, right-column boxes start at x_right; arrows run between
    x_left, x_right, pad = 0.3, 0.8, 0.012

    # agent bands and labels
    for group, top, bottom in bands:
        focal = group["agent"] == agent
        face = "#fff3bf" if focal else ("#f4f4f4" if group["in_neighbourhood"] else "white")
        ax.add_patch(Rectangle((-0.3, top), 1.34, bottom - top, facecolor=face, zorder=0,
                               edgecolor="#bbbbbb", linewidth=0.6,
                               hatch=None if group["in_neighbourhood"] else "///"))
        label = f"agent {group['agent']}" + (" (focal)" if focal else "" if group["in_neighbourhood"] else " (outside)")
        ax.text(-0.29, (top + bottom) / 2, label, ha="left", va="center", fontsize=9,
                fontweight="bold" if focal else "normal")
    ax.text(x_left, -1.0, "time t", ha="right", va="center", fontsize=11, fontweight="bold")
    ax.text(x_right, -1.0, "time t+1", ha="left", va="center", fontsize=11, fontweight="bold")

    # edges: drawn before the nodes so arrow tails hide under the boxes
    edge_targets = set(data["edge_targets"])
    for status in _DRAW_ORDER:
        style = EDGE_STYLES[status]
        for parent, target, st in data["edges"]:
            if st != status:
                continue
            ax.annotate("", xy=(x_right - pad, y_t1[target]), xytext=(x_left + pad, y_t[parent]),
                        arrowprops={"arrowstyle": "-|>", "color": style["color"], "linestyle": style["linestyle"],
                                    "linewidth": 1.3, "mutation_scale": 10, "shrinkA": 0, "shrinkB": 1},
                        zorder=2 if status != "fp" else 3)

    # nodes
    def node(name: str, x: float, y: float, align: str, emphasise: bool) -> None:
        kind = spec.kind(name)
        ax.text(x, y, name, ha=align, va="center", fontsize=9, zorder=4,
                fontweight="bold" if emphasise else "normal",
                bbox={"boxstyle": "round,pad=0.25", "facecolor": _KIND_COLORS[kind],
                      "edgecolor": "black" if emphasise else "#888888", "linewidth": 1.2 if emphasise else 0.6})

    for name, y in y_t.items():
        node(name, x_left, y, "right", spec.owner(name) == agent)
    for name, y in y_t1.items():
        node(name, x_right, y, "left", name in edge_targets)

    # title, caption and legend
    counts = data["counts"]
    whose = (f"agent {agent}'s" if data["targets"] == "agent"
             else f"the {len(data['neighbourhood'])} neighbourhood agents'")
    hops = f"{data['hops']} hop" + ("" if data["hops"] == 1 else "s")
    outside = any(not g["in_neighbourhood"] for g in data["groups"])
    caption = (f"Arrows: parents at time t of {whose} variables at t+1 (bold boxes).\n"
               f"Bands: agents within {hops} of agent {agent}"
               + ("; hatched: other agents owning a parent." if outside else "."))
    if truth is not None:
        m = compare_graphs(learned, truth)
        caption += (f"\nWhole graph: true positives {m['tp']}, false positives {m['fp']}, missed {m['fn']} "
                    f"(precision {m['precision']:.2f}, recall {m['recall']:.2f}, SHD {m['shd']}).")
    fig.suptitle(title if title is not None else f"Learned causal graph around agent {agent}",
                 fontsize=13, y=1 - 0.12 / fig.get_figheight(), va="top")
    fig.text(0.5, 1 - 0.5 / fig.get_figheight(), caption, ha="center", va="top", fontsize=9)
    edge_handles = [Line2D([], [], color=EDGE_STYLES[s]["color"], linestyle=EDGE_STYLES[s]["linestyle"],
                           linewidth=1.6, label=f"{EDGE_STYLES[s]['label']}: {counts[s]}")
                    for s in ("tp", "fp", "fn", "learned") if s in counts]
    kind_handles = [Patch(facecolor=_KIND_COLORS[k], edgecolor="#888888", label=_KIND_LABELS[k]) for k in _KIND_COLORS]
    if outside:
        kind_handles.append(Patch(facecolor="white", edgecolor="#bbbbbb", hatch="///", label="agent outside"))
    legend_top = 1 - 1.0 / fig.get_figheight()
    fig.legend(handles=edge_handles, loc="upper left", fontsize=9, frameon=False, title="drawn edges",
               title_fontsize=9, alignment="left", bbox_to_anchor=(0.03, legend_top))
    fig.legend(handles=kind_handles, loc="upper right", ncol=2, fontsize=9, frameon=False, title="variables",
               title_fontsize=9, alignment="left", bbox_to_anchor=(0.97, legend_top))
    return fig
