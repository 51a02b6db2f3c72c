"""Heatmaps: group-mean TF activity with known drivers marked, and annotation confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import SeqatacInputError
from ..data import check_labels
from ._common import figure_docstring, finish_figure, pyplot


def _group_means(activity: pd.DataFrame, groups: np.ndarray, order: list[str]) -> pd.DataFrame:
    """Mean of every column per group, then standardised per column across the groups."""
    means = activity.groupby(groups, observed=True).mean().reindex(order)
    sd = means.std(axis=0, ddof=0).replace(0, 1.0).fillna(1.0)
    return (means - means.mean(axis=0)) / sd


@figure_docstring
def tf_activity_heatmap(
    tf_activity: pd.DataFrame | Mapping[str, pd.DataFrame],
    groups,
    *,
    drivers: Mapping[str, Sequence[str]] | None = None,
    tfs: Sequence[str] | None = None,
    title: str | None = None,
    save: str | Path | None = None,
):
    """Mean TF activity per cell group (groups × TFs), one panel per method, with known drivers marked.

    Each column holds the group means of a TF's activity, standardised across the groups, so that methods
    on different scales (z-scores, cosine similarities, accessibility changes) share one colour scale.

    Parameters
    ----------
    tf_activity
        Cells × TFs DataFrame (columns = TF names), or ``{method: DataFrame}`` for one panel per method;
        the rows of every frame follow ``groups``.
    groups
        Shape (n_cells,): the group (cell type) of every row.
    drivers
        Group → its driver TFs, primary first: the primary driver's cell is boxed, the others dotted.
    tfs
        TFs (columns) to show, in this order; default those of the first frame.
    title
        Figure title.
    {save}

    {returns}.
    """
    plt = pyplot(save)
    frames = {"": tf_activity} if isinstance(tf_activity, pd.DataFrame) else dict(tf_activity)
    if not frames or any(not isinstance(f, pd.DataFrame) for f in frames.values()):
        raise SeqatacInputError("tf_activity must be a cells × TFs DataFrame or a {method: DataFrame} mapping.")
    groups = check_labels(groups, "groups").astype(str)
    for name, frame in frames.items():
        if len(frame) != len(groups):
            raise SeqatacInputError(f"tf_activity {name!r} has {len(frame)} rows but groups has {len(groups)}.")
    order = sorted(pd.unique(groups))
    columns = list(tfs) if tfs is not None else list(next(iter(frames.values())).columns)
    width = max(4.0, 0.42 * len(columns) + 2.0)
    fig, axes = plt.subplots(1, len(frames), figsize=(width * len(frames), 0.42 * len(order) + 2.2), squeeze=False)
    image = None
    for ax, (name, frame) in zip(axes[0], frames.items()):
        shown = frame.reindex(columns=columns).astype(float)
        matrix = _group_means(shown, groups, order).to_numpy()
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-2.5, vmax=2.5, aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(order)), order, fontsize=8)
        ax.set_title(name, fontsize=10)
        for row, group in enumerate(order):
            for rank, tf in enumerate((drivers or {}).get(group, [])):
                if tf not in columns:
                    continue
                col = columns.index(tf)
                if rank == 0:
                    ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=2, ec="black"))
                else:
                    ax.plot(col, row, marker="o", ms=3, color="black")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="group mean, standardised per TF")
    return finish_figure(fig, save, title=title, tight=False)


@figure_docstring
def confusion_matrix(
    y_true,
    y_pred,
    *,
    labels: Sequence[str] | None = None,
    normalize: bool = True,
    title: str | None = None,
    save: str | Path | None = None,
):
    """Confusion matrix of a cell-type annotation (rows true, columns predicted), one panel per method.

    Parameters
    ----------
    y_true
        Shape (n_cells,): true labels.
    y_pred
        Shape (n_cells,): predicted labels, or ``{method: predictions}`` for one panel per method.
    labels
        Label order; default the sorted union of true and predicted labels.
    normalize
        Show the fraction of each true label's cells (rows sum to 1) with the counts written in the cells.
    title
        Figure title.
    {save}

    {returns}.
    """
    plt = pyplot(save)
    y_true = check_labels(y_true, "y_true").astype(str)
    predictions = {"": y_pred} if not isinstance(y_pred, Mapping) else dict(y_pred)
    predictions = {name: check_labels(p, f"y_pred[{name!r}]" if name else "y_pred").astype(str)
                   for name, p in predictions.items()}
    for name, predicted in predictions.items():
        if predicted.shape != y_true.shape:
            raise SeqatacInputError(f"y_pred {name!r} has shape {predicted.shape} but y_true has {y_true.shape}.")
    if labels is None:
        labels = sorted(set(y_true).union(*[set(p) for p in predictions.values()]))
    labels = [str(label) for label in labels]
    position = {label: i for i, label in enumerate(labels)}
    size = 0.45 * len(labels) + 2.0
    fig, axes = plt.subplots(1, len(predictions), figsize=(size * len(predictions) + 1.0, size), squeeze=False)
    for ax, (name, predicted) in zip(axes[0], predictions.items()):
        counts = np.zeros((len(labels), len(labels)), dtype=int)
        for truth, guess in zip(y_true, predicted):
            if truth in position and guess in position:
                counts[position[truth], position[guess]] += 1
        totals = counts.sum(axis=1, keepdims=True)
        shown = counts / np.where(totals > 0, totals, 1) if normalize else counts
        ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
        for i in range(len(labels)):
            for j in range(len(labels)):
                if counts[i, j]:
                    dark = shown[i, j] > (0.5 if normalize else shown.max() / 2)
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
        accuracy = float(np.trace(counts) / max(counts.sum(), 1))
        ax.set_title(f"{name + ': ' if name else ''}accuracy {accuracy:.3f}", fontsize=10)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    return finish_figure(fig, save, title=title)
