"""Fixes of issue 9: each test failed before its fix (help, --version, --out checks, Ctrl-C, npz bytes,
domain labels, hops warning, progress bars, figures)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from causalnet.data import Transitions, TransitionsFormatError
from causalnet.discovery import parents_beyond_hops
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.errors import CausalnetError
from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from causalnet_cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:          # --help, --version and parse errors exit from argparse
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ help and version
def test_top_level_help_lists_every_command():
    for flag in ("--help", "-h"):
        status, out, err = _cli(flag)
        assert status == 0, err
        assert "95% CIs" in out          # the '%' that crashed argparse's help formatter
        for command in ("simulate", "discover", "train", "evaluate", "adapt", "run", "report"):
            assert command in out


def test_version():
    from causalnet import __version__

    status, out, _ = _cli("--version")
    assert status == 0 and out.strip() == f"causalnet {__version__}"


# ------------------------------------------------------------------ output paths checked first
def test_out_under_a_file_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "afile.txt"
    blocker.write_text("x")
    status, _, err = _cli("run", "--out", str(blocker / "sub"))
    assert status == 2
    assert err.count("\n") == 1 and "afile.txt is a file" in err and "Traceback" not in err
    assert blocker.read_text() == "x"


def test_simulate_refuses_a_folder_as_out_file_at_once(tmp_path):
    start = time.perf_counter()
    # 10**9 episodes would run for hours: the refusal must come before the simulation
    status, out, err = _cli("simulate", "--episodes", str(10**9), "--out", str(tmp_path))
    assert status == 2 and out == ""
    assert "is a folder; give a file name" in err
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("argv", [["discover", "--trajectories", "5"], ["train", "--iterations", "1"],
                                  ["adapt", "--policy", "p", "--target", "0.5", "--source-data", "d.npz"],
                                  ["run", "--quick"]])
def test_non_empty_out_folder_is_refused_without_force(tmp_path, argv):
    (tmp_path / "keep.txt").write_text("mine")
    status, _, err = _cli(*argv, "--out", str(tmp_path))
    assert status == 2 and "is not empty" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_force_replaces_a_non_empty_discover_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    status, _, err = _cli("discover", "--env", "synthetic", "--agents", "3", "--trajectories", "50", "--out",
                          str(out), "--force")
    assert status == 0, err
    assert not (out / "stale.txt").exists() and (out / "graph.json").is_file()


# ------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_in_train_exits_130_with_a_resume_hint(tmp_path):
    out = tmp_path / "train"
    cmd = [sys.executable, "-m", "causalnet_cli.main", "train", "--iterations", "100000000", "--out", str(out),
           "--checkpoint-every", "1000", "--eval-every", "0", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "config.json").exists() and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)                                     # inside the training loop
    assert proc.poll() is None, proc.communicate()[1].decode()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "interrupted" in text and "--resume" in text and str(out / "checkpoints") in text


# ------------------------------------------------------------------ data files
def test_random_bytes_as_npz_get_a_clear_message(tmp_path):
    rng = np.random.default_rng(0)
    stem = tmp_path / "data"
    (tmp_path / "data.npz").write_bytes(rng.bytes(400))
    spec = default_spec(1, [], 1, 2, 2)
    (tmp_path / "data.json").write_text(json.dumps({"format": "causalnet.transitions", "version": 1,
                                                    "spec": spec.to_dict()}))
    with pytest.raises(TransitionsFormatError, match=r"data\.npz is not a \.npz archive") as info:
        Transitions.load(stem)
    assert "pickle" not in str(info.value)
    assert isinstance(info.value, CausalnetError)


def _labelled(labels: list[int]) -> tuple[Transitions, FactoredGraph]:
    spec = default_spec(1, [], 1, 2, 2)
    rng = np.random.default_rng(1)
    n = 60 * len(labels)
    domain = np.repeat(np.asarray(labels), 60)
    states = rng.integers(0, 2, (n, 1))
    data = Transitions(spec, states=states, actions=rng.integers(0, 2, (n, 1)), rewards=rng.random((n, 1)),
                       next_states=rng.integers(0, 2, (n, 1)), domain=domain, episode=np.arange(n),
                       time=np.zeros(n, int))
    return data, FactoredGraph(spec, {"s0_0": ["s0_0", "domain"]})


@pytest.mark.parametrize("labels", [[1, 2, 3], [0, 5]])
def test_domain_labels_must_be_0_to_m_minus_1(tmp_path, labels):
    data, graph = _labelled(labels)
    with pytest.raises(TransitionsFormatError, match=r"labels must be 0\.\.M-1.*found \[" + str(labels[0])):
        DomainFactorEstimator(graph).fit(data)
    data.save(tmp_path / "d")
    with pytest.raises(TransitionsFormatError, match=r"d\.npz: 'domain' labels must be 0\.\.M-1"):
        Transitions.load(tmp_path / "d")
    good, _ = _labelled([0, 1])
    assert DomainFactorEstimator(graph).fit(good).w_hat_.shape == (2, 1)


# ------------------------------------------------------------------ hops warning
def test_parents_beyond_the_searched_hops_are_reported(tmp_path):
    spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 2)            # a line 0 - 1 - 2
    truth = FactoredGraph(spec, {"s0_0": ["s0_0", "s2_0"], "s1_0": ["s1_0"], "s2_0": ["s2_0"]})
    assert parents_beyond_hops(truth, 1) == [("s2_0", "s0_0")]
    rng = np.random.default_rng(2)
    n = 400
    s = rng.integers(0, 2, (n, 3))
    data = Transitions(spec, states=s, actions=rng.integers(0, 2, (n, 3)), rewards=rng.random((n, 3)),
                       next_states=s, domain=np.zeros(n, int), episode=np.arange(n), time=np.zeros(n, int))
    data.save(tmp_path / "data")
    truth.save(tmp_path / "truth.json")
    status, out, err = _cli("discover", "--data", str(tmp_path / "data.npz"), "--truth",
                            str(tmp_path / "truth.json"), "--out", str(tmp_path / "out"), "--json")
    assert status == 0, err
    warnings = json.loads(out)["warnings"]
    assert any("s2_0 -> s0_0" in w and "--hops 2" in w for w in warnings), warnings
    status, out, err = _cli("discover", "--data", str(tmp_path / "data.npz"), "--truth",
                            str(tmp_path / "truth.json"), "--out", str(tmp_path / "out2"), "--json", "--hops", "2")
    assert status == 0 and not any("hop(s)" in w for w in json.loads(out)["warnings"])


# ------------------------------------------------------------------ progress bars
def test_run_draws_progress_bars_only_on_a_terminal(tmp_path, monkeypatch):
    import causalnet_cli.pipeline.runner as runner

    seen: list[bool] = []

    def fake_stage(name, ctx):
        seen.append(ctx.progress)
        return [], 0.0

    monkeypatch.setattr(runner, "run_stage", fake_stage)
    for k, flags in enumerate(([], ["--progress"], ["--no-progress"])):
        seen.clear()
        status, _, err = _cli("run", "--quick", "--out", str(tmp_path / f"r{k}"), *flags)
        assert status == 0, err
        assert seen and set(seen) == {flags == ["--progress"]}     # stderr is not a terminal here


# ------------------------------------------------------------------ figures
def _capture_figures(monkeypatch) -> list:
    from matplotlib.figure import Figure

    figures = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def test_dimension_axis_ends_at_the_largest_bar(tmp_path, monkeypatch):
    from analysis.plot_acr import dimension_rows, plot_dimension_table
    from causalnet.acr import acr_table
    from rl.envs import WirelessAccessEnv

    figures = _capture_figures(monkeypatch)
    table = acr_table(WirelessAccessEnv.from_grid(3).true_graph(), kappa=1)
    largest = max(r["log10_size"] for r in dimension_rows(table, 0) if math.isfinite(r["log10_size"]))
    plot_dimension_table(table, tmp_path / "dims.png", agent=0)
    ax = figures[-1].axes[1]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert max(ticks) <= math.ceil(largest)
    assert ax.spines["bottom"].get_bounds()[1] == math.ceil(largest)


def _slice_texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.texts)


def test_two_slice_legend_mentions_hatching_only_when_drawn(tmp_path, monkeypatch):
    from analysis.plot_graph import plot_two_slice
    from rl.envs import WirelessAccessEnv

    figures = _capture_figures(monkeypatch)
    truth = WirelessAccessEnv.from_grid(2).true_graph()
    plot_two_slice(truth, truth, 0, tmp_path / "a.png")
    hatched = [p for p in figures[-1].axes[0].patches if p.get_hatch()]
    assert not hatched and "hatched" not in _slice_texts(figures[-1])
    far = truth.spec.n_agents - 1                                 # far from agent 0 on the grid
    parents = {t: set(p) for t, p in truth.parents.items()}
    parents["r0"].add(truth.spec.action_names[far])
    learned = FactoredGraph(truth.spec, parents)
    plot_two_slice(learned, truth, 0, tmp_path / "b.png")
    fig = figures[-1]
    assert [p for p in fig.axes[0].patches if p.get_hatch()] and "hatched" in _slice_texts(fig)
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "agent outside" in labels
