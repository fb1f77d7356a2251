"""Streamed evaluation logs: ``progress.csv`` and ``progress.jsonl``, one line per evaluation point.

Training (``causalnet train``) and every learning stage of ``causalnet run`` append each
evaluation point to both files as soon as it is measured; every point is written and
flushed before training goes on, so a killed run keeps every point measured so far and
``tail -f progress.csv`` follows a run live. A resumed run appends again: readers keep the
last line of each ``(stage, method, run, step_kind, step)``.

Columns (both files, same names):

=================== ============================================================
``wall_time``       UTC time of the point, ISO 8601
``elapsed_seconds`` seconds since the log was opened in this process
``stage``           ``train`` (``causalnet train``), ``train:<method>`` or ``adapt`` (``causalnet run``)
``method``          algorithm (``gsac``, ``sac-ft``, ...)
``run``             run index (seed ``seed + run``)
``step_kind``       ``iteration`` (outer training iterations) or ``episode`` (target episodes)
``step``            iteration or episode count at the point
``value``           mean discounted return per agent
``std_err``         its standard error over the evaluation episodes (empty / null if unknown)
=================== ============================================================
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from causalnet.errors import InputFileError

__all__ = ["PROGRESS_COLUMNS", "PROGRESS_CSV", "PROGRESS_JSONL", "ProgressLog", "progress_curves", "read_progress"]

PROGRESS_CSV = "progress.csv"
PROGRESS_JSONL = "progress.jsonl"
PROGRESS_COLUMNS = ("wall_time", "elapsed_seconds", "stage", "method", "run", "step_kind", "step", "value",
                    "std_err")
_STEP_KINDS = ("iteration", "episode")


class ProgressLog:
    """Append evaluation points to ``FOLDER/progress.csv`` and ``FOLDER/progress.jsonl``.

    Parameters
    ----------
    folder : path
        Where the two files live (created when needed). Existing files are appended to.

    Examples
    --------
    >>> import tempfile
    >>> log = ProgressLog(tempfile.mkdtemp())
    >>> log.add("train", "gsac", 0, "iteration", 100, 0.25, 0.01)
    >>> [(r["step"], r["value"]) for r in read_progress(log.folder)]
    [(100, 0.25)]
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._start = time.perf_counter()
        csv_path = self.folder / PROGRESS_CSV
        if not csv_path.exists() or csv_path.stat().st_size == 0:
            self._append(csv_path, ",".join(PROGRESS_COLUMNS) + "\n")

    @staticmethod
    def _append(path: Path, text: str) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()

    def add(self, stage: str, method: str, run: int, step_kind: str, step: int, value: float,
            std_err: float | None = None) -> None:
        """Append one point to both files (flushed before returning)."""
        if step_kind not in _STEP_KINDS:
            raise ValueError(f"step_kind must be one of {_STEP_KINDS}, got {step_kind!r}")
        err = None if std_err is None or not math.isfinite(float(std_err)) else float(std_err)
        row = {"wall_time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
               "elapsed_seconds": round(time.perf_counter() - self._start, 3), "stage": str(stage),
               "method": str(method), "run": int(run), "step_kind": step_kind, "step": int(step),
               "value": float(value), "std_err": err}
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(["" if row[c] is None else row[c] for c in PROGRESS_COLUMNS])
        self._append(self.folder / PROGRESS_CSV, buffer.getvalue())
        self._append(self.folder / PROGRESS_JSONL, json.dumps(row) + "\n")

    def training_hook(self, stage: str, method: str) -> Callable[[int, np.ndarray, np.ndarray], None]:
        """A ``GSACTrainer.run(on_eval=...)`` hook: one point per run at each evaluation."""
        def hook(iteration: int, means: np.ndarray, std_errs: np.ndarray) -> None:
            for r, (m, e) in enumerate(zip(np.atleast_1d(means), np.atleast_1d(std_errs))):
                self.add(stage, method, r, "iteration", iteration, float(m), float(e))
        return hook

    def adaptation_hook(self, stage: str) -> Callable[[str, int, int, float], None]:
        """An ``adaptation_curves(on_point=...)`` hook: one point per method, run and target episode."""
        def hook(method: str, run: int, episode: int, value: float) -> None:
            self.add(stage, method, run, "episode", episode, value)
        return hook


def _check_record(rec: Any, path: Path, line: int) -> dict[str, Any]:
    where = f"line {line}"
    if not isinstance(rec, dict):
        raise InputFileError(path, f"{where} is not a JSON object")
    missing = [c for c in ("stage", "method", "run", "step_kind", "step", "value") if c not in rec]
    if missing:
        raise InputFileError(path, f"{where} lacks {missing}")
    for key in ("stage", "method"):
        if not isinstance(rec[key], str):
            raise InputFileError(path, f"{where}: {key!r} must be a string, got {rec[key]!r}")
    for key in ("run", "step"):
        if isinstance(rec[key], bool) or not isinstance(rec[key], int) or rec[key] < 0:
            raise InputFileError(path, f"{where}: {key!r} must be an integer >= 0, got {rec[key]!r}")
    if rec["step_kind"] not in _STEP_KINDS:
        raise InputFileError(path, f"{where}: 'step_kind' must be one of {list(_STEP_KINDS)}, got {rec['step_kind']!r}")
    value = rec["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputFileError(path, f"{where}: 'value' must be a finite number, got {value!r}")
    err = rec.get("std_err")
    if err is not None and (isinstance(err, bool) or not isinstance(err, (int, float))):
        raise InputFileError(path, f"{where}: 'std_err' must be a number or null, got {err!r}")
    return rec


def read_progress(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The points of ``FOLDER/progress.jsonl``, the last line of each point kept, in file order.

    A final line cut short by a kill is ignored; any other bad line raises.

    Raises
    ------
    InputFileError
        If the file is missing or a complete line is not a valid point.
    """
    path = Path(folder) / PROGRESS_JSONL
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]       # a line without its newline was cut by a kill
    points: dict[tuple, dict[str, Any]] = {}
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"line {number} is not valid JSON ({exc.msg})") from None
        rec = _check_record(rec, path, number)
        key = (rec["stage"], rec["method"], rec["run"], rec["step_kind"], rec["step"])
        points.pop(key, None)
        points[key] = rec
    del tail
    return list(points.values())


def progress_curves(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, np.ndarray]]:
    """Group points by ``(stage, method, step_kind)``: steps and the per-run values ``(R, S)``.

    Runs missing a step (a killed run) leave NaN there.
    """
    groups: dict[tuple[str, str, str], dict[tuple[int, int], float]] = {}
    for rec in records:
        groups.setdefault((rec["stage"], rec["method"], rec["step_kind"]), {})[(rec["run"], rec["step"])] = rec["value"]
    out = {}
    for key, values in groups.items():
        runs = sorted({r for r, _ in values})
        steps = sorted({s for _, s in values})
        table = np.full((len(runs), len(steps)), np.nan)
        for (r, s), v in values.items():
            table[runs.index(r), steps.index(s)] = v
        out[key] = {"steps": np.asarray(steps, dtype=np.int64), "values": table}
    return out
