"""Bridges between seqatac's AnnData results and R/Bioconductor objects.

- :func:`write_rds` / :func:`read_rds`: AnnData ⇄ ``.rds`` (SingleCellExperiment; reading also Seurat objects
  with peak ranges and ArchR-style SummarizedExperiments), through rpy2 and anndata2ri
  (``pip install "seqatac[r]"``; imported only when called).
- :class:`OutputCapture`, :func:`read_h5ad_parts`, :func:`write_h5ad_parts`: what the seqATAC R package calls
  through reticulate (quiet Python output, h5ad reading and writing).

Where each result goes (``X_scbasset`` → ``reducedDim(x, "scBasset")``, ``scbasset_tf`` →
``altExp(x, "scBassetTF")``, ``var`` coordinates → ``rowRanges``, ...) is laid out in :mod:`seqatac.r._schema`.
"""

from ._parts import anndata_from_parts, anndata_parts, read_h5ad_parts, write_h5ad_parts
from ._rds import read_rds, write_rds
from ._schema import obsm_key_of_reduced_dim, reduced_dim_name
from ._session import OutputCapture

__all__ = [
    "OutputCapture",
    "anndata_from_parts",
    "anndata_parts",
    "obsm_key_of_reduced_dim",
    "read_h5ad_parts",
    "read_rds",
    "reduced_dim_name",
    "write_h5ad_parts",
    "write_rds",
]
