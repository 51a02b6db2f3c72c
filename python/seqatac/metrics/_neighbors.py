"""Exact k-nearest-neighbour graphs shared by the kNN-based metrics.

Conventions follow scib-metrics' ``NeighborsResults``: ``n_neighbors`` counts the cell itself, which
sits in column 0 with distance 0, so "90 neighbours" means the cell plus its 89 nearest other cells.
Compute the graph once with :func:`compute_neighbors` at the largest size needed and pass the
:class:`Neighbors` object to every kNN metric; each takes the first ``n_neighbors`` columns it needs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from .._errors import SeqatacInputError, SeqatacWarning
from ._checks import check_embedding

logger = logging.getLogger(__name__)

_METRICS = ("euclidean", "cosine")
# UMAP constants (umap.umap_.smooth_knn_dist), used by scanpy and scib-metrics
_SMOOTH_K_TOLERANCE = 1e-5
_MIN_K_DIST_SCALE = 1e-3


@dataclass(eq=False)
class Neighbors:
    """k-nearest-neighbour result for ``n_cells`` cells.

    Attributes
    ----------
    indices
        Shape (n_cells, n_neighbors), int. Row ``i`` lists neighbours by increasing distance;
        column 0 is ``i`` itself.
    distances
        Shape (n_cells, n_neighbors), float. Matching distances (column 0 is 0).
    metric
        ``"euclidean"`` or ``"cosine"``.
    """

    indices: np.ndarray
    distances: np.ndarray
    metric: str = "euclidean"

    def __post_init__(self):
        self.indices = np.asarray(self.indices, dtype=np.int64)
        self.distances = np.asarray(self.distances, dtype=np.float64)
        if self.indices.ndim != 2 or self.indices.shape != self.distances.shape:
            raise SeqatacInputError(
                f"indices {self.indices.shape} and distances {self.distances.shape} must be 2-D arrays "
                "of the same shape (n_cells, n_neighbors)."
            )
        if not np.array_equal(self.indices[:, 0], np.arange(self.indices.shape[0])):
            raise SeqatacInputError(
                "column 0 of the neighbour indices must be each cell itself; prepend each cell's own "
                "index (distance 0) or build the graph with seqatac.metrics.compute_neighbors."
            )

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.indices.shape[0]

    @property
    def n_neighbors(self) -> int:
        """Neighbours per cell, the cell itself included."""
        return self.indices.shape[1]

    def subset(self, n_neighbors: int) -> Neighbors:
        """The graph restricted to the first ``n_neighbors`` columns (self included)."""
        if n_neighbors > self.n_neighbors:
            raise SeqatacInputError(
                f"{n_neighbors} neighbours requested but this graph has {self.n_neighbors}; recompute it "
                f"with compute_neighbors(X, n_neighbors={n_neighbors})."
            )
        if n_neighbors == self.n_neighbors:
            return self
        return Neighbors(self.indices[:, :n_neighbors], self.distances[:, :n_neighbors], self.metric)

    @cached_property
    def distance_graph(self) -> sp.csr_matrix:
        """Directed kNN graph, shape (n_cells, n_cells), entries = distances (self loops stored)."""
        n, k = self.indices.shape
        indptr = np.arange(0, n * k + 1, k)
        return sp.csr_matrix((self.distances.ravel(), self.indices.ravel(), indptr), shape=(n, n))

    @cached_property
    def connectivities(self) -> sp.csr_matrix:
        """Symmetric UMAP fuzzy-union connectivities, shape (n_cells, n_cells), as scanpy and scib-metrics."""
        return umap_connectivities(self.indices, self.distances)


def compute_neighbors(X, *, n_neighbors: int = 90, metric: str = "euclidean") -> Neighbors:
    """Exact k-nearest neighbours with scikit-learn.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims).
    n_neighbors
        Neighbours per cell *including the cell itself* (scib-metrics convention); capped at
        ``n_cells`` with a warning.
    metric
        ``"euclidean"`` (default) or ``"cosine"``.

    Returns
    -------
    Neighbors with ``indices``/``distances`` of shape (n_cells, n_neighbors).

    Notes
    -----
    Exact search: tree-based for low-dimensional euclidean data, brute force otherwise,
    O(n_cells² · n_dims) in the worst case (a few seconds for 10k cells).
    """
    X = check_embedding(X, allow_constant=True)  # a graph of tied points is still a graph
    if metric not in _METRICS:
        raise SeqatacInputError(f"metric must be one of {_METRICS}, got {metric!r}.")
    n_neighbors = _capped(int(n_neighbors), X.shape[0])
    algorithm = "brute" if metric == "cosine" else "auto"
    search = NearestNeighbors(n_neighbors=n_neighbors - 1, metric=metric, algorithm=algorithm).fit(X)
    # kneighbors() without a query excludes each cell itself, even among duplicated points
    distances, indices = search.kneighbors()
    self_index = np.arange(X.shape[0])[:, None]
    indices = np.hstack([self_index, indices])
    distances = np.hstack([np.zeros_like(self_index, dtype=np.float64), distances])
    return Neighbors(indices, distances, metric)


def resolve_neighbors(X, n_neighbors: int) -> Neighbors:
    """A :class:`Neighbors` with ``n_neighbors`` columns from an embedding or a precomputed graph."""
    if isinstance(X, Neighbors):
        return X.subset(_capped(n_neighbors, X.n_cells))
    return compute_neighbors(X, n_neighbors=n_neighbors)


def _capped(n_neighbors: int, n_cells: int) -> int:
    if n_neighbors < 2:
        raise SeqatacInputError(f"n_neighbors must be at least 2 (the cell and one neighbour), got {n_neighbors}.")
    if n_neighbors > n_cells:
        warnings.warn(
            f"{n_neighbors} neighbours requested but there are only {n_cells} cells; using {n_cells}.",
            SeqatacWarning,
            stacklevel=3,
        )
        return n_cells
    return n_neighbors


def _smooth_knn_dist(distances: np.ndarray, n_iter: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell bandwidth ``sigma`` and nearest distance ``rho`` (UMAP, local_connectivity=1), all rows at once."""
    n, k = distances.shape
    target = np.log2(k)
    nonzero = distances > 0
    first = nonzero.argmax(axis=1)
    rho = np.where(nonzero.any(axis=1), distances[np.arange(n), first], 0.0)
    shifted = distances[:, 1:] - rho[:, None]
    lo, hi, mid = np.zeros(n), np.full(n, np.inf), np.ones(n)
    done = np.zeros(n, dtype=bool)
    for _ in range(n_iter):
        psum = np.where(shifted > 0, np.exp(-np.maximum(shifted, 0) / mid[:, None]), 1.0).sum(axis=1)
        done |= np.abs(psum - target) < _SMOOTH_K_TOLERANCE
        over = ~done & (psum > target)
        under = ~done & ~(psum > target)
        hi[over] = mid[over]
        mid[over] = (lo[over] + hi[over]) / 2
        lo[under] = mid[under]
        mid[under] = np.where(np.isinf(hi[under]), mid[under] * 2, (lo[under] + hi[under]) / 2)
        if done.all():
            break
    floor = np.where(rho > 0, distances.mean(axis=1), distances.mean()) * _MIN_K_DIST_SCALE
    return np.maximum(mid, floor), rho


def umap_connectivities(indices: np.ndarray, distances: np.ndarray) -> sp.csr_matrix:
    """UMAP fuzzy simplicial set (set_op_mix_ratio=1) of a kNN graph whose column 0 is self.

    Parameters
    ----------
    indices, distances
        Shape (n_cells, n_neighbors).

    Returns
    -------
    Symmetric sparse matrix, shape (n_cells, n_cells), weights in (0, 1].
    """
    n = indices.shape[0]
    sigma, rho = _smooth_knn_dist(distances)
    excess = distances - rho[:, None]
    with np.errstate(divide="ignore", over="ignore"):
        strength = np.exp(-np.maximum(excess, 0) / sigma[:, None])
    strength = np.where((excess <= 0) | (sigma[:, None] == 0), 1.0, strength)
    strength[indices == np.arange(n)[:, None]] = 0.0
    rows = np.repeat(np.arange(n), indices.shape[1])
    directed = sp.csr_matrix((strength.ravel(), (rows, indices.ravel())), shape=(n, n))
    directed.eliminate_zeros()
    transpose = directed.T.tocsr()
    union = directed + transpose - directed.multiply(transpose)
    union = sp.csr_matrix(union)
    union.eliminate_zeros()
    return union
