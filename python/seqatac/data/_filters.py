"""Binarising counts and filtering peaks and cells, with a log of each filtering step."""

from __future__ import annotations

import logging
import math

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._errors import SeqatacInputError
from .._keys import SEQATAC_UNS

logger = logging.getLogger(__name__)

# uns["seqatac"][...] key for the filtering log
_FILTERING_UNS = "filtering"


def binarize(adata: ad.AnnData, *, copy: bool = False) -> ad.AnnData | None:
    """Set ``X`` to 1 where counts are > 0 and 0 elsewhere (float32; sparse stays sparse).

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks).
    copy
        Return a binarised copy instead of modifying ``adata``.

    Returns
    -------
    None, or the copy when ``copy=True``. Updates ``X``.
    """
    if copy:
        adata = adata.copy()
    adata.X = _binarized(adata.X)
    return adata if copy else None


def _binarized(matrix):
    if sp.issparse(matrix):
        result = matrix.copy()
        result.data = (result.data > 0).astype(np.float32)
        result.eliminate_zeros()
        return result
    return (np.asarray(matrix) > 0).astype(np.float32)


def filter_peaks(
    adata: ad.AnnData, *, min_cell_fraction: float = 0.0, min_cells: int = 0, copy: bool = False
) -> ad.AnnData | None:
    """Keep peaks accessible (count > 0) in enough cells.

    A peak is kept when open in at least ``max(min_cells, ceil(min_cell_fraction * n_cells))`` cells.

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks).
    min_cell_fraction
        Minimum fraction of cells, in [0, 1].
    min_cells
        Minimum number of cells.
    copy
        Return a filtered copy instead of subsetting ``adata`` in place.

    Returns
    -------
    None, or the copy when ``copy=True``. Subsets ``var`` and appends a row (step, threshold,
    n_removed, n_kept) to the DataFrame ``uns["seqatac"]["filtering"]``.

    Raises
    ------
    SeqatacInputError
        Invalid thresholds, or no peak would be left (``adata`` is then unchanged).
    """
    if not 0.0 <= min_cell_fraction <= 1.0:
        raise SeqatacInputError(
            f"min_cell_fraction={min_cell_fraction} is not a fraction. Fix: pass a value in [0, 1]."
        )
    # the tolerance keeps e.g. 0.1 * 50 == 5.000000000000001 at 5 cells
    from_fraction = math.ceil(min_cell_fraction * adata.n_obs - 1e-9)
    threshold = max(_check_count(min_cells, "min_cells"), from_fraction)
    return _filter(adata, axis=0, threshold=threshold, step="filter_peaks", copy=copy)


def filter_cells(adata: ad.AnnData, *, min_peaks: int = 0, copy: bool = False) -> ad.AnnData | None:
    """Keep cells with at least ``min_peaks`` accessible (count > 0) peaks.

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks).
    min_peaks
        Minimum number of accessible peaks per cell.
    copy
        Return a filtered copy instead of subsetting ``adata`` in place.

    Returns
    -------
    None, or the copy when ``copy=True``. Subsets ``obs`` and appends a row (step, threshold,
    n_removed, n_kept) to the DataFrame ``uns["seqatac"]["filtering"]``.

    Raises
    ------
    SeqatacInputError
        Invalid threshold, or no cell would be left (``adata`` is then unchanged).
    """
    threshold = _check_count(min_peaks, "min_peaks")
    return _filter(adata, axis=1, threshold=threshold, step="filter_cells", copy=copy)


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise SeqatacInputError(f"{name}={value!r} is not a count. Fix: pass an integer >= 0.")
    return int(value)


def _filter(adata, *, axis: int, threshold: int, step: str, copy: bool):
    """Shared body of filter_peaks (axis=0: count cells per peak) and filter_cells (axis=1)."""
    n_accessible = np.asarray((adata.X > 0).sum(axis=axis)).ravel()
    keep = n_accessible >= threshold
    n_kept = int(keep.sum())
    n_removed = len(keep) - n_kept
    items, other = ("peaks", "cells") if axis == 0 else ("cells", "peaks")
    if n_kept == 0:
        best = int(n_accessible.max()) if len(n_accessible) else 0
        raise SeqatacInputError(
            f"{step} would remove all {len(keep)} {items}: none is accessible in >= {threshold} "
            f"{other} (the most is {best}). Fix: lower the threshold to at most {best}."
        )
    if copy:
        adata = adata.copy()
    if axis == 0:
        adata._inplace_subset_var(keep)
    else:
        adata._inplace_subset_obs(keep)
    record = pd.DataFrame(
        [{"step": step, "threshold": threshold, "n_removed": n_removed, "n_kept": n_kept}]
    )
    uns = adata.uns.setdefault(SEQATAC_UNS, {})
    previous = uns.get(_FILTERING_UNS)
    uns[_FILTERING_UNS] = (
        record if previous is None else pd.concat([pd.DataFrame(previous), record], ignore_index=True)
    )
    logger.info(
        "%s: removed %d %s accessible in fewer than %d %s, kept %d",
        step, n_removed, items, threshold, other, n_kept,
    )
    return adata if copy else None
