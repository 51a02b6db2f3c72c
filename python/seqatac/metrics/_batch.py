"""Batch-correction metrics (scib-metrics 0.5 names, neighbourhood sizes and scalings)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackError, eigsh
from scipy.stats import chi2
from sklearn.metrics import silhouette_samples

from .._errors import SeqatacWarning
from .._utils import int_seed
from ._checks import check_embedding, check_groups, group_codes
from ._lisi import lisi_knn
from ._neighbors import compute_neighbors, resolve_neighbors

logger = logging.getLogger(__name__)

_DIFFUSION_EPS = 1e-8
_DENSE_EIGH_MAX = 1500


def silhouette_batch(X, labels, batch, *, metric: str = "euclidean") -> float:
    """Batch ASW: per label, mean of ``1 − |s|`` (silhouette w.r.t. batch), averaged over labels.

    Labels present in a single batch (or with one cell per batch) are skipped, as in scib-metrics.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims).
    labels, batch
        Shape (n_cells,); at least 2 batches.

    Returns
    -------
    Score in [0, 1], 1 = batches mixed within every label; NaN (with a warning) when no label has
    cells from two batches.

    Notes
    -----
    One chunked silhouette per label: O(Σ n_label²·n_dims).
    """
    X = check_embedding(X)
    labels = check_groups(labels, X.shape[0], name="labels")
    batch = check_groups(batch, X.shape[0], name="batch", min_groups=2)
    per_label = []
    for label in pd.unique(labels):
        mask = labels == label
        n_batches = len(pd.unique(batch[mask]))
        if n_batches == 1 or n_batches == mask.sum():
            continue
        per_label.append(np.mean(1 - np.abs(silhouette_samples(X[mask], batch[mask], metric=metric))))
    if not per_label:
        warnings.warn("no label has cells from two batches; silhouette_batch is NaN.", SeqatacWarning, stacklevel=2)
        return float("nan")
    return float(np.mean(per_label))


def ilisi_knn(X, batch, *, n_neighbors: int = 90) -> float:
    """Integration LISI, median over cells, scaled ``(lisi − 1) / (B − 1)`` (1 = batches fully mixed).

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    batch
        Shape (n_cells,), B ≥ 2 batches.
    n_neighbors
        Self included (scib-metrics: 90; perplexity = 30).
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    batch = check_groups(batch, neighbors.n_cells, name="batch", min_groups=2)
    n_batches = len(pd.unique(batch))
    lisi = np.nanmedian(lisi_knn(neighbors, batch, n_neighbors=neighbors.n_neighbors))
    return float((lisi - 1) / (n_batches - 1))


def kbet_acceptance(neighbor_indices: np.ndarray, batch_codes: np.ndarray, *, alpha: float = 0.05) -> float:
    """kBET acceptance rate: share of cells whose neighbourhood batch counts pass a χ² test.

    Parameters
    ----------
    neighbor_indices
        Shape (n_cells, k): each cell's neighbourhood (the cell itself included, as scib-metrics).
    batch_codes
        Shape (n_cells,), integer batch codes 0..B−1.

    Returns
    -------
    Share of cells with p ≥ ``alpha`` for H0 "neighbourhood batch frequencies = global ones"
    (χ², B − 1 degrees of freedom).
    """
    n_batches = int(batch_codes.max()) + 1
    expected = np.bincount(batch_codes, minlength=n_batches) / batch_codes.size * neighbor_indices.shape[1]
    neighbor_batches = batch_codes[neighbor_indices]
    observed = (neighbor_batches[:, :, None] == np.arange(n_batches)).sum(axis=1)
    statistic = ((observed - expected) ** 2 / expected).sum(axis=1)
    p_values = chi2.sf(statistic, n_batches - 1)
    return float(np.mean(p_values >= alpha))


def _diffusion_embedding(connectivities: sp.csr_matrix, n_comps: int, rng_seed: int) -> np.ndarray:
    """Multiscale diffusion map of a connectivity graph (scanpy/scib-metrics), shape (n_cells, n_comps)."""
    degree = np.asarray(connectivities.sum(axis=0)).ravel()
    kernel = sp.diags(1 / degree) @ connectivities @ sp.diags(1 / degree)
    z = np.sqrt(np.asarray(kernel.sum(axis=0)).ravel())
    transitions = (sp.diags(1 / z) @ kernel @ sp.diags(1 / z)).astype(np.float64)
    n = transitions.shape[0]
    n_comps = min(n_comps, n - 1)
    if n <= _DENSE_EIGH_MAX:  # LAPACK beats ARPACK at 100 components up to here
        evals, evecs = np.linalg.eigh(transitions.toarray())
        top = np.argsort(-np.abs(evals))[:n_comps]
        evals, evecs = evals[top], evecs[:, top]
    else:
        v0 = np.random.default_rng(rng_seed).uniform(-1, 1, n)
        evals, evecs = eigsh(transitions, k=n_comps, which="LM", v0=v0)
    order = np.argsort(-evals)
    # float32 as scib-metrics: a leading eigenvalue of 1 stays 1 and is not blown up by 1/(1 - e)
    evals = evals[order].astype(np.float32) + np.float32(_DIFFUSION_EPS)
    evecs = evecs[:, order].astype(np.float32)
    with np.errstate(divide="ignore"):
        scale = np.where(evals == 1, evals, evals / (1 - evals))
    return evecs * scale


def _kbet_one_label(connectivities, batch_codes, *, alpha, diffusion_n_comps, seed) -> float:
    """scib-metrics' per-label kBET on the label's connectivity subgraph."""
    n_obs = connectivities.shape[0]
    if n_obs < 10 or len(np.unique(batch_codes)) == 1:
        return float("nan")
    k0 = int(min(70, max(10, np.floor(np.mean(np.bincount(batch_codes)[np.unique(batch_codes)]) / 4))))
    n_comp, components = connected_components(connectivities, connection="strong")
    keep = np.arange(n_obs)
    if n_comp > 1:
        sizes = np.bincount(components)
        keep = np.flatnonzero(sizes[components] >= 3 * k0)
        if keep.size / n_obs < 0.75:  # too many cells in small components: 100% rejection
            return 0.0
    sub = connectivities[keep][:, keep]
    try:
        embedding = _diffusion_embedding(sub, diffusion_n_comps, seed)
        # a label barely larger than k0: use every cell (scib-metrics' pynndescent cannot return more)
        neighbors = compute_neighbors(embedding, n_neighbors=min(k0 + 1, keep.size))
    except (ValueError, ArpackError):
        logger.info("diffusion distance failed; kBET counts the label as rejected.")
        return 0.0
    codes = pd.factorize(batch_codes[keep])[0]
    return kbet_acceptance(neighbors.indices, codes, alpha=alpha)


def kbet_per_label(
    X, batch, labels, *, n_neighbors: int = 50, alpha: float = 0.05, diffusion_n_comps: int = 100, random_state=0
) -> float:
    """kBET acceptance rate per label, averaged over labels (scib-metrics' approximation of scib).

    For each label, the UMAP connectivity subgraph (from the ``n_neighbors`` graph) is embedded with
    a diffusion map, ``k0 = clip(mean batch size / 4, 10, 70)`` neighbours are taken in that
    embedding, and kBET is run there. Labels with < 10 cells or a single batch are skipped (NaN);
    labels split into components smaller than ``3·k0`` holding > 25% of cells count as 0.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    batch, labels
        Shape (n_cells,); at least 2 batches.
    n_neighbors
        Self included (scib-metrics: 50).
    alpha
        Significance level of the χ² test.
    diffusion_n_comps
        Diffusion components (at most n_label − 1).
    random_state
        Seeds the ARPACK starting vector.

    Returns
    -------
    Mean acceptance over scored labels (higher = better mixed); NaN if no label could be scored.

    Notes
    -----
    Per label: a sparse eigendecomposition (O(n_label · n_neighbors · n_comps) per ARPACK step) and an
    exact kNN in the diffusion space.
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    batch = check_groups(batch, neighbors.n_cells, name="batch", min_groups=2)
    labels = check_groups(labels, neighbors.n_cells, name="labels")
    batch_codes, _ = group_codes(batch)
    connectivities = neighbors.connectivities
    seed = int_seed(random_state)
    scores = {}
    for label in pd.unique(labels):
        mask = np.flatnonzero(labels == label)
        scores[label] = _kbet_one_label(
            connectivities[mask][:, mask].tocsr(),
            batch_codes[mask],
            alpha=alpha,
            diffusion_n_comps=diffusion_n_comps,
            seed=seed,
        )
    logger.debug("kBET per label: %s", scores)
    values = np.array(list(scores.values()), dtype=float)
    if np.isnan(values).all():
        warnings.warn("no label has >= 10 cells from >= 2 batches; kBET is NaN.", SeqatacWarning, stacklevel=2)
        return float("nan")
    return float(np.nanmean(values))


def graph_connectivity(X, labels, *, n_neighbors: int = 15) -> float:
    """Graph connectivity: per label, share of its cells in the largest connected component of the
    kNN subgraph restricted to that label, averaged over labels (1 = every label connected).

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    labels
        Shape (n_cells,).
    n_neighbors
        Self included (scib-metrics: 15).
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    labels = check_groups(labels, neighbors.n_cells, name="labels")
    graph = neighbors.distance_graph
    shares = []
    for label in pd.unique(labels):
        mask = np.flatnonzero(labels == label)
        _, components = connected_components(graph[mask][:, mask], connection="strong")
        shares.append(np.bincount(components).max() / mask.size)
    return float(np.mean(shares))
