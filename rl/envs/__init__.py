"""Batched networked environments with known ground-truth structure."""

from rl.envs.base import NetworkedEnv, as_generator
from rl.envs.wireless import WirelessAccessEnv, reference_transmit_probabilities

__all__ = ["NetworkedEnv", "WirelessAccessEnv", "as_generator", "reference_transmit_probabilities"]
