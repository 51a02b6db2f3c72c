"""Plots (matplotlib)."""

from ._embedding import embedding
from ._joint_embedding import joint_embedding

__all__ = ["embedding", "joint_embedding"]
