"""seqatac.models: the sequence-informed models, each a user class over a pure ``nn.Module``."""

from .epifoundation import EpiFoundation, EpiFoundationConfig, EpiFoundationModule
from .scbasset import ScBasset, ScBassetConfig, ScBassetModule

__all__ = ["EpiFoundation", "EpiFoundationModule", "EpiFoundationConfig", "ScBasset", "ScBassetModule", "ScBassetConfig"]
