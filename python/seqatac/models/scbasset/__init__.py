"""scBasset (Yuan & Kelley, Nat. Methods 2022): a CNN from peak DNA to per-cell accessibility."""

from ._data import PeakTargets, augment_codes, split_peaks
from ._model import ScBasset
from ._recipes import CPU_ARCHITECTURE
from ._module import NormalizedOutput, ScBassetConfig, ScBassetModule

__all__ = [
    "ScBasset",
    "CPU_ARCHITECTURE",
    "ScBassetModule",
    "ScBassetConfig",
    "NormalizedOutput",
    "PeakTargets",
    "split_peaks",
    "augment_codes",
]
