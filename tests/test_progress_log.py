"""Streamed run logs: progress.csv / progress.jsonl written point by point, read back, drawn by the report."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from causalnet.errors import InputFileError
from causalnet.progress_log import PROGRESS_COLUMNS, ProgressLog, progress_curves, read_progress
from causalnet_cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--env", "synthetic", "--agents", "3"]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def test_log_appends_both_files_and_keeps_the_last_of_each_point(tmp_path):
    log = ProgressLog(tmp_path)
    log.add("train", "gsac", 0, "iteration", 0, 0.1, 0.01)
    log.add("train", "gsac", 1, "iteration", 0, 0.3, float("nan"))
    log.add("train", "gsac", 0, "iteration", 10, 0.2)
    log.add("train", "gsac", 0, "iteration", 10, 0.25)            # a resumed run measured it again
    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert list(rows[0]) == list(PROGRESS_COLUMNS) and len(rows) == 4
    assert rows[1]["std_err"] == "" and float(rows[0]["value"]) == 0.1
    points = read_progress(tmp_path)
    assert [(p["run"], p["step"], p["value"]) for p in points] == [(0, 0, 0.1), (1, 0, 0.3), (0, 10, 0.25)]
    curve = progress_curves(points)[("train", "gsac", "iteration")]
    assert curve["steps"].tolist() == [0, 10]
    np.testing.assert_array_equal(curve["values"], [[0.1, 0.25], [0.3, np.nan]])
    ProgressLog(tmp_path)                                          # reopening writes no second header
    assert (tmp_path / "progress.csv").read_text().count("wall_time") == 1


def test_a_line_cut_by_a_kill_is_ignored_but_a_bad_line_is_reported(tmp_path):
    log = ProgressLog(tmp_path)
    log.add("adapt", "sac-ft", 0, "episode", 1, 0.5)
    with open(tmp_path / "progress.jsonl", "a") as fh:
        fh.write('{"stage": "adapt", "meth')                     # killed mid-line
    assert len(read_progress(tmp_path)) == 1
    with open(tmp_path / "progress.jsonl", "a") as fh:
        fh.write('\n{"stage": 3}\n')
    with pytest.raises(InputFileError, match=r"progress\.jsonl: line 2 is not valid JSON"):
        read_progress(tmp_path)


def test_train_streams_every_curve_point(tmp_path):
    out = tmp_path / "t"
    status, _, err = _cli("train", *SMALL, "--iterations", "60", "--eval-every", "20", "--eval-episodes", "20",
                          "--seeds", "2", "--checkpoint-every", "0", "--no-progress", "--out", str(out))
    assert status == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    points = read_progress(out)
    assert {(p["stage"], p["method"], p["step_kind"]) for p in points} == {("train", "gsac", "iteration")}
    curve = progress_curves(points)[("train", "gsac", "iteration")]
    assert curve["values"].shape == (2, 4)
    np.testing.assert_allclose(np.asarray(metrics["curve_runs"]), curve["values"], rtol=0, atol=0)
    assert curve["steps"].tolist() == [it for it, _ in metrics["curve"]]
    # the report command draws the curves of a train folder from its log
    status, stdout, err = _cli("report", str(out))
    assert status == 0 and (out / "figures" / "progress_curves.png").is_file()
    assert "progress log only" in err


@pytest.mark.slow
def test_a_killed_training_keeps_its_points_and_can_be_drawn(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "causalnet_cli.main", "train", *SMALL, "--iterations", "100000000",
           "--eval-every", "5", "--eval-episodes", "10", "--checkpoint-every", "0", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    log = out / "progress.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 4:     # header + 3 points, while training goes on
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1].decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    points = read_progress(out)
    assert len(points) >= 3 and [p["step"] for p in points[:3]] == [0, 5, 10]
    assert not (out / "metrics.json").exists()
    status, _, err = _cli("report", str(out))
    assert status == 0, err
    assert (out / "figures" / "progress_curves.png").stat().st_size > 10_000
