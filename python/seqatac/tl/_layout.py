"""Two-dimensional layouts of an embedding for plotting."""

from __future__ import annotations

import logging

import numpy as np
from anndata import AnnData

from .._errors import SeqatacInputError

logger = logging.getLogger(__name__)

_MIN_CELLS = 4  # UMAP's spectral start fails below (t-SNE below 3)


def _umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def layout_2d(
    adata: AnnData,
    *,
    use_rep: str,
    method: str = "auto",
    key_added: str | None = None,
    random_state: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Compute a 2-D layout (UMAP or t-SNE) of ``adata.obsm[use_rep]`` for plotting.

    Parameters
    ----------
    adata
        Cells × features AnnData holding the embedding in ``obsm[use_rep]`` (n_cells × d).
    use_rep
        Key of the embedding in ``obsm``.
    method
        ``"umap"`` (needs the ``umap`` extra), ``"tsne"`` (scikit-learn) or ``"auto"`` (UMAP when
        installed, else t-SNE).
    key_added
        Where to store the layout; default ``"X_<method>_<use_rep without X_>"``.
    random_state
        Seed of the layout.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    None, or the copy when ``copy=True``. Writes ``obsm[key_added]`` (n_cells × 2).
    """
    if use_rep not in adata.obsm:
        raise SeqatacInputError(
            f"obsm[{use_rep!r}] does not exist; available embeddings: {sorted(adata.obsm.keys())}. "
            "Compute the embedding first (e.g. seqatac.baselines.lsi) or pass an existing key."
        )
    if method == "auto":
        method = "umap" if _umap_available() else "tsne"
    X = np.asarray(adata.obsm[use_rep], dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < _MIN_CELLS:
        raise SeqatacInputError(
            f"obsm[{use_rep!r}] has shape {X.shape}: a 2-D layout needs a cells × dimensions embedding of at least "
            f"{_MIN_CELLS} cells (t-SNE and UMAP place a cell by its neighbours). Fix: lay out more cells."
        )
    broken = ~np.isfinite(X).all(axis=1)
    if broken.any():
        raise SeqatacInputError(
            f"obsm[{use_rep!r}] has {int(broken.sum())} cell(s) with NaN or infinite values (first: row "
            f"{int(np.flatnonzero(broken)[0])}). Fix: remove those cells or recompute the embedding."
        )
    if not np.ptp(X, axis=0).any():  # scikit-learn's t-SNE crashes the process on it (PCA start of NaN)
        raise SeqatacInputError(
            f"obsm[{use_rep!r}] is constant: all {X.shape[0]} cells have the same coordinates, so there is nothing "
            f"to lay out. Fix: recompute the embedding (a model that collapsed or an all-zero input gives this)."
        )
    if method == "umap":
        if not _umap_available():
            raise SeqatacInputError("method='umap' needs umap-learn: pip install 'seqatac[umap]', or use method='tsne'.")
        import umap

        coords = umap.UMAP(random_state=random_state).fit_transform(X)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (X.shape[0] - 1) // 3)))
        coords = TSNE(perplexity=perplexity, init="pca", random_state=random_state).fit_transform(X)
    else:
        raise SeqatacInputError(f"Unknown layout method {method!r}; use 'umap', 'tsne' or 'auto'.")
    adata = adata.copy() if copy else adata
    key = key_added or f"X_{method}_{use_rep.removeprefix('X_')}"
    adata.obsm[key] = np.asarray(coords, dtype=np.float32)
    logger.info("added obsm[%r] (%s of obsm[%r])", key, method, use_rep)
    return adata if copy else None
