"""How well a learned factored graph matches the true one: metrics, edge lists and a table.

:func:`structure_metrics` extends :func:`causalnet.graph_metrics.compare_graphs`
(precision, recall, F1 and structural Hamming distance overall and per mask type)
with the explicit lists of true-positive, false-positive and false-negative edges;
:func:`format_structure_table` prints it as a Markdown table; :func:`classify_edges`
sorts the edges into those three classes, optionally only the edges into some
targets (what :mod:`analysis.plot_graph` draws).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from causalnet.graph import FactoredGraph, GraphError
from causalnet.graph_metrics import EDGE_TYPES, compare_graphs

__all__ = ["EdgeStatus", "classify_edges", "check_graph_pair", "format_structure_table", "structure_metrics"]

#: Class of an edge: true positive, false positive (extra), false negative (missed),
#: or ``"learned"`` when there is no true graph to compare with.
EdgeStatus = Literal["tp", "fp", "fn", "learned"]

_UNDEFINED = "–"


def check_graph_pair(learned: FactoredGraph, truth: FactoredGraph | None) -> None:
    """Raise unless ``learned`` is a FactoredGraph and ``truth`` is None or one over the same spec.

    Raises
    ------
    TypeError
        Either argument is not a :class:`~causalnet.graph.FactoredGraph` (``truth`` may be None).
    GraphError
        The two graphs have different specs (a ``ValueError``).
    """
    if not isinstance(learned, FactoredGraph):
        raise TypeError(f"learned must be a FactoredGraph, got {type(learned).__name__}")
    if truth is None:
        return
    if not isinstance(truth, FactoredGraph):
        raise TypeError(f"truth must be a FactoredGraph or None, got {type(truth).__name__}")
    if learned.spec != truth.spec:
        raise GraphError("learned and truth graphs have different specs; compare graphs over the same variables")


def classify_edges(learned: FactoredGraph, truth: FactoredGraph | None, *,
                   variables: Iterable[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Split edges into true positives, false positives and false negatives.

    Parameters
    ----------
    learned : FactoredGraph
        The learned graph.
    truth : FactoredGraph or None
        The true graph over the same spec. ``None`` means there is nothing to compare
        with: every learned edge is returned under ``"learned"``.
    variables : iterable of str, optional
        Keep only edges whose *target* (a next-state coordinate or reward) is one of
        these names. Default: all edges.

    Returns
    -------
    dict
        ``{"tp": [...], "fp": [...], "fn": [...]}`` (or ``{"learned": [...]}`` when
        ``truth`` is None), each a sorted list of ``(parent, target)`` tuples.

    Raises
    ------
    TypeError
        A graph is not a FactoredGraph, or ``variables`` is a single string.
    GraphError
        The graphs have different specs.
    ValueError
        ``variables`` names something that is not a target of the spec.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> truth = FactoredGraph(spec, {"s0_0": ["s0_0", "domain"], "r0": ["a0"]})
    >>> learned = FactoredGraph(spec, {"s0_0": ["s0_0", "a0"], "r0": ["a0"]})
    >>> classify_edges(learned, truth)
    {'tp': [('a0', 'r0'), ('s0_0', 's0_0')], 'fp': [('a0', 's0_0')], 'fn': [('domain', 's0_0')]}
    >>> classify_edges(learned, truth, variables=["r0"])
    {'tp': [('a0', 'r0')], 'fp': [], 'fn': []}
    """
    check_graph_pair(learned, truth)
    keep = _target_filter(learned, variables)
    pred = {e for e in learned.edges() if keep(e[1])}
    if truth is None:
        return {"learned": sorted(pred)}
    true = {e for e in truth.edges() if keep(e[1])}
    return {"tp": sorted(pred & true), "fp": sorted(pred - true), "fn": sorted(true - pred)}


def _target_filter(graph: FactoredGraph, variables: Iterable[str] | None):
    if variables is None:
        return lambda target: True
    if isinstance(variables, str):
        raise TypeError(f"variables must be an iterable of target names, not the single string {variables!r}")
    wanted = set(variables)
    targets = set(graph.targets)
    unknown = sorted(wanted - targets)
    if unknown:
        raise ValueError(f"variables {unknown} are not targets of the graph; targets are next-state "
                         "coordinates and rewards of the spec")
    return wanted.__contains__


def structure_metrics(learned: FactoredGraph, truth: FactoredGraph) -> dict[str, Any]:
    """Precision, recall, F1, SHD and edge lists of ``learned`` against ``truth``.

    Parameters
    ----------
    learned, truth : FactoredGraph
        Graphs over the same spec.

    Returns
    -------
    dict
        JSON-ready. Everything :func:`causalnet.graph_metrics.compare_graphs` returns
        (``precision``, ``recall``, ``f1``, ``shd``, ``tp``, ``fp``, ``fn``, ``by_mask``
        per edge type, ``missing``, ``extra``) plus ``n_learned_edges``,
        ``n_true_edges`` and the sorted ``[parent, target]`` lists ``true_positives``,
        ``false_positives`` and ``false_negatives``. Scores follow the conventions of
        ``compare_graphs`` (precision 1.0 when nothing is predicted, recall 1.0 when
        nothing is true); :func:`format_structure_table` prints those undefined cases as
        "–".

    Raises
    ------
    TypeError
        A graph is not a FactoredGraph.
    GraphError
        The graphs have different specs.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> truth = FactoredGraph(spec, {"s0_0": ["s0_0", "domain"], "r0": ["a0"]})
    >>> learned = FactoredGraph(spec, {"s0_0": ["s0_0", "a0"], "r0": ["a0"]})
    >>> m = structure_metrics(learned, truth)
    >>> m["false_positives"], m["false_negatives"], m["shd"]
    ([['a0', 's0_0']], [['domain', 's0_0']], 2)
    """
    check_graph_pair(learned, truth)
    if truth is None:
        raise TypeError("truth must be a FactoredGraph, got NoneType")
    result = compare_graphs(learned, truth)
    classes = classify_edges(learned, truth)
    result["n_learned_edges"] = learned.n_edges()
    result["n_true_edges"] = truth.n_edges()
    result["true_positives"] = [list(e) for e in classes["tp"]]
    result["false_positives"] = [list(e) for e in classes["fp"]]
    result["false_negatives"] = [list(e) for e in classes["fn"]]
    return result


def _cell(row: Mapping[str, Any], key: str) -> str:
    """One score cell: "–" when missing, None, or undefined by the counts."""
    value = row.get(key)
    tp, fp, fn = (row.get(k) for k in ("tp", "fp", "fn"))
    if None not in (tp, fp, fn):
        undefined = {"precision": tp + fp == 0, "recall": tp + fn == 0,
                     "f1": tp + fp + fn == 0}[key]
        if undefined:
            return _UNDEFINED
    if value is None:
        return _UNDEFINED
    return f"{float(value):.3f}"


def _count(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return _UNDEFINED if value is None else str(int(value))


def format_structure_table(metrics: Mapping[str, Any]) -> str:
    """Markdown table of :func:`structure_metrics` (or ``compare_graphs``) output.

    Rows: ``all edges``, then each edge type of ``metrics["by_mask"]`` (in the order of
    :data:`causalnet.graph_metrics.EDGE_TYPES`, then any others). Columns: precision,
    recall, F1, SHD, TP, FP, FN. A score that is undefined — precision when no edge of
    the row was predicted, recall when the true graph has none, F1 when both — or
    missing is shown as "–".

    Parameters
    ----------
    metrics : mapping
        Needs the overall keys and, optionally, ``by_mask``.

    Returns
    -------
    str
        The table, one line per row, ending without a newline.

    Raises
    ------
    TypeError
        ``metrics`` is not a mapping, or ``by_mask`` not a mapping of mappings.

    Examples
    --------
    >>> m = {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "shd": 1, "tp": 1, "fp": 0, "fn": 1,
    ...      "by_mask": {"domain->state": {"precision": 1.0, "recall": 0.0, "f1": 0.0,
    ...                                    "shd": 1, "tp": 0, "fp": 0, "fn": 1}}}
    >>> print(format_structure_table(m))
    | edges | precision | recall | F1 | SHD | TP | FP | FN |
    |---|---:|---:|---:|---:|---:|---:|---:|
    | all edges | 1.000 | 0.500 | 0.667 | 1 | 1 | 0 | 1 |
    | domain->state | – | 0.000 | 0.000 | 1 | 0 | 0 | 1 |
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping (output of structure_metrics), got {type(metrics).__name__}")
    by_mask = metrics.get("by_mask") or {}
    if not isinstance(by_mask, Mapping) or not all(isinstance(v, Mapping) for v in by_mask.values()):
        raise TypeError("metrics['by_mask'] must map edge types to mappings of scores")
    order = [k for k in EDGE_TYPES if k in by_mask] + sorted(k for k in by_mask if k not in EDGE_TYPES)
    rows = [("all edges", metrics)] + [(k, by_mask[k]) for k in order]
    lines = ["| edges | precision | recall | F1 | SHD | TP | FP | FN |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows:
        cells = [_cell(row, "precision"), _cell(row, "recall"), _cell(row, "f1"),
                 _count(row, "shd"), _count(row, "tp"), _count(row, "fp"), _count(row, "fn")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
