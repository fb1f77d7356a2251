"""The compiled engine (engine="numba") gives the numpy engine's numbers bit for bit."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_cases  # noqa: E402

from rl.envs import WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer

BASELINE = np.load(engine_cases.BASELINE)


@pytest.mark.parametrize("actor", engine_cases.ACTORS)
@pytest.mark.parametrize("name", list(engine_cases.CASES))
def test_numba_engine_matches_recorded_baseline(name: str, actor: str) -> None:
    got = engine_cases.run_case(name, actor, engine="numba")
    for key, value in got.items():
        np.testing.assert_array_equal(value, BASELINE[f"{name}/{actor}/{key}"], err_msg=f"{name}/{actor}/{key}")


def _pair(config: GSACConfig, **kw):
    env = WirelessAccessEnv.from_grid(4)                  # 25 users: neighbourhoods of 9 (pairwise sums)
    return [GSACTrainer(env, env.true_graph(), config, domain_factors=[0.2, 0.5, 0.8], rng=[4, 5, 6],
                        engine=engine, **kw) for engine in ("numpy", "numba")]


@pytest.mark.parametrize("config", [GSACConfig(restart=7, critic_memory_mb=16 / 1024),
                                    GSACConfig(restart=7, critic_memory_mb=16 / 1024, actor="reference"),
                                    GSACConfig(inputs="truncation", features="source_onehot", critic="reset")],
                         ids=["gsac-capped-critic", "gsac-reference-actor", "mtl-reset"])
def test_engines_agree_over_many_iterations(config: GSACConfig) -> None:
    ref, fast = _pair(config)
    for _ in range(3):
        ref.iterate(15)
        fast.iterate(15)
        np.testing.assert_array_equal(ref.theta, fast.theta)
    a, b = ref.critic.state_dict(), fast.critic.state_dict()
    if "keys" in a:                                       # same key -> value map (cell layout may differ)
        oa, ob = np.argsort(a["keys"]), np.argsort(b["keys"])
        np.testing.assert_array_equal(a["keys"][oa], b["keys"][ob])
        np.testing.assert_array_equal(a["values"][oa], b["values"][ob])
    if config.critic_memory_mb is not None and config.critic == "persistent":
        assert ref.critic._table.evicted == fast.critic._table.evicted > 0


def test_checkpoint_moves_between_engines() -> None:
    ref, fast = _pair(GSACConfig())
    fast.iterate(10)
    ref.load_state_dict(fast.state_dict())
    ref.iterate(5)
    fast.iterate(5)
    np.testing.assert_array_equal(ref.theta, fast.theta)


def test_unknown_engine_is_rejected() -> None:
    env = WirelessAccessEnv.from_grid(2)
    with pytest.raises(ValueError, match="engine must be 'auto', 'numpy' or 'numba', got 'gpu'"):
        GSACTrainer(env, env.true_graph(), engine="gpu")


def test_weight_kernels_add_in_numpys_order() -> None:
    # random values of mixed magnitudes, where any other summation order shows in the last bits
    from rl import kernels
    from rl.advantage import AdvantageWeights

    rng = np.random.default_rng(1)
    n, T1, R = 30, 11, 3
    nbs = [sorted({i, *rng.choice(n, size=int(rng.integers(0, 12)), replace=False).tolist()}) for i in range(n)]
    numpy_side, compiled = AdvantageWeights(nbs, n_runs=R), AdvantageWeights(nbs, n_runs=R)
    disc = 0.7 ** np.arange(T1)
    for _ in range(4):
        q = rng.normal(size=(T1, R, n)) * 10.0 ** rng.integers(-6, 6, size=(T1, R, n))
        expected = numpy_side.weights(q, discount=disc)
        got = np.empty_like(q)
        rate = max(1.0 / (compiled.updates + 1), 1.0 / compiled.window)
        kernels.advantage_weights(q, compiled.baseline, compiled._nbr, compiled._inv_size, disc, rate, got)
        compiled.updates += 1
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(compiled.baseline, numpy_side.baseline)
        q_pad = np.concatenate([q, np.zeros((T1, R, 1))], axis=-1)
        ref = q_pad[..., numpy_side._nbr].sum(axis=-1) * (disc / n)[:, None, None]
        kernels.reference_weights(q, numpy_side._nbr, disc / n, got)
        np.testing.assert_array_equal(got, ref)
