"""``causalnet simulate`` run in-process: JSON output, reference figures, flag errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from causalnet_cli.main import main

REFERENCE = ["--env", "wireless", "--height", "3", "--width", "4", "--users-per-vertex", "2",
             "--deadline", "2", "--arrival", "0.5", "--transmit", "random", "--gamma", "0.7",
             "--horizon", "10", "--seed", "0", "--avg-steps", "20", "--burn-in", "5"]


def _run(capsys, *argv: str) -> dict:
    status = main(["simulate", *argv, "--json"])
    out = capsys.readouterr().out
    assert status == 0
    return json.loads(out)


def test_uniform_reference_figure(capsys):
    result = _run(capsys, *REFERENCE, "--policy", "uniform", "--episodes", "4000")
    disc, avg = result["discounted_return"], result["average_reward"]
    assert abs(disc["mean"] - 0.0201) < 0.0015, f"project {disc['mean']:.4f} {disc['ci95']}, reference 0.0201"
    for metric in (disc, avg):
        assert metric["ci95"][0] < metric["mean"] < metric["ci95"][1]
        assert metric["episodes"] == 4000
    assert 0.0 < avg["mean"] < 0.05
    env = result["config"]["env"]
    assert (env["height"], env["width"], env["users_per_vertex"], env["deadline"]) == (3, 4, 2, 2)
    assert len(env["arrival"]) == 24 and len(env["transmit"]) == 6
    np.testing.assert_allclose(env["transmit"][:2], [0.5488, 0.7152], atol=1e-4)
    assert result["policy"] == {"name": "uniform"}


def test_aloha_fixed_q_and_out_file(capsys, tmp_path):
    out = tmp_path / "res" / "aloha.json"
    result = _run(capsys, *REFERENCE, "--policy", "aloha:0.4", "--episodes", "2000", "--out", str(out))
    assert 0.17 < result["discounted_return"]["mean"] < 0.19, f"project {result['discounted_return']}, reference ~0.18"
    assert result["policy"] == {"name": "aloha", "transmit_probability": 0.4}
    assert json.loads(out.read_text()) == result


def test_aloha_search_table(capsys):
    result = _run(capsys, *REFERENCE, "--policy", "aloha-search", "--search-grid", "0.1,0.35,0.9",
                  "--episodes", "2000")
    search = result["aloha_search"]
    assert [row["q"] for row in search["table"]] == [0.1, 0.35, 0.9]
    assert search["best_q"] == 0.35
    means = [row["discounted_return"]["mean"] for row in search["table"]]
    assert means[1] > means[0] + 0.05 and means[1] > means[2] + 0.05
    assert 0.17 < result["discounted_return"]["mean"] < 0.19


def test_default_output_is_a_readable_table(capsys):
    argv = ["--grid", "2", "--episodes", "30", "--avg-steps", "5", "--seed", "3", "--policy", "aloha-search",
            "--search-grid", "0.1,0.4"]
    assert main(["simulate", *argv]) == 0
    table = capsys.readouterr().out
    result = _run(capsys, *argv)
    assert not table.lstrip().startswith("{")
    lines = table.splitlines()
    assert lines[0] == f"policy       aloha (q = {result['policy']['transmit_probability']:g})"
    d = result["discounted_return"]
    row = next(x for x in lines if x.startswith("discounted return"))
    assert row.split()[-4:] == [f"{d['mean']:.4f}", f"[{d['ci95'][0]:.4f},", f"{d['ci95'][1]:.4f}]", "30"]
    best = next(x for x in lines if x.endswith("<- best"))
    assert float(best.split()[0]) == result["aloha_search"]["best_q"]


def test_grid_sizing_and_per_user_arrival(capsys):
    arrival = ",".join(["0.2"] * 8 + ["0.8"] * 8)
    result = _run(capsys, "--grid", "3", "--arrival", arrival, "--transmit", "allone",
                  "--episodes", "50", "--avg-steps", "5")
    env = result["config"]["env"]
    assert (env["height"], env["width"], env["users_per_vertex"]) == (4, 4, 1)
    assert env["arrival"] == [0.2] * 8 + [0.8] * 8 and env["transmit"] == [1.0] * 9


def test_same_seed_same_output(capsys):
    a = _run(capsys, "--grid", "2", "--episodes", "30", "--avg-steps", "5", "--seed", "3")
    b = _run(capsys, "--grid", "2", "--episodes", "30", "--avg-steps", "5", "--seed", "3")
    c = _run(capsys, "--grid", "2", "--episodes", "30", "--avg-steps", "5", "--seed", "4")
    assert a == b and a["discounted_return"] != c["discounted_return"]


@pytest.mark.parametrize("argv, flag", [
    (["--arrival", "0.1,0.2"], "--arrival"),
    (["--arrival", "1.5"], "--arrival"),
    (["--arrival", "abc"], "--arrival"),
    (["--transmit", "sometimes"], "--transmit"),
    (["--transmit", "0.5,0.5"], "--transmit"),
    (["--grid", "3", "--width", "5"], "--grid"),
    (["--height", "1"], "--height"),
    (["--deadline", "0"], "--deadline"),
    (["--policy", "greedy"], "--policy"),
    (["--policy", "aloha:x"], "--policy"),
    (["--gamma", "2"], "--gamma"),
    (["--episodes", "1"], "--episodes"),
    (["--search-grid", "0.2,7", "--policy", "aloha-search"], "--search-grid"),
])
def test_bad_flags_exit_2_naming_the_flag(capsys, argv, flag):
    assert main(["simulate", *argv, "--episodes" if "--episodes" not in argv else "--seed", "5"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert flag in captured.err and "error" in captured.err


def test_argparse_type_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--height", "x"])
    assert exc.value.code == 2
    assert "--height" in capsys.readouterr().err
