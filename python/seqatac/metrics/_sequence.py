"""Sequence-specific scores against simulator ground truth (TF activity, ISM, denoising)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import rankdata

from .._errors import SeqatacInputError, SeqatacWarning
from ._checks import check_groups, same_shape
from ._stats import auroc_auprc_rows, blocks, dense_block, pearson_rows

logger = logging.getLogger(__name__)


def _aligned(pred, true) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Both tables as arrays over shared TF columns (and cells, when both carry an index)."""
    if isinstance(pred, pd.DataFrame) and isinstance(true, pd.DataFrame):
        shared = pred.columns.intersection(true.columns, sort=False)
        if shared.empty:
            raise SeqatacInputError(
                f"pred and true share no TF column (pred: {list(pred.columns[:5])}..., true: "
                f"{list(true.columns[:5])}...); name both tables' columns with the same TF/motif names."
            )
        dropped = len(pred.columns) + len(true.columns) - 2 * len(shared)
        if dropped:
            warnings.warn(f"{dropped} TF column(s) found in only one table are ignored.", SeqatacWarning, stacklevel=3)
        if not pred.index.equals(true.index):
            if set(pred.index) != set(true.index) or not pred.index.is_unique:
                raise SeqatacInputError("pred and true must index the same cells; align their rows (obs_names).")
            true = true.loc[pred.index]
        return pred[shared].to_numpy(float), true[shared].to_numpy(float), shared
    names = next((t.columns for t in (pred, true) if isinstance(t, pd.DataFrame)), None)
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    same_shape(pred, true, names=("pred", "true"))
    return pred, true, pd.Index(names if names is not None else np.arange(pred.shape[1]))


def tf_activity_correlation(pred, true) -> pd.Series:
    """Pearson correlation across cells between predicted and true activity, per TF.

    Parameters
    ----------
    pred, true
        Shape (n_cells, n_tfs); DataFrames are aligned by column (TF) name and row (cell) index.

    Returns
    -------
    Series indexed by TF (NaN where either activity is constant).
    """
    pred, true, tfs = _aligned(pred, true)
    return pd.Series(pearson_rows(pred.T, true.T), index=tfs, name="pearson")


def driver_tf_recovery(tf_activity: pd.DataFrame, labels, drivers: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """How well TF activity recovers each cell type's true driver TFs.

    For each cell type, TFs are ranked (1 = best) by mean activity in that type minus mean activity in
    all other cells.

    Parameters
    ----------
    tf_activity
        Cells × TFs DataFrame (columns = TF names).
    labels
        Shape (n_cells,): cell type of each row.
    drivers
        Cell type → its true driver TFs (names as in ``tf_activity.columns``).

    Returns
    -------
    DataFrame indexed by cell type: ``drivers`` (tuple, those found among the columns), ``ranks``
    (tuple, same order), ``best_rank``, ``top1`` / ``top3`` (a driver ranks first / within the first
    three), ``auroc`` (drivers vs non-drivers by the difference score).
    """
    if not isinstance(tf_activity, pd.DataFrame):
        raise SeqatacInputError("tf_activity must be a cells × TFs DataFrame whose columns are TF names.")
    labels = check_groups(labels, tf_activity.shape[0], name="labels", min_groups=2)
    activity = tf_activity.to_numpy(float)
    rows = []
    for cell_type, type_drivers in drivers.items():
        in_type = labels == cell_type
        if not in_type.any():
            raise SeqatacInputError(
                f"cell type {cell_type!r} of drivers has no cell in labels; use names from {list(pd.unique(labels))}."
            )
        found = [tf for tf in type_drivers if tf in tf_activity.columns]
        if len(found) < len(type_drivers):
            warnings.warn(
                f"{cell_type!r}: drivers {sorted(set(type_drivers) - set(found))} are not TF columns; ignored.",
                SeqatacWarning,
                stacklevel=2,
            )
        with warnings.catch_warnings():  # an all-NaN column is ranked last, below every scored TF
            warnings.simplefilter("ignore", RuntimeWarning)
            difference = np.nanmean(activity[in_type], axis=0) - np.nanmean(activity[~in_type], axis=0)
        difference = np.where(np.isnan(difference), -np.inf, difference)
        rank = pd.Series(rankdata(-difference, method="min").astype(int), index=tf_activity.columns)
        is_driver = tf_activity.columns.isin(found)
        ranks = tuple(int(rank[tf]) for tf in found)
        best = min(ranks) if ranks else np.nan
        auroc, _ = auroc_auprc_rows(is_driver[None, :], difference[None, :])
        rows.append(
            {
                "cell_type": cell_type,
                "drivers": tuple(found),
                "ranks": ranks,
                "best_rank": best,
                "top1": bool(best == 1),
                "top3": bool(best <= 3),
                "auroc": float(auroc[0]),
            }
        )
    return pd.DataFrame(rows).set_index("cell_type")


def _as_positions(importance, planted_mask) -> tuple[np.ndarray, np.ndarray]:
    importance = np.asarray(importance, dtype=float)
    planted_mask = np.asarray(planted_mask).astype(bool)
    same_shape(importance, planted_mask, names=("importance", "planted_mask"))
    if importance.ndim not in (1, 2):
        raise SeqatacInputError(
            f"importance must be (length,) or (n_sequences, length), got shape {importance.shape}; reduce "
            "ISM scores over the 4 bases first (e.g. the maximum absolute effect per position)."
        )
    return np.atleast_2d(importance), np.atleast_2d(planted_mask)


def ism_position_auroc(importance, planted_mask) -> float:
    """auROC of per-position importance for telling planted-motif positions from the rest.

    Parameters
    ----------
    importance
        Shape (length,) or (n_sequences, length): importance per position (e.g. max |ISM| over bases).
    planted_mask
        Same shape, True where the simulator planted a motif.

    Returns
    -------
    One auROC over all positions pooled (NaN if the mask is all True or all False).
    """
    importance, planted_mask = _as_positions(importance, planted_mask)
    auroc, _ = auroc_auprc_rows(planted_mask.reshape(1, -1), importance.reshape(1, -1))
    return float(auroc[0])


def ism_position_auroc_per_sequence(importance, planted_mask) -> np.ndarray:
    """Per-sequence form of :func:`ism_position_auroc`: shape (n_sequences,), NaN without planted sites."""
    importance, planted_mask = _as_positions(importance, planted_mask)
    return auroc_auprc_rows(planted_mask, importance)[0]


def denoised_correlation(denoised, true_probability, *, by: str = "cell") -> float:
    """Pearson correlation between denoised and true accessibility probabilities.

    Parameters
    ----------
    denoised, true_probability
        Shape (n_cells, n_peaks); dense, sparse, memmap or h5py, read in row blocks.
    by
        ``"cell"``: mean over cells of the per-cell correlation across peaks (constant cells
        ignored); ``"overall"``: one correlation over all entries.

    Returns
    -------
    The correlation.
    """
    if by not in ("cell", "overall"):
        raise SeqatacInputError(f"by must be 'cell' or 'overall', got {by!r}.")
    same_shape(denoised, true_probability, names=("denoised", "true_probability"))
    denoised = denoised.tocsr() if sp.issparse(denoised) else denoised
    true_probability = true_probability.tocsr() if sp.issparse(true_probability) else true_probability
    n_cells, n_peaks = denoised.shape
    per_cell, sums = [], np.zeros(5)  # Σx, Σy, Σx², Σy², Σxy
    for part in blocks(n_cells, n_peaks):
        x, y = dense_block(denoised, rows=part), dense_block(true_probability, rows=part)
        if by == "cell":
            per_cell.append(pearson_rows(x, y))
        else:
            sums += [x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()]
    if by == "cell":
        return float(np.nanmean(np.concatenate(per_cell)))
    n = n_cells * n_peaks
    covariance = sums[4] - sums[0] * sums[1] / n
    variance_x, variance_y = sums[2] - sums[0] ** 2 / n, sums[3] - sums[1] ** 2 / n
    if variance_x <= 0 or variance_y <= 0:
        return float("nan")
    return float(covariance / np.sqrt(variance_x * variance_y))
