"""Analysis of learned structure and learning results: metrics, figures, reports."""

__all__: list[str] = []
