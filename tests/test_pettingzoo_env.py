"""A user's PettingZoo ParallelEnv as a batched environment, and a DiscoveredModel through the adapter."""

import sys
from pathlib import Path

import numpy as np
import pytest

from causalnet import DiscoveredModel, LocalDiscovery
from causalnet.network_file import network_from_dict
from rl.envs.pettingzoo_adapter import make_parallel_env
from rl.envs.pettingzoo_env import FactoryError, PettingZooNetworkedEnv
from rl.rollout import collect_transitions

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.sis_system import make_sis, network_dict  # noqa: E402

NET = network_from_dict(network_dict(6))


def _env(**kw):
    return PettingZooNetworkedEnv("tests.sis_system:make_sis", NET, factory_kwargs={"n_agents": 6},
                                  domain_kwarg="beta", **kw)


def test_batched_steps_match_the_raw_environment_seed_for_seed():
    env = _env(domain_factor=0.4)
    rng = np.random.default_rng(5)
    states = env.reset(3, rng)
    seeds = np.random.default_rng(5).integers(0, 2 ** 31 - 1, size=3)
    raw = [make_sis(6, beta=0.4) for _ in range(3)]
    for b, r in enumerate(raw):
        obs, _ = r.reset(seed=int(seeds[b]))
        assert [obs[a] for a in r.possible_agents] == states[b].tolist()
    actions = np.array([[1, 0, 1, 0, 1, 0]] * 3)
    nxt, rew = env.step(states, actions, rng)
    for b, r in enumerate(raw):
        obs, rw, *_ = r.step({a: int(actions[b, i]) for i, a in enumerate(r.possible_agents)})
        assert [obs[a] for a in r.possible_agents] == nxt[b].tolist()
        np.testing.assert_allclose(rew[b], [rw[a] for a in r.possible_agents])
    np.testing.assert_allclose(rew[:, 0], -states[:, 0] - 0.35)
    with pytest.raises(ValueError, match="can only continue from the states it returned"):
        env.step(1 - nxt, actions, rng)


def test_domain_factor_reaches_the_factory_and_changes_the_dynamics():
    env = _env()
    data = collect_transitions(env, None, episodes=150, horizon=10, domain_factors=[0.05, 0.6], rng=1)
    low, high = data.in_domain(0).next_states.mean(), data.in_domain(1).next_states.mean()
    assert high > low + 0.1
    data2 = collect_transitions(env, None, episodes=150, horizon=10, domain_factors=[0.05, 0.6], rng=1)
    np.testing.assert_array_equal(data.next_states, data2.next_states)


def test_domain_factor_as_reset_option():
    env = PettingZooNetworkedEnv("tests.sis_system:make_sis", NET, factory_kwargs={"n_agents": 6},
                                 domain_kwarg="beta", domain_in="reset")
    data = collect_transitions(env, None, episodes=150, horizon=10, domain_factors=[0.05, 0.6], rng=1)
    assert data.in_domain(1).next_states.mean() > data.in_domain(0).next_states.mean() + 0.1


@pytest.mark.parametrize("factory, message", [
    ("tests.no_such_module:make", "cannot import module 'tests.no_such_module'"),
    ("tests.sis_system:nothing_here", "has no attribute 'nothing_here'"),
    ("tests.sis_system", "expected package.module:factory"),
    ("tests.sis_system:not_a_parallel_env", "returned a dict, not a pettingzoo ParallelEnv"),
    ("tests.sis_system:make_box_sis", "is not discrete"),
])
def test_bad_factories_are_refused_with_one_clear_message(factory, message):
    with pytest.raises(FactoryError, match=message):
        PettingZooNetworkedEnv(factory, NET, factory_kwargs={"n_agents": 6}, domain_kwarg="beta")


def test_agent_count_must_match_the_network_file():
    with pytest.raises(FactoryError, match="has 5 agents"):
        PettingZooNetworkedEnv("tests.sis_system:make_sis", NET, factory_kwargs={"n_agents": 5})


@pytest.mark.slow
def test_discovered_model_passes_the_parallel_api_test():
    from pettingzoo.test import parallel_api_test

    env = _env()
    data = collect_transitions(env, None, episodes=300, horizon=10, domain_factors=[0.1, 0.5], rng=2)
    graph = LocalDiscovery(alpha=0.01, ci_test="gsq", max_cond_size=1).fit(data).graph_
    model = DiscoveredModel(graph).fit(data, domain_factors=np.array([[0.1] * 6, [0.5] * 6]))
    par = make_parallel_env(model, max_steps=8, rng=0, domain_factor=0.3)
    parallel_api_test(par, num_cycles=20)
    obs, _ = par.reset(seed=1, options={"domain_factor": 0.5})
    assert set(obs) == {f"agent_{i}" for i in range(6)} and par._domain_factor.tolist() == 0.5
