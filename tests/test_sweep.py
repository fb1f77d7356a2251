"""``causalnet sweep``: sweep-file validation, aggregation values, and a tiny sweep end to end."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.sweep import plot_sweep, sweep_rows, write_sweep_tables
from causalnet_cli.main import main
from causalnet_cli.sweeps.spec import SweepError, load_sweep, sweep_from_dict

#: Budgets of a cell that runs every stage in a few seconds (as the pipeline's resume tests).
TINY_BASE = """
[base]
data.episodes = 600
train = {iterations = 300, runs = 2, eval_points = 3, eval_episodes = 40}
adapt = {episodes = 4, eval_episodes = 40}
analysis = {error_repeats = 3, error_trajectories = [2, 8]}
"""


def _write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ spec
def test_cells_are_the_product_of_the_axes_in_file_order():
    spec = sweep_from_dict({"quick": True, "base": {"train": {"runs": 2}},
                            "axes": {"env.grid": [2, 3, 4], "domains": {"target": [0.6, 0.7]}, "seed": [0, 1]}})
    assert len(spec.cells) == 12
    assert spec.axis_names == ["env.grid", "domains.target", "seed"]
    cell = spec.cells[7]       # (grid 3, target 0.7, seed 1): index 1*4 + 1*2 + 1
    assert cell.values == {"env.grid": 3, "domains.target": 0.7, "seed": 1}
    assert cell.name == "007_grid-3_target-0.7_seed-1"
    assert (cell.config.env.grid, cell.config.domains.target, cell.config.seed) == (3, 0.7, 1)
    assert cell.config.train.runs == 2 and cell.config.data.episodes == 2000      # base, on the --quick budgets
    assert len({c.name for c in spec.cells}) == 12


@pytest.mark.parametrize(("text", "match"), [
    ('[axes]\n"env.gird" = [2, 3]', r"axes: unknown key env\.gird; known keys: env\.kind"),
    ('[axis]\nseed = [0]', r"unknown key axis; known keys: quick, base, axes"),
    ('[axes]\n"env.grid" = []', r"axes\.env\.grid is empty; give at least one value"),
    ('[axes]\n"env.grid" = [2, "3"]', r"axes: env\.grid: expected an integer, got '3'"),
    ('[axes]\n"domains.target" = [0.6, 1.5]', r"axes: domains\.target: must be <= 1\.0, got 1\.5"),
    ('[axes]\nseed = 3', r"axes\.seed: expected a list of values, got 3"),
    ('[axes]\nseed = [1, 1]', r"axes\.seed: the value 1 repeats"),
    ('[base]\ntrain.iterashuns = 5\n[axes]\nseed = [0]', r"base: unknown key train\.iterashuns"),
    ('quick = "yes"\n[axes]\nseed = [0]', r"quick: expected true or false"),
    ('[base]\ntrain.eval_points = 2\n[axes]\n"train.iterations" = [5, 20]\n"train.eval_points" = [2, 8]',
     r"the cell train\.iterations=5, train\.eval_points=8: train\.eval_points \(8\) must not exceed"),
    ("[base]\n", r"axes: expected a table of key = \[values\]"),
    ("[axes\n", r"is not valid TOML"),
])
def test_bad_sweep_files_fail_with_one_line_naming_the_key(tmp_path, text, match):
    with pytest.raises(SweepError, match=match) as info:
        load_sweep(_write(tmp_path, text))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "extra", "match"), [
    ('[axes]\n"env.grid" = []', [], "axes.env.grid is empty"),
    ('[axes]\n"env.grid" = ["x"]', [], "env.grid: expected an integer"),
    ("[axes]\nseed = [0]", ["--backend", "ray", "--ray-address", "127.0.0.1:9"], "no Ray cluster answers"),
    ("[axes]\nseed = [0]", ["--backend", "local", "--ray-address", "auto"], "needs --backend ray"),
])
def test_the_command_rejects_bad_input_before_running_anything(tmp_path, capsys, text, extra, match):
    out = tmp_path / "out"
    assert main(["sweep", str(_write(tmp_path, text)), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and err.startswith("causalnet sweep: error:") and len(err.splitlines()) == 1
    assert not out.exists()


def test_folder_rules(tmp_path, capsys):
    spec_file = _write(tmp_path, "[axes]\nseed = [0]")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("data")
    assert main(["sweep", str(spec_file), "--out", str(other)]) == 2
    assert "is not empty; choose a new folder" in capsys.readouterr().err
    assert main(["sweep", str(spec_file), "--out", str(other), "--force"]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "data"
    assert main(["sweep", str(spec_file), "--out", str(tmp_path / "new"), "--resume"]) == 2
    assert "holds no sweep to resume" in capsys.readouterr().err


# ------------------------------------------------------------------ aggregation
def _metrics(zero: float, average: float, final: float, uniform: float) -> dict:
    def entry(z, a, f):
        return {"zero_shot": {"mean": z}, "adaptation": {"curve_average": {"mean": a}, "final_return": {"mean": f}}}
    return {"methods": {"gsac": entry(zero, average, final)}, "reference": {"uniform": entry(uniform, uniform, uniform)}}


def test_aggregation_gives_mean_and_student_t_interval_over_seeds(tmp_path):
    values = {2: [0.20, 0.26, 0.23], 3: [0.31, 0.29, 0.36]}
    cells = [{"values": {"env.grid": g, "seed": s}, "metrics": _metrics(v, v + 0.01, v + 0.02, 0.1 * g)}
             for g, vs in values.items() for s, v in enumerate(vs)]
    rows = sweep_rows(cells, axes=["env.grid", "seed"])
    assert [(r["env.grid"], r["method"], r["n"]) for r in rows] == [(2, "gsac", 3), (2, "uniform", 3),
                                                                    (3, "gsac", 3), (3, "uniform", 3)]
    for row, vs in ((rows[0], values[2]), (rows[2], values[3])):
        x = np.array(vs)
        half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
        np.testing.assert_allclose(row["zero_shot_mean"], x.mean(), rtol=1e-12)
        np.testing.assert_allclose([row["zero_shot_ci_low"], row["zero_shot_ci_high"]],
                                   [x.mean() - half, x.mean() + half], rtol=1e-12)
        np.testing.assert_allclose(row["adaptation_mean"], x.mean() + 0.01, rtol=1e-12)
        np.testing.assert_allclose(row["final_return_mean"], x.mean() + 0.02, rtol=1e-12)
    assert rows[1]["zero_shot_mean"] == pytest.approx(0.2)
    assert rows[1]["zero_shot_ci_low"] == pytest.approx(0.2) == rows[1]["zero_shot_ci_high"]   # no spread

    files = write_sweep_tables(rows, tmp_path, axes=["env.grid", "seed"])
    document = json.loads(files["json"].read_text())
    assert document["setting_axes"] == ["env.grid"] and document["replicate_axis"] == "seed"
    assert document["rows"][0]["zero_shot_mean"] == rows[0]["zero_shot_mean"]
    csv_lines = files["csv"].read_text().splitlines()
    assert csv_lines[0].startswith("env.grid,method,n,zero_shot_mean,zero_shot_ci_low")
    assert len(csv_lines) == 5 and csv_lines[1].startswith("2,gsac,3,")
    md = files["md"].read_text()
    assert f"| 3 | gsac | 3 | {np.mean(values[3]):.4f} [" in md
    png = plot_sweep(rows, tmp_path / "sweep.png", setting_axes=["env.grid"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_single_replicate_has_no_interval():
    rows = sweep_rows([{"values": {"seed": 4}, "metrics": _metrics(0.3, 0.3, 0.3, 0.1)}], axes=["seed"])
    assert rows[0]["n"] == 1 and rows[0]["zero_shot_mean"] == 0.3 and math.isnan(rows[0]["zero_shot_ci_low"])


# ------------------------------------------------------------------ end to end
def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow
def test_tiny_sweep_end_to_end_same_numbers_on_every_backend_and_resumable(tmp_path, capsys):
    spec_file = _write(tmp_path, TINY_BASE + '[axes]\n"domains.target" = [0.6]\nseed = [0, 1]\n')
    local, serial = tmp_path / "local", tmp_path / "serial"
    assert main(["sweep", str(spec_file), "--out", str(local), "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "on local (2 workers)" in err and "000_target-0.6_seed-0: finished" in err
    assert main(["sweep", str(spec_file), "--out", str(serial), "--backend", "serial", "--no-progress"]) == 0
    for name in ("summary.json", "summary.csv", "summary.md"):
        assert (local / name).read_bytes() == (serial / name).read_bytes(), name
    for cell in ("000_target-0.6_seed-0", "001_target-0.6_seed-1"):
        assert (local / "cells" / cell / "graph.json").read_bytes() == \
            (serial / "cells" / cell / "graph.json").read_bytes()
    # the two seeds differ, and the table is their mean
    per_cell = [json.loads((local / "cells" / c / "metrics.json").read_text())["methods"]["gsac"]["zero_shot"]["mean"]
                for c in ("000_target-0.6_seed-0", "001_target-0.6_seed-1")]
    assert per_cell[0] != per_cell[1]
    row = json.loads((local / "summary.json").read_text())["rows"][0]
    assert row["method"] == "gsac" and row["n"] == 2
    np.testing.assert_allclose(row["zero_shot_mean"], np.mean(per_cell), rtol=1e-12)
    assert _png_size(local / "sweep.png")[0] > 300

    # resume: finished cells are skipped; a changed file makes its cell run again (from the changed stage)
    capsys.readouterr()
    assert main(["sweep", str(spec_file), "--out", str(local), "--resume"]) == 0
    assert "0 cell(s) run, 2 reused" in capsys.readouterr().out
    metrics = local / "cells" / "001_target-0.6_seed-1" / "metrics.json"
    metrics.write_text(metrics.read_text().replace("0.", "9.", 1))
    assert main(["sweep", str(spec_file), "--out", str(local), "--resume"]) == 0
    captured = capsys.readouterr()
    assert "1 cell(s) run, 1 reused" in captured.out and "reused 8 stage(s)" in captured.err   # all but metrics and report
    assert (local / "summary.json").read_bytes() == (serial / "summary.json").read_bytes()


def test_resume_refuses_another_sweep_file_even_with_the_axes_reordered(tmp_path):
    from causalnet_cli.sweeps.runner import SweepFolder

    spec = sweep_from_dict({"axes": {"env.grid": [2, 3], "seed": [0, 1]}})
    folder = SweepFolder(tmp_path / "out")
    folder.open(spec)                                        # writes sweep.json, runs nothing
    saved = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert [c["name"] for c in saved["cells"]] == [c.name for c in spec.cells]
    folder.check(spec, resume=True)                          # the same file: accepted
    reordered = sweep_from_dict({"axes": {"seed": [0, 1], "env.grid": [2, 3]}})
    with pytest.raises(SweepError, match="differs from the one in .* in axes; use the same file, or --force"):
        folder.check(reordered, resume=True)
    other_base = sweep_from_dict({"base": {"train": {"runs": 2}}, "axes": {"env.grid": [2, 3], "seed": [0, 1]}})
    with pytest.raises(SweepError, match=r"in base;"):
        folder.check(other_base, resume=True)
    with pytest.raises(SweepError, match="exclude each other"):
        folder.check(spec, resume=True, force=True)


def test_the_sweep_file_of_the_scaling_page_is_valid():
    import re
    import tomllib

    page = (Path(__file__).resolve().parents[1] / "docs" / "scaling.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", page, flags=re.S)
    assert blocks
    spec = sweep_from_dict(tomllib.loads(blocks[0]))
    assert len(spec.cells) == 45 and spec.quick and spec.cells[0].config.train.runs == 3


def test_force_replaces_an_earlier_sweep(tmp_path):
    from causalnet_cli.sweeps.runner import STATE_FILE, SweepFolder

    spec = sweep_from_dict({"axes": {"seed": [0, 1]}})
    SweepFolder(tmp_path / "out").open(spec)                 # an earlier sweep (no cell run)
    cell = tmp_path / "out" / "cells" / "000_seed-0"
    cell.mkdir(parents=True)
    (cell / "metrics.json").write_text("{}")
    SweepFolder(tmp_path / "out").open(spec, force=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sweep.json", STATE_FILE]
    assert json.loads((tmp_path / "out" / STATE_FILE).read_text())["cells"] == {}
