"""Figures of GSAC's approximately compact representations (ACRs).

Two figures, each backed by a pure function that returns the data it draws:

* :func:`plot_acr_layout` draws one agent's ACRs on the network layout
  (:func:`acr_membership` says which agent is in which set);
* :func:`plot_dimension_table` draws the table "Method | Input | Dimension | Table size"
  for full state, kappa-hop truncation, value ACR and policy ACR
  (:func:`dimension_rows` computes it from :func:`causalnet.acr.acr_table` rows;
  :func:`format_dimension_table` gives the same table as Markdown).

See ``docs/analysis-acr.md`` for how to read them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np

from causalnet.acr import policy_acr, traceback_depths
from causalnet.graph import FactoredGraph
from causalnet.io import atomic_write
from analysis.layout import access_point_positions, network_positions

__all__ = ["acr_membership", "dimension_rows", "format_dimension_table", "plot_acr_layout",
           "plot_dimension_table", "size_text", "ACR_COLORS", "Panels"]

#: ``"combined"``: one panel with every set; ``"split"``: value ACR and policy ACR side by side.
Panels = Literal["combined", "split"]

#: Colours shared by the layout figure and the dimension table.
ACR_COLORS = {
    "full": "#8c8c8c",          # full state
    "kappa_hop": "#4e79a7",     # kappa-hop truncation
    "acr": "#f28e2b",           # value ACR (critic)
    "policy_acr": "#1b7837",    # policy ACR (actor)
    "domain": "#6a3d9a",        # domain ACR marker
    "halo": "#a6cee3",          # kappa-hop neighbourhood halo
}

_DPI = 130
_FONT = 9.5
_MAX_ANNOTATED_COORDS = 16   # annotate coordinate names only when the ACR is this small
_NAMES_PER_AGENT = 3

# ----------------------------------------------------------------------------- validation


def _check_graph_agent_kappa(graph: Any, agent: Any, kappa: Any) -> None:
    if not isinstance(graph, FactoredGraph):
        raise TypeError(f"graph must be a causalnet FactoredGraph, got {type(graph).__name__}")
    if isinstance(kappa, bool) or not isinstance(kappa, (int, np.integer)) or kappa < 0:
        raise ValueError(f"kappa must be an integer >= 0, got {kappa!r}")
    n = graph.spec.n_agents
    if isinstance(agent, bool) or not isinstance(agent, (int, np.integer)) or not 0 <= agent < n:
        raise ValueError(f"agent must be an integer in 0..{n - 1}, got {agent!r}")


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _check_title(title: Any) -> None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")


# ----------------------------------------------------------------------------- membership


def acr_membership(graph: FactoredGraph, agent: int, kappa: int) -> dict[str, Any]:
    """Which agents belong to agent ``agent``'s kappa-hop neighbourhood and ACRs.

    Parameters
    ----------
    graph : FactoredGraph
        Learned or true factored graph.
    agent : int
        The focal agent ``i``.
    kappa : int
        Traceback horizon and neighbourhood radius (>= 0).

    Returns
    -------
    dict
        ``agent``, ``kappa``; ``value_acr``, ``policy_acr`` (coordinate names, spec order),
        ``domain_acr`` (agents), ``neighborhood`` (agents of ``N_i^kappa``),
        ``one_hop`` (agents of ``N_i``), ``depths`` (:func:`causalnet.acr.traceback_depths`);
        ``counts`` with ``n_state``, ``n_agents``, ``value``, ``policy``, ``domain``,
        ``kappa_hop`` (coordinates owned by ``N_i^kappa``), ``kappa_hop_agents``,
        ``value_agents``, ``policy_agents``;
        ``agents``: for every agent ``j`` a dict with ``hops`` (distance to ``i``, None
        when unreachable), ``in_neighborhood``, ``in_one_hop``, ``value_coords``,
        ``in_value_acr``, ``policy_coords``, ``in_policy_acr``, ``in_domain_acr``.

    Raises
    ------
    TypeError
        ``graph`` is not a FactoredGraph.
    ValueError
        ``agent`` is out of range or ``kappa`` is negative or not an integer.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 2)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s1_0"], "s1_0": ["s2_0", "domain"]})
    >>> m = acr_membership(g, 0, 2)
    >>> m["value_acr"], m["policy_acr"], m["domain_acr"]
    (['s0_0', 's1_0', 's2_0'], ['s0_0', 's1_0'], [1])
    >>> m["agents"][2]["in_value_acr"], m["agents"][2]["in_policy_acr"], m["agents"][2]["hops"]
    (True, False, 2)
    """
    _check_graph_agent_kappa(graph, agent, kappa)
    spec = graph.spec
    agent, kappa = int(agent), int(kappa)
    depths = traceback_depths(graph, agent, kappa=kappa)
    value = list(depths)
    policy = policy_acr(graph, agent, kappa=kappa)
    dom = spec.domain_name
    domain = sorted({int(spec.owner(name)) for name in value if dom in graph.parents[name]})
    hops = nx.single_source_shortest_path_length(spec.interaction_graph, agent)
    neighborhood = spec.neighborhood(agent, kappa)
    one_hop = spec.neighborhood(agent, 1)
    hood, near, dom_set = set(neighborhood), set(one_hop), set(domain)
    per_agent: dict[int, dict[str, Any]] = {}
    for j in range(spec.n_agents):
        v = [s for s in value if spec.owner(s) == j]
        p = [s for s in policy if spec.owner(s) == j]
        per_agent[j] = {
            "hops": int(hops[j]) if j in hops else None,
            "in_neighborhood": j in hood,
            "in_one_hop": j in near,
            "value_coords": v,
            "in_value_acr": bool(v),
            "policy_coords": p,
            "in_policy_acr": bool(p),
            "in_domain_acr": j in dom_set,
        }
    counts = {
        "n_state": spec.n_state,
        "n_agents": spec.n_agents,
        "value": len(value),
        "policy": len(policy),
        "domain": len(domain),
        "kappa_hop": sum(1 for s in spec.state_names if spec.owner(s) in hood),
        "kappa_hop_agents": len(neighborhood),
        "value_agents": sum(1 for f in per_agent.values() if f["in_value_acr"]),
        "policy_agents": sum(1 for f in per_agent.values() if f["in_policy_acr"]),
    }
    return {"agent": agent, "kappa": kappa, "value_acr": value, "policy_acr": policy, "domain_acr": domain,
            "neighborhood": neighborhood, "one_hop": one_hop, "depths": depths, "counts": counts,
            "agents": per_agent}


def _subtitle(m: Mapping[str, Any]) -> str:
    c = m["counts"]

    def agents(k: int) -> str:
        return f"{k} agent" + ("" if k == 1 else "s")

    return (f"value ACR: {c['value']} of {c['n_state']} state coordinates ({agents(c['value_agents'])}); "
            f"policy ACR: {c['policy']} ({agents(c['policy_agents'])})\n"
            f"\u03ba-hop (\u03ba = {m['kappa']}): {c['kappa_hop']} coordinates of {agents(c['kappa_hop_agents'])}; "
            f"domain ACR: {agents(c['domain'])} ({', '.join(f'w{j}' for j in m['domain_acr']) or 'none'})")


# ----------------------------------------------------------------------------- layout figure


def _coord_label(names: list[str]) -> str:
    shown = names[:_NAMES_PER_AGENT]
    extra = len(names) - len(shown)
    return ",".join(shown) + (f",+{extra}" if extra else "")


def _draw_panel(ax: Any, fig: Any, graph: FactoredGraph, pos: Mapping[int, tuple[float, float]],
                aps: list[tuple[float, float]], m: Mapping[str, Any], *, halo: set[int], fill: set[int],
                fill_color: str, ring: set[int], domain: set[int], coords_key: str | None) -> None:
    """Draw the network with the given highlighted sets on ``ax``."""
    from matplotlib import transforms

    spec = graph.spec
    focal = m["agent"]
    for a, b in spec.edges:
        ax.plot([pos[a][0], pos[b][0]], [pos[a][1], pos[b][1]], color="#c4c4c4", lw=0.8, zorder=1)
    if aps:
        ax.scatter([p[0] for p in aps], [p[1] for p in aps], marker="s", s=40, color="#7f7f7f", zorder=2)
    others = [j for j in range(spec.n_agents) if j != focal]
    xy = np.array([pos[j] for j in range(spec.n_agents)], dtype=float)
    halo_list = sorted(halo)
    if halo_list:
        ax.scatter(xy[halo_list, 0], xy[halo_list, 1], s=1300, color=ACR_COLORS["halo"], alpha=0.55,
                   linewidths=0, zorder=3)
    for group, marker, size in ((others, "o", 420), ([focal], "*", 1300)):
        if not group:
            continue
        face = [fill_color if j in fill else "white" for j in group]
        edge = [ACR_COLORS["policy_acr"] if j in ring else "#404040" for j in group]
        width = [3.2 if j in ring else 1.0 for j in group]
        ax.scatter(xy[group, 0], xy[group, 1], s=size, marker=marker, c=face, edgecolors=edge,
                   linewidths=width, zorder=4)
    dark_fill = fill_color == ACR_COLORS["policy_acr"]
    for j in range(spec.n_agents):
        ax.text(xy[j, 0], xy[j, 1], str(j), ha="center", va="center", fontsize=_FONT,
                color="white" if dark_fill and j in fill else "black",
                fontweight="bold" if j == focal else "normal", zorder=5)
    dom_list = sorted(domain)
    if dom_list:
        for group, shift in (([j for j in dom_list if j != focal], 12), ([j for j in dom_list if j == focal], 17)):
            if group:
                shifted = transforms.offset_copy(ax.transData, fig=fig, x=shift, y=shift, units="points")
                ax.scatter(xy[group, 0], xy[group, 1], marker="^", s=80, color=ACR_COLORS["domain"],
                           edgecolors="white", linewidths=0.8, transform=shifted, zorder=6)
    if coords_key is not None and 0 < len(m[coords_key.replace("_coords", "_acr")]) <= _MAX_ANNOTATED_COORDS:
        for j, flags in m["agents"].items():
            names = flags[coords_key]
            if names:
                ax.annotate(_coord_label(names), xy=pos[j], xytext=(0, -17 if j != focal else -22),
                            textcoords="offset points", ha="center", va="top", fontsize=_FONT - 0.5,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                            zorder=7)
    ax.set_aspect("equal")
    ax.margins(0.12)
    ax.set_axis_off()


def _legend_handles(m: Mapping[str, Any], *, has_aps: bool, panels: Panels) -> list[Any]:
    from matplotlib.lines import Line2D

    i, k = m["agent"], m["kappa"]

    def dot(**kw: Any) -> Line2D:
        return Line2D([], [], linestyle="none", **kw)

    handles = [
        dot(marker="*", markersize=16, markerfacecolor="white", markeredgecolor="#404040",
            label=f"focal agent i = {i}"),
        dot(marker="o", markersize=15, markerfacecolor=ACR_COLORS["halo"], markeredgecolor="none", alpha=0.55,
            label=rf"$\kappa$-hop neighbourhood $N_i^\kappa$ ($\kappa$ = {k})"
                  + (" (left panel)" if panels == "split" else "")),
        dot(marker="o", markersize=11, markerfacecolor=ACR_COLORS["acr"], markeredgecolor="#404040",
            label="owns value-ACR coordinates (critic)"),
    ]
    if panels == "combined":
        handles.append(dot(marker="o", markersize=11, markerfacecolor="white", markeredgewidth=3,
                           markeredgecolor=ACR_COLORS["policy_acr"], label="owns policy-ACR coordinates (actor)"))
    else:
        handles.append(dot(marker="o", markersize=11, markerfacecolor=ACR_COLORS["policy_acr"],
                           markeredgecolor="#404040", label="owns policy-ACR coordinates (actor)"))
        handles.append(dot(marker="o", markersize=15, markerfacecolor=ACR_COLORS["halo"], markeredgecolor="none",
                           alpha=0.55, label=r"1-hop neighbourhood $N_i$ (right panel)"))
    if m["domain_acr"]:
        handles.append(dot(marker="^", markersize=9, markerfacecolor=ACR_COLORS["domain"], markeredgecolor="white",
                           label=r"domain factor $w_j$ needed (domain ACR)"))
    handles.append(Line2D([], [], color="#c4c4c4", lw=1.2, label="interaction edge"))
    if has_aps:
        handles.append(dot(marker="s", markersize=6, markerfacecolor="#7f7f7f", markeredgecolor="#7f7f7f",
                           label="access point"))
    return handles


def _default_title(m: Mapping[str, Any], env_config: Mapping[str, Any] | None) -> str:
    where = ""
    if env_config is not None and env_config.get("env") == "wireless":
        where = (f" \u2014 wireless, {env_config.get('height')} x {env_config.get('width')} user grid, "
                 f"{m['counts']['n_agents']} users")
    elif env_config is not None and env_config.get("env"):
        where = f" \u2014 {env_config.get('env')} network, {m['counts']['n_agents']} agents"
    return f"ACRs of agent {m['agent']}{where}"


def plot_acr_layout(graph: FactoredGraph, agent: int, kappa: int, path: str | os.PathLike, *,
                    env_config: Mapping[str, Any] | None = None, title: str | None = None,
                    panels: Panels = "combined", rng: int | np.random.Generator | None = 0) -> Path:
    """Draw agent ``agent``'s value, policy and domain ACRs on the network layout.

    The interaction graph is drawn on :func:`analysis.layout.network_positions`
    (thin grey edges; grey squares for wireless access points). The kappa-hop
    neighbourhood ``N_i^kappa`` gets a light blue halo, agents owning value-ACR
    coordinates are filled orange, agents owning policy-ACR coordinates get a thick
    green ring, agents whose domain factor is in the domain ACR get a small purple
    triangle, and the focal agent is a star. Owners are annotated with their ACR
    coordinates (``s5_0,s5_1``) when the ACR has at most 16 coordinates. The subtitle
    gives the counts (:func:`acr_membership` ``["counts"]``).

    Parameters
    ----------
    graph : FactoredGraph
        Learned or true graph.
    agent : int
        Focal agent.
    kappa : int
        Traceback horizon / neighbourhood radius (>= 0).
    path : str or PathLike
        PNG file to write (atomically; parent folders are created).
    env_config : mapping, optional
        ``env.config()``; a wireless config places users on the grid and draws APs.
    title : str, optional
        Figure title (default names the agent and the network).
    panels : {"combined", "split"}
        One panel with all sets, or value ACR (left, halo ``N_i^kappa``) and policy
        ACR (right, filled green, halo ``N_i``) side by side.
    rng : int or Generator
        Seed of the spring layout for networks without geometry.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    _check_graph_agent_kappa(graph, agent, kappa)
    out = _check_path(path)
    _check_title(title)
    if panels not in ("combined", "split"):
        raise ValueError(f"panels must be 'combined' or 'split', got {panels!r}")
    from matplotlib.figure import Figure

    m = acr_membership(graph, agent, kappa)
    pos = network_positions(graph.spec, env_config, rng=rng)
    aps = access_point_positions(env_config)
    flags = m["agents"]
    value_owners = {j for j, f in flags.items() if f["in_value_acr"]}
    policy_owners = {j for j, f in flags.items() if f["in_policy_acr"]}
    hood = set(m["neighborhood"])
    domain = set(m["domain_acr"])
    if panels == "combined":
        fig = Figure(figsize=(8.0, 8.2), layout="constrained")
        ax = fig.subplots()
        _draw_panel(ax, fig, graph, pos, aps, m, halo=hood, fill=value_owners, fill_color=ACR_COLORS["acr"],
                    ring=policy_owners, domain=domain, coords_key="value_coords")
        ax.set_title(_subtitle(m), fontsize=_FONT + 0.5)
        ncol = 2
    else:
        fig = Figure(figsize=(13.0, 7.4), layout="constrained")
        left, right = fig.subplots(1, 2)
        _draw_panel(left, fig, graph, pos, aps, m, halo=hood, fill=value_owners, fill_color=ACR_COLORS["acr"],
                    ring=set(), domain=domain, coords_key="value_coords")
        _draw_panel(right, fig, graph, pos, aps, m, halo=set(m["one_hop"]), fill=policy_owners,
                    fill_color=ACR_COLORS["policy_acr"], ring=set(), domain=set(), coords_key="policy_coords")
        c = m["counts"]
        left.set_title(f"value ACR (critic input): {c['value']} of {c['n_state']} coordinates\n"
                       rf"halo: $\kappa$-hop neighbourhood $N_i^\kappa$, {c['kappa_hop']} coordinates",
                       fontsize=_FONT + 1)
        right.set_title(f"policy ACR (actor input): {c['policy']} of {c['n_state']} coordinates\n"
                        rf"halo: 1-hop neighbourhood $N_i$, {len(m['one_hop'])} agents", fontsize=_FONT + 1)
        ncol = 3
    fig.suptitle(title if title is not None else _default_title(m, env_config), fontsize=13)
    fig.legend(handles=_legend_handles(m, has_aps=bool(aps), panels=panels), loc="outside lower center",
               ncol=ncol, fontsize=_FONT, frameon=False)
    return atomic_write(out, lambda fh: fig.savefig(fh, format="png", dpi=_DPI, metadata={"Software": None}))


# ----------------------------------------------------------------------------- dimension table

_TABLE_METHODS = (
    # key in acr_table, method, input, dimension key
    ("full", "Full state", "s = (s_1, ..., s_n), every agent", "full_dim"),
    ("kappa_hop", "\u03ba-hop truncation", "s_{N_i^\u03ba}, every coordinate of N_i^\u03ba", "kappa_hop_dim"),
    ("acr", "ACR (value critic)", "value ACR \u2286 s_{N_i^\u03ba}", "acr_dim"),
    ("policy_acr", "Policy ACR (actor)", "policy ACR \u2286 s_{N_i}", "policy_acr_dim"),
)
# the same inputs in matplotlib mathtext, for the figure
_INPUT_MATH = {
    "full": r"$s = (s_1, \ldots, s_n)$, every agent",
    "kappa_hop": r"$s_{N_i^\kappa}$, every coordinate of $N_i^\kappa$",
    "acr": r"value ACR $\subseteq s_{N_i^\kappa}$",
    "policy_acr": r"policy ACR $\subseteq s_{N_i}$",
}
_REQUIRED_KEYS = ("agent", "kappa") + tuple(d for *_, d in _TABLE_METHODS) + tuple(
    f"{k}_{suffix}" for k, *_ in _TABLE_METHODS for suffix in ("size", "log10_size"))


def size_text(log10_size: float, size: int | None = None, *, exact_below: float = 6.0) -> str:
    """A table size for people: the exact integer when small, ``10^x`` when huge.

    Examples
    --------
    >>> size_text(math.log10(4096), 4096)
    '4,096'
    >>> size_text(9.633, 4294967296)
    '10^9.6'
    >>> size_text(float("inf"))
    'infinite (continuous)'
    """
    if math.isinf(log10_size):
        return "infinite (continuous)"
    if size is not None and log10_size < exact_below:
        return f"{int(size):,}"
    return f"10^{log10_size:.1f}"


def _check_table_rows(table_rows: Any, agent: Any) -> list[Mapping[str, Any]]:
    if isinstance(table_rows, (str, bytes)) or not isinstance(table_rows, Sequence):
        raise TypeError(f"table_rows must be a list of acr_table rows (dicts), got {type(table_rows).__name__}")
    if not table_rows:
        raise ValueError("table_rows is empty; pass causalnet.acr.acr_table(graph, kappa=...) rows")
    for n, row in enumerate(table_rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"table_rows[{n}] must be a dict (an acr_table row), got {type(row).__name__}")
        missing = [k for k in _REQUIRED_KEYS if k not in row]
        if missing:
            raise ValueError(f"table_rows[{n}] is missing key(s) {missing}; pass causalnet.acr.acr_table rows")
    kappas = sorted({int(r["kappa"]) for r in table_rows})
    if len(kappas) != 1:
        raise ValueError(f"table_rows mix several kappa values {kappas}; pass the rows of one acr_table call")
    agents = [int(r["agent"]) for r in table_rows]
    if len(set(agents)) != len(agents):
        raise ValueError("table_rows list some agent more than once; pass the rows of one acr_table call")
    if agent is not None:
        if isinstance(agent, bool) or not isinstance(agent, (int, np.integer)) or int(agent) not in agents:
            raise ValueError(f"agent must be None or one of the agents in table_rows "
                             f"({min(agents)}..{max(agents)}), got {agent!r}")
    return list(table_rows)


def dimension_rows(table_rows: Sequence[Mapping[str, Any]], agent: int | None = None) -> list[dict[str, Any]]:
    """The slide's table "Method | Input | Dimension | Table size" from ``acr_table`` rows.

    Parameters
    ----------
    table_rows : list of dict
        :func:`causalnet.acr.acr_table` output (one row per agent, one kappa), also as
        read back from ``acr.json``.
    agent : int, optional
        Report this agent's numbers. By default report, per method, the **largest**
        value over agents (the agent with the largest table; its index is in
        ``"agent"``) and the mean dimension over agents in ``"dimension_mean"``.

    Returns
    -------
    list of dict
        One dict per method, in the order full state, kappa-hop truncation, ACR
        (value critic), policy ACR (actor), with keys ``key`` (``"full"``,
        ``"kappa_hop"``, ``"acr"``, ``"policy_acr"``), ``method``, ``input``,
        ``dimension`` (int), ``dimension_mean`` (float), ``size`` (int or None when
        huge/continuous), ``log10_size`` (float), ``size_text``, ``agent`` (the
        agent the numbers come from), ``kappa`` and ``reduction``
        (``"agent i"`` or ``"max over n agents"``).

    Examples
    --------
    >>> from causalnet.acr import acr_table
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 2, 2, 3)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s0_1"], "r1": ["s1_1"]})
    >>> rows = dimension_rows(acr_table(g, kappa=1))
    >>> [(r["key"], r["dimension"], r["size"]) for r in rows]
    [('full', 4, 16), ('kappa_hop', 4, 16), ('acr', 2, 4), ('policy_acr', 2, 4)]
    >>> [r["dimension"] for r in dimension_rows(acr_table(g, kappa=1), agent=1)]
    [4, 4, 1, 1]
    """
    rows = _check_table_rows(table_rows, agent)
    kappa = int(rows[0]["kappa"])
    if agent is not None:
        chosen = [r for r in rows if int(r["agent"]) == int(agent)]
        reduction = f"agent {int(agent)}"
    else:
        chosen = rows
        reduction = f"max over {len(rows)} agents"
    out: list[dict[str, Any]] = []
    for key, method, inp, dim_key in _TABLE_METHODS:
        log_key = f"{key}_log10_size"
        # the agent with the largest table (ties: larger dimension, then lower index)
        best = max(chosen, key=lambda r: (float(r[log_key]), int(r[dim_key]), -int(r["agent"])))
        dims = [int(r[dim_key]) for r in chosen]
        size = best[f"{key}_size"]
        log10 = float(best[log_key])
        out.append({
            "key": key, "method": method, "input": inp,
            "dimension": max(dims), "dimension_mean": float(np.mean(dims)),
            "size": None if size is None else int(size), "log10_size": log10,
            "size_text": size_text(log10, None if size is None else int(size)),
            "agent": int(best["agent"]), "kappa": kappa, "reduction": reduction,
        })
    return out


def _dimension_cell(row: Mapping[str, Any], aggregated: bool) -> str:
    if aggregated and row["dimension_mean"] != row["dimension"]:
        return f"{row['dimension']} (mean {row['dimension_mean']:.1f})"
    return str(row["dimension"])


def format_dimension_table(table_rows: Sequence[Mapping[str, Any]], agent: int | None = None) -> str:
    """The table of :func:`dimension_rows` as Markdown, with a one-line caption.

    Examples
    --------
    >>> from causalnet.acr import acr_table
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(2, [(0, 1)], 2, 2, 3)
    >>> g = FactoredGraph(spec, {"r0": ["s0_0"], "s0_0": ["s0_1"], "r1": ["s1_1"]})
    >>> print(format_dimension_table(acr_table(g, kappa=1), agent=0))
    Input dimension and table size (number of state configurations), κ = 1, agent 0.
    <BLANKLINE>
    | Method | Input | Dimension | Table size |
    |---|---|---|---|
    | Full state | s = (s_1, ..., s_n), every agent | 4 | 16 |
    | κ-hop truncation | s_{N_i^κ}, every coordinate of N_i^κ | 4 | 16 |
    | ACR (value critic) | value ACR ⊆ s_{N_i^κ} | 2 | 4 |
    | Policy ACR (actor) | policy ACR ⊆ s_{N_i} | 2 | 4 |
    """
    rows = dimension_rows(table_rows, agent)
    aggregated = agent is None
    first = rows[0]
    which = (f"largest over {len(table_rows)} agents (mean dimension in brackets)" if aggregated
             else first["reduction"])
    lines = [f"Input dimension and table size (number of state configurations), \u03ba = {first['kappa']}, "
             f"{which}.", "", "| Method | Input | Dimension | Table size |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['input']} | {_dimension_cell(r, aggregated)} | {r['size_text']} |")
    return "\n".join(lines)


def _mathtext_size(text: str) -> str:
    if text.startswith("10^"):
        return f"$10^{{{text[3:]}}}$"
    return text


def plot_dimension_table(table_rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *,
                         agent: int | None = None, title: str | None = None) -> Path:
    """Draw the dimension table above a log-scale bar chart of the table sizes.

    Top: the table "Method | Input | Dimension | Table size" of :func:`dimension_rows`.
    Bottom: one horizontal bar per method, length ``log10(table size)``, labelled with
    the size and the dimension; colours match :func:`plot_acr_layout` (orange value
    ACR, green policy ACR).

    Parameters
    ----------
    table_rows : list of dict
        :func:`causalnet.acr.acr_table` rows.
    path : str or PathLike
        PNG file to write (atomically).
    agent : int, optional
        One agent's numbers; default the largest over agents (see :func:`dimension_rows`).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    out = _check_path(path)
    _check_title(title)
    rows = dimension_rows(table_rows, agent)
    aggregated = agent is None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[1.0, 1.25])
    top.set_axis_off()
    cells = [[r["method"], _INPUT_MATH[r["key"]], _dimension_cell(r, aggregated), _mathtext_size(r["size_text"])]
             for r in rows]
    table = top.table(cellText=cells, colLabels=["Method", "Input", "Dimension", "Table size"], loc="center",
                      cellLoc="left", colLoc="left", colWidths=[0.2, 0.44, 0.17, 0.19])
    table.auto_set_font_size(False)
    table.set_fontsize(_FONT + 0.5)
    table.scale(1.0, 1.75)
    for (r, _c), cell in table.get_celld().items():
        cell.set_edgecolor("#d0d0d0")
        if r == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#eeeeee")
    for n, r in enumerate(rows, start=1):
        table[n, 0].get_text().set_color(ACR_COLORS[r["key"]] if r["key"] != "full" else "#404040")
    finite = [r["log10_size"] for r in rows if math.isfinite(r["log10_size"])]
    top_x = max(finite, default=1.0)
    labels = [r["method"] for r in rows][::-1]
    ypos = np.arange(len(rows))
    for y, r in zip(ypos, rows[::-1]):
        value = r["log10_size"]
        length = value if math.isfinite(value) else top_x
        bottom.barh(y, length, color=ACR_COLORS[r["key"]], height=0.6, hatch=None if math.isfinite(value) else "//")
        bottom.text(length + 0.01 * max(top_x, 1.0), y,
                    f" {_mathtext_size(r['size_text'])} entries, dimension {_dimension_cell(r, aggregated)}",
                    va="center", ha="left", fontsize=_FONT)
    bottom.set_yticks(ypos, labels, fontsize=_FONT + 0.5)
    # room on the right for the labels, but the axis (spine and ticks) stops at the largest bar
    axis_end = float(math.ceil(max(top_x, 1.0)))
    bottom.set_xlim(0, max(top_x, 1.0) * 1.55)
    step = max(1.0, float(math.ceil(axis_end / 8.0)))
    bottom.set_xticks(np.arange(0.0, axis_end + 0.5 * step, step))
    bottom.spines["bottom"].set_bounds(0.0, axis_end)
    bottom.set_xlabel("log10(table size) = log10(number of state configurations of the input)", fontsize=_FONT + 0.5)
    bottom.tick_params(axis="x", labelsize=_FONT)
    bottom.spines[["top", "right"]].set_visible(False)
    bottom.grid(axis="x", color="#e5e5e5", zorder=0)
    bottom.set_axisbelow(True)
    first = rows[0]
    which = (f"largest over {len(table_rows)} agents (mean dimension in brackets)" if aggregated
             else first["reduction"])
    fig.suptitle(title if title is not None else "Input dimension and table size: full state, \u03ba-hop, ACR",
                 fontsize=13)
    bottom.set_title(f"\u03ba = {first['kappa']}; {which}", fontsize=_FONT + 1)
    return atomic_write(out, lambda fh: fig.savefig(fh, format="png", dpi=_DPI, metadata={"Software": None}))
