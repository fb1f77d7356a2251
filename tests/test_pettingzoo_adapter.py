"""Tests of the PettingZoo ParallelEnv adapter."""

from __future__ import annotations

import builtins
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from gymnasium.spaces import Discrete, MultiDiscrete  # noqa: E402
from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402
from pettingzoo.utils.env import ParallelEnv  # noqa: E402

from rl.envs import WirelessAccessEnv, make_parallel_env  # noqa: E402
from rl.envs.pettingzoo_adapter import parallel_env_class  # noqa: E402


def reference_env():
    return WirelessAccessEnv(3, 4, users_per_vertex=2, deadline=2)


def test_passes_pettingzoo_api_test_without_warnings():
    par = make_parallel_env(reference_env(), max_steps=10, rng=0)
    assert isinstance(par, ParallelEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(par, num_cycles=40)


def test_passes_pettingzoo_seed_test():
    parallel_seed_test(lambda: make_parallel_env(WirelessAccessEnv.from_grid(3, deadline=3), max_steps=25))


def test_agents_spaces_and_observations():
    env = reference_env()
    par = make_parallel_env(env, max_steps=3)
    assert par.possible_agents == [f"agent_{i}" for i in range(24)]
    assert par.agents == []                                  # until reset
    space = par.observation_space("agent_10")
    assert isinstance(space, MultiDiscrete) and space.nvec.tolist() == [2, 2]
    assert space is par.observation_space("agent_10")
    assert isinstance(par.action_space("agent_10"), Discrete)
    assert [par.action_space(a).n for a in par.possible_agents] == env.action_counts.tolist()
    assert par.state_space.nvec.tolist() == [2] * 48
    obs, infos = par.reset(seed=5)
    assert par.agents == par.possible_agents and set(obs) == set(infos) == set(par.agents)
    # observations are the agents' own queue coordinates of the underlying state
    expected = env.reset(1, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(par.state(), expected)
    for i, name in enumerate(par.possible_agents):
        assert obs[name].dtype == np.int64 and obs[name] in par.observation_space(name)
        assert obs[name].tolist() == expected[2 * i: 2 * i + 2].tolist()


def test_step_matches_the_batched_environment_and_truncates():
    env = reference_env()
    par = make_parallel_env(env, max_steps=4)
    par.reset(seed=3)
    rng = np.random.default_rng(3)
    states = env.reset(1, rng)
    choose = np.random.default_rng(0)
    for t in range(4):
        joint = (choose.random((1, 24)) * env.action_counts).astype(np.int64)
        obs, rewards, terms, truncs, infos = par.step({f"agent_{i}": int(joint[0, i]) for i in range(24)})
        states, expected_rewards = env.step(states, joint, rng)
        np.testing.assert_array_equal(par.state(), states[0])
        assert [rewards[f"agent_{i}"] for i in range(24)] == expected_rewards[0].tolist()
        assert not any(terms.values())
        assert set(truncs.values()) == {t == 3}
    assert par.agents == []
    with pytest.raises(RuntimeError, match="call reset"):
        par.step({})


def test_reset_seed_reproduces_and_unseeded_reset_continues():
    par = make_parallel_env(reference_env(), max_steps=2)
    first = par.reset(seed=11)[0]
    again = par.reset(seed=11)[0]
    assert all(np.array_equal(first[a], again[a]) for a in first)
    # same constructor seed gives the same sequence of unseeded episodes
    a = make_parallel_env(reference_env(), rng=4)
    b = make_parallel_env(reference_env(), rng=4)
    for _ in range(3):
        oa, ob = a.reset()[0], b.reset()[0]
        assert all(np.array_equal(oa[k], ob[k]) for k in oa)


def test_domain_factor_is_used():
    par = make_parallel_env(reference_env(), domain_factor=np.ones(24))
    obs, _ = par.reset(seed=0)
    assert all(o.tolist() == [0, 1] for o in obs.values())
    obs, *_ = par.step({a: 0 for a in par.agents})
    assert all(o.tolist() == [1, 1] for o in obs.values())


def test_bad_inputs():
    env = reference_env()
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        make_parallel_env(env, max_steps=0)
    with pytest.raises(TypeError, match="env must be a NetworkedEnv"):
        make_parallel_env("wireless")
    with pytest.raises(ValueError, match="domain_factor has shape"):
        make_parallel_env(env, domain_factor=np.ones(3))
    par = make_parallel_env(env)
    with pytest.raises(RuntimeError, match="call reset"):
        par.step({a: 0 for a in par.possible_agents})
    par.reset(seed=0)
    actions = {a: 0 for a in par.agents}
    with pytest.raises(ValueError, match=r"missing agent\(s\) \['agent_3'\]"):
        par.step({k: v for k, v in actions.items() if k != "agent_3"})
    with pytest.raises(ValueError, match="not live: \\['agent_99'\\]"):
        par.step({**actions, "agent_99": 0})
    with pytest.raises(ValueError, match="action of agent_0 must be an integer"):
        par.step({**actions, "agent_0": 0.5})
    with pytest.raises(ValueError, match="action out of range: agent 0"):
        par.step({**actions, "agent_0": 3})
    with pytest.raises(KeyError, match="unknown agent 'agent_24'"):
        par.action_space("agent_24")


def test_missing_pettingzoo_gives_clear_import_error(monkeypatch):
    import rl.envs.pettingzoo_adapter as adapter

    real_import = builtins.__import__

    def no_pettingzoo(name, *args, **kwargs):
        if name.split(".")[0] in ("pettingzoo", "gymnasium"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pettingzoo)
    parallel_env_class.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install pettingzoo.*`test` extra"):
            adapter.make_parallel_env(reference_env())
    finally:
        monkeypatch.undo()
        parallel_env_class.cache_clear()
    assert adapter.NetworkedParallelEnv is parallel_env_class()


def test_importing_rl_envs_does_not_import_pettingzoo():
    code = "import sys, rl.envs; print('pettingzoo' in sys.modules, 'gymnasium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_any_networked_env_with_uneven_coordinates():
    from rl.envs import SyntheticNetworkEnv

    env = SyntheticNetworkEnv(n_agents=4, state_dims=[1, 2, 3, 1], state_cardinality=3,
                              action_cardinality=[2, 3, 2, 4], rng=0)
    par = make_parallel_env(env, max_steps=5, rng=1)
    assert [par.observation_space(a).nvec.tolist() for a in par.possible_agents] == [[3], [3, 3], [3, 3, 3], [3]]
    assert [par.action_space(a).n for a in par.possible_agents] == [2, 3, 2, 4]
    obs, _ = par.reset(seed=2)
    assert obs["agent_2"].tolist() == par.state()[3:6].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(par, num_cycles=20)
