"""Plots (matplotlib)."""

from ._embedding import embedding

__all__ = ["embedding"]
