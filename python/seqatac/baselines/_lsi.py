"""Latent semantic indexing (TF-IDF + truncated SVD), the standard scATAC-seq baseline (Signac/ArchR style)."""

from __future__ import annotations

import logging

import numpy as np
from anndata import AnnData
from scipy import sparse

from .._errors import SeqatacInputError
from .._keys import LSI_OBSM, LSI_UNS
from ..data import check_counts
from ._checks import check_n_components, plural

logger = logging.getLogger(__name__)


def tfidf(counts, *, binarize: bool = True, scale_factor: float = 1e4) -> sparse.csr_matrix:
    """Signac's TF-IDF (``RunTFIDF`` method 1): ``log(1 + tf · idf · scale_factor)``.

    ``tf = X / rowsum(X)`` (per cell), ``idf = n_cells / colsum(X)`` (per peak; peaks with no counts get 0).

    Parameters
    ----------
    counts
        Cells × peaks counts ``(n_cells, n_peaks)``, sparse or dense.
    binarize
        Use presence/absence (ArchR) instead of counts (Signac).
    scale_factor
        Multiplier before the log.

    Returns
    -------
    ``float32`` CSR ``(n_cells, n_peaks)`` with the sparsity pattern of ``counts``.
    """
    matrix = sparse.csr_matrix(counts, dtype=np.float32, copy=True)
    matrix.eliminate_zeros()
    if binarize:
        matrix.data[:] = 1.0
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    col_sums = np.asarray(matrix.sum(axis=0)).ravel()
    idf = np.divide(matrix.shape[0], col_sums, out=np.zeros_like(col_sums, dtype=np.float64), where=col_sums > 0)
    row_scale = np.divide(scale_factor, row_sums, out=np.zeros_like(row_sums, dtype=np.float64), where=row_sums > 0)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    matrix.data = np.log1p(matrix.data * row_scale[rows] * idf[matrix.indices]).astype(np.float32)
    return matrix


def lsi(
    adata: AnnData,
    *,
    n_components: int = 30,
    binarize: bool = True,
    scale_factor: float = 1e4,
    drop_first_if_depth_correlated: bool = True,
    depth_corr_threshold: float = 0.9,
    scale_dims: bool = True,
    key_added: str = LSI_OBSM,
    random_state: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """TF-IDF + truncated SVD embedding of a cells × peaks matrix.

    :func:`tfidf` of ``adata.X`` (kept sparse), then randomized truncated SVD (scikit-learn, deterministic
    for a seed). The embedding is ``U · Σ`` (component scores), z-scored per cell when ``scale_dims``. Components whose absolute Pearson
    correlation with log(1 + total counts) exceeds ``depth_corr_threshold`` (typically the first: Signac
    drops LSI 1, ArchR filters at 0.75) are dropped; to keep ``n_components`` columns when that happens,
    one extra component is computed.

    Parameters
    ----------
    adata
        Cells × peaks counts in ``X``.
    n_components
        Columns of the embedding.
    binarize
        TF-IDF on presence/absence (default, ArchR) or on counts (Signac).
    scale_factor
        TF-IDF scale factor.
    drop_first_if_depth_correlated
        Drop depth-correlated components.
    depth_corr_threshold
        Absolute correlation above which a component counts as depth.
    scale_dims
        Z-score each cell's coordinates across the kept components (ArchR's ``scaleDims``, its default).
        This removes what is left of depth in the overall scale of a cell's scores; without it k-means and
        kNN graphs on few, very unequally sequenced cells follow depth (chromVAR's ``example_counts``: ARI
        0.63 unscaled, 1.0 scaled). Needs at least 3 kept components.
    key_added
        ``obsm`` key of the embedding; ``uns`` results go to ``uns["lsi"]`` (or ``uns[key_added]`` when
        ``key_added`` is not the default).
    random_state
        Seed of the randomized SVD.
    copy
        Work on and return a copy.

    Returns
    -------
    None, or the copy when ``copy=True``. Writes:

    - ``obsm[key_added]``: ``(n_cells, n_components)`` float32 embedding (fewer columns only if more than
      one component was dropped);
    - ``uns["lsi"]``: ``params``, ``singular_values``, ``variance_ratio`` and ``depth_correlation`` of every
      computed component, ``dropped_components`` (0-based indices) and ``kept_components``.
    """
    from sklearn.decomposition import TruncatedSVD

    adata = adata.copy() if copy else adata
    n_cells, n_peaks = adata.shape
    extra, least = int(drop_first_if_depth_correlated), 3 if scale_dims else 1
    most = min(n_cells, n_peaks) - 1 - extra
    check_n_components(
        n_components, least=least, most=most, data=f"LSI of {plural(n_cells, 'cell')} × {plural(n_peaks, 'peak')}",
        needs="truncated SVD needs more cells and more peaks than the components it computes"
        + (" (n_components + 1: the depth component may be dropped)" if extra else "")
        + (", and scale_dims=True z-scores each cell over at least 3 components"
           if scale_dims and min(n_components, most) < least else ""),
        more=f"at least {least + 1 + extra} cells and {least + 1 + extra} peaks",
    )  # fmt: skip
    n_fit = n_components + extra
    if not 0 < depth_corr_threshold <= 1:
        raise SeqatacInputError(f"depth_corr_threshold must lie in (0, 1], got {depth_corr_threshold}.")
    counts = sparse.csr_matrix(check_counts(adata.X, "adata.X"))
    depth = np.log1p(np.asarray(counts.sum(axis=1)).ravel())

    svd = TruncatedSVD(n_components=n_fit, algorithm="randomized", n_iter=7, random_state=random_state)
    scores = svd.fit_transform(tfidf(counts, binarize=binarize, scale_factor=scale_factor))
    depth_correlation = np.array([_pearson(scores[:, j], depth) for j in range(n_fit)])
    dropped = (
        np.flatnonzero(np.abs(depth_correlation) > depth_corr_threshold)
        if drop_first_if_depth_correlated
        else np.empty(0, dtype=np.int64)
    )
    kept = np.setdiff1d(np.arange(n_fit), dropped)[:n_components]
    embedding = scores[:, kept]
    if scale_dims:
        if kept.size < 3:
            raise SeqatacInputError(
                f"scale_dims=True z-scores each cell over its components and needs at least 3, but only "
                f"{kept.size} are kept; raise n_components or pass scale_dims=False."
            )
        spread = embedding.std(axis=1, keepdims=True)
        embedding = (embedding - embedding.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
    adata.obsm[key_added] = embedding.astype(np.float32)
    uns_key = LSI_UNS if key_added == LSI_OBSM else key_added
    adata.uns[uns_key] = {
        "params": {
            "n_components": n_components,
            "binarize": binarize,
            "scale_factor": scale_factor,
            "drop_first_if_depth_correlated": drop_first_if_depth_correlated,
            "depth_corr_threshold": depth_corr_threshold,
            "scale_dims": scale_dims,
            "random_state": random_state,
        },
        "singular_values": svd.singular_values_,
        "variance_ratio": svd.explained_variance_ratio_,
        "depth_correlation": depth_correlation,
        "dropped_components": dropped.astype(np.int64),
        "kept_components": kept.astype(np.int64),
    }
    logger.info(
        "LSI: %d components written to obsm[%r]; dropped %s (depth correlation %s)",
        kept.size, key_added, dropped.tolist(), np.round(depth_correlation[dropped], 3).tolist(),
    )  # fmt: skip
    return adata if copy else None


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0
