"""The ``causalnet`` command line (sits above causalnet, rl and analysis)."""

__all__: list[str] = []
