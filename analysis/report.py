"""Figures and the report of a run folder, built only from its saved files.

:func:`build_report` is what the last stage of ``causalnet run`` and the command
``causalnet report RUN_DIR`` call: it reads the JSON results of the run (see
``docs/pipeline.md`` for the folder layout), draws every figure into
``RUN_DIR/figures/`` and writes ``report.md`` and a self-contained ``report.html``
(figures embedded). Nothing is recomputed, so a report can be rebuilt (for example
after changing the figure code or choosing another agent) in seconds.

The report is assembled as a list of blocks (heading, paragraph, table, figure, code)
rendered twice, once as Markdown and once as HTML, so both always say the same.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from causalnet.errors import CausalnetError
from causalnet.graph import FactoredGraph
from causalnet.acr_file import read_acr
from causalnet.errors import InputFileError
from causalnet.io import atomic_write_text
from causalnet.progress_log import PROGRESS_JSONL, read_progress

__all__ = ["PROGRESS_FIGURE", "ReportError", "build_progress_report", "build_report", "default_agent", "render_html",
           "render_markdown", "report_blocks"]

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("config.json", "env.json", "data_summary.json", "graph.json", "true_graph.json",
                  "structure_metrics.json", "acr.json", "domain_factors.json", "training.json",
                  "adaptation.json", "metrics.json")

FIGURES = {"structure": "two_slice_graph.png", "acr": "acr_layout.png", "dimensions": "acr_dimensions.png",
           "training": "training_curves.png", "adaptation": "adaptation_curves.png",
           "factor_error": "domain_factor_error.png"}
#: File name of the figure drawn from the streamed evaluation log.
PROGRESS_FIGURE = "progress_curves.png"


#: Legend labels of the training figure (the methods are not yet deployed there).
TRAINING_LABELS = {"gsac": "GSAC", "sac-mtl": "SAC-MTL", "sac-ft": "SAC-FT (pre-training)"}


class ReportError(CausalnetError, ValueError):
    """The run folder lacks a result file the report needs, or a file is unreadable."""


@dataclass(frozen=True)
class Block:
    """One element of the report: ``kind`` in heading/paragraph/table/figure/code/list."""

    kind: str
    text: str = ""
    level: int = 2
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    items: tuple[str, ...] = ()
    path: str = ""


def default_agent(graph: FactoredGraph) -> int:
    """The agent with the most neighbours in the interaction graph (lowest index on ties).

    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 2)
    >>> default_agent(FactoredGraph(spec, {}))
    1
    """
    spec = graph.spec
    degrees = [len(spec.neighborhood(i, 1)) for i in range(spec.n_agents)]
    return int(np.argmax(degrees))


def _load(folder: Path) -> dict[str, Any]:
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ReportError(f"{folder} is not a finished run folder: missing {', '.join(missing)} "
                          "(run `causalnet run --resume --out` on it first)")
    out: dict[str, Any] = {}
    for name in REQUIRED_FILES:
        if name.endswith(".json") and name not in ("graph.json", "true_graph.json"):
            try:
                out[name[:-5]] = json.loads((folder / name).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ReportError(f"cannot read {folder / name}: {exc}") from exc
    try:
        out["acr"] = read_acr(folder / "acr.json")
    except InputFileError as exc:
        raise ReportError(str(exc)) from None
    out["graph"] = FactoredGraph.load(folder / "graph.json")
    out["true_graph"] = FactoredGraph.load(folder / "true_graph.json")
    state = folder / "run_state.json"
    out["run_state"] = json.loads(state.read_text(encoding="utf-8")) if state.is_file() else {}
    out["folder"] = folder.resolve()
    out["progress"] = []
    if (folder / PROGRESS_JSONL).is_file():
        try:
            out["progress"] = read_progress(folder)
        except InputFileError as exc:
            raise ReportError(str(exc)) from None
    return out


# ------------------------------------------------------------------ figures
def draw_figures(folder: Path, results: dict[str, Any], agent: int) -> dict[str, Path]:
    """Draw every figure of the report into ``folder/figures``; return them by key."""
    from analysis.plot_acr import plot_acr_layout, plot_dimension_table
    from analysis.plot_curves import plot_adaptation_curves, plot_factor_error, plot_training_curves
    from analysis.plot_graph import plot_two_slice

    fig_dir = folder / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    kappa = int(results["acr"]["kappa"])
    graph, truth = results["graph"], results["true_graph"]
    target = results["metrics"]["benchmark"]["target"]
    uniform = results["metrics"].get("reference", {}).get("uniform")
    reference = {"uniform policy": uniform["zero_shot"]["mean"]} if uniform else None
    paths = {
        "structure": plot_two_slice(graph, truth, agent, fig_dir / FIGURES["structure"]),
        "acr": plot_acr_layout(graph, agent, kappa, fig_dir / FIGURES["acr"], env_config=results["env"]),
        "dimensions": plot_dimension_table(results["acr"]["table"], fig_dir / FIGURES["dimensions"], agent=agent),
        "training": plot_training_curves(results["training"]["methods"], fig_dir / FIGURES["training"],
                                         title=f"Meta-training, evaluated in the target domain (w = {target})",
                                         reference=reference, labels=TRAINING_LABELS),
        "adaptation": plot_adaptation_curves(results["adaptation"], fig_dir / FIGURES["adaptation"],
                                             title=f"Adaptation to the target domain (w = {target})"),
        "factor_error": plot_factor_error(results["domain_factors"]["error_curve"],
                                          fig_dir / FIGURES["factor_error"]),
    }
    if results.get("progress"):
        from analysis.plot_progress import plot_progress
        paths["progress"] = plot_progress(results["progress"], fig_dir / PROGRESS_FIGURE)
    return paths


def build_progress_report(folder: str | os.PathLike) -> list[Path]:
    """Draw ``figures/progress_curves.png`` from ``folder/progress.jsonl`` alone (any run, finished or not).

    Raises
    ------
    ReportError
        If the folder has no readable progress log or the log holds no point yet.
    """
    from analysis.plot_progress import plot_progress

    folder = Path(folder)
    try:
        records = read_progress(folder)
    except InputFileError as exc:
        raise ReportError(f"no usable progress log: {exc}") from None
    if not records:
        raise ReportError(f"{folder / PROGRESS_JSONL} holds no evaluation point yet")
    return [plot_progress(records, folder / "figures" / PROGRESS_FIGURE)]


# ------------------------------------------------------------------ blocks
def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    return "–" if not np.isfinite(x) else f"{x:.{digits}f}"


def _with_ci(stat: dict[str, Any] | None) -> str:
    if not stat:
        return "–"
    lo, hi = stat.get("ci95", [None, None])
    if lo is None or hi is None:
        return _fmt(stat["mean"])
    return f"{_fmt(stat['mean'])} [{_fmt(lo)}, {_fmt(hi)}]"


def report_blocks(results: dict[str, Any], figures: dict[str, Path], agent: int) -> list[Block]:
    """The report's content as blocks (figure paths relative to the run folder)."""
    from analysis.plot_acr import format_dimension_table
    from analysis.structure import format_structure_table

    m = results["metrics"]
    bench = m["benchmark"]
    cfg = results["config"]
    data = results["data_summary"]
    env = results["env"]
    fig = {k: f"figures/{p.name}" for k, p in figures.items()}
    env_text = (f"wireless access network, {env['height'] - 1} x {env['width'] - 1} access points, "
                f"{bench['n_agents']} users, deadline {env['deadline']}" if env.get("env") == "wireless"
                else f"{env.get('env')} network, {bench['n_agents']} agents")
    blocks = [Block("heading", "causalnet run report", level=1),
              Block("paragraph", f"Benchmark: {env_text}. Source domains {bench['sources']}, target domain "
                                 f"{bench['target']}. {bench['runs']} independent runs per method, "
                                 f"{bench['meta_iterations']} meta-training iterations, "
                                 f"{bench['adaptation_episodes']} target episodes. Metric: {bench['metric']}.")]
    # headline
    labelled = [*m["methods"].items(), *((f"{k} (reference)", v) for k, v in m.get("reference", {}).items())]
    rows = [(name, _with_ci(stats["zero_shot"]), _with_ci(stats["adaptation"]["curve_average"]),
             _with_ci(stats["adaptation"]["final_return"])) for name, stats in labelled]
    blocks += [Block("heading", "Results in the target domain"),
               Block("paragraph", "Mean over runs with Student-t 95% confidence intervals. Zero-shot: before any "
                                  "target episode (GSAC and SAC-MTL with the target factor estimated from "
                                  f"{results['adaptation']['target_estimates']['trajectories']} trajectories, "
                                  "SAC-FT with its pre-trained policy, SAC-LFS untrained). Curve average: mean "
                                  f"over target episodes 1..{bench['adaptation_episodes']}. GSAC and SAC-MTL stay "
                                  "frozen; SAC-FT and SAC-LFS learn one iteration per target episode."),
               Block("table", header=("method", "zero-shot return", "adaptation-curve average",
                                      f"return after {bench['adaptation_episodes']} episodes"), rows=tuple(rows)),
               Block("figure", "Adaptation curves: return after each of the first target episodes "
                               "(bands: 95% CI over runs).", path=fig["adaptation"])]
    # data
    drows = tuple((str(d["domain"]), _fmt(d["factor"], 2), str(d["rows"]), str(d["episodes"]),
                   _fmt(d["mean_reward_per_agent"])) for d in data["domains"])
    blocks += [Block("heading", "1. Source data"),
               Block("paragraph", f"{data['rows']} transitions from a uniformly random policy, "
                                  f"{data['episodes_per_domain']} episodes of {data['horizon']} steps per domain; "
                                  f"{data['n_agents']} agents, {data['n_state_coordinates']} state coordinates."),
               Block("table", header=("domain", "factor", "rows", "episodes", "mean reward per agent"), rows=drows)]
    # structure
    s = results["structure_metrics"]
    blocks += [Block("heading", "2. Discovered structure"),
               Block("paragraph", f"Local constraint-based discovery (alpha {cfg['discovery']['alpha']}, "
                                  f"{cfg['discovery']['ci_test']} test) against the simulator's true graph: "
                                  f"precision {_fmt(s['precision'], 3)}, recall {_fmt(s['recall'], 3)}, "
                                  f"F1 {_fmt(s['f1'], 3)}, SHD {s['shd']}."),
               *_markdown_blocks(format_structure_table(s)),
               Block("figure", f"Two-slice graph around agent {agent}: discovered edges that are true (true "
                               "positives), spurious (false positives) and missed (false negatives).",
                     path=fig["structure"])]
    # ACR
    acr = results["acr"]
    match = acr.get("agents_matching_truth")
    blocks += [Block("heading", "3. Approximately compact representations"),
               Block("paragraph", f"kappa = {acr['kappa']}. "
                                  + (f"{match} of {len(acr['agents'])} agents have exactly the ACRs of the true "
                                     "graph. " if match is not None else "")
                                  + f"Mean value-ACR dimension {_fmt(m['acr']['mean_value_acr_dim'], 2)} against "
                                    f"{_fmt(m['acr']['mean_kappa_hop_dim'], 2)} coordinates in the kappa-hop "
                                    "neighbourhood." + _policy_dims(acr["table"])),
               *_markdown_blocks(format_dimension_table(acr["table"], agent=agent)),
               Block("figure", f"Agent {agent}'s value ACR, policy ACR and kappa-hop neighbourhood on the "
                               "network layout.", path=fig["acr"]),
               Block("figure", "Input dimensions and table sizes: full state, kappa-hop truncation, ACR.",
                     path=fig["dimensions"])]
    # domain factors
    df = results["domain_factors"]
    frows = []
    for d in df["domains"]:
        w = np.array([np.nan if v is None else v for v in d["w_hat"]], dtype=float)
        true = d.get("true")
        frows.append((str(d["domain"]), _fmt(None if true is None else float(np.mean(true)), 3),
                      _fmt(float(np.nanmean(w)) if np.isfinite(w).any() else None),
                      _fmt(d.get("max_abs_error"))))
    curve = df["error_curve"]
    blocks += [Block("heading", "4. Domain factors"),
               Block("paragraph", f"Estimated with the {df.get('graph', 'learned')} graph for the "
                                  f"{len(df['agents_with_factor'])} agents with a domain edge. Target estimate "
                                  f"error (mean absolute, {results['adaptation']['target_estimates']['trajectories']}"
                                  f" trajectories): {_fmt(m['domain_factors']['target_estimate_mean_abs_error'])}. "
                                  f"Error against the number of trajectories falls with log-log slope "
                                  f"{_fmt(curve.get('loglog_slope'), 2)} (-0.5 expected)."),
               Block("table", header=("domain", "true factor", "mean w_hat over agents", "max abs error"),
                     rows=tuple(frows)),
               Block("figure", "Estimation error of the target factor against the number of trajectories.",
                     path=fig["factor_error"])]
    # training
    trows = []
    for name, tr in results["training"]["methods"].items():
        trows.append((name, str(tr.get("iterations_done", tr["iterations"][-1])), _fmt(tr["mean"][-1]),
                      f"[{_fmt(tr['ci_low'][-1])}, {_fmt(tr['ci_high'][-1])}]", _fmt(tr.get("train_seconds"), 1)))
    blocks += [Block("heading", "5. Meta-training"),
               Block("paragraph", "Learning curves of the meta-trained methods, each evaluated in the target domain "
                                  "with the true target factor (GSAC is conditioned on it, SAC-MTL uses the "
                                  "nearest source's code, SAC-FT is unconditioned)."),
               Block("table", header=("method", "iterations", "final return", "95% CI", "training seconds"),
                     rows=tuple(trows)),
               Block("figure", "Training curves (mean and 95% CI over runs).", path=fig["training"])]
    if "progress" in fig:
        blocks += [Block("paragraph", "Every evaluation point of the learning stages, as streamed to progress.csv "
                                      "and progress.jsonl while the run went on (mean over runs; band: min to "
                                      "max)."),
                   Block("figure", "Streamed evaluation log.", path=fig["progress"])]
    # reproduction
    seconds = {k: v["seconds"] for k, v in results.get("run_state", {}).get("stages", {}).items()}
    items = tuple(f"{k}: {v:.1f} s" for k, v in seconds.items())
    config_path = Path(results.get("folder", Path("."))) / "config.toml"
    blocks += [Block("heading", "6. Reproduce"),
               Block("paragraph", "The resolved configuration is in config.toml; this command, run from any folder, "
                                  "recomputes the run bit for bit (same seed, same results):"),
               Block("code", f"causalnet run --config {shlex.quote(str(config_path))} --out NEW_FOLDER")]
    if items:
        blocks += [Block("paragraph", "Wall time per stage in this run:"), Block("list", items=items)]
    return blocks


def _markdown_blocks(text: str) -> list[Block]:
    """Blocks of a small Markdown snippet: pipe tables become tables, other lines paragraphs."""
    blocks: list[Block] = []
    table: list[list[str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Block("paragraph", " ".join(para)))
            para.clear()
        if table:
            cells = [r for r in table if not all(set(c) <= set(":- ") for c in r)]  # drop the |---| line
            blocks.append(Block("table", header=tuple(cells[0]), rows=tuple(tuple(r) for r in cells[1:])))
            table.clear()

    for line in text.strip().splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            if para:
                blocks.append(Block("paragraph", " ".join(para)))
                para.clear()
            table.append([c.strip() for c in stripped.strip("|").split("|")])
        elif stripped:
            if table:
                flush()
            para.append(stripped)
        else:
            flush()
    flush()
    return blocks


# ------------------------------------------------------------------ rendering
def render_markdown(blocks: Sequence[Block]) -> str:
    """Markdown text of ``blocks``."""
    out: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            out.append("#" * b.level + " " + b.text)
        elif b.kind == "paragraph":
            out.append(b.text)
        elif b.kind == "table":
            out.append("| " + " | ".join(b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(r) + " |" for r in b.rows]
        elif b.kind == "figure":
            out.append(f"![{b.text}]({b.path})\n\n*{b.text}*")
        elif b.kind == "code":
            out.append("```\n" + b.text.rstrip("\n") + "\n```")
        elif b.kind == "list":
            out += [f"- {item}" for item in b.items]
        else:
            raise ValueError(f"unknown block kind {b.kind!r}")
        out.append("")
    return "\n".join(out)


def render_html(blocks: Sequence[Block], folder: Path) -> str:
    """Self-contained HTML of ``blocks``: figures embedded as base64 PNG."""
    esc = html.escape
    body: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            body.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
        elif b.kind == "paragraph":
            body.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif b.kind == "figure":
            data = base64.b64encode((folder / b.path).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{esc(b.text)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{esc(b.text)}</figcaption></figure>")
        elif b.kind == "code":
            body.append(f"<pre>{esc(b.text)}</pre>")
        elif b.kind == "list":
            body.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ul>")
        else:
            raise ValueError(f"unknown block kind {b.kind!r}")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .6em;"
             "text-align:left}th{background:#eee}img{max-width:100%}figcaption{font-style:italic;color:#444}"
             "pre{background:#f6f6f6;padding:.6em;overflow-x:auto}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>causalnet run report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def build_report(folder: str | os.PathLike, *, agent: int | None = None) -> list[Path]:
    """Draw the figures and write ``report.md`` and ``report.html`` of a run folder.

    Parameters
    ----------
    folder : path
        A folder written by ``causalnet run`` (all result files present).
    agent : int, optional
        Agent drawn in the structure and ACR figures; default :func:`default_agent`.

    Returns
    -------
    list of Path
        Every file written (figures, then ``report.md`` and ``report.html``).

    Raises
    ------
    ReportError
        A result file is missing or unreadable, or ``agent`` is out of range.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"run folder not found: {folder}")
    results = _load(folder)
    n = results["graph"].spec.n_agents
    if agent is None:
        agent = default_agent(results["graph"])
    elif isinstance(agent, bool) or not isinstance(agent, (int, np.integer)) or not 0 <= agent < n:
        raise ReportError(f"agent must be an integer in [0, {n - 1}], got {agent!r}")
    figures = draw_figures(folder, results, int(agent))
    blocks = report_blocks(results, figures, int(agent))
    md = atomic_write_text(folder / "report.md", render_markdown(blocks))
    page = atomic_write_text(folder / "report.html", render_html(blocks, folder))
    logger.info("report written to %s", md)
    return [*figures.values(), md, page]


def _policy_dims(table: list[dict]) -> str:
    """Sentence with the mean policy-ACR dimension against the 1-hop truncation (empty without the columns)."""
    rows = [r for r in table if "policy_acr_dim" in r and "policy_kappa_hop_dim" in r]
    if not rows:
        return ""
    pol = sum(r["policy_acr_dim"] for r in rows) / len(rows)
    hop = sum(r["policy_kappa_hop_dim"] for r in rows) / len(rows)
    return (f" Mean policy-ACR dimension (actor inputs) {pol:.2f} against {hop:.2f} coordinates of the "
            "1-hop neighbourhood s_{N_i}.")
