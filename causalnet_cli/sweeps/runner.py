"""Run every cell of a sweep on a backend, keep finished cells, aggregate the results.

Sweep folder::

    OUT/sweep.json          the validated sweep (base, axes, quick) and its cells
    OUT/sweep.toml          the sweep file as given (when read from a file)
    OUT/sweep_state.json    finished cells with the SHA-256 of their run_state.json and metrics.json
    OUT/cells/<name>/       one `causalnet run` folder per cell
    OUT/summary.{json,csv,md}, OUT/sweep.png   the aggregated table and figure

A cell counts as finished on ``--resume`` when it is recorded in ``sweep_state.json``
with matching checksums and its run folder passes the pipeline's own checks (every
stage's files present and unchanged). Other cells run again; a cell that was
interrupted resumes from its last finished stage.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from causalnet.backends import Backend, LocalBackend, SerialBackend, TaskContext
from causalnet.io import atomic_write_json, atomic_write_text, file_sha256, read_json_object
from causalnet_cli.pipeline import RunFolder, RunFolderError, config_from_dict, config_to_dict, run_pipeline
from causalnet_cli.pipeline import stage_names
from causalnet_cli.sweeps.spec import REPLICATE_AXIS, SweepError, SweepSpec

__all__ = ["CellTask", "SweepFolder", "SweepSummary", "run_cell", "run_sweep"]

logger = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
STATE_FILE = "sweep_state.json"
STATE_FORMAT = "causalnet-sweep-state"
CELL_FILES = ("run_state.json", "metrics.json")


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to run one cell (plain data: picklable for every backend)."""

    name: str
    folder: str
    config: dict[str, Any]


def run_cell(task: CellTask, ctx: TaskContext) -> dict[str, Any]:
    """Backend task: run (or resume) one cell's pipeline; never raises, failures are returned."""
    start = time.perf_counter()
    folder = Path(task.folder)
    try:
        config = config_from_dict(task.config)
        resume = (folder / "run_state.json").is_file()
        if not resume and folder.exists():
            shutil.rmtree(folder)        # a start that died before its state file: nothing to keep
        # the cells are the parallel unit: discovery inside a cell runs serially
        summary = run_pipeline(config, folder, resume=resume, progress=False, executor=SerialBackend())
        return {"name": task.name, "ok": True, "ran": list(summary.ran), "skipped": list(summary.skipped),
                "seconds": time.perf_counter() - start}
    except Exception as exc:  # reported per cell, the other cells go on
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"name": task.name, "ok": False, "error": f"{type(exc).__name__}: {first}",
                "seconds": time.perf_counter() - start}


@dataclass(frozen=True)
class SweepSummary:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    folder : Path
    ran, reused, failed : tuple of str
        Cells computed now, cells kept from an earlier call, cells that failed
        (with their error in ``errors``).
    errors : dict of str to str
    files : dict of str to Path
        The aggregated table and figure (empty when a cell failed).
    seconds : float
    """

    folder: Path
    ran: tuple[str, ...]
    reused: tuple[str, ...]
    failed: tuple[str, ...]
    errors: dict[str, str]
    files: dict[str, Path]
    seconds: float


class SweepFolder:
    """The results folder of a sweep and its record of finished cells."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).absolute()
        self.cells: dict[str, dict[str, Any]] = {}

    def check(self, spec: SweepSpec, *, resume: bool = False, force: bool = False) -> None:
        """Check the folder can be used as asked, writing nothing (errors: :class:`SweepError`)."""
        if resume and force:
            raise SweepError("--resume and --force exclude each other")
        if self.path.exists() and not self.path.is_dir():
            raise SweepError(f"--out: {self.path} exists and is not a folder")
        occupied = self.path.is_dir() and any(self.path.iterdir())
        is_sweep = (self.path / SWEEP_FILE).is_file()
        if resume:
            if not is_sweep:
                raise SweepError(f"--resume: {self.path} holds no sweep to resume (no {SWEEP_FILE}); "
                                 "start a new sweep without --resume")
            saved = read_json_object(self.path / SWEEP_FILE, error=SweepError, what="sweep description")
            given = spec.to_dict()
            # compared as JSON text: the order of the axes matters too (it sets the cells' names)
            diff = [part for part in ("quick", "base", "axes")
                    if json.dumps(saved.get("spec", {}).get(part)) != json.dumps(given[part])]
            if diff:
                raise SweepError(f"--resume: the sweep file differs from the one in {self.path} in "
                                 f"{', '.join(diff)}; use the same file, or --force to start over")
        elif occupied and not force:
            hint = "add --resume to continue it or --force to start over" if is_sweep else "choose a new folder"
            raise SweepError(f"--out: {self.path} is not empty; {hint}")
        elif occupied and force and not is_sweep:
            raise SweepError(f"--force: {self.path} is not a sweep folder (no {SWEEP_FILE}); refusing to delete it")

    def open(self, spec: SweepSpec, *, resume: bool = False, force: bool = False,
             source_text: str | None = None) -> None:
        """Prepare the folder (after :meth:`check`): wipe it with ``force``, load the record with ``resume``."""
        self.check(spec, resume=resume, force=force)
        if force and self.path.is_dir():
            for child in self.path.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        if resume:
            state = read_json_object(self.path / STATE_FILE, error=SweepError, what="sweep state") \
                if (self.path / STATE_FILE).is_file() else {}
            self.cells = {k: dict(v) for k, v in state.get("cells", {}).items()}
            return
        atomic_write_json(self.path / SWEEP_FILE, {
            "spec": spec.to_dict(), "replicate_axis": REPLICATE_AXIS,
            "cells": [{"name": c.name, "values": c.values} for c in spec.cells]})
        if source_text is not None:
            atomic_write_text(self.path / "sweep.toml", source_text)
        self.cells = {}
        self._write()

    def cell_folder(self, name: str) -> Path:
        return self.path / "cells" / name

    def is_finished(self, cell) -> bool:
        """Recorded as finished, checksums equal, and every pipeline stage's files intact."""
        entry = self.cells.get(cell.name)
        folder = self.cell_folder(cell.name)
        if entry is None:
            return False
        for rel, sha in entry.get("files", {}).items():
            if not (folder / rel).is_file() or file_sha256(folder / rel) != sha:
                logger.warning("cell %s: %s is missing or changed; running the cell again", cell.name, rel)
                return False
        run = RunFolder(folder)
        try:
            run.open_resume(cell.config)
        except RunFolderError:
            return False
        return all(run.is_done(stage) for stage in stage_names(cell.config))

    def mark_finished(self, name: str, seconds: float) -> None:
        folder = self.cell_folder(name)
        self.cells[name] = {"seconds": round(float(seconds), 3),
                            "files": {rel: file_sha256(folder / rel) for rel in CELL_FILES}}
        self._write()

    def forget(self, name: str) -> None:
        if self.cells.pop(name, None) is not None:
            self._write()

    def _write(self) -> None:
        atomic_write_json(self.path / STATE_FILE, {"format": STATE_FORMAT, "version": 1, "cells": self.cells})


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_sweep(spec: SweepSpec, out: str | os.PathLike, *, backend: Backend | None = None, resume: bool = False,
              force: bool = False, progress: bool = True, echo: Callable[[str], None] | None = None,
              source_text: str | None = None) -> SweepSummary:
    """Run every cell of ``spec`` into ``out`` on ``backend``; aggregate when all cells finished.

    Parameters
    ----------
    spec : SweepSpec
        The validated sweep (:func:`~causalnet_cli.sweeps.spec.load_sweep`).
    out : path
        Sweep folder: new or empty, unless ``resume`` or ``force``.
    backend : Backend, optional
        Where the cells run (default: a local process pool over all CPUs). On a Ray
        cluster, ``out`` must be on a file system every node shares.
    resume : bool
        Keep finished cells (checked by checksum), run the others.
    force : bool
        Delete an earlier sweep in ``out`` and start over.
    progress : bool
        One line per cell on stderr (or ``echo``).
    source_text : str, optional
        The sweep file's text, saved as ``sweep.toml``.

    Returns
    -------
    SweepSummary
    """
    from analysis.sweep import plot_sweep, sweep_rows, write_sweep_tables

    start = time.perf_counter()
    backend = backend if backend is not None else LocalBackend()
    say = echo if echo is not None else (_stderr if progress else (lambda text: None))
    folder = SweepFolder(out)
    folder.open(spec, resume=resume, force=force, source_text=source_text)
    total = len(spec.cells)
    reused = [c.name for c in spec.cells if resume and folder.is_finished(c)]
    for name in set(folder.cells) - set(reused):
        folder.forget(name)
    pending = [c for c in spec.cells if c.name not in reused]
    say(f"sweep: {total} cells ({len(reused)} finished earlier, {len(pending)} to run) on {backend.describe()}")
    done = [len(reused)]
    errors: dict[str, str] = {}
    ran: list[str] = []

    def report(index: int, result: dict[str, Any]) -> None:
        done[0] += 1
        name = result["name"]
        if result["ok"]:
            folder.mark_finished(name, result["seconds"])
            ran.append(name)
            extra = f" (reused {len(result['skipped'])} stage(s))" if result["skipped"] else ""
            say(f"[{done[0]}/{total}] {name}: finished in {result['seconds']:.1f} s{extra}")
        else:
            errors[name] = result["error"]
            say(f"[{done[0]}/{total}] {name}: FAILED after {result['seconds']:.1f} s: {result['error']}")

    tasks = [CellTask(c.name, str(folder.cell_folder(c.name)), config_to_dict(c.config)) for c in pending]
    try:
        backend.map(run_cell, tasks, on_result=report)
    except Exception as exc:      # Ctrl-C is reported by the command line (with how to continue)
        _stderr(f"sweep stopped ({type(exc).__name__}: {exc}); the {len(reused) + len(ran)} finished cell(s) are "
                f"kept. Continue with: causalnet sweep SPEC.toml --out {folder.path} --resume")
        raise
    files: dict[str, Path] = {}
    if not errors:
        records = [{"values": c.values,
                    "metrics": read_json_object(folder.cell_folder(c.name) / "metrics.json", error=SweepError,
                                                what="cell metrics")} for c in spec.cells]
        axes = spec.axis_names
        rows = sweep_rows(records, axes=axes, replicate=REPLICATE_AXIS)
        files = write_sweep_tables(rows, folder.path, axes=axes, replicate=REPLICATE_AXIS)
        setting_axes = [a for a in axes if a != REPLICATE_AXIS]
        files["figure"] = plot_sweep(rows, folder.path / "sweep.png", setting_axes=setting_axes)
    failed = tuple(c.name for c in pending if c.name in errors)
    return SweepSummary(folder.path, tuple(c.name for c in pending if c.name in ran), tuple(reused), failed,
                        errors, files, time.perf_counter() - start)
