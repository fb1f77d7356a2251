"""Analysis of learned structure and learning results: metrics, figures, reports.

Modules
-------
structure
    Learned versus true graph: precision, recall, F1, SHD per mask type; edge lists.
plot_graph
    Two-slice graph of one agent's neighbourhood with true/false positives and misses.
layout, plot_acr
    Network layouts; an agent's value/policy ACR and kappa-hop neighbourhood on it;
    the table of input dimensions and table sizes (full state, truncation, ACR).
factor_error
    Domain-factor estimation error against the number of target trajectories.
plot_curves, style
    Training curves and adaptation curves with 95% bands; method colours.
report
    Figures and ``report.md``/``report.html`` of a ``causalnet run`` folder.
sweep
    The table (mean and 95% CI per setting and method) and figure of a ``causalnet sweep``.

The names below are importable from ``analysis`` directly; they load their module
(and matplotlib) on first use, so ``import analysis`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "structure_metrics": "structure", "format_structure_table": "structure", "classify_edges": "structure",
    "neighbourhood_slice": "plot_graph", "plot_two_slice": "plot_graph",
    "network_positions": "layout", "access_point_positions": "layout",
    "acr_membership": "plot_acr", "plot_acr_layout": "plot_acr", "dimension_rows": "plot_acr",
    "format_dimension_table": "plot_acr", "plot_dimension_table": "plot_acr",
    "factor_error_curve": "factor_error",
    "plot_training_curves": "plot_curves", "plot_adaptation_curves": "plot_curves",
    "plot_factor_error": "plot_curves",
    "build_report": "report", "ReportError": "report",
    "sweep_rows": "sweep", "write_sweep_tables": "sweep", "plot_sweep": "sweep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"analysis.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
