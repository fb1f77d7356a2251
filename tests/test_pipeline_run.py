"""``causalnet run`` end to end: the quick run's results, the report command, and resuming after a kill."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from causalnet_cli.main import main
from causalnet_cli.pipeline import load_config, run_pipeline, stage_names
from causalnet_cli.pipeline.state import STATE_FILE

METHODS = ("gsac", "sac-mtl", "sac-ft", "sac-lfs")
FIGURES = ("two_slice_graph.png", "acr_layout.png", "acr_dimensions.png", "training_curves.png",
           "adaptation_curves.png", "domain_factor_error.png", "progress_curves.png")
#: A tiny configuration for the resume tests (every stage, a few seconds).
TINY = ["data.episodes=600", "train.iterations=300", "train.runs=2", "train.eval_points=3",
        "train.eval_episodes=40", "adapt.episodes=4", "adapt.eval_episodes=40", "analysis.error_repeats=3",
        "analysis.error_trajectories=[2, 8]"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quick") / "run"
    assert main(["run", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _ci_ok(stat: dict) -> bool:
    lo, hi = stat["ci95"]
    return lo <= stat["mean"] <= hi and hi - lo < 0.5


def test_quick_run_writes_every_result_file(quick_run):
    for name in ("config.json", "config.toml", "env.json", "data_summary.json", "graph.json", "true_graph.json",
                 "structure_metrics.json", "acr.json", "domain_factors.json", "training.json", "adaptation.json",
                 "metrics.json", "report.md", "report.html", "data/source.npz"):
        assert (quick_run / name).is_file(), name
    for method in ("gsac", "sac-mtl", "sac-ft"):
        assert (quick_run / "policies" / "meta" / method / "policy.npz").is_file()
    for method in METHODS:
        assert (quick_run / "policies" / "target" / method / "policy.json").is_file()
    assert not list(quick_run.rglob(".*.tmp")), "temporary files left behind"


def test_quick_metrics_hold_every_method_with_confidence_intervals(quick_run):
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert set(metrics["methods"]) == set(METHODS)
    episodes = metrics["benchmark"]["adaptation_episodes"]
    assert episodes == 30
    for name, m in metrics["methods"].items():
        assert _ci_ok(m["zero_shot"]), name
        assert _ci_ok(m["adaptation"]["curve_average"]), name
        assert _ci_ok(m["adaptation"]["final_return"]), name
        assert len(m["adaptation"]["curve_mean"]) == episodes + 1
        assert 0.0 < m["zero_shot"]["mean"] < 2.0
    # frozen (zero-shot) methods have flat curves: the same policy scored on the same episodes
    for name in ("gsac", "sac-mtl"):
        curve = metrics["methods"][name]["adaptation"]["curve_mean"]
        assert not metrics["methods"][name]["learning_in_target"] and np.ptp(curve) == 0.0
    assert metrics["methods"]["sac-ft"]["learning_in_target"] and metrics["methods"]["sac-lfs"]["learning_in_target"]
    uniform = metrics["reference"]["uniform"]["zero_shot"]["mean"]
    # an untrained SAC-LFS policy is the uniform policy, scored on the same episodes
    assert metrics["methods"]["sac-lfs"]["zero_shot"]["mean"] == pytest.approx(uniform, abs=1e-12)
    # GSAC deployed zero-shot beats the uniform policy and SAC-LFS's first 30 episodes by a wide margin
    gsac = metrics["methods"]["gsac"]
    assert gsac["zero_shot"]["ci95"][0] > uniform + 0.1
    assert gsac["adaptation"]["curve_average"]["mean"] > metrics["methods"]["sac-lfs"]["adaptation"][
        "curve_average"]["ci95"][1]
    # discovery and domain factors on the quick budget (2,000 episodes per domain)
    assert metrics["structure"]["precision"] > 0.95 and metrics["structure"]["f1"] > 0.8
    assert metrics["acr"]["agents_matching_truth"] == 16
    assert metrics["domain_factors"]["target_estimate_mean_abs_error"] < 0.08
    assert -0.8 < metrics["domain_factors"]["error_curve_loglog_slope"] < -0.2


def test_quick_run_figures_are_readable_pngs(quick_run):
    import matplotlib.image as mpimg

    found = sorted(p.name for p in (quick_run / "figures").glob("*.png"))
    assert found == sorted(FIGURES)
    for name in FIGURES:
        path = quick_run / "figures" / name
        width, height = _png_size(path)
        assert 500 <= width <= 3000 and 300 <= height <= 4000, (name, width, height)
        assert 10_000 < path.stat().st_size < 2_000_000, name
        pixels = mpimg.imread(path)
        assert pixels.shape[:2] == (height, width) and float(np.std(pixels)) > 0.01, f"{name} looks blank"


def test_report_links_every_figure_and_html_embeds_them(quick_run):
    md = (quick_run / "report.md").read_text()
    page = (quick_run / "report.html").read_text()
    for name in FIGURES:
        assert f"(figures/{name})" in md
    assert page.count("data:image/png;base64,") == len(FIGURES)
    for method in METHODS:
        assert f"| {method} |" in md
    assert "| all edges |" in md


def test_learning_stages_stream_every_point_to_the_progress_log(quick_run):
    from causalnet.progress_log import progress_curves, read_progress

    curves = progress_curves(read_progress(quick_run))
    training = json.loads((quick_run / "training.json").read_text())["methods"]
    for method, summary in training.items():
        curve = curves[(f"train:{method}", method, "iteration")]
        assert curve["steps"].tolist() == summary["iterations"]
        np.testing.assert_allclose(curve["values"], summary["per_run"], rtol=0, atol=0)
    adaptation = json.loads((quick_run / "adaptation.json").read_text())
    for method, curve in adaptation["methods"].items():
        streamed = curves[("adapt", method, "episode")]
        assert streamed["steps"].tolist() == adaptation["episodes"]
        np.testing.assert_allclose(streamed["values"], curve["per_run"], rtol=0, atol=0)
    # the learners use the target-phase keys, and their curves move
    config = load_config(quick_run / "config.toml")
    assert adaptation["settings"]["iterations_per_episode"] == {
        "sac-ft": config.adapt.ft_iterations_per_episode, "sac-lfs": config.adapt.lfs_iterations_per_episode}
    for method in ("sac-ft", "sac-lfs"):
        per_run = np.asarray(adaptation["methods"][method]["per_run"])
        assert np.abs(per_run - per_run[:, :1]).max() > 1e-3, method


def test_report_reproduce_command_works_from_any_folder(quick_run, tmp_path, monkeypatch):
    import shlex

    md = (quick_run / "report.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("causalnet run --config"))
    argv = shlex.split(line)
    config = Path(argv[argv.index("--config") + 1])
    monkeypatch.chdir(tmp_path)                                  # anywhere but the run folder
    assert config.is_absolute() and config.is_file()
    assert load_config(config) == load_config(quick_run / "config.toml")


def test_report_command_rebuilds_without_recomputing(quick_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(quick_run, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*.json")}
    shutil.rmtree(copy / "figures")
    (copy / "report.md").unlink()
    (copy / "report.html").unlink()
    assert main(["report", str(copy), "--agent", "0"]) == 0
    assert sorted(p.name for p in (copy / "figures").glob("*.png")) == sorted(FIGURES)
    assert "around agent 0" in (copy / "report.md").read_text()
    assert {p: p.read_bytes() for p in copy.rglob("*.json")} == before     # results untouched
    assert str(copy / "report.md") in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nothing")]) == 2
    (copy / "metrics.json").unlink()
    (copy / "figures" / "progress_curves.png").unlink()
    assert main(["report", str(copy)]) == 0                  # unfinished run: the streamed curves only
    assert "missing metrics.json" in capsys.readouterr().err
    assert (copy / "figures" / "progress_curves.png").is_file()
    (copy / "progress.jsonl").unlink()
    assert main(["report", str(copy)]) == 2
    assert "missing metrics.json" in capsys.readouterr().err


# ------------------------------------------------------------------ resume
def _results(folder: Path) -> dict[str, object]:
    """Every result file's content, without wall times (they differ between runs)."""

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if "seconds" not in k}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    out: dict[str, object] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if not p.is_file() or rel == STATE_FILE or rel.startswith("figures/") or rel.startswith("report."):
            continue
        if rel.startswith("progress."):    # wall times; a resumed stage appends its points again
            from causalnet.progress_log import read_progress

            out["progress points"] = [{k: v for k, v in r.items() if k not in ("wall_time", "elapsed_seconds")}
                                      for r in read_progress(folder)]
            continue
        out[rel] = strip(json.loads(p.read_text())) if p.suffix == ".json" else p.read_bytes()
    return out


def _run_cli(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "causalnet_cli.main", "run", "--out", str(out), "--no-progress", "--quick",
           *[a for kv in TINY for a in ("--set", kv)], *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_run_resumes_to_the_same_results(tmp_path):
    reference = tmp_path / "reference"
    proc = _run_cli(reference)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()

    killed = tmp_path / "killed"
    proc = _run_cli(killed)
    state = killed / STATE_FILE
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # kill once training has started
        if state.exists() and '"train:gsac"' in state.read_text():
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()

    again = _run_cli(killed, "--resume")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    assert "reused" in out.decode() and "collect" in out.decode()
    assert _results(killed) == _results(reference)


def test_resume_rules(tmp_path, capsys):
    config = load_config(quick=True, overrides=TINY)
    out = tmp_path / "run"
    first = run_pipeline(config, out, progress=False)
    assert first.ran == tuple(stage_names(config)) and first.skipped == ()
    # a finished run resumes to nothing; without --resume the folder is refused
    again = run_pipeline(None, out, resume=True, progress=False)
    assert again.ran == () and again.skipped == tuple(stage_names(config))
    assert main(["run", "--out", str(out), "--quick"]) == 2
    assert "not empty" in capsys.readouterr().err
    # other settings cannot resume this run: the differing key is named
    assert main(["run", "--out", str(out), "--resume", "--quick", "--set", "train.runs=3"]) == 2
    assert "train.runs" in capsys.readouterr().err
    assert main(["run", "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "no run to resume" in capsys.readouterr().err
    # a changed result file invalidates its stage and every later one
    metrics_before = (out / "metrics.json").read_bytes()
    acr = out / "acr.json"
    acr.write_text(acr.read_text().replace('"kappa": 1', '"kappa": 1 '))
    redo = run_pipeline(None, out, resume=True, progress=False)
    assert redo.skipped == ("collect", "discover") and redo.ran[0] == "acr"
    assert (out / "metrics.json").read_bytes() == metrics_before


def test_relative_output_folder(tmp_path, monkeypatch, capsys):
    """The README's form: `--out results/default`, relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    args = ["run", "--quick", "--out", "results/tiny", "--no-progress", *[a for kv in TINY for a in ("--set", kv)]]
    assert main(args) == 0
    assert (tmp_path / "results" / "tiny" / "metrics.json").is_file()
    assert not (tmp_path / "results" / "tiny" / "results").exists()
    assert main(["run", "--resume", "--out", "results/tiny"]) == 0
    assert "reused 10 finished stage(s)" in capsys.readouterr().out


def test_a_failing_stage_keeps_the_finished_ones(tmp_path, capsys, monkeypatch):
    import causalnet_cli.pipeline.stages as stages

    def broken(ctx):
        raise RuntimeError("disk full")

    config = load_config(quick=True, overrides=TINY)
    out = tmp_path / "run"
    monkeypatch.setitem(stages.STAGES, "acr", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_pipeline(config, out, progress=False)
    assert "causalnet run --resume --out" in capsys.readouterr().err
    assert (out / "graph.json").is_file() and not (out / "acr.json").exists()
    monkeypatch.undo()
    resumed = run_pipeline(None, out, resume=True, progress=False)
    assert resumed.skipped == ("collect", "discover") and resumed.ran[0] == "acr"
    assert (out / "metrics.json").is_file()


def test_pipeline_runs_on_a_synthetic_network(tmp_path):
    config = load_config(quick=True, overrides=[*TINY, "env.kind=synthetic", "env.agents=8", "data.episodes=1500"])
    summary = run_pipeline(config, tmp_path / "syn", progress=False)
    m = json.loads((summary.folder / "metrics.json").read_text())
    assert m["benchmark"]["env"] == "synthetic" and m["benchmark"]["n_agents"] == 8
    assert set(m["methods"]) == set(METHODS)
    assert m["structure"]["precision"] > 0.9
    assert "synthetic network, 8 agents" in (summary.folder / "report.md").read_text()
    # a synthetic policy bundle rebuilds its environment from its own configuration
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--policy", str(summary.folder / "policies" / "target" / "gsac"), "--target", "0.65",
                 "--episodes", "50", "--out", str(out)]) == 0
    assert json.loads(out.read_text())


def test_bad_configuration_is_reported_with_its_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nruns = -1\n")
    assert main(["run", "--config", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "train.runs" in err and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_default_run_reproduces_the_papers_ordering(tmp_path):
    """The README's main job: the default benchmark end to end (about 3 minutes on 2 cores)."""
    out = tmp_path / "default"
    assert main(["run", "--out", str(out), "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    methods = m["methods"]
    assert m["benchmark"]["runs"] == 5 and m["benchmark"]["meta_iterations"] == 30_000
    # discovery on 20,000 episodes per domain (measured F1 0.948 at the default max_cond_size=4,
    # 0.979 with the former default 2: see the discovery test at default budget)
    assert m["structure"]["f1"] > 0.94 and m["structure"]["precision"] > 0.98
    # GSAC zero-shot beats SAC-MTL zero-shot and SAC-LFS over its first 30 target episodes
    # (measured 0.710 vs 0.614 vs 0.240 with the advantage actor; 0.717 vs 0.600 vs 0.237 with the reference one)
    assert methods["gsac"]["zero_shot"]["mean"] > methods["sac-mtl"]["zero_shot"]["mean"]
    assert methods["gsac"]["zero_shot"]["ci95"][0] > methods["sac-lfs"]["adaptation"]["curve_average"]["ci95"][1]
    assert methods["gsac"]["zero_shot"]["mean"] > 0.6
    for name in FIGURES:
        assert 500 <= _png_size(out / "figures" / name)[0] <= 3000
