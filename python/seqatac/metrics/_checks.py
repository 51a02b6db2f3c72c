"""Input checks shared by the metrics (one place for the error messages)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._errors import SeqatacInputError
from ..data import check_labels


def check_embedding(X, *, name: str = "X", allow_constant: bool = False) -> np.ndarray:
    """Return ``X`` as a finite 2-D float array (cells × dimensions) or raise; a constant one (every cell at one
    point) is refused unless ``allow_constant``, since no score of it means anything."""
    if sp.issparse(X):  # embeddings are low-dimensional: densifying is cheap
        X = X.toarray()
    X = np.asarray(X)
    if X.ndim != 2:
        raise SeqatacInputError(
            f"{name} must be a 2-D cells × dimensions array, got shape {X.shape}; "
            "pass an embedding such as adata.obsm['X_scbasset']."
        )
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    if X.shape[0] < 2:
        raise SeqatacInputError(f"{name} has {X.shape[0]} cell(s); metrics need at least 2 cells.")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise SeqatacInputError(
            f"{name} has {int(bad.sum())} cell(s) with NaN or infinite values (first: row "
            f"{int(np.flatnonzero(bad)[0])}); remove those cells or recompute the embedding."
        )
    if not allow_constant and not np.ptp(X, axis=0).any():
        raise SeqatacInputError(
            f"{name} puts every cell at the same point (a constant embedding), which has no structure to score. "
            "Fix: recompute the embedding (a model that learned nothing, or cells without counts?)."
        )
    return X


def check_groups(values, n_cells: int, *, name: str, min_groups: int = 1) -> np.ndarray:
    """Return per-cell group values (labels, batches) as a 1-D array of length ``n_cells`` or raise."""
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] != n_cells:
        raise SeqatacInputError(
            f"{name} must be a 1-D array with one value per cell ({n_cells}), got shape {values.shape}."
        )
    check_labels(values, name)
    n_groups = len(pd.unique(values))
    if n_groups < min_groups:
        raise SeqatacInputError(
            f"{name} has {n_groups} distinct value(s) but this metric needs at least {min_groups}; "
            f"pass a {name} column with more groups."
        )
    return values


def group_codes(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 of ``values`` (sorted categories) and the number of groups G."""
    categorical = pd.Categorical(values)
    return np.asarray(categorical.codes, dtype=np.int64), len(categorical.categories)



def same_shape(a, b, *, names: tuple[str, str]) -> None:
    """Raise unless ``a`` and ``b`` have the same shape."""
    if tuple(a.shape) != tuple(b.shape):
        raise SeqatacInputError(
            f"{names[0]} has shape {tuple(a.shape)} but {names[1]} has shape {tuple(b.shape)}; "
            "they must describe the same cells (rows) and features (columns) in the same order."
        )
