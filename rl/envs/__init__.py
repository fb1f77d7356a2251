"""Batched networked environments with known ground-truth structure."""

from rl.envs.base import NetworkedEnv, as_generator
from rl.envs.lqr import NetworkedLQREnv
from rl.envs.pettingzoo_adapter import make_parallel_env, parallel_env_class
from rl.envs.synthetic import ConditionalTable, SyntheticNetworkEnv, make_interaction_graph
from rl.envs.synthetic_continuous import SyntheticContinuousEnv
from rl.envs.traffic import TrafficGridEnv
from rl.envs.wireless import WirelessAccessEnv, reference_transmit_probabilities

__all__ = ["ConditionalTable", "NetworkedEnv", "NetworkedLQREnv", "SyntheticContinuousEnv", "SyntheticNetworkEnv",
           "TrafficGridEnv",
           "WirelessAccessEnv", "as_generator",
           "make_interaction_graph", "make_parallel_env", "parallel_env_class", "reference_transmit_probabilities"]
