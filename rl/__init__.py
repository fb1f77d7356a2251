"""Reinforcement learning for networked systems: environments, policies, critics, GSAC."""

__all__: list[str] = []
