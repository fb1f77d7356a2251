"""Tests of analysis.plot_curves and analysis.style: the data each curve figure draws, and the PNGs."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from analysis.plot_curves import (adaptation_curve_data, band_arrays, factor_error_data, plot_adaptation_curves,
                                  plot_factor_error, plot_training_curves, sqrt_reference)
from analysis.style import (FALLBACK_COLORS, METHOD_COLORS, METHOD_LABELS, method_color, method_colors,
                            method_label)
from rl.adaptation import AdaptationCurves, MethodCurve, TrainingSummary, mean_ci


# ------------------------------------------------------------------ inputs in the run-directory shapes
def _training(per_run: np.ndarray, iterations) -> dict:
    mean, lo, hi = mean_ci(per_run)
    return TrainingSummary(np.asarray(iterations), per_run, mean, lo, hi).to_dict()


@pytest.fixture(scope="module")
def training_methods():
    rng = np.random.default_rng(0)
    it = np.arange(0, 220, 20)
    rise = 0.4 * (1 - np.exp(-it / 60.0))
    return {"gsac": _training(0.2 + rise + 0.02 * rng.standard_normal((4, it.size)), it),
            "sac-mtl": _training(0.2 + 0.8 * rise + 0.02 * rng.standard_normal((4, it.size)), it),
            "one-run": _training(0.2 + 0.5 * rise[None, :], it)}          # single run: ci is None


def _method_curve(per_run: np.ndarray, learning: bool) -> MethodCurve:
    mean, lo, hi = mean_ci(per_run)
    return MethodCurve(learning, per_run, mean, lo, hi, per_run[:, 1:].mean(axis=1), per_run[:, -1] / 3.0)


@pytest.fixture(scope="module")
def adaptation():
    rng = np.random.default_rng(1)
    runs, episodes = 3, 30
    e = np.arange(episodes + 1)
    frozen = np.repeat(rng.uniform(0.5, 0.55, (runs, 1)), episodes + 1, axis=1)    # exactly flat per run
    learning = 0.2 + 0.3 * (1 - np.exp(-e / 10.0)) + 0.01 * rng.standard_normal((runs, episodes + 1))
    methods = {"gsac": _method_curve(frozen, False), "sac-mtl": _method_curve(frozen - 0.1, False),
               "sac-ft": _method_curve(learning + 0.1, True), "sac-lfs": _method_curve(learning, True)}
    curves = AdaptationCurves(e, methods,
                              {"target_factor": [0.65] * 4, "episodes": episodes, "eval_episodes": 400, "gamma": 0.7,
                               "horizon": 10, "n_runs": runs})
    return curves.to_dict()


FACTOR_CURVE = {"target_factor": [0.65] * 9, "trajectories": [1, 2, 5, 10, 20, 50, 100],
                "mean_abs_error": [0.13, 0.089, 0.053, 0.038, 0.027, 0.017, 0.012],
                "ci_low": [0.115, 0.08, 0.047, 0.034, 0.024, 0.015, 0.011],
                "ci_high": [0.145, 0.098, 0.059, 0.042, 0.03, 0.019, 0.013],
                "rmse": [0.16, 0.11, 0.065, 0.048, 0.033, 0.022, 0.015], "repeats": 20, "horizon": 10,
                "loglog_slope": -0.51, "estimated_agents": list(range(9)), "unestimated_agents": []}


def _check_png(path, *, min_width=500, max_width=3000):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    height, width = img.shape[:2]
    assert min_width <= width <= max_width and 300 <= height <= 2000
    assert img[..., :3].std() > 0.05           # not a blank canvas
    return width, height


# ------------------------------------------------------------------ style
def test_method_colours_and_labels():
    assert [method_color(m) for m in ("gsac", "sac-mtl", "sac-ft", "sac-lfs")] == \
        [METHOD_COLORS[m] for m in ("gsac", "sac-mtl", "sac-ft", "sac-lfs")]
    assert len(set(METHOD_COLORS.values())) == len(METHOD_COLORS)   # no two alike
    assert METHOD_LABELS["gsac"] == "GSAC (zero-shot)" and METHOD_LABELS["sac-lfs"] == "SAC-LFS (from scratch)"
    assert method_color("baseline-x") == method_color("baseline-x") in FALLBACK_COLORS
    assert not set(FALLBACK_COLORS) & set(METHOD_COLORS.values())
    names = ["gsac", "sac-ft"] + [f"extra{k}" for k in range(6)]
    cols = method_colors(names)
    assert len(set(cols.values())) == len(names) and cols["gsac"] == METHOD_COLORS["gsac"]
    assert method_label("sac-mtl", {"sac-mtl": "SAC-MTL"}) == "SAC-MTL" and method_label("zz") == "zz"
    with pytest.raises(TypeError, match="name"):
        method_color(3)


# ------------------------------------------------------------------ data helpers
def test_band_arrays_turns_none_into_nan(training_methods):
    x, m, lo, hi = band_arrays(training_methods["one-run"])
    assert x.tolist() == list(range(0, 220, 20))
    assert np.isnan(lo).all() and np.isnan(hi).all()
    np.testing.assert_allclose(m, training_methods["one-run"]["mean"])
    x, m, lo, hi = band_arrays({"mean": [1.0, 2.0, 3.0], "ci_low": [0.5, None, 2.5], "ci_high": [1.5, None, 3.5]},
                               [0, 1, 2])
    assert np.isnan(lo).tolist() == [False, True, False] and hi[2] == 3.5
    x, m, lo, hi = band_arrays(training_methods["gsac"])
    assert np.all(lo < m) and np.all(m < hi)


@pytest.mark.parametrize("summary, match", [
    ({"iterations": [0, 1], "mean": [1.0, 2.0], "ci_low": [0.0], "ci_high": [2.0, 3.0]}, r"\['ci_low'\] has 1"),
    ({"iterations": [0, 1, 2], "mean": [1.0, 2.0]}, r"\['iterations'\] has 3"),
    ({"iterations": [], "mean": []}, "empty"),
    ({"iterations": [0]}, "no 'mean'"),
    ({"mean": [1.0]}, "no 'iterations'"),
])
def test_band_arrays_rejects_bad_summaries(summary, match):
    with pytest.raises(ValueError, match=match):
        band_arrays(summary, name="methods['gsac']")


def test_band_arrays_rejects_non_numbers():
    with pytest.raises(TypeError, match=r"summary\['mean'\]"):
        band_arrays({"iterations": [0], "mean": ["high"]})
    with pytest.raises(TypeError, match="summary"):
        band_arrays([1.0, 2.0])


def test_adaptation_curve_data(adaptation):
    data = adaptation_curve_data(adaptation)
    assert list(data) == ["gsac", "sac-mtl", "sac-ft", "sac-lfs"]
    assert [d["learning"] for d in data.values()] == [False, False, True, True]
    for name, d in data.items():
        assert d["x"].tolist() == list(range(31))
        np.testing.assert_allclose(d["mean"], adaptation["methods"][name]["mean"])
        assert np.all(d["ci_low"] <= d["mean"]) and np.all(d["mean"] <= d["ci_high"])
    assert np.ptp(data["gsac"]["mean"]) == 0.0          # frozen curve is flat
    assert data["sac-lfs"]["mean"][-1] > data["sac-lfs"]["mean"][0] + 0.2


def test_adaptation_curve_data_rejects_bad_input(adaptation):
    with pytest.raises(ValueError, match="methods"):
        adaptation_curve_data({"episodes": [0, 1], "methods": {}})
    with pytest.raises(ValueError, match="episodes"):
        adaptation_curve_data({"methods": adaptation["methods"]})
    short = {"episodes": [0, 1, 2], "methods": {"gsac": adaptation["methods"]["gsac"]}}
    with pytest.raises(ValueError, match=r"curves\['methods'\]\['gsac'\]\['mean'\] has 31"):
        adaptation_curve_data(short)
    no_flag = {"episodes": [0, 1], "methods": {"x": {"mean": [1.0, 1.0]}}}
    with pytest.raises(ValueError, match="learning"):
        adaptation_curve_data(no_flag)


def test_factor_error_data_and_reference():
    d = factor_error_data(FACTOR_CURVE)
    assert d["trajectories"].tolist() == FACTOR_CURVE["trajectories"]
    np.testing.assert_allclose(d["reference"], 0.13 / np.sqrt(d["trajectories"]))
    assert d["reference"][0] == 0.13 and d["reference"][-1] == pytest.approx(0.013)
    assert d["slope"] == -0.51
    recomputed = factor_error_data({k: v for k, v in FACTOR_CURVE.items() if k != "loglog_slope"})["slope"]
    assert recomputed == pytest.approx(np.polyfit(np.log(FACTOR_CURVE["trajectories"]),
                                                  np.log(FACTOR_CURVE["mean_abs_error"]), 1)[0])
    np.testing.assert_allclose(sqrt_reference([4, 16, 64], 1.0), [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="error_curve"):
        factor_error_data({"error_curve": FACTOR_CURVE})
    with pytest.raises(ValueError, match="positive"):
        factor_error_data({**FACTOR_CURVE, "trajectories": [0, 2, 5, 10, 20, 50, 100]})


# ------------------------------------------------------------------ figures
def test_training_figure(tmp_path, training_methods):
    out = plot_training_curves(training_methods, tmp_path / "sub" / "training.png",
                               reference={"uniform policy": 0.2}, labels={"gsac": "GSAC", "sac-mtl": "SAC-MTL"})
    assert out == tmp_path / "sub" / "training.png"
    w, h = _check_png(out)
    assert (w, h) == (round(8.5 * 130), round(4.8 * 130))


def test_training_figure_rejects_bad_input(tmp_path, training_methods):
    with pytest.raises(ValueError, match="methods"):
        plot_training_curves({}, tmp_path / "t.png")
    bad = {"gsac": {**training_methods["gsac"], "ci_high": training_methods["gsac"]["ci_high"][:-1]}}
    with pytest.raises(ValueError, match=r"methods\['gsac'\]\['ci_high'\]"):
        plot_training_curves(bad, tmp_path / "t.png")
    with pytest.raises(ValueError, match="reference"):
        plot_training_curves(training_methods, tmp_path / "t.png", reference={"uniform": float("nan")})
    with pytest.raises(TypeError, match="path"):
        plot_training_curves(training_methods, 12)
    assert not list(tmp_path.iterdir())             # nothing written on failure


def test_adaptation_figure(tmp_path, adaptation):
    _check_png(plot_adaptation_curves(adaptation, tmp_path / "adaptation.png", title="Adaptation, w = 0.65"))
    with pytest.raises(TypeError, match="curves"):
        plot_adaptation_curves([adaptation], tmp_path / "a.png")


def test_factor_error_figure(tmp_path):
    _check_png(plot_factor_error(FACTOR_CURVE, tmp_path / "factor_error.png"))
    with pytest.raises(ValueError, match="mean_abs_error"):
        plot_factor_error({**FACTOR_CURVE, "mean_abs_error": [0.1, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1]},
                          tmp_path / "f.png")
