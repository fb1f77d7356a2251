"""Policies: callables ``policy(states, rng) -> actions`` on batched states."""

from rl.policies.aloha import (DEFAULT_ALOHA_GRID, AlohaPolicy, AlohaSearchResult, aloha_ap_probabilities,
                               aloha_grid_search)
from rl.policies.base import Policy, UniformPolicy
from rl.policies.traffic import FixedTimePolicy, MaxPressurePolicy, phase_pressures

__all__ = ["DEFAULT_ALOHA_GRID", "AlohaPolicy", "AlohaSearchResult", "FixedTimePolicy", "MaxPressurePolicy", "Policy",
           "UniformPolicy",
           "aloha_ap_probabilities", "aloha_grid_search", "phase_pressures"]
