"""Phase 3 from a discovered model: learn the graph, fit a simulator from data, train GSAC inside
the simulator only, and evaluate in the true environment."""

import numpy as np
import pytest

from causalnet import LocalDiscovery
from causalnet.model import DiscoveredModel
from rl.envs import WirelessAccessEnv
from rl.evaluation import discounted_return
from rl.gsac import GSACConfig, train_gsac
from rl.policies import UniformPolicy
from rl.rollout import collect_transitions

SOURCES = [0.2, 0.5, 0.8]


@pytest.fixture(scope="module")
def trained_on_model():
    env = WirelessAccessEnv(2, 3, users_per_vertex=1)
    data = collect_transitions(env, None, episodes=3000, horizon=10, domain_factors=SOURCES, rng=11)
    graph = LocalDiscovery().fit(data).graph_
    model = DiscoveredModel(graph).fit(data)
    w = np.tile(np.asarray(SOURCES)[:, None], (1, env.n_agents))
    result = train_gsac(model, graph, GSACConfig(gamma=0.7, horizon=10), iterations=2000, domain_factors=w, w_hat=w,
                        rng=5)
    return env, graph, result.policies[0]


def test_policy_trained_in_model_improves_in_true_env(trained_on_model):
    env, graph, policy = trained_on_model
    target = env.with_domain_factor(0.65)
    policy.w_hat = np.full(env.n_agents, 0.65)
    learned = discounted_return(target, policy, gamma=0.7, horizon=10, episodes=4000, rng=1)
    uniform = discounted_return(target, UniformPolicy(env.action_counts), gamma=0.7, horizon=10,
                                episodes=4000, rng=1)
    # measured: 0.376 trained in the model (0.484 when trained in the true env with the same seed)
    # against 0.080 for the uniform policy on this 6-user instance
    assert learned.mean > uniform.mean + 0.2, (learned.mean, uniform.mean)


def test_learned_graph_gives_the_true_acr_inputs(trained_on_model):
    from causalnet.acr import value_acr

    env, graph, _ = trained_on_model
    truth = env.true_graph()
    for i in range(env.n_agents):
        assert value_acr(graph, i, kappa=1) == value_acr(truth, i, kappa=1) == [f"s{i}_0", f"s{i}_1"]
