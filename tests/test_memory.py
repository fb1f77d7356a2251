"""Memory bounds: narrow dtypes of stored data and the capped hashed critic."""

from __future__ import annotations

import numpy as np
import pytest

from causalnet.data import Transitions, code_dtype, reward_dtype
from causalnet.spec import default_spec
from rl.critics import HashSlotTable, critic_max_entries
from rl.envs import WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer
from rl.rollout import collect_transitions


# ----------------------------------------------------------------- dtypes
def test_collected_wireless_data_is_stored_in_one_byte_per_value(tmp_path):
    env = WirelessAccessEnv.from_grid(3)
    tr = collect_transitions(env, None, episodes=20, horizon=5, domain_factors=[0.2, 0.8], rng=0)
    for name in ("states", "next_states", "actions", "rewards", "domain", "episode", "time"):
        assert getattr(tr, name).dtype == np.int8, name
    assert set(np.unique(tr.rewards).tolist()) <= {0, 1}
    back = Transitions.load(tr.save(tmp_path / "d")[0])
    for name in ("states", "actions", "rewards", "episode"):
        assert getattr(back, name).dtype == np.int8
        np.testing.assert_array_equal(getattr(back, name), getattr(tr, name))


def test_narrowing_keeps_every_value_exact():
    assert code_dtype(127) == np.int8 and code_dtype(128) == np.int16 and code_dtype(2**31) == np.int64
    assert reward_dtype(np.array([-3.0, 200.0])) == np.int16
    assert reward_dtype(np.array([0.25, 1.5])) == np.float32
    assert reward_dtype(np.array([0.1, 1.0])) == np.float64          # 0.1 is not a float32
    with pytest.raises(ValueError, match="largest value of -1"):
        code_dtype(-1)


def test_many_episodes_and_wide_actions_get_wider_types():
    spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 200)
    rng = np.random.default_rng(0)
    rows = 300
    tr = Transitions(spec, states=rng.integers(0, 2, (rows, 3)), actions=rng.integers(0, 200, (rows, 3)),
                     rewards=rng.integers(-200, 3, (rows, 3)).astype(float), next_states=rng.integers(0, 2, (rows, 3)),
                     domain=np.zeros(rows, int), episode=np.arange(rows) // 2, time=np.arange(rows) % 2)
    assert tr.states.dtype == np.int8 and tr.actions.dtype == np.int16 and tr.rewards.dtype == np.int16
    assert tr.episode.dtype == np.int16 and tr.time.dtype == np.int8
    assert tr.actions.max() > 127 and tr.episode.max() == 149 and tr.rewards.min() < -128


def test_concatenate_offsets_narrow_episode_ids_without_overflow():
    env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    part = collect_transitions(env, None, episodes=100, horizon=1, rng=0)
    both = Transitions.concatenate([part, part])
    assert both.episode.max() == 199 and np.unique(both.episode).size == 200


# ----------------------------------------------------------------- critic cap
def test_keep_largest_keeps_exactly_the_largest_magnitudes():
    rng = np.random.default_rng(0)
    keys = rng.choice(2**40, size=300, replace=False).astype(np.uint64) + np.uint64(1)
    values = rng.normal(size=300)
    table = HashSlotTable(capacity=16)
    cells = table.find_or_insert(keys)                    # may grow the table: index after
    table.values[cells] = values
    assert table.keep_largest(100) == 200
    kept = np.argsort(np.abs(values))[200:]
    cells = table.find(keys)
    assert set(np.flatnonzero(cells >= 0).tolist()) == set(kept.tolist())
    np.testing.assert_array_equal(table.values[cells[kept]], values[kept])
    assert table.size == 100


def test_critic_max_entries_fills_a_power_of_two_table():
    assert critic_max_entries(1) == 2**15                  # 1 MB = 65536 cells of 16 bytes, half full
    assert critic_max_entries(1.9) == 2**15 and critic_max_entries(2) == 2**16
    with pytest.raises(ValueError, match="memory_mb must be > 0"):
        critic_max_entries(0)


def _trainer(memory_mb):
    env = WirelessAccessEnv.from_grid(2)
    cfg = GSACConfig(critic_memory_mb=memory_mb)
    return GSACTrainer(env, env.true_graph(), cfg, domain_factors=[0.2, 0.8], rng=[1, 2])


def test_capped_critic_never_exceeds_its_bound():
    trainer = _trainer(4 / 1024)                          # 4 KB: 256 cells, at most 128 keys
    cap = trainer.critic.max_entries
    assert cap == 128
    sizes = []
    for _ in range(60):
        trainer.iterate(1)
        sizes.append(trainer.critic.n_entries())
        assert trainer.critic._table.capacity <= 2 * cap
    assert max(sizes) <= cap and trainer.critic._table.evicted > 0
    assert trainer.critic.nbytes() <= 4 * 1024


def test_a_cap_that_never_binds_changes_nothing():
    free, capped = _trainer(None), _trainer(1.0)
    free.iterate(40)
    capped.iterate(40)
    assert capped.critic._table.evicted == 0
    np.testing.assert_array_equal(free.theta, capped.theta)


def test_bad_critic_memory_is_rejected():
    with pytest.raises(ValueError, match="critic_memory_mb must be"):
        GSACConfig(critic_memory_mb=0)
