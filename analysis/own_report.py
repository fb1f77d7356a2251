"""The report of a ``causalnet run`` on your own system (logs and/or a PettingZoo simulator).

Same layout and renderers as :mod:`analysis.report`, built only from the run folder's
files. Every return measured in the discovered model is labelled a *model-based
estimate*; when a simulator was given, its measurements sit beside them.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from analysis.report import Block, ReportError, _fmt, _markdown_blocks, render_html, render_markdown
from causalnet.io import atomic_write_text

__all__ = ["OWN_REQUIRED_FILES", "build_own_report", "own_report_blocks", "margin_share"]

logger = logging.getLogger(__name__)

OWN_REQUIRED_FILES = ("config.json", "network.json", "data_summary.json", "discovery.json", "acr.json",
                      "domain_factors.json", "training.json", "adaptation.json", "metrics.json", "codebook.json")
LABELS = {"gsac": "GSAC (zero-shot)", "sac-mtl": "SAC-MTL (zero-shot)", "sac-ft": "SAC-FT (fine-tuned)",
          "sac-lfs": "SAC-LFS (from scratch)", "uniform": "uniform policy"}


def margin_share(value: float, low: float, high: float) -> float | None:
    """``(value - low) / (high - low)``: the share of the margin from ``low`` to ``high`` that ``value`` recovers.

    >>> margin_share(0.5, 0.0, 2.0)
    0.25
    """
    if high == low:
        return None
    return float((value - low) / (high - low))


def _ci_text(stat: dict[str, Any] | None) -> str:
    if not stat:
        return "-"
    lo, hi = (stat.get("ci95") or [None, None])[:2]
    if lo is None or hi is None:
        return _fmt(stat.get("mean"))
    return f"{_fmt(stat['mean'])} [{_fmt(lo)}, {_fmt(hi)}]"


def _load(folder: Path) -> dict[str, Any]:
    missing = [n for n in OWN_REQUIRED_FILES if not (folder / n).is_file()]
    if missing:
        raise ReportError(f"{folder} is not a finished own-system run: missing {', '.join(missing)}")
    out = {}
    for name in OWN_REQUIRED_FILES + ("simulator_evaluation.json", "run_state.json"):
        p = folder / name
        if p.is_file():
            try:
                out[name[:-5]] = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ReportError(f"cannot read {p}: {exc}") from None
    return out


def draw_own_figures(folder: Path, results: dict[str, Any]) -> dict[str, Path]:
    """Training and adaptation curves (model-based estimates) and the ACR dimension table."""
    from analysis.plot_acr import plot_dimension_table
    from analysis.plot_curves import plot_adaptation_curves, plot_training_curves

    fig_dir = folder / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    target = results["network"]["target_domain"]
    return {
        "training": plot_training_curves(results["training"]["methods"], fig_dir / "training_curves.png",
                                         title=f"Meta-training in the discovered model, target {target!s} "
                                               "(model-based estimate)"),
        "adaptation": plot_adaptation_curves(results["adaptation"], fig_dir / "adaptation_curves.png",
                                             title=f"Target {target!s}: model-based estimate"),
        "dimensions": plot_dimension_table(results["acr"]["table"], fig_dir / "acr_dimensions.png"),
    }


def own_report_blocks(results: dict[str, Any], figures: dict[str, Path]) -> list[Block]:
    """The report's content (figure paths relative to the run folder)."""
    from analysis.plot_acr import format_dimension_table

    m, net, data = results["metrics"], results["network"], results["data_summary"]
    sysm = m["system"]
    sim = results.get("simulator_evaluation")
    fig = {k: f"figures/{p.name}" for k, p in figures.items()}
    known = sysm.get("target_factor_known")
    blocks = [Block("heading", "causalnet run report: your own system", level=1),
              Block("paragraph", f"{sysm['n_agents']} agents, {data['n_state_coordinates']} state coordinates, "
                                 f"logs from the {sysm['origin']}. Target domain {sysm['target_domain']!s}"
                                 + (f" (true factor {known})" if known is not None else "")
                                 + f". gamma {sysm['gamma']}, horizon {sysm['horizon']}; {sysm['runs']} runs per "
                                 f"method, {sysm['meta_iterations']} meta-training iterations. Metric: "
                                 f"{sysm['metric']}.")]
    rows = []
    for name, stats in [*m["methods"].items(), *m["reference"].items()]:
        mb = stats["model_based_estimate"]
        row = [LABELS.get(name, name), _ci_text(mb["zero_shot"]), _ci_text(mb["final_return"])]
        if sim is not None:
            row.append(_ci_text(stats.get("simulator")))
        rows.append(tuple(row))
    header = ["method", "zero-shot return (model-based estimate)",
              f"after {sysm['adaptation_episodes']} target episodes (model-based estimate)"]
    if sim is not None:
        header.append(f"deployed, in the simulator at factor {sim['target_factor']}")
    text = ("Returns in the target domain, mean over runs with 95% confidence intervals. Without a simulator the "
            "target can only be evaluated in the discovered model of the target domain: these numbers are "
            "model-based estimates.")
    if sim is not None:
        text += (" The last column runs the deployed policies (GSAC and SAC-MTL zero-shot, SAC-FT and SAC-LFS after "
                 "their target episodes in the model) in the real simulator.")
    blocks += [Block("heading", "Results in the target domain"), Block("paragraph", text),
               Block("table", header=tuple(header), rows=tuple(rows)),
               Block("figure", "Adaptation curves in the discovered target model (model-based estimate).",
                     path=fig["adaptation"])]
    drows = tuple((str(d["label"]), _fmt(d.get("factor"), 4), str(d["rows"]), str(d["episodes"]),
                   _fmt(d["mean_reward_per_agent"])) for d in data["domains"])
    blocks += [Block("heading", "1. Logs"),
               Block("paragraph", f"{data['rows']} source rows; {data['target_rows']} target rows "
                                  f"({data['target']['episodes']} episodes) labelled {data['target']['label']!s}. "
                                  "Values are coded 0..K-1; codebook.json holds the labels."),
               Block("table", header=("domain", "known factor", "rows", "episodes", "mean reward per agent"),
                     rows=drows)]
    disc = results["discovery"]
    blocks += [Block("heading", "2. Discovered structure"),
               Block("paragraph", f"Local constraint-based discovery ({disc['ci_test']}, alpha {disc['alpha']}, "
                                  f"{disc['n_tests']} tests) found {disc['n_edges']} edges; "
                                  f"{len(disc['domain_affected'])} variables depend on the domain: "
                                  f"{', '.join(disc['domain_affected'][:12]) or 'none'}"
                                  f"{' ...' if len(disc['domain_affected']) > 12 else ''}.")]
    acr = results["acr"]
    blocks += [Block("heading", "3. Approximately compact representations"),
               Block("paragraph", f"kappa = {acr['kappa']}."),
               *_markdown_blocks(format_dimension_table(acr["table"])),
               Block("figure", "Input dimensions and table sizes.", path=fig["dimensions"])]
    df = results["domain_factors"]
    c = df["coordinates"]
    frows = [(str(d["label"]), _fmt(c["sources"][k], 4),
              _fmt(float(np.nanmean([np.nan if v is None else v for v in df["w_hat_sources"][k]])), 4))
             for k, d in enumerate(data["domains"])]
    w_t = [np.nan if v is None else v for v in df["w_hat_target"]]
    frows.append((f"{sysm['target_domain']!s} (target)", _fmt(c["target"], 4), _fmt(float(np.nanmean(w_t)), 4)))
    blocks += [Block("heading", "4. Domain factors"),
               Block("paragraph", f"Estimator: {df.get('estimator')}. Coordinates in {c['units']} units "
                                  + ("(calibrated on the known source factors)" if c["units"] == "user" else "")
                                  + (f"; the target's true factor is {known}" if known is not None else "") + "."),
               Block("table", header=("domain", "coordinate used", "mean raw w_hat"), rows=tuple(frows))]
    trows = tuple((name, _fmt(tr["mean"][-1]), _fmt(tr.get("train_seconds"), 1))
                  for name, tr in results["training"]["methods"].items())
    blocks += [Block("heading", "5. Meta-training inside the discovered model"),
               Block("table", header=("method", "final return (model-based estimate)", "training seconds"),
                     rows=trows),
               Block("figure", "Training curves in the discovered model (model-based estimate).",
                     path=fig["training"]),
               Block("heading", "6. Reproduce"),
               Block("code", "causalnet run --config config.toml --out NEW_FOLDER")]
    return blocks


def build_own_report(folder: str | os.PathLike) -> list[Path]:
    """Draw the figures and write ``report.md`` and ``report.html`` of an own-system run folder."""
    folder = Path(folder)
    results = _load(folder)
    figures = draw_own_figures(folder, results)
    blocks = own_report_blocks(results, figures)
    md = atomic_write_text(folder / "report.md", render_markdown(blocks))
    page = atomic_write_text(folder / "report.html", render_html(blocks, folder))
    return [*figures.values(), md, page]
