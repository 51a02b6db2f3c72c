"""Peer baselines every model is compared against: LSI, spectral (the recommended sequence-free embedding),
chromVAR-style deviations, gene activity."""

from ._chromvar import (
    background_peaks,
    chromvar_deviations,
    compute_deviations,
    motif_variability,
)
from ._gene_activity import gene_activity
from ._lsi import lsi, tfidf
from ._spectral import select_accessible_features, spectral

__all__ = [
    "lsi",
    "tfidf",
    "spectral",
    "select_accessible_features",
    "background_peaks",
    "compute_deviations",
    "motif_variability",
    "chromvar_deviations",
    "gene_activity",
]
