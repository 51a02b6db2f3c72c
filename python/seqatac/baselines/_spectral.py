"""Spectral embedding of the cosine cell-similarity graph (SnapATAC2-style, matrix-free), with noise-aware
component selection.

The cell-similarity matrix is never formed: every product with it goes through the sparse cells × features
matrix, so memory stays O(nnz + n_cells · n_components).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, eigsh

from .._errors import SeqatacInputError, SeqatacWarning
from ..data import check_counts, layer_matrix
from ._checks import check_n_components, plural

logger = logging.getLogger(__name__)

#: Default ``obsm`` key of :func:`spectral` and the ``uns`` key of its run record.
SPECTRAL_OBSM = "X_spectral"
SPECTRAL_UNS = "spectral"

_SELECTIONS = ("mirror", "all")
_TRANSFORMS = ("log1p", "none", "binary")


def select_accessible_features(
    counts, *, filter_lower_quantile: float = 0.005, filter_upper_quantile: float = 0.005
) -> np.ndarray:
    """Most-accessible-features mask: every peak with counts, less the least and most accessible tails.

    Peaks are ranked by their total count; of those with any count, the bottom ``filter_lower_quantile``
    and the top ``filter_upper_quantile`` fractions are dropped (SnapATAC2's ``pp.select_features`` with
    its default ``n_features`` larger than the number of peaks). The top tail holds promoter-like peaks
    open in nearly every cell and artefact-prone regions; the bottom tail holds peaks seen once or twice.

    Parameters
    ----------
    counts
        Cells × peaks counts ``(n_cells, n_peaks)``, sparse or dense.
    filter_lower_quantile, filter_upper_quantile
        Fractions in [0, 0.5) of the peaks with counts to drop at each end.

    Returns
    -------
    Boolean mask of shape ``(n_peaks,)``.
    """
    bounds = {"filter_lower_quantile": filter_lower_quantile, "filter_upper_quantile": filter_upper_quantile}
    for name, value in bounds.items():
        if not 0 <= value < 0.5:
            raise SeqatacInputError(f"{name} must lie in [0, 0.5), got {value}.")
    totals = np.asarray(counts.sum(axis=0, dtype=np.float64)).ravel()
    ranked = np.argsort(totals, kind="stable")
    ranked = ranked[totals[ranked] > 0]
    n_lower, n_upper = int(filter_lower_quantile * ranked.size), int(filter_upper_quantile * ranked.size)
    mask = np.zeros(totals.size, dtype=bool)
    mask[ranked[n_lower : ranked.size - n_upper]] = True
    return mask


def spectral(
    adata: AnnData,
    *,
    n_components: int = 30,
    select_components: str = "mirror",
    features=None,
    filter_lower_quantile: float = 0.005,
    filter_upper_quantile: float = 0.005,
    count_transform: str = "log1p",
    idf: bool = True,
    drop_first: bool = True,
    layer: str | None = None,
    key_added: str = SPECTRAL_OBSM,
    random_state: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Laplacian-eigenmap embedding of the IDF-weighted cosine similarity between cells.

    The recommended sequence-free embedding of seqatac. Each cell's counts over the selected peaks are
    transformed (``log1p`` by default), weighted by the inverse document frequency
    ``log(n_cells / (1 + n_cells_with_peak))`` and scaled to unit length; ``A = X Xᵀ − I`` is the cosine
    similarity without self loops, ``d = A 1`` the cell degrees and ``M = D^{-1/2} A D^{-1/2}`` the
    normalised adjacency (the normalised graph Laplacian is ``I − M``).
    Products with ``M`` go through the sparse matrix (``M v = Y (Yᵀ v) − v / d`` with ``Y = D^{-1/2} X``),
    so the n_cells × n_cells matrix is never built. The embedding is the leading eigenvectors of ``M``, each
    scaled by the square root of its eigenvalue. With ``count_transform="none"`` and up to the component
    selection this is SnapATAC2's ``tl.spectral`` (cosine, matrix-free, ``weighted_by_sd``; Zhang et al.
    2024, Nat Methods), written from its description: on the benchmark sets the two embeddings agree to a
    correlation of 0.998 or more per component.

    Component selection. ``A`` has zero trace, so its spectrum straddles 0: cell-to-cell noise spreads
    eigenvalues to both sides about equally, while shared accessibility (cell types) adds only positive
    ones. With ``select_components="mirror"`` (default) the negative side serves as the noise reference:
    of the ``n_components`` largest eigenvalues, the leading ones are kept while the i-th largest exceeds
    the magnitude of the i-th most negative. SnapATAC2 gets a similar cut by accident: it asks ARPACK for
    the eigenvalues largest in *magnitude* and discards the negative ones it gets back, so the number of
    components it returns depends on ``n_comps`` (on Buenrostro 2018 it keeps 7 of 30). Keeping all 30
    exact components instead lowers 15-NN annotation accuracy on both real benchmark sets
    (benchmarks/results/realdata.md); ``select_components="all"`` does that.

    The first eigenvector is ``∝ sqrt(d)``: a cell's similarity to all others, which follows its
    sequencing depth (correlation ≈ 0.99 with log counts on the benchmark sets). It is dropped by default,
    as Signac and ArchR drop LSI's depth component: k-means clusters of the remaining components agree
    better with the cell types on both real benchmark sets (ARI +0.05 on Buenrostro 2018, +0.03 on
    Schep 2017). SnapATAC2 keeps it; ``drop_first=False`` does too, which helps a 15-NN vote on those
    sorted populations, whose depth differs by type (benchmarks/results/realdata.md).

    Parameters
    ----------
    adata
        Cells × peaks counts in ``X`` (or ``layers[layer]``).
    n_components
        The most components computed (and kept with ``select_components="all"``).
    select_components
        ``"mirror"`` (noise-aware cut, see above) or ``"all"``.
    features
        Peaks to use: ``None`` (default) selects them with :func:`select_accessible_features`; otherwise a
        boolean mask of length ``n_peaks``, integer indices, or the name of a boolean ``var`` column.
    filter_lower_quantile, filter_upper_quantile
        Tails dropped by the default feature selection (SnapATAC2's defaults, 0.5% each).
    count_transform
        ``"log1p"`` (default): ``log(1 + count)``, which keeps a second insertion in a peak as more
        evidence than one but less than double; ``"none"``: raw counts (SnapATAC2); ``"binary"``:
        presence/absence (ArchR, and :func:`lsi` by default). On the benchmark sets ``"log1p"`` is within
        0.004 of ``"none"`` on Buenrostro 2018 (slightly below) and better on all four figures on Schep 2017
        (benchmarks/results/realdata.md).
    idf
        Weight peaks by inverse document frequency (SnapATAC2's default); ``False`` gives plain cosine.
    drop_first
        Drop the first (degree, ≈ depth) component (default); ``False`` keeps it, as SnapATAC2 does.
    layer
        Read counts from ``layers[layer]`` instead of ``X``.
    key_added
        ``obsm`` key of the embedding; the run record goes to ``uns["spectral"]`` (or ``uns[key_added]``
        when ``key_added`` is not the default).
    random_state
        Seed of ARPACK's start vector (the result does not depend on it beyond solver tolerance).
    copy
        Work on and return a copy.

    Returns
    -------
    None, or the copy when ``copy=True``. Writes:

    - ``obsm[key_added]``: ``(n_cells, n_kept)`` float32 embedding, components by decreasing eigenvalue,
      each column's largest-magnitude entry positive;
    - ``uns["spectral"]``: ``params``, ``eigenvalues`` (the ``n_components`` largest), ``negative_eigenvalues``
      (the ``n_components`` most negative; with ``"mirror"`` only), ``n_kept``, ``n_features``,
      ``features`` (boolean mask over ``var``) and ``degree`` (each cell's summed similarity, ``(n_cells,)``).

    Notes
    -----
    Two ARPACK runs of ``n_components`` eigenpairs (one with ``"all"``), each product O(nnz). Cells with
    no counts in the selected peaks cannot be placed and raise an error; filter them first
    (``seqatac.data.filter_cells``).
    """
    adata = adata.copy() if copy else adata
    n_cells = adata.n_obs
    if count_transform not in _TRANSFORMS:
        raise SeqatacInputError(f"count_transform must be one of {_TRANSFORMS}, got {count_transform!r}.")
    if select_components not in _SELECTIONS:
        raise SeqatacInputError(f"select_components must be one of {_SELECTIONS}, got {select_components!r}.")
    check_n_components(
        n_components, least=2, most=n_cells - 2, data=f"spectral embedding of {plural(n_cells, 'cell')}",
        needs="the eigensolver needs at least 2 cells more than the components it computes", more="at least 4 cells",
    )
    where = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    counts = check_counts(layer_matrix(adata, layer), where)
    counts = sparse.csr_matrix(counts)  # no copy when X is already CSR
    mask = _feature_mask(adata, counts, features, filter_lower_quantile, filter_upper_quantile)
    if mask.sum() < 2:
        raise SeqatacInputError(
            f"only {int(mask.sum())} peaks are selected; pass more features (or lower the filter quantiles)."
        )
    normalized = _unit_rows(counts[:, mask], transform=count_transform, idf=idf, names=adata.obs_names)
    operator, degree = _normalized_adjacency(normalized, adata.obs_names)

    start = np.random.default_rng(random_state).uniform(0.5, 1.5, n_cells)
    eigenvalues, eigenvectors = _eigs(operator, n_components, "LA", start)
    negative = None
    n_kept = n_components
    if select_components == "mirror":
        # eigenvalues only, to 4 digits: they are compared with the positive ones, not used
        negative, _ = _eigs(operator, n_components, "SA", start, vectors=False, tol=1e-4)
        above = eigenvalues > np.abs(negative)
        n_kept = int(np.argmin(above)) if not above.all() else n_components
        if n_kept == n_components:
            logger.info("spectral: all %d components are above the noise level; more may be informative", n_kept)
        if n_kept < 2:
            warnings.warn(
                "spectral: no component beyond the first (cell degree) rises above the noise level; keeping 2. "
                "The cells may not differ in accessibility, or the selected peaks are too few.",
                SeqatacWarning,
                stacklevel=2,
            )
            n_kept = 2
    embedding = eigenvectors[:, :n_kept] * np.sqrt(np.clip(eigenvalues[:n_kept], 0.0, None))
    if drop_first:
        embedding = embedding[:, 1:]
    adata.obsm[key_added] = embedding.astype(np.float32)
    uns_key = SPECTRAL_UNS if key_added == SPECTRAL_OBSM else key_added
    record = {
        "params": {
            "n_components": n_components,
            "select_components": select_components,
            "filter_lower_quantile": filter_lower_quantile,
            "filter_upper_quantile": filter_upper_quantile,
            "count_transform": count_transform,
            "idf": idf,
            "drop_first": drop_first,
            "layer": layer if layer is not None else "X",
            "random_state": random_state,
        },
        "eigenvalues": eigenvalues,
        "n_kept": n_kept,
        "n_features": int(mask.sum()),
        "features": mask,
        "degree": degree,
    }
    if negative is not None:
        record["negative_eigenvalues"] = negative
    adata.uns[uns_key] = record
    logger.info(
        "spectral: %d of %d components (%s) on %d peaks written to obsm[%r]",
        embedding.shape[1], n_components, select_components, int(mask.sum()), key_added,
    )  # fmt: skip
    return adata if copy else None


def _feature_mask(adata, counts, features, lower, upper) -> np.ndarray:
    n_peaks = adata.n_vars
    if features is None:
        return select_accessible_features(counts, filter_lower_quantile=lower, filter_upper_quantile=upper)
    if isinstance(features, str):
        if features not in adata.var:
            raise SeqatacInputError(
                f"features={features!r} is not a column of adata.var; pass a boolean column name, a mask or None."
            )
        features = adata.var[features].to_numpy()
    features = np.asarray(features)
    if features.dtype == bool:
        if features.shape != (n_peaks,):
            raise SeqatacInputError(f"the features mask has shape {features.shape}; it needs ({n_peaks},).")
        return features.copy()
    if np.issubdtype(features.dtype, np.integer):
        if features.size and (features.min() < -n_peaks or features.max() >= n_peaks):
            raise SeqatacInputError(
                f"feature indices must lie in [0, {n_peaks}); got {features.min()}..{features.max()}."
            )
        mask = np.zeros(n_peaks, dtype=bool)
        mask[features] = True
        return mask
    raise SeqatacInputError(
        f"features must be None, a boolean mask, integer indices or a var column name; got dtype {features.dtype}."
    )


def _unit_rows(counts: sparse.csr_matrix, *, transform: str, idf: bool, names) -> sparse.csr_matrix:
    """Transformed, IDF-weighted rows scaled to unit L2 norm (cosine similarity = row dot products)."""
    matrix = counts.astype(np.float64)  # a copy: the caller's matrix is left alone
    matrix.eliminate_zeros()
    if transform == "binary":
        matrix.data[:] = 1.0
    elif transform == "log1p":
        matrix.data = np.log1p(matrix.data)
    has_counts = np.diff(matrix.indptr) > 0
    if idf:
        n_cells_with = np.bincount(matrix.indices, minlength=matrix.shape[1])
        weights = np.clip(np.log(matrix.shape[0] / (1.0 + n_cells_with)), 0.0, None)
        matrix = sparse.csr_matrix(matrix @ sparse.diags(weights))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    empty = norms == 0
    if empty.any():
        examples = ", ".join(map(str, pd.Index(names)[empty][:3]))
        if has_counts[empty].all():  # every count lies in peaks open in (nearly) every cell: IDF weight 0
            raise SeqatacInputError(
                f"{int(empty.sum())} cells ({examples}, ...) have counts only in peaks open in all or all but one "
                "of the cells, whose IDF weight log(n_cells / (1 + n_cells_with_peak)) is 0, so nothing tells "
                "these cells apart. Fix: select peaks that differ between cells (features=...), or pass idf=False."
            )
        raise SeqatacInputError(
            f"{int(empty.sum())} cells ({examples}, ...) have no counts in the selected peaks; remove them "
            "(seqatac.data.filter_cells(adata, min_peaks=1)) or select more peaks."
        )
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _normalized_adjacency(unit: sparse.csr_matrix, names) -> tuple[LinearOperator, np.ndarray]:
    """``M = D^{-1/2} (X Xᵀ − I) D^{-1/2}`` as a LinearOperator, and the degrees ``d``."""
    n_cells = unit.shape[0]
    degree = unit @ np.asarray(unit.sum(axis=0)).ravel() - 1.0
    isolated = degree <= 1e-12
    if isolated.any():
        examples = ", ".join(map(str, pd.Index(names)[isolated][:3]))
        raise SeqatacInputError(
            f"{int(isolated.sum())} cells ({examples}, ...) share no selected peak with any other cell; remove "
            "them or select more peaks."
        )
    scaled = sparse.csr_matrix(sparse.diags(1.0 / np.sqrt(degree)) @ unit)
    scaled_t = scaled.T.tocsr()
    self_term = 1.0 / degree

    def matmat(block):
        block = np.asarray(block, dtype=np.float64)
        flat = block.ndim == 1
        block = block.reshape(n_cells, -1)
        product = scaled @ (scaled_t @ block) - self_term[:, None] * block
        return product.ravel() if flat else product

    operator = LinearOperator((n_cells, n_cells), matvec=matmat, matmat=matmat, dtype=np.float64)
    return operator, degree


def _eigs(operator, k: int, which: str, start: np.ndarray, *, vectors: bool = True, tol: float = 0.0):
    """``k`` eigenpairs, largest (``"LA"``) or most negative (``"SA"``) first; signs fixed.

    A Krylov space of 3k vectors (ARPACK's default is 2k + 1) needs fewer restarts on these spectra,
    whose small eigenvalues crowd together.
    """
    ncv = min(operator.shape[0], 3 * k + 1)
    if vectors:
        values, vecs = eigsh(operator, k=k, which=which, v0=start, ncv=ncv, tol=tol)
    else:
        values = eigsh(operator, k=k, which=which, v0=start, ncv=ncv, tol=tol, return_eigenvectors=False)
        vecs = None
    order = np.argsort(values)[::-1] if which == "LA" else np.argsort(values)
    values = values[order]
    if vecs is None:
        return values, None
    vecs = vecs[:, order]
    peak = np.abs(vecs).argmax(axis=0)
    vecs *= np.sign(vecs[peak, np.arange(vecs.shape[1])])
    return values, vecs
