"""Bio-conservation metrics (scib-metrics 0.5 names, neighbourhood sizes and scalings)."""

from __future__ import annotations

import logging
import random

import igraph
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    normalized_mutual_info_score,
    silhouette_samples,
)

from .._errors import SeqatacInputError
from .._utils import int_seed
from ._checks import check_embedding, check_groups
from ._lisi import lisi_knn
from ._neighbors import resolve_neighbors

logger = logging.getLogger(__name__)

#: scib-metrics' Leiden resolution sweep: 0.2, 0.4, ..., 2.0
LEIDEN_RESOLUTIONS = tuple(round(0.2 * i, 1) for i in range(1, 11))


def leiden_graph(connectivities: sp.spmatrix) -> igraph.Graph:
    """Undirected weighted igraph graph from a symmetric connectivity matrix, shape (n_cells, n_cells)."""
    upper = sp.triu(connectivities, k=1).tocoo()
    graph = igraph.Graph(n=connectivities.shape[0], edges=np.column_stack([upper.row, upper.col]).tolist())
    graph.es["weight"] = upper.data.tolist()
    return graph


def leiden_clusters(graph: igraph.Graph, *, resolution: float, seed: int) -> np.ndarray:
    """Leiden partition maximising modularity at ``resolution``, shape (n_cells,).

    igraph's C implementation (as scib-metrics; ~15x faster than leidenalg here), 2 iterations. Its
    random source is a local ``random.Random(seed)`` installed for this call only; igraph's default
    (the ``random`` module) is restored afterwards.
    """
    igraph.set_random_number_generator(random.Random(seed))
    try:
        partition = graph.community_leiden(objective_function="modularity", weights="weight", resolution=resolution)
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(partition.membership)


def nmi_ari_cluster_labels_leiden(
    X, labels, *, resolutions=LEIDEN_RESOLUTIONS, n_neighbors: int = 15, random_state=0
) -> dict[str, float]:
    """NMI and ARI between Leiden clusters and labels, at the resolution with the best NMI.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    labels
        Shape (n_cells,).
    resolutions
        Leiden resolutions tried (scib-metrics: 0.2, 0.4, ..., 2.0).
    n_neighbors
        kNN size (self included) of the UMAP connectivity graph clustered (scib-metrics: 15).
    random_state
        Seeds the Leiden runs.

    Returns
    -------
    ``{"nmi": float, "ari": float}`` (arithmetic-mean NMI).

    Notes
    -----
    One Leiden run per resolution, each roughly O(n_cells · n_neighbors).
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    labels = check_groups(labels, neighbors.n_cells, name="labels")
    graph = leiden_graph(neighbors.connectivities)
    seed = int_seed(random_state)
    best = None
    for resolution in resolutions:
        clusters = leiden_clusters(graph, resolution=resolution, seed=seed)
        nmi = normalized_mutual_info_score(labels, clusters, average_method="arithmetic")
        if best is None or nmi > best[0]:
            best = (nmi, adjusted_rand_score(labels, clusters), resolution)
    logger.debug("best Leiden resolution %s (NMI %.3f)", best[2], best[0])
    return {"nmi": float(best[0]), "ari": float(best[1])}


def nmi_ari_cluster_labels_kmeans(X, labels, *, n_init: int = 10, random_state=0) -> dict[str, float]:
    """NMI and ARI between k-means clusters (k = number of labels; k-means++) and labels.

    scib-metrics runs a single initialisation; one init makes the score swing by ±0.1 between seeds on
    our simulated data, so the best of ``n_init`` (default 10, scikit-learn's inertia criterion) is used.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims).
    labels
        Shape (n_cells,).
    n_init
        k-means initialisations; the run with the lowest inertia is kept (``n_init=1`` = scib-metrics).

    Returns
    -------
    ``{"nmi": float, "ari": float}``.
    """
    X = check_embedding(X)
    labels = check_groups(labels, X.shape[0], name="labels")
    n_clusters = len(pd.unique(labels))
    kmeans = KMeans(n_clusters=n_clusters, init="k-means++", n_init=n_init, random_state=int_seed(random_state))
    clusters = kmeans.fit_predict(X)
    return {
        "nmi": float(normalized_mutual_info_score(labels, clusters, average_method="arithmetic")),
        "ari": float(adjusted_rand_score(labels, clusters)),
    }


def label_silhouettes(X, labels, *, metric: str = "euclidean") -> np.ndarray:
    """Silhouette width of each cell w.r.t. ``labels``, shape (n_cells,), in [-1, 1].

    Needs 2 ≤ number of labels ≤ n_cells − 1. Chunked by scikit-learn: O(n_cells²·n_dims) time,
    bounded memory.
    """
    X = check_embedding(X)
    labels = check_groups(labels, X.shape[0], name="labels", min_groups=2)
    if len(pd.unique(labels)) == len(labels):
        raise SeqatacInputError(f"labels give each of the {len(labels)} cells its own value, so no cells share a "
                                "label and a silhouette is undefined. Fix: pass cell types, not cell names.")
    return silhouette_samples(X, labels, metric=metric)


def silhouette_label(X, labels, *, metric: str = "euclidean") -> float:
    """Cell-type average silhouette width, scaled ``(asw + 1) / 2`` to [0, 1] (higher is better).

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims).
    labels
        Shape (n_cells,), at least 2 distinct labels.
    metric
        ``"euclidean"`` (scib default) or ``"cosine"``.
    """
    return float((label_silhouettes(X, labels, metric=metric).mean() + 1) / 2)


def isolated_labels(X, labels, batch, *, metric: str = "euclidean") -> float:
    """Isolated-label score: scaled silhouette of the labels present in the fewest batches.

    A label is isolated when it occurs in no more batches than the least-shared label. The score is
    the mean over isolated labels of their cells' mean ``(s + 1) / 2`` silhouette w.r.t. all labels
    (scib-metrics' ASW variant).

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims).
    labels, batch
        Shape (n_cells,).
    """
    X = check_embedding(X)
    labels = check_groups(labels, X.shape[0], name="labels", min_groups=2)
    return isolated_label_score(label_silhouettes(X, labels, metric=metric), labels, batch)


def isolated_label_score(silhouettes: np.ndarray, labels: np.ndarray, batch) -> float:
    """:func:`isolated_labels` from precomputed per-cell label silhouettes, shape (n_cells,)."""
    batch = check_groups(batch, labels.shape[0], name="batch")
    batches_per_label = pd.DataFrame({"label": labels, "batch": batch}).groupby("label")["batch"].nunique()
    isolated = batches_per_label.index[batches_per_label <= batches_per_label.min()]
    logger.info("isolated labels (in %d batch(es)): %s", batches_per_label.min(), list(isolated))
    scaled = (silhouettes + 1) / 2
    return float(np.mean([scaled[labels == label].mean() for label in isolated]))


def clisi_knn(X, labels, *, n_neighbors: int = 90) -> float:
    """Cell-type LISI, median over cells, scaled ``(L − lisi) / (L − 1)`` (1 = pure neighbourhoods).

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    labels
        Shape (n_cells,), L ≥ 2 distinct labels.
    n_neighbors
        Self included (scib-metrics: 90; perplexity = 30).
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    labels = check_groups(labels, neighbors.n_cells, name="labels", min_groups=2)
    n_labels = len(pd.unique(labels))
    lisi = np.nanmedian(lisi_knn(neighbors, labels, n_neighbors=neighbors.n_neighbors))
    return float((n_labels - lisi) / (n_labels - 1))
