"""Local inverse Simpson index (LISI) over a kNN graph (Korsunsky et al. 2019; scib-metrics 0.5)."""

from __future__ import annotations

import numpy as np

from ._checks import check_groups, group_codes
from ._neighbors import Neighbors, resolve_neighbors

_MAX_TRIES = 50


def _entropy_and_weights(distances, not_self, beta):
    """Gaussian-kernel weights ``exp(-d·beta)`` over non-self neighbours, normalised, and their entropy H."""
    weights = np.exp(-distances * beta[:, None]) * not_self
    total = weights.sum(axis=1)
    safe = np.where(total == 0, 1.0, total)
    with np.errstate(divide="ignore"):
        entropy = np.log(safe) + beta * (distances * weights).sum(axis=1) / safe
    entropy = np.where(total == 0, 0.0, entropy)
    return entropy, weights / safe[:, None]


def simpson_index(neighbors: Neighbors, codes: np.ndarray, n_codes: int, *, perplexity: float, tol: float = 1e-5):
    """Perplexity-calibrated Simpson index per cell, shape (n_cells,).

    For each cell, ``beta`` is bisected (at most 50 steps, as harmony and scib-metrics) until the
    entropy of the kernel ``exp(-distance·beta)`` over its neighbours (itself excluded) equals
    ``log(perplexity)``; the index is the sum over groups of the squared kernel mass per group. Cells
    whose kernel has zero entropy get -1, the harmony/scib-metrics convention.
    """
    distances = neighbors.distances
    not_self = neighbors.indices != np.arange(neighbors.n_cells)[:, None]
    n = neighbors.n_cells
    beta = np.ones(n)
    beta_min, beta_max = np.full(n, -np.inf), np.full(n, np.inf)
    entropy, weights = _entropy_and_weights(distances, not_self, beta)
    gap = entropy - np.log(perplexity)
    active = np.abs(gap) >= tol
    for _ in range(_MAX_TRIES):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        b, lo, hi, up = beta[rows], beta_min[rows], beta_max[rows], gap[rows] > 0
        beta[rows] = np.where(
            up,
            np.where(np.isinf(hi), b * 2, (b + hi) / 2),
            np.where(np.isinf(lo), b / 2, (b + lo) / 2),
        )
        beta_min[rows] = np.where(up, b, lo)
        beta_max[rows] = np.where(up, hi, b)
        entropy[rows], weights[rows] = _entropy_and_weights(distances[rows], not_self[rows], beta[rows])
        gap[rows] = entropy[rows] - np.log(perplexity)
        active[rows] = np.abs(gap[rows]) >= tol
    mass = np.zeros((n, n_codes))
    np.add.at(mass, (np.repeat(np.arange(n), neighbors.n_neighbors), codes[neighbors.indices].ravel()), weights.ravel())
    simpson = (mass**2).sum(axis=1)
    return np.where(entropy == 0, -1.0, simpson)


def lisi_knn(X, labels, *, n_neighbors: int = 90, perplexity: float | None = None) -> np.ndarray:
    """Local inverse Simpson index per cell.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    labels
        Shape (n_cells,): the groups whose local diversity is measured (batches or cell types).
    n_neighbors
        Neighbours per cell, the cell itself included (scib-metrics: 90).
    perplexity
        Effective neighbourhood size; default ``floor(n_neighbors / 3)``.

    Returns
    -------
    Shape (n_cells,): the effective number of groups around each cell, between 1 and the number of groups.

    Notes
    -----
    O(n_cells · n_neighbors · 50) after the kNN search.
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    labels = check_groups(labels, neighbors.n_cells, name="labels")
    codes, n_codes = group_codes(labels)
    if perplexity is None:
        perplexity = np.floor(neighbors.n_neighbors / 3)
    return 1.0 / simpson_index(neighbors, codes, n_codes, perplexity=perplexity)
