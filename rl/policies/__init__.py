"""Policies: callables ``policy(states, rng) -> actions`` on batched states."""

from rl.policies.base import Policy, UniformPolicy

__all__ = ["Policy", "UniformPolicy"]
