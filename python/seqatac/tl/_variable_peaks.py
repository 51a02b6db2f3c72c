"""Variable peaks, as CellSpace's recommended preprocessing selects them (ArchR iterative LSI, iteration 2):
cluster the cells on an embedding, then keep the peaks whose accessibility varies most across clusters."""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

from .._errors import SeqatacInputError
from ..data import check_counts, check_labels
from ._graph import cell_graph, leiden

logger = logging.getLogger(__name__)


def variable_peaks(
    adata: AnnData,
    *,
    n_top: int = 25_000,
    use_rep: str = "X_lsi",
    groupby: str | None = None,
    resolution: float = 1.0,
    n_neighbors: int = 20,
    key_added: str = "variable",
    random_state: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Flag the ``n_top`` peaks whose accessibility varies most across cell clusters.

    Clusters are Leiden clusters of the SNN graph of ``obsm[use_rep]`` (or ``obs[groupby]``). For every
    cluster the fraction of its cells in which a peak is open is computed; a peak's variability is the
    variance across clusters of ``log2(fraction + 0.001)`` (ArchR's ``selectionMethod = "var"`` on
    normalised cluster accessibility, as in the CellSpace tutorial's ``IterativeLSI.R``).

    Parameters
    ----------
    adata
        Cells × peaks counts in ``X`` (sparse is kept sparse).
    n_top
        Peaks to flag (the CellSpace tutorial uses 25,000 of a peak atlas).
    use_rep
        Embedding used to cluster the cells when ``groupby`` is None (e.g. from
        :func:`seqatac.baselines.lsi`).
    groupby
        ``obs`` column with existing clusters to use instead.
    resolution, n_neighbors, random_state
        Leiden clustering options.
    key_added
        ``var`` column of the flag.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    None, or the copy. Writes ``var[key_added]`` (bool) and ``var[f"{key_added}_score"]`` (the variance).
    """
    if groupby is None:
        if use_rep not in adata.obsm:
            raise SeqatacInputError(
                f"obsm[{use_rep!r}] does not exist; run seqatac.baselines.lsi first, or pass use_rep= or groupby=."
            )
        cells = AnnData(obs=adata.obs[[]], obsm={use_rep: np.asarray(adata.obsm[use_rep])})  # no copy of X
        cell_graph(cells, use_rep=use_rep, n_neighbors=n_neighbors, metric="euclidean", key_added="peaks")
        leiden(cells, graph="peaks_snn", resolution=resolution, key_added="clusters", random_state=random_state)
        clusters = cells.obs["clusters"]
    elif groupby in adata.obs:
        clusters = adata.obs[groupby]
    else:
        raise SeqatacInputError(f"obs[{groupby!r}] does not exist; pass an existing column or groupby=None.")
    codes = np.unique(check_labels(clusters, f"obs[{groupby!r}]").astype(str), return_inverse=True)[1]
    n_clusters = codes.max() + 1
    if n_clusters < 2:
        raise SeqatacInputError("only one cluster: variability across clusters is undefined; raise resolution.")
    binary = sp.csr_matrix(check_counts(adata.X, "adata.X"), copy=True)
    binary.eliminate_zeros()
    binary.data[:] = 1.0
    membership = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_clusters, len(codes)))
    fraction = np.asarray((membership @ binary).todense()) / np.bincount(codes)[:, None]
    score = np.log2(fraction + 1e-3).var(axis=0)
    n_top = min(int(n_top), adata.n_vars)
    chosen = np.zeros(adata.n_vars, dtype=bool)
    chosen[np.argsort(-score, kind="stable")[:n_top]] = True
    adata = adata.copy() if copy else adata
    adata.var[key_added] = chosen
    adata.var[f"{key_added}_score"] = score
    logger.info("flagged %d variable peaks of %d (%d clusters) in var[%r]", n_top, len(chosen), n_clusters, key_added)
    return adata if copy else None
