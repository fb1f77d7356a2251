"""Compare a learned factored graph with a reference (ground-truth) graph.

Edges of a factored graph are oriented by time, so the structural Hamming
distance (SHD) is simply the number of missing plus extra edges. Metrics are
given overall and per mask type (``by_mask``):

``state->state``, ``action->state``, ``domain->state``, ``state->reward``,
``action->reward``, ``domain->reward``.

Edge cases (documented in ``docs/graph-format.md``): precision is 1.0 when the
learned graph predicts no edge (no false claims were made), recall is 1.0 when
the reference has no edge (nothing was missed), and F1 is 1.0 when both are
empty, 0.0 when precision + recall is 0, else the harmonic mean.
"""

from __future__ import annotations

from typing import Any

from causalnet.graph import FactoredGraph, GraphError

__all__ = ["compare_graphs", "edge_type", "EDGE_TYPES"]

#: Mask types, in reporting order.
EDGE_TYPES = ("state->state", "action->state", "domain->state",
              "state->reward", "action->reward", "domain->reward")


def edge_type(graph: FactoredGraph, parent: str, target: str) -> str:
    """Mask type of the edge ``parent -> target``, e.g. ``"action->state"``.

    >>> from causalnet.spec import default_spec
    >>> g = FactoredGraph(default_spec(1, [], 1, 2, 2), {"r0": ["a0"]})
    >>> edge_type(g, "a0", "r0")
    'action->reward'
    """
    kind = graph.spec.variable_kinds
    return f"{kind[parent]}->{kind[target]}"


def _scores(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = 1.0 if tp + fp == 0 else tp / (tp + fp)
    recall = 1.0 if tp + fn == 0 else tp / (tp + fn)
    if tp + fp == 0 and tp + fn == 0:
        f1 = 1.0
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "shd": fp + fn,
            "tp": tp, "fp": fp, "fn": fn}


def compare_graphs(learned: FactoredGraph, truth: FactoredGraph) -> dict[str, Any]:
    """Precision, recall, F1, SHD and counts of ``learned`` against ``truth``.

    Parameters
    ----------
    learned, truth : FactoredGraph
        Graphs over the same variables (equal specs).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``shd``, ``tp``, ``fp``, ``fn`` over all
        edges, ``by_mask`` with the same keys for each of :data:`EDGE_TYPES`, and
        ``missing`` / ``extra``: sorted lists of ``[parent, target]`` pairs.

    Raises
    ------
    GraphError
        If the two graphs have different specs.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(1, [], 1, 2, 2)
    >>> truth = FactoredGraph(spec, {"s0_0": ["s0_0", "domain"], "r0": ["a0"]})
    >>> learned = FactoredGraph(spec, {"s0_0": ["s0_0", "a0"], "r0": ["a0"]})
    >>> m = compare_graphs(learned, truth)
    >>> m["tp"], m["fp"], m["fn"], m["shd"], round(m["f1"], 3)
    (2, 1, 1, 2, 0.667)
    >>> m["by_mask"]["domain->state"]["recall"]
    0.0
    """
    for name, g in (("learned", learned), ("truth", truth)):
        if not isinstance(g, FactoredGraph):
            raise TypeError(f"{name} must be a FactoredGraph, got {type(g).__name__}")
    if learned.spec != truth.spec:
        raise GraphError("learned and truth graphs have different specs; compare graphs over the same variables")
    pred, true = set(learned.edges()), set(truth.edges())
    tp, fp, fn = pred & true, pred - true, true - pred
    result = _scores(len(tp), len(fp), len(fn))
    by_mask = {}
    for kind in EDGE_TYPES:
        count = lambda edges: sum(1 for p, t in edges if edge_type(truth, p, t) == kind)  # noqa: E731
        by_mask[kind] = _scores(count(tp), count(fp), count(fn))
    result["by_mask"] = by_mask
    result["missing"] = [list(e) for e in sorted(fn)]
    result["extra"] = [list(e) for e in sorted(fp)]
    return result
