"""CellSpace (Tayyebi et al., Nat. Methods 2023): k-mer and cell co-embedding trained StarSpace-style."""

from ._config import CellSpaceConfig
from ._denovo import DenovoMotifs, denovo_motifs
from ._kmers import canonical_kmers, n_canonical_kmers
from ._model import CellSpace
from ._module import CellSpaceModule

__all__ = [
    "CellSpace",
    "CellSpaceConfig",
    "CellSpaceModule",
    "canonical_kmers",
    "n_canonical_kmers",
    "denovo_motifs",
    "DenovoMotifs",
]
