"""The papers' own scores: label/neighbour score, clustering at n labels, held-out peaks, annotation, expression."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import (
    accuracy_score,
    adjusted_mutual_info_score,
    adjusted_rand_score,
    f1_score,
    homogeneity_score,
    normalized_mutual_info_score,
)

from .._errors import SeqatacInputError, SeqatacWarning
from .._utils import int_seed
from ._bio import leiden_clusters, leiden_graph
from ._checks import check_groups, same_shape
from ._neighbors import Neighbors, resolve_neighbors
from ._stats import auroc_auprc_rows, blocks, dense_block, pearson_rows, spearman_rows

logger = logging.getLogger(__name__)


def _k_values(k, n_cells: int) -> list[int]:
    ks = [int(k)] if np.isscalar(k) else [int(v) for v in k]
    if not ks or min(ks) < 1 or max(ks) >= n_cells:
        raise SeqatacInputError(f"k must be between 1 and n_cells - 1 = {n_cells - 1}, got {k!r}.")
    return ks


def _by_k(values: dict[int, float], k) -> float | dict[int, float]:
    return values[int(k)] if np.isscalar(k) else values


def label_score(X, labels, *, k: int | Sequence[int] = 50) -> float | dict[int, float]:
    """Label score: mean share of a cell's k nearest neighbours (itself excluded) sharing its label.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors` with > k columns.
    labels
        Shape (n_cells,).
    k
        One neighbourhood size, or several (scBasset/CellSpace use 10, 50, 100).

    Returns
    -------
    A float for an int ``k``; ``{k: score}`` for a list.
    """
    n_cells = X.n_cells if isinstance(X, Neighbors) else np.shape(X)[0]
    ks = _k_values(k, n_cells)
    neighbors = resolve_neighbors(X, max(ks) + 1)
    labels = check_groups(labels, n_cells, name="labels")
    same = labels[neighbors.indices[:, 1:]] == labels[:, None]
    return _by_k({kk: float(same[:, :kk].mean()) for kk in ks}, k)


def neighbor_score(X_atac, X_rna, *, k: int | Sequence[int] = 100) -> float | dict[int, float]:
    """Neighbour score: mean overlap fraction between each cell's k-NN sets in two paired embeddings.

    Parameters
    ----------
    X_atac, X_rna
        Embeddings of the same cells in the same order, shapes (n_cells, d1) and (n_cells, d2), or
        precomputed :class:`Neighbors`.
    k
        Neighbourhood size(s), the cell itself excluded.

    Returns
    -------
    ``|kNN_atac ∩ kNN_rna| / k`` averaged over cells: a float, or ``{k: score}`` for a list.
    """
    n_cells = X_atac.n_cells if isinstance(X_atac, Neighbors) else np.shape(X_atac)[0]
    n_rna = X_rna.n_cells if isinstance(X_rna, Neighbors) else np.shape(X_rna)[0]
    if n_rna != n_cells:
        raise SeqatacInputError(
            f"X_atac has {n_cells} cells but X_rna has {n_rna}; pass embeddings of the same paired cells."
        )
    ks = _k_values(k, n_cells)
    atac = resolve_neighbors(X_atac, max(ks) + 1)
    rna = resolve_neighbors(X_rna, max(ks) + 1)
    scores = {}
    for kk in ks:
        rows = np.repeat(np.arange(n_cells), kk)
        ones = np.ones(n_cells * kk)
        in_atac = sp.csr_matrix((ones, (rows, atac.indices[:, 1 : kk + 1].ravel())), shape=(n_cells, n_cells))
        in_rna = sp.csr_matrix((ones, (rows, rna.indices[:, 1 : kk + 1].ravel())), shape=(n_cells, n_cells))
        scores[kk] = float(in_atac.multiply(in_rna).sum() / (n_cells * kk))
    return _by_k(scores, k)


def cluster_at_n_labels(
    X, labels, *, n_neighbors: int = 15, max_steps: int = 30, random_state=0
) -> dict[str, float]:
    """Leiden clustering with the resolution bisected until it gives as many clusters as labels.

    Parameters
    ----------
    X
        Embedding, shape (n_cells, n_dims), or a precomputed :class:`Neighbors`.
    labels
        Shape (n_cells,).
    n_neighbors
        kNN size (self included) of the UMAP connectivity graph (scanpy default 15).
    max_steps
        Bisection steps; if no resolution gives exactly L clusters the closest count is used (warning).

    Returns
    -------
    ``{"ari", "nmi", "ami", "homogeneity", "resolution", "n_clusters"}``.

    Notes
    -----
    Each step is one Leiden run, roughly O(n_cells · n_neighbors).
    """
    neighbors = resolve_neighbors(X, n_neighbors)
    labels = check_groups(labels, neighbors.n_cells, name="labels")
    target = len(pd.unique(labels))
    graph = leiden_graph(neighbors.connectivities)
    seed = int_seed(random_state)
    tried: dict[float, np.ndarray] = {}

    def n_clusters(resolution: float) -> int:
        tried[resolution] = leiden_clusters(graph, resolution=resolution, seed=seed)
        return len(np.unique(tried[resolution]))

    low, high = 0.0, 1.0
    while n_clusters(high) < target and high < 2**10:
        low, high = high, high * 2
    for _ in range(max_steps):
        if len(np.unique(tried[high])) == target:
            break
        middle = (low + high) / 2
        found = n_clusters(middle)
        if found == target:
            high = middle
            break
        low, high = (middle, high) if found < target else (low, middle)
    resolution = min(tried, key=lambda r: (abs(len(np.unique(tried[r])) - target), r))
    clusters = tried[resolution]
    if len(np.unique(clusters)) != target:
        warnings.warn(
            f"no Leiden resolution gave {target} clusters; using {len(np.unique(clusters))} at "
            f"resolution {resolution:.4g}.",
            SeqatacWarning,
            stacklevel=2,
        )
    return {
        "ari": float(adjusted_rand_score(labels, clusters)),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ami": float(adjusted_mutual_info_score(labels, clusters)),
        "homogeneity": float(homogeneity_score(labels, clusters)),
        "resolution": float(resolution),
        "n_clusters": int(len(np.unique(clusters))),
    }


def auroc_auprc(y_true, y_score, *, axis: int = 1, chunk_size: int | None = None) -> dict:
    """Held-out-peak auROC and auPR per cell (``axis=1``) or per peak (``axis=0``).

    Parameters
    ----------
    y_true
        Shape (n_cells, n_peaks), binary (any non-zero = accessible); dense or scipy sparse.
    y_score
        Shape (n_cells, n_peaks): predicted accessibility. Any array sliceable by rows and columns
        (ndarray, np.memmap, h5py dataset, backed AnnData layer); only one block is read at a time.
    axis
        1 = one value per cell (ranking its peaks); 0 = one value per peak (ranking cells).
    chunk_size
        Rows (axis=1) or columns (axis=0) per block; default keeps blocks near 32 MB.

    Returns
    -------
    ``{"auroc": ndarray, "auprc": ndarray, "n_skipped": int}``; arrays of shape (n_cells,) or
    (n_peaks,), NaN where the cell/peak is all 0 or all 1 (counted in ``n_skipped``). auPR is
    scikit-learn's average precision.

    Notes
    -----
    O(n_cells · n_peaks · log) time, memory bounded by the block size; ``y_true`` is never densified whole.
    """
    if axis not in (0, 1):
        raise SeqatacInputError(f"axis must be 1 (per cell) or 0 (per peak), got {axis!r}.")
    same_shape(y_true, y_score, names=("y_true", "y_score"))
    if sp.issparse(y_true):
        y_true = y_true.tocsr() if axis == 1 else y_true.tocsc()
    n_out, n_other = y_true.shape[::-1] if axis == 0 else y_true.shape
    auroc, auprc = np.full(n_out, np.nan), np.full(n_out, np.nan)
    for part in blocks(n_out, n_other, chunk_size):
        if axis == 1:
            truth, score = dense_block(y_true, rows=part), dense_block(y_score, rows=part)
        else:
            truth, score = dense_block(y_true, cols=part).T, dense_block(y_score, cols=part).T
        auroc[part], auprc[part] = auroc_auprc_rows(truth != 0, score)
    n_skipped = int(np.isnan(auroc).sum())
    if n_skipped:
        logger.info("%d of %d %s are all 0 or all 1 and were skipped", n_skipped, n_out, ("peaks", "cells")[axis])
    return {"auroc": auroc, "auprc": auprc, "n_skipped": n_skipped}


def annotation_metrics(y_true, y_pred, *, proba=None, classes=None) -> dict[str, float]:
    """Cell-type annotation accuracy, macro-F1 and (with ``proba``) one-vs-rest macro ROC-AUC.

    Parameters
    ----------
    y_true, y_pred
        Shape (n_cells,): true and predicted labels.
    proba
        Shape (n_cells, n_classes): predicted class probabilities, columns in ``classes`` order.
    classes
        Shape (n_classes,): the class of each ``proba`` column; default: the sorted labels of
        ``y_true`` and ``y_pred`` (must then number ``n_classes``).

    Returns
    -------
    ``{"accuracy", "macro_f1"}`` plus ``"roc_auc"`` when ``proba`` is given (mean over classes that
    occur in ``y_true`` but not in every cell).
    """
    y_true = check_groups(y_true, len(y_true), name="y_true")
    y_pred = check_groups(y_pred, len(y_true), name="y_pred")
    result = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }
    if proba is None:
        return result
    proba = np.asarray(proba, dtype=float)
    if classes is None:
        classes = np.unique(np.concatenate([y_true, y_pred]))
    classes = np.asarray(classes)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise SeqatacInputError(
            f"proba has shape {proba.shape} but {len(y_true)} cells × {len(classes)} classes were expected; "
            "pass classes= in the column order of proba."
        )
    positive = (y_true[None, :] == classes[:, None]).astype(float)
    auroc, _ = auroc_auprc_rows(positive, proba.T)
    result["roc_auc"] = float(np.nanmean(auroc)) if np.isfinite(auroc).any() else float("nan")
    return result


def expression_metrics(y_true, y_pred, *, gene_names=None) -> pd.DataFrame:
    """Per-gene expression prediction quality.

    Parameters
    ----------
    y_true
        Shape (n_cells, n_genes), dense or sparse.
    y_pred
        Shape (n_cells, n_genes).
    gene_names
        Shape (n_genes,); default: DataFrame columns of ``y_true`` / ``y_pred`` or 0..n_genes−1.

    Returns
    -------
    DataFrame indexed by gene with columns ``mse``, ``pearson``, ``spearman`` (NaN for constant genes).
    """
    if gene_names is None:
        frame = y_true if isinstance(y_true, pd.DataFrame) else y_pred
        gene_names = frame.columns if isinstance(frame, pd.DataFrame) else None
    y_true = y_true.to_numpy() if isinstance(y_true, pd.DataFrame) else y_true
    y_pred = y_pred.to_numpy() if isinstance(y_pred, pd.DataFrame) else y_pred
    same_shape(y_true, y_pred, names=("y_true", "y_pred"))
    if sp.issparse(y_true):
        y_true = y_true.tocsc()
    n_cells, n_genes = y_true.shape
    columns = {"mse": np.empty(n_genes), "pearson": np.empty(n_genes), "spearman": np.empty(n_genes)}
    for part in blocks(n_genes, n_cells):
        truth, pred = dense_block(y_true, cols=part).T, dense_block(y_pred, cols=part).T
        columns["mse"][part] = ((truth - pred) ** 2).mean(axis=1)
        columns["pearson"][part] = pearson_rows(truth, pred)
        columns["spearman"][part] = spearman_rows(truth, pred)
    index = pd.Index(gene_names if gene_names is not None else np.arange(n_genes), name="gene")
    return pd.DataFrame(columns, index=index)
