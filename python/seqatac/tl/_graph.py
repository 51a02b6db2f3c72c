"""Cell graphs on an embedding: cosine kNN and Seurat-style shared-nearest-neighbour (SNN) graphs, Leiden
clustering on them, and folding of small clusters into their best-connected neighbour (CellSpace's
``find_neighbors`` / ``find_clusters`` / ``merge_small_clusters``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .._errors import SeqatacInputError
from .._utils import int_seed
from ..data import check_labels
from ..metrics import compute_neighbors, leiden_clusters, leiden_graph

logger = logging.getLogger(__name__)


def snn_graph(X, *, n_neighbors: int = 30, prune: float = 1 / 15, metric: str = "cosine") -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """kNN and shared-nearest-neighbour graphs of an embedding (Seurat's ``FindNeighbors``).

    Parameters
    ----------
    X
        Embedding ``(n_cells, d)``.
    n_neighbors
        Neighbours per cell, the cell itself included (Seurat ``k.param``; CellSpace uses 30).
    prune
        SNN weights below this are set to 0 (Seurat ``prune.SNN`` = 1/15).
    metric
        ``"cosine"`` (CellSpace) or ``"euclidean"``.

    Returns
    -------
    ``(knn, snn)``, both CSR ``(n_cells, n_cells)``: ``knn`` holds the distances of each cell's neighbours
    (self excluded); ``snn`` is symmetric with the Jaccard index ``s / (2k - s)`` of the two cells'
    neighbour sets (``s`` shared neighbours, self included in each set; diagonal 1).
    """
    neighbors = compute_neighbors(X, n_neighbors=n_neighbors, metric=metric)
    n, k = neighbors.indices.shape
    membership = sp.csr_matrix(
        (np.ones(n * k, dtype=np.float32), neighbors.indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n)
    )
    shared = (membership @ membership.T).tocsr()
    shared.data = shared.data / (2 * k - shared.data)
    shared.data[shared.data < prune] = 0.0
    shared.eliminate_zeros()
    knn = sp.csr_matrix(
        (neighbors.distances[:, 1:].ravel(), neighbors.indices[:, 1:].ravel(), np.arange(0, n * (k - 1) + 1, k - 1)),
        shape=(n, n),
    )  # explicit entries, so a duplicate cell at distance 0 stays a neighbour
    return knn, shared


def cell_graph(
    adata: AnnData,
    *,
    use_rep: str = "X_cellspace",
    n_neighbors: int = 30,
    prune: float = 1 / 15,
    metric: str = "cosine",
    key_added: str = "cellspace",
    copy: bool = False,
) -> AnnData | None:
    """Cosine kNN and SNN graphs of ``obsm[use_rep]`` (see :func:`snn_graph`).

    Parameters
    ----------
    adata
        AnnData with the embedding in ``obsm[use_rep]``.
    use_rep, n_neighbors, prune, metric
        Embedding key and graph options.
    key_added
        Prefix of the outputs.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    None, or the copy. Writes ``obsp[f"{key_added}_knn"]`` (distances), ``obsp[f"{key_added}_snn"]``
    (Jaccard weights) and ``uns[key_added]["params"]``.
    """
    X = _embedding(adata, use_rep)
    knn, snn = snn_graph(X, n_neighbors=n_neighbors, prune=prune, metric=metric)
    adata = adata.copy() if copy else adata
    adata.obsp[f"{key_added}_knn"] = knn
    adata.obsp[f"{key_added}_snn"] = snn
    adata.uns[key_added] = {
        "params": {"use_rep": use_rep, "n_neighbors": int(n_neighbors), "prune": float(prune), "metric": metric}
    }
    logger.info("added obsp[%r] and obsp[%r]", f"{key_added}_knn", f"{key_added}_snn")
    return adata if copy else None


def leiden(
    adata: AnnData,
    *,
    graph: str = "cellspace_snn",
    resolution: float = 1.0,
    key_added: str = "leiden",
    random_state: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Leiden clustering (modularity with a resolution, igraph) of a cell graph in ``obsp``.

    Parameters
    ----------
    adata
        AnnData with a symmetric weighted graph in ``obsp[graph]`` (e.g. from :func:`cell_graph`).
    graph
        Key of the graph.
    resolution
        Higher values give more clusters.
    key_added
        ``obs`` column for the clusters.
    random_state
        Seed of the Leiden run.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    None, or the copy. Writes ``obs[key_added]`` (categorical ``"0"``, ``"1"``, ... by decreasing size) and
    ``uns[key_added]["params"]``.
    """
    if graph not in adata.obsp:
        raise SeqatacInputError(
            f"obsp[{graph!r}] does not exist (have {list(adata.obsp.keys())}); build it with seqatac.tl.cell_graph."
        )
    weights = sp.csr_matrix(adata.obsp[graph])
    membership = leiden_clusters(leiden_graph(weights), resolution=float(resolution), seed=int_seed(random_state))
    adata = adata.copy() if copy else adata
    adata.obs[key_added] = _by_size(membership)
    adata.uns[key_added] = {"params": {"graph": graph, "resolution": float(resolution), "random_state": random_state}}
    logger.info("added obs[%r]: %d clusters", key_added, adata.obs[key_added].cat.categories.size)
    return adata if copy else None


def merge_small_clusters(
    adata: AnnData,
    *,
    key: str = "leiden",
    min_cells: int = 10,
    graph: str = "cellspace_snn",
    key_added: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Fold every cluster with fewer than ``min_cells`` cells into the kept cluster it is best connected to.

    Connectivity between a small cluster ``i`` and a kept cluster ``j`` is the mean SNN weight over all
    pairs of their cells, ``sum(SNN[i, j]) / (n_i · n_j)`` (CellSpace's ``merge_small_clusters``); ties go
    to the kept cluster listed first. Small clusters are assigned from the original labels, all at once.

    Parameters
    ----------
    adata
        AnnData with clusters in ``obs[key]`` and a graph in ``obsp[graph]``.
    key
        ``obs`` column of the clusters.
    min_cells
        Clusters with fewer cells are merged.
    graph
        ``obsp`` key of the SNN graph (from :func:`cell_graph`).
    key_added
        Output column; default overwrites ``obs[key]``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    None, or the copy. Writes ``obs[key_added or key]`` (categorical, kept clusters only).
    """
    if key not in adata.obs:
        raise SeqatacInputError(f"obs[{key!r}] does not exist; cluster first (seqatac.tl.leiden) or pass key=.")
    if graph not in adata.obsp:
        raise SeqatacInputError(f"obsp[{graph!r}] does not exist; build it with seqatac.tl.cell_graph.")
    merged = merge_clusters(adata.obs[key], sp.csr_matrix(adata.obsp[graph]), min_cells=min_cells)
    adata = adata.copy() if copy else adata
    adata.obs[key_added or key] = merged
    return adata if copy else None


def merge_clusters(clusters, snn: sp.spmatrix, *, min_cells: int) -> pd.Categorical:
    """Array core of :func:`merge_small_clusters`.

    Parameters
    ----------
    clusters
        Cluster label of each cell ``(n_cells,)``.
    snn
        SNN graph ``(n_cells, n_cells)``.
    min_cells
        Clusters with fewer cells are merged.

    Returns
    -------
    Categorical ``(n_cells,)`` over the kept clusters, in their original order.
    """
    labels = pd.Categorical(check_labels(clusters, "clusters"))  # a missing label would get code -1
    sizes = np.bincount(labels.codes, minlength=len(labels.categories))
    small = np.flatnonzero(sizes < min_cells)
    kept = np.flatnonzero(sizes >= min_cells)
    if len(kept) == 0:
        raise SeqatacInputError(
            f"every cluster has fewer than min_cells={min_cells} cells; lower min_cells or cluster more coarsely."
        )
    membership = sp.csr_matrix(
        (np.ones(len(labels)), (np.arange(len(labels)), labels.codes)), shape=(len(labels), len(labels.categories))
    )
    totals = (membership.T @ sp.csr_matrix(snn) @ membership).toarray()
    connectivity = totals / np.outer(sizes, sizes).clip(min=1)
    target = np.arange(len(labels.categories))
    target[small] = kept[np.argmax(connectivity[np.ix_(small, kept)], axis=1)]
    categories = labels.categories[kept]
    return pd.Categorical(np.asarray(labels.categories[target])[labels.codes], categories=categories)


def _by_size(membership: np.ndarray) -> pd.Categorical:
    """Cluster ids renumbered 0, 1, ... by decreasing size (ties by first appearance)."""
    ids, first, counts = np.unique(membership, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    names = [str(i) for i in range(len(ids))]
    return pd.Categorical.from_codes(rank[np.searchsorted(ids, membership)], categories=names)


def _embedding(adata: AnnData, use_rep: str) -> np.ndarray:
    if use_rep not in adata.obsm:
        raise SeqatacInputError(
            f"obsm[{use_rep!r}] does not exist (have {sorted(adata.obsm.keys())}); train a model and write its "
            "embedding first (e.g. CellSpace.write_to_adata) or pass use_rep=."
        )
    return np.asarray(adata.obsm[use_rep], dtype=np.float64)
