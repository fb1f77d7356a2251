"""Tests of rl.algorithms: GSAC and the SAC baselines built by make_trainer."""

from __future__ import annotations

import numpy as np
import pytest

from causalnet.discovery import LocalDiscovery
from rl.actors import LocalizedSoftmaxPolicy
from rl.algorithms import ALGORITHMS, algorithm_config, make_trainer
from rl.envs import WirelessAccessEnv
from rl.envs.synthetic import SyntheticNetworkEnv
from rl.features import ConstantFeatures, PolynomialFeatures, SourceOneHotFeatures
from rl.gsac import GSACConfig
from rl.policies import UniformPolicy
from rl.rollout import collect_transitions
from rl.evaluation import discounted_return

SOURCES = [0.2, 0.5, 0.8]


@pytest.fixture(scope="module")
def env():
    return WirelessAccessEnv(2, 3, users_per_vertex=1)   # 6 users, 2 APs


def _kwargs(algo: str, pre=None) -> dict:
    if algo in ("gsac", "sac-mtl"):
        return {"source_factors": SOURCES}
    if algo == "sac-lfs":
        return {"target_factor": 0.65}
    if algo == "sac-ft":
        return {"source_factors": SOURCES} if pre is None else {"target_factor": 0.65, "initial_policy": pre}
    return {}


def test_algorithm_names_and_configs():
    assert ALGORITHMS == ("gsac", "sac", "sac-lfs", "sac-mtl", "sac-ft")
    base = GSACConfig(kappa=2, actor_lr=3.0)
    got = {a: (algorithm_config(a, base).inputs, algorithm_config(a, base).features) for a in ALGORITHMS}
    assert got == {"gsac": ("acr", "linear"), "sac": ("truncation", "constant"),
                   "sac-lfs": ("truncation", "constant"), "sac-mtl": ("truncation", "source_onehot"),
                   "sac-ft": ("truncation", "constant")}
    assert all(algorithm_config(a, base).kappa == 2 and algorithm_config(a, base).actor_lr == 3.0 for a in ALGORITHMS)
    assert algorithm_config("gsac", GSACConfig(features="quadratic")).features == "quadratic"
    assert algorithm_config("gsac", GSACConfig.reference_sac()).features == "linear"


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_each_algorithm_builds_and_trains(env, algo):
    pre = None
    if algo == "sac-ft":
        pre = make_trainer("sac-ft", env, env.true_graph(), **_kwargs("sac-ft"), rng=3).policy(0)
    trainer = make_trainer(algo, env, env.true_graph(), **_kwargs(algo, pre), rng=0, n_runs=2)
    n_feat = {"gsac": 2, "sac-mtl": 3}.get(algo, 1)
    # 6 agents, 4 local states (two binary queue slots), up to 1 + 2*2 = 5 actions
    assert trainer.theta.shape == (2, 6, 4, n_feat, 5)
    feature_type = {"gsac": PolynomialFeatures, "sac-mtl": SourceOneHotFeatures}.get(algo, ConstantFeatures)
    assert isinstance(trainer.features, feature_type)
    expected_domains = {"gsac": 3, "sac-mtl": 3, "sac-ft": 1, "sac-lfs": 1, "sac": 1}[algo]
    assert trainer.n_sources == expected_domains
    if algo in ("sac-lfs", "sac-ft"):
        np.testing.assert_array_equal(trainer.domain_factors, np.full((1, 6), 0.65))
    before = trainer.theta.copy()
    trainer.iterate(30)
    assert trainer.iteration == 30
    assert not np.array_equal(trainer.theta, before)
    assert np.all(np.isfinite(trainer.theta))


def test_input_dimensions_wireless(env):
    graph = env.true_graph()
    gsac = make_trainer("gsac", env, graph, source_factors=SOURCES, rng=0)
    sac = make_trainer("sac", env, graph, rng=0)
    # the value ACR keeps the agent's own queue; truncation keeps every queue of N_i^1
    acr_sizes = [len(c) for c in gsac.inputs.critic_columns]
    trunc_sizes = [len(c) for c in sac.inputs.critic_columns]
    # critic key = ACR states (2) + actions of N_i (3 or 5 agents) + domain code (1)
    assert acr_sizes == [7, 9, 7, 7, 9, 7]
    assert trunc_sizes == [12, 18, 12, 12, 18, 12]
    assert [len(c) for c in gsac.inputs.policy_columns] == [len(c) for c in sac.inputs.policy_columns] == [2] * 6


def test_input_dimensions_smaller_policy_acr():
    # three state coordinates per agent, one reward parent: the policy ACR drops coordinates
    env = SyntheticNetworkEnv(n_agents=4, state_dims=3, reward_state_parents=1, cross_agent_prob=0.0, rng=1)
    gsac = make_trainer("gsac", env, env.true_graph(), source_factors=[0.2, 0.8], rng=0)
    sac = make_trainer("sac", env, env.true_graph(), rng=0)
    assert [len(c) for c in gsac.inputs.policy_columns] == [2, 3, 2, 2]
    assert [len(c) for c in sac.inputs.policy_columns] == [3, 3, 3, 3]
    assert [len(c) for c in gsac.inputs.critic_columns] == [5, 6, 6, 6]
    assert [len(c) for c in sac.inputs.critic_columns] == [12, 12, 12, 12]
    gsac.iterate(20)
    assert np.all(np.isfinite(gsac.theta))


def test_mtl_picks_nearest_source_code(env):
    trainer = make_trainer("sac-mtl", env, env.true_graph(), source_factors=SOURCES, rng=0)
    trainer.iterate(200)
    states = np.array([[0, 1] * 6, [1, 1] * 6])
    probs = {w: trainer.policy(0, w_hat=w).probabilities(states) for w in (0.2, 0.5, 0.7, 0.8)}
    np.testing.assert_array_equal(probs[0.7], probs[0.8])        # 0.7 is nearest to the source 0.8
    assert not np.allclose(probs[0.7], probs[0.5])
    np.testing.assert_array_equal(trainer.policy(0, w_hat=[0.3, 0.2, 0.1, 0.3, 0.2, 0.4]).probabilities(states),
                                  probs[0.2])


def test_ft_starts_from_pretrained_and_changes(env):
    graph = env.true_graph()
    pre = make_trainer("sac-ft", env, graph, source_factors=SOURCES, rng=0, n_runs=2)
    pre.iterate(100)
    ft = make_trainer("sac-ft", env, graph, target_factor=0.65, initial_policy=pre.policies(), rng=1, n_runs=2)
    np.testing.assert_array_equal(ft.theta, pre.theta)
    shared = make_trainer("sac-ft", env, graph, target_factor=0.65, initial_policy=pre.policy(1), rng=1, n_runs=2)
    np.testing.assert_array_equal(shared.theta[0], pre.theta[1])
    ft.iterate(10)
    assert not np.array_equal(ft.theta, pre.theta)
    assert ft.critic.n_entries() > 0


@pytest.mark.parametrize("algo, kwargs, match", [
    ("ppo", {}, "unknown algorithm 'ppo'"),
    ("gsac", {"source_factors": SOURCES, "target_factor": 0.65}, "'gsac' does not take target_factor"),
    ("sac", {"source_factors": SOURCES}, "'sac' does not take source_factors"),
    ("sac-lfs", {}, "'sac-lfs' needs target_factor"),
    ("sac-lfs", {"target_factor": 0.65, "source_factors": SOURCES}, "'sac-lfs' does not take source_factors"),
    ("sac-mtl", {}, "'sac-mtl' needs source_factors"),
    ("sac-mtl", {"source_factors": SOURCES, "target_factor": 0.6}, "'sac-mtl' does not take target_factor"),
    ("sac-ft", {"target_factor": 0.65}, "'sac-ft' needs initial_policy"),
    ("sac-ft", {}, "'sac-ft' needs source_factors"),
    ("sac-ft", {"source_factors": SOURCES, "source_w_hat": SOURCES}, "'sac-ft' does not take source_w_hat"),
    ("gsac", {"source_w_hat": SOURCES}, "source_w_hat was given without source_factors"),
    ("sac-lfs", {"target_factor": [0.5, 0.6]}, r"target_factor must be a scalar or have shape \(6,\)"),
])
def test_bad_combinations_raise(env, algo, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_trainer(algo, env, env.true_graph(), **kwargs)


def test_ft_fine_tuning_rejects_sources_and_bad_policy(env):
    pre = make_trainer("sac-ft", env, env.true_graph(), source_factors=SOURCES, rng=0).policy(0)
    with pytest.raises(ValueError, match="'sac-ft' does not take source_factors"):
        make_trainer("sac-ft", env, env.true_graph(), source_factors=SOURCES, target_factor=0.6, initial_policy=pre)
    with pytest.raises(TypeError, match="initial_policy"):
        make_trainer("sac-ft", env, env.true_graph(), target_factor=0.6, initial_policy="policy.npz")
    gsac_policy = make_trainer("gsac", env, env.true_graph(), source_factors=SOURCES, rng=0).policy(0)
    with pytest.raises(ValueError, match="initial_policy has shape"):   # two features vs one
        make_trainer("sac-ft", env, env.true_graph(), target_factor=0.6, initial_policy=gsac_policy)


def test_gsac_with_learned_graph(env):
    data = collect_transitions(env, None, episodes=300, horizon=10, domain_factors=SOURCES, rng=1)
    learned = LocalDiscovery().fit(data).graph_
    true = env.true_graph()
    assert learned != true          # uniform data miss some action parents of the queues
    trainer = make_trainer("gsac", env, learned, source_factors=SOURCES, rng=0)
    reference = make_trainer("gsac", env, true, source_factors=SOURCES, rng=0)
    # the value and policy ACRs (own queue) and the domain ACR (own factor) are recovered
    assert trainer.inputs.policy_columns == reference.inputs.policy_columns
    assert trainer.inputs.critic_columns == reference.inputs.critic_columns
    assert trainer.inputs.domain_agents == [[i] for i in range(6)]
    trainer.iterate(1000)
    target = env.with_domain_factor(0.65)
    trained = discounted_return(target, trainer.policy(0, w_hat=0.65), gamma=0.7, horizon=10, episodes=400, rng=5)
    uniform = discounted_return(target, UniformPolicy(env.action_counts), gamma=0.7, horizon=10, episodes=400, rng=5)
    assert uniform.mean == pytest.approx(0.076, abs=0.01)
    assert trained.mean > uniform.mean + 0.1


def test_same_seed_same_parameters(env):
    a = make_trainer("sac-mtl", env, env.true_graph(), source_factors=SOURCES, rng=4, n_runs=2)
    b = make_trainer("sac-mtl", env, env.true_graph(), source_factors=SOURCES, rng=4, n_runs=2)
    a.iterate(40)
    b.iterate(40)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert isinstance(a.policy(0), LocalizedSoftmaxPolicy)
