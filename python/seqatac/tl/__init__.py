"""Analyses on top of embeddings and models (scanpy-style: write into the AnnData, return None or a copy)."""

from ._layout import layout_2d

__all__ = ["layout_2d"]
