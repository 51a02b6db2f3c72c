"""CellSpace (Tayyebi et al., Nat. Methods 2023): k-mer and cell co-embedding trained StarSpace-style."""

from ._kmers import canonical_kmers, n_canonical_kmers
from ._model import CellSpace, CellSpaceConfig
from ._module import CellSpaceModule

__all__ = ["CellSpace", "CellSpaceConfig", "CellSpaceModule", "canonical_kmers", "n_canonical_kmers"]
