"""seqatac.models: the sequence-informed models, each a user class over a pure ``nn.Module``."""

from .cellspace import CellSpace, CellSpaceConfig, CellSpaceModule
from .epifoundation import EpiFoundation, EpiFoundationConfig, EpiFoundationModule
from .scbasset import ScBasset, ScBassetConfig, ScBassetModule

__all__ = [
    "CellSpace",
    "CellSpaceModule",
    "CellSpaceConfig",
    "EpiFoundation",
    "EpiFoundationModule",
    "EpiFoundationConfig",
    "ScBasset",
    "ScBassetModule",
    "ScBassetConfig",
]
