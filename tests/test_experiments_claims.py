"""benchmarks/paper_claims.py and benchmarks/acr_pays.py on tiny settings: well-formed results with CIs."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import acr_pays  # noqa: E402
import paper_claims  # noqa: E402
from _experiments import difference_summary  # noqa: E402

from rl.envs import WirelessAccessEnv  # noqa: E402

TINY = dict(n_seeds=2, seed=0, meta_iterations=20, lfs_iterations=40, early_episodes=10, estimation_episodes=10,
            adaptation_episodes=10, eval_episodes=60, eval_points=2)


@pytest.fixture(scope="module")
def tiny_grid():
    return paper_claims.run_grid(1, **TINY)          # 2x2 vertices, 4 users, one AP


def _check_summary(s, n):
    assert s["n"] == n and len(s["values"]) == n
    np.testing.assert_allclose(s["mean"], np.mean(s["values"]))
    assert s["ci95"][0] <= s["mean"] <= s["ci95"][1]


def test_run_grid_is_well_formed(tiny_grid):
    res = tiny_grid
    assert res["n_agents"] == 4 and res["targets"] == [0.6, 0.65, 0.7]
    assert set(res["methods"]) == {"gsac-zero-shot", "sac-mtl-zero-shot", "sac-lfs-early", "sac-lfs-converged"}
    for method in res["methods"].values():
        assert set(method["per_target"]) == {"0.6", "0.65", "0.7"}
        for summary in method["per_target"].values():
            _check_summary(summary, 2)
            assert all(0.0 <= v <= 1.0 / (1 - 0.7) for v in summary["values"])   # reward <= 1 per step
    curves = res["methods"]["sac-lfs-converged"]["curves"]
    assert curves["0.65"]["iterations"] == [0, 10, 20, 40]
    assert res["methods"]["gsac-zero-shot"]["curve_true_w_middle_target"]["iterations"] == [0, 10, 20]
    # each target's w_hat comes from 10 uniform-policy episodes of 10 steps per agent
    np.testing.assert_allclose(res["target_w_hat_mean"], res["targets"], atol=0.1)


def test_claim_verdicts_follow_the_numbers(tiny_grid):
    claims = tiny_grid["claims"]
    assert [c["claim"] for c in claims] == ["C1", "C2", "C3"] * 3
    methods = tiny_grid["methods"]
    other_key = {"C1": "sac-mtl-zero-shot", "C2": "sac-lfs-early", "C3": "sac-lfs-converged"}
    for c in claims:
        gsac = methods["gsac-zero-shot"]["per_target"][str(c["target"])]["mean"]
        other = methods[other_key[c["claim"]]]["per_target"][str(c["target"])]["mean"]
        factor = 0.95 if c["claim"] == "C3" else 1.0
        np.testing.assert_allclose(c["difference"]["mean"], gsac - factor * other, atol=1e-12)
        assert c["pass"] == (gsac >= factor * other - 1e-12)


def test_run_grid_is_deterministic(tiny_grid):
    again = paper_claims.run_grid(1, **TINY)
    for key in tiny_grid["methods"]:
        for tau in ("0.6", "0.65", "0.7"):
            assert again["methods"][key]["per_target"][tau]["values"] == \
                tiny_grid["methods"][key]["per_target"][tau]["values"]


def test_run_grid_rejects_bad_budgets():
    with pytest.raises(ValueError, match="lfs_iterations"):
        paper_claims.run_grid(1, **{**TINY, "lfs_iterations": 10})
    with pytest.raises(ValueError, match="n_seeds"):
        paper_claims.run_grid(1, **{**TINY, "n_seeds": 0})


def test_difference_summary():
    d = difference_summary([1.0, 1.2, 1.1], [0.5, 0.7, 0.6])
    np.testing.assert_allclose(d["mean"], 0.5)
    assert 0 < d["ci95"][0] < 0.5 < d["ci95"][1]
    assert difference_summary([1.0, 1.0], [0.0, 0.0])["ci95"] == [1.0, 1.0]


def test_acr_pays_sizes_and_curves():
    env = WirelessAccessEnv(2, 3, users_per_vertex=1)
    res = acr_pays.compare_inputs(env, iterations=20, eval_every=10, n_seeds=2, eval_episodes=50)
    acr, trunc = res["modes"]["acr"], res["modes"]["truncation"]
    # wireless: the policy ACR is the agent's own queue, as the truncation's actor input
    assert acr["actor_entries"] == trunc["actor_entries"] == sum(4 * 2 * int(a) for a in env.action_counts)
    # critic keys: own queue (4 values) vs every queue of N_i (4^|N_i|), times the actions of N_i
    spec = env.spec
    acts = [math.prod(int(env.action_counts[j]) for j in spec.neighborhood(i, 1)) for i in range(6)]
    assert acr["critic_key_space"] == sum(4 * a for a in acts)
    assert trunc["critic_key_space"] == sum(4 ** len(spec.neighborhood(i, 1)) * a for i, a in enumerate(acts))
    for m in (acr, trunc):
        assert m["eval_iterations"] == [0, 10, 20] and len(m["curve"]) == 3
        assert 0 < m["critic_entries_total"] <= 2 * 20 * 11 * 6      # at most one new key per agent-step
        for run, reach in zip(m["per_run"], m["iterations_to_level_per_run"]):
            assert reach == acr_pays.iterations_to_reach(m["eval_iterations"], run, res["equal_return_level"])
    assert acr_pays.iterations_to_reach([0, 5], [0.1, 0.2], 0.3) is None
