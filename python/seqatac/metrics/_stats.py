"""Vectorised per-row statistics (Pearson, Spearman, auROC, auPR) and bounded-memory block iteration."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

# elements per dense block (~32 MB of float64): bounds memory when streaming cells × features data
_BLOCK_ELEMENTS = 2**22


def dense_block(matrix, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
    """Rows/columns of a dense, sparse, h5py or memmap matrix as a float64 ndarray (only the block)."""
    if rows is not None:
        block = matrix[rows]
        if cols is not None:
            block = block[:, cols]
    else:
        block = matrix[:, cols]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float64)


def blocks(n: int, other: int, chunk_size: int | None = None) -> Iterator[slice]:
    """Consecutive slices over ``n`` rows, each with about ``_BLOCK_ELEMENTS / other`` rows."""
    step = chunk_size or max(1, _BLOCK_ELEMENTS // max(other, 1))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``, shape (n_rows,); NaN if constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(axis=1) / np.where(denominator > 0, denominator, 1), np.nan)


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation per row (Pearson of average ranks), shape (n_rows,)."""
    return pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1))


def auroc_auprc_rows(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """auROC and average precision of each row, as scikit-learn computes them (ties handled alike).

    Parameters
    ----------
    positive
        Shape (n_rows, n_items), bool.
    score
        Shape (n_rows, n_items), higher = more likely positive.

    Returns
    -------
    Two arrays of shape (n_rows,); NaN for rows that are all positive or all negative.
    """
    positive = np.asarray(positive, dtype=bool)
    n_items = positive.shape[1]
    n_pos = positive.sum(axis=1)
    n_neg = n_items - n_pos
    defined = (n_pos > 0) & (n_neg > 0)
    # auROC = Mann-Whitney U / (n_pos·n_neg), with average ranks for ties
    ranks = rankdata(score, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = ((ranks * positive).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    # AP = mean over positives of the precision at the end of its tie group (scores descending)
    order = np.argsort(-score, axis=1, kind="stable")
    sorted_score = np.take_along_axis(score, order, axis=1)
    sorted_pos = np.take_along_axis(positive, order, axis=1)
    precision = np.cumsum(sorted_pos, axis=1) / np.arange(1, n_items + 1)
    position = np.broadcast_to(np.arange(n_items), score.shape)
    group_end = np.ones(score.shape, dtype=bool)
    group_end[:, :-1] = sorted_score[:, :-1] != sorted_score[:, 1:]
    end_index = np.where(group_end, position, n_items)
    end_index = np.minimum.accumulate(end_index[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        auprc = (np.take_along_axis(precision, end_index, axis=1) * sorted_pos).sum(axis=1) / n_pos
    return np.where(defined, auroc, np.nan), np.where(defined, auprc, np.nan)
