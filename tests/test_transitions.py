"""Transitions container: save/load round trip, validation of malformed files, concatenation, rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from causalnet import NetworkSpec, Transitions, TransitionsFormatError, default_spec
from rl.envs import WirelessAccessEnv
from rl.policies import AlohaPolicy, UniformPolicy
from rl.rollout import collect_transitions


@pytest.fixture(scope="module")
def env() -> WirelessAccessEnv:
    return WirelessAccessEnv(2, 3, users_per_vertex=1, deadline=2, arrival=0.5)


@pytest.fixture(scope="module")
def data(env) -> Transitions:
    return collect_transitions(env, None, episodes=5, horizon=4, domain_factors=[0.2, 0.8], rng=0)


def _write_raw(stem: Path, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    np.savez(stem.with_name(stem.name + ".npz"), **arrays)
    stem.with_name(stem.name + ".json").write_text(json.dumps(meta))
    return stem


def _raw(data: Transitions) -> tuple[dict[str, np.ndarray], dict]:
    arrays = {k: getattr(data, k).copy() for k in
              ("states", "actions", "rewards", "next_states", "domain", "episode", "time")}
    arrays["domain_factors"] = data.domain_factors.copy()
    meta = {"format": "causalnet.transitions", "version": 1, "n_rows": len(data), "spec": data.spec.to_dict()}
    return arrays, meta


# ----------------------------------------------------------------- round trip
@pytest.mark.parametrize("suffix", ["", ".npz", ".json"])
def test_save_load_round_trip_is_bit_identical(tmp_path, data, suffix):
    npz_path, json_path = data.save(tmp_path / f"sub/data{suffix}")
    assert npz_path.name == "data.npz" and json_path.name == "data.json"
    loaded = Transitions.load(tmp_path / "sub/data")
    assert loaded.spec == data.spec
    for name in ("states", "actions", "rewards", "next_states", "domain", "episode", "time", "domain_factors"):
        a, b = getattr(data, name), getattr(loaded, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    meta = json.loads(json_path.read_text())
    assert meta["format"] == "causalnet.transitions" and meta["version"] == 1 and meta["n_rows"] == len(data)


def test_round_trip_continuous_spec_without_factors(tmp_path):
    spec = NetworkSpec(n_agents=2, edges=((0, 1),), state_names=("x", "y"), state_owner=(0, 1),
                       state_cardinality=(None, 3), action_names=("u0", "u1"), action_cardinality=(2, 2),
                       reward_names=("cost0", "cost1"))
    rng = np.random.default_rng(0)
    tr = Transitions(spec, states=np.c_[rng.normal(size=6), rng.integers(0, 3, 6)],
                     actions=rng.integers(0, 2, (6, 2)), rewards=rng.normal(size=(6, 2)),
                     next_states=np.c_[rng.normal(size=6), rng.integers(0, 3, 6)],
                     domain=np.zeros(6, int), episode=np.repeat([0, 1], 3), time=np.tile([0, 1, 2], 2))
    tr.save(tmp_path / "own")
    back = Transitions.load(tmp_path / "own.npz")
    assert back.spec == spec and back.domain_factors is None
    np.testing.assert_array_equal(back.states, tr.states)


# ----------------------------------------------------------------- malformed files
def _mutations():
    def missing_array(arrays, meta):
        del arrays["rewards"]
    def unknown_array(arrays, meta):
        arrays["extra"] = np.zeros(3)
    def shape_mismatch(arrays, meta):
        arrays["actions"] = arrays["actions"][:, :-1]
    def rows_mismatch(arrays, meta):
        arrays["time"] = arrays["time"][:-1]
    def declared_rows(arrays, meta):
        meta["n_rows"] += 1
    def spec_names_vs_arrays(arrays, meta):
        meta["spec"]["state_names"].append("s99_0")
        meta["spec"]["state_owner"].append(0)
        meta["spec"]["state_cardinality"].append(2)
    def unknown_spec_field(arrays, meta):
        meta["spec"]["colour"] = "blue"
    def duplicate_name(arrays, meta):
        meta["spec"]["action_names"][1] = meta["spec"]["action_names"][0]
    def cardinality_exceeded(arrays, meta):
        arrays["next_states"][3, 2] = 2
    def action_cardinality(arrays, meta):
        arrays["actions"][0, 0] = 99
    def float_actions(arrays, meta):
        arrays["actions"] = arrays["actions"].astype(float) + 0.5
    def bad_version(arrays, meta):
        meta["version"] = 7
    def no_spec(arrays, meta):
        del meta["spec"]
    def unknown_meta_field(arrays, meta):
        meta["comment"] = "hello"
    def wrong_format(arrays, meta):
        meta["format"] = "other.tool"
    def nan_reward(arrays, meta):
        arrays["rewards"] = arrays["rewards"].astype(np.float64)   # stored as int8 (0/1 rewards)
        arrays["rewards"][1, 1] = np.nan
    return [
        (missing_array, r"missing array\(s\): \['rewards'\]"),
        (unknown_array, r"unknown array\(s\): \['extra'\]"),
        (shape_mismatch, r"shape mismatch: 'actions'"),
        (rows_mismatch, r"shape mismatch: 'time'"),
        (declared_rows, r"declares 41 rows"),
        (spec_names_vs_arrays, r"shape mismatch: 'states'.*13 state coordinates"),
        (unknown_spec_field, r"unknown field\(s\): \['colour'\]"),
        (duplicate_name, r"unique.*'a0'"),
        (cardinality_exceeded, r"cardinality exceeded: 'next_states' column 's1_0'.*0\.\.1"),
        (action_cardinality, r"cardinality exceeded: action 'a0'"),
        (float_actions, r"'actions' must hold integers"),
        (bad_version, r"format version 7"),
        (no_spec, r"no 'spec'"),
        (nan_reward, r"'rewards' holds NaN"),
        (unknown_meta_field, r"unknown field\(s\): \['comment'\]"),
        (wrong_format, r"format 'other.tool'"),
    ]


@pytest.mark.parametrize("mutate, match", _mutations(), ids=lambda x: getattr(x, "__name__", ""))
def test_load_rejects_malformed_files(tmp_path, data, mutate, match):
    arrays, meta = _raw(data)
    mutate(arrays, meta)
    stem = _write_raw(tmp_path / "bad", arrays, meta)
    result = None
    with pytest.raises(TransitionsFormatError, match=match):
        result = Transitions.load(stem)
    assert result is None  # never half-loaded


def test_load_rejects_missing_or_unreadable_files(tmp_path, data):
    data.save(tmp_path / "d")
    (tmp_path / "d.json").unlink()
    with pytest.raises(TransitionsFormatError, match=r"missing file: .*d\.json"):
        Transitions.load(tmp_path / "d")
    data.save(tmp_path / "e")
    (tmp_path / "e.npz").unlink()
    with pytest.raises(TransitionsFormatError, match=r"missing file: .*e\.npz"):
        Transitions.load(tmp_path / "e.json")
    data.save(tmp_path / "f")
    (tmp_path / "f.json").write_text("{not json")
    with pytest.raises(TransitionsFormatError, match="not valid JSON"):
        Transitions.load(tmp_path / "f")
    data.save(tmp_path / "g")
    (tmp_path / "g.npz").write_bytes(b"garbage")
    with pytest.raises(TransitionsFormatError, match=r"is not a (readable )?\.npz archive"):
        Transitions.load(tmp_path / "g")


def test_constructor_rejects_inconsistent_arrays(data):
    with pytest.raises(TransitionsFormatError, match=r"shape mismatch: 'next_states'"):
        Transitions(data.spec, data.states, data.actions, data.rewards, data.next_states[:-1],
                    data.domain, data.episode, data.time)
    with pytest.raises(TransitionsFormatError, match=r"'domain' labels must be >= 0"):
        Transitions(data.spec, data.states, data.actions, data.rewards, data.next_states,
                    data.domain - 1, data.episode, data.time)


# ----------------------------------------------------------------- concatenate / subsets
def test_concatenate_keeps_domains_and_unique_episodes(env, data):
    other = collect_transitions(env, None, episodes=3, horizon=4, domain_factors=[0.2, 0.8, 0.5], rng=1)
    both = Transitions.concatenate([data, other])
    assert len(both) == len(data) + len(other)
    np.testing.assert_array_equal(both.domain, np.r_[data.domain, other.domain])
    assert both.n_episodes == data.n_episodes + other.n_episodes == 19
    # each episode id belongs to one source episode: rows of an episode share domain and run t=0..3
    for ep in np.unique(both.episode):
        rows = both.episode == ep
        assert np.unique(both.domain[rows]).size == 1
        np.testing.assert_array_equal(both.time[rows], np.arange(4))
    # domain factors agree on the shared domains 0 and 1 and extend to domain 2
    np.testing.assert_allclose(both.domain_factors[:, 0], [0.2, 0.8, 0.5])
    np.testing.assert_array_equal(both.in_domain(1).states, np.r_[data.in_domain(1).states,
                                                                  other.in_domain(1).states])


def test_concatenate_rejects_different_specs(data):
    spec = default_spec(1, [], 1, 2, 2)
    tiny = Transitions(spec, np.zeros((1, 1), int), np.zeros((1, 1), int), np.zeros((1, 1)),
                       np.zeros((1, 1), int), np.zeros(1, int), np.zeros(1, int), np.zeros(1, int))
    with pytest.raises(TransitionsFormatError, match="different specs"):
        Transitions.concatenate([data, tiny])
    with pytest.raises(ValueError, match="at least one"):
        Transitions.concatenate([])


# ----------------------------------------------------------------- rollouts
def test_collect_transitions_matches_manual_rollout(env):
    policy = AlohaPolicy(env, 0.5)
    episodes, horizon, factors = 4, 5, [0.3, 0.9]
    tr = collect_transitions(env, policy, episodes=episodes, horizon=horizon, domain_factors=factors, rng=11)
    rng = np.random.default_rng(11)
    row = 0
    for label, w in enumerate(factors):
        dom_env = env.with_domain_factor(w)
        states = dom_env.reset(episodes, rng)
        steps = []
        for _ in range(horizon):
            actions = policy(states, rng)
            nxt, rewards = dom_env.step(states, actions, rng)
            steps.append((states, actions, rewards, nxt))
            states = nxt
        for ep in range(episodes):
            for t in range(horizon):
                s, a, r, ns = (x[ep] for x in steps[t])
                np.testing.assert_array_equal(tr.states[row], s)
                np.testing.assert_array_equal(tr.actions[row], a)
                np.testing.assert_array_equal(tr.rewards[row], r)
                np.testing.assert_array_equal(tr.next_states[row], ns)
                assert (tr.domain[row], tr.episode[row], tr.time[row]) == (label, label * episodes + ep, t)
                row += 1
    assert row == len(tr)
    np.testing.assert_allclose(tr.domain_factors, np.repeat([[0.3], [0.9]], env.n_agents, axis=1))
    # consecutive rows of an episode chain: next state at t is the state at t+1
    same = (tr.episode[1:] == tr.episode[:-1])
    np.testing.assert_array_equal(tr.next_states[:-1][same], tr.states[1:][same])


def test_collect_transitions_uniform_default_and_seeded(env):
    a = collect_transitions(env, None, episodes=3, horizon=2, rng=5)
    b = collect_transitions(env, UniformPolicy(env.action_counts), episodes=3, horizon=2, rng=5)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.next_states, b.next_states)
    assert a.n_domains == 1
